"""Build real Keras layers and models from convplan ops and graphs (imports Keras).

This is the one place in the package that turns the IR back into Keras: `verify` compares the
model it builds with the plan, and the tests use it as their oracle. Op attributes already carry
Keras's names, so a layer is `getattr(keras.layers, op_type)(name=..., **attributes)`; only the
few spots where convplan's normalized form differs from what the Keras constructor accepts are
mapped back (`convplan.ir.keras_arguments`, which codegen shares without importing Keras).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from convplan.analysis import arith
from convplan.analysis.analyze import input_shapes
from convplan.errors import UnsupportedError
from convplan.ir import ops as O
from convplan.ir.graph import Graph
from convplan.ir.keras_arguments import keras_arguments
from convplan.ir.validate import validate


def build_keras_layer(op: O.Op) -> Any:
    """A fresh, unbuilt Keras layer equal to the op (same class name, name and attributes)."""
    import keras

    if isinstance(op, O.InputLayer):
        raise TypeError("an InputLayer becomes keras.Input; use build_keras_model")
    if not hasattr(keras.layers, op.op_type):  # a declared (Custom) layer: no Keras class
        raise UnsupportedError(f"{op.op_type} layers have no Keras class convplan can build",
                               layer=op.name, op=op.op_type)
    args = keras_arguments(op)
    # Not every constructor takes `trainable` (SpatialDropout does not); the property does.
    trainable = args.pop("trainable", True)
    layer = getattr(keras.layers, op.op_type)(name=op.name, **args)
    layer.trainable = trainable
    return layer


def keras_operation(op: O.KerasOperation, tensor: Any) -> Any:
    """`keras.ops.<keras_function>(tensor, **arguments)` (a split's part `index`), its Keras
    operation named as the op."""
    import keras

    out = getattr(keras.ops, op.keras_function)(tensor, **keras_arguments(op))
    if isinstance(op, O.Split):
        out = out[op.index]
    out._keras_history.operation.name = op.name
    return out


def node_output(model: Any, graph: Graph, name: str) -> Any:
    """The symbolic output of node `name` in a model build_keras_model made from `graph`: its
    layer's, or its keras.ops operation's (a split's part `index`)."""
    operation = next((op for op in model.operations if op.name == name), None)
    if operation is None:
        raise KeyError(f"the model has no layer or operation named {name!r}")
    out = operation.output
    if isinstance(out, (list, tuple)):
        out = out[graph[name].op.index]
    return out


def keras_input_shapes(graph: Graph, input_size: Sequence[int] | None = None
                       ) -> dict[str, tuple[int | None, ...]]:
    """Each input's shape (batch excluded) as keras.Input takes it: symbols become None.

    `input_size` replaces the spatial dims of inputs of that spatial rank, as in `analyze`."""
    shapes = input_shapes(graph, input_size)
    return {name: tuple(int(d) if arith.is_concrete(d) else None for d in shape)
            for name, shape in shapes.items()}


def build_keras_model(graph: Graph, input_size: Sequence[int] | None = None) -> Any:
    """A functional keras.Model with the graph's layers, names, wiring, inputs and outputs.

    Symbolic or null input dims stay None unless `input_size` fixes them. Keras raises its own
    errors (ValueError and the like) for configurations it rejects."""
    import keras

    order = validate(graph)
    shapes = keras_input_shapes(graph, input_size)
    tensors: dict[str, Any] = {}
    for name in order:
        node = graph[name]
        op = node.op
        if isinstance(op, O.InputLayer):
            tensors[name] = keras.Input(shape=shapes[name], name=name, dtype=op.dtype)
            continue
        ins = [tensors[i] for i in node.inputs]
        if isinstance(op, O.KerasOperation):
            tensors[name] = keras_operation(op, ins[0])
            continue
        layer = build_keras_layer(op)
        tensors[name] = layer(ins if isinstance(op, O.Merge) else ins[0])
    inputs = [tensors[name] for name in graph.inputs]
    outputs = [tensors[name] for name in graph.outputs]
    rename_added_operations(outputs, {id(t._keras_history.operation) for t in tensors.values()})
    return keras.Model(inputs=inputs if len(inputs) > 1 else inputs[0],
                       outputs=outputs if len(outputs) > 1 else outputs[0], name=graph.name)


def rename_added_operations(outputs: Sequence[Any], ours: set[int]) -> None:
    """Rename the operations Keras adds to a graph itself where they took a layer's name.

    A mask-taking layer after Masking (BatchNormalization, a merge) receives the mask that
    keras.ops computes (not_equal, any, expand_dims, concatenate, all: named by a counter per
    process), and those nodes join the model; one named as a layer of the graph makes
    keras.Model refuse it ("The name ... is used 2 times"). `ours`: the ids of the graph's own
    layers and operations, which keep their names."""
    added: list[Any] = []
    names: set[str] = set()  # the graph's own
    seen: set[int] = set()
    stack = list(outputs)
    while stack:
        operation, node_index, _ = stack.pop()._keras_history
        if id(operation) in seen:
            continue
        seen.add(id(operation))
        if id(operation) in ours:
            names.add(operation.name)
        else:
            added.append(operation)
        stack.extend(operation._inbound_nodes[node_index].arguments.keras_tensors)
    taken = names | {operation.name for operation in added}
    for operation in added:
        if operation.name in names:
            k = 1
            while f"{operation.name}_mask_{k}" in taken:
                k += 1
            operation.name = f"{operation.name}_mask_{k}"
            taken.add(operation.name)
