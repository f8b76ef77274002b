"""`--where` filters and the metric names they (and `--pareto`, `--sort`) use.

A filter is `NAME OP VALUE` with OP one of < <= > >= == !=; several are combined with commas
or by repeating --where (all must hold). NAME is a metric (params, trainable_params, macs,
flops, activations, memory, rf) or a vary label (`conv1.strides`, `conv*.padding`,
`input.size`). VALUE is a quantity as convplan.options reads them, a number with an optional
decimal (K, M, G, T = 10^3...) or binary (Ki, Mi, Gi, Ti = 2^10...) prefix, optionally followed
by B: `1e9`, `500M`, `2GiB`; or a choice as written in --vary (`same`, `3x3`).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from convplan.errors import UsageError, parameter_name
from convplan.explore.choices import format_value
from convplan.explore.sweep import METRICS, Chunk, Sweep
from convplan.options import parse_quantity as parse_number

OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
    "<": operator.lt, ">": operator.gt,
}
WHERE = parameter_name("where")  # how errors name the filters (the CLI: --where)
_CONDITION = re.compile(r"^\s*([A-Za-z_*?\[\]][^<>=!\s]*)\s*(<=|>=|==|!=|<|>|=)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Condition:
    name: str  # a metric, or a vary label
    op: str
    value: Any  # int or float for metrics and numeric varies; the choice's index otherwise


def metric_names(sweep: Sweep) -> tuple[str, ...]:
    return tuple(m for m in METRICS if (m != "rf" or sweep.has_rf)
                 and (not m.startswith("time") or sweep.has_time))


def check_metric(sweep: Sweep, name: str, what: str) -> str:
    if name == "rf" and not sweep.has_rf:
        raise UsageError(f"{what} rf: no layer of this network has a receptive field")
    if name.startswith("time") and name in METRICS and not sweep.has_time:
        raise UsageError(f"{what} {name}: the time columns need {parameter_name('device')} "
                         "NAME (cpu-local, h100, tpu-v5e, ...)")
    if name not in METRICS:
        raise UsageError(f"{what} {name!r}: unknown metric; expected one of "
                         + ", ".join(metric_names(sweep)))
    return name


def _vary_index(sweep: Sweep, name: str) -> int | None:
    for i, vary in enumerate(sweep.varies):
        if vary.label == name:
            return i
    return None


def parse_condition(sweep: Sweep, text: str) -> Condition:
    match = _CONDITION.match(text)
    if not match:
        raise UsageError(f"{WHERE} must look like NAME<=VALUE (for example rf>=64 or "
                         f"macs<1e9), received {text!r}")
    name, op, raw = match.groups()
    op = "==" if op == "=" else op
    index = _vary_index(sweep, name)
    if index is None:
        check_metric(sweep, name, WHERE)
        value = parse_number(raw)
        if value is None:
            raise UsageError(f"{WHERE} {text!r}: {raw!r} is not a number (such as 64, 1e9, 500M "
                             "or 2GiB)")
        return Condition(name, op, value)
    vary = sweep.varies[index]
    scalar = all(isinstance(v, int) and not isinstance(v, bool) for v in vary.values)
    if scalar:
        value = parse_number(raw)
        if value is None:
            raise UsageError(f"{WHERE} {text!r}: {raw!r} is not a number")
        return Condition(name, op, value)
    if op not in ("==", "!="):
        raise UsageError(f"{WHERE} {text!r}: {name} takes == or != (its values are not numbers)")
    texts = [format_value(v) for v in vary.values]
    if raw not in texts:
        raise UsageError(f"{WHERE} {text!r}: {raw!r} is not one of the values of {name} "
                         f"({', '.join(texts)})")
    return Condition(name, op, texts.index(raw))


def parse_where(sweep: Sweep, texts: Sequence[str]) -> tuple[Condition, ...]:
    """Every `where` (each possibly comma-separated) as conditions that must all hold."""
    return tuple(parse_condition(sweep, part) for text in texts for part in text.split(",")
                 if part.strip())


def column(sweep: Sweep, chunk: Chunk, name: str) -> np.ndarray:
    """A metric, or the values of a numeric scalar vary, as a numpy column."""
    index = _vary_index(sweep, name)
    if index is None:
        return chunk.columns[name]
    return np.asarray(sweep.varies[index].values, dtype=np.int64)[chunk.columns[f"vary:{index}"]]


def where_mask(sweep: Sweep, chunk: Chunk, conditions: Sequence[Condition]) -> np.ndarray:
    mask = chunk.columns["valid"].copy()
    for cond in conditions:
        index = _vary_index(sweep, cond.name)
        vary = None if index is None else sweep.varies[index]
        if vary is not None and not all(isinstance(v, int) and not isinstance(v, bool)
                                        for v in vary.values):
            values = chunk.columns[f"vary:{index}"]
        else:
            values = column(sweep, chunk, cond.name)
        mask &= OPERATORS[cond.op](values, cond.value)
    return mask
