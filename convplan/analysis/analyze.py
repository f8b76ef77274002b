"""`analyze`: one pass over a validated graph producing frozen per-layer results.

Values are Python ints when every input size is concrete and sympy expressions otherwise; the
same rules produce both, so `Analysis.at(sizes)` on a symbolic analysis must equal a concrete
analysis at those sizes (the tests check exactly that).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from convplan.analysis import arith
from convplan.analysis.arith import Value
from convplan.analysis.counts import count
from convplan.analysis.masks import check_masks
from convplan.analysis.memory import TrainingMemory, training_memory
from convplan.analysis.periodic_field import Field
from convplan.analysis.receptive import Misalignment, ReceptiveFields, compute_receptive_fields
from convplan.analysis.shapes import Shape, ShapeCondition, infer_shapes
from convplan.errors import ShapeError, UsageError, parameter_name
from convplan.ir import ops as O
from convplan.ir.graph import Graph
from convplan.ir.validate import validate

BATCH = "batch"
SPATIAL_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


@dataclass(frozen=True)
class LayerResult:
    name: str
    op: str
    inputs: tuple[str, ...]
    output_shape: Shape
    trainable_params: Value
    non_trainable_params: Value
    macs: Value
    flops: Value
    activations: Value  # output elements per example
    receptive_field: Field

    @property
    def params(self) -> Value:
        return self.trainable_params + self.non_trainable_params


@dataclass(frozen=True)
class Totals:
    params: Value
    trainable_params: Value
    non_trainable_params: Value
    macs: Value
    flops: Value
    activations: Value


@dataclass(frozen=True)
class Analysis:
    name: str
    layers: tuple[LayerResult, ...]
    totals: Totals
    outputs: tuple[str, ...]
    conditions: tuple[ShapeCondition, ...]
    misalignments: tuple[Misalignment, ...]
    symbols: tuple[str, ...]  # free symbols left in the results (sizes not given)
    # Layers whose receptive field has no formula because it depends on the input size (modulo
    # the strides after resampling, or whether a merge broadcasts; periodic_field.SIZE_DEPENDENT)
    # and every layer after one: their field is None here, a concrete analysis gives it.
    size_dependent_fields: tuple[str, ...] = ()
    # the analysed graph, which the memory model walks (buffer lifetimes follow the wiring)
    graph: Graph | None = dataclasses.field(default=None, repr=False, compare=False)
    # training_memory's results by its arguments: check's budget rules and the report each
    # ask for the same plan, which costs more than the analysis itself on a large model
    _memory: dict[tuple[Any, ...], TrainingMemory] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False)

    def layer(self, name: str) -> LayerResult:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def output_shapes(self) -> list[Shape]:
        return [self.layer(name).output_shape for name in self.outputs]

    @property
    def is_concrete(self) -> bool:
        return not self.symbols

    def training_memory(self, batch: Value = 1, dtype: str = "float32",
                        optimizer: str = "adam", convention: str = "fused") -> TrainingMemory:
        """Peak bytes of a training step by tensor lifetimes (convplan.analysis.memory)."""
        assert self.graph is not None, "an Analysis made by analyze() knows its graph"
        key = (type(batch), batch, dtype, optimizer, convention)
        if key not in self._memory:
            self._memory[key] = training_memory(self.graph, self, batch, dtype, optimizer,
                                                convention)
        return self._memory[key]

    # Jupyter's rich display. The report sits above the analysis, so it is imported only when a
    # notebook asks for it (never by the analysis itself).
    def _repr_html_(self) -> str:
        from convplan.notebook import analysis_html

        return analysis_html(self)

    def _repr_markdown_(self) -> str:
        from convplan.notebook import analysis_markdown

        return analysis_markdown(self)

    def at(self, sizes: dict[str, int]) -> Analysis:
        """Evaluate every formula exactly at concrete symbol values."""
        def sub(value: Value) -> Value:
            return arith.substitute(value, sizes)

        def field(f: Field) -> Field:
            return None if f is None else tuple(
                dataclasses.replace(a, size=sub(a.size), stride=sub(a.stride), start=sub(a.start),
                                    phases=arith.substitute(a.phases, sizes))
                for a in f)

        layers = tuple(dataclasses.replace(
            layer, output_shape=tuple(sub(d) for d in layer.output_shape),
            trainable_params=sub(layer.trainable_params),
            non_trainable_params=sub(layer.non_trainable_params), macs=sub(layer.macs),
            flops=sub(layer.flops), activations=sub(layer.activations),
            receptive_field=field(layer.receptive_field)) for layer in self.layers)
        totals = Totals(*(sub(getattr(self.totals, f.name))
                          for f in dataclasses.fields(Totals)))
        left = tuple(s for s in self.symbols if s not in sizes)
        return dataclasses.replace(self, layers=layers, totals=totals, symbols=left)


def input_shapes(graph: Graph, input_size: Sequence[int] | None = None,
                 generalize: bool = False) -> dict[str, Shape]:
    """Each input's shape with symbols made; `input_size` replaces the spatial dims of inputs
    of that spatial rank; `generalize` turns concrete spatial dims into symbols (H, W, ...).
    Unknown (None) spatial dims are symbols named alike: H, W (L; D, H, W) for a single input,
    H_<input>, W_<input> for several; other unknown dims <input>_<axis>."""
    inputs = graph.inputs
    shapes: dict[str, Shape] = {}
    matched = False
    for name in inputs:
        op = graph[name].op
        assert isinstance(op, O.InputLayer)  # graph.inputs lists the InputLayer nodes
        dims = list(op.shape)
        spatial = len(dims) - 1
        if input_size is not None and spatial == len(input_size):
            dims[:-1] = list(input_size)
            matched = True
        elif 1 <= spatial <= 3:
            # Unknown sizes (a Keras (None, None, 3) input) take the names `generalize` gives,
            # so the table, the JSON and the formulas all say H and W (issue #13).
            base = SPATIAL_NAMES[spatial]
            dims[:-1] = [d if isinstance(d, str) or (d is not None and not generalize) else
                         (b if len(inputs) == 1 else f"{b}_{name}") for d, b in zip(dims, base)]
        shapes[name] = tuple(
            arith.symbol(d) if isinstance(d, str) else
            arith.symbol(f"{name}_{i}") if d is None else d
            for i, d in enumerate(dims))
    if input_size is not None and not matched:
        raise UsageError(f"{parameter_name('input_size')} {'x'.join(map(str, input_size))} has "
                         f"{len(input_size)} spatial dimensions, but no input of this network "
                         "has that many")
    return shapes


def _check_int64(name: str, op: str, shape: Shape, params: Value = 0) -> None:
    """TensorFlow counts a tensor's elements in int64: an output dim, the output's elements
    per example, or the layer's weights (all its weight tensors together) reaching 2**63 is no
    tensor it can make. MACs and FLOPs are counts, not tensors, and are not limited. Shapes are
    checked before the receptive fields, whose walk over a huge upsampling would not end."""
    from convplan.ir.validate import INT64_LIMIT, magnitude

    sizes = [("an output dim", d) for d in shape] + [
        ("its parameters", params)]
    if all(isinstance(d, int) for d in shape):  # no sympy product on the symbolic path
        sizes.append(("the output's elements per example", arith.product(shape)))
    for what, value in sizes:
        if isinstance(value, int) and value >= INT64_LIMIT:
            raise ShapeError(f"{what} would be {magnitude(value)}, beyond what TensorFlow can "
                             "represent (int64: at most 2**63 - 1)", layer=name, op=op)


def analyze(graph: Graph, input_size: Sequence[int] | None = None,
            generalize: bool = False, assume_no_broadcast: bool = False,
            fields: bool = True) -> Analysis:
    """Shapes, params, MACs, FLOPs, activations and receptive fields of every layer.
    `assume_no_broadcast`: where whether a merge stretches an input depends on the sizes, its
    field counts the input as not stretched (a sweep's derivation, which analyzes the rows that
    do stretch separately) instead of calling the field size-dependent.
    `fields=False` skips the receptive fields (every layer's is None, no misalignments): a
    report that prints only the formulas of shapes and counts does not pay for field formulas."""
    order = validate(graph)
    shapes, conditions = infer_shapes(graph, order, input_shapes(graph, input_size, generalize))
    for name in order:
        _check_int64(name, graph[name].op.op_type, shapes[name])
    check_masks(graph, order, shapes)
    receptive = (compute_receptive_fields(graph, order, shapes, assume_no_broadcast) if fields
                 else ReceptiveFields(dict.fromkeys(order), (), ()))
    field_of = receptive.fields
    results = []
    for name in order:
        node = graph[name]
        ins = [shapes[i] for i in node.inputs]
        out = shapes[name]
        c = count(node.op, ins, out)
        trainable, frozen = c.trainable, c.non_trainable
        if not node.op.trainable:  # Keras: every weight of a frozen layer is non-trainable
            trainable, frozen = 0, trainable + frozen
        results.append(LayerResult(
            name=name, op=node.op.op_type, inputs=node.inputs, output_shape=out,
            trainable_params=arith.simplify_int(trainable),
            non_trainable_params=arith.simplify_int(frozen),
            macs=arith.simplify_int(c.macs), flops=arith.simplify_int(c.flops),
            activations=arith.simplify_int(arith.product(out)), receptive_field=field_of[name]))
    totals = Totals(
        params=arith.total(r.params for r in results),
        trainable_params=arith.total(r.trainable_params for r in results),
        non_trainable_params=arith.total(r.non_trainable_params for r in results),
        macs=arith.total(r.macs for r in results),
        flops=arith.total(r.flops for r in results),
        activations=arith.total(r.activations for r in results),
    )
    # distinct formulas first: layers repeat a few shape formulas, and free_symbols walks a tree
    formulas = {d for r in results for d in r.output_shape if not isinstance(d, int)}
    formulas |= {v for v in (getattr(totals, f.name) for f in dataclasses.fields(Totals))
                 if not isinstance(v, int)}
    symbols = sorted({str(s) for v in formulas for s in getattr(v, "free_symbols", ())})
    for r in results:
        for d in r.output_shape:
            if arith.is_concrete(d) and int(d) <= 0:
                raise ShapeError(f"output shape {r.output_shape} has an empty dimension",
                                 layer=r.name, op=r.op, reason="empty_output")
        _check_int64(r.name, r.op, r.output_shape, r.params)
    return Analysis(graph.name, tuple(results), totals, tuple(graph.outputs), tuple(conditions),
                    receptive.misalignments, tuple(symbols), receptive.size_dependent, graph)
