"""Receptive fields per spatial axis through any DAG.

For each layer and axis: ``size`` (input pixels one output pixel sees), ``stride`` (the jump in
input pixels between neighbouring outputs) and ``start`` (the input coordinate of the first pixel
seen by output 0; negative where it lies in padding). Output i sees input pixels
[start + i * stride, start + i * stride + size - 1]. For a window with kernel k, stride s,
dilation d and padding p_before (TF's, asymmetric 'same' included):
    size' = size + (k_eff - 1) * stride,  stride' = stride * s,  start' = start - p_before * stride.
Merges take the union of their inputs' fields and report paths whose strides or centres differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy

from convplan.analysis import arith
from convplan.analysis.arith import Value
from convplan.analysis.shapes import Shape, rule_for
from convplan.analysis.windows import (
    effective_kernel,
    padding_before,
    transpose_padding_before,
)
from convplan.ir import ops as O


@dataclass(frozen=True)
class AxisField:
    size: Value
    stride: Value
    start: Value

    @property
    def centre(self) -> Value:
        """start + (size - 1) / 2, exact (a half-integer where the size is even)."""
        return arith.simplify_int(sympy.Rational(1, 2) * (2 * self.start + self.size - 1))


Field = tuple[AxisField, ...] | None


@dataclass(frozen=True)
class Misalignment:
    """Two paths into a merge see the input at different strides or centres."""

    layer: str
    axis: int
    message: str


def _window(fields: tuple[AxisField, ...], n_in: Shape, kernel, strides, dilation,
            padding: str) -> tuple[AxisField, ...]:
    out = []
    for f, n, k, s, d in zip(fields, n_in, kernel, strides, dilation):
        pad = padding_before(n, k, s, d, padding)
        out.append(AxisField(f.size + (effective_kernel(k, d) - 1) * f.stride, f.stride * s,
                             f.start - pad * f.stride))
    return tuple(out)


def window_field(op: O.Op, fields: list[Field], ins: list[Shape], out: Shape) -> Field:
    if fields[0] is None:
        return None
    if isinstance(op, O._Pooling):
        return _window(fields[0], ins[0][:-1], op.pool_size, op.strides,
                       (1,) * op.spatial_rank, op.padding)
    return _window(fields[0], ins[0][:-1], op.kernel_size, op.strides, op.dilation_rate,
                   op.padding)


def _transpose_span(k: int, s: int, d: int, p: int) -> tuple[int, int]:
    """(first input index feeding output 0, most input indices any output spans - 1).

    Output o receives input i through kernel tap m when i * s + m * d - p == o."""
    taps = [(p - m * d) / s for m in range(k) if (p - m * d) % s == 0]
    first = int(min(taps)) if taps else (p - (k - 1) * d) // s
    span = 0
    for residue in range(s):
        hits = [m for m in range(k) if (residue + p - m * d) % s == 0]
        if hits:
            span = max(span, (max(hits) - min(hits)) * d // s)
    return first, span


def transpose_field(op: O._ConvTranspose, fields: list[Field], ins: list[Shape],
                    out: Shape) -> Field:
    """size' = size + span * stride (span: input steps one output reaches), stride' = stride / s."""
    if fields[0] is None:
        return None
    result = []
    for f, n, m, k, s, d in zip(fields[0], ins[0][:-1], out[:-1], op.kernel_size, op.strides,
                                op.dilation_rate):
        pad = arith.simplify_int(transpose_padding_before(n, m, k, s, d, op.padding))
        if not isinstance(pad, int):  # symbolic only if Keras' size rule changes; keep exact
            pad = 0
        first, span = _transpose_span(k, s, d, pad)
        result.append(AxisField(f.size + span * f.stride, _ratio(f.stride, s),
                                f.start + first * f.stride))
    return tuple(result)


def _ratio(stride: Value, s: int) -> Value:
    value = sympy.Rational(stride, s) if isinstance(stride, int) else stride / s
    return arith.simplify_int(value)


def upsampling_field(op: O._UpSampling, fields: list[Field], ins: list[Shape],
                     out: Shape) -> Field:
    """nearest: output o copies input o // s; bilinear also reads the previous neighbour."""
    if fields[0] is None:
        return None
    smooth = getattr(op, "interpolation", "nearest") != "nearest"
    return tuple(AxisField(f.size + (f.stride if smooth else 0), _ratio(f.stride, s),
                           f.start - (f.stride if smooth else 0))
                 for f, s in zip(fields[0], op.size))


def padding_field(op: O._ZeroPadding, fields: list[Field], ins: list[Shape],
                  out: Shape) -> Field:
    if fields[0] is None:
        return None
    return tuple(AxisField(f.size, f.stride, f.start - a * f.stride)
                 for f, (a, _) in zip(fields[0], op.padding))


def cropping_field(op: O._Cropping, fields: list[Field], ins: list[Shape], out: Shape) -> Field:
    if fields[0] is None:
        return None
    return tuple(AxisField(f.size, f.stride, f.start + a * f.stride)
                 for f, (a, _) in zip(fields[0], op.cropping))


def global_field(op: O._GlobalPooling, fields: list[Field], ins: list[Shape],
                 out: Shape) -> Field:
    """keepdims: the single output sees every input position; otherwise the spatial axes go."""
    if fields[0] is None or not op.keepdims:
        return None
    return tuple(AxisField(f.size + (n - 1) * f.stride, f.stride * n, f.start)
                 for f, n in zip(fields[0], ins[0][:-1]))


def same_field(op: O.Op, fields: list[Field], ins: list[Shape], out: Shape) -> Field:
    """Elementwise and per-position ops (Dense on a feature map included) keep the field,
    as long as the spatial axes survive."""
    if fields[0] is None or len(out) != len(ins[0]):
        return None
    return fields[0]


def no_field(op: O.Op, fields: list[Field], ins: list[Shape], out: Shape) -> Field:
    return None


def mixes_spatial_axis(op: O.Op, rank: int) -> bool:
    """The op's `axis` (Keras's count: 0 is the batch) is a spatial axis of a rank-`rank`
    input (batch excluded), not the channels."""
    index = op.axis - 1 if op.axis > 0 else rank + op.axis
    return index != rank - 1


def axis_field(op: O.Op, fields: list[Field], ins: list[Shape], out: Shape) -> Field:
    """Softmax and LayerNormalization over a spatial axis make every output along that axis
    depend on the whole axis (measured in TF): no (size, stride, start) describes it, so no
    field is reported; over the channels they keep the field."""
    if mixes_spatial_axis(op, len(ins[0])):
        return None
    return same_field(op, fields, ins, out)


def merge_fields(op: O.Op, fields: list[Field], misaligned: list[Misalignment]) -> Field:
    """The union of the inputs' fields. An input without a field is left out (a vector or a
    1 x 1 map of global context, as in squeeze-and-excitation, or a map whose positions mix
    along a spatial axis), as receptive fields are usually counted; convplan.verify measures
    with those inputs scaled by 0. Inputs at different strides give an envelope (reported as
    misaligned)."""
    known = [f for f in fields if f is not None]
    if not known:
        return None
    first = known[0]
    if any(len(f) != len(first) for f in known):
        return None
    merged = []
    for axis in range(len(first)):
        axes = [f[axis] for f in known]
        starts = [a.start for a in axes]
        ends = [a.start + a.size for a in axes]
        _check_alignment(op, axis, axes, misaligned)
        start = _fold(arith.minimum, starts)
        merged.append(AxisField(_fold(arith.maximum, ends) - start, axes[0].stride, start))
    return tuple(merged)


def _fold(fn, values):
    result = values[0]
    for v in values[1:]:
        result = fn(result, v)
    return result


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


FIELD_RULES: dict[type, Callable[..., Field]] = {
    O.InputLayer: no_field,
    O._Conv: window_field,
    O._Depthwise: window_field,  # Separable subclasses Depthwise: same window
    O._Pooling: window_field,
    O._ConvTranspose: transpose_field,
    O._UpSampling: upsampling_field,
    O._ZeroPadding: padding_field,
    O._Cropping: cropping_field,
    O._GlobalPooling: global_field,
    O.Flatten: no_field,
    O.Reshape: no_field,
    O.Softmax: axis_field,
    O.LayerNormalization: axis_field,
    O.Op: same_field,
}


def input_field(shape: Shape) -> Field:
    """At an input every pixel sees itself; an input without spatial axes has no field."""
    if len(shape) < 2:
        return None
    return tuple(AxisField(1, 1, 0) for _ in shape[:-1])


def layer_field(op: O.Op, fields: list[Field], ins: list[Shape], out: Shape,
                misaligned: list[Misalignment]) -> Field:
    if isinstance(op, O.Concatenate) and mixes_spatial_axis(op, len(ins[0])):
        return None  # along that axis, the first positions come from one input, the rest not
    if isinstance(op, O._Merge):
        return merge_fields(op, fields, misaligned)
    return rule_for(FIELD_RULES, op)(op, fields, ins, out)
