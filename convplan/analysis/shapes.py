"""Output-shape rules: a table from op class to a function (op, input shapes) -> output shape.

Shapes exclude the batch axis and hold ints or sympy expressions. `infer_shapes` walks the graph
in topological order and raises ShapeError naming the layer on any rank or channel mismatch or
any output that is empty for the given sizes. Merges whose inputs agree only for some sizes are
recorded as `ShapeCondition`s instead (for example H divisible by 16 in a U-Net).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from convplan.analysis import arith
from convplan.analysis.arith import Value
from convplan.analysis.windows import (
    AxisPadding,
    axis_paddings,
    conv_output_length,
    describe_padding,
    effective_kernel,
    pool_output_length,
    transpose_output_length,
)
from convplan.errors import NeedsKnownSize, ShapeError, UnsupportedError
from convplan.ir import ops as O
from convplan.ir.graph import Graph
from convplan.ir.rules import rule_for

Shape = tuple[Value, ...]


@dataclass(frozen=True)
class ShapeCondition:
    """Inputs of a merge agree only where `left == right` holds (a condition on input sizes)."""

    layer: str
    axis: int
    left: Value
    right: Value


AXIS_WORDS = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}
UNIT_WORDS = {1: ("steps",), 2: ("rows", "columns"), 3: ("slices", "rows", "columns")}


def _error(op: O.Op, message: str, hint: str | None = None,
           reason: str | None = None) -> ShapeError:
    return ShapeError(message, layer=op.name, op=op.op_type, hint=hint, reason=reason)


def _spatial_input(op: O.Op, shape: Shape) -> Shape:
    """Check rank = spatial_rank + 1 (channels_last) and return the shape."""
    rank = op.rank()
    if len(shape) != rank + 1:
        raise _error(op, f"expects a rank-{rank + 2} input (batch, "
                     + ", ".join(AXIS_WORDS[rank]) + f", channels), received shape "
                     f"{_fmt(shape)} of rank {len(shape) + 1}")
    return shape


def _fmt(shape: Shape) -> str:
    return "(None, " + ", ".join(str(d) for d in shape) + ")"


def _check_length(op: O.Op, axis: int, out: Value, n: Value, need: int,
                  padding: AxisPadding, what: str) -> Value:
    return _check_length_of_rank(op, op.rank(), axis, out, n, need, what, padding)


def _check_length_of_rank(op: O.Op, rank: int, axis: int, out: Value, n: Value, need: int,
                          what: str, padding: AxisPadding) -> Value:
    if arith.is_positive(out) is False:
        words, units = AXIS_WORDS[rank], UNIT_WORDS[rank]
        where = (f"under padding {padding!r}" if isinstance(padding, str)
                 else f"with {describe_padding(padding)}")
        raise _error(op, f"output {words[axis]} would be {out}; {what} needs an input of at least "
                     f"{need} {units[axis]} {where}, received {n}",
                     hint="padding: same" if padding == "valid" else None,
                     reason="empty_output")
    return out


def _needed(k_eff: int, padding: AxisPadding) -> int:
    """The shortest input a window of span k_eff fits: k_eff less any explicit padding."""
    return max(k_eff - padding[0] - padding[1], 1) if isinstance(padding, tuple) else k_eff


def conv_like_shape(op: O.Windowed, shape: Shape, channels: Value) -> Shape:
    _spatial_input(op, shape)
    out = []
    for axis, (n, k, s, d, pad) in enumerate(zip(shape[:-1], op.kernel_size, op.strides,
                                                 op.dilation_rate,
                                                 axis_paddings(op.padding, op.rank()))):
        length = conv_output_length(n, k, s, d, pad)
        k_eff = effective_kernel(k, d)
        out.append(_check_length(op, axis, length, n, _needed(k_eff, pad), pad,
                                 f"kernel {k} with dilation {d}"))
    return (*out, channels)


def conv_shape(op: O.Conv, shapes: list[Shape]) -> Shape:
    shape = _spatial_input(op, shapes[0])
    cin = shape[-1]
    if arith.is_concrete(cin) and int(cin) % op.groups:
        raise _error(op, f"input channels {cin} must be divisible by groups {op.groups}")
    return conv_like_shape(op, shape, op.filters)


def depthwise_shape(op: O.Depthwise, shapes: list[Shape]) -> Shape:
    shape = _spatial_input(op, shapes[0])
    return conv_like_shape(op, shape, shape[-1] * op.depth_multiplier)


def separable_shape(op: O.Separable, shapes: list[Shape]) -> Shape:
    return conv_like_shape(op, shapes[0], op.filters)


def transpose_shape(op: O.ConvTranspose, shapes: list[Shape]) -> Shape:
    shape = _spatial_input(op, shapes[0])
    pads = op.output_padding or (None,) * op.rank()
    out = []
    for axis, (n, k, s, d, p, padding) in enumerate(zip(
            shape[:-1], op.kernel_size, op.strides, op.dilation_rate, pads,
            axis_paddings(op.padding, op.rank()))):
        length = transpose_output_length(n, k, s, d, padding, p)
        if isinstance(padding, tuple) and arith.is_positive(length) is False:
            words = AXIS_WORDS[op.rank()]
            raise _error(op, f"output {words[axis]} would be {length}: {describe_padding(padding)}"
                         f" crop all of the {arith.simplify_int(length + sum(padding))} "
                         f"positions the kernel {k} at stride {s} scatters an input of {n} into",
                         reason="empty_output")
        out.append(length)
    return (*out, op.filters)


def pooling_shape(op: O.Pooling, shapes: list[Shape]) -> Shape:
    shape = _spatial_input(op, shapes[0])
    out = []
    for axis, (n, k, s, pad) in enumerate(zip(shape[:-1], op.pool_size, op.strides,
                                              axis_paddings(op.padding, op.rank()))):
        length = pool_output_length(n, k, s, pad, op.ceil_mode)
        out.append(_check_length(op, axis, length, n, _needed(k, pad), pad, f"pool size {k}"))
    return (*out, shape[-1])


def global_pooling_shape(op: O.GlobalPooling, shapes: list[Shape]) -> Shape:
    shape = _spatial_input(op, shapes[0])
    return (*([1] * op.rank()), shape[-1]) if op.keepdims else (shape[-1],)


def input_shape(op: O.InputLayer, shapes: list[Shape]) -> Shape:
    """An input has no input to infer from: infer_shapes takes its shape as given."""
    raise TypeError(f"the shape of input {op.name!r} is given, not inferred")


def same_shape(op: O.Op, shapes: list[Shape]) -> Shape:
    if op.spatial_rank is not None:
        _spatial_input(op, shapes[0])
    return shapes[0]


def custom_shape(op: O.Custom, shapes: list[Shape]) -> Shape:
    """As declared: the first input's shape; with a declared geometry, per spatial axis the
    length of a convolution window (kernel 1 where none is declared: valid and same both give
    ceil(n / s)), channels `filters` (the input's where not declared)."""
    if not op.changes_shape:
        return shapes[0]
    shape = shapes[0]
    rank = len(shape) - 1
    if rank == 0 and op.window_declared is False:  # channels only, on a vector
        return (op.filters,)
    if not 1 <= rank <= 3:
        raise _error(op, "a declared kernel_size, strides, dilation_rate or filters needs an "
                     "input with 1 to 3 spatial axes (batch, ..., channels), received shape "
                     f"{_fmt(shape)}")
    kernel, strides, dilation = op.geometry(rank)
    out = []
    for axis, (n, k, s, d) in enumerate(zip(shape[:-1], kernel, strides, dilation)):
        length = conv_output_length(n, k, s, d, op.padding)
        out.append(_check_length_of_rank(op, rank, axis, length, n, effective_kernel(k, d),
                                         f"the declared kernel {k} with dilation {d}",
                                         op.padding))
    return (*out, shape[-1] if op.filters is None else op.filters)


def axis_checked_same_shape(op: O.BatchNormalization | O.LayerNormalization | O.Softmax,
                            shapes: list[Shape]) -> Shape:
    _normalize_axis(op, op.axis, len(shapes[0]))
    return shapes[0]


def rms_normalization_shape(op: O.RMSNormalization, shapes: list[Shape]) -> Shape:
    """Same shape. Keras 3.15 multiplies by its scale (one per feature of `axis`) broadcast
    against the last axis, whatever `axis` is (measured: axis 1 of a (6, 1) input runs to
    (6, 6) while its symbolic shape says (6, 1)); so off the last axis, the size of `axis`
    must be 1 or that of the last axis, where the broadcast keeps the shape."""
    shape = shapes[0]
    index = _normalize_axis(op, op.axis, len(shape))
    size, last = shape[index], shape[-1]
    if index != len(shape) - 1 and not (size == 1 or size == last):
        raise _error(op, f"axis {op.axis} has {size} features but the last axis {last}: "
                     "Keras's RMSNormalization broadcasts its scale against the last axis, so "
                     f"its output would not keep the input's shape {_fmt(shape)}",
                     hint="axis: -1 (normalize the last axis)")
    return shape


def group_normalization_shape(op: O.GroupNormalization, shapes: list[Shape]) -> Shape:
    """Same shape; Keras's build: the size C of `axis` must be known, at least `groups` and a
    multiple of it (groups -1: C groups of one)."""
    index = _normalize_axis(op, op.axis, len(shapes[0]))
    size = shapes[0][index]
    if not arith.is_concrete(size):
        raise NeedsKnownSize(f"axis {op.axis} of the input {_fmt(shapes[0])} must have a "
                             f"known size, received {size}", value=size, layer=op.name,
                             op=op.op_type)
    groups = int(size) if op.groups == -1 else op.groups
    if int(size) < groups or int(size) % groups:
        raise _error(op, f"groups {groups} must divide the {size} channels of axis "
                     f"{op.axis} (and be at most {size})",
                     hint=f"groups: {_divisor_hint(int(size), groups)}")
    return shapes[0]


def _divisor_hint(size: int, groups: int) -> int:
    """The divisor of `size` closest to `groups`."""
    return min((d for d in range(1, size + 1) if size % d == 0), key=lambda d: abs(d - groups))


def augmentation_shape(op: O.Augmentation, shapes: list[Shape]) -> Shape:
    """The identity at inference, on a batch of images; some take RGB (or grayscale) only."""
    shape = _spatial_input(op, shapes[0])
    channels, accepted = shape[-1], op.accepted_channels()
    if accepted is not None and arith.is_concrete(channels) and int(channels) not in accepted:
        wanted = " or ".join(str(c) for c in accepted)
        raise _error(op, f"expects images of {wanted} channels, received {channels}; Keras "
                     "fails on other channel counts (when training, or when it builds the layer)")
    return shape


def prelu_shape(op: O.PReLU, shapes: list[Shape]) -> Shape:
    """Same shape; Keras sets alpha's shape[axis - 1] to 1 for each shared axis (Python
    indexing, so 0 and negative axes count from the end), an IndexError beyond the rank."""
    rank = len(shapes[0])
    for axis in op.shared_axes or ():
        if not -rank <= axis - 1 < rank:
            raise _error(op, f"shared axis {axis} is out of range for an input of rank "
                         f"{rank + 1}; Keras counts 1 as the first axis after the batch")
    return shapes[0]


def normalization_shape(op: O.Normalization, shapes: list[Shape]) -> Shape:
    """Same shape; given mean/variance lists broadcast against the axis: length 1 or its size."""
    index = _normalize_axis(op, op.axis, len(shapes[0]))
    size = shapes[0][index]
    if isinstance(op.mean, tuple) and len(op.mean) != 1 and arith.equal(size, len(op.mean)) is False:
        raise _error(op, f"'mean' and 'variance' hold {len(op.mean)} values, but axis {op.axis} "
                     f"of the input {_fmt(shapes[0])} has {size}; give one value per feature "
                     "or a single one")
    return shapes[0]


def _normalize_axis(op: O.Op, axis: int, rank: int) -> int:
    """Keras axes count the batch axis as 0; ours do not. Returns an index into our shape."""
    index = axis - 1 if axis > 0 else rank + axis
    if index == -1:
        raise _error(op, f"axis {axis} is the batch axis of an input of rank {rank + 1}; "
                     "convplan plans layers that work within one example",
                     hint="count axes from -1 (channels) or from 1")
    if not 0 <= index < rank:
        raise _error(op, f"axis {axis} is out of range for an input of rank {rank + 1}")
    return index


def dense_shape(op: O.Dense, shapes: list[Shape]) -> Shape:
    return (*shapes[0][:-1], op.units)


def flatten_shape(op: O.Flatten, shapes: list[Shape]) -> Shape:
    return (arith.product(shapes[0]),)


def reshape_shape(op: O.Reshape, shapes: list[Shape]) -> Shape:
    size = arith.product(shapes[0])
    known = arith.product(d for d in op.target_shape if d != -1)
    if -1 in op.target_shape:
        missing = arith.simplify_int(size / known) if not isinstance(size, int) else None
        if isinstance(size, int):
            if size % known:
                raise _error(op, f"cannot reshape {size} values into target_shape "
                             f"{list(op.target_shape)}: {size} is not divisible by {known}")
            missing = size // known
        return tuple(missing if d == -1 else d for d in op.target_shape)
    if arith.equal(size, known) is False:
        raise _error(op, f"cannot reshape an input of {size} values (shape {_fmt(shapes[0])}) "
                     f"into target_shape {list(op.target_shape)} of {known} values")
    return op.target_shape


def broadcast_shape(op: O.Merge, shapes: list[Shape], conditions: list[ShapeCondition],
                    skip_axis: int | None = None) -> Shape:
    """Keras merges broadcast like numpy: shapes align on the right (a lower-rank input gets
    leading axes of 1, as Keras's expand_dims at axis 1 does), and per axis the sizes are
    equal or one of them is 1."""
    rank = max(len(s) for s in shapes)
    aligned = [(1,) * (rank - len(s)) + tuple(s) for s in shapes]
    out = list(aligned[0])
    for other in aligned[1:]:
        for axis, (a, b) in enumerate(zip(out, other)):
            if axis == skip_axis:
                continue
            same = arith.equal(a, b)
            if same:
                continue
            if a == 1:
                out[axis] = b
            elif b == 1:
                continue
            elif same is None or not (arith.is_concrete(a) and arith.is_concrete(b)):
                # Even L - 1 and L, unequal for every L, broadcast where one of them is 1.
                conditions.append(ShapeCondition(op.name, axis, a, b))
                # valid where a == b, a == 1 or b == 1 (broadcast): the output is the larger
                out[axis] = arith.maximum(a, b)
            else:
                what = "shapes" if skip_axis is None else "shapes outside the concatenation axis"
                raise _error(op, f"input {what} must match, received "
                             + " and ".join(_fmt(s) for s in shapes))
    return tuple(out)


def concatenate_shape(op: O.Concatenate, shapes: list[Shape],
                      conditions: list[ShapeCondition]) -> Shape:
    rank = len(shapes[0])
    axis = _normalize_axis(op, op.axis, rank)
    for other in shapes[1:]:
        if len(other) != rank:
            raise _error(op, "inputs must have the same rank, received shapes "
                         + " and ".join(_fmt(s) for s in shapes))
    out = list(shapes[0])
    for other in shapes[1:]:
        for i, (a, b) in enumerate(zip(out, other)):
            if i == axis:
                continue
            same = arith.equal(a, b)
            if same is None:
                conditions.append(ShapeCondition(op.name, i, a, b))
            elif not same:
                raise _error(op, "input shapes must match except on the concatenation axis "
                             f"{op.axis}, received " + " and ".join(_fmt(s) for s in shapes))
    out[axis] = arith.total(s[axis] for s in shapes)
    return tuple(out)


def upsampling_shape(op: O.UpSampling, shapes: list[Shape]) -> Shape:
    shape = _spatial_input(op, shapes[0])
    return (*(n * f for n, f in zip(shape[:-1], op.size)), shape[-1])


def zero_padding_shape(op: O.ZeroPadding, shapes: list[Shape]) -> Shape:
    shape = _spatial_input(op, shapes[0])
    return (*(n + a + b for n, (a, b) in zip(shape[:-1], op.padding)), shape[-1])


def cropping_shape(op: O.Cropping, shapes: list[Shape]) -> Shape:
    shape = _spatial_input(op, shapes[0])
    out = []
    for axis, (n, (a, b)) in enumerate(zip(shape[:-1], op.cropping)):
        length = n - a - b
        if arith.is_positive(length) is False:
            raise _error(op, f"cropping {a} + {b} {UNIT_WORDS[op.rank()][axis]} leaves "
                         f"{length} of an input {AXIS_WORDS[op.rank()][axis]} of {n}",
                         reason="empty_output")
        out.append(length)
    return (*out, shape[-1])


# ---------------------------------------------------------------- shape-changing, keras.ops


def resize_shape(op: O.Resizing | O.CenterCrop, shapes: list[Shape]) -> Shape:
    """(height, width, channels) whatever the input's size: Resizing resamples, CenterCrop
    crops (or resizes an input smaller than the target)."""
    shape = _spatial_input(op, shapes[0])
    return (op.height, op.width, shape[-1])


def random_crop_shape(op: O.RandomCrop, shapes: list[Shape]) -> Shape:
    """The input's shape, which must be the target's: Keras 3.15's RandomCrop gives
    (height, width) symbolically and in training, but returns its input unchanged at
    inference, so for any other input size the layers after it are built for a shape that
    inference never produces."""
    shape = _spatial_input(op, shapes[0])
    if not all(arith.equal(n, t) for n, t in zip(shape[:2], (op.height, op.width))):
        raise UnsupportedError(
            f"RandomCrop to {op.height}x{op.width} on an input of {shape[0]}x{shape[1]}: Keras "
            "3.15 crops (or resizes) only in training and passes the input through unchanged "
            "at inference, while the layers after it are built for the cropped shape; "
            "convplan cannot give it one output shape", layer=op.name, op=op.op_type,
            hint="crop with CenterCrop (or Cropping2D) in the model, and randomly in the data "
            "pipeline")
    return shape


def adaptive_pooling_shape(op: O.AdaptivePooling, shapes: list[Shape]) -> Shape:
    """(*output_size, channels)."""
    shape = _spatial_input(op, shapes[0])
    return (*op.output_size, shape[-1])


def permute_shape(op: O.Permute, shapes: list[Shape]) -> Shape:
    """Output axis i has the length of input axis dims[i] (counted from 1)."""
    shape = shapes[0]
    if len(op.dims) != len(shape):
        raise _error(op, f"dims {list(op.dims)} permute {len(op.dims)} axes, but the input "
                     f"{_fmt(shape)} has {len(shape)} besides the batch")
    return tuple(shape[d - 1] for d in op.dims)


def repeat_vector_shape(op: O.RepeatVector, shapes: list[Shape]) -> Shape:
    """(features,) -> (n, features)."""
    if len(shapes[0]) != 1:
        raise _error(op, f"expects a rank-2 input (batch, features), received shape "
                     f"{_fmt(shapes[0])}")
    return (op.n, shapes[0][0])


def embedding_shape(op: O.Embedding, shapes: list[Shape]) -> Shape:
    """The input's shape + (output_dim,): one vector per index."""
    return (*shapes[0], op.output_dim)


def _keras_axis(op: O.Op, axis: int, rank: int) -> int:
    """A keras.ops axis (0 is the batch) of an input of `rank` non-batch axes, as an index
    into convplan's shape."""
    index = axis - 1 if axis > 0 else rank + axis
    if index == -1:
        raise _batch_axis(op, axis, rank + 1)
    if not 0 <= index < rank:
        raise _error(op, f"axis {axis} is out of range for an input of rank {rank + 1}")
    return index


def _batch_axis(op: O.Op, axis: int, rank: int) -> UnsupportedError:
    return UnsupportedError(f"axis {axis} is the batch axis of a tensor of rank {rank}; "
                            "convplan plans layers that work within one example",
                            layer=op.name, op=op.op_type,
                            hint="count axes from 1 (the first axis after the batch) or from -1")


def dot_axes(op: O.Dot, shapes: list[Shape]) -> tuple[int, int]:
    """Keras Dot's axes as indices into convplan's shapes (the batch left out): an int a < 0
    is a % rank of each input (Keras's rank, with the batch), a pair is used as Python indexes
    it."""
    ranks = [len(s) + 1 for s in shapes]
    if isinstance(op.axes, int):
        axes = [op.axes % r if op.axes < 0 else op.axes for r in ranks]
    else:
        axes = [a % r if -r <= a < 0 else a for a, r in zip(op.axes, ranks)]
    for axis, rank in zip(axes, ranks):
        if axis == 0:
            raise _batch_axis(op, axis, rank)
        if not 0 < axis < rank:
            raise _error(op, f"axes {op.axes} are out of range for inputs of rank "
                         f"{ranks[0]} and {ranks[1]}")
    return axes[0] - 1, axes[1] - 1


def dot_shape(op: O.Dot, shapes: list[Shape]) -> Shape:
    """The first input's axes without the contracted one, then the second's; (1,) where
    none is left (Keras's Dot.compute_output_shape). The contracted lengths must match."""
    a, b = dot_axes(op, shapes)
    left, right = shapes
    if arith.equal(left[a], right[b]) is False:
        raise _error(op, f"the contracted axes differ: {left[a]} (axis {a + 1} of "
                     f"{_fmt(left)}) and {right[b]} (axis {b + 1} of {_fmt(right)})")
    out = (*left[:a], *left[a + 1:], *right[:b], *right[b + 1:])
    return out or (1,)


@dataclass(frozen=True)
class EinsumShapes:
    kernel: tuple[Value, ...]
    bias: tuple[Value, ...] | None
    output: Shape  # batch excluded
    letters: dict[str, Value]  # every letter's length (the batch's left out)
    elided: tuple[Value, ...]  # the lengths `...` stands for (the batch's left out)


def einsum_dense_shapes(op: O.EinsumDense, shape: Shape) -> EinsumShapes:
    """Keras's _analyze_split_string (keras/src/layers/core/einsum_dense.py) on the input
    shape with the batch: the output is output_shape after the batch, with the elided axes
    before it (`...` on the left) or after it (on the right); the kernel takes each letter's
    length from the output, else the input; a bias the lengths of `bias_axes` from the first
    of them in the output on (1 elsewhere). Where output_shape says None, the input's length
    of that letter (what the layer computes; Keras's symbolic shape keeps None there)."""
    import re

    text = op.equation.replace("...", "0")
    left = text.startswith("0")
    ins, weights, outs = re.split(r",|->", text.replace("0", ""))
    full = (None, *shape)
    elided = len(full) - len(ins)
    if elided < 0 or (elided == 0 and "0" in text and not left) or (elided > 0 and "0" not in
                                                                       text):
        raise _error(op, f"equation {op.equation!r} needs an input of rank "
                     f"{len(ins) + (1 if '0' in text else 0)} or more, received shape "
                     f"{_fmt(shape)}" if elided < 0 or "0" in text else
                     f"equation {op.equation!r} needs an input of rank {len(ins)}, received "
                     f"shape {_fmt(shape)}")
    # the elided axes in their order, as the layer computes them (Keras's symbolic shape
    # lists two or more of them on the left reversed)
    out = [full[0], *op.output_shape]
    if elided > 0 and left:
        out[1:1] = full[1:elided]
    elif elided > 0:
        out.extend(full[len(full) - elided:])
    in_index = ({d: i + elided for i, d in enumerate(ins)} if left
                else {d: i for i, d in enumerate(ins)})
    out_index = ({d: i + elided for i, d in enumerate(outs)} if left
                 else {d: i for i, d in enumerate(outs)})
    if len(out) != (len(outs) + elided if "0" in text else len(outs)):
        raise _error(op, f"output_shape {list(op.output_shape)} does not fit the output "
                     f"{outs!r} of equation {op.equation!r}: give one length per output "
                     "letter, the batch's and those `...` stands for left out")
    given_out = list(out)  # Keras builds the kernel and bias from these, None and all
    for d in ins:
        if d in out_index:
            given, length = out[out_index[d]], full[in_index[d]]
            if given is None:
                out[out_index[d]] = length  # the runtime's length
            elif arith.equal(given, length) is False:
                raise _error(op, f"output_shape gives {given} for {d!r}, the input {length}")
    for d in outs:
        if d not in ins and d not in weights:
            raise _error(op, f"output letter {d!r} is in neither the input nor the kernel")
    kernel = []
    for d in weights:
        if d in out_index:
            kernel.append(given_out[out_index[d]])
        elif d in in_index:
            kernel.append(full[in_index[d]])
        else:
            raise _error(op, f"kernel letter {d!r} is in neither the input nor the output")
    if any(k is None for k in kernel):
        raise _error(op, "output_shape must give the length of every output letter of the "
                     f"kernel, received {list(op.output_shape)}")
    bias = None
    if op.bias_axes is not None:
        missing = [c for c in op.bias_axes if c not in outs]
        if missing:
            raise _error(op, f"bias axis {missing[0]!r} is not a letter of the output {outs!r}")
        at = {c: given_out[i + (elided if left else 0)] for i, c in enumerate(outs)}
        first = min(outs.find(c) for c in op.bias_axes)
        bias = [at[c] if c in op.bias_axes else 1 for c in outs[first:]]
        if not left:
            bias += [1] * elided
        if any(b is None for b in bias):
            raise _error(op, "output_shape must give the length of every bias axis "
                         f"({op.bias_axes!r}), received {list(op.output_shape)}")
    letters = {d: full[i] for d, i in in_index.items() if i != 0}
    letters.update({d: out[i] for d, i in out_index.items() if i != 0})
    letters.update({d: k for d, k in zip(weights, kernel)})
    batch_letter = next((d for d, i in in_index.items() if i == 0), None)
    letters.pop(batch_letter, None)
    span = range(1, elided) if left else range(len(full) - elided, len(full))
    return EinsumShapes(tuple(kernel), None if bias is None else tuple(bias), tuple(out[1:]),
                        letters, tuple(full[i] for i in span if i != 0))


def einsum_dense_shape(op: O.EinsumDense, shapes: list[Shape]) -> Shape:
    """See einsum_dense_shapes."""
    return einsum_dense_shapes(op, shapes[0]).output


def pad_shape(op: O.Pad, shapes: list[Shape]) -> Shape:
    """Axis i grows by before + after. TensorFlow's 'reflect' needs pads below the length,
    'symmetric' pads up to it."""
    shape = shapes[0]
    if len(op.pad_width) != len(shape) + 1:
        raise _error(op, f"pad_width has {len(op.pad_width)} rows, the input {_fmt(shape)} "
                     f"{len(shape) + 1} axes; give one [before, after] pair per axis, the "
                     "batch axis first")
    out = []
    for n, (a, b) in zip(shape, op.pad_width[1:]):
        limit = {"reflect": 1, "symmetric": 0}.get(op.mode)
        if limit is not None and arith.is_positive(n - limit - max(a, b) + 1) is False:
            raise _error(op, f"mode {op.mode!r} pads at most {n} - {limit} values on each side "
                         f"of an axis of {n}, received {max(a, b)}")
        out.append(n + a + b)
    return tuple(out)


def split_lengths(op: O.Split, n: Value) -> list[Value]:
    """The length of each part of an axis of length n."""
    if isinstance(op.indices_or_sections, int):
        k = op.indices_or_sections
        if arith.is_concrete(n) and int(n) % k:
            raise _error(op, f"the axis of length {n} does not split into {k} equal parts")
        return [arith.simplify_int(n / k) if not arith.is_concrete(n) else int(n) // k] * k
    cuts = [0, *op.indices_or_sections, n]
    return [arith.simplify_int(b - a) for a, b in zip(cuts, cuts[1:])]


def split_shape(op: O.Split, shapes: list[Shape]) -> Shape:
    """Part `index` of the split: n / sections, or the span between two split indices."""
    shape = shapes[0]
    axis = _keras_axis(op, op.axis, len(shape))
    lengths = split_lengths(op, shape[axis])
    if any(arith.is_positive(n + 1) is False for n in lengths):
        raise _error(op, f"split indices {list(op.indices_or_sections)} must ascend and lie "
                     f"within the axis of length {shape[axis]}")
    length = lengths[op.index]
    if arith.is_positive(length) is False:
        raise _error(op, f"part {op.index} of the split of an axis of {shape[axis]} at "
                     f"{list(op.indices_or_sections)} would hold {length} values",
                     reason="empty_output")
    return (*shape[:axis], length, *shape[axis + 1:])


def reduced_axes(op: O.Reduction | O.Squeeze, rank: int) -> set[int]:
    """The axes as indices into convplan's shape. An axis named twice ([1, -2] of a rank-3
    tensor) is refused: Keras's reductions refuse it, and its squeeze's symbolic shape drops
    the axis twice while the run drops it once."""
    indices = {_keras_axis(op, a, rank) for a in op.axis}
    if len(indices) != len(op.axis):
        raise _error(op, f"axis {list(op.axis)} names an axis twice")
    return indices


def reduction_shape(op: O.Reduction, shapes: list[Shape]) -> Shape:
    """The reduced axes dropped, or kept as 1 with keepdims."""
    shape = shapes[0]
    axes = reduced_axes(op, len(shape))
    if op.keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def expand_dims_shape(op: O.ExpandDims, shapes: list[Shape]) -> Shape:
    """A 1 inserted at `axis` of the output (numpy's expand_dims; the batch counts)."""
    shape = shapes[0]
    rank = len(shape)
    index = op.axis - 1 if op.axis > 0 else rank + 1 + op.axis
    if index == -1:
        raise _batch_axis(op, op.axis, rank + 2)
    if not 0 <= index <= rank:
        raise _error(op, f"axis {op.axis} is out of range for an output of rank {rank + 2}")
    return (*shape[:index], 1, *shape[index:])


def squeeze_shape(op: O.Squeeze, shapes: list[Shape]) -> Shape:
    """The axes in `axis` removed; each must have length 1."""
    shape = shapes[0]
    axes = reduced_axes(op, len(shape))
    for i in sorted(axes):
        if arith.equal(shape[i], 1) is not True:
            raise _error(op, f"cannot squeeze axis {i + 1} of length {shape[i]} (input "
                         f"{_fmt(shape)}); only axes of length 1 can be squeezed")
    return tuple(n for i, n in enumerate(shape) if i not in axes)


# A rule's op is Any: a dict cannot tie each rule's op class to its key (conv_shape takes an
# O.Conv), and rule_for's lookup by class is what guarantees it.
ShapeRule = Callable[[Any, list[Shape]], Shape]


@dataclass(frozen=True)
class MergeShapeRule:
    """A merge's shape rule, which also records the size conditions its inputs need."""

    infer: Callable[[Any, list[Shape], list[ShapeCondition]], Shape]


SHAPE_RULES: dict[type, ShapeRule | MergeShapeRule] = {
    O.InputLayer: input_shape,
    O.Conv: conv_shape,
    O.ConvTranspose: transpose_shape,
    O.Separable: separable_shape,
    O.Depthwise: depthwise_shape,
    O.Pooling: pooling_shape,
    O.GlobalPooling: global_pooling_shape,
    O.BatchNormalization: axis_checked_same_shape,
    O.LayerNormalization: axis_checked_same_shape,
    O.Softmax: axis_checked_same_shape,
    O.Normalization: normalization_shape,
    O.Activation: same_shape,
    O.ReLU: same_shape,
    O.LeakyReLU: same_shape,
    O.Dropout: same_shape,
    O.Rescaling: same_shape,
    O.GroupNormalization: group_normalization_shape,
    O.UnitNormalization: axis_checked_same_shape,
    O.RMSNormalization: rms_normalization_shape,
    O.ELU: same_shape,
    O.PReLU: prelu_shape,
    O.GaussianNoise: same_shape,  # the identity at inference, as Dropout
    O.ActivityRegularization: same_shape,
    O.Augmentation: augmentation_shape,  # RandomFlip, ...: the identity at inference
    O.Custom: custom_shape,
    O.Dense: dense_shape,
    O.Merge: MergeShapeRule(broadcast_shape),  # Add, Subtract, Multiply, Average, Maximum, Minimum
    O.Concatenate: MergeShapeRule(concatenate_shape),
    O.Flatten: flatten_shape,
    O.Reshape: reshape_shape,
    O.UpSampling: upsampling_shape,
    O.ZeroPadding: zero_padding_shape,
    O.Cropping: cropping_shape,
    O.Resizing: resize_shape,
    O.CenterCrop: resize_shape,
    O.RandomCrop: random_crop_shape,
    O.AdaptivePooling: adaptive_pooling_shape,
    O.Permute: permute_shape,
    O.RepeatVector: repeat_vector_shape,
    O.Embedding: embedding_shape,
    O.Masking: same_shape,
    O.Pad: pad_shape,
    O.Split: split_shape,
    O.Reduction: reduction_shape,
    O.ExpandDims: expand_dims_shape,
    O.Squeeze: squeeze_shape,
    O.Dot: dot_shape,  # before Merge's broadcast rule: rule_for takes the most specific class
    O.EinsumDense: einsum_dense_shape,
}


def output_shape(op: O.Op, shapes: list[Shape], conditions: list[ShapeCondition]) -> Shape:
    """The op's output shape; a merge records the size conditions its inputs need."""
    rule = rule_for(SHAPE_RULES, op, "infer_shapes")
    if isinstance(rule, MergeShapeRule):
        return rule.infer(op, shapes, conditions)
    return rule(op, shapes)


def infer_shapes(graph: Graph, order: list[str], input_shapes: dict[str, Shape]
                 ) -> tuple[dict[str, Shape], list[ShapeCondition]]:
    """Output shape of every layer (batch excluded), and the size conditions merges need."""
    shapes: dict[str, Shape] = {}
    conditions: list[ShapeCondition] = []
    for name in order:
        node = graph[name]
        if isinstance(node.op, O.InputLayer):
            shapes[name] = input_shapes[name]
            continue
        shapes[name] = output_shape(node.op, [shapes[i] for i in node.inputs], conditions)
    return shapes, conditions
