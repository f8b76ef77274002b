"""Periodic receptive fields per spatial axis: the algebra the per-op rules are written in.

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

Operations (pure functions of fields, no op in sight): `to_periodic` and `to_axis_field` convert
between the two forms, `gather` builds a layer's field from the positions each output reads,
`shifted` moves a field (padding, cropping), `union` merges the fields of several paths.
Outcomes are values, not exceptions: an axis of a layer whose outputs see no input pixel is
None, and one whose field depends on the input size modulo the strides is `SIZE_DEPENDENT` (no
formula describes it, a concrete analysis does); the receptive-field walk records both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from convplan.analysis import arith
from convplan.analysis.arith import Value


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
        twice = 2 * self.start + last
        if isinstance(twice, int) and twice % 2 == 0:  # whole: no sympy on the int path
            return twice // 2
        return arith.simplify_int(arith.sympy_module().Rational(1, 2) * twice)


Field = tuple[AxisField, ...] | None


@dataclass(frozen=True)
class SizeDependentField:
    """The outcome (SIZE_DEPENDENT, its one value) where, after resampling, a field depends on
    the input size modulo the strides (or on a merge of paths whose offsets do): no formula;
    analyze() reports the layer's field as None and lists it in
    Analysis.size_dependent_fields, and a concrete analysis gives it."""


SIZE_DEPENDENT = SizeDependentField()

# One axis of a layer: its field; None where no output sees an input pixel (a window that reads
# only the positions a transposed convolution with kernel < stride leaves empty: the outputs do
# not depend on the input, so the layer has no field, like a layer after global context); or
# SIZE_DEPENDENT.
AxisOutcome = AxisField | SizeDependentField | None
# A layer: its field (None: it has none) or SIZE_DEPENDENT.
FieldOutcome = Field | SizeDependentField


def layer_of(axes: Iterable[AxisOutcome]) -> FieldOutcome:
    """A layer's field from its axes' outcomes, taken in order (lazily): the first axis that
    sees nothing (None) or depends on the size (SIZE_DEPENDENT) decides for the layer."""
    fields = []
    for axis in axes:
        if not isinstance(axis, AxisField):
            return axis
        fields.append(axis)
    return tuple(fields)


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
    sympy = arith.sympy_module()
    residue = sympy.Mod(x, q)
    chosen = sympy.Piecewise(*[(v, sympy.Eq(residue, r)) for r, v in enumerate(values[:-1])],
                             (values[-1], True))
    return arith.simplify_int(chosen + shift * arith.floordiv(x, q))


def _same(a: Value, b: Value) -> bool:
    """Equal for every size, as far as sympy's automatic simplification tells (fast; where it
    cannot tell, a period merely stays longer than it needs to be)."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return bool(arith.sympy_module().sympify(a - b) == 0)


def reduce_period(p: Periodic) -> Periodic:
    """The shortest period that describes the same field."""
    for q in range(1, p.q):
        if p.q % q:
            continue
        if isinstance(p.shift, int) and p.shift * q % p.q == 0:
            shift: Value = p.shift * q // p.q
        elif isinstance(p.shift, int) and all(isinstance(v, int) for v in p.firsts + p.lasts):
            continue  # whole firsts cannot step by a fraction: no need for sympy to tell
        else:
            shift = arith.simplify_int(arith.sympy_module().Rational(q, p.q) * p.shift)
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
    if isinstance(value, int) and value % q == 0:  # whole: no sympy on the int path
        return value // q
    value = arith.sympy_module().Rational(value, q) if isinstance(value, int) else value / q
    return arith.simplify_int(value)


def _fold(fn: Callable[[Value, Value], Value], values: Sequence[Value]) -> Value:
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
        next_seen, previous_seen = seen[ahead % q], seen[behind % q]
        assert next_seen is not None and previous_seen is not None
        firsts[r] = arith.simplify_int(next_seen[0] + shift * (ahead // q))
        lasts[r] = arith.simplify_int(previous_seen[1] + shift * (behind // q))
    return Periodic(q, shift, tuple(firsts), tuple(lasts),
                    frozenset(r for r in range(q) if seen[r] is None))


def _hull(p: Periodic, read: list[Value]) -> tuple[Value, Value] | SizeDependentField:
    """From the first pixel to the last that positions `read` (ascending) see. On a uniform
    field that is first(read[0]) to last(read[-1]); with a period, first and last need not
    grow with the position (bicubic reads one pixel at whole positions and four between; a
    dilated window over an upsampled map skips positions that see nothing), so all count;
    SIZE_DEPENDENT where they cannot be compared (_pick)."""
    if p.q == 1:
        return p.first(read[0]), p.last(read[-1])
    first = _pick([p.first(t) for t in read], largest=False)
    if first is None:
        return SIZE_DEPENDENT
    last = _pick([p.last(t) for t in read], largest=True)
    if last is None:
        return SIZE_DEPENDENT
    return first, last


def gather(p: Periodic, q: int, shift: Value, taps: Callable[[int], list[Value]]
           ) -> AxisOutcome:
    """The field of a layer whose output r reads the previous layer's positions taps(r)
    (ascending), for r in one period q; it sees the hull of what the taps that see something
    see, or nothing (None where no output sees anything). A tap at a symbolic position cannot
    be told empty or not; those are taken as seeing something (exact unless a transposed conv
    with kernel < stride came before)."""
    seen: list[tuple[Value, Value] | None] = []
    for r in range(q):
        read = taps(r)
        if p.empty and all(isinstance(arith.simplify_int(t), int) for t in read):
            read = [t for t in read if p.sees(arith.simplify_int(t))]
        if not read:
            seen.append(None)
            continue
        hull = _hull(p, read)
        if isinstance(hull, SizeDependentField):
            return hull
        seen.append(hull)
    if all(s is None for s in seen):
        return None
    return to_axis_field(_fill_gaps(q, shift, seen))


def shifted(f: AxisField, offset: int) -> AxisOutcome:
    """Output i sees what input position i + offset saw (cropping +, zero padding -)."""
    p = to_periodic(f)
    return gather(p, p.q, p.shift, lambda r: [r + offset])


def pick_field(pad: Value, options: dict[int, AxisField]) -> AxisField | SizeDependentField:
    """The field if every value `pad` can take gives the same one (else SIZE_DEPENDENT:
    formulas for it would be case analyses no report could print)."""
    fields = list(options.values())
    if any(f != fields[0] for f in fields[1:]):
        return SIZE_DEPENDENT
    return fields[0]


def _pick(values: Sequence[Value], largest: bool) -> Value | None:
    """The least or greatest of values that differ by whole numbers (first(i) of a periodic
    field is first(0) + a whole number, likewise last(i)), compared as those numbers: sympy's
    Min and Max of symbolic terms would nest without end. None where values differ by more
    than whole numbers (a merge of paths whose 'same' pads depend on the size)."""
    offsets = [arith.simplify_int(v - values[0]) for v in values]
    whole = [o for o in offsets if isinstance(o, int)]
    if len(whole) != len(offsets):
        return _pick_bounded(values, offsets, largest)
    return values[whole.index(max(whole) if largest else min(whole))]


def _pick_bounded(values: Sequence[Value], offsets: list[Value], largest: bool) -> Value | None:
    """_pick where values differ by bounded periodic formulas (paths whose 'same' pads depend
    on the size's parity): the value that is the extreme for every size, if one is."""
    from convplan.analysis.periodic_bounds import never_negative

    sign = 1 if largest else -1
    for i, candidate in enumerate(offsets):
        if all(j == i or never_negative(arith.simplify_int(sign * (candidate - other)))
               for j, other in enumerate(offsets)):
            return values[i]
    return None


def _extreme(values: Sequence[Value], largest: bool) -> Value:
    """Min or Max across merged paths: by whole-number offsets where they have them (_pick),
    else sympy's (paths whose starts differ by size: exact, and a later hull that cannot
    compare them says SIZE_DEPENDENT)."""
    picked = _pick(values, largest)
    if picked is not None:
        return picked
    return _fold(arith.maximum if largest else arith.minimum, list(values))


def union(axes: Sequence[AxisField]) -> AxisField:
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
