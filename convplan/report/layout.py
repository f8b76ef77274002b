"""Where each layer goes in the architecture diagram: a layered DAG layout computed here.

Rows are topological depths, the longest path from an input (so a merge sits below every
branch it joins). Within a row each layer wants the mean x of its inputs (the barycentre
heuristic, one pass from the top), so chains stay straight and branches fan out; layers that
want the same place are pushed apart to unit spacing, and the row is re-centred on what its
layers wanted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx


@dataclass(frozen=True)
class Placement:
    x: float
    depth: int


def layer_dag(layers: Iterable[tuple[str, Sequence[str]]]) -> nx.DiGraph:
    """(name, input names) pairs -> a DiGraph keeping the order written as `index`."""
    g = nx.DiGraph()
    for index, (name, inputs) in enumerate(layers):
        g.add_node(name, index=index)
        for source in inputs:
            g.add_edge(source, name)
    return g


def compute_depths(g: nx.DiGraph) -> dict[str, int]:
    """depth(v) = 0 for inputs, else 1 + max depth of its inputs (longest path)."""
    depths: dict[str, int] = {}
    for name in nx.lexicographical_topological_sort(g, key=lambda n: g.nodes[n]["index"]):
        preds = list(g.predecessors(name))
        depths[name] = 1 + max(depths[p] for p in preds) if preds else 0
    return depths


def _spread(wanted: list[tuple[float, int, str]]) -> dict[str, float]:
    """Unit-spaced positions as close to the wanted ones as one sweep allows."""
    wanted.sort()
    placed: list[float] = []
    for want, _, _ in wanted:
        placed.append(want if not placed else max(want, placed[-1] + 1.0))
    shift = sum(w for w, _, _ in wanted) / len(wanted) - sum(placed) / len(placed)
    return {name: x + shift for x, (_, _, name) in zip(placed, wanted)}


def layered_layout(layers: Iterable[tuple[str, Sequence[str]]]) -> dict[str, Placement]:
    """Position of every layer: x in units of one box, depth counted from the inputs."""
    g = layer_dag(layers)
    depths = compute_depths(g)
    rows: dict[int, list[str]] = {}
    for name, depth in depths.items():
        rows.setdefault(depth, []).append(name)
    xs: dict[str, float] = {}
    for depth in sorted(rows):
        wanted = []
        for name in rows[depth]:
            preds = list(g.predecessors(name))
            want = sum(xs[p] for p in preds) / len(preds) if preds else 0.0
            wanted.append((want, g.nodes[name]["index"], name))
        if depth == 0:  # inputs side by side, centred
            wanted = [(float(i), index, name) for i, (_, index, name) in enumerate(wanted)]
        xs.update(_spread(wanted))
    return {name: Placement(xs[name], depths[name]) for name in depths}


def long_edges(layout: dict[str, Placement], edges: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Edges that skip rows and would run straight through the boxes between (skip
    connections); the diagram bends these."""
    occupied: dict[int, list[float]] = {}
    for place in layout.values():
        occupied.setdefault(place.depth, []).append(place.x)
    bent = set()
    for source, target in edges:
        a, b = layout[source], layout[target]
        if b.depth - a.depth < 2:
            continue
        for depth in range(a.depth + 1, b.depth):
            t = (depth - a.depth) / (b.depth - a.depth)
            x = a.x + t * (b.x - a.x)
            if any(abs(x - other) < 0.55 for other in occupied[depth]):
                bent.add((source, target))
                break
    return bent
