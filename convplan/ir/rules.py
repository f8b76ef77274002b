"""Rule tables: one per pass, a dict from op class to the rule for that class and its subclasses.

A lookup walks the op's class hierarchy; a table that does not cover a class raises
`MissingRule` naming the pass and the class instead of guessing a default. No table has an entry
for `Op` itself (a catch-all): `tests/ir/test_rule_tables.py` checks that, and that every
table covers every op in `OPS`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from convplan.ir import ops as O

Rule = TypeVar("Rule")


class MissingRule(LookupError):
    """A pass has no rule for an op class: a bug in convplan (a new op without its rules)."""


def rule_for(table: dict[type, Rule], op: O.Op | type[O.Op], pass_name: str = "a pass") -> Rule:
    """The most specific rule in `table` for the op's class (walks the MRO)."""
    cls = op if isinstance(op, type) else type(op)
    for base in cls.__mro__:
        if base in table:
            return table[base]
    raise MissingRule(f"{pass_name} has no rule for {cls.__name__}")


def uncovered(table: dict[type, object], classes: Iterable[type[O.Op]] | None = None
              ) -> list[str]:
    """Names of the op classes (default: every op in OPS) that `table` has no rule for."""
    missing = []
    for cls in classes if classes is not None else O.OPS.values():
        try:
            rule_for(table, cls)
        except MissingRule:
            missing.append(cls.__name__)
    return missing
