"""Charts on matplotlib Axes: receptive field and output size against depth, MACs and params
per layer, and MACs and training memory against the input size (from the formulas).

Matplotlib is imported by the caller (convplan.report.plots); these functions only draw.
"""

from __future__ import annotations

import math

from convplan.analysis import Analysis
from convplan.report.formatting import human, human_bytes
from convplan.report.scaling import Sweep

AXIS_NAMES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
MAX_LABELLED = 40  # layer names on the x axis up to this many layers, then every k-th


def _label_layers(ax, names: list[str]) -> None:
    step = max(1, -(-len(names) // MAX_LABELLED))
    ticks = list(range(0, len(names), step))
    ax.set_xticks(ticks)
    ax.set_xticklabels([names[i] for i in ticks], rotation=90, fontsize=7)
    ax.set_xlim(-0.6, len(names) - 0.4)


def _count_axis(ax, byte_units: bool = False, top: float = 0) -> None:
    """K/M/G tick labels; for bytes, ticks at multiples of a power of two (16 MiB, not
    19.1 MiB) so the binary prefixes read as round numbers."""
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    fmt = human_bytes if byte_units else human
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt(int(v)) if v >= 0 else ""))
    if byte_units and top >= 8:
        ax.yaxis.set_major_locator(MultipleLocator(2 ** math.floor(math.log2(top / 4))))


def _log_if_wide(ax, values) -> None:
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > 64:
        ax.set_yscale("log", base=2)


def spatial_layers(analysis: Analysis):
    return [layer for layer in analysis.layers if layer.receptive_field]


def draw_receptive_field(ax, analysis: Analysis) -> None:
    """Receptive-field size per spatial axis against depth (layers in topological order)."""
    layers = spatial_layers(analysis)
    names = [layer.name for layer in layers]
    rank = len(layers[0].receptive_field) if layers else 0
    series = _per_axis([[a.size for a in layer.receptive_field] for layer in layers], rank)
    for label, values in series:
        ax.plot(range(len(values)), values, marker="o", ms=3, lw=1.5, label=f"RF {label}")
    _log_if_wide(ax, [v for _, vs in series for v in vs])
    ax.set_ylabel("receptive field (input px)")
    ax.set_title("Receptive field against depth", fontsize=10)
    _finish_layer_axis(ax, names, bool(series) and len(series) > 1)


def draw_output_size(ax, analysis: Analysis) -> None:
    """Output size per spatial axis against depth."""
    layers = spatial_layers(analysis)
    names = [layer.name for layer in layers]
    rank = len(layers[0].receptive_field) if layers else 0
    series = _per_axis([list(layer.output_shape[:rank]) for layer in layers], rank)
    for label, values in series:
        ax.plot(range(len(values)), values, marker="s", ms=3, lw=1.5, color="#d1495b",
                label=f"output {label}")
    _log_if_wide(ax, [v for _, vs in series for v in vs])
    ax.set_ylabel("output size (px)")
    ax.set_title("Output size against depth", fontsize=10)
    _finish_layer_axis(ax, names, len(series) > 1)


def _per_axis(values_per_layer: list[list[int]], rank: int) -> list[tuple[str, list[int]]]:
    """One series when every axis agrees (square inputs), else one per axis."""
    if rank == 0:
        return []
    columns = [[row[i] for row in values_per_layer] for i in range(rank)]
    if all(c == columns[0] for c in columns):
        return [("(all axes)" if rank > 1 else "", columns[0])]
    return list(zip(AXIS_NAMES[rank], columns))


def _finish_layer_axis(ax, names: list[str], legend: bool) -> None:
    _label_layers(ax, names)
    ax.grid(True, alpha=0.3)
    if legend:
        ax.legend(fontsize=7)


def draw_cost(ax_macs, ax_params, analysis: Analysis, batch: int | None = None) -> None:
    """MACs and params per layer as bars (layers with neither are left out)."""
    layers = [layer for layer in analysis.layers if layer.macs or layer.params]
    names = [layer.name for layer in layers]
    scale = batch or 1
    ax_macs.bar(range(len(layers)), [layer.macs * scale for layer in layers], color="#3c78b4")
    per = f" (batch {batch})" if batch else " (per example)"
    ax_macs.set_title("MACs per layer" + per, fontsize=10)
    ax_params.bar(range(len(layers)), [layer.params for layer in layers], color="#e08a2c")
    ax_params.set_title("Params per layer", fontsize=10)
    for ax in (ax_macs, ax_params):
        _count_axis(ax)
        _label_layers(ax, names)
        ax.grid(True, axis="y", alpha=0.3)


def draw_scaling(ax_macs, ax_memory, sweep: Sweep, dtype: str, optimizer: str) -> None:
    """MACs and training memory against the input size, the analysed size marked."""
    ref = sweep.sizes.index(sweep.reference) if sweep.reference in sweep.sizes else None
    panels = ((ax_macs, sweep.macs, "MACs", f"MACs (batch {sweep.batch})", "#3c78b4", human,
               False),
              (ax_memory, sweep.memory, "Training memory", f"bytes at batch {sweep.batch} "
               f"({dtype}, {optimizer})", "#2a9d8f", human_bytes, True))
    for ax, values, title, label, colour, fmt, byte_units in panels:
        ax.plot(sweep.sizes, values, color=colour, lw=1.6)
        ax.set_xlabel(f"input {sweep.symbol} (other sizes scaled alike)", fontsize=8)
        ax.set_title(f"{title} against input size", fontsize=10)
        ax.set_ylabel(label, fontsize=8)
        _count_axis(ax, byte_units, max(values))
        ax.grid(True, alpha=0.3)
        if ref is not None:
            ax.axvline(sweep.reference, color="#888888", lw=0.8, ls=":")
            ax.plot([sweep.reference], [values[ref]], "o", color=colour)
            ax.annotate(f"{sweep.symbol}={sweep.reference}: {fmt(int(values[ref]))}",
                        (sweep.reference, values[ref]), xytext=(6, 6),
                        textcoords="offset points", fontsize=7)
