"""For which input sizes does a size-dependent fact hold? Answers as residue classes.

Window arithmetic is floor division, so anything built from it (a remainder left by a stride,
the parity of TF's 'same' padding, whether two paths of a merge agree) is periodic in an input
size H once H is large: its period divides the product of the denominators inside the floors.
Evaluating one period at a large H gives the exact set of residues, which `Condition.phrase`
states the way people say it: "H is divisible by 16", "H mod 8 is 4, 5, 6 or 7".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

import sympy

MAX_PERIOD = 4096
BASE = 4096  # large enough that every max(., 0) and small-size corner is past


def evaluate(expr: sympy.Expr | int, values: Mapping[sympy.Symbol, int]) -> Fraction:
    """Exact value of an expression of floors, ceilings, Max, Min, Mod, sums and products."""
    if isinstance(expr, int):
        return Fraction(expr)
    if expr.is_Symbol:
        return Fraction(values[expr])
    if expr.is_Rational:
        return Fraction(int(expr.p), int(expr.q))
    args = [evaluate(a, values) for a in expr.args]
    if expr.is_Add:
        return sum(args, Fraction(0))
    if expr.is_Mul:
        return math.prod(args, start=Fraction(1))
    if expr.is_Pow and args[1].denominator == 1:
        return args[0] ** int(args[1])
    if isinstance(expr, sympy.floor):
        return Fraction(math.floor(args[0]))
    if isinstance(expr, sympy.ceiling):
        return Fraction(math.ceil(args[0]))
    if isinstance(expr, sympy.Max):
        return max(args)
    if isinstance(expr, sympy.Min):
        return min(args)
    if isinstance(expr, sympy.Mod):
        return args[0] % args[1]
    raise ValueError(f"cannot evaluate {expr}")


def _period_and_slope(expr: sympy.Expr) -> tuple[int, Fraction] | None:
    """(P, r) with expr(H + P) = expr(H) + r * P for every large H, for an expression of
    one size built from sums, rational multiples, floors, ceilings, Max and Min; None for
    anything else. floor(E) gains P_E * den(r_E * P_E): the smallest multiple of E's period
    over which E grows by a whole number; Max and Min follow the argument that wins for
    large H (the steepest, or the lcm when they grow alike)."""
    if expr.is_Symbol:
        return 1, Fraction(1)
    if expr.is_Rational:
        return 1, Fraction(0)
    if isinstance(expr, sympy.Mod):
        number, modulus = expr.args
        if not modulus.is_Integer:
            return None
        return _period_and_slope(number - modulus * sympy.floor(number / modulus))
    parts = [_period_and_slope(a) for a in expr.args]
    if any(p is None for p in parts):
        return None
    if expr.is_Add:
        return math.lcm(*(p for p, _ in parts)), sum((r for _, r in parts), Fraction(0))
    if expr.is_Mul:
        constant = [a for a in expr.args if a.is_Rational]
        if len(constant) != len(expr.args) - 1:
            return None  # a product of two sizes: not a window's arithmetic
        k = Fraction(int(constant[0].p), int(constant[0].q)) if constant else Fraction(1)
        (period, slope), = [p for a, p in zip(expr.args, parts) if not a.is_Rational]
        return period, k * slope
    if isinstance(expr, (sympy.floor, sympy.ceiling)):
        (period, slope), = parts
        return period * (slope * period).denominator, slope
    if isinstance(expr, (sympy.Max, sympy.Min)):
        steepest = (max if isinstance(expr, sympy.Max) else min)(r for _, r in parts)
        winners = [p for p, r in parts if r == steepest]
        return math.lcm(*winners), steepest
    return None


def period_of(exprs: Iterable[sympy.Expr | int]) -> int | None:
    """A multiple of the period in the input size: the lcm of each expression's
    `_period_and_slope` period, or, where that does not apply, the product over floor,
    ceiling and Mod terms of the denominators inside them (nested floors count once per
    level). None if huge."""
    period = 1
    for expr in exprs:
        if isinstance(expr, int):
            continue
        exact = _period_and_slope(expr)
        if exact is not None:
            period = math.lcm(period, exact[0])
        else:
            for term in expr.atoms(sympy.floor, sympy.ceiling):
                period *= math.lcm(*(int(r.q) for r in term.args[0].atoms(sympy.Rational)), 1)
            for term in expr.atoms(sympy.Mod):
                modulus = term.args[1]
                period *= int(modulus) if modulus.is_Integer else 1
        if period > MAX_PERIOD:
            return None
    return period


def large_values(expr: sympy.Expr | int, context: Iterable[sympy.Expr | int] = (),
                 where: Callable[[Mapping[sympy.Symbol, int]], bool] | None = None
                 ) -> frozenset[Fraction] | None:
    """The values an expression of one input size takes at large sizes (one per residue over
    the period of it and `context`, at the sizes `where` holds); None when it depends on
    several sizes or the period is too large."""
    exprs = [expr, *context]
    symbols = set().union(*(getattr(e, "free_symbols", set()) for e in exprs))
    if not symbols:
        return frozenset({evaluate(expr, {})})
    period = period_of(exprs)
    if len(symbols) != 1 or period is None:
        return None
    (symbol,) = symbols
    base = period * math.ceil(BASE / period)
    sizes = ({symbol: base + r} for r in range(period))
    return frozenset(evaluate(expr, v) for v in sizes if where is None or where(v))


@dataclass(frozen=True)
class Condition:
    """`symbol` mod `period` in `residues` (for large sizes), reduced to the smallest period."""

    symbol: str
    period: int
    residues: frozenset[int]

    def holds_at(self, value: int) -> bool:
        return value % self.period in self.residues

    @property
    def always(self) -> bool:
        return len(self.residues) == self.period

    @property
    def never(self) -> bool:
        return not self.residues

    def phrase(self) -> str:
        """'H is divisible by 16', 'H is odd', 'H mod 8 is 4, 5, 6 or 7', ..."""
        s, q, r = self.symbol, self.period, sorted(self.residues)
        if not r:
            return f"for no value of {s}"
        if len(r) == q:
            return f"for every {s}"
        if q == 2:
            return f"{s} is {'even' if r == [0] else 'odd'}"
        if r == [0]:
            return f"{s} is divisible by {q}"
        if len(r) == q - 1 and 0 not in r:
            return f"{s} is not divisible by {q}"
        if len(r) == 1:
            return f"{s} mod {q} = {r[0]}"
        words = [str(v) for v in r]
        return f"{s} mod {q} is {', '.join(words[:-1])} or {words[-1]}"


def when_clause(condition: Condition | SizeSet | None,
                declared: Mapping[str, int]) -> str | None:
    """'when H is odd (declared 28)'; None without a condition or when it always holds."""
    if condition is None or condition.always:
        return None
    value = declared.get(condition.symbol)
    return f"when {condition.phrase()}" + (f" (declared {value})" if value is not None else "")


def _reduce(symbol: str, period: int, residues: set[int]) -> Condition:
    for q in range(1, period + 1):
        if period % q:
            continue
        reduced = {r % q for r in residues}
        if all(((r % q) in reduced) == (r in residues) for r in range(period)):
            return Condition(symbol, q, frozenset(reduced))
    return Condition(symbol, period, frozenset(residues))


def solve(test: Callable[[Mapping[sympy.Symbol, int]], bool],
          exprs: Iterable[sympy.Expr | int], modulus: int = 1) -> Condition | None:
    """The input sizes for which `test` holds, given the expressions it reads; `modulus`: the
    period of the test's own arithmetic on their values (s for a remainder mod s). None when
    they depend on more than one size (or on none), or the period is too large."""
    exprs = list(exprs)
    symbols = set().union(*(getattr(e, "free_symbols", set()) for e in exprs))
    if len(symbols) != 1:
        return None
    period = period_of(exprs)
    if period is None or period * modulus > MAX_PERIOD:
        return None
    period *= modulus
    (symbol,) = symbols
    base = period * math.ceil(BASE / period)
    good = {r for r in range(period) if test({symbol: base + r})}
    return _reduce(str(symbol), period, good)


# ---------------------------------------------------------------- small sizes

MAX_SMALL = 1 << 16  # the largest input size `small_sizes` scans up to


@dataclass(frozen=True)
class SizeSet:
    """Finitely many values of `symbol` (a fact that holds only for small inputs), as ranges
    (first, last); `floor`: the smallest size at which the network builds at all."""

    symbol: str
    ranges: tuple[tuple[int, int], ...]
    floor: int = 1

    always = False  # the sizes are finitely many

    @property
    def never(self) -> bool:
        return not self.ranges

    def holds_at(self, value: int) -> bool:
        return any(first <= value <= last for first, last in self.ranges)

    def phrase(self) -> str:
        """'H is at most 47' (from the smallest size that builds), 'H is 17 to 31', 'H is 9'."""
        if not self.ranges:
            return f"for no value of {self.symbol}"
        if len(self.ranges) == 1 and self.ranges[0][0] == self.floor > 1:
            return f"{self.symbol} is {self.floor} to {self.ranges[0][1]}"
        if len(self.ranges) == 1 and self.ranges[0][0] == self.floor:
            return f"{self.symbol} is at most {self.ranges[0][1]}"
        words = [str(a) if a == b else f"{a} to {b}" for a, b in self.ranges]
        return f"{self.symbol} is {' or '.join(words)}"


def small_sizes(expr: sympy.Expr, test: Callable[[int], bool], below: int,
                builds: Callable[[Mapping[sympy.Symbol, int]], bool]) -> SizeSet | None:
    """The input sizes at which `test(n)` holds, n = `expr` of one input size, for a test that
    can hold only where n < `below`. Every length in a network is a non-decreasing function of
    the input size (windows, resampling, padding and cropping all are), so those sizes are the
    ones up to the first with n >= below; they are scanned one by one, from the smallest at
    which `builds` (no layer empty; also non-decreasing, so found by bisection)."""
    symbols = getattr(expr, "free_symbols", set())
    if len(symbols) != 1:
        return None
    (symbol,) = symbols
    length = lambda size: int(evaluate(expr, {symbol: size}))  # noqa: E731
    last = 1
    while last < MAX_SMALL and length(last + 1) < below:
        last += 1
    if length(last) >= below or not builds({symbol: last}):
        return SizeSet(str(symbol), ())
    low, high = 1, last  # the smallest size that builds lies in [low, high]
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if builds({symbol: middle}) else (middle + 1, high)
    ranges: list[list[int]] = []
    for size in range(low, last + 1):
        if not test(length(size)):
            continue
        if ranges and ranges[-1][1] == size - 1:
            ranges[-1][1] = size
        else:
            ranges.append([size, size])
    return SizeSet(str(symbol), tuple((a, b) for a, b in ranges), low)

