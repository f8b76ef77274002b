"""The architecture as a diagram on a matplotlib Axes: one box per layer, annotated with its
op, output shape and receptive field; merges drawn as merges (a distinct node that every
joined branch points into); skip connections routed down a lane beside the boxes they pass,
and the canvas as wide as boxes and lanes (box widths estimated from the labels' lengths).

Matplotlib is imported by the caller (convplan.report.plots); this module only uses the Axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

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


CHAR_INCHES = FONT_SIZE * 0.62 / 72  # an upper estimate of one character's width
BOX_PAD_INCHES = 2 * 0.4 * FONT_SIZE / 72 + 0.08  # the round box's pad on both sides, and ink
LANE_GAP_INCHES = 0.22  # between a skip edge's lane and the widest box it passes, and lanes


@dataclass(frozen=True)
class DiagramLayout:
    """Where each box goes (layout units), the skip edges and the lane (inches, x) each runs
    down beside the boxes it passes, and the drawing's extent in inches (boxes and lanes)."""

    places: dict[str, Placement]
    bent: frozenset[tuple[str, str]]
    x_min: float
    x_max: float
    depth: int
    lanes: dict[tuple[str, str], float] = field(default_factory=dict)
    half_widths: dict[str, float] = field(default_factory=dict)
    left: float = 0.0
    right: float = 0.0

    @property
    def size_inches(self) -> tuple[float, float]:
        return ((self.right - self.left) + 2 * MARGIN_INCHES,
                (self.depth + 1) * Y_INCHES + 2 * MARGIN_INCHES)


def _half_width(label: str) -> float:
    return (max(len(line) for line in label.split("\n")) * CHAR_INCHES + BOX_PAD_INCHES) / 2


def plan_diagram(layers: Sequence[LayerResult],
                 details: dict[str, str] | None = None) -> DiagramLayout:
    """Boxes by depth; each skip edge (one passing rows between its ends) gets a vertical lane
    outside every box in those rows, on the side its target lies (left in a single column),
    lanes of overlapping edges side by side; the canvas spans exactly boxes and lanes."""
    details = details or {}
    places = layered_layout((layer.name, layer.inputs) for layer in layers)
    edges = [(source, layer.name) for layer in layers for source in layer.inputs]
    bent = frozenset(long_edges(places, edges))
    half = {layer.name: _half_width(node_label(layer, details.get(layer.name, "")))
            for layer in layers}
    rows: dict[int, list[str]] = {}
    for name, place in places.items():
        rows.setdefault(place.depth, []).append(name)
    lanes: dict[tuple[str, str], float] = {}
    taken: list[tuple[int, int, int, float]] = []  # (side, first row, last row, lane x)
    for source, target in sorted(bent, key=lambda e: (places[e[0]].depth, places[e[1]].depth,
                                                     e)):
        a, b = places[source], places[target]
        side = 1 if b.x > a.x else -1
        between = [n for d in range(a.depth, b.depth + 1) for n in rows.get(d, ())]
        edge = [side * (places[n].x * X_INCHES + side * half[n]) for n in between]
        lane = max(edge) + LANE_GAP_INCHES  # distance outward, as a positive number on `side`
        for other_side, first, last, x in taken:
            if other_side == side and first <= b.depth and a.depth <= last:
                lane = max(lane, side * x + LANE_GAP_INCHES)
        lanes[(source, target)] = side * lane
        taken.append((side, a.depth, b.depth, side * lane))
    lefts = [places[n].x * X_INCHES - half[n] for n in places] + list(lanes.values())
    rights = [places[n].x * X_INCHES + half[n] for n in places] + list(lanes.values())
    xs = [p.x for p in places.values()]
    return DiagramLayout(places, bent, min(xs), max(xs), max(p.depth for p in places.values()),
                         lanes, half, min(lefts), max(rights))


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
    left = plan.left - MARGIN_INCHES
    ax.set_xlim(left, left + width)
    ax.set_ylim(-plan.depth * Y_INCHES - Y_INCHES / 2 - MARGIN_INCHES,
                Y_INCHES / 2 + MARGIN_INCHES)
    ax.set_axis_off()


def _draw_edge(ax, plan: DiagramLayout, source: str, target: str, boxes) -> None:
    sx, sy = _position(plan.places[source])
    tx, ty = _position(plan.places[target])
    arrow = dict(arrowstyle="-|>", color="#57606a", lw=0.8, shrinkA=0, shrinkB=0,
                 mutation_scale=8)
    lane = plan.lanes.get((source, target))
    if lane is not None:
        # out of the source's side, down its lane beside every box it passes, into the
        # target's side: never through a box
        # (starting under the source's box, drawn above the line; the arrow clipped to the
        # target's box)
        ax.plot([sx, lane, lane], [sy, sy, ty], color="#57606a", lw=0.8, zorder=2,
                solid_joinstyle="round")
        ax.annotate("", xy=(tx, ty), xytext=(lane, ty), zorder=2,
                    arrowprops=dict(arrow, patchB=boxes[target].get_bbox_patch()))
        return
    ax.annotate("", xy=(tx, ty), xytext=(sx, sy), zorder=2,
                arrowprops=dict(arrow, patchA=boxes[source].get_bbox_patch(),
                                patchB=boxes[target].get_bbox_patch()))
