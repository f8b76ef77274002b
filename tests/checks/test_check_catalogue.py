"""The checks are one static table (`convplan.checks.catalogue`): every rule function of the
rule modules is listed there exactly once, and nothing is registered by importing a module."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from convplan.checks import (
    budget_rules,
    design_rules,
    hardware_rules,
    portability_rules,
    shape_rules,
)
from convplan.checks.catalogue import CATALOGUE, RULES
from convplan.checks.registry import GROUPS

MODULES = {"shape": shape_rules, "budget": budget_rules, "hardware": hardware_rules,
           "design": design_rules, "portability": portability_rules}


@pytest.mark.parametrize("group", list(MODULES))
def test_every_rule_function_is_in_the_catalogue_once(group):
    module = MODULES[group]
    written = {name for name, value in vars(module).items() if name.startswith("check_")
               and inspect.isfunction(value) and value.__module__ == module.__name__}
    listed = [r.check.__name__ for r in CATALOGUE if r.check is not None
              and r.check.__module__ == module.__name__]
    assert sorted(listed) == sorted(written) and len(set(listed)) == len(listed)
    assert all(r.group == group for r in CATALOGUE if r.check in map(vars(module).get, written))


def test_the_catalogue_is_in_code_order_with_each_group_under_its_prefix():
    assert [r.code for r in CATALOGUE] == sorted(RULES) == list(RULES)
    assert all(r.code.startswith(GROUPS[r.group][0]) for r in CATALOGUE)
    assert [r.code for r in CATALOGUE if r.check is None] == ["CP100", "CP101", "CP102"]


def test_importing_a_rule_module_registers_nothing():
    """Reloading a rule module (an import side effect would register its rules twice) leaves
    the catalogue as it was, in a fresh interpreter, whatever was imported first."""
    script = (
        "import importlib\n"
        "from convplan.checks import find_rule\n"
        "before = find_rule('CP404')\n"
        "from convplan.checks import design_rules, shape_rules\n"
        "importlib.reload(design_rules); importlib.reload(shape_rules)\n"
        "from convplan.checks import load_rules\n"
        "rules = load_rules()\n"
        f"assert rules['CP404'] is before and len(rules) == {len(CATALOGUE)}, len(rules)\n"
        "print('OK')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout == "OK\n", result.stderr
