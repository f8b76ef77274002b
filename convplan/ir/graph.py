"""The network as a DAG of named nodes (a networkx.DiGraph on demand).

A node holds an op and the ordered names of its inputs (order matters for Subtract and
Concatenate, and an input may repeat, which a DiGraph edge cannot express), plus where the
layer came from (line in the spec) and which check codes are suppressed on it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from convplan.errors import GraphError
from convplan.ir.ops import InputLayer, Op

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True)
class Node:
    op: Op
    inputs: tuple[str, ...] = ()
    line: int | None = None
    suppress: frozenset[str] = field(default_factory=frozenset)

    @property
    def name(self) -> str:
        return self.op.name


class Graph:
    """An ordered collection of nodes with explicit outputs; build it, then `validate()` it."""

    def __init__(self, name: str = "model") -> None:
        self.name = name
        self.nodes: dict[str, Node] = {}
        self._outputs: list[str] | None = None
        self.source: str | None = None  # file the graph was read from, for reports
        self.checks: dict[str, Any] = {}  # the spec's `checks:` section, kept for convplan check
        self.description: str | None = None  # the spec's free-text `description:`
        # the dtype policy a Keras model was saved with (mixed_float16, ...), for memory
        self.dtype_policy: str | None = None

    # -- building -----------------------------------------------------------------------
    def add(self, op: Op, inputs: Iterable[str] = (), *, line: int | None = None,
            suppress: Iterable[str] = ()) -> str:
        if op.name in self.nodes:
            raise GraphError("duplicate layer name; every layer needs a unique name",
                             layer=op.name, op=op.op_type, line=line)
        self.nodes[op.name] = Node(op, tuple(inputs), line, frozenset(suppress))
        return op.name

    def set_outputs(self, names: Iterable[str]) -> None:
        self._outputs = list(names)

    # -- reading ------------------------------------------------------------------------
    @property
    def outputs(self) -> list[str]:
        if self._outputs is not None:
            return list(self._outputs)
        return [next(reversed(self.nodes))] if self.nodes else []

    @property
    def inputs(self) -> list[str]:
        return [n for n, node in self.nodes.items() if isinstance(node.op, InputLayer)]

    def __getitem__(self, name: str) -> Node:
        return self.nodes[name]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def __len__(self) -> int:
        return len(self.nodes)

    # Jupyter's rich display: the graph's analysis at the sizes it declares. The analysis and
    # the report sit above the IR, so they are imported only when a notebook asks.
    def _repr_html_(self) -> str:
        from convplan.notebook import graph_html

        return graph_html(self)

    def _repr_markdown_(self) -> str:
        from convplan.notebook import graph_markdown

        return graph_markdown(self)

    def to_networkx(self) -> nx.DiGraph:
        import networkx as nx  # imported on use: it costs a sixth of `convplan analyze`'s start

        g = nx.DiGraph()
        for index, (name, node) in enumerate(self.nodes.items()):
            g.add_node(name, op=node.op, index=index)
        for name, node in self.nodes.items():
            for src in node.inputs:
                g.add_edge(src, name)
        return g

    def topological_order(self) -> list[str]:
        """Layers so every input comes before its users; ties keep the order written (Kahn's
        algorithm taking the earliest written ready layer, as networkx's
        lexicographical_topological_sort does with that key)."""
        index = {name: i for i, name in enumerate(self.nodes)}
        waiting = {name: 0 for name in self.nodes}
        users: dict[str, list[str]] = {name: [] for name in self.nodes}
        for name, node in self.nodes.items():
            for src in dict.fromkeys(node.inputs):  # a repeated input is one edge
                if src in users:
                    waiting[name] += 1
                    users[src].append(name)
        ready = [(index[n], n) for n, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, name = heapq.heappop(ready)
            order.append(name)
            for user in users[name]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    heapq.heappush(ready, (index[user], user))
        if len(order) < len(self.nodes):
            import networkx as nx

            cycle = nx.find_cycle(self.to_networkx())
            path = " -> ".join([edge[0] for edge in cycle] + [cycle[0][0]])
            raise GraphError(f"the layers form a cycle ({path}); a network must be acyclic",
                             layer=cycle[0][0])
        return order

    def consumers(self, name: str) -> list[str]:
        return [n for n, node in self.nodes.items() if name in node.inputs]
