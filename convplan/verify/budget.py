"""What a receptive-field measurement costs, decided before it runs, and which input positions
it probes when measuring every one would cost too much.

The measurement (`convplan.verify.field`) runs the float64 surrogate once per input position
along each spatial axis, in chunks of positions:
- memory: a chunk holds every layer's output per position, so a chunk of c positions needs
  about c x activations x 8 bytes x 2 (the outputs, and TF's and numpy's working copies);
- time: positions x FLOPs of one forward pass / `FLOPS_PER_SECOND`, a deliberately low
  estimate of what TF's CPU kernels reach in float64 (20-50 GFLOP/s on convolutions of two
  cores, much less on depthwise and elementwise ops).

Under the budget every position is probed; over it, a sample (`sample_axis`); when even the
smallest sample is over it, or one position alone does not fit in memory, the field comparison
is skipped with the reason. The time is also enforced while it runs: the probes go in
`probe_order` (the blocks that cover every phase first) and the measurement stops after the
chunk that passes the budget's time, so a machine slower than the estimate (a loaded one)
gets a smaller sample, not a longer wait.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from convplan.errors import UsageError, parameter_name
from convplan.options import format_bytes, parse_quantity

SURROGATE_BYTES = 8  # float64
WORKING_COPIES = 2
FLOPS_PER_SECOND = 5e9
MAX_CHUNK = 64
FIELD_PROGRESS_LINES = 10  # progress lines a measurement reports, at most


@dataclass(frozen=True)
class FieldBudget:
    """Peak memory (bytes) of one chunk of the measurement and its estimated time (seconds)."""

    memory: int = 2 * 2**30
    seconds: float = 60.0

    def describe(self) -> str:
        return f"{format_bytes(self.memory)}, {self.seconds:g} s"


def parse_field_budget(text: str | None) -> FieldBudget:
    """'2GiB', '30s', '512MiB,30s' -> FieldBudget (what is not given keeps its default)."""
    budget = FieldBudget()
    if text is None:
        return budget
    memory, seconds = budget.memory, budget.seconds
    for part in (p.strip() for p in text.split(",")):
        time = re.fullmatch(r"(\d+(?:\.\d*)?)\s*s", part)
        if time is not None:
            seconds = float(time.group(1))
            continue
        value = parse_quantity(part, "bytes")
        if value is None or value < 1:
            raise UsageError(f"{parameter_name('field_budget')} takes a memory size and a time, "
                             f"as in 2GiB,60s (either alone), received {text!r}")
        memory = int(value)
    return FieldBudget(memory, seconds)


@dataclass(frozen=True)
class FieldMeasurement:
    """What `measure_fields` will do: the input positions to probe per axis (None: skipped),
    positions per chunk, and why (the estimate, for the report)."""

    positions: tuple[tuple[int, ...], ...] | None
    chunk: int
    sampled: bool
    note: str

    @property
    def passes(self) -> int:
        return sum(len(p) for p in self.positions or ())


def blocks(n: int, width: int) -> set[int]:
    """A block of `width` consecutive positions of 0..n-1 at each end and in the middle."""
    width = max(1, min(width, n))
    middle = (n - width) // 2
    return {*range(width), *range(n - width, n), *range(middle, middle + width)}


def sample_axis(n: int, count: int, width: int) -> tuple[int, ...]:
    """`count` of the positions 0..n-1 (all of them if count >= n): the `blocks`, so that
    every phase of every layer's field has its first and last input pixel, and the pixel
    beside them, probed both against the borders and clear of them; then evenly spaced
    positions up to `count`."""
    if count >= n:
        return tuple(range(n))
    chosen = blocks(n, width)
    spare = count - len(chosen)
    if spare > 0:
        chosen.update(round(k * (n - 1) / max(1, spare - 1)) for k in range(spare))
    return tuple(sorted(chosen))


def plan_measurement(spatial: Sequence[int], activations: int, flops: float,
                     widths: Sequence[int], budget: FieldBudget) -> FieldMeasurement:
    """Decide what to probe: every position if the estimate fits the budget, else a sample
    (`sample_axis`, positions shared out in proportion to each axis's length), else nothing.
    `activations`: output elements of every layer for one input; `flops`: of one forward
    pass; `widths`: per axis, the block width that covers every phase (see `phase_width`)."""
    per_position = (activations + math.prod(spatial)) * SURROGATE_BYTES * WORKING_COPIES
    if per_position > budget.memory:
        return FieldMeasurement(None, 0, False,
                                f"receptive fields not measured: one forward pass of the "
                                f"surrogate needs about {format_bytes(per_position)}, over the "
                                f"field budget ({budget.describe()}); raise "
                                f"{parameter_name('field_budget')}")
    chunk = max(1, min(MAX_CHUNK, budget.memory // per_position))
    seconds_per_pass = flops / FLOPS_PER_SECOND
    total = sum(spatial)
    if total * seconds_per_pass <= budget.seconds:
        return FieldMeasurement(tuple(tuple(range(n)) for n in spatial), chunk, False,
                                "receptive fields: " + _estimate(
                                    total, total, seconds_per_pass, chunk, per_position))
    allowed = int(budget.seconds / seconds_per_pass) if seconds_per_pass > 0 else total
    smallest = [sample_axis(n, 0, w) for n, w in zip(spatial, widths)]
    if sum(map(len, smallest)) > allowed:
        need = sum(map(len, smallest)) * seconds_per_pass
        return FieldMeasurement(None, 0, False,
                                f"receptive fields not measured: even a sample of "
                                f"{sum(map(len, smallest))} of the {total} input positions "
                                f"would take about {need:.0f} s, over the field budget "
                                f"({budget.describe()}); raise {parameter_name('field_budget')}")
    positions = tuple(sample_axis(n, allowed * n // total, w) for n, w in zip(spatial, widths))
    passes = sum(map(len, positions))
    return FieldMeasurement(positions, chunk, True,
                            "receptive fields sampled: " + _estimate(
                                passes, total, seconds_per_pass, chunk, per_position)
                            + f" (all {total} would take about {total * seconds_per_pass:.0f} s,"
                            f" over the field budget {budget.describe()}); each output is "
                            "compared where its plan's first or last pixel was probed")


def probe_order(positions: Sequence[Sequence[int]], spatial: Sequence[int],
                widths: Sequence[int]) -> list[tuple[int, int]]:
    """The (axis, position) probes in the order to run them, so that a measurement stopped at
    its time budget has probed a useful sample: every axis's `blocks` first, then the other
    positions spread out (bit-reversed order: every other one, then the quarters, ...), the
    axes taking turns."""
    queues = []
    for axis, (wanted, n, width) in enumerate(zip(positions, spatial, widths)):
        first = sorted(blocks(n, width).intersection(wanted))
        rest = sorted(set(wanted).difference(first))
        bits = max(1, (len(rest) - 1).bit_length())
        rest = [rest[k] for k in sorted(range(len(rest)), key=lambda k: _reversed(k, bits))]
        queues.append(([(axis, i) for i in first], [(axis, i) for i in rest]))
    order = [probe for first, _ in queues for probe in first]
    longest = max((len(rest) for _, rest in queues), default=0)
    order += [rest[k] for k in range(longest) for _, rest in queues if k < len(rest)]
    return order


def _reversed(k: int, bits: int) -> int:
    return int(format(k, f"0{bits}b")[::-1], 2)


def _estimate(passes: int, total: int, seconds_per_pass: float, chunk: int,
              per_position: int) -> str:
    return (f"{passes} of {total} input positions, {chunk} per forward pass (about "
            f"{format_bytes(chunk * per_position)}), estimated {passes * seconds_per_pass:.1f} s")


def phase_width(fields: Sequence[Sequence[object]], axis: int) -> int:
    """Consecutive positions that hold, for every field given, the first and last pixel of
    every phase and the pixels beside them: the input span of one period of outputs
    (phases x stride, stride alone for a uniform field) plus one on each side."""
    period = 1
    for field in fields:
        if field is None or axis >= len(field):
            continue
        plan_axis = field[axis]
        phases = len(getattr(plan_axis, "phases", ()) or ()) or 1
        stride = plan_axis.stride
        period = max(period, math.ceil(phases * float(stride)))
    return period + 2
