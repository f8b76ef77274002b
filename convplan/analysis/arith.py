"""Arithmetic that works on plain ints and on sympy expressions alike.

Rules are written once with these helpers. With concrete input sizes every value stays a Python
int (fast, exact); with symbols they build sympy expressions with TensorFlow's floor and ceiling
semantics. Nested floors are flattened with the identity floor((floor(y) + c) / b) =
floor((y + c) / b) (b a positive integer, c an integer), so deep stride chains stay small.

sympy is imported on first use, never on the int path: a concrete analysis does not pay the
half second its import costs (tests/analysis/test_lazy_sympy.py keeps it so).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from functools import lru_cache, reduce
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, Union, overload

if TYPE_CHECKING:
    import sympy

# sympy ships no type information (mypy sees sympy.Expr as Any), so the int half is what
# mypy checks: an attribute of sympy's on a Value, or a Value passed where an int is needed,
# is an error unless the int case is handled first. A string forward reference keeps the alias
# free of sympy at run time.
Value: TypeAlias = Union[int, "sympy.Expr"]  # noqa: UP007

_Item = TypeVar("_Item")


def sympy_module() -> Any:
    """The sympy module, imported on first use (after that a dictionary look-up)."""
    module = sys.modules.get("sympy")
    if module is None:
        import sympy

        module = sympy
    return module


def is_concrete(value: Value) -> bool:
    if isinstance(value, int):
        return True
    sp = sys.modules.get("sympy")  # not imported yet: `value` is no sympy object
    return sp is not None and isinstance(value, sp.Integer)


def simplify_int(value: Value) -> Value:
    """sympy Integers back to int, so concrete pipelines stay in Python ints."""
    if isinstance(value, int):
        return value
    sp = sys.modules.get("sympy")
    if sp is None:  # not a sympy object (None, a float, a string): unchanged
        return value
    if isinstance(value, sp.Integer):
        return int(value)
    if isinstance(value, sp.Rational) and value.q == 1:
        return int(value.p)
    return value


def floordiv(a: Value, b: Value) -> Value:
    """floor(a / b) for a positive integer b (an int, or a positive integer symbol or product
    of them, as when `convplan sweep` makes a stride a symbol), flattening nested floors."""
    if isinstance(a, int) and isinstance(b, int):
        return a // b
    return _floordiv(a, b)


@lru_cache(maxsize=65_536)
def _floordiv(a: Value, b: Value) -> Value:
    """floordiv of formulas, once per distinct pair: the layers of a stage divide the same
    sizes by the same strides (sympy values are immutable and hash by structure)."""
    sympy = sympy_module()
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
    sympy = sympy_module()
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
    return _extremum(a, b, True)


def minimum(a: Value, b: Value) -> Value:
    if isinstance(a, int) and isinstance(b, int):
        return min(a, b)
    return _extremum(a, b, False)


@lru_cache(maxsize=65_536)
def _extremum(a: Value, b: Value, largest: bool) -> Value:
    """sympy's Max or Min, once per distinct pair (deciding which is larger takes sympy
    milliseconds, and 'same' padding asks it per layer for the same sizes)."""
    sympy = sympy_module()
    return simplify_int(sympy.Max(a, b) if largest else sympy.Min(a, b))


def product(values: Iterable[Value]) -> Value:
    return reduce(lambda x, y: x * y, values, 1)


def total(values: Iterable[Value]) -> Value:
    values = list(values)
    if all(isinstance(v, int) for v in values):
        return sum(values)
    return simplify_int(sympy_module().Add(*values))


def equal(a: Value, b: Value) -> bool | None:
    """True or False when decidable for every input size, None when it depends on sizes."""
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    sympy = sympy_module()
    diff = sympy.sympify(a) - b
    # A bounded periodic difference (centres of paths whose 'same' pads follow the size's
    # parity) is decided from its exact range, which sympy.simplify spends seconds failing to.
    from convplan.analysis.periodic_bounds import periodic_range

    bounds = periodic_range(simplify_int(diff)) if diff.free_symbols else None
    if bounds is not None and bounds[0] != bounds[1]:
        return None
    if bounds == (0, 0):
        return True
    if diff.is_Number:  # decided without simplify: a literal number stays what it is
        return bool(diff == 0)
    if _varies(diff):  # takes two values: neither zero nor constant, simplify or not
        return None
    diff = _simplified(diff)
    if diff == 0:
        return True
    if diff.is_number:
        return False
    return None


# Sizes at which `_varies` evaluates a difference: distinct per symbol and of both parities, so
# that differences which follow the size modulo a stride show it.
_SAMPLES = ((64, 7), (65, 11), (71, 3))


def _varies(diff: sympy.Expr) -> bool:
    """Whether `diff` provably takes two different values: evaluated exactly at a few sizes
    (each symbol a different positive integer), two finite results differ. Seconds of
    sympy.simplify are spent otherwise, on `L - 2*floor(L/2)` and the like, to learn only that
    the difference is not zero. False means "could not tell", never "constant"."""
    sympy = sympy_module()
    symbols = sorted(diff.free_symbols, key=str)
    seen = None
    for base, step in _SAMPLES:
        value = diff.xreplace({s: sympy.Integer(base + step * i) for i, s in enumerate(symbols)})
        if not value.is_Rational:  # not evaluated to a finite number there: no evidence
            continue
        if seen is not None and value != seen:
            return True
        seen = value
    return False


@lru_cache(maxsize=4096)
def _simplified(diff: sympy.Expr) -> sympy.Expr:
    """sympy.simplify once per distinct difference (checks compare the same sizes often)."""
    return sympy_module().simplify(diff)


def is_positive(value: Value) -> bool | None:
    """True/False when known for all sizes, None when it depends on them."""
    if isinstance(value, int):
        return value > 0
    positive: bool | None = sympy_module().sympify(value).is_positive
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
    sympy = sympy_module()
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
    sympy = sympy_module()
    if isinstance(value, sympy.Rational):
        return float(value)
    if isinstance(value, sympy.Basic):
        return _sstr(value)
    text: str = sympy.sstr(value)
    return text


@lru_cache(maxsize=65_536)
def _sstr(value: sympy.Expr) -> str:
    """sympy's text of an expression, once per distinct expression: a network's layers repeat
    the same few shape formulas, and printing (term ordering) is most of a formula report's
    time. Expressions are immutable and hash by structure, so the cache is exact; inside one,
    each distinct subexpression is printed once too (convplan.analysis.sympy_text)."""
    from convplan.analysis.sympy_text import sstr

    return sstr(value)


def symbol(name: str) -> sympy.Symbol:
    return sympy_module().Symbol(name, integer=True, positive=True)
