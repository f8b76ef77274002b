"""Receptive fields per spatial axis through any DAG.

For each layer and axis, output pixel i sees the input pixels from first(i) to last(i) (the hull:
a dilated kernel skips some in between). Both are non-decreasing in i and periodic: with q
outputs per period, first(i + q) = first(i) + shift. Windows keep q = 1 on a uniform field; an
upsampling or transposed convolution by s makes q = s (neighbouring outputs then see shifted or
differently sized windows), a later stride may bring it back to 1. Reported per axis
(`AxisField`): ``size`` = the most pixels any output sees, max(last(i) - first(i) + 1);
``stride`` = shift / q (the average jump between neighbouring outputs, a fraction after
upsampling); ``start`` = first(0), negative where it lies in padding; ``phases`` = () when
output i sees [start + i * stride, start + i * stride + size - 1], else the q pairs
(first(r) - start, last(r) - start), r < q, from which output k * q + r sees those plus k * shift.

Rules, for a window with kernel k, stride s, dilation d and TF's padding before p (asymmetric
'same' included): first'(i) = first(i * s - p), last'(i) = last(i * s - p + (k - 1) * d), so on a
uniform field size' = size + (k - 1) * d * stride, stride' = stride * s, start' = start - p *
stride. Transposed convolution: output o gathers inputs i with i * s + m * d - p = o for taps
m < k. Upsampling by u: nearest reads o // u; interpolations read the neighbours of
x = (o + 1/2) / u - 1/2 (TF's half-pixel centres; measured with gradients). Merges take the
union of their inputs' fields and report paths whose strides or centres differ.

Symbolic sizes: on a uniform field everything is a formula. After resampling, a strided 'same'
window whose padding depends on the input size can make the field depend on the size modulo
the strides; where it does (SizeDependentField), the layer's field is None (no formula), and a
concrete analysis at the size in question gives it exactly.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable, Sequence
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
    # () on a uniform field; else one (first - start, last - start) per output of a period, or
    # None for an output that sees no input pixel (see the module docstring).
    phases: tuple[tuple[Value, Value] | None, ...] = ()

    @property
    def centre(self) -> Value:
        """Centre of output 0's field: start + (last(0) - start) / 2 (a half-integer maybe)."""
        last = self.phases[0][1] if self.phases and self.phases[0] else self.size - 1
        return arith.simplify_int(sympy.Rational(1, 2) * (2 * self.start + last))


Field = tuple[AxisField, ...] | None


@dataclass(frozen=True)
class Misalignment:
    """Two paths into a merge see the input at different strides or centres."""

    layer: str
    axis: int
    message: str


# ---------------------------------------------------------------- periodic fields


@dataclass(frozen=True)
class Periodic:
    """first(i) = shift * (i // q) + firsts[i % q], likewise last (module docstring). Outputs
    whose residue is in `empty` see nothing; they hold the next output's first and the previous
    output's last, so a hull taken across them stays right."""

    q: int
    shift: Value
    firsts: tuple[Value, ...]
    lasts: tuple[Value, ...]
    empty: frozenset[int] = frozenset()

    def first(self, x: Value) -> Value:
        return _periodic_at(self.firsts, self.q, self.shift, x)

    def last(self, x: Value) -> Value:
        return _periodic_at(self.lasts, self.q, self.shift, x)

    def sees(self, x: int) -> bool:
        return x % self.q not in self.empty

    def expand(self, q: int) -> Periodic:
        """The same field written with a period q, a multiple of self.q."""
        return Periodic(q, arith.simplify_int(self.shift * (q // self.q)),
                        tuple(self.first(r) for r in range(q)),
                        tuple(self.last(r) for r in range(q)),
                        frozenset(r for r in range(q) if not self.sees(r)))


def _periodic_at(values: tuple[Value, ...], q: int, shift: Value, x: Value) -> Value:
    if q == 1:
        return arith.simplify_int(values[0] + shift * x)
    x = arith.simplify_int(x)
    if isinstance(x, int):
        k, r = divmod(x, q)
        return arith.simplify_int(values[r] + shift * k)
    # A symbolic position (a 'same' pad that depends on the input size): pick by residue.
    residue = sympy.Mod(x, q)
    chosen = sympy.Piecewise(*[(v, sympy.Eq(residue, r)) for r, v in enumerate(values[:-1])],
                             (values[-1], True))
    return arith.simplify_int(chosen + shift * arith.floordiv(x, q))


def _same(a: Value, b: Value) -> bool:
    """Equal for every size, as far as sympy's automatic simplification tells (fast; where it
    cannot tell, a period merely stays longer than it needs to be)."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return sympy.sympify(a - b) == 0


def reduce_period(p: Periodic) -> Periodic:
    """The shortest period that describes the same field."""
    for q in range(1, p.q):
        if p.q % q:
            continue
        shift = arith.simplify_int(sympy.Rational(q, p.q) * p.shift)
        if all(_same(p.firsts[r + q], p.firsts[r] + shift) and
               _same(p.lasts[r + q], p.lasts[r] + shift) and
               ((r + q) in p.empty) == (r in p.empty) for r in range(p.q - q)):
            return Periodic(q, shift, p.firsts[:q], p.lasts[:q],
                            frozenset(r for r in p.empty if r < q))
    return p


def to_periodic(f: AxisField) -> Periodic:
    if not f.phases:
        return Periodic(1, f.stride, (f.start,), (arith.simplify_int(f.start + f.size - 1),))
    q = len(f.phases)
    seen = [None if ph is None else (arith.simplify_int(f.start + ph[0]),
                                     arith.simplify_int(f.start + ph[1])) for ph in f.phases]
    return _fill_gaps(q, arith.simplify_int(f.stride * q), seen)


def to_axis_field(p: Periodic) -> AxisField:
    p = reduce_period(p)
    start = p.firsts[0]
    sizes = [arith.simplify_int(p.lasts[r] - p.firsts[r] + 1) for r in range(p.q)
             if r not in p.empty] or [0]
    size = _extreme(sizes, largest=True)
    stride = _ratio(p.shift, p.q)
    if p.q == 1:
        return AxisField(size, stride, start)
    phases = tuple(None if r in p.empty else (arith.simplify_int(p.firsts[r] - start),
                                              arith.simplify_int(p.lasts[r] - start))
                   for r in range(p.q))
    return AxisField(size, stride, start, phases)


def _ratio(value: Value, q: int) -> Value:
    value = sympy.Rational(value, q) if isinstance(value, int) else value / q
    return arith.simplify_int(value)


def _fold(fn, values):
    result = values[0]
    for v in values[1:]:
        result = fn(result, v)
    return result


def _fill_gaps(q: int, shift: Value, seen: list[tuple[Value, Value] | None]) -> Periodic:
    """A Periodic from what each output of one period sees (None: nothing); the outputs that
    see nothing take the next output's first and the previous output's last."""
    firsts: list[Value] = [0] * q
    lasts: list[Value] = [0] * q
    for r in range(q):
        ahead = next(j for j in range(r, r + q) if seen[j % q] is not None)
        behind = next(j for j in range(r, r - q, -1) if seen[j % q] is not None)
        firsts[r] = arith.simplify_int(seen[ahead % q][0] + shift * (ahead // q))
        lasts[r] = arith.simplify_int(seen[behind % q][1] + shift * (behind // q))
    return Periodic(q, shift, tuple(firsts), tuple(lasts),
                    frozenset(r for r in range(q) if seen[r] is None))


def _hull(p: Periodic, read: list[Value]) -> tuple[Value, Value]:
    """From the first pixel to the last that positions `read` (ascending) see. On a uniform
    field that is first(read[0]) to last(read[-1]); with a period, first and last need not
    grow with the position (bicubic reads one pixel at whole positions and four between; a
    dilated window over an upsampled map skips positions that see nothing), so all count."""
    if p.q == 1:
        return p.first(read[0]), p.last(read[-1])
    return (_pick([p.first(t) for t in read], largest=False),
            _pick([p.last(t) for t in read], largest=True))


def gather(p: Periodic, q: int, shift: Value, taps: Callable[[int], list[Value]]) -> AxisField:
    """The field of a layer whose output r reads the previous layer's positions taps(r)
    (ascending), for r in one period q; it sees the hull of what the taps that see something
    see, or nothing. A tap at a symbolic position cannot be told empty or not; those are taken
    as seeing something (exact unless a transposed conv with kernel < stride came before)."""
    seen: list[tuple[Value, Value] | None] = []
    for r in range(q):
        read = taps(r)
        if p.empty and all(isinstance(arith.simplify_int(t), int) for t in read):
            read = [t for t in read if p.sees(arith.simplify_int(t))]
        seen.append(_hull(p, read) if read else None)
    if all(s is None for s in seen):
        raise SeesNothing
    return to_axis_field(_fill_gaps(q, shift, seen))


class SeesNothing(Exception):
    """No output of the layer sees an input pixel (a window that reads only the positions a
    transposed convolution with kernel < stride leaves empty): its outputs do not depend on
    the input, so it has no field, like a layer after global context (layer_field: None)."""


# ---------------------------------------------------------------- rules


def _window_axis(f: AxisField, n: Value, k: int, s: int, d: int, padding: str) -> AxisField:
    """Output i reads positions i * s - p + j * d, j < k; the period becomes q / gcd(q, s)."""
    pad = arith.simplify_int(padding_before(n, k, s, d, padding))
    if not f.phases:  # uniform: closed form, also for a sweep's symbolic k, s and d
        return AxisField(arith.simplify_int(f.size + (k - 1) * d * f.stride),
                         arith.simplify_int(f.stride * s),
                         arith.simplify_int(f.start - pad * f.stride))
    if not all(isinstance(v, int) for v in (k, s, d)):
        # A periodic field needs the taps one by one; a TypeError makes a sweep enumerate
        # these choices instead, which stays exact.
        raise TypeError("receptive fields after resampling need a concrete kernel size, "
                        "stride and dilation")
    p = to_periodic(f)
    g = math.gcd(p.q, s)
    q, shift = p.q // g, arith.simplify_int(p.shift * (s // g))

    def field_for(pad: Value) -> AxisField:
        return gather(p, q, shift, lambda r: [r * s - pad + j * d for j in range(k)])

    if isinstance(pad, int) or p.q == 1:
        return field_for(pad)
    # A 'same' pad that depends on the input size, on a non-uniform field: TF's pad is one of
    # a few values (its total lies in [max(k_eff - s, 0), k_eff - 1]); try each.
    k_eff = effective_kernel(k, d)
    options = {c: field_for(c) for c in sorted({t // 2 for t in range(max(k_eff - s, 0),
                                                                      k_eff)})}
    return pick_field(pad, options)


class SizeDependentField(Exception):
    """After resampling, the field depends on the input size modulo the strides (or on a
    merge of paths whose offsets do): no formula; analyze() reports the layer's field as None
    and lists it in Analysis.size_dependent_fields, and a concrete analysis gives it."""


def pick_field(pad: Value, options: dict[int, AxisField]) -> AxisField:
    """The field if every value `pad` can take gives the same one (else SizeDependentField:
    formulas for it would be case analyses no report could print)."""
    fields = list(options.values())
    if any(f != fields[0] for f in fields[1:]):
        raise SizeDependentField
    return fields[0]


def _pick(values: Sequence[Value], largest: bool) -> Value:
    """The least or greatest of values that differ by whole numbers (first(i) of a periodic
    field is first(0) + a whole number, likewise last(i)), compared as those numbers: sympy's
    Min and Max of symbolic terms would nest without end. Values that differ by more than
    whole numbers (a merge of paths whose 'same' pads depend on the size) raise
    SizeDependentField."""
    offsets = [arith.simplify_int(v - values[0]) for v in values]
    if not all(isinstance(o, int) for o in offsets):
        raise SizeDependentField
    return values[offsets.index(max(offsets) if largest else min(offsets))]


def window_field(op: O.Op, fields: list[Field], ins: list[Shape], out: Shape) -> Field:
    if fields[0] is None:
        return None
    if isinstance(op, O.Pooling):
        kernel, dilation = op.pool_size, (1,) * op.spatial_rank
    else:
        kernel, dilation = op.kernel_size, op.dilation_rate
    return tuple(_window_axis(f, n, k, s, d, op.padding)
                 for f, n, k, s, d in zip(fields[0], ins[0][:-1], kernel, op.strides, dilation))


def transpose_field(op: O.ConvTranspose, fields: list[Field], ins: list[Shape],
                    out: Shape) -> Field:
    """Output o gathers inputs i = (o + p - m * d) / s, for taps m < k where that is whole;
    TF's p is the 'same' crop before (windows.transpose_padding_before), 0 for 'valid'."""
    if fields[0] is None:
        return None
    result = []
    for f, n, m_out, k, s, d in zip(fields[0], ins[0][:-1], out[:-1], op.kernel_size,
                                    op.strides, op.dilation_rate):
        pad = arith.simplify_int(transpose_padding_before(n, m_out, k, s, d, op.padding))
        assert isinstance(pad, int), pad  # Keras's output lengths make it a constant
        p = to_periodic(f)
        result.append(gather(p, p.q * s, p.shift, lambda o, pad=pad, k=k, s=s, d=d: sorted(
            (o + pad - m * d) // s for m in range(k) if (o + pad - m * d) % s == 0)))
    return tuple(result)


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
                     out: Shape) -> Field:
    if fields[0] is None:
        return None
    interpolation = getattr(op, "interpolation", "nearest")
    result = []
    for f, u in zip(fields[0], op.size):
        p = to_periodic(f)
        result.append(gather(p, p.q * u, p.shift,
                             lambda o, u=u: upsample_taps(o, u, interpolation)))
    return tuple(result)


def _shifted(f: AxisField, offset: int) -> AxisField:
    """Output i sees what input position i + offset saw (cropping +, zero padding -)."""
    p = to_periodic(f)
    return gather(p, p.q, p.shift, lambda r: [r + offset])


def padding_field(op: O.ZeroPadding, fields: list[Field], ins: list[Shape],
                  out: Shape) -> Field:
    if fields[0] is None:
        return None
    return tuple(_shifted(f, -a) for f, (a, _) in zip(fields[0], op.padding))


def cropping_field(op: O.Cropping, fields: list[Field], ins: list[Shape], out: Shape) -> Field:
    if fields[0] is None:
        return None
    return tuple(_shifted(f, a) for f, (a, _) in zip(fields[0], op.cropping))


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


def _extreme(values: Sequence[Value], largest: bool) -> Value:
    """Min or Max across merged paths: by whole-number offsets where they have them (_pick),
    else sympy's (paths whose starts differ by size: exact, and a later hull that cannot
    compare them says SizeDependentField)."""
    try:
        return _pick(values, largest)
    except SizeDependentField:
        return _fold(arith.maximum if largest else arith.minimum, list(values))


def _union(axes: Sequence[AxisField]) -> AxisField:
    """Per output, the hull of what each input path sees; paths at one stride merge exactly,
    otherwise (reported as misaligned) from the smallest start to the largest end."""
    if all(_same(a.stride, axes[0].stride) for a in axes[1:]):
        periodics = [to_periodic(a) for a in axes]
        q = math.lcm(*(p.q for p in periodics))
        periodics = [p.expand(q) for p in periodics]
        seen: list[tuple[Value, Value] | None] = []
        for r in range(q):
            paths = [p for p in periodics if r not in p.empty]
            seen.append((_extreme([p.firsts[r] for p in paths], largest=False),
                         _extreme([p.lasts[r] for p in paths], largest=True))
                        if paths else None)
        return to_axis_field(_fill_gaps(q, periodics[0].shift, seen))
    start = _fold(arith.minimum, [a.start for a in axes])
    end = _fold(arith.maximum, [a.start + a.size for a in axes])
    return AxisField(arith.simplify_int(end - start), axes[0].stride, start)


# Set by a sweep's derivation (convplan.explore.derive): where broadcasting depends on the
# size, count the input as if it did not broadcast; the sweep finds the rows where it does and
# analyzes those at their concrete values.
ASSUME_NO_BROADCAST: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "assume_no_broadcast", default=False)


def broadcasts(shape: Shape, out: Shape) -> bool:
    """The merge stretches this input along a spatial axis (length 1 there, longer out).
    Where that depends on the input size (symbolic lengths that are not the same formula: a
    merge condition, see shapes._broadcast), SizeDependentField (see ASSUME_NO_BROADCAST)."""
    if len(shape) != len(out):
        return False
    stretched = False
    for a, b in zip(shape[:-1], out[:-1]):
        if arith.is_concrete(a) and arith.is_concrete(b):
            stretched = stretched or (a == 1 and b != 1)
        elif not undecided_broadcast(a, b):
            continue
        elif not ASSUME_NO_BROADCAST.get():
            raise SizeDependentField
    return stretched


def undecided_broadcast(length: Value, out: Value) -> bool:
    """Whether an input of this length may or may not be stretched to `out`, by size."""
    return not (arith.is_concrete(length) and arith.is_concrete(out)) and \
        arith.equal(length, out) is not True


def counted_inputs(op: O.Op, fields: list[Field], ins: list[Shape], out: Shape) -> list[bool]:
    """Which inputs of a merge its field counts: those with a field that are not broadcast
    (Concatenate never broadcasts)."""
    if isinstance(op, O.Concatenate):
        return [f is not None for f in fields]
    return [f is not None and not broadcasts(s, out) for f, s in zip(fields, ins)]


def merge_fields(op: O.Op, fields: list[Field], misaligned: list[Misalignment],
                 ins: list[Shape], out: Shape) -> Field:
    """The union of the inputs' fields. Global context is left out, as receptive fields are
    usually counted: an input without a field (a vector, or a map whose positions mix along a
    spatial axis) and an input broadcast along a spatial axis (a 1 x 1 map, as
    squeeze-and-excitation's; every output would see all of it); convplan.verify measures
    with those inputs scaled by 0. Inputs at different strides give an envelope (reported as
    misaligned)."""
    known = [f for f, counted in zip(fields, counted_inputs(op, fields, ins, out)) if counted]
    if not known:
        return None
    first = known[0]
    if any(len(f) != len(first) for f in known):
        return None
    for axis in range(len(first)):
        _check_alignment(op, axis, [f[axis] for f in known], misaligned)
    return tuple(_union([f[axis] for f in known]) for axis in range(len(first)))


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
    O.Conv: window_field,
    O.Depthwise: window_field,  # Separable subclasses Depthwise: same window
    O.Pooling: window_field,
    O.ConvTranspose: transpose_field,
    O.UpSampling: upsampling_field,
    O.ZeroPadding: padding_field,
    O.Cropping: cropping_field,
    O.GlobalPooling: global_field,
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
    if isinstance(op, O.Merge):
        return merge_fields(op, fields, misaligned, ins, out)
    try:
        return rule_for(FIELD_RULES, op)(op, fields, ins, out)
    except SeesNothing:
        return None
