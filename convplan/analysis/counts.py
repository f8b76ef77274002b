"""Parameter, MAC and FLOP rules: op class -> function (op, input shapes, output shape) -> Counts.

Conventions (docs/counting.md, printed in every report):
- MACs: multiply-accumulates of convolutions (every kind) and Dense, bias excluded.
- FLOPs: 2 x MACs plus every other arithmetic operation, each op's count stated in its rule.
- Params as Keras counts them: trainable, and non-trainable (BatchNormalization moving
  statistics, Normalization's adapted statistics).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from convplan.analysis import arith
from convplan.analysis.arith import Value, product
from convplan.analysis.shapes import Shape
from convplan.errors import ShapeError
from convplan.ir import ops as O
from convplan.ir.rules import rule_for

# Activation name -> FLOPs per output element (docs/counting.md); the names are the ones the IR
# accepts (convplan.ir.attrs.ACTIVATIONS, equal key for key: tests/analysis/test_rule_tables.py).
ACTIVATION_FLOPS: dict[str, int] = {
    "linear": 0,
    "relu": 1,
    "relu6": 2,
    "leaky_relu": 2,
    "elu": 3,
    "selu": 4,
    "gelu": 8,
    "silu": 5,
    "swish": 5,
    "sigmoid": 4,
    "hard_sigmoid": 3,
    "hard_silu": 4,
    "hard_swish": 4,
    "tanh": 5,
    "softplus": 3,
    "softsign": 3,
    "exponential": 1,
    "mish": 8,
    "softmax": 3,
    "log_softmax": 4,
    "celu": 4,
    "hard_shrink": 2,
    "hard_tanh": 2,
    "log_sigmoid": 4,
    "soft_shrink": 3,
    "sparse_plus": 4,
    "sparse_sigmoid": 3,
    "sparsemax": 5,
    "squareplus": 5,
    "tanh_shrink": 6,
}


@dataclass(frozen=True)
class Counts:
    trainable: Value = 0
    non_trainable: Value = 0
    macs: Value = 0
    flops: Value = 0


# rule(op, input shapes, output shape). The op is Any: a dict cannot tie each rule's op class
# to its key (conv_counts takes an O.Conv); rule_for's lookup by class guarantees it.
CountRule = Callable[[Any, list[Shape], Shape], Counts]


def _activation_flops(op: O.Op, out: Shape) -> Value:
    act = getattr(op, "activation", None)
    return ACTIVATION_FLOPS[act] * product(out) if act else 0


def _bias(op: O.Windowed | O.Dense, channels: Value, out: Shape) -> tuple[Value, Value]:
    """Bias params (one per output channel) and its FLOPs (one add per output element)."""
    return (channels, product(out)) if op.use_bias else (0, 0)


def conv_counts(op: O.Conv, ins: list[Shape], out: Shape) -> Counts:
    """params = prod(kernel) * cin / groups * filters (+ filters);
    MACs = output positions * prod(kernel) * cin / groups * filters."""
    per_position = product(op.kernel_size) * (ins[0][-1] // op.groups if isinstance(ins[0][-1], int)
                                               else ins[0][-1] / op.groups)
    weights = per_position * op.filters
    macs = product(out[:-1]) * weights
    bias, bias_flops = _bias(op, op.filters, out)
    return Counts(weights + bias, 0, macs, 2 * macs + bias_flops + _activation_flops(op, out))


def transpose_counts(op: O.ConvTranspose, ins: list[Shape], out: Shape) -> Counts:
    """params = prod(kernel) * cin * filters (+ filters);
    MACs = input positions * prod(kernel) * cin * filters (every input scatters a kernel)."""
    weights = product(op.kernel_size) * ins[0][-1] * op.filters
    macs = product(ins[0][:-1]) * weights
    bias, bias_flops = _bias(op, op.filters, out)
    return Counts(weights + bias, 0, macs, 2 * macs + bias_flops + _activation_flops(op, out))


def depthwise_counts(op: O.Depthwise, ins: list[Shape], out: Shape) -> Counts:
    """params = prod(kernel) * cin * depth_multiplier (+ cin * depth_multiplier);
    MACs = output positions * prod(kernel) * cin * depth_multiplier."""
    weights = product(op.kernel_size) * ins[0][-1] * op.depth_multiplier
    macs = product(out[:-1]) * weights
    bias, bias_flops = _bias(op, out[-1], out)
    return Counts(weights + bias, 0, macs, 2 * macs + bias_flops + _activation_flops(op, out))


def separable_counts(op: O.Separable, ins: list[Shape], out: Shape) -> Counts:
    """depthwise prod(kernel) * cin * dm, then pointwise cin * dm * filters (+ filters);
    MACs = output positions * (prod(kernel) * cin * dm + cin * dm * filters)."""
    mid = ins[0][-1] * op.depth_multiplier
    weights = product(op.kernel_size) * mid + mid * op.filters
    macs = product(out[:-1]) * weights
    bias, bias_flops = _bias(op, op.filters, out)
    return Counts(weights + bias, 0, macs, 2 * macs + bias_flops + _activation_flops(op, out))


def dense_counts(op: O.Dense, ins: list[Shape], out: Shape) -> Counts:
    """params = in_features * units (+ units); MACs = leading positions * in_features * units."""
    weights = ins[0][-1] * op.units
    macs = product(ins[0][:-1]) * weights
    bias, bias_flops = _bias(op, op.units, out)
    return Counts(weights + bias, 0, macs, 2 * macs + bias_flops + _activation_flops(op, out))


def pooling_counts(op: O.Pooling, ins: list[Shape], out: Shape) -> Counts:
    """Max: prod(pool) - 1 comparisons per output; Average: prod(pool) - 1 adds + 1 divide."""
    window = product(op.pool_size)
    per_output = window - 1 if isinstance(op, O.MaxPooling) else window
    return Counts(flops=per_output * product(out))


def global_pooling_counts(op: O.GlobalPooling, ins: list[Shape], out: Shape) -> Counts:
    """One comparison or add per input element (the average's divide is per channel)."""
    return Counts(flops=product(ins[0]))


def _axis_size(op: O.BatchNormalization | O.LayerNormalization | O.Normalization
               | O.GroupNormalization | O.RMSNormalization, shape: Shape) -> Value:
    axis = op.axis
    return shape[axis - 1] if axis > 0 else shape[axis]


def batch_norm_counts(op: O.BatchNormalization, ins: list[Shape], out: Shape) -> Counts:
    """gamma and beta trainable (C each, if scale/center); moving mean and variance non-trainable
    (C each). FLOPs at inference: subtract mean, divide by sqrt(var + eps), scale, shift: up to 4
    per element (2 without scale and center)."""
    c = _axis_size(op, ins[0])
    affine = int(op.center) + int(op.scale)
    return Counts(affine * c, 2 * c, 0, (2 + affine) * product(out))


def layer_norm_counts(op: O.LayerNormalization, ins: list[Shape], out: Shape) -> Counts:
    """gamma and beta over the normalized axis; FLOPs per element: mean (1), variance (3),
    normalize (2), scale and shift (1 each)."""
    c = _axis_size(op, ins[0])
    affine = int(op.center) + int(op.scale)
    return Counts(affine * c, 0, 0, (6 + affine) * product(out))


def group_norm_counts(op: O.GroupNormalization, ins: list[Shape], out: Shape) -> Counts:
    """gamma and beta per channel of `axis` (C each, if scale/center), trainable; FLOPs per
    element as LayerNormalization: mean (1), variance (3), normalize (2), scale and shift (1
    each): (6 + scale + center) per element."""
    c = _axis_size(op, ins[0])
    affine = int(op.center) + int(op.scale)
    return Counts(affine * c, 0, 0, (6 + affine) * product(out))


def rms_norm_counts(op: O.RMSNormalization, ins: list[Shape], out: Shape) -> Counts:
    """One trainable scale per feature of `axis` (C); FLOPs per element: square and sum (2),
    multiply by the reciprocal root (1), scale (1): 4 per element."""
    return Counts(_axis_size(op, ins[0]), 0, 0, 4 * product(out))


def prelu_counts(op: O.PReLU, ins: list[Shape], out: Shape) -> Counts:
    """alpha of the input's shape (batch excluded) with each shared axis set to 1, trainable:
    params = product of that shape; FLOPs as LeakyReLU: 2 per element."""
    shape = list(ins[0])
    for axis in op.shared_axes or ():
        shape[axis - 1] = 1  # Keras's own indexing (convplan.analysis.shapes.prelu_shape)
    return Counts(product(shape), 0, 0, 2 * product(out))


def normalization_counts(op: O.Normalization, ins: list[Shape], out: Shape) -> Counts:
    """Without given mean/variance Keras holds non-trainable mean and variance (C each) and a
    scalar count; FLOPs: subtract and divide, 2 per element."""
    stats = 0 if op.mean is not None else 2 * _axis_size(op, ins[0]) + 1
    return Counts(0, stats, 0, 2 * product(out))


def activation_counts(op: O.Activation, ins: list[Shape], out: Shape) -> Counts:
    """Per element: the activation's FLOPs (ACTIVATION_FLOPS)."""
    return Counts(flops=_activation_flops(op, out))


def per_element(flops_each: int) -> CountRule:
    def rule(op: O.Op, ins: list[Shape], out: Shape) -> Counts:
        return Counts(flops=flops_each * product(out))
    rule.__doc__ = f"{flops_each} FLOP(s) per output element."
    return rule


def merge_counts(op: O.Merge, ins: list[Shape], out: Shape) -> Counts:
    """Add, Subtract, Multiply, Maximum, Minimum: one op per output element for each input after
    the first; Average: the same plus one divide per element."""
    extra = 1 if isinstance(op, O.Average) else 0
    return Counts(flops=(len(ins) - 1 + extra) * product(out))


def no_arithmetic(op: O.Op, ins: list[Shape], out: Shape) -> Counts:
    """Moves or copies data only: 0 FLOPs (Dropout is the identity at inference)."""
    return Counts()


def relu_counts(op: O.ReLU, ins: list[Shape], out: Shape) -> Counts:
    """1 comparison per element, +1 with max_value (ReLU6), +1 with a negative slope."""
    each = 1 + int(op.max_value is not None) + int(op.negative_slope != 0)
    return Counts(flops=each * product(out))


# 4 multiplies and 3 adds per output element of a bilinear resampling (UpSampling bilinear,
# Resizing, CenterCrop's resize)
BILINEAR_FLOPS_PER_ELEMENT = 7


def upsampling_counts(op: O.UpSampling, ins: list[Shape], out: Shape) -> Counts:
    """nearest: copies only, 0 FLOPs; any other interpolation is counted as bilinear: four
    neighbours weighted and summed, 4 multiplies + 3 adds = 7 FLOPs per output element."""
    if getattr(op, "interpolation", "nearest") == "nearest":
        return Counts()
    return Counts(flops=BILINEAR_FLOPS_PER_ELEMENT * product(out))


def rescaling_counts(op: O.Rescaling, ins: list[Shape], out: Shape) -> Counts:
    """x * scale + offset: one multiply per element unless every scale is 1, one add unless
    every offset is 0 (so `x + 3.0` from keras.ops costs 1 FLOP per element, not 2)."""
    def all_equal(value: float | tuple[float, ...], constant: float) -> bool:
        return all(v == constant for v in (value if isinstance(value, tuple) else (value,)))

    each = int(not all_equal(op.scale, 1.0)) + int(not all_equal(op.offset, 0.0))
    return Counts(flops=each * product(out))


def custom_counts(op: O.Custom, ins: list[Shape], out: Shape) -> Counts:
    """As declared, with C_in the input's channels and C_out the output's: params = params(C_in,
    C_out) + params_per_channel * C_in (trainable); MACs = macs_per_position(C_in, C_out) *
    output positions; FLOPs = 2 * MACs + flops_per_element * output elements."""
    from convplan.ir.formula import evaluate

    c_in, c_out = ins[0][-1], out[-1]
    params = evaluate(op.params, c_in, c_out) + op.params_per_channel * c_in
    per_position = evaluate(op.macs_per_position, c_in, c_out)
    macs = per_position * product(out[:-1])
    for what, value in (("params", params), ("macs_per_position", per_position)):
        if getattr(value, "is_number", isinstance(value, int)) and value < 0:
            raise ShapeError(f"the declared {what} {getattr(op, what)} is {value} for "
                             f"C_in = {c_in}, C_out = {c_out}; a count is never negative",
                             layer=op.name, op=op.op_type)
    return Counts(trainable=params, macs=macs,
                  flops=2 * macs + op.flops_per_element * product(out))


def resize_counts(op: O.Resizing, ins: list[Shape], out: Shape) -> Counts:
    """As UpSampling: nearest copies (0 FLOPs); any other interpolation is counted as
    bilinear, 7 FLOPs per output element (4 multiplies + 3 adds)."""
    return Counts(flops=0 if op.interpolation == "nearest"
                  else BILINEAR_FLOPS_PER_ELEMENT * product(out))


def crop_counts(op: O.CenterCrop, ins: list[Shape], out: Shape) -> Counts:
    """A crop copies (0 FLOPs); where the input is smaller than the target on an axis Keras
    resizes bilinearly instead: 7 FLOPs per output element. Symbolic sizes: a crop, as
    Keras's dynamic shapes take that branch."""
    smaller = any(arith.is_concrete(n) and int(n) < t
                  for n, t in zip(ins[0][:2], (op.height, op.width)))
    return Counts(flops=BILINEAR_FLOPS_PER_ELEMENT * product(out) if smaller else 0)


def adaptive_bins(n: Value, o: int) -> list[Value]:
    """Bin lengths of an axis of n pooled into o bins: ceil((i + 1) n / o) - floor(i n / o)."""
    return [arith.simplify_int(arith.ceildiv((i + 1) * n, o) - arith.floordiv(i * n, o))
            for i in range(o)]


def adaptive_pooling_counts(op: O.AdaptivePooling, ins: list[Shape], out: Shape) -> Counts:
    """Per output, as pooling: average = bin volume (adds + 1 divide), max = bin volume - 1;
    summed over bins, sum of bin volumes = channels x prod over axes of sum of bin lengths."""
    reads = ins[0][-1] * product(arith.total(adaptive_bins(n, o))
                                 for n, o in zip(ins[0][:-1], op.output_size))
    average = "Average" in op.op_type
    return Counts(flops=arith.simplify_int(reads if average else reads - product(out)))


def embedding_counts(op: O.Embedding, ins: list[Shape], out: Shape) -> Counts:
    """params = input_dim * output_dim (the table); a lookup, 0 FLOPs."""
    return Counts(trainable=op.input_dim * op.output_dim)


def dot_counts(op: O.Dot, ins: list[Shape], out: Shape) -> Counts:
    """No weights, so no MACs (those are the kernels'); FLOPs = 2 x contracted length per
    output element (multiplies and adds), plus with normalize 3 per input element (square,
    sum, divide by the norm)."""
    from convplan.analysis.shapes import dot_axes

    a, _ = dot_axes(op, ins)
    flops = 2 * ins[0][a] * product(out)
    if op.normalize:
        flops += 3 * (product(ins[0]) + product(ins[1]))
    return Counts(flops=flops)


def einsum_dense_counts(op: O.EinsumDense, ins: list[Shape], out: Shape) -> Counts:
    """params = prod(kernel) (+ prod(bias)); MACs = the product of every letter's length (and
    of the axes `...` stands for), the batch's left out: each combination multiplies once
    (numpy's naive einsum cost is twice that); FLOPs = 2 x MACs + one add per output element
    with a bias + the activation."""
    from convplan.analysis.shapes import einsum_dense_shapes

    shapes = einsum_dense_shapes(op, ins[0])
    macs = product(shapes.letters.values()) * product(shapes.elided)
    bias = product(shapes.bias) if shapes.bias is not None else 0
    flops = 2 * macs + (product(out) if shapes.bias is not None else 0)
    return Counts(product(shapes.kernel) + bias, 0, macs, flops + _activation_flops(op, out))


def reduction_counts(op: O.Reduction, ins: list[Shape], out: Shape) -> Counts:
    """As global pooling: one add or comparison per input element (the mean's divides are
    per output and not counted separately)."""
    return Counts(flops=product(ins[0]))


COUNT_RULES: dict[type, CountRule] = {
    O.InputLayer: no_arithmetic,
    O.Conv: conv_counts,
    O.ConvTranspose: transpose_counts,
    O.Separable: separable_counts,
    O.Depthwise: depthwise_counts,
    O.Dense: dense_counts,
    O.Pooling: pooling_counts,
    O.GlobalPooling: global_pooling_counts,
    O.BatchNormalization: batch_norm_counts,
    O.LayerNormalization: layer_norm_counts,
    O.Normalization: normalization_counts,
    O.Activation: activation_counts,
    O.ReLU: relu_counts,
    O.LeakyReLU: per_element(2),
    O.Softmax: per_element(3),
    O.Rescaling: rescaling_counts,
    O.GroupNormalization: group_norm_counts,
    O.UnitNormalization: per_element(3),  # square, sum, divide (one root per vector: not counted)
    O.RMSNormalization: rms_norm_counts,
    O.ELU: per_element(ACTIVATION_FLOPS["elu"]),
    O.PReLU: prelu_counts,
    O.GaussianNoise: no_arithmetic,  # the identity at inference
    O.ActivityRegularization: no_arithmetic,  # the identity; its penalty is a training loss
    O.Augmentation: no_arithmetic,  # RandomFlip, ...: the identity at inference
    O.Merge: merge_counts,
    O.Concatenate: no_arithmetic,
    O.Dropout: no_arithmetic,
    O.Flatten: no_arithmetic,
    O.Reshape: no_arithmetic,
    O.ZeroPadding: no_arithmetic,
    O.Cropping: no_arithmetic,
    O.UpSampling: upsampling_counts,
    O.Custom: custom_counts,
    O.Resizing: resize_counts,
    O.CenterCrop: crop_counts,
    O.RandomCrop: no_arithmetic,  # only where it is the identity (shapes.random_crop_shape)
    O.AdaptivePooling: adaptive_pooling_counts,
    O.Permute: no_arithmetic,
    O.RepeatVector: no_arithmetic,
    O.Embedding: embedding_counts,
    O.Masking: per_element(3),  # compare with mask_value, any over the features, multiply
    O.Pad: no_arithmetic,
    O.Split: no_arithmetic,
    O.Reduction: reduction_counts,
    O.ExpandDims: no_arithmetic,
    O.Squeeze: no_arithmetic,
    O.Dot: dot_counts,
    O.EinsumDense: einsum_dense_counts,
}


def count(op: O.Op, ins: list[Shape], out: Shape) -> Counts:
    return rule_for(COUNT_RULES, op, "count")(op, ins, out)
