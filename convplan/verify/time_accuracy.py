"""How far to trust predicted time bands: measured layer and step times against
[lower, upper] (convplan.analysis.timing), as the fraction of layers inside their band, the
Spearman rank correlation of predicted against measured layer times, and the step's ratio.

Pure arithmetic on numbers (no JAX, no Keras), so the benchmark and the tests share it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing their mean rank (as scipy.stats.rankdata's 'average')."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            result[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return result


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rho: Pearson's correlation of the ranks; nan when either side is constant or
    there are fewer than two pairs."""
    if len(xs) != len(ys):
        raise ValueError(f"spearman needs pairs, received {len(xs)} and {len(ys)} values")
    if len(xs) < 2:
        return math.nan
    rx, ry = ranks(xs), ranks(ys)
    mean = (len(xs) + 1) / 2
    cov = sum((a - mean) * (b - mean) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mean) ** 2 for a in rx)
    vy = sum((b - mean) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx and vy else math.nan


def midpoint(lower: float, upper: float) -> float:
    """The point prediction inside a band: its middle, (lower + upper) / 2."""
    return (lower + upper) / 2


@dataclass(frozen=True)
class LayerBand:
    name: str
    op: str
    measured_s: float
    lower_s: float
    upper_s: float

    @property
    def inside(self) -> bool:
        return self.lower_s <= self.measured_s <= self.upper_s

    @property
    def ratio(self) -> float:
        """measured / midpoint of the band (inf for a zero band)."""
        middle = midpoint(self.lower_s, self.upper_s)
        return self.measured_s / middle if middle else math.inf


@dataclass(frozen=True)
class Accuracy:
    layers: tuple[LayerBand, ...]
    step_measured_s: float
    step_lower_s: float
    step_upper_s: float

    @property
    def inside_fraction(self) -> float:
        return sum(b.inside for b in self.layers) / len(self.layers) if self.layers else math.nan

    @property
    def spearman(self) -> float:
        """Rank correlation of the band midpoints against the measured layer times."""
        return spearman([midpoint(b.lower_s, b.upper_s) for b in self.layers],
                        [b.measured_s for b in self.layers])

    @property
    def step_ratio(self) -> float:
        """measured step / midpoint of its band: 1.0 is exact, within 0.7-1.3 is within 30%."""
        return self.step_measured_s / midpoint(self.step_lower_s, self.step_upper_s)

    @property
    def step_inside(self) -> bool:
        return self.step_lower_s <= self.step_measured_s <= self.step_upper_s


def compare(measured: Mapping[str, float], bands: Mapping[str, tuple[float, float]],
            ops: Mapping[str, str], step_measured_s: float,
            step_band: tuple[float, float]) -> Accuracy:
    """Layers present on both sides (by name), in the order of `bands`. A layer predicted to
    take no time (a zero band: an input, a flatten or reshape the model takes as a view) is
    left out: it is no kernel in a compiled step, and timed alone it measures only a copy."""
    layers = tuple(LayerBand(name, ops.get(name, "?"), measured[name], low, high)
                   for name, (low, high) in bands.items() if name in measured and high > 0)
    return Accuracy(layers, step_measured_s, *step_band)


def by_op(accuracy: Accuracy) -> dict[str, tuple[int, float, float]]:
    """Per op class: (layers, fraction inside their band, median measured / midpoint), to say
    which kinds of layer the model misses."""
    groups: dict[str, list[LayerBand]] = {}
    for band in accuracy.layers:
        groups.setdefault(band.op, []).append(band)
    result = {}
    for op, bands in sorted(groups.items()):
        ratios = sorted(b.ratio for b in bands)
        middle = len(ratios) // 2
        median = ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2
        result[op] = (len(bands), sum(b.inside for b in bands) / len(bands), median)
    return result
