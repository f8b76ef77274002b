"""The plan's layers found in a built Keras model (imports Keras).

The plan names its nodes as the graph walker (`convplan.frontends.keras_model`) read them from
the model's config: layers of nested models flattened (prefixed with the model's name where a
name is taken), keras.ops calls (`x + 3.0`, `keras.ops.multiply`) as nodes of their own, a
layer called twice as two nodes. So a node is found by where the walker found it, its
`Origin` (the enclosing models, the layer or operation name, the call's index), not by
`model.get_layer(name)`: this module walks the built model's own graph the same way, through
Functional and Sequential models alike, and lists every call with its symbolic tensors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from convplan.errors import UsageError
from convplan.ir.graph import Graph
from convplan.verify.measure import layer_macs, layer_params, shape_of

# Where a node came from, as convplan.frontends.keras_model.Origin (verify imports no frontend):
# the enclosing models' names, outermost first; the layer or operation name; the call's index.
Origin = tuple[tuple[str, ...], str, int]


@dataclass(frozen=True)
class Call:
    """One call of a Keras layer or operation: its symbolic inputs and outputs, in the graph
    of the (possibly nested) model that makes it."""

    operation: Any
    inputs: tuple[Any, ...]
    outputs: tuple[Any, ...]


def graph_of_model(model: Any) -> Any:
    """The Functional that holds a model's graph (a Sequential keeps one inside)."""
    import keras

    if isinstance(model, keras.Sequential):
        functional = getattr(model, "_functional", None)
        if functional is None:
            raise UsageError(f"the Sequential model {model.name!r} was never built; it has no "
                             "graph to verify", hint="give it an input: keras.Input(shape=...)")
        return functional
    return model


def is_model(operation: Any) -> bool:
    import keras

    return isinstance(operation, keras.Model)


def model_calls(model: Any, scope: tuple[str, ...] = ()) -> dict[Origin, Call]:
    """Every call in the model and in the models nested in it, by Origin. A call's index
    counts the operation's calls that belong to this model's graph, in order, as
    Functional.get_config numbers them (and the walker reads them)."""
    import keras
    from keras.src.ops.function import make_node_key

    functional = graph_of_model(model)
    calls: dict[Origin, Call] = {}
    for operation in functional.operations:
        if isinstance(operation, keras.layers.InputLayer):
            continue
        own = [node for i, node in enumerate(operation._inbound_nodes)
               if make_node_key(operation, i) in functional._nodes]
        for index, node in enumerate(own):
            calls[(scope, operation.name, index)] = Call(
                operation, tuple(node.arguments.keras_tensors), tuple(node.outputs))
            if is_model(operation):
                calls.update(model_calls(operation, (*scope, operation.name)))
    return calls


def locate(graph: Graph, origins: Mapping[str, Origin], calls: Mapping[Origin, Call]
           ) -> dict[str, Origin]:
    """The call (its Origin in `calls`) each of the graph's nodes but the inputs stands for: as
    `origins` says, else a top-level layer of the node's name. A UsageError names the nodes
    the model lacks."""
    found, missing = {}, []
    for name in graph.nodes:
        if name in graph.inputs:
            continue
        origin = origins.get(name, ((), name, 0))
        if origin in calls:
            found[name] = origin
        else:
            missing.append(name)
    if missing:
        raise UsageError(f"the model has no layer(s) or operation(s) the plan names "
                         f"{', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
    return found


def measure_call(call: Call) -> dict[str, Any]:
    """Output shape (batch excluded), trainable and non-trainable params and MACs of one call,
    as `convplan.verify.measure.measure_layer` measures a layer called once; an operation
    (keras.ops) has no weights."""
    out_shape = shape_of(call.outputs[0])
    if not hasattr(call.operation, "weights"):
        return {"output_shape": out_shape, "trainable_params": 0, "non_trainable_params": 0,
                "macs": 0}
    trainable, non_trainable = layer_params(call.operation)
    return {"output_shape": out_shape, "trainable_params": trainable,
            "non_trainable_params": non_trainable,
            "macs": layer_macs(call.operation, shape_of(call.inputs[0]), out_shape)}


def eager_shapes(model: Any, calls: Mapping[Origin, Call], batch: int = 2
                 ) -> dict[Origin, tuple[int, ...]]:
    """Every call's output shape from running the model on a batch of zeros, one probe per
    model level: a nested model's calls are run on what reaches that model."""
    import numpy as np

    functional = graph_of_model(model)
    inputs = [np.zeros((batch, *shape_of(t)), dtype=str(t.dtype)) for t in functional.inputs]
    shapes: dict[Origin, tuple[int, ...]] = {}
    _run_level(functional, (), inputs, calls, shapes)
    return shapes


def _run_level(functional: Any, scope: tuple[str, ...], inputs: Sequence[Any],
               calls: Mapping[Origin, Call], shapes: dict[Origin, tuple[int, ...]]) -> None:
    import keras

    level = [(origin, call) for origin, call in calls.items() if origin[0] == scope]
    wanted: list[Any] = []
    for _, call in level:
        wanted.append(call.outputs[0])
        if is_model(call.operation):
            wanted.extend(call.inputs)
    probe = keras.Model(functional.inputs, wanted)
    values = probe(list(inputs), training=False)
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    position = 0
    for origin, call in level:
        shapes[origin] = shape_of(values[position])
        position += 1
        if is_model(call.operation):
            fed = values[position:position + len(call.inputs)]
            position += len(call.inputs)
            _run_level(graph_of_model(call.operation), (*scope, origin[1]), fed, calls, shapes)
