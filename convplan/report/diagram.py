"""The architecture as a diagram on a matplotlib Axes: one box per layer, annotated with its
op, output shape and receptive field; merges drawn as merges (a distinct node that every
joined branch points into); skip connections bent around the boxes they pass.

Matplotlib is imported by the caller (convplan.report.plots); this module only uses the Axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from convplan.analysis import LayerResult
from convplan.report.formatting import axes_text, format_formula
from convplan.report.layout import Placement, layered_layout, long_edges

X_INCHES = 2.7  # one layout unit across
Y_INCHES = 0.8  # one row of depth
MARGIN_INCHES = 0.35
FONT_SIZE = 7

MERGE_SYMBOLS = {"Add": "+", "Subtract": "−", "Multiply": "×", "Average": "mean",
                 "Maximum": "max", "Minimum": "min", "Concatenate": "‖", "Dot": "·"}
FAMILIES = (  # (name, colour, op-name fragments) first match wins
    ("input", "#d8f0d2", ("InputLayer",)),
    ("conv", "#d6e6f7", ("Conv",)),
    ("pool", "#e8def5", ("Pooling",)),
    ("dense", "#fbe3c8", ("Dense",)),
    ("norm", "#f2f2f2", ("Normalization", "Rescaling")),
)
MERGE_COLOUR = "#fff3b0"
OTHER_COLOUR = "#ffffff"


@dataclass(frozen=True)
class DiagramLayout:
    places: dict[str, Placement]
    bent: frozenset[tuple[str, str]]
    x_min: float
    x_max: float
    depth: int

    @property
    def size_inches(self) -> tuple[float, float]:
        return ((self.x_max - self.x_min + 1) * X_INCHES + 2 * MARGIN_INCHES,
                (self.depth + 1) * Y_INCHES + 2 * MARGIN_INCHES)


def plan_diagram(layers: Sequence[LayerResult]) -> DiagramLayout:
    places = layered_layout((layer.name, layer.inputs) for layer in layers)
    edges = [(source, layer.name) for layer in layers for source in layer.inputs]
    xs = [p.x for p in places.values()]
    return DiagramLayout(places, frozenset(long_edges(places, edges)), min(xs), max(xs),
                         max(p.depth for p in places.values()))


def is_merge(layer: LayerResult) -> bool:
    return len(set(layer.inputs)) > 1 or layer.op in MERGE_SYMBOLS


def colour_for(layer: LayerResult) -> str:
    if is_merge(layer):
        return MERGE_COLOUR
    for _, colour, fragments in FAMILIES:
        if any(f in layer.op for f in fragments):
            return colour
    return OTHER_COLOUR


def describe_op(op) -> str:
    """'3×3 /2 same, 64 filters' from the op's Keras attributes, where it has them."""
    parts = []
    window = getattr(op, "kernel_size", None) or getattr(op, "pool_size", None)
    if window:
        parts.append("×".join(map(str, window)))
        strides = getattr(op, "strides", None)
        if strides and any(s != 1 for s in strides):
            parts.append("/" + "×".join(map(str, strides)))
        dilation = getattr(op, "dilation_rate", None)
        if dilation and any(d != 1 for d in dilation):
            parts.append("dil " + "×".join(map(str, dilation)))
        padding = getattr(op, "padding", None)
        if isinstance(padding, str):
            parts.append(padding)
    text = " ".join(parts)
    for attr, word in (("filters", "filters"), ("units", "units")):
        value = getattr(op, attr, None)
        if isinstance(value, int):
            text += (", " if text else "") + f"{value} {word}"
    return text


def node_label(layer: LayerResult, detail: str = "") -> str:
    head = f"{layer.name} · {layer.op}"
    if is_merge(layer):
        head = f"{MERGE_SYMBOLS.get(layer.op, '⋈')}  {head}"
    lines = [head]
    if detail:
        lines.append(detail)
    dims = [format_formula(d) for d in layer.output_shape]
    # 28×28×32, but ⌊H/2⌋ × ⌊W/2⌋ × 32 where a formula needs the room
    lines.append("out " + ("×" if all(d.isdigit() for d in dims) else " × ").join(dims))
    field = layer.receptive_field
    if field:
        lines.append(f"RF {axes_text(a.size for a in field)}, stride "
                     f"{axes_text(a.stride for a in field)}")
    return "\n".join(lines)


def _position(place: Placement) -> tuple[float, float]:
    return place.x * X_INCHES, -place.depth * Y_INCHES


def draw_diagram(ax, layers: Sequence[LayerResult], plan: DiagramLayout,
                 details: dict[str, str] | None = None) -> None:
    """Draw on `ax`, whose data units are inches (the caller sizes the axes to
    plan.size_inches so text and boxes keep their size)."""
    details = details or {}
    boxes = {}
    for layer in layers:
        x, y = _position(plan.places[layer.name])
        merge = is_merge(layer)
        text = ax.text(x, y, node_label(layer, details.get(layer.name, "")), ha="center",
                       va="center", fontsize=FONT_SIZE, linespacing=1.25, zorder=3,
                       fontweight="bold" if merge else "normal",
                       bbox=dict(boxstyle="round4,pad=0.4" if merge else "round,pad=0.35",
                                 fc=colour_for(layer), ec="#b58900" if merge else "#6e7781",
                                 lw=1.2 if merge else 0.7))
        boxes[layer.name] = text
    for layer in layers:
        for source in dict.fromkeys(layer.inputs):
            _draw_edge(ax, plan, source, layer.name, boxes)
    width, height = plan.size_inches
    left = plan.x_min * X_INCHES - X_INCHES / 2 - MARGIN_INCHES
    ax.set_xlim(left, left + width)
    ax.set_ylim(-plan.depth * Y_INCHES - Y_INCHES / 2 - MARGIN_INCHES,
                Y_INCHES / 2 + MARGIN_INCHES)
    ax.set_axis_off()


def _draw_edge(ax, plan: DiagramLayout, source: str, target: str, boxes) -> None:
    sx, sy = _position(plan.places[source])
    tx, ty = _position(plan.places[target])
    rad = 0.0
    if (source, target) in plan.bent:
        # bow about 1.6 inches sideways: arc3's peak offset is rad x distance / 2
        distance = max(((tx - sx) ** 2 + (ty - sy) ** 2) ** 0.5, 1e-6)
        rad = min(1.0, 3.2 / distance) * (1 if tx >= sx else -1)
    ax.annotate("", xy=(tx, ty), xytext=(sx, sy), zorder=2,
                arrowprops=dict(arrowstyle="-|>", color="#57606a", lw=0.8, shrinkA=0,
                                shrinkB=0, mutation_scale=8,
                                patchA=boxes[source].get_bbox_patch(),
                                patchB=boxes[target].get_bbox_patch(),
                                connectionstyle=f"arc3,rad={rad:.3f}"))
