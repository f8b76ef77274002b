"""`convplan solve` answers as text or JSON (formatters return text and never print)."""

from __future__ import annotations

import json
from typing import Any

from convplan.explore.periodic import SizeRule
from convplan.explore.run import SweepResult
from convplan.explore.solve import BudgetAnswer, InputSizes
from convplan.explore.sweep import Sweep
from convplan.report.formatting import human, human_bytes
from convplan.report.sweep_report import render_sweep_table

METRIC_WORDS = {"macs": "MACs", "memory": "training memory"}


def _amount(metric: str, value: int | None) -> str:
    if value is None:
        return "-"
    return human_bytes(value) if metric == "memory" else f"{human(value)} ({value:,})"


def sizes_text(sizes: InputSizes) -> list[str]:
    lines = [f"{sizes.graph}: valid input sizes"]
    if not sizes.axes:
        lines.append("  the inputs have no spatial axes")
    width = max((len(a.symbol) for a in sizes.axes), default=1)
    for axis in sizes.axes:
        examples = ", ".join(map(str, axis.rule.examples())) + ", ..." if not axis.rule.empty \
            else "none"
        lines.append(f"  {axis.symbol.ljust(width)}: {axis.rule.text(axis.symbol)}   "
                     f"(minimum {axis.rule.smallest}: {examples})" if not axis.rule.empty else
                     f"  {axis.symbol.ljust(width)}: {axis.rule.text(axis.symbol)}")
    for axis in sizes.axes:
        if axis.requirements:
            lines.append(f"  {axis.symbol} is limited by:")
        for req in axis.requirements:
            lines.append(f"    {req.layer}: {req.rule.text(axis.symbol)}  <-  {req.formula}  "
                         f"({req.message})")
    for req in sizes.other:
        lines.append(f"  also: {req.layer}: {req.formula} ({req.message})")
    return lines


def budget_text(answer: BudgetAnswer, batch: int, dtype: str, optimizer: str,
                axes: int) -> list[str]:
    """`axes`: spatial axes of the (single) input, 0 to write the side as S=..."""
    what = METRIC_WORDS[answer.metric]
    limit = _amount(answer.metric, answer.budget)
    if answer.unknown == "input size":
        def show(s: int | None) -> str:
            if s is None:
                return "-"
            scale = answer.scale or (1,) * axes
            return "x".join(str(p * s) for p in scale) if axes else f"S={s}"
        context = f"batch {batch}" + (f", {dtype}, {optimizer}" if answer.metric == "memory" else "")
        head = f"largest input size with {what} <= {limit} ({context}):"
        unknown_name = "S = input side"
    else:
        def show(s: int | None) -> str:
            return "-" if s is None else str(s)
        context = f"{dtype}, {optimizer}" if answer.metric == "memory" else "whole batch"
        head = f"largest batch with {what} <= {limit} ({context}):"
        unknown_name = "B = batch"
    if answer.unbounded:
        body = f"  any: {what} does not grow with the {answer.unknown}"
    elif answer.answer is None:
        body = (f"  none fits: the smallest, {show(answer.next_answer)}, needs "
                f"{_amount(answer.metric, answer.next_value)}" if answer.next_answer else
                "  none fits")
    else:
        body = f"  {show(answer.answer)}: {_amount(answer.metric, answer.value)}"
        if answer.next_answer is not None:
            body += (f"; the next, {show(answer.next_answer)}, needs "
                     f"{_amount(answer.metric, answer.next_value)}")
    return [head, body, f"  {what} = {answer.formula}  ({unknown_name})"]


def rule_json(rule: SizeRule) -> dict[str, Any]:
    return {"minimum": rule.smallest, "from": rule.start, "period": rule.period,
            "residues": list(rule.residues), "also": list(rule.extra),
            "examples": rule.examples()}


def sizes_json(sizes: InputSizes) -> dict[str, Any]:
    return {
        "axes": {a.symbol: {"rule": a.rule.text(a.symbol), **rule_json(a.rule),
                            "requirements": [{"layer": r.layer, "message": r.message,
                                              "formula": r.formula,
                                              "rule": r.rule.text(a.symbol)}
                                             for r in a.requirements]}
                 for a in sizes.axes},
        "other": [{"layer": r.layer, "message": r.message, "formula": r.formula}
                  for r in sizes.other],
    }


def budget_json(answer: BudgetAnswer) -> dict[str, Any]:
    return {"unknown": answer.unknown, "metric": answer.metric, "budget": answer.budget,
            "answer": answer.answer, "value": answer.value, "next": answer.next_answer,
            "next_value": answer.next_value, "formula": answer.formula,
            "unbounded": answer.unbounded, "aspect": list(answer.scale) or None,
            "sizes": _plain(answer.sizes(answer.answer)) if answer.scale else None,
            "next_sizes": _plain(answer.sizes(answer.next_answer)) if answer.scale else None}


def field_text(sweep: Sweep, result: SweepResult, target: int) -> list[str]:
    head = f"fewest MACs with a receptive field >= {target}:"
    if result.rows is None or not len(result.rows):
        largest = result.largest.get("rf")
        return [head, f"  no combination reaches {target}"
                + (f"; the largest receptive field among them is {largest}" if largest is not None
                   else "; no combination is valid")]
    table = render_sweep_table(sweep, result, result.rows, "cheapest rows by MACs")
    return [head] + ["  " + line if line else "" for line in table.rstrip("\n").split("\n")[1:]]


def field_json(sweep: Sweep, result: SweepResult, target: int) -> dict[str, Any]:
    rows = []
    if result.rows is not None:
        for j in range(len(result.rows)):
            row = {v.label: _plain(v.values[int(result.rows.columns[f"vary:{i}"][j])])
                   for i, v in enumerate(sweep.varies)}
            for name in ("rf", "macs", "flops", "params", "memory"):
                row[name] = result.rows.columns[name][j].item()
            rows.append(row)
    return {"target": target, "combinations": result.total, "valid": result.valid,
            "reaching": result.matched, "best": rows}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def render_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"
