"""Arithmetic that works on plain ints and on sympy expressions alike.

Rules are written once with these helpers. With concrete input sizes every value stays a Python
int (fast, exact); with symbols they build sympy expressions with TensorFlow's floor and ceiling
semantics. Nested floors are flattened with the identity floor((floor(y) + c) / b) =
floor((y + c) / b) (b a positive integer, c an integer), so deep stride chains stay small.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import reduce
from typing import TypeAlias, TypeVar, overload

import sympy

# sympy ships no type information (mypy sees sympy.Expr as Any), so the int half is what
# mypy checks: an attribute of sympy's on a Value, or a Value passed where an int is needed,
# is an error unless the int case is handled first.
Value: TypeAlias = int | sympy.Expr

_Item = TypeVar("_Item")


def is_concrete(value: Value) -> bool:
    return isinstance(value, int) or (isinstance(value, sympy.Integer))


def simplify_int(value: Value) -> Value:
    """sympy Integers back to int, so concrete pipelines stay in Python ints."""
    if isinstance(value, sympy.Integer):
        return int(value)
    if isinstance(value, sympy.Rational) and value.q == 1:
        return int(value.p)
    return value


def floordiv(a: Value, b: Value) -> Value:
    """floor(a / b) for a positive integer b (an int, or a positive integer symbol or product
    of them, as when `convplan sweep` makes a stride a symbol), flattening nested floors."""
    if isinstance(a, int) and isinstance(b, int):
        return a // b
    a = sympy.sympify(a)
    if b == 1:
        return a
    inner, const = _split_floor_plus_const(a)
    if inner is not None:
        return simplify_int(sympy.floor((inner + const) / b))
    return simplify_int(sympy.floor(a / b))


def ceildiv(a: Value, b: Value) -> Value:
    """ceil(a / b) = floor((a + b - 1) / b) for integer a and positive integer b."""
    return floordiv(a + b - 1, b)


def _split_floor_plus_const(a: sympy.Expr) -> tuple[sympy.Expr | None, sympy.Expr]:
    """If a == floor(y) + c with integer c, return (y, c); else (None, 0)."""
    if isinstance(a, sympy.floor):
        return a.args[0], sympy.Integer(0)
    if isinstance(a, sympy.Add):
        floors = [t for t in a.args if isinstance(t, sympy.floor)]
        rest = [t for t in a.args if not isinstance(t, sympy.floor)]
        if len(floors) == 1 and all(t.is_Integer for t in rest):
            return floors[0].args[0], sympy.Add(*rest)
    return None, sympy.Integer(0)


def maximum(a: Value, b: Value) -> Value:
    if isinstance(a, int) and isinstance(b, int):
        return max(a, b)
    return simplify_int(sympy.Max(a, b))


def minimum(a: Value, b: Value) -> Value:
    if isinstance(a, int) and isinstance(b, int):
        return min(a, b)
    return simplify_int(sympy.Min(a, b))


def product(values: Iterable[Value]) -> Value:
    return reduce(lambda x, y: x * y, values, 1)


def total(values: Iterable[Value]) -> Value:
    values = list(values)
    if all(isinstance(v, int) for v in values):
        return sum(values)
    return simplify_int(sympy.Add(*values))


def equal(a: Value, b: Value) -> bool | None:
    """True or False when decidable for every input size, None when it depends on sizes."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    diff = sympy.simplify(sympy.sympify(a) - b)
    if diff == 0:
        return True
    if diff.is_number:
        return False
    return None


def is_positive(value: Value) -> bool | None:
    """True/False when known for all sizes, None when it depends on them."""
    if isinstance(value, int):
        return value > 0
    positive: bool | None = sympy.sympify(value).is_positive
    return positive


@overload
def substitute(value: tuple[_Item, ...], bindings: Mapping[str, int]) -> tuple[_Item, ...]: ...


@overload
def substitute(value: Value, bindings: Mapping[str, int]) -> Value: ...


def substitute(value: object, bindings: Mapping[str, int]) -> object:
    """Evaluate exactly at concrete symbol values (sympy.Integer arithmetic, no floats); tuples
    and lists (a receptive field's phases) element by element, None stays None."""
    if isinstance(value, int) or value is None:
        return value
    if isinstance(value, (tuple, list)):
        return type(value)(substitute(v, bindings) for v in value)
    result = sympy.sympify(value).xreplace(
        {sympy.Symbol(k, integer=True, positive=True): sympy.Integer(v) for k, v in bindings.items()})
    return simplify_int(result)


def to_json(value: Value | float | None) -> int | float | str | None:
    """ints stay ints; exact rationals that are integers become ints; the rest are strings."""
    if value is None or isinstance(value, float):
        return value
    value = simplify_int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, sympy.Rational):
        return float(value)
    text: str = sympy.sstr(value)
    return text


def symbol(name: str) -> sympy.Symbol:
    return sympy.Symbol(name, integer=True, positive=True)
