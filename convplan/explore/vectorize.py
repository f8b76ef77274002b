"""Evaluate sympy formulas on numpy arrays exactly: a straight-line program of integer ops.

`sympy.lambdify` would turn floor(x / s) into a float division and a float floor; this module
keeps TensorFlow's integer semantics instead. Every value is a fraction num / den of integer
arrays with den > 0, so
    floor(n / d) = numpy.floor_divide(n, d)          (exact for any sign of n),
    ceiling(n / d) = -floor_divide(-n, d),
    Max(a / b, c / d) compares a * d with c * b,
and a rational coefficient (the 1/2 of floor((H - 1) / 2)) never becomes a float. Identical
subexpressions are computed once (the program is built from a memo over the expression trees).

Overflow cannot go unnoticed: every register carries integer bounds derived (by interval
arithmetic) from the bounds of the symbols; when any bound leaves the int64 range the program
runs on Python integers (numpy object arrays) instead: slower, still exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

INT64_SAFE = 2**62

Fraction = tuple[int, "int | None"]  # (numerator register, denominator register or None = 1)


class UnsupportedExpression(ValueError):
    """The formula holds a function this evaluator does not implement."""


def _corners(fn: Callable[[int, int], Any], a: tuple[int, int], b: tuple[int, int]
             ) -> tuple[int, int]:
    values = [fn(x, y) for x in a for y in b]
    return min(values), max(values)


@dataclass(frozen=True)
class Program:
    """Compiled formulas: `run(env)` returns one (numerator, denominator or None) per formula."""

    init: tuple[Any, ...]  # register -> constant, or None for a symbol's register
    symbols: tuple[tuple[sympy.Symbol, int], ...]
    steps: tuple[tuple[Callable[..., Any], tuple[int, ...], int], ...]
    outputs: tuple[Fraction, ...]
    exact_int64: bool  # False: bounds exceed int64, run on Python ints

    def run(self, env: Mapping[sympy.Symbol, Any]) -> list[tuple[Any, Any]]:
        regs = list(self.init)
        dtype = np.int64 if self.exact_int64 else object
        for sym, slot in self.symbols:
            regs[slot] = np.asarray(env[sym]).astype(dtype, copy=False)
        for fn, args, out in self.steps:
            regs[out] = fn(*(regs[a] for a in args))
        return [(regs[n], None if d is None else regs[d]) for n, d in self.outputs]


class _Builder:
    def __init__(self, bounds: Mapping[sympy.Symbol, tuple[int, int]]) -> None:
        self.bounds_of = bounds
        self.init: list[Any] = []
        self.bounds: list[tuple[int, int]] = []
        self.steps: list[tuple[Callable[..., Any], tuple[int, ...], int]] = []
        self.symbols: dict[sympy.Symbol, int] = {}
        self.consts: dict[int, int] = {}
        self.memo: dict[sympy.Expr, Fraction] = {}
        self.done: dict[tuple[Any, ...], int] = {}

    # -- registers --------------------------------------------------------------------
    def _new(self, value: Any, bound: tuple[int, int]) -> int:
        self.init.append(value)
        self.bounds.append(bound)
        return len(self.init) - 1

    def const(self, value: int) -> int:
        if value not in self.consts:
            self.consts[value] = self._new(int(value), (int(value), int(value)))
        return self.consts[value]

    def symbol(self, sym: sympy.Symbol) -> int:
        if sym not in self.symbols:
            if sym not in self.bounds_of:
                raise UnsupportedExpression(f"no values given for symbol {sym}")
            low, high = self.bounds_of[sym]
            self.symbols[sym] = self._new(None, (int(low), int(high)))
        return self.symbols[sym]

    def step(self, fn: Callable[..., Any], args: tuple[int, ...], bound: tuple[int, int]) -> int:
        key = (fn, args)
        if key not in self.done:
            self.done[key] = self._new(None, bound)
            self.steps.append((fn, args, self.done[key]))
        return self.done[key]

    # -- integer operations with bounds -----------------------------------------------
    def add(self, a: int, b: int) -> int:
        (la, ha), (lb, hb) = self.bounds[a], self.bounds[b]
        return self.step(np.add, (a, b), (la + lb, ha + hb))

    def mul(self, a: int, b: int) -> int:
        if self.init[a] == 1:
            return b
        if self.init[b] == 1:
            return a
        return self.step(np.multiply, (a, b),
                         _corners(lambda x, y: x * y, self.bounds[a], self.bounds[b]))

    def neg(self, a: int) -> int:
        low, high = self.bounds[a]
        return self.step(np.negative, (a,), (-high, -low))

    def floordiv(self, a: int, b: int) -> int:
        if self.bounds[b][0] < 1:
            raise UnsupportedExpression("a denominator that can be zero or negative")
        return self.step(np.floor_divide, (a, b),
                         _corners(lambda x, y: x // y, self.bounds[a], self.bounds[b]))

    def extreme(self, fn: Callable[..., Any], a: int, b: int) -> int:
        (la, ha), (lb, hb) = self.bounds[a], self.bounds[b]
        pick = max if fn is np.maximum else min
        return self.step(fn, (a, b), (pick(la, lb), pick(ha, hb)))

    def where_ge(self, left: int, right: int, a: int, b: int) -> int:
        """a where left >= right, else b."""
        (la, ha), (lb, hb) = self.bounds[a], self.bounds[b]
        cond = self.step(np.greater_equal, (left, right), (0, 1))
        return self.step(np.where, (cond, a, b), (min(la, lb), max(ha, hb)))

    # -- fractions --------------------------------------------------------------------
    def frac_add(self, x: Fraction, y: Fraction) -> Fraction:
        (a, da), (b, db) = x, y
        if da is None and db is None:
            return self.add(a, b), None
        if da == db:
            return self.add(a, b), da
        one = self.const(1)
        da_, db_ = da if da is not None else one, db if db is not None else one
        return self.add(self.mul(a, db_), self.mul(b, da_)), self.mul(da_, db_)

    def frac_mul(self, x: Fraction, y: Fraction) -> Fraction:
        (a, da), (b, db) = x, y
        num = self.mul(a, b)
        if da is None or db is None:
            return num, da if db is None else db
        return num, self.mul(da, db)

    def frac_extreme(self, fn: Callable[..., Any], x: Fraction, y: Fraction) -> Fraction:
        (a, da), (b, db) = x, y
        if da is None and db is None:
            return self.extreme(fn, a, b), None
        one = self.const(1)
        da_, db_ = da if da is not None else one, db if db is not None else one
        left, right = self.mul(a, db_), self.mul(b, da_)
        if fn is np.minimum:
            left, right = right, left
        return self.where_ge(left, right, a, b), self.where_ge(left, right, da_, db_)

    def integer(self, x: Fraction) -> int:
        """floor of a fraction (the identity on integers)."""
        n, d = x
        return n if d is None else self.floordiv(n, d)

    # -- expressions ------------------------------------------------------------------
    def emit(self, expr: Any) -> Fraction:
        expr = sympy.sympify(expr)
        if expr in self.memo:
            return self.memo[expr]
        result = self._emit(expr)
        self.memo[expr] = result
        return result

    def _emit(self, e: sympy.Expr) -> Fraction:
        if e.is_Integer:
            return self.const(int(e)), None
        if e.is_Rational:
            return self.const(int(e.p)), self.const(int(e.q))
        if e.is_Symbol:
            return self.symbol(e), None
        if isinstance(e, sympy.Add):
            parts = [self.emit(t) for t in _ordered(e.args)]
            result = parts[0]
            for part in parts[1:]:
                result = self.frac_add(result, part)
            return result
        if isinstance(e, sympy.Mul):
            parts = [self.emit(t) for t in _ordered(e.args)]
            result = parts[0]
            for part in parts[1:]:
                result = self.frac_mul(result, part)
            return result
        if isinstance(e, sympy.Pow):
            return self._power(e)
        if isinstance(e, sympy.floor):
            return self.integer(self.emit(e.args[0])), None
        if isinstance(e, sympy.ceiling):
            n, d = self.emit(e.args[0])
            return (n, None) if d is None else (self.neg(self.floordiv(self.neg(n), d)), None)
        if isinstance(e, (sympy.Max, sympy.Min)):
            fn = np.maximum if isinstance(e, sympy.Max) else np.minimum
            parts = [self.emit(a) for a in _ordered(e.args)]
            result = parts[0]
            for part in parts[1:]:
                result = self.frac_extreme(fn, result, part)
            return result
        if isinstance(e, sympy.Mod):
            # Mod(x, y) = x - y * floor(x / y), with y > 0
            x, y = self.emit(e.args[0]), self.emit(e.args[1])
            quotient = self.integer(_divide(self, x, y))
            return self.frac_add(x, self.frac_mul((self.neg(quotient), None), y))
        if isinstance(e, sympy.Piecewise):
            return self._piecewise(e)
        raise UnsupportedExpression(f"cannot evaluate {type(e).__name__} in {e}")

    def _piecewise(self, e: sympy.Piecewise) -> Fraction:
        """Piecewise((v1, c1), ..., (vn, True)) as nested selections, last piece first: each
        condition a comparison of two formulas (a parity test Eq(Mod(x, 2), 0), from a
        receptive field after resampling), decided on the sign of their difference's
        numerator (denominators here are positive)."""
        pieces = list(e.args)
        value, last = pieces[-1]
        if last is not sympy.true:
            raise UnsupportedExpression(f"a Piecewise without a last True piece in {e}")
        result = self.emit(value)
        for value, condition in reversed(pieces[:-1]):
            result = self._select(condition, self.emit(value), result)
        return result

    def _select(self, condition: Any, then: Fraction, other: Fraction) -> Fraction:
        """`then` where the condition holds, else `other`: a comparison, or And / Or / Not of
        conditions (sympy joins parity tests so: Eq(Mod(x, 3), 0) | Eq(Mod(x, 3), 1)) as
        nested selections."""
        if condition is sympy.true:
            return then
        if condition is sympy.false:
            return other
        if isinstance(condition, sympy.Not):
            return self._select(condition.args[0], other, then)
        if isinstance(condition, (sympy.And, sympy.Or)):
            first, *rest = condition.args
            rest_condition = type(condition)(*rest) if rest else (
                sympy.true if isinstance(condition, sympy.And) else sympy.false)
            if isinstance(condition, sympy.And):
                return self._select(first, self._select(rest_condition, then, other), other)
            return self._select(first, then, self._select(rest_condition, then, other))
        kinds = {sympy.Eq: "eq", sympy.Ne: "ne", sympy.Ge: "ge", sympy.Gt: "gt",
                 sympy.Le: "le", sympy.Lt: "lt"}
        kind = kinds.get(type(condition))
        if kind is None:
            raise UnsupportedExpression(f"cannot evaluate the condition {condition}")
        left, right = self.emit(condition.lhs), self.emit(condition.rhs)
        n, _ = self.frac_add(left, (self.neg(right[0]), right[1]))  # sign of left - right
        zero, one = self.const(0), self.const(1)
        if kind in ("eq", "ne"):
            if kind == "ne":
                then, other = other, then
            inner = self._where(n, zero, then, other, reverse=True)  # n <= 0
            return self._where(n, zero, inner, other)  # and n >= 0
        if kind == "ge":
            return self._where(n, zero, then, other)
        if kind == "gt":  # n is an integer: n > 0 is n >= 1
            return self._where(n, one, then, other)
        if kind == "le":
            return self._where(n, zero, then, other, reverse=True)
        return self._where(self.neg(n), one, then, other)  # lt: -n >= 1

    def _where(self, left: int, right: int, a: Fraction, b: Fraction,
               reverse: bool = False) -> Fraction:
        """a where left >= right (right >= left with `reverse`), else b, fraction by fraction."""
        if reverse:
            left, right = right, left
        (na, da), (nb, db) = a, b
        if da is None and db is None:
            return self.where_ge(left, right, na, nb), None
        one = self.const(1)
        return (self.where_ge(left, right, na, nb),
                self.where_ge(left, right, da if da is not None else one,
                              db if db is not None else one))

    def _power(self, e: sympy.Pow) -> Fraction:
        base, exponent = e.args
        if not exponent.is_Integer:
            raise UnsupportedExpression(f"non-integer power in {e}")
        n = int(exponent)
        x = self.emit(base)
        if n < 0:
            num, den = x
            if self.bounds[num][0] < 1:
                raise UnsupportedExpression(f"division by a value that can be <= 0 in {e}")
            x, n = ((den if den is not None else self.const(1)), num), -n
        result = x
        for _ in range(n - 1):  # exponents here are small (a spatial rank)
            result = self.frac_mul(result, x)
        return result


def _divide(builder: _Builder, x: Fraction, y: Fraction) -> Fraction:
    (a, da), (b, db) = x, y
    if builder.bounds[b][0] < 1:
        raise UnsupportedExpression("Mod by a value that can be <= 0")
    one = builder.const(1)
    return builder.mul(a, db if db is not None else one), builder.mul(da if da is not None
                                                                      else one, b)


def _ordered(args: Sequence[sympy.Expr]) -> list[sympy.Expr]:
    """A deterministic order (sympy's args order can depend on hashing)."""
    return sorted(args, key=sympy.default_sort_key)


def compile_formulas(formulas: Sequence[Any], bounds: Mapping[sympy.Symbol, tuple[int, int]]
                     ) -> Program:
    """Compile formulas over symbols whose values lie within `bounds` (inclusive)."""
    builder = _Builder(bounds)
    outputs = tuple(builder.emit(f) for f in formulas)
    fits = all(-INT64_SAFE < low and high < INT64_SAFE for low, high in builder.bounds)
    return Program(tuple(builder.init), tuple(builder.symbols.items()), tuple(builder.steps),
                   outputs, fits)


def integer_values(result: tuple[Any, Any], size: int) -> np.ndarray:
    """An integer-valued formula's values (floor of the fraction), broadcast to `size`."""
    num, den = result
    values = num if den is None else np.floor_divide(num, den)
    return _as_array(values, size)


def is_integral(result: tuple[Any, Any], size: int) -> np.ndarray:
    """Where the fraction is a whole number."""
    num, den = result
    if den is None:
        return np.ones(size, dtype=bool)
    return _as_array(np.remainder(num, den) == 0, size)


def float_values(result: tuple[Any, Any], size: int) -> np.ndarray:
    num, den = result
    values = num if den is None else np.true_divide(num, den)
    return _as_array(values, size).astype(np.float64)


def _as_array(values: Any, size: int) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype == object:
        try:
            array = array.astype(np.int64)
        except OverflowError:
            pass
    if array.shape != (size,):
        array = np.broadcast_to(array, (size,)).copy()
    return array
