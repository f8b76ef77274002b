"""The rule registry: every check has a stable code, a name, a group and a default severity,
and documents itself (the rule function's docstring says why; `examples.py` holds a spec that
triggers it and the corrected spec).

A rule is a pure function ``(graph, analyses, config) -> Iterable[Finding]``; it never reads
files or prints. The runner applies select/ignore, severities, suppressions and locations.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from convplan.checks.config import CheckConfig
    from convplan.checks.subject import Analyses
    from convplan.ir.graph import Graph

SEVERITIES = ("error", "warning", "info")

GROUPS: dict[str, tuple[str, str]] = {
    # group -> (code prefix, title)
    "shape": ("CP1", "Shape validity"),
    "budget": ("CP2", "Budgets"),
    "hardware": ("CP3", "Hardware fit"),
    "design": ("CP4", "Design smells"),
}


@dataclass(frozen=True)
class Finding:
    """One problem found in one file; `line` is the 1-based line of the layer (None: unknown)."""

    code: str
    name: str
    severity: str
    message: str
    layer: str | None = None
    path: str | None = None
    line: int | None = None
    column: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "severity": self.severity,
                "path": self.path, "line": self.line, "column": self.column,
                "layer": self.layer, "message": self.message}


RuleFunction = Callable[["Graph", "Analyses", "CheckConfig"], Iterable[Finding]]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    group: str
    severity: str
    summary: str
    explanation: str
    check: RuleFunction | None  # None: reported by the runner from a load/analysis error

    @property
    def group_title(self) -> str:
        return GROUPS[self.group][1]


RULES: dict[str, Rule] = {}


def register(code: str, name: str, group: str, severity: str,
             doc: str | None = None) -> Callable[[RuleFunction], RuleFunction]:
    """Decorator: add a rule function (its docstring: summary paragraph, blank line, the
    explanation); `doc` stands in for the docstring of rules the runner reports itself."""

    def add(function: RuleFunction | None) -> RuleFunction | None:
        text = inspect.cleandoc(doc if doc is not None else (function.__doc__ or ""))
        summary, _, explanation = text.partition("\n\n")
        _add_rule(Rule(code, name, group, severity, " ".join(summary.split()),
                       explanation.strip(), function))
        return function

    return add


def _add_rule(rule: Rule) -> None:
    prefix = GROUPS[rule.group][0]
    assert rule.code.startswith(prefix) and len(rule.code) == 5, rule.code
    assert rule.severity in SEVERITIES, rule.severity
    assert rule.code not in RULES and all(r.name != rule.name for r in RULES.values()), rule.code
    RULES[rule.code] = rule


def finding(code: str, message: str, layer: str | None = None) -> Finding:
    """A finding of rule `code` at its default severity (the runner applies overrides)."""
    rule = RULES[code] if code in RULES else load_rules()[code]
    return Finding(code=code, name=rule.name, severity=rule.severity, message=message,
                   layer=layer)


def layer_finding(code: str, graph: Graph, layer: str, message: str) -> Finding:
    """A finding about one layer; the message starts with the layer, as errors do."""
    op = graph[layer].op.op_type
    return finding(code, f"layer {layer!r} ({op}): {message}", layer)


def load_rules() -> dict[str, Rule]:
    """Import every rule module (they register on import) and return the registry by code."""
    from convplan.checks import (  # noqa: F401 - imported for their registrations
        budget_rules,
        design_rules,
        hardware_rules,
        shape_rules,
    )

    return dict(sorted(RULES.items()))


def find_rule(key: str) -> Rule | None:
    """A rule by code (case-insensitive) or by name."""
    rules = load_rules()
    key = key.strip()
    if key.upper() in rules:
        return rules[key.upper()]
    for rule in rules.values():
        if rule.name == key.lower():
            return rule
    return None
