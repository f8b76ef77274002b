"""The roofline chart: a device's attainable FLOP/s against arithmetic intensity, with each
layer of a time plan (convplan.analysis.timing) as a point.

    roof(I)      = min(peak FLOP/s, I x bandwidth)       I = FLOPs / bytes
    layer point  = (its intensity, its FLOPs / its lower-bound time)

A layer whose lower bound is max(FLOPs / peak, bytes / bandwidth) sits on the roof; one that
pays quantization (tile and wave padding) sits below it, and so does one whose FLOPs run on the
vector units (depthwise, pooling, normalization: the plain float32 rate, under a tensor-core or
MXU roof). Layers with no FLOPs or no bytes (an
input, a reshape) have no place on log axes and are left out (counted in the legend).
"""

from __future__ import annotations

from typing import Any

from convplan.options import format_count

BOUND_COLORS = {"compute": "#c0392b", "memory": "#2471a3"}


def roofline_points(plan: Any) -> list[tuple[str, float, float, str]]:
    """(name, intensity, attained FLOP/s at the lower bound, bound) of every layer with FLOPs,
    bytes and a positive lower bound."""
    points = []
    for layer in plan.layers:
        flops, moved, lower = float(layer.flops), float(layer.bytes), float(layer.lower_s)
        if flops > 0 and moved > 0 and lower > 0:
            points.append((layer.name, flops / moved, flops / lower, str(layer.bound)))
    return points


def draw_roofline(ax: Any, plan: Any, peak: float, bandwidth: float, title: str) -> None:
    """The roof of `peak` FLOP/s and `bandwidth` bytes/s, the ridge point, and the layers."""
    points = roofline_points(plan)
    intensities = [p[1] for p in points] or [peak / bandwidth]
    ridge = peak / bandwidth
    low = min(min(intensities), ridge) / 4
    high = max(max(intensities), ridge) * 4
    xs = [low, ridge, high]
    ax.plot(xs, [min(peak, x * bandwidth) for x in xs], color="black", linewidth=1.2,
            label=f"roof: {format_count(peak)}FLOP/s, {format_count(bandwidth)}B/s")
    ax.axvline(ridge, color="grey", linestyle=":", linewidth=0.8)
    ax.annotate(f"ridge {ridge:.3g} FLOP/B", (ridge, peak), textcoords="offset points",
                xytext=(4, -12), fontsize=7, color="grey")
    for bound, color in BOUND_COLORS.items():
        chosen = [p for p in points if p[3] == bound]
        if chosen:
            ax.scatter([p[1] for p in chosen], [p[2] for p in chosen], s=14, color=color,
                       alpha=0.75, label=f"{bound}-bound layers ({len(chosen)})", zorder=3)
    other = [p for p in points if p[3] not in BOUND_COLORS]
    if other:
        ax.scatter([p[1] for p in other], [p[2] for p in other], s=14, color="#7d7d7d",
                   label=f"other layers ({len(other)})", zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, high)
    ax.set_xlabel("arithmetic intensity (FLOPs per byte)")
    ax.set_ylabel("FLOP/s at the lower bound")
    left_out = len(plan.layers) - len(points)
    ax.set_title(title + (f" ({left_out} layers without FLOPs or bytes not shown)"
                          if left_out else ""), fontsize=9)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.5)
    ax.legend(fontsize=7, loc="lower right")
