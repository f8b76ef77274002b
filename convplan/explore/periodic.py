"""Sets of integers n >= 1 defined by floor-linear formulas, in closed form.

Every output length of a conv, pooling, upsampling, padding or cropping layer is a
floor-linear function of the input length n: built from n, integers, +, multiplication by
constants and floor(. / q). Such a function f has a slope s (the rational number f grows by
per unit of n, floors removed) and, with P the least common multiple of the denominators of
the slopes of its floors' arguments,
    f(n + P) = f(n) + s * P    for every n
(induction from the innermost floor: floor(g + s_g * P) = floor(g) + s_g * P when s_g * P is
an integer). So f(n) - s * n is P-periodic, its range over one period bounds it everywhere, and
"f >= 1" and "f != 0" hold for all n past a point computed from those bounds. Past the largest
such point every condition is P-periodic: the set is {n >= start : n mod p in residues} plus a
few smaller exceptions, found by evaluating the conditions exactly on one window.

Max and Min (an Add that broadcasts a 1 outputs the larger input dim) keep this shape when
their arguments grow at the same rate; otherwise the fastest-growing (slowest, for Min)
argument wins past a computable point, and the formula is floor-linear from there on
(`eventual`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy

from convplan.explore.vectorize import compile_formulas, integer_values, is_integral

MAX_PERIOD = 1 << 20
MAX_WINDOW = 1 << 24


class NotPeriodic(ValueError):
    """A formula outside the floor-linear class (a product of two size-dependent terms)."""


@dataclass(frozen=True)
class SizeRule:
    """The integers n >= start with n % period in residues, and the smaller ones in extra."""

    start: int
    period: int
    residues: tuple[int, ...]
    extra: tuple[int, ...] = ()

    def contains(self, n: int) -> bool:
        return n in self.extra or (n >= self.start and n % self.period in self.residues)

    @property
    def empty(self) -> bool:
        return not self.residues and not self.extra

    @property
    def smallest(self) -> int | None:
        if self.extra:
            return min(self.extra)
        return self.start if self.residues else None

    def below(self, n: int) -> int | None:
        """The largest member <= n."""
        if self.residues and n >= self.start:
            for m in range(n, max(self.start, n - self.period) - 1, -1):
                if m % self.period in self.residues:
                    return m
        smaller = [e for e in self.extra if e <= n]
        return max(smaller) if smaller else None

    def above(self, n: int) -> int | None:
        """The smallest member > n."""
        later = [e for e in self.extra if e > n]
        if later:
            return min(later)
        if not self.residues:
            return None
        m = max(n + 1, self.start)
        while m % self.period not in self.residues:
            m += 1
        return m

    def text(self, name: str) -> str:
        """'H >= 16 and H % 16 == 0' style, with exceptions listed."""
        if self.empty:
            return f"no {name} is valid"
        parts = []
        if self.residues:
            first = min(r if r else self.period for r in self.residues)
            if self.start > first or (self.period == 1 and self.start > 1):
                parts.append(f"{name} >= {self.start}")
            if self.period == 1 and self.start == 1:
                parts.append(f"any {name}")
            if self.period > 1:
                if len(self.residues) == 1:
                    r = self.residues[0]
                    parts.append(f"{name} divisible by {self.period}" if r == 0 else
                                 f"{name} % {self.period} == {r}")
                elif self.residues == tuple(range(len(self.residues))):
                    parts.append(f"{name} % {self.period} < {len(self.residues)}")
                else:
                    parts.append(f"{name} % {self.period} in {{"
                                 + ", ".join(map(str, self.residues)) + "}")
        text = " and ".join(parts)
        if self.extra:
            listed = ", ".join(map(str, self.extra))
            text = (f"{name} in {{{listed}}}" + (f", or {text}" if text else ""))
        return text

    def examples(self, count: int = 4) -> list[int]:
        out, n = [], 0
        while len(out) < count:
            nxt = self.above(n)
            if nxt is None:
                break
            out.append(nxt)
            n = nxt
        return out


def slope(expr: sympy.Expr, n: sympy.Symbol) -> Fraction:
    """The growth rate of a floor-linear formula in n (floors removed)."""
    if expr == n:
        return Fraction(1)
    if n not in expr.free_symbols:
        return Fraction(0)
    if isinstance(expr, sympy.Add):
        return sum((slope(a, n) for a in expr.args), Fraction(0))
    if isinstance(expr, sympy.Mul):
        varying = [a for a in expr.args if n in a.free_symbols]
        if len(varying) != 1:
            raise NotPeriodic(f"{expr} is not linear in {n}")
        const = sympy.Mul(*[a for a in expr.args if n not in a.free_symbols])
        if not const.is_Rational:
            raise NotPeriodic(f"{expr} has a non-rational coefficient")
        return Fraction(int(const.p), int(const.q)) * slope(varying[0], n)
    if isinstance(expr, (sympy.floor, sympy.ceiling)):
        return slope(expr.args[0], n)
    if isinstance(expr, (sympy.Max, sympy.Min)):
        slopes = {slope(a, n) for a in expr.args}
        if len(slopes) == 1:
            return slopes.pop()
    raise NotPeriodic(f"{type(expr).__name__} in {expr} is not floor-linear in {n}")


def eventual(expr: sympy.Expr, n: sympy.Symbol) -> tuple[sympy.Expr, int]:
    """`expr` with every Max (Min) reduced to its arguments of the largest (smallest) slope,
    and a point past which the reduced formula equals `expr`."""
    if n not in getattr(expr, "free_symbols", ()) or not expr.args:
        return expr, 1
    parts = [eventual(a, n) for a in expr.args]
    args = [a for a, _ in parts]
    start = max(p for _, p in parts)
    if not isinstance(expr, (sympy.Max, sympy.Min)):
        return expr.func(*args), start
    slopes = [slope(a, n) for a in args]
    best = max(slopes) if isinstance(expr, sympy.Max) else min(slopes)
    winners = [a for a, s in zip(args, slopes) if s == best]
    for loser in (a for a, s in zip(args, slopes) if s != best):
        gap = winners[0] - loser if isinstance(expr, sympy.Max) else loser - winners[0]
        start = max(start, _settle(gap, n, period([gap], n), 0))
    return (winners[0] if len(winners) == 1 else expr.func(*winners)), start


def period(exprs: Sequence[sympy.Expr], n: sympy.Symbol) -> int:
    """P: the lcm of the denominators of the slopes of every floor's argument."""
    dens = [1]
    for expr in exprs:
        for node in sympy.preorder_traversal(expr):
            if isinstance(node, (sympy.floor, sympy.ceiling)) and n in node.free_symbols:
                dens.append(slope(node.args[0], n).denominator)
    p = math.lcm(*dens)
    if p > MAX_PERIOD:
        raise NotPeriodic(f"period {p} is too large")
    return p


def _factors(expr: sympy.Expr) -> list[sympy.Expr]:
    if isinstance(expr, sympy.Mul):
        return [b for f in expr.args for b in _factors(f)]
    if isinstance(expr, sympy.Pow) and expr.exp.is_Integer and expr.exp > 0:
        return _factors(expr.base)
    return [expr]


def _values(expr: sympy.Expr, n: sympy.Symbol, low: int, high: int) -> list[int]:
    program = compile_formulas([expr], {n: (low, high)})
    xs = np.arange(low, high + 1, dtype=np.int64)
    (num, den), = program.run({n: xs})
    count = high - low + 1
    if den is not None:
        raise NotPeriodic(f"{expr} is not integer-valued")
    return [int(v) for v in integer_values((num, None), count)]


def _settle(expr: sympy.Expr, n: sympy.Symbol, p: int, target: int) -> int:
    """A point from which `expr >= target` (slope > 0) or `expr <= target - 2` (slope < 0)
    holds for every larger n; 1 when the formula is periodic (slope 0)."""
    s = slope(expr, n)
    if s == 0:
        return 1
    values = _values(expr, n, 1, p)
    rests = [Fraction(v) - s * x for x, v in zip(range(1, p + 1), values)]
    if s > 0:  # f(n) >= s * n + min(rest) >= target
        return max(1, math.ceil((target - min(rests)) / s))
    return max(1, math.ceil((max(rests) - (target - 2)) / -s))


def settle_point(expr: sympy.Expr, kind: str, n: sympy.Symbol, p: int) -> int:
    """Past this point the truth of the check ('positive': a whole number >= 1; 'zero': == 0)
    is P-periodic in n."""
    if kind == "positive":
        return _settle(expr, n, p, 1)
    # a product is zero when a factor is; a growing factor is never 0 past its settle point
    return max([_settle(f, n, p, 1) for f in _factors(expr)], default=1)


def holds(expr: sympy.Expr, kind: str, n: sympy.Symbol, low: int, high: int) -> np.ndarray:
    """Exact truth of one check at n = low..high."""
    program = compile_formulas([expr], {n: (low, high)})
    xs = np.arange(low, high + 1, dtype=np.int64)
    result, = program.run({n: xs})
    count = high - low + 1
    num, den = result
    if kind == "zero":
        return np.broadcast_to(np.asarray(num) == 0, (count,)).copy()
    return (np.broadcast_to(np.asarray(num >= (1 if den is None else den)), (count,))
            & is_integral(result, count))


def _reduce(residues: set[int], p: int) -> tuple[int, tuple[int, ...]]:
    """The smallest period q dividing p such that the residues are a union of classes mod q."""
    for q in (d for d in range(1, p + 1) if p % d == 0):
        reduced = {r % q for r in residues}
        if {r for r in range(p) if r % q in reduced} == residues:
            return q, tuple(sorted(reduced))
    return p, tuple(sorted(residues))


def solve_checks(checks: Sequence[tuple[sympy.Expr, str]], n: sympy.Symbol) -> SizeRule:
    """The set of n >= 1 where every (formula, kind) check holds, as a SizeRule."""
    reduced = [(eventual(sympy.sympify(e), n), k) for e, k in checks]
    p = period([e for (e, _), _ in reduced], n)
    settle = max([max(start, settle_point(e, k, n, p)) for (e, start), k in reduced],
                 default=1)
    high = settle + 2 * p
    if high > MAX_WINDOW:
        raise NotPeriodic(f"the conditions settle only past n = {settle}")
    ok = np.ones(high, dtype=bool)
    for expr, kind in checks:
        ok &= holds(expr, kind, n, 1, high)
    window = {x % p for x in range(settle, settle + p) if ok[x - 1]}
    q, residues = _reduce(window, p)
    rule = set(residues)

    def in_rule(x: int) -> bool:
        return x % q in rule
    start = settle
    while start > 1 and ok[start - 2] == in_rule(start - 1):
        start -= 1
    if residues:
        while start % q not in rule:
            start += 1
    extra = tuple(x for x in range(1, start) if ok[x - 1])
    return SizeRule(start, q, residues, extra)
