"""What a check is: a `Rule` (stable code, name, group, default severity, the text that
explains it, the function that finds it) and the `Finding`s it reports. The rules themselves
are listed in `convplan.checks.catalogue`.

A rule function is pure, ``(graph, analyses, config) -> Iterable[Finding]``; it never reads
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
    "portability": ("CP5", "Portability between TF/Keras and PyTorch/ONNX"),
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

    @classmethod
    def of(cls, code: str, name: str, group: str, severity: str, check: RuleFunction | None,
           doc: str | None = None) -> Rule:
        """A rule explained by `doc`, else by its function's docstring: the summary paragraph,
        a blank line, then the explanation."""
        text = inspect.cleandoc(doc if doc is not None else (check.__doc__ or ""))
        summary, _, explanation = text.partition("\n\n")
        assert code.startswith(GROUPS[group][0]) and len(code) == 5, code
        assert severity in SEVERITIES, severity
        return cls(code, name, group, severity, " ".join(summary.split()), explanation.strip(),
                   check)


def finding(code: str, message: str, layer: str | None = None) -> Finding:
    """A finding of rule `code` at its default severity (the runner applies overrides)."""
    rule = load_rules()[code]
    return Finding(code=code, name=rule.name, severity=rule.severity, message=message,
                   layer=layer)


def layer_finding(code: str, graph: Graph, layer: str, message: str) -> Finding:
    """A finding about one layer; the message starts with the layer, as errors do."""
    op = graph[layer].op.op_type
    return finding(code, f"layer {layer!r} ({op}): {message}", layer)


def load_rules() -> dict[str, Rule]:
    """Every rule by code, in code order (a copy of `convplan.checks.catalogue.RULES`)."""
    # Imported here, not above: the catalogue imports the rule modules, which import this one.
    from convplan.checks.catalogue import RULES

    return dict(RULES)


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
