"""The Pareto front of a sweep as a PNG or SVG (matplotlib, Agg backend, imported on use)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from convplan.errors import UsageError, parameter_name
from convplan.explore.sweep import Chunk, Sweep
from convplan.options import PICTURE_FORMATS, format_bytes, format_count
from convplan.report.files import write_bytes_atomic

AXIS_TITLES = {"macs": "MACs per example", "flops": "FLOPs per example", "params": "parameters",
               "trainable_params": "trainable parameters", "activations": "activations "
               "(elements per example)", "memory": "training memory (bytes)",
               "rf": "receptive field (input pixels)"}
MAX_LABELS = 14


def _label(sweep: Sweep, front: Chunk, j: int) -> str:
    return " ".join(v.text(int(front.columns[f"vary:{i}"][j])) for i, v in enumerate(sweep.varies))


def check_plot_path(path: str | Path) -> str:
    """The plot's format from its extension, checked before any work is done."""
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in PICTURE_FORMATS.values():
        raise UsageError(f"-o {path}: the plot is written as .png or .svg, received "
                         f"{path.suffix or 'no extension'}")
    if not path.parent.exists():
        raise UsageError(f"-o {path}: folder {path.parent} does not exist")
    return kind


def plot_front(path: str | Path, sweep: Sweep, front: Chunk | None, sample: Chunk | None,
               objectives: Sequence[tuple[str, int]], matched: int | None = None) -> None:
    """Scatter the designs (`sample`, out of `matched`) in grey and the front in colour,
    labelled with the choices, over the first two objectives; write `path` (.png or .svg)
    atomically."""
    kind = check_plot_path(path)
    if len(objectives) < 2:
        raise UsageError(f"the Pareto front is plotted over two metrics: give two "
                         f"{parameter_name('objectives')} (for example macs and -rf), received "
                         f"{len(objectives)}")
    try:
        import matplotlib
    except ImportError:
        raise UsageError("plotting needs matplotlib: pip install 'convplan[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    (x, xs), (y, ys) = objectives[0], objectives[1]
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    if sample is not None and len(sample):
        count = (f"all {len(sample):,}" if matched in (None, len(sample)) else
                 f"a sample of {len(sample):,} of {matched:,}")
        ax.scatter(sample.columns[x], sample.columns[y], s=7, color="#c4c4c4", linewidths=0,
                   label=f"designs ({count})", zorder=1)
    if front is not None and len(front):
        order = np.argsort(front.columns[x], kind="stable")
        fx, fy = front.columns[x][order], front.columns[y][order]
        ax.plot(fx, fy, "o", color="#1f77b4", markersize=5, label=f"Pareto front ({len(front)})",
                zorder=3)
        ax.plot(fx, fy, "--", color="#1f77b4", linewidth=0.8, alpha=0.6, zorder=2,
                drawstyle="steps-post" if (xs > 0) == (ys < 0) else "steps-pre")
        if len(front) <= MAX_LABELS:
            for n, (j, px, py) in enumerate(zip(order, fx, fy)):
                ax.annotate(_label(sweep, front, int(j)), (px, py), textcoords="offset points",
                            xytext=(6, 5 if n % 2 == 0 else -11), fontsize=7, color="#1f4f7f")
    for axis, setter, scale in ((x, ax.set_xscale, ax.xaxis), (y, ax.set_yscale, ax.yaxis)):
        values = sample.columns[axis] if sample is not None and len(sample) else None
        if values is not None and values.min() > 0 and values.max() / values.min() > 20:
            setter("log", base=2 if axis == "memory" else 10)  # round binary sizes
        if axis != "rf":
            fmt = format_bytes if axis == "memory" else format_count  # as the table prints
            scale.set_major_formatter(FuncFormatter(lambda v, _, fmt=fmt: fmt(int(v))
                                                    if v >= 0 else ""))
    ax.set_xlabel(f"{AXIS_TITLES.get(x, x)} ({'lower' if xs > 0 else 'higher'} is better)")
    ax.set_ylabel(f"{AXIS_TITLES.get(y, y)} ({'lower' if ys > 0 else 'higher'} is better)")
    ax.set_title(f"{sweep.graph.name}: labels are " + ", ".join(v.label for v in sweep.varies),
                 fontsize=9)
    ax.margins(0.08)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=kind, metadata={"Date": None} if kind == "svg" else None)
    plt.close(fig)
    write_bytes_atomic(path, buffer.getvalue())
