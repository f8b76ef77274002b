"""Receptive fields per spatial axis through any DAG: one rule per op, and the walk.

The fields themselves, and the operations on them (periodic fields, gathers, unions), are in
`convplan.analysis.periodic_field`; each rule here says which input positions an op's outputs
read. For a window with kernel k, stride s, dilation d and TF's padding before p (asymmetric
'same' included): first'(i) = first(i * s - p), last'(i) = last(i * s - p + (k - 1) * d), so on
a uniform field size' = size + (k - 1) * d * stride, stride' = stride * s, start' = start - p *
stride. Transposed convolution: output o gathers inputs i with i * s + m * d - p = o for taps
m < k. Upsampling by u: nearest reads o // u; interpolations read the neighbours of
x = (o + 1/2) / u - 1/2 (TF's half-pixel centres; measured with gradients). Merges take the
union of their inputs' fields and report paths whose strides or centres differ.

Symbolic sizes: on a uniform field everything is a formula. After resampling, a strided 'same'
window whose padding depends on the input size can make the field depend on the size modulo
the strides; where it does (the rule returns SIZE_DEPENDENT, which the walk records), the
layer's field is None (no formula), and a concrete analysis at the size in question gives it
exactly.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from convplan.analysis import arith
from convplan.analysis.arith import Value
from convplan.analysis.periodic_field import (
    SIZE_DEPENDENT,
    AxisField,
    AxisOutcome,
    Field,
    FieldOutcome,
    Periodic,
    SizeDependentField,
    gather,
    layer_of,
    pick_field,
    shifted,
    to_axis_field,
    to_periodic,
    union,
)
from convplan.analysis.shapes import Shape
from convplan.analysis.windows import (
    AxisPadding,
    axis_paddings,
    conv_output_length,
    effective_kernel,
    padding_before,
    transpose_padding_before,
)
from convplan.ir import ops as O
from convplan.ir.graph import Graph
from convplan.ir.rules import rule_for


@dataclass(frozen=True)
class Misalignment:
    """Two paths into a merge see the input at different strides or centres."""

    layer: str
    axis: int
    message: str


class NeedsConcreteValue(Exception):
    """A rule was given a symbol (a sweep's varied kernel size, stride or dilation) where it
    needs an integer: a periodic field is built tap by tap. Not a user error: a sweep catches
    it and enumerates those choices instead, one concrete derivation each, which stays exact.

    An exception, unlike the walk's own outcomes (SIZE_DEPENDENT, None), because no field
    outcome answers it: the analysis as asked cannot be done at all, and the question crosses
    the pass boundary to its caller (analyze() -> explore.derive -> explore.sweep.Sweep, which
    asks again with the choices enumerated)."""


# ---------------------------------------------------------------- windows


def _window_axis(f: AxisField, n: Value, k: int, s: int, d: int,
                 padding: AxisPadding) -> AxisOutcome:
    """Output i reads positions i * s - p + j * d, j < k; the period becomes q / gcd(q, s)."""
    pad = arith.simplify_int(padding_before(n, k, s, d, padding))
    if not f.phases:  # uniform: closed form, also for a sweep's symbolic k, s and d
        return AxisField(arith.simplify_int(f.size + (k - 1) * d * f.stride),
                         arith.simplify_int(f.stride * s),
                         arith.simplify_int(f.start - pad * f.stride))
    if not all(isinstance(v, int) for v in (k, s, d)):
        raise NeedsConcreteValue("receptive fields after resampling need a concrete kernel "
                                 "size, stride and dilation")
    p = to_periodic(f)
    g = math.gcd(p.q, s)
    q, shift = p.q // g, arith.simplify_int(p.shift * (s // g))

    def field_for(pad: Value) -> AxisOutcome:
        return gather(p, q, shift, lambda r: [r * s - pad + j * d for j in range(k)])

    if isinstance(pad, int) or p.q == 1:
        return field_for(pad)
    # A 'same' pad that depends on the input size, on a non-uniform field: TF's pad is one of
    # a few values (its total lies in [max(k_eff - s, 0), k_eff - 1]); try each.
    k_eff = effective_kernel(k, d)
    options: dict[int, AxisField] = {}
    for c in sorted({t // 2 for t in range(max(k_eff - s, 0), k_eff)}):
        option = field_for(c)
        if not isinstance(option, AxisField):
            return option  # seeing nothing, or size-dependent, at one pad: so says the axis
        options[c] = option
    return pick_field(pad, options)


def window_field(op: O.Windowed | O.Pooling, fields: list[Field], ins: list[Shape],
                 out: Shape) -> FieldOutcome:
    """Convolutions (all but transposed) and pooling: the window of `op.window` per axis
    (explicit padding: its amount before; ceil_mode changes how many outputs, not what each
    reads)."""
    if fields[0] is None:
        return None
    w = op.window
    assert w is not None  # every class the table gives this rule slides one
    strided = not getattr(op, "rejects_stride_with_dilation", False)  # Keras: s > 1 with d > 1
    return _sliding_field(fields[0], ins[0], out, w.kernel, w.strides, w.dilation,
                          axis_paddings(w.padding, len(w.kernel)), strided)


def _sliding_field(field: tuple[AxisField, ...], ins: Shape, out: Shape, kernel: Sequence[Any],
                   strides: Sequence[Any], dilation: Sequence[Any],
                   paddings: Sequence[AxisPadding], strided: bool = True) -> FieldOutcome:
    """The field of a window sliding over a map with this field, per axis (`_window_axis`);
    none where on some axis it reads only padding (`reads_nothing`)."""
    reads = [reads_nothing(n, m, k, s, d, pad, strided=strided) for n, m, k, s, d, pad in zip(
        ins[:-1], out[:-1], kernel, strides, dilation, paddings)]
    if any(r is True for r in reads):
        return None  # every output is its bias alone: no input pixel reaches it
    if any(r is SIZE_DEPENDENT for r in reads):
        return SIZE_DEPENDENT
    return layer_of(_window_axis(f, n, k, s, d, pad)
                    for f, n, k, s, d, pad in zip(field, ins[:-1], kernel, strides, dilation,
                                                  paddings))


def reads_nothing(n: Value, n_out: Value, k: Value, s: Value, d: Value,
                  padding: AxisPadding, strided: bool = True) -> bool | SizeDependentField:
    """Whether no output along an axis reads a position of its input map: every tap
    o * s - p + j * d (o < n_out, j < k) lands in the padding. Only a dilated kernel on a map
    shorter than its dilation can (2 taps 2 apart, 'same', on 1 position: -1 and +1); Keras
    then computes the bias alone. At a symbolic length: SIZE_DEPENDENT where some length
    below d + s reads nothing, else False (from d on, output 0's taps straddle position 0
    under 'same', causal and 'valid' padding; a longer map with an explicit padding is taken
    to read). A sweep's symbolic kernel size, stride or dilation: 'valid' and causal windows
    read (output 0's first tap, output o's last), so does an odd kernel at stride 1 under
    'same' (stride 1 wherever d > 1 for a layer Keras refuses both in, `strided` False); any
    other needs the numbers (NeedsConcreteValue: the sweep enumerates them)."""
    if isinstance(d, int) and d <= 1:
        return False
    if not all(isinstance(v, int) for v in (k, s, d)):
        odd = isinstance(k, int) and k % 2 == 1 and (s == 1 or not strided)
        if padding in ("valid", "causal") or (padding == "same" and odd):
            return False  # 'same', odd k, stride 1: the centre tap reads the output's position
        raise NeedsConcreteValue("whether a dilated window reads only padding needs its kernel "
                                 "size, stride and dilation as numbers")
    assert isinstance(d, int) and isinstance(k, int) and isinstance(s, int)
    if not (isinstance(n, int) and isinstance(n_out, int)):
        for m in range(1, d + s):
            m_out = conv_output_length(m, k, s, d, padding)
            if isinstance(m_out, int) and m_out >= 1 and reads_nothing(m, m_out, k, s, d,
                                                                       padding) is True:
                return SIZE_DEPENDENT
        return False
    pad = padding_before(n, k, s, d, padding)
    assert isinstance(pad, int)
    if n >= d and 0 <= pad <= (k - 1) * d:  # output 0's taps, d apart, straddle position 0
        return False
    return not any(0 <= o * s - pad + j * d < n for o in range(min(n_out, n + pad + 1))
                   for j in range(k))


# ---------------------------------------------------------------- resampling, padding, global


def custom_field(op: O.Custom, fields: list[Field], ins: list[Shape], out: Shape) -> FieldOutcome:
    """A declared layer: its first input's field where it keeps the shape; the declared
    window's (as a convolution's) where `kernel_size` is declared; none where only strides
    or channels are (convplan never guesses the extent of a window nobody declared)."""
    if not op.window_declared:
        return same_field(op, fields, ins, out)
    if op.kernel_size is None or fields[0] is None or len(out) != len(ins[0]):
        return None
    kernel, strides, dilation = op.geometry(len(ins[0]) - 1)
    return _sliding_field(fields[0], ins[0], out, kernel, strides, dilation,
                          [op.padding] * len(kernel))


def transpose_field(op: O.ConvTranspose, fields: list[Field], ins: list[Shape],
                    out: Shape) -> FieldOutcome:
    """Output o gathers inputs i = (o + p - m * d) / s, for taps m < k where that is whole;
    TF's p is the 'same' crop before (windows.transpose_padding_before), 0 for 'valid'."""
    if fields[0] is None:
        return None
    return layer_of(_transpose_axis(f, n, m_out, k, s, d, pad)
                    for f, n, m_out, k, s, d, pad in zip(fields[0], ins[0][:-1], out[:-1],
                                                         op.kernel_size, op.strides,
                                                         op.dilation_rate,
                                                         axis_paddings(op.padding, op.rank())))


def _transpose_axis(f: AxisField, n: Value, m_out: Value, k: int, s: int, d: int,
                    padding: AxisPadding) -> AxisOutcome:
    pad = arith.simplify_int(transpose_padding_before(n, m_out, k, s, d, padding))
    assert isinstance(pad, int), pad  # Keras's output lengths make it a constant
    p = to_periodic(f)
    return gather(p, p.q * s, p.shift, functools.partial(transpose_taps, pad=pad, k=k, s=s, d=d))


def transpose_taps(o: int, pad: int, k: int, s: int, d: int) -> list[int]:
    """Input positions output o of a transposed convolution gathers, ascending."""
    return sorted((o + pad - m * d) // s for m in range(k) if (o + pad - m * d) % s == 0)


# Interpolation -> (first, last) neighbour of floor(x) read when x is not a whole number, and
# when it is; measured with TF gradients (lanczos weights at whole distances are not exact 0s).
INTERPOLATION_TAPS = {
    "bilinear": ((0, 1), (0, 0)),
    "bicubic": ((-1, 2), (0, 0)),
    "lanczos3": ((-2, 3), (-3, 3)),
    "lanczos5": ((-4, 5), (-5, 5)),
}


def upsample_taps(o: int, u: int, interpolation: str) -> list[int]:
    """Input positions output o of an upsampling by u reads (nearest and area: o // u)."""
    if interpolation not in INTERPOLATION_TAPS:
        return [o // u]
    numerator, denominator = 2 * o + 1 - u, 2 * u  # x = (o + 1/2) / u - 1/2
    base = numerator // denominator
    fractional, whole = INTERPOLATION_TAPS[interpolation]
    a, b = whole if numerator % denominator == 0 else fractional
    return list(range(base + a, base + b + 1))


def upsampling_field(op: O.UpSampling, fields: list[Field], ins: list[Shape],
                     out: Shape) -> FieldOutcome:
    if fields[0] is None:
        return None
    interpolation: str = getattr(op, "interpolation", "nearest")  # UpSampling2D's only
    return layer_of(_upsampling_axis(f, u, interpolation) for f, u in zip(fields[0], op.size))


def _upsampling_axis(f: AxisField, u: int, interpolation: str) -> AxisOutcome:
    p = to_periodic(f)
    return gather(p, p.q * u, p.shift,
                  functools.partial(upsample_taps, u=u, interpolation=interpolation))


def padding_field(op: O.ZeroPadding, fields: list[Field], ins: list[Shape],
                  out: Shape) -> FieldOutcome:
    if fields[0] is None:
        return None
    return layer_of(shifted(f, -a) for f, (a, _) in zip(fields[0], op.padding))


def cropping_field(op: O.Cropping, fields: list[Field], ins: list[Shape],
                   out: Shape) -> FieldOutcome:
    if fields[0] is None:
        return None
    return layer_of(shifted(f, a) for f, (a, _) in zip(fields[0], op.cropping))


def global_field(op: O.GlobalPooling, fields: list[Field], ins: list[Shape],
                 out: Shape) -> Field:
    """keepdims: the single output sees every input position; otherwise the spatial axes go."""
    if fields[0] is None or not op.keepdims:
        return None
    result = []
    for f, n in zip(fields[0], ins[0][:-1]):
        p = to_periodic(f)
        result.append(to_axis_field(Periodic(1, arith.simplify_int(f.stride * n), (p.first(0),),
                                             (p.last(n - 1),))))
    return tuple(result)


def same_field(op: O.Op, fields: list[Field], ins: list[Shape], out: Shape) -> Field:
    """Elementwise and per-position ops (Dense on a feature map included) keep the field,
    as long as the spatial axes survive."""
    if fields[0] is None or len(out) != len(ins[0]):
        return None
    return fields[0]


def no_field(op: O.Op, fields: list[Field], ins: list[Shape], out: Shape) -> Field:
    return None


def mixes_spatial_axis(op: O.Softmax | O.LayerNormalization | O.Concatenate, rank: int) -> bool:
    """The op's `axis` (Keras's count: 0 is the batch) is a spatial axis of a rank-`rank`
    input (batch excluded), not the channels."""
    axis: int = op.axis
    index = axis - 1 if axis > 0 else rank + axis
    return index != rank - 1


def axis_field(op: O.Softmax | O.LayerNormalization, fields: list[Field], ins: list[Shape],
               out: Shape) -> Field:
    """Softmax and LayerNormalization (UnitNormalization, RMSNormalization) over a spatial axis
    make every output along that axis
    depend on the whole axis (measured in TF): no (size, stride, start) describes it, so no
    field is reported; over the channels they keep the field."""
    if mixes_spatial_axis(op, len(ins[0])):
        return None
    return same_field(op, fields, ins, out)


def input_field(shape: Shape) -> Field:
    """At an input every pixel sees itself; an input without spatial axes has no field."""
    if len(shape) < 2:
        return None
    return tuple(AxisField(1, 1, 0) for _ in shape[:-1])


def input_layer_field(op: O.InputLayer, fields: list[Field], ins: list[Shape],
                      out: Shape) -> Field:
    return input_field(out)


# ---------------------------------------------------------------- resizing, cropping, keras.ops


def resampled_axis(f: AxisField, a: int, b: int, taps: Callable[[int], list[int]]
                   ) -> AxisOutcome:
    """The field of a layer whose b outputs read a positions of the previous layer per period
    (taps(o + b) = taps(o) + a): a resize from a box of length a*k to b*k, adaptive pooling."""
    p = to_periodic(f)
    m = math.lcm(a, p.q)
    return gather(p, m * b // a, arith.simplify_int(p.shift * (m // p.q)), taps)


# Kernel radius of each interpolation, in input pixels at scale 1 (TF's scale_and_translate
# kernels); an antialiased downscale by s widens it to radius * s.
KERNEL_RADIUS = {"bilinear": 1, "bicubic": 2, "lanczos3": 3, "lanczos5": 5}


def resize_taps(o: int, a: int, b: int, interpolation: str, antialias: bool) -> list[int]:
    """Box positions output o of a resize by b/a reads (TF's half-pixel centres): nearest
    floor((o + 1/2) a / b); area the pixels [o a / b, (o + 1) a / b) overlaps; the others the
    INTERPOLATION_TAPS neighbours of x = (o + 1/2) a / b - 1/2, or with antialias on a
    downscale (a > b) every j with |j - x| <= radius * a / b."""
    if interpolation == "nearest":
        return [(2 * o + 1) * a // (2 * b)]
    if interpolation == "area":
        return list(range(o * a // b, -(-(o + 1) * a // b)))
    numerator, denominator = (2 * o + 1) * a - b, 2 * b  # x = numerator / denominator
    if antialias and a > b:
        # radius * a / b over the same denominator; a tap exactly at the radius has weight 0
        # in exact arithmetic, but TF's float32 sample positions make it non-zero at some
        # outputs (measured): counted, so the field is a bound there, as lanczos's whole taps
        span = 2 * KERNEL_RADIUS[interpolation] * a
        return list(range(-(-(numerator - span) // denominator),
                          (numerator + span) // denominator + 1))
    base = numerator // denominator
    fractional, whole = INTERPOLATION_TAPS[interpolation]
    first, last = whole if numerator % denominator == 0 else fractional
    return list(range(base + first, base + last + 1))


def aspect_box(n: int, other: int, target: int, other_target: int, pad: bool) -> tuple[int, int]:
    """(offset, length) of the centred box Keras resizes on one axis of length n (the other
    axis `other`) to keep the target's aspect ratio: a crop of min(n, other * target //
    other_target) pixels from floor((n - crop) / 2), or a pad of floor((max(n, other * target
    // other_target) - n) / 2) pixels on both sides (keras/src/backend/tensorflow/image.py)."""
    fitted = other * target // other_target
    if pad:
        before = (max(n, fitted) - n) // 2
        return -before, n + 2 * before
    crop = max(min(n, fitted), 1)
    return (n - crop) // 2, crop


def _resize_field(fields: list[Field], ins: list[Shape], targets: tuple[int, int],
                  interpolation: str, antialias: bool, crop: bool, pad: bool) -> FieldOutcome:
    """A resize of each axis's box (the whole axis, or a centred crop or pad to the target's
    aspect ratio) to the target length. With a symbolic input size the resize factor is a
    formula, no period describes the field: SIZE_DEPENDENT (a concrete analysis gives it)."""
    if fields[0] is None:
        return None
    sizes = ins[0][:2]
    if not all(arith.is_concrete(n) for n in sizes):
        return SIZE_DEPENDENT
    h, w = (int(n) for n in sizes)
    boxes = [(0, h), (0, w)]
    if crop or pad:
        boxes = [aspect_box(h, w, targets[0], targets[1], pad),
                 aspect_box(w, h, targets[1], targets[0], pad)]
    axes = []
    for f, (offset, length), target, n in zip(fields[0], boxes, targets, (h, w)):
        g = math.gcd(length, target)
        a, b = length // g, target // g
        def taps(o: int, a: int = a, b: int = b, offset: int = offset) -> list[int]:
            return [offset + t for t in resize_taps(o, a, b, interpolation, antialias)]
        p = to_periodic(f)
        if pad and offset < 0 and p.q == 1:
            # The pad to the aspect ratio is constant rows at the box's ends, not a period: an
            # output reading only those sees nothing (TF's gradient). The whole axis is taken
            # as one period, so that the taps can drop the pad's positions.
            def inside(o: int, a: int = a, b: int = b, offset: int = offset,
                       n: int = n) -> list[int]:
                return [t for t in taps(o, a, b, offset) if 0 <= t < n]
            axes.append(gather(p, target, arith.simplify_int(p.shift * length), inside))
            continue
        axes.append(resampled_axis(f, a, b, taps))
    return layer_of(axes)


def resizing_field(op: O.Resizing, fields: list[Field], ins: list[Shape],
                   out: Shape) -> FieldOutcome:
    """Resizing: see _resize_field; an integer upscale reads what UpSampling2D's does."""
    return _resize_field(fields, ins, (op.height, op.width), op.interpolation, op.antialias,
                         op.crop_to_aspect_ratio, op.pad_to_aspect_ratio)


def center_crop_field(op: O.CenterCrop, fields: list[Field], ins: list[Shape],
                      out: Shape) -> FieldOutcome:
    """Cropping by floor((n - target) / 2) before each axis where the input is at least the
    target on both axes (symbolic sizes too: Keras's dynamic shapes crop); otherwise Keras's
    smart_resize: a centred crop to the target's aspect ratio, resized bilinearly."""
    if fields[0] is None:
        return None
    targets = (op.height, op.width)
    if any(arith.is_concrete(n) and int(n) < t for n, t in zip(ins[0][:2], targets)):
        return _resize_field(fields, ins, targets, "bilinear", False, True, False)
    return layer_of(shifted(f, arith.floordiv(n - t, 2))
                    for f, n, t in zip(fields[0], ins[0][:2], targets))


def adaptive_pooling_field(op: O.AdaptivePooling, fields: list[Field], ins: list[Shape],
                           out: Shape) -> FieldOutcome:
    """Output bin i of o over n positions reads floor(i n / o) to ceil((i + 1) n / o) - 1;
    SIZE_DEPENDENT for a symbolic n (the bins' pattern depends on it)."""
    if fields[0] is None:
        return None
    if not all(arith.is_concrete(n) for n in ins[0][:-1]):
        return SIZE_DEPENDENT
    axes = []
    for f, n, o in zip(fields[0], ins[0][:-1], op.output_size):
        g = math.gcd(int(n), o)
        a, b = int(n) // g, o // g
        def bins(i: int, a: int = a, b: int = b) -> list[int]:
            return list(range(i * a // b, -(-(i + 1) * a // b)))  # Keras's adaptive bins
        axes.append(resampled_axis(f, a, b, bins))
    return layer_of(axes)


def permute_field(op: O.Permute, fields: list[Field], ins: list[Shape], out: Shape) -> Field:
    """Kept where every axis stays in place; otherwise none: a field describes, per axis,
    the input pixels along that same axis, and a moved axis no longer has one."""
    if fields[0] is None or op.dims != tuple(range(1, len(op.dims) + 1)):
        return None
    return fields[0]


def pad_field(op: O.Pad, fields: list[Field], ins: list[Shape], out: Shape) -> FieldOutcome:
    """As ZeroPadding on the spatial axes (whatever the fill); padding the channels keeps the
    field."""
    if fields[0] is None:
        return None
    return layer_of(shifted(f, -a) for f, (a, _) in zip(fields[0], op.pad_width[1:]))


def split_field(op: O.Split, fields: list[Field], ins: list[Shape], out: Shape) -> FieldOutcome:
    """Along the channels the field is kept; along a spatial axis part k starts at the sum of
    the lengths before it: a crop from there."""
    from convplan.analysis.shapes import split_lengths

    if fields[0] is None:
        return None
    rank = len(ins[0])
    axis = op.axis - 1 if op.axis > 0 else rank + op.axis
    if axis == rank - 1:
        return fields[0]
    start = arith.total(split_lengths(op, ins[0][axis])[:op.index])
    return layer_of(shifted(f, start) if i == axis else f for i, f in enumerate(fields[0]))


def reduction_field(op: O.Reduction, fields: list[Field], ins: list[Shape],
                    out: Shape) -> Field:
    """keepdims: a reduced spatial axis sees all of it (as global pooling), the others keep
    theirs; without keepdims the axes no longer line up: none."""
    if fields[0] is None:
        return None
    rank = len(ins[0])
    reduced = {a - 1 if a > 0 else rank + a for a in op.axis}
    if not op.keepdims:
        return None
    result = []
    for i, (f, n) in enumerate(zip(fields[0], ins[0][:-1])):
        if i not in reduced:
            result.append(f)
            continue
        p = to_periodic(f)
        result.append(to_axis_field(Periodic(1, arith.simplify_int(f.stride * n), (p.first(0),),
                                             (p.last(n - 1),))))
    return tuple(result)


# ---------------------------------------------------------------- merges


def broadcasts(shape: Shape, out: Shape, assume_no_broadcast: bool = False
               ) -> bool | SizeDependentField:
    """The merge stretches this input along a spatial axis (length 1 there, longer out).
    Where that depends on the input size (symbolic lengths that are not the same formula: a
    merge condition, see shapes.broadcast_shape), SIZE_DEPENDENT, or with
    `assume_no_broadcast` (a sweep's derivation: it finds the rows that do broadcast and
    analyzes those at their concrete values) not stretched."""
    if len(shape) != len(out):
        return False
    stretched = False
    for a, b in zip(shape[:-1], out[:-1]):
        if arith.is_concrete(a) and arith.is_concrete(b):
            stretched = stretched or (a == 1 and b != 1)
        elif not undecided_broadcast(a, b):
            continue
        elif not assume_no_broadcast:
            return SIZE_DEPENDENT
    return stretched


def undecided_broadcast(length: Value, out: Value) -> bool:
    """Whether an input of this length may or may not be stretched to `out`, by size."""
    return not (arith.is_concrete(length) and arith.is_concrete(out)) and \
        arith.equal(length, out) is not True


def counted_inputs(op: O.Merge, fields: list[Field], ins: list[Shape], out: Shape,
                   assume_no_broadcast: bool = False) -> list[bool] | SizeDependentField:
    """Which inputs of a merge its field counts: those with a field that are not broadcast
    (Concatenate never broadcasts); SIZE_DEPENDENT where whether one is broadcast depends on
    the input size (never with `assume_no_broadcast`, see `broadcasts`)."""
    if isinstance(op, O.Concatenate):
        return [f is not None for f in fields]
    counted = []
    for f, s in zip(fields, ins):
        if f is None:
            counted.append(False)
            continue
        stretched = broadcasts(s, out, assume_no_broadcast)
        if isinstance(stretched, SizeDependentField):
            return stretched
        counted.append(not stretched)
    return counted


def merge_fields(op: O.Merge, fields: list[Field], ins: list[Shape], out: Shape, *,
                 misaligned: list[Misalignment], assume_no_broadcast: bool = False
                 ) -> FieldOutcome:
    """The union of the inputs' fields. Global context is left out, as receptive fields are
    usually counted: an input without a field (a vector, or a map whose positions mix along a
    spatial axis) and an input broadcast along a spatial axis (a 1 x 1 map, as
    squeeze-and-excitation's; every output would see all of it); convplan.verify measures
    with those inputs scaled by 0. Inputs at different strides give an envelope (reported as
    misaligned, appended to `misaligned`)."""
    counted = counted_inputs(op, fields, ins, out, assume_no_broadcast)
    if isinstance(counted, SizeDependentField):
        return counted
    known = [f for f, c in zip(fields, counted) if c and f is not None]
    if not known:
        return None
    first = known[0]
    if any(len(f) != len(first) for f in known):
        return None
    for axis in range(len(first)):
        _check_alignment(op, axis, [f[axis] for f in known], misaligned)
    return tuple(union([f[axis] for f in known]) for axis in range(len(first)))


def concatenate_field(op: O.Concatenate, fields: list[Field], ins: list[Shape], out: Shape, *,
                      misaligned: list[Misalignment], assume_no_broadcast: bool = False
                      ) -> FieldOutcome:
    """Along the channels, the union of the inputs' fields (merge_fields); along a spatial
    axis none: the first positions come from one input, the rest from another."""
    if mixes_spatial_axis(op, len(ins[0])):
        return None
    return merge_fields(op, fields, ins, out, misaligned=misaligned,
                        assume_no_broadcast=assume_no_broadcast)


def _check_alignment(op: O.Op, axis: int, axes: list[AxisField],
                     misaligned: list[Misalignment]) -> None:
    base = axes[0]
    for other in axes[1:]:
        if arith.equal(base.stride, other.stride) is not True:
            misaligned.append(Misalignment(
                op.name, axis, f"inputs see the input at different strides ({base.stride} and "
                f"{other.stride})"))
            return
        same = arith.equal(base.centre, other.centre)
        if same is not True:
            detail = "for some input sizes" if same is None else (
                f"by {arith.to_json(other.centre - base.centre)} input pixels")
            misaligned.append(Misalignment(
                op.name, axis, f"receptive-field centres of the inputs differ {detail} "
                f"(centres {arith.to_json(base.centre)} and {arith.to_json(other.centre)})"))
            return


# ---------------------------------------------------------------- the table and the walk

# The op argument is an instance of the class the rule's key names (rule_for looks it up by
# the op's class), a tie a dict's type cannot state: Any there, precise everywhere else.
FieldRule = Callable[[Any, list[Field], list[Shape], Shape], FieldOutcome]


class MergeFieldFunction(Protocol):
    def __call__(self, op: Any, fields: list[Field], ins: list[Shape], out: Shape, *,
                 misaligned: list[Misalignment], assume_no_broadcast: bool = False
                 ) -> FieldOutcome: ...


@dataclass(frozen=True)
class MergeFieldRule:
    """A merge's field rule, which also takes the `misaligned` list it reports to and
    `assume_no_broadcast` (merge_fields)."""

    compute: MergeFieldFunction


# op class -> rule(op, fields, ins, out) -> the layer's field, None, or SIZE_DEPENDENT. Every
# op in O.OPS is covered by its class or a family base (tests/ir/test_rule_tables.py); there is
# no default.
FIELD_RULES: dict[type[O.Op], FieldRule | MergeFieldRule] = {
    O.InputLayer: input_layer_field,
    O.Windowed: window_field,  # Conv, Depthwise and Separable: the same window
    O.ConvTranspose: transpose_field,
    O.Pooling: window_field,
    O.GlobalPooling: global_field,
    # elementwise and per-position ops keep the field
    O.BatchNormalization: same_field,
    O.Normalization: same_field,
    O.Rescaling: same_field,
    O.ELU: same_field,
    O.PReLU: same_field,
    O.GaussianNoise: same_field,  # the identity at inference
    O.ActivityRegularization: same_field,
    O.Augmentation: same_field,  # RandomFlip, ...: the identity at inference
    O.UnitNormalization: axis_field,
    O.RMSNormalization: axis_field,
    # statistics over every spatial position: each output depends on the whole input
    O.GroupNormalization: no_field,
    O.Activation: same_field,
    O.ReLU: same_field,
    O.LeakyReLU: same_field,
    O.Dropout: same_field,  # SpatialDropout too: the identity at inference
    O.Dense: same_field,  # on a feature map: per position
    O.Custom: custom_field,
    O.Softmax: axis_field,
    O.LayerNormalization: axis_field,
    O.Flatten: no_field,
    O.Reshape: no_field,
    O.UpSampling: upsampling_field,
    O.ZeroPadding: padding_field,
    O.Cropping: cropping_field,
    O.Merge: MergeFieldRule(merge_fields),  # Add, Subtract, Multiply, Average, Maximum, Minimum
    O.Concatenate: MergeFieldRule(concatenate_field),
    O.Resizing: resizing_field,
    O.CenterCrop: center_crop_field,
    O.RandomCrop: same_field,  # only where it is the identity (shapes.random_crop_shape)
    O.AdaptivePooling: adaptive_pooling_field,
    O.Permute: permute_field,
    O.RepeatVector: no_field,
    O.Embedding: no_field,  # indices in, vectors out: no pixels to trace
    O.Masking: same_field,
    O.Pad: pad_field,
    O.Split: split_field,
    O.Reduction: reduction_field,
    O.ExpandDims: no_field,  # the axes shift
    O.Squeeze: no_field,
    O.Dot: no_field,  # every output sums over a whole axis of both inputs
    O.EinsumDense: no_field,  # an equation's letters: not traced
}


def layer_field(op: O.Op, fields: list[Field], ins: list[Shape], out: Shape,
                misaligned: list[Misalignment], assume_no_broadcast: bool = False
                ) -> FieldOutcome:
    """The op's field from its inputs' fields (FIELD_RULES); None where it has none,
    SIZE_DEPENDENT where it has no formula."""
    rule = rule_for(FIELD_RULES, op, "compute_receptive_fields")
    if isinstance(rule, MergeFieldRule):
        return rule.compute(op, fields, ins, out, misaligned=misaligned,
                            assume_no_broadcast=assume_no_broadcast)
    return rule(op, fields, ins, out)


def _channel_axis(op: O.Split | O.Concatenate, rank: int) -> bool:
    return op.axis in (-1, rank)


# Activation functions that mix the channels (each output channel depends on all of them)
CHANNEL_MIXING_ACTIVATIONS = frozenset({"softmax", "log_softmax", "sparsemax"})


def keeps_channels(op: O.Op) -> bool:
    """Output channel c is computed from input channel c alone (Op.channelwise: elementwise
    layers, pooling, padding, cropping, resampling; an Activation unless its function mixes
    the channels; a depthwise convolution with depth_multiplier 1)."""
    if isinstance(op, O.Activation):
        return op.activation not in CHANNEL_MIXING_ACTIVATIONS
    if isinstance(op, O.Depthwise):
        return op.depth_multiplier == 1
    return op.channelwise


def channel_source(node: Any, sources: Mapping[str, str | None],
                   shapes: Mapping[str, Shape]) -> str | None:
    """The channel Concatenate whose channels this layer's are, one for one: the
    Concatenate itself; through a layer that keeps channels; through an elementwise merge
    none of whose inputs is broadcast, all of them from that same Concatenate (fuzz seed 53:
    Average(c, c)). `sources`: the layers before, in topological order. None where anything
    else lies in between."""
    op = node.op
    if isinstance(op, O.Concatenate):
        return node.name if _channel_axis(op, len(shapes[node.name])) else None
    if keeps_channels(op) and len(node.inputs) == 1:
        return sources[node.inputs[0]]
    if isinstance(op, O.ELEMENTWISE_MERGES) and all(
            tuple(shapes[i]) == tuple(shapes[node.name]) for i in node.inputs):
        found = {sources[i] for i in node.inputs}
        return found.pop() if len(found) == 1 else None
    return None


def _split_of_concatenation(graph: Graph, order: Sequence[str], split: str,
                            sources: Mapping[str, str | None], fields: Mapping[str, Field],
                            shapes: Mapping[str, Shape], field: FieldOutcome,
                            assume_no_broadcast: bool) -> FieldOutcome:
    """A channel Split of a channel Concatenate sees only the inputs whose channels its part
    takes (a part that is one input's channels sees that input's field, not the union of all
    of them); the per-tensor rule gives the union. Between the two, the layers whose
    channels are the Concatenate's one for one (`channel_source`) are walked again from the
    field of the inputs taken (fuzz seed 53: a pooling in between). Only where every channel
    count is a number."""
    op = graph[split].op
    assert isinstance(op, O.Split)
    source = sources[graph[split].inputs[0]]
    if source is None or not _channel_axis(op, len(shapes[source])):
        return field
    producer = graph[source]
    assert isinstance(producer.op, O.Concatenate)  # what channel_source names
    from convplan.analysis.shapes import split_lengths

    widths = [shapes[i][-1] for i in producer.inputs]
    lengths = split_lengths(op, shapes[source][-1])
    if not all(isinstance(arith.simplify_int(n), int) for n in [*widths, *lengths]):
        return field
    first = sum(int(n) for n in lengths[:op.index])
    last = first + int(lengths[op.index])  # the part's channels [first, last)
    starts = [sum(int(w) for w in widths[:k]) for k in range(len(widths))]
    taken = [i for i, start, w in zip(producer.inputs, starts, widths)
             if start < last and first < start + int(w)]
    if len(taken) == len(producer.inputs):
        return field
    # the concatenation's own misalignment was reported with it: not again for a subset
    outcome = concatenate_field(producer.op, [fields[i] for i in taken],
                                [shapes[i] for i in taken], shapes[source], misaligned=[],
                                assume_no_broadcast=assume_no_broadcast)
    if isinstance(outcome, SizeDependentField):
        return outcome
    part: dict[str, Field] = {source: outcome}  # the fields of the channels taken
    for name in order[order.index(source) + 1:order.index(split)]:
        if sources.get(name) != source:
            continue
        node = graph[name]
        outcome = layer_field(node.op, [part[i] for i in node.inputs],
                              [shapes[i] for i in node.inputs], shapes[name], [],
                              assume_no_broadcast)
        if isinstance(outcome, SizeDependentField):
            return outcome
        part[name] = outcome
    return part[graph[split].inputs[0]]


@dataclass(frozen=True)
class ReceptiveFields:
    fields: Mapping[str, Field]  # per layer; None: no field, or a size-dependent one
    misalignments: tuple[Misalignment, ...]
    # Layers whose field depends on the input size (SIZE_DEPENDENT), and every layer after
    # one: their field is None here (unknown, not absent), a concrete analysis gives it.
    size_dependent: tuple[str, ...]


def compute_receptive_fields(graph: Graph, order: Sequence[str], shapes: Mapping[str, Shape],
                             assume_no_broadcast: bool = False) -> ReceptiveFields:
    """Every layer's field, in topological `order`, from the inferred `shapes`.
    `assume_no_broadcast`: see `broadcasts`."""
    fields: dict[str, Field] = {}
    misaligned: list[Misalignment] = []
    size_dependent: dict[str, None] = {}  # ordered set
    sources: dict[str, str | None] = {}  # channel_source of each layer
    for name in order:
        node = graph[name]
        sources[name] = channel_source(node, sources, shapes) if node.inputs else None
        if not size_dependent.keys().isdisjoint(node.inputs):
            fields[name] = None  # unknown, not absent: a merge must not leave that input out
            size_dependent[name] = None
            continue
        field = layer_field(node.op, [fields[i] for i in node.inputs],
                            [shapes[i] for i in node.inputs], shapes[name], misaligned,
                            assume_no_broadcast)
        if isinstance(node.op, O.Split) and not isinstance(field, SizeDependentField):
            field = _split_of_concatenation(graph, order, name, sources, fields, shapes,
                                            field, assume_no_broadcast)
        if isinstance(field, SizeDependentField):
            fields[name] = None
            size_dependent[name] = None
        else:
            fields[name] = field
    return ReceptiveFields(fields, tuple(misaligned), tuple(size_dependent))
