"""Figures as SVG or PNG bytes: the architecture diagram, the charts, or all of them.

Matplotlib is imported only here and only when a picture is asked for; figures are built with
`matplotlib.figure.Figure` (no pyplot, no global backend state). SVG keeps text as text (so the
layer names can be searched and tested) and is written deterministically (no date, fixed ids).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from convplan.analysis import Analysis
from convplan.errors import UsageError, parameter_name
from convplan.ir.graph import Graph
from convplan.options import PICTURE_FORMATS, PLOT_KINDS

MAX_PIXELS = 30000  # per side; Agg refuses images above 2^16 pixels and huge ones help nobody
CHART_WIDTH = 7.5  # inches
SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "convplan"}
METADATA = {"svg": {"Date": None}, "png": {"Software": None}}


def format_for(path: str | Path) -> str:
    """'net.svg' -> 'svg'; anything but .svg and .png is a usage error."""
    suffix = Path(path).suffix.lower()
    if suffix not in PICTURE_FORMATS:
        raise UsageError(f"cannot tell the picture format of {str(path)!r}: expected a file "
                         f"name ending in .svg or .png, received {suffix or 'no extension'!r}")
    return PICTURE_FORMATS[suffix]


def figure_class() -> Any:
    """matplotlib's Figure, or a one-line error saying how to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError("pictures need matplotlib, which is not installed",
                         hint="pip install 'convplan[plot]'") from None
    return Figure


def op_details(graph: Graph | None) -> dict[str, str]:
    from convplan.report.diagram import describe_op

    return {} if graph is None else {node.name: describe_op(node.op) for node in graph}


def _require_concrete(analysis: Analysis, what: str) -> None:
    if not analysis.is_concrete:
        raise UsageError(f"{what} needs concrete input sizes, but the input size is symbolic "
                         f"({', '.join(analysis.symbols)})",
                         hint=f"{parameter_name('input_size')} 224x224")


def diagram_figure(analysis: Analysis, graph: Graph | None = None):
    from convplan.report.diagram import draw_diagram, plan_diagram

    plan = plan_diagram(analysis.layers, op_details(graph))
    fig = figure_class()(figsize=plan.size_inches)
    ax = fig.add_axes((0, 0, 1, 1))
    draw_diagram(ax, analysis.layers, plan, op_details(graph))
    return fig


def _chart_height(analysis: Analysis) -> float:
    """Room for the rotated layer names under a chart."""
    longest = max((len(layer.name) for layer in analysis.layers), default=4)
    return 2.4 + min(longest, 30) * 0.075


def rf_figure(analysis: Analysis):
    from convplan.report.charts import draw_output_size, draw_receptive_field

    _require_concrete(analysis, "the receptive-field chart")
    fig = figure_class()(figsize=(CHART_WIDTH, 2.6 + _chart_height(analysis)),
                         layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    draw_receptive_field(top, analysis)
    draw_output_size(bottom, analysis)
    top.tick_params(labelbottom=False)
    return fig


def cost_figure(analysis: Analysis, batch: int | None = None):
    from convplan.report.charts import draw_cost

    _require_concrete(analysis, "the cost chart")
    fig = figure_class()(figsize=(CHART_WIDTH, 2.6 + _chart_height(analysis)),
                         layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    draw_cost(top, bottom, analysis, batch)
    top.tick_params(labelbottom=False)
    return fig


def _sweep(analysis: Analysis, symbolic: Analysis | None, batch, dtype, optimizer):
    from convplan.report.scaling import reference_sizes, sweep_input_size

    if symbolic is None:
        raise UsageError(f"the scaling chart needs the formulas; drop "
                         f"{parameter_name('no_symbolic')}")
    return sweep_input_size(symbolic, reference_sizes(analysis, symbolic), batch=batch or 1,
                            dtype=dtype, optimizer=optimizer)


def scaling_figure(analysis: Analysis, symbolic: Analysis | None, batch: int | None = None,
                   dtype: str = "float32", optimizer: str = "adam"):
    from convplan.report.charts import draw_scaling

    fig = figure_class()(figsize=(CHART_WIDTH, 3.4), layout="constrained")
    draw_scaling(*fig.subplots(1, 2), _sweep(analysis, symbolic, batch, dtype, optimizer),
                 dtype, optimizer)
    return fig


def all_figure(analysis: Analysis, symbolic: Analysis | None, graph: Graph | None = None,
               batch: int | None = None, dtype: str = "float32", optimizer: str = "adam"):
    """The diagram on the left, the five charts stacked on the right."""
    from convplan.report.charts import (
        draw_cost,
        draw_output_size,
        draw_receptive_field,
        draw_scaling,
    )
    from convplan.report.diagram import draw_diagram, plan_diagram

    _require_concrete(analysis, "the chart panel")
    sweep = _sweep(analysis, symbolic, batch, dtype, optimizer)
    plan = plan_diagram(analysis.layers, op_details(graph))
    width, height = plan.size_inches
    labels = _chart_height(analysis) - 2.4
    ratios = [2.4, 2.4 + labels, 2.4, 2.4 + labels, 3.0]
    charts_height = sum(ratios) + 1.0
    total = max(height, charts_height)
    fig = figure_class()(figsize=(width + CHART_WIDTH, total), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[width, CHART_WIDTH])
    # the diagram keeps its natural size (data units are inches), at the top
    ax = left.add_axes((0, 1 - height / total, 1, height / total))
    draw_diagram(ax, analysis.layers, plan, op_details(graph))
    panel = right
    if height > charts_height:  # a tall diagram: the charts stay at the top, at their size
        panel = right.subfigures(2, 1, height_ratios=[charts_height, height - charts_height])[0]
    # a plain grid, not subplot_mosaic: its set of labels makes the layout (and so the SVG
    # clip ids) depend on the string hash seed
    grid = panel.add_gridspec(5, 2, height_ratios=ratios)
    axes = {name: panel.add_subplot(grid[row, :]) for row, name in
            enumerate(("rf", "out", "macs", "params"))}
    axes["scale_macs"] = panel.add_subplot(grid[4, 0])
    axes["scale_memory"] = panel.add_subplot(grid[4, 1])
    draw_receptive_field(axes["rf"], analysis)
    draw_output_size(axes["out"], analysis)
    draw_cost(axes["macs"], axes["params"], analysis, batch)
    draw_scaling(axes["scale_macs"], axes["scale_memory"], sweep, dtype, optimizer)
    for name in ("rf", "macs"):
        axes[name].tick_params(labelbottom=False)
    return fig


def roofline_figure(analysis: Analysis, graph: Graph | None, device: str | None,
                    batch: int | None = None, dtype: str = "float32", training: bool = False):
    """The device's roofline with each layer of the step (forward, or the training step) as a
    point at its intensity and its FLOP/s at the lower bound."""
    from convplan.analysis.timing import time_plan
    from convplan.devices import device as find_device
    from convplan.report.roofline import draw_roofline

    if device is None:
        raise UsageError(f"the roofline needs a device: {parameter_name('device')} NAME "
                         "(cpu-local, h100, tpu-v5e, ...)")
    _require_concrete(analysis, "the roofline")
    if graph is None:
        raise UsageError("the roofline needs the graph")
    chip = find_device(device)
    plan = time_plan(graph, analysis, chip, dtype, batch or 1, training=training)
    fig = figure_class()(figsize=(CHART_WIDTH, 5.0), layout="constrained")
    step = "training step" if training else "forward"
    draw_roofline(fig.subplots(1, 1), plan, chip.peak_flops(dtype), chip.bandwidth,
                  f"{analysis.name} on {chip.name}, {dtype}, batch {batch or 1}, {step}")
    return fig


def build_figure(kind: str, analysis: Analysis, symbolic: Analysis | None = None, *,
                 graph: Graph | None = None, batch: int | None = None,
                 dtype: str = "float32", optimizer: str = "adam", device: str | None = None,
                 training: bool = False):
    if kind == "diagram":
        return diagram_figure(analysis, graph)
    if kind == "rf":
        return rf_figure(analysis)
    if kind == "cost":
        return cost_figure(analysis, batch)
    if kind == "scaling":
        return scaling_figure(analysis, symbolic, batch, dtype, optimizer)
    if kind == "roofline":
        return roofline_figure(analysis, graph, device, batch, dtype, training)
    if kind == "all":
        return all_figure(analysis, symbolic, graph, batch, dtype, optimizer)
    raise UsageError(f"unknown plot kind {kind!r}; expected one of {', '.join(PLOT_KINDS)}")


def figure_bytes(fig, fmt: str, dpi: int = 100) -> bytes:
    """The figure as an SVG or PNG document."""
    import matplotlib

    width, height = fig.get_size_inches()
    if fmt == "png":
        dpi = max(1, min(dpi, int(MAX_PIXELS / max(width, height))))
    buffer = io.BytesIO()
    with matplotlib.rc_context(SVG_RC):
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=METADATA[fmt])
    return buffer.getvalue()


def render_figure(kind: str, analysis: Analysis, symbolic: Analysis | None = None, *,
                  fmt: str = "svg", graph: Graph | None = None, batch: int | None = None,
                  dtype: str = "float32", optimizer: str = "adam", dpi: int = 100,
                  device: str | None = None, training: bool = False) -> bytes:
    """`kind` of picture ('diagram', 'rf', 'cost', 'scaling', 'roofline' (needs `device`) or
    'all') as SVG or PNG bytes."""
    fig = build_figure(kind, analysis, symbolic, graph=graph, batch=batch, dtype=dtype,
                       optimizer=optimizer, device=device, training=training)
    return figure_bytes(fig, fmt, dpi)
