"""Receptive fields measured in TensorFlow, on a linearized copy of the network.

Which input pixels can change output pixel p is a property of the network's wiring and windows,
not of its weights; on the real network it is hidden by dead ReLUs, max-pooling winners and
cancelling weights. So the field is measured on a surrogate with the same geometry: every
activation linear (layer normalization and softmax over the channels too; over a spatial axis
they mix positions and are kept), max pooling replaced by average pooling over the same windows
(global too), Maximum/Minimum by Average, Subtract and Multiply by Add, a merge's inputs that
have no field in the plan scaled by 0 (the plan leaves them out of the merge), Rescaling and
Normalization by the identity (their offsets would swamp the tiny far taps of a lanczos
upsampling in float32), every kernel positive (uniform in [0.5, 1.5] divided by its fan-in), biases, betas
and means zero, variances one, float64 (float32 with 3D pooling, which TF's CPU kernels run in
float32 only). In that network an output is a sum of positive products of the input pixels it
can see, so it changes exactly when one of them does.

The measurement is forward, in chunks: for each spatial axis and each input position i probed,
an input that is one on the hyperplane at i and zero elsewhere. Output position p along that
axis is reached iff it differs from its value for an all-zero input, i.e. iff i is in p's field
on that axis, which gives every output position's interval [first, last] of the probed input
pixels it sees, per axis, for every layer at once. The gradient of output p with respect to the
input is non-zero on exactly the same pixels (the surrogate is linear where it matters).

Each chunk is reduced to the first and last position reaching each output before the next one
runs, so memory is one chunk's activations whatever the input size; which positions are
probed, in what order, and how many per chunk, `convplan.verify.budget` decides from the
cost, and `measure_fields_within` stops at the budget's time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from convplan.ir import ops as O
from convplan.ir.graph import Graph
from convplan.ir.rules import rule_for

if TYPE_CHECKING:
    from convplan.analysis import Analysis

Interval = tuple[int, int] | None  # first and last input pixel seen; None: no input pixel
CHUNK = 16
RESAMPLING = (O.ConvTranspose, O.UpSampling)
AVERAGE_POOLING = {1: O.AveragePooling1D, 2: O.AveragePooling2D, 3: O.AveragePooling3D}
GLOBAL_AVERAGE_POOLING = {1: O.GlobalAveragePooling1D, 2: O.GlobalAveragePooling2D,
                          3: O.GlobalAveragePooling3D}


def _as_linear(op: O.Op) -> O.Op:
    """An activation, normalization or rescaling becomes the identity."""
    return O.Activation(name=op.name, activation="linear")


def _input_linear(op: O.InputLayer) -> O.Op:
    return dataclasses.replace(op, dtype="float32")


def _mixing_or_linear(op: O.Softmax | O.LayerNormalization) -> O.Op:
    """Over a spatial axis it mixes positions: kept (see measure_fields); else the identity."""
    return op if op.axis != -1 else _as_linear(op)


def _max_to_average(op: O.MaxPooling) -> O.Op:
    return AVERAGE_POOLING[op.spatial_rank](name=op.name, pool_size=op.pool_size,
                                            strides=op.strides, padding=op.padding)


def _global_max_to_average(op: O.GlobalMaxPooling) -> O.Op:
    return GLOBAL_AVERAGE_POOLING[op.spatial_rank](name=op.name, keepdims=op.keepdims)


def _to_average(op: O.Merge) -> O.Op:
    return O.Average(name=op.name)


def _to_add(op: O.Merge) -> O.Op:
    return O.Add(name=op.name)


def _without_activation(op: O.Op) -> O.Op:
    """A layer with a fused activation keeps its geometry and loses the activation."""
    return dataclasses.replace(op, activation=None) if getattr(op, "activation", None) else op


def _unchanged(op: O.Op) -> O.Op:
    return op


def _declared_as_linear(op: O.Custom) -> O.Op:
    """A declared layer has no Keras class to build. One that keeps its shape has its first
    input's field (receptive.custom_field), which the identity on that input reproduces
    (linearize_graph drops the other inputs); one that declares a geometry needs its shapes
    (declared_surrogate)."""
    if op.changes_shape:
        raise TypeError(f"the declared geometry of {op.name!r} is built by declared_surrogate")
    return _as_linear(op)


CONVOLUTIONS = {1: O.Conv1D, 2: O.Conv2D, 3: O.Conv3D}


def declared_surrogate(op: O.Custom, in_shape: Sequence[Any], out_shape: Sequence[Any]
                       ) -> O.Op:
    """A declared geometry as a convolution with the plan's output channels: the declared
    kernel (1 where none is declared: the plan then has no field, and the convolution only
    carries the shapes), strides, dilation and padding, so its field is the one the plan
    derives (receptive.custom_field). Keras's convolutions refuse strides and dilation both
    above 1; there the kernel is dense over the dilated span, (k - 1) * d + 1 taps, which
    gives every output the same first and last input pixel when the field reaching the layer
    is uniform (downstream of resampling the dilation's gaps can matter: a note in
    docs/keras-import.md). A vector input (no spatial axes) gets a Dense layer."""
    rank, channels = len(in_shape) - 1, int(out_shape[-1])
    if rank == 0:
        return O.Dense(name=op.name, units=channels)
    kernel, strides, dilation = op.geometry(rank)
    if max(strides) > 1 and max(dilation) > 1:
        kernel = tuple((k - 1) * d + 1 for k, d in zip(kernel, dilation))
        dilation = (1,) * rank
    return CONVOLUTIONS[rank](name=op.name, filters=channels, kernel_size=kernel,
                              strides=strides, dilation_rate=dilation, padding=op.padding)


def _zero_fill(op: O.Pad) -> O.Op:
    """Padding with -inf (before a max pooling) would swamp the sums: pad with zeros, the
    same geometry."""
    return dataclasses.replace(op, constant_values=None) if op.mode == "constant" else op


def _reduction_to_mean(op: O.Reduction) -> O.Op:
    """max and min pick one position; the mean over the same axes sees them all."""
    return O.Mean(name=op.name, axis=op.axis, keepdims=op.keepdims)


LINEARIZE_RULES: dict[type, Callable[[Any], O.Op]] = {
    O.InputLayer: _input_linear,
    O.Windowed: _without_activation,
    O.Dense: _without_activation,
    O.MaxPooling: _max_to_average,
    O.AveragePooling: _unchanged,
    O.GlobalMaxPooling: _global_max_to_average,
    O.GlobalAveragePooling: _unchanged,
    O.Softmax: _mixing_or_linear,
    O.LayerNormalization: _mixing_or_linear,
    O.Activation: _as_linear,
    O.ReLU: _as_linear,
    O.LeakyReLU: _as_linear,
    O.Rescaling: _as_linear,
    O.Normalization: _as_linear,
    O.ELU: _as_linear,
    O.PReLU: _as_linear,
    O.GaussianNoise: _as_linear,  # the identity at inference
    O.ActivityRegularization: _as_linear,
    O.Augmentation: _as_linear,  # RandomFlip, ...: the identity at inference
    O.UnitNormalization: _mixing_or_linear,
    O.RMSNormalization: _mixing_or_linear,
    O.GroupNormalization: _unchanged,  # mixes every spatial position: kept, as Softmax over one
    O.BatchNormalization: _unchanged,  # made positive with zero offsets (make_positive)
    O.Dropout: _unchanged,  # the identity when not training
    O.Maximum: _to_average,
    O.Minimum: _to_average,
    O.Subtract: _to_add,
    O.Multiply: _to_add,
    O.Add: _unchanged,
    O.Average: _unchanged,
    O.Concatenate: _unchanged,
    O.Flatten: _unchanged,
    O.Reshape: _unchanged,
    O.UpSampling: _unchanged,
    O.ZeroPadding: _unchanged,
    O.Cropping: _unchanged,
    O.Resizing: _unchanged,
    O.CenterCrop: _unchanged,
    O.RandomCrop: _unchanged,
    O.AdaptiveAveragePooling1D: _unchanged,
    O.AdaptiveAveragePooling2D: _unchanged,
    O.AdaptiveAveragePooling3D: _unchanged,
    O.AdaptiveMaxPooling1D: lambda op: O.AdaptiveAveragePooling1D(
        name=op.name, output_size=op.output_size),
    O.AdaptiveMaxPooling2D: lambda op: O.AdaptiveAveragePooling2D(
        name=op.name, output_size=op.output_size),
    O.AdaptiveMaxPooling3D: lambda op: O.AdaptiveAveragePooling3D(
        name=op.name, output_size=op.output_size),
    O.Permute: _unchanged,
    O.RepeatVector: _unchanged,
    O.Embedding: _unchanged,
    O.Masking: _as_linear,  # a zero input would be masked: the identity keeps it
    O.Pad: _zero_fill,
    O.Split: _unchanged,
    O.Mean: _unchanged,
    O.Sum: _unchanged,
    O.Max: _reduction_to_mean,
    O.Min: _reduction_to_mean,
    O.ExpandDims: _unchanged,
    O.Squeeze: _unchanged,
    O.Dot: _unchanged,  # no field in the plan: not measured
    O.EinsumDense: _without_activation,  # likewise
    O.Custom: _declared_as_linear,
}


def linearize_op(op: O.Op) -> O.Op:
    """The op as it appears in the surrogate (see the module docstring)."""
    return rule_for(LINEARIZE_RULES, op, "linearize_op")(op)


def linearize_graph(graph: Graph, input_size: Sequence[int] | None = None,
                    plan: Analysis | None = None) -> Graph:
    """A copy of the graph with every op linearized, same names and wiring, except that an
    input of a merge that the plan leaves out of the merge's field (global context: no field,
    or broadcast along a spatial axis; convplan.analysis.receptive.merge_fields) is scaled by
    0 first, so the measurement leaves it out too."""
    from convplan.analysis import analyze
    from convplan.analysis.receptive import counted_inputs

    plan = {r.name: r for r in (plan or analyze(graph, input_size=input_size)).layers}
    copy = Graph(graph.name)
    for node in graph:
        inputs = list(node.inputs[:1] if isinstance(node.op, O.Custom) else node.inputs)
        if isinstance(node.op, O.Merge) and plan[node.name].receptive_field is not None:
            counted = counted_inputs(node.op, [plan[i].receptive_field for i in inputs],
                                     [plan[i].output_shape for i in inputs],
                                     plan[node.name].output_shape)
            for k, source in enumerate(inputs):
                if not counted[k]:
                    inputs[k] = copy.add(O.Rescaling(name=f"{node.name}__context{k}",
                                                     scale=0.0), [source])
        op = node.op
        if isinstance(op, O.Custom) and op.changes_shape:
            copy.add(declared_surrogate(op, plan[inputs[0]].output_shape,
                                        plan[node.name].output_shape), inputs)
            continue
        copy.add(linearize_op(op), inputs)
    copy.set_outputs(graph.outputs)
    return copy


def with_every_sink(graph: Graph) -> Graph:
    """The graph with layers that feed nothing added to its outputs, so a Keras model built
    from it keeps every layer of the plan (keras.Model drops layers off the output paths)."""
    used = {i for node in graph for i in node.inputs}
    sinks = [n for n in graph.nodes if n not in used and n not in graph.outputs
             and n not in graph.inputs]
    if not sinks:
        return graph
    copy = Graph(graph.name)
    copy.nodes = dict(graph.nodes)
    copy.set_outputs([*graph.outputs, *sinks])
    return copy


def _fan_in(layer: Any, weight: Any) -> int:
    shape = [int(d) for d in weight.shape]
    if type(layer).__name__.startswith("Depthwise") or weight.name == "depthwise_kernel":
        return max(1, int(_prod(shape[:-2])))
    return max(1, int(_prod(shape[:-1])))


def _prod(values: Sequence[int]) -> int:
    result = 1
    for v in values:
        result *= v
    return result


def make_positive(model: Any, seed: int = 0) -> None:
    """Kernels and scales positive and fan-in normalized; offsets zero; variances one."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for weight in layer.weights:
            shape = tuple(int(d) for d in weight.shape)
            if weight.name in ("bias", "beta", "moving_mean", "mean"):
                value = np.zeros(shape)
            elif weight.name in ("moving_variance", "variance"):
                value = np.ones(shape)
            elif weight.name == "count" or "int" in str(weight.dtype):
                continue
            else:
                scale = 1.0 / _fan_in(layer, weight) if len(shape) >= 2 else 1.0
                value = rng.uniform(0.5, 1.5, shape) * scale
            weight.assign(value.astype(str(weight.dtype)))


def surrogate_dtype(graph: Graph) -> str:
    """float64, so no sum of positive terms underflows in a deep surrogate; float32 where TF's
    CPU kernels lack float64 (3D pooling: AvgPool3D and MaxPool3D are float32 only; Keras's
    adaptive 3D pooling lowers to them too)."""
    def pools_3d(op: O.Op) -> bool:
        return ((isinstance(op, O.Pooling) and op.spatial_rank == 3)
                or (isinstance(op, O.AdaptivePooling) and op.rank() == 3))
    if any(pools_3d(node.op) for node in graph):
        return "float32"
    return "float64"


def _build_surrogate(graph: Graph, names: Sequence[str], input_size: Sequence[int] | None,
                     plan: Analysis | None) -> Any:
    import keras

    from convplan.verify.keras_build import build_keras_model, node_output

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(surrogate_dtype(graph))
    try:
        surrogate = with_every_sink(linearize_graph(graph, input_size, plan))
        model = build_keras_model(surrogate, input_size)
    finally:
        keras.config.set_dtype_policy(previous)
    make_positive(model)
    # node_output: keras.ops nodes (pad, split, ...) are operations, not layers
    return keras.Model(model.inputs, [node_output(model, surrogate, n) for n in names])


def impulses(spatial: Sequence[int], channels: int, probes: Sequence[tuple[int, int]]) -> Any:
    """One input per (axis, position) probed: ones on that hyperplane, zeros elsewhere."""
    import numpy as np

    batch = np.zeros((len(probes), *spatial, channels), dtype="float32")
    for k, (axis, i) in enumerate(probes):
        index: list[Any] = [k] + [slice(None)] * len(spatial)
        index[axis + 1] = i
        batch[tuple(index)] = 1.0
    return batch


class _Reach:
    """Per layer and axis, the first and last probed position reaching each output (first
    `n_in` and last -1: none yet), whatever order the probes come in."""

    def __init__(self, out_lengths: Sequence[int], n_in: Sequence[int]) -> None:
        import numpy as np

        self.none = list(n_in)
        self.first = [np.full(n, m) for n, m in zip(out_lengths, n_in)]
        self.last = [np.full(n, -1) for n in out_lengths]

    def update(self, axis: int, positions: Any, seen: Any) -> None:
        """`seen`: (probes, outputs) booleans for the probes at `positions`."""
        import numpy as np

        column = positions[:, None]
        self.first[axis] = np.minimum(self.first[axis],
                                      np.where(seen, column, self.none[axis]).min(axis=0))
        self.last[axis] = np.maximum(self.last[axis], np.where(seen, column, -1).max(axis=0))

    def intervals(self) -> tuple[tuple[Interval, ...], ...]:
        return tuple(tuple((int(f), int(lst)) if lst >= 0 else None for f, lst in zip(fs, ls))
                     for fs, ls in zip(self.first, self.last))


def measure_fields(graph: Graph, names: Sequence[str], input_shape: Sequence[int],
                   input_size: Sequence[int] | None = None,
                   positions: Sequence[Sequence[int]] | None = None, chunk: int = CHUNK,
                   plan: Analysis | None = None
                   ) -> dict[str, tuple[tuple[Interval, ...], ...]]:
    """Per layer (of a one-input graph) and spatial axis: the interval of probed input pixels
    each output position sees along that axis (the layers' outputs must keep the spatial
    axes). `positions`: the input positions probed per axis (all of them by default)."""
    spatial = [int(d) for d in input_shape[:-1]]
    if positions is None:
        positions = [range(n) for n in spatial]
    probes = [(axis, int(i)) for axis, axis_positions in enumerate(positions)
              for i in sorted(axis_positions)]
    return measure_fields_within(graph, names, input_shape, probes, chunk, input_size,
                                 plan)[0]


def measure_fields_within(graph: Graph, names: Sequence[str], input_shape: Sequence[int],
                          probes: Sequence[tuple[int, int]], chunk: int = CHUNK,
                          input_size: Sequence[int] | None = None,
                          plan: Analysis | None = None, seconds: float | None = None,
                          on_chunk: Callable[[int, int], None] | None = None
                          ) -> tuple[dict[str, tuple[tuple[Interval, ...], ...]],
                                     tuple[frozenset[int], ...]]:
    """`measure_fields` over the (axis, position) `probes`, run in the order given, `chunk` at
    a time, stopping after the chunk that passes `seconds` (None: no limit); also the
    positions probed per axis. `on_chunk(done, total)` is told after each chunk."""
    import time

    import numpy as np

    names = list(names)
    spatial, channels = [int(d) for d in input_shape[:-1]], int(input_shape[-1])
    if not names:
        return {}, tuple(frozenset() for _ in spatial)
    model = _build_surrogate(graph, names, input_size, plan)

    def run(batch: Any) -> list[Any]:
        outputs = model([batch], training=False)
        return [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple))
                                        else [outputs])]

    # Reached = changed from the output for an all-zero input (a layer with constants, such
    # as Normalization(mean=...), is non-zero everywhere; what an impulse changes is its field).
    started = time.perf_counter()
    baseline = run(np.zeros((1, *spatial, channels), dtype="float32"))
    reach = {n: _Reach(base.shape[1:-1], spatial) for n, base in zip(names, baseline)}
    probed: list[set[int]] = [set() for _ in spatial]
    for start in range(0, len(probes), chunk):
        part = sorted(probes[start:start + chunk])
        outputs = run(impulses(spatial, channels, part))
        for name, out, base in zip(names, outputs, baseline):
            hit = out != base  # (probes, *spatial_out, C)
            for axis in sorted({a for a, _ in part}):
                rows = [k for k, (a, _) in enumerate(part) if a == axis]
                others = tuple(d for d in range(1, hit.ndim) if d != axis + 1)
                reach[name].update(axis, np.array([part[k][1] for k in rows]),
                                   hit[rows].any(axis=others))
        del outputs
        for axis, i in part:
            probed[axis].add(i)
        done = min(start + chunk, len(probes))
        if on_chunk is not None:
            on_chunk(done, len(probes))
        if seconds is not None and done < len(probes) \
                and time.perf_counter() - started > seconds:
            break
    return ({name: reach[name].intervals() for name in names},
            tuple(frozenset(p) for p in probed))


def resampled_layers(graph: Graph) -> set[str]:
    """Layers downstream of a transposed convolution or upsampling (non-uniform geometry)."""
    marked: set[str] = set()
    for name in graph.topological_order():
        node = graph[name]
        if isinstance(node.op, RESAMPLING) or any(i in marked for i in node.inputs):
            marked.add(name)
    return marked
