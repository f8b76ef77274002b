"""What the rules look at: the two analyses of a graph, and graph walks several rules share.

- `concrete`: at the declared input size (or `checks.input_size`); None when a size is symbolic.
- `symbolic`: every spatial size a symbol (H, W, ...), so a rule can say for which sizes
  something happens (merge conditions, truncation, padding parity). Where a concrete
  analysis exists it is only context for a finding, and sympy is the cost: made on first
  use, and of the layers up to the one a rule explains (`Analyses.symbolic_upto`) rather
  than of the whole network.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from convplan.analysis import Analysis, analyze
from convplan.analysis.analyze import SPATIAL_NAMES, LayerResult
from convplan.checks import residues
from convplan.checks.config import CheckConfig
from convplan.errors import ConvplanError
from convplan.ir import ops as O
from convplan.ir.graph import Graph

MAX_PARTS = 2  # partial symbolic analyses before the whole network's is cheaper


class Analyses:
    """The concrete analysis and the symbolic one (given, or a function computing it once);
    `upto(layer)`, where given, is a symbolic analysis of the layers up to `layer` only, all
    a rule explaining one layer's input needs (cheaper than the whole network's)."""

    def __init__(self, concrete: Analysis | None,
                 symbolic: Analysis | Callable[[], Analysis | None] | None,
                 upto: Callable[[str], Analysis | None] | None = None) -> None:
        self.concrete = concrete
        self._symbolic = symbolic
        self._upto = upto
        self._parts: list[Analysis] = []  # symbolic analyses of parts, from `upto`

    @functools.cached_property
    def symbolic(self) -> Analysis | None:
        return self._symbolic() if callable(self._symbolic) else self._symbolic

    @property
    def best(self) -> Analysis:
        """The concrete analysis where there is one, else the symbolic one."""
        result = self.concrete or self.symbolic
        assert result is not None
        return result

    @functools.cached_property
    def concrete_layers(self) -> dict[str, LayerResult] | None:
        return results_by_name(self.concrete) if self.concrete else None

    @functools.cached_property
    def symbolic_layers(self) -> dict[str, LayerResult] | None:
        return results_by_name(self.symbolic) if self.symbolic else None

    def symbolic_upto(self, layer: str) -> Analysis | None:
        """A symbolic analysis that has `layer`: one already made that does, else one of the
        layers up to it; after MAX_PARTS of those, the whole network's (made once)."""
        for part in self._parts:
            if any(result.name == layer for result in part.layers):
                return part
        if self._upto is None or len(self._parts) >= MAX_PARTS:
            return self.symbolic
        part = self._upto(layer)
        if part is not None:
            self._parts.append(part)
        return part

    def symbolic_length(self, layer: str, axis: int):
        """`layer`'s output length on `axis` as a formula of the input size; None without a
        symbolic analysis."""
        analysis = self.symbolic_upto(layer)
        return None if analysis is None else analysis.layer(layer).output_shape[axis]

    def builds_at(self, layer: str) -> Callable[[Mapping], bool]:
        """Whether every spatial length up to `layer` that depends only on the given sizes
        is at least 1 there (no layer is empty: the network builds that far)."""
        analysis = self.symbolic_upto(layer)
        lengths = list(dict.fromkeys(
            d for result in (analysis.layers if analysis else ())
            for d in result.output_shape[:-1] if not isinstance(d, int)))

        def builds(values: Mapping) -> bool:
            given = set(values)
            return all(residues.evaluate(d, values) >= 1 for d in lengths
                       if getattr(d, "free_symbols", set()) <= given)

        return builds


def length_condition(analyses: Analyses, source: str, axis: int, test: Callable[[int], bool],
                     modulus: int) -> residues.Condition | None:
    """For which network input sizes `test(n)` holds, n being the length of `source`'s output
    on `axis` as the symbolic analysis gives it; `modulus`: the period of the test in n."""
    n_expr = analyses.symbolic_length(source, axis)
    if n_expr is None or isinstance(n_expr, int):
        return None
    return residues.solve(lambda v: test(int(residues.evaluate(n_expr, v))), [n_expr], modulus)


def small_length_sizes(analyses: Analyses, source: str, axis: int, test: Callable[[int], bool],
                       below: int) -> residues.SizeSet | None:
    """For which network input sizes `test(n)` holds, for a test that can hold only where
    n < `below` (n: `source`'s length on `axis` in the symbolic analysis), leaving out sizes
    at which some layer up to `source` would be empty (the network does not build there)."""
    n_expr = analyses.symbolic_length(source, axis)
    if n_expr is None or isinstance(n_expr, int):
        return None
    return residues.small_sizes(n_expr, test, below, analyses.builds_at(source))


def is_concrete_spec(graph: Graph) -> bool:
    return all(isinstance(d, int) for name in graph.inputs for d in graph[name].op.shape)


def analyze_for_checks(graph: Graph, config: CheckConfig) -> Analyses:
    """Both analyses; raises the ConvplanError of the one that decides validity (the concrete
    one where sizes are known, else the symbolic one)."""
    concrete = None
    if config.input_size is not None:
        concrete = analyze(graph, input_size=config.input_size)
    elif is_concrete_spec(graph):
        concrete = analyze(graph)
    if concrete is None:
        return Analyses(None, analyze(graph, generalize=True))

    def symbolic(part: Graph = graph) -> Analysis | None:
        try:
            return analyze(part, generalize=True)
        except ConvplanError:  # valid at the declared size; the size-free view is a bonus
            return None

    def upto(layer: str) -> Analysis | None:
        part = upstream_graph(graph, layer)
        # with fewer inputs the symbols would be named differently (H, not H_image)
        return symbolic(part) if part.inputs == graph.inputs else analyses.symbolic

    analyses = Analyses(concrete, symbolic, upto)
    return analyses


def upstream_graph(graph: Graph, layer: str) -> Graph:
    """The layers `layer` depends on, in order, as a graph whose output is `layer`."""
    needed = upstream(graph, layer)
    part = Graph(graph.name)
    for node in graph:
        if node.name in needed:
            part.add(node.op, node.inputs, line=node.line, suppress=node.suppress)
    part.set_outputs([layer])
    return part


def results_by_name(analysis: Analysis) -> dict[str, LayerResult]:
    return {layer.name: layer for layer in analysis.layers}


def spatial_heads(graph: Graph, analysis: Analysis) -> list[tuple[str, str]]:
    """(layer, consumer) for the last spatial feature maps: layers with a receptive field that
    are graph outputs (consumer 'output') or feed a layer without one (Flatten, global pooling,
    Reshape; consumer is that layer's name)."""
    results = results_by_name(analysis)
    users = consumers(graph)
    heads = []
    for layer in analysis.layers:
        if layer.receptive_field is None or isinstance(graph[layer.name].op, O.InputLayer):
            continue
        if layer.name in analysis.outputs:
            heads.append((layer.name, "output"))
        for consumer in users[layer.name]:
            if results[consumer].receptive_field is None:
                heads.append((layer.name, consumer))
    return heads


def consumers(graph: Graph) -> dict[str, list[str]]:
    """Each layer's users, in declaration order (one pass, unlike Graph.consumers per name)."""
    users: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for node in graph:
        for src in dict.fromkeys(node.inputs):
            users[src].append(node.name)
    return users


def upstream(graph: Graph, layer: str) -> set[str]:
    """`layer` and every layer it depends on."""
    seen, stack = set(), [layer]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(graph[name].inputs)
    return seen


def upstream_inputs(graph: Graph, layer: str) -> list[str]:
    """The graph inputs `layer` depends on, in declaration order."""
    seen = upstream(graph, layer)
    return [name for name in graph.inputs if name in seen]


def declared_sizes(graph: Graph, config: CheckConfig) -> dict[str, int]:
    """Symbol name in the symbolic analysis -> the size declared for it (or configured with
    `input_size`), following `analysis.input_shapes`'s naming: H, W for a single input,
    H_<input>, W_<input> for several; symbolic dims keep their own names."""
    inputs = graph.inputs
    sizes: dict[str, int] = {}
    for name in inputs:
        dims = graph[name].op.shape
        spatial = len(dims) - 1
        if not 1 <= spatial <= 3:
            continue
        given = config.input_size if config.input_size and len(config.input_size) == spatial \
            else None
        for axis, (dim, base) in enumerate(zip(dims, SPATIAL_NAMES[spatial])):
            symbol = dim if isinstance(dim, str) else (
                base if len(inputs) == 1 else f"{base}_{name}")
            value = given[axis] if given else dim
            if isinstance(value, int):
                sizes[symbol] = value
    return sizes


def windows(op: O.Op) -> list[tuple[int, int, int]] | None:
    """Per spatial axis (kernel, stride, dilation) of a sliding-window op (convolutions other
    than transposed ones, and pooling); None for any other op."""
    window = op.window
    return None if window is None else list(zip(window.kernel, window.strides, window.dilation))
