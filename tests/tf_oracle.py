"""The TensorFlow oracle for differential tests: what a real Keras layer says about itself.

`keras_facts` applies a Keras layer to symbolic `keras.Input`s (no execution) and reads its
output shape and weights; `convplan_facts` runs convplan's analysis on the same op and input
shapes. Both return `Facts`, so a test compares them with `==`. Params and MACs on the Keras
side are those `convplan verify` measures (`convplan.verify.measure`: read off the built
layer's weights and kernels, independently of convplan's rules). `mismatches` compares a whole
built Keras model with the plan convplan imported from it, layer by layer, the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from convplan.analysis import analyze
from convplan.errors import ConvplanError
from convplan.ir import ops as O
from convplan.ir.graph import Graph
from convplan.verify.keras_build import build_keras_layer, build_keras_model
from convplan.verify.measure import layer_params, measure_layer, volume

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Facts:
    """One layer, batch axis excluded from the output shape."""

    output_shape: Shape
    trainable: int
    non_trainable: int
    macs: int


@dataclass(frozen=True)
class Outcome:
    """Either facts or the error raised while building (class name and first line)."""

    facts: Facts | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def keras_facts(layer: Any, input_shapes: Sequence[Shape], merge: bool = False) -> Facts:
    """Apply `layer` to symbolic inputs of the given shapes (batch excluded) and measure it."""
    import keras

    inputs = [keras.Input(shape=tuple(s)) for s in input_shapes]
    layer(inputs if merge else inputs[0])
    assert layer.count_params() == sum(layer_params(layer))
    return layer_facts(layer)


def layer_facts(layer: Any) -> Facts:
    """A built layer of a functional model (called once), as `convplan verify` measures it."""
    measured = measure_layer(layer)
    return Facts(measured["output_shape"], measured["trainable_params"],
                 measured["non_trainable_params"], measured["macs"])


def keras_executes(make_layer: Callable[[], Any], input_shapes: Sequence[Shape],
                   merge: bool = False) -> Shape:
    """Run a fresh layer eagerly on ones; return the output shape (batch excluded) or raise."""
    import numpy as np

    arrays = [np.ones((1, *s), dtype="float32") for s in input_shapes]
    out = make_layer()(arrays if merge else arrays[0])
    return tuple(int(d) for d in out.shape[1:])


def single_layer_graph(op: O.Op, input_shapes: Sequence[Shape]) -> Graph:
    """A graph of inputs `in0`, `in1`, ... feeding `op` (the only output)."""
    graph = Graph("oracle")
    names = [graph.add(O.InputLayer(name=f"in{i}", shape=tuple(s)))
             for i, s in enumerate(input_shapes)]
    graph.add(op, names)
    graph.set_outputs([op.name])
    return graph


def plan_facts(result: Any) -> Facts:
    """One layer of convplan's analysis."""
    return Facts(tuple(result.output_shape), result.trainable_params,
                 result.non_trainable_params, result.macs)


def convplan_facts(op: O.Op, input_shapes: Sequence[Shape]) -> Facts:
    """convplan's analysis of `op` applied to inputs of the given concrete shapes."""
    facts = plan_facts(analyze(single_layer_graph(op, input_shapes)).layer(op.name))
    values = (*facts.output_shape, facts.trainable, facts.non_trainable, facts.macs)
    assert all(isinstance(v, int) for v in values), facts
    return facts


def outcome(fn: Callable[[], Facts], catch: type[BaseException] | tuple = Exception) -> Outcome:
    try:
        return Outcome(facts=fn())
    except catch as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        return Outcome(error=f"{type(exc).__name__}: {first[:300]}")


@dataclass(frozen=True)
class Comparison:
    keras: Outcome
    convplan: Outcome
    op: O.Op | None  # convplan's op, when its constructor accepted the arguments


def compare_layer(op_type: str, args: dict[str, Any], input_shapes: Sequence[Shape]
                  ) -> Comparison:
    """Build the layer from the same Keras arguments in Keras and in convplan.

    Keras side: `keras.layers.<op_type>(**args)` applied to symbolic inputs; any exception is
    Keras rejecting the configuration. convplan side: `make_op` and `analyze`; only a
    ConvplanError counts as rejecting (anything else propagates: it is a convplan bug)."""
    import keras

    merge = issubclass(O.OPS[op_type], O.Merge)
    k = outcome(lambda: keras_facts(getattr(keras.layers, op_type)(**args), input_shapes, merge))
    op: O.Op | None = None

    def ours() -> Facts:
        nonlocal op
        op = O.make_op(op_type, "layer", dict(args))
        return convplan_facts(op, input_shapes)

    c = outcome(ours, ConvplanError)
    return Comparison(k, c, op)


def keras_layer_from_op(op: O.Op) -> Any:
    """The Keras layer `convplan.verify.keras_build` makes from a convplan op."""
    return build_keras_layer(op)


# ---------------------------------------------------------------- whole imported models


def _is_model(layer: Any) -> bool:
    """A model, or a composite layer of a class outside Keras (keras-hub's MobileNet blocks),
    which convplan reads as the nested model its call traces."""
    if hasattr(layer, "layers"):
        return True
    return not type(layer).__module__.startswith("keras.") and bool(_sublayers(layer))


def _sublayers(layer: Any) -> list:
    if hasattr(layer, "layers"):
        return list(layer.layers)
    return list(layer._flatten_layers(include_self=False, recursive=False))


def leaf_layers(model: Any) -> Iterator[tuple[str, Any]]:
    """(name in the plan, layer) for every layer that is not a model or an InputLayer, nested
    models flattened. The convention: a nested layer is `<nested model>.<name>` (deeper:
    `<outer>.<inner>.<name>`), a top-level one keeps its name."""

    def walk(current: Any, prefix: str | None) -> Iterator[tuple[str, Any]]:
        for layer in _sublayers(current):
            name = layer.name if prefix is None else f"{prefix}.{layer.name}"
            if _is_model(layer):
                yield from walk(layer, name)
            elif type(layer).__name__ != "InputLayer":
                yield name, layer

    yield from walk(model, None)


def call_composites(model: Any) -> None:
    """Give the sublayers of every composite layer (see `_is_model`) the call record
    `layer_facts` reads: Keras runs a layer's `call` on backend tensors, so its sublayers are
    never called symbolically; here each composite's `call` is applied to a `keras.Input` of its
    input's shape (a composite inside it gets the same after)."""
    import keras

    for layer in _sublayers(model):
        if hasattr(layer, "layers"):
            call_composites(layer)
        elif _is_model(layer):
            layer.call(keras.Input(batch_shape=layer.input.shape, dtype=layer.input.dtype))
            call_composites(layer)


def model_totals(model: Any) -> tuple[int, int]:
    """(total params, trainable params) as Keras counts them."""
    return model.count_params(), sum(volume(w.shape) for w in model.trainable_weights)


def mismatches(model: Any, analysis: Any) -> list[str]:
    """Every layer where the plan and the built Keras layer disagree (empty when they agree),
    plus any Keras layer the plan lacks."""
    problems = []
    names = {layer.name for layer in analysis.layers}
    for name, layer in leaf_layers(model):
        if name not in names:
            problems.append(f"{name}: not in the plan")
            continue
        expected, got = layer_facts(layer), plan_facts(analysis.layer(name))
        if expected != got:
            problems.append(f"{name} ({type(layer).__name__}): keras {expected}, "
                            f"convplan {got}")
    return problems


# ---------------------------------------------------------------- receptive fields by gradient


def set_positive_weights(model: Any) -> None:
    """Kernels, gamma and variances ones; biases, beta and means zeros (counts untouched):
    every output is then a sum of positive products of the input pixels it can see."""
    import numpy as np

    for layer in model.layers:
        for weight in layer.weights:
            name = weight.path.rsplit("/", 1)[-1]
            if "int" in str(weight.dtype):
                continue
            ones = "kernel" in name or name in ("gamma", "moving_variance", "variance")
            fill = np.ones if ones else np.zeros
            weight.assign(fill(tuple(int(d) for d in weight.shape), dtype=str(weight.dtype)))


def without_dilated_transposes(graph: Graph) -> tuple[Graph, dict[str, tuple]]:
    """TF's CPU kernels cannot run a dilated transposed convolution. The same geometry is a
    transposed convolution with the effective kernel (k - 1) * d + 1 whose taps off the dilation
    grid are zero (Keras's output length depends on the effective kernel only). Returns that
    graph and, per rewritten layer, the (kernel size, dilation) whose grid must stay non-zero."""
    import dataclasses

    copy = Graph(graph.name)
    grids: dict[str, tuple] = {}
    for node in graph:
        op = node.op
        if isinstance(op, O.ConvTranspose) and max(op.dilation_rate) > 1:
            grids[op.name] = (op.kernel_size, op.dilation_rate)
            op = dataclasses.replace(
                op, kernel_size=tuple((k - 1) * d + 1 for k, d in zip(op.kernel_size,
                                                                         op.dilation_rate)),
                dilation_rate=1)
        copy.add(op, node.inputs)
    copy.set_outputs(graph.outputs)
    return copy, grids


def zero_off_grid(model: Any, grids: dict[str, tuple]) -> None:
    """Zero the kernel taps of each rewritten layer that are off its dilation grid."""
    import numpy as np

    for name, (_, dilation) in grids.items():
        kernel = model.get_layer(name).kernel
        value = np.asarray(kernel.numpy())
        for axis, d in enumerate(dilation):
            index = [slice(None)] * value.ndim
            off = np.arange(value.shape[axis]) % d != 0
            index[axis] = off
            value[tuple(index)] = 0
        kernel.assign(value)


def gradient_supports(model: Any, input_shape: Shape, positions: Sequence[Sequence[int]],
                      output: int | None = None) -> list[tuple[tuple[int, int] | None, ...]]:
    """For each output position (one index per spatial axis, None for all of that axis): per
    spatial axis, the first and last input index where d(sum over channels of output[position])
    / d(input) is non-zero (None where the gradient is zero everywhere). One batched gradient
    for all positions: the batch rows are independent, so row b's gradient is that of position
    b. `output` picks one output of a model with several."""
    import numpy as np
    import tensorflow as tf

    x = tf.ones((len(positions), *input_shape), dtype="float32")
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x, training=False)
        y = y if output is None else y[output]
        picked = tf.stack([tf.reduce_sum(y[(b, *(slice(None) if i is None else i for i in p))])
                           for b, p in enumerate(positions)])
        total = tf.reduce_sum(picked)
    grad = np.abs(tape.gradient(total, x).numpy()).sum(axis=-1)  # (B, *spatial)
    result = []
    for b in range(len(positions)):
        axes = []
        for axis in range(len(input_shape) - 1):
            others = tuple(a for a in range(grad.ndim - 1) if a != axis)
            hits = np.flatnonzero(grad[b].sum(axis=others) > 0)
            axes.append((int(hits[0]), int(hits[-1])) if len(hits) else None)
        result.append(tuple(axes))
    return result


__all__ = ["Facts", "Outcome", "Comparison", "build_keras_model", "call_composites", "compare_layer",
           "convplan_facts", "gradient_supports", "keras_executes", "keras_facts",
           "keras_layer_from_op", "layer_facts", "leaf_layers", "mismatches", "model_totals",
           "plan_facts", "set_positive_weights", "single_layer_graph",
           "without_dilated_transposes", "zero_off_grid"]
