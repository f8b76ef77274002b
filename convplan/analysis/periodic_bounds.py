"""The exact range of a bounded floor-linear formula in one input size, to compare field ends.

A floor-linear formula f(n) (n, integers, +, constant factors, floor and ceiling of such) with
slope 0 is periodic: with P the least common multiple of the denominators of the slopes of its
floors' arguments, f(n + P) = f(n) for every integer n (see convplan/explore/periodic.py, which
solves conditions on such formulas). Its values over n = 1..P are then all the values it takes.

Where paths whose 'same' pads depend on the input size's parity merge (RegNet's strided blocks:
a 1x1 stride-2 skip beside a 3x3 stride-2 'same' conv), their field ends differ by such a
formula; knowing its range decides which end is the extreme for every size, where sympy's Max
and Min could not and nested without end (RegNetX002's symbolic analysis took tens of seconds).
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import Any

from convplan.analysis import arith

MAX_PERIOD = 1 << 12  # beyond this, evaluating a period costs more than the comparison is worth


def _slope(expr: Any, n: Any, denominators: list[int]) -> Fraction | None:
    """The slope of a floor-linear formula in n (None outside that class); appends the
    denominator of the slope of every floor's or ceiling's argument."""
    sympy = arith.sympy_module()
    if expr == n:
        return Fraction(1)
    if expr.is_Number:
        return Fraction(0) if expr.is_Rational else None
    if isinstance(expr, sympy.Add):
        total = Fraction(0)
        for term in expr.args:
            s = _slope(term, n, denominators)
            if s is None:
                return None
            total += s
        return total
    if isinstance(expr, sympy.Mul):
        coefficient, rest = expr.as_coeff_Mul()
        if not coefficient.is_Rational or isinstance(rest, sympy.Mul):
            return None
        s = _slope(rest, n, denominators)
        return None if s is None else s * Fraction(int(coefficient.p), int(coefficient.q))
    if isinstance(expr, (sympy.floor, sympy.ceiling)):
        s = _slope(expr.args[0], n, denominators)
        if s is not None:
            denominators.append(s.denominator)
        return s
    return None


@lru_cache(maxsize=4096)
def periodic_range(expr: Any) -> tuple[int, int] | None:
    """(least, greatest) value of a slope-0 floor-linear formula in one size symbol over every
    size; None where the formula is not one (several symbols, a nonzero slope, Max/Min, a
    period above MAX_PERIOD)."""
    if isinstance(expr, int):
        return expr, expr
    free = expr.free_symbols
    if len(free) != 1:
        return None
    (n,) = free
    denominators: list[int] = []
    if _slope(expr, n, denominators) != 0:
        return None
    period = math.lcm(1, *denominators)
    if period > MAX_PERIOD:
        return None
    values = [arith.substitute(expr, {str(n): v}) for v in range(1, period + 1)]
    if not all(isinstance(v, int) for v in values):
        return None
    return min(values), max(values)


def never_negative(expr: Any) -> bool:
    """Whether expr >= 0 for every size (False where unknown)."""
    if isinstance(expr, int):
        return expr >= 0
    bounds = periodic_range(expr)
    return bounds is not None and bounds[0] >= 0
