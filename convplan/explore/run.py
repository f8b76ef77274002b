"""Run a sweep end to end: filter each chunk, stream or collect the rows, count the rest."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from convplan.errors import UsageError, parameter_name
from convplan.explore.collect import BestRows, FirstRows, ParetoFront, Sample
from convplan.explore.sweep import Chunk, Sweep
from convplan.explore.where import Condition, check_metric, metric_names, where_mask


@dataclass(frozen=True)
class SweepResult:
    rows: Chunk | None  # the Pareto front, the best or the first rows (None when streamed)
    sample: Chunk | None  # a uniform sample of the rows that passed the filters
    total: int
    valid: int
    matched: int  # valid rows that passed `where`
    invalid: tuple[tuple[str, int], ...]  # (first failing check, count), most frequent first
    seconds: float
    derivations: int
    largest: dict[str, int | float]  # per metric, the largest value among valid rows


def parse_objectives(sweep: Sweep, text: str, what: str = parameter_name("pareto")
                     ) -> tuple[tuple[str, int], ...]:
    """'macs,-rf' -> (('macs', 1), ('rf', -1)): minimize MACs, maximize rf. `what` names the
    argument in errors (`parameter_name("sort")` for a sort order)."""
    objectives = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        sign = -1 if part.startswith("-") else 1
        name = part.lstrip("+-")
        objectives.append((check_metric(sweep, name, what), sign))
    if not objectives:
        raise UsageError(f"{what} needs metrics such as macs,-rf")
    if len({n for n, _ in objectives}) != len(objectives):
        raise UsageError(f"{what} {text!r}: a metric is listed twice")
    return tuple(objectives)


def run_sweep(sweep: Sweep, where: Sequence[Condition] = (),
              pareto: Sequence[tuple[str, int]] | None = None,
              sort: tuple[str, int] | None = None, limit: int | None = None,
              include_invalid: bool = False, sink: Callable[[Chunk], None] | None = None,
              sample_size: int = 0, progress: Callable[[int], None] | None = None
              ) -> SweepResult:
    """Evaluate every combination. Rows that are valid and pass `where` (and, with
    `include_invalid`, the invalid ones) go to `sink` as they come when neither `pareto` nor
    `sort` is given; otherwise the front or the `limit` best rows are collected. Without a sink
    the first `limit` rows are kept."""
    start = time.perf_counter()
    if pareto:
        collector = ParetoFront(pareto)
    elif sort:
        collector = BestRows(sort[0], sort[1], limit or 20)
    elif sink is None:
        collector = FirstRows(limit or 20)
    else:
        collector = None
    sample = Sample(sample_size)
    valid = matched = 0
    failures = np.zeros(1, dtype=np.int64)
    largest: dict[str, int | float] = {}
    for chunk in sweep.chunks(progress):
        ok = chunk.columns["valid"]
        mask = where_mask(sweep, chunk, where)
        valid += int(ok.sum())
        matched += int(mask.sum())
        codes = np.bincount(chunk.columns["error"], minlength=len(sweep.messages))
        failures = np.pad(failures, (0, len(codes) - len(failures))) + codes
        if ok.any():
            for name in metric_names(sweep):
                top = chunk.columns[name][ok].max().item()
                largest[name] = max(largest.get(name, top), top)
        ranked = chunk.take(mask)
        shown = chunk.take(mask | ~ok) if include_invalid else ranked
        sample.add(ranked)
        if pareto or sort:
            collector.add(ranked)
        elif collector is not None:
            collector.add(shown)
        else:
            sink(shown)
    invalid = sorted(((sweep.messages[c], int(n)) for c, n in enumerate(failures) if c and n),
                     key=lambda item: -item[1])
    return SweepResult(collector.result() if collector is not None else None, sample.result(),
                       sweep.total, valid, matched, tuple(invalid),
                       time.perf_counter() - start, sweep.derivations, largest)
