"""Building the Graph from an ONNX GraphProto: inputs, initializers (dims only), and each node
through its converter (`convplan.frontends.onnx_ops.CONVERTERS`), with shapes inferred as the
walk goes (the converters need them: Reshape's 0 and -1, broadcasting, Shape folding)."""

from __future__ import annotations

import dataclasses
from typing import Any

from convplan.analysis import arith
from convplan.analysis.shapes import Shape, ShapeCondition, output_shape
from convplan.errors import SpecError, UnsupportedError
from convplan.frontends.onnx_model import node_order
from convplan.frontends.onnx_values import (
    BATCH,
    MAX_CONSTANT_VALUES,
    Const,
    Tensor,
    channels_first_axes,
    identity_axes,
    permute_dims,
)
from convplan.ir import ops as O
from convplan.ir.graph import Graph, Node

SPATIAL_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


class Builder:
    """The graph under construction and what every ONNX value is."""

    def __init__(self, model: Any, source: str) -> None:
        self.source = source
        self.graph = Graph(model.graph.name or "model")
        self.graph.source = source
        self.values: dict[str, Tensor | Const] = {}
        self.shapes: dict[str, Shape] = {}
        self.conditions: list[ShapeCondition] = []
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                          1)
        self.uses: dict[str, int] = {}
        self.node: Any = None  # the node being converted, for messages
        # The batch length every graph input fixes (an export traced at batch 1 writes it as
        # a literal, as the dynamo exporter's Reshape [1, 2048]); None where any leaves it open.
        self.fixed_batch: int | None = None

    # -- messages -------------------------------------------------------------------------
    def error(self, message: str, cls: type[SpecError] = UnsupportedError) -> SpecError:
        node = self.node
        where = f"node {node.name or '(unnamed)'!r} ({node.op_type})" if node is not None else ""
        return cls(f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}")

    # -- values ---------------------------------------------------------------------------
    def value(self, name: str) -> Tensor | Const:
        return self.values[name]

    def tensor(self, name: str, what: str = "input") -> Tensor:
        value = self.values[name]
        if not isinstance(value, Tensor):
            raise self.error(f"its {what} {name!r} is a constant; convplan models ops on the "
                             "network's data here")
        return value

    def const(self, name: str, what: str = "input", need_values: bool = True) -> Const:
        value = self.values.get(name)
        if not isinstance(value, Const):
            raise self.error(f"its {what} {name!r} must be a constant (an initializer or a "
                             "Constant node); computed from the data it is not modelled")
        if need_values and value.values is None:
            raise self.error(f"its {what} {name!r} holds {value.size} values, more than the "
                             f"{MAX_CONSTANT_VALUES} read for shape arithmetic")
        return value

    def shape_of(self, t: Tensor) -> Shape:
        return self.shapes[t.layer]

    def onnx_dims(self, t: Tensor) -> list[Any]:
        """The ONNX shape of a tensor after the batch: convplan's dims in ONNX order."""
        shape = self.shape_of(t)
        return [shape[a] for a in t.axes]

    # -- layers ---------------------------------------------------------------------------
    def unique(self, name: str) -> str:
        base = name or f"{self.node.op_type}_{len(self.graph)}"
        name, n = base, 1
        while name in self.graph.nodes:
            n += 1
            name = f"{base}_{n}"
        return name

    def add(self, op: O.Op, inputs: list[Tensor], axes: tuple[int, ...] | None = None) -> Tensor:
        """Add `op` reading `inputs`; its output keeps the first input's axis map unless
        `axes` is given."""
        self.graph.add(op, [t.layer for t in inputs])
        self.shapes[op.name] = output_shape(op, [self.shapes[t.layer] for t in inputs],
                                            self.conditions)
        if axes is None:
            axes = inputs[0].axes if inputs else ()
        if len(axes) != len(self.shapes[op.name]):
            axes = identity_axes(len(self.shapes[op.name]) + 1)
        return Tensor(op.name, axes)

    def make(self, cls: type[O.Op], inputs: list[Tensor], suffix: str = "",
             axes: tuple[int, ...] | None = None, **attributes: Any) -> Tensor:
        name = self.unique((self.node.name or self.node.op_type) + suffix)
        return self.add(cls(name=name, **attributes), inputs, axes)

    def replace_op(self, layer: str, **changes: Any) -> None:
        """Rebuild a layer's op with `changes` (a bias folded into the MatMul before it)."""
        node = self.graph.nodes[layer]
        self.graph.nodes[layer] = Node(dataclasses.replace(node.op, **changes), node.inputs,
                                       node.line, node.suppress)

    def relaid(self, t: Tensor, axes: tuple[int, ...], suffix: str = "/permute") -> Tensor:
        """The tensor with its ONNX axes at convplan positions `axes` (a Permute if needed)."""
        if t.axes == axes:
            return t
        return self.make(O.Permute, [t], suffix, axes=axes, dims=permute_dims(t.axes, axes))

    def channels_last(self, t: Tensor) -> Tensor:
        """The tensor laid out as convplan's windows need it: ONNX's C last, spatial in order."""
        if t.rank < 3:
            raise self.error(f"expects an (N, C, spatial...) input, received rank {t.rank}")
        return self.relaid(t, channels_first_axes(t.rank))

    def flat_order_same(self, t: Tensor) -> bool:
        """convplan's element order is ONNX's: the same axis order, or every axis but one
        of length 1."""
        if t.axes == identity_axes(t.rank):
            return True
        return sum(1 for d in self.onnx_dims(t) if arith.equal(d, 1) is not True) <= 1

    def onnx_order(self, t: Tensor) -> Tensor:
        """The tensor with convplan's axes in ONNX's order (for Flatten, Reshape, MatMul): a
        Permute unless every axis but one has length 1 (then the order is the same)."""
        target = identity_axes(t.rank)
        if t.axes == target:
            return t
        dims = self.onnx_dims(t)
        if sum(1 for d in dims if arith.equal(d, 1) is not True) <= 1:
            return self.make(O.Reshape, [t], "/reshape", axes=target,
                             target_shape=tuple(int(d) if arith.is_concrete(d) else -1
                                                for d in dims))
        return self.relaid(t, target)


def _dims(value_info: Any) -> list[Any]:
    """An input's dims: an int, a dim_param name, or None (unknown)."""
    dims = []
    for dim in value_info.type.tensor_type.shape.dim:
        if dim.HasField("dim_value") and dim.dim_value > 0:
            dims.append(int(dim.dim_value))
        elif dim.HasField("dim_param") and dim.dim_param:
            dims.append(dim.dim_param)
        else:
            dims.append(None)
    return dims


def _symbol_name(param: str, fallback: str, taken: dict[str, str]) -> str:
    """A dim_param as a convplan symbol: itself where it is an identifier, else `fallback`;
    one symbol per distinct name."""
    if param in taken:
        return taken[param]
    name = param if param.isidentifier() and param.isascii() else fallback
    taken[param] = name
    return name


def add_inputs(b: Builder, model: Any, initializers: set[str]) -> None:
    """Graph inputs (not initializers) as InputLayers; (N, C, spatial...) ones channels-last."""
    graph_inputs = [i for i in model.graph.input if i.name not in initializers]
    if not graph_inputs:
        raise b.error("the graph has no inputs (every input is an initializer)", SpecError)
    taken: dict[str, str] = {}
    batches: set[int | None] = set()
    for info in graph_inputs:
        if not info.type.HasField("tensor_type"):
            raise b.error(f"input {info.name!r} is not a tensor", SpecError)
        dims = _dims(info)
        batches.add(dims[0] if dims and isinstance(dims[0], int) and dims[0] > 0 else None)
        if len(dims) < 2:
            raise b.error(f"input {info.name!r} has rank {len(dims)}; convplan plans batched "
                          "inputs (N, C, ...) or (N, features)")
        rest = dims[1:]
        spatial = len(rest) - 1
        if spatial >= 1:
            channels, sizes = rest[0], rest[1:]
            names = SPATIAL_NAMES.get(spatial, tuple(f"S{i}" for i in range(spatial)))
            if len(graph_inputs) > 1:
                names = tuple(f"{n}_{info.name}" for n in names)
            sizes = [_symbol_name(d, n, taken) if isinstance(d, str) else d
                     for d, n in zip(sizes, names)]
            if not isinstance(channels, int):
                raise b.error(f"input {info.name!r} must give its channel count (axis 1) as a "
                              f"number, received {channels!r}", SpecError)
            shape, axes = (*sizes, channels), channels_first_axes(len(dims))
        else:
            if not isinstance(rest[0], int):
                raise b.error(f"input {info.name!r} must give its feature count as a number",
                              SpecError)
            shape, axes = (rest[0],), identity_axes(2)
        name = b.unique(info.name)
        op = O.InputLayer(name=name, shape=shape)
        b.graph.add(op)
        b.shapes[name] = tuple(arith.symbol(d) if isinstance(d, str) else
                               arith.symbol(n) if d is None else d
                               for d, n in zip(op.shape, (*SPATIAL_NAMES.get(len(op.shape) - 1,
                                                                            ()), "C")))
        b.values[info.name] = Tensor(name, axes)
    b.fixed_batch = batches.pop() if len(batches) == 1 else None


def constant_of(tensor: Any, learned: bool) -> Const:
    """A TensorProto as a Const: dims always, values where small and stored in the file."""
    dims = tuple(int(d) for d in tensor.dims)
    for d in dims:
        if d < 0 or d > 2 ** 40:
            raise SpecError(f"initializer {tensor.name!r} has dims {list(dims)}, beyond any "
                            "real tensor")
    const = Const(tensor.name, dims, None, learned)
    if const.size <= MAX_CONSTANT_VALUES and tensor.data_location != 1:
        from onnx import numpy_helper

        try:
            values = numpy_helper.to_array(tensor)
        except Exception as exc:  # noqa: BLE001 - a damaged tensor: one line, not a traceback
            raise SpecError(f"initializer {tensor.name!r} cannot be read ({exc})") from None
        const = Const(tensor.name, dims, values, learned)
    return const


def build_graph(model: Any, source: str) -> Graph:
    from convplan.frontends.onnx_ops import CONVERTERS

    b = Builder(model, source)
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    for tensor in graph.initializer:
        b.values[tensor.name] = constant_of(tensor, learned=True)
    add_inputs(b, model, initializers)
    nodes = list(graph.node)
    order = node_order(nodes, set(b.values), source)
    for node in nodes:
        for name in node.input:
            b.uses[name] = b.uses.get(name, 0) + 1
    for index in order:
        node = nodes[index]
        b.node = node
        if node.domain not in ("", "ai.onnx"):
            raise b.error(f"op {node.op_type} of domain {node.domain!r} is not modelled "
                          "(convplan reads the standard ONNX ops)")
        convert = CONVERTERS.get(node.op_type)
        if convert is None:
            raise b.error(f"ONNX op {node.op_type} is not modelled")
        outputs = convert(b, node)
        for name, value in zip(node.output, outputs):
            if name:
                b.values[name] = value
    b.node = None
    outs = []
    for info in graph.output:
        value = b.values.get(info.name)
        if not isinstance(value, Tensor):
            raise b.error(f"graph output {info.name!r} is a constant, not computed from the "
                          "inputs", SpecError)
        outs.append(value.layer)
    b.graph.set_outputs(dict.fromkeys(outs))
    return b.graph


__all__ = ["BATCH", "Builder", "build_graph"]
