"""Numbers, shapes and formulas as people read them.

Numbers are printed by convplan.options (counts with decimal prefixes and three significant
digits, bytes with binary prefixes); this module adds what needs the analysis: formulas, sympy
expressions printed with floor and ceiling brackets and a middle dot for products.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from convplan.analysis.arith import Value, is_concrete, simplify_int, to_json
from convplan.options import format_bytes, format_count


def human(value: Value, unit: str = "") -> str:
    """1234567 -> '1.23M' (convplan.options.format_count); formulas as formulas; None as '-'."""
    value = to_json(value)
    if value is None:
        return "-"
    if isinstance(value, str):
        return format_formula(value)
    return format_count(value, unit)


def human_bytes(value: Value) -> str:
    """204392 -> '200 KiB' (convplan.options.format_bytes); formulas as formulas in bytes."""
    if not isinstance(value, (int, str)) and not is_concrete(value):
        # printed as it is: sympy's text read back would evaluate a memory peak's Max, which
        # compares every pair of its terms (a U-Net's: a minute, to drop none)
        return format_formula(value) + " B"
    value = to_json(value)
    if isinstance(value, str):
        return format_formula(value) + " B"
    return format_bytes(value)


def exact(value: Value) -> str:
    """421642 -> '421,642'; formulas as formulas."""
    value = to_json(value)
    return f"{value:,}" if isinstance(value, int) else format_formula(value)


def shape_text(shape, batch: Any = None) -> str:
    """(28, 28, 32) -> '(None, 28, 28, 32)'; the batch axis first, None unless given."""
    dims = ["None" if batch is None else str(batch)]
    dims += [format_formula(d) for d in shape]
    return "(" + ", ".join(dims) + ")"


def axes_text(values) -> str:
    """One number when every spatial axis agrees, 'HxW' style otherwise."""
    parts = [format_formula(v) for v in values]
    return "x".join(parts) if len(set(parts)) > 1 else parts[0]


def format_formula(value: Any) -> str:
    """A sympy expression (or sympy's text of one) printed readably:
    '8192*floor(H/4)*floor(W/4) + 20234' -> '8192·⌊H/4⌋·⌊W/4⌋ + 20234'.

    Integers print as integers. The text is for people; the JSON report keeps sympy's syntax.
    """
    value = simplify_int(value)
    if value is None or isinstance(value, (int, float)):
        return "-" if value is None else str(value)
    try:
        return _format_expression(value)
    except TypeError:  # unhashable (a list): printed uncached
        return _format_expression.__wrapped__(value)


@lru_cache(maxsize=65_536)
def _format_expression(value: Any) -> str:
    """format_formula of a sympy expression or its text, once per distinct value: a network's
    layers repeat the same shape formulas, and reading and printing one costs milliseconds.
    Expressions are immutable and hash by structure, so the cache is exact."""
    import sympy

    if isinstance(value, str):
        try:
            value = sympy.sympify(value, locals=_symbol_locals(value))
        except (sympy.SympifyError, SyntaxError, TypeError):
            return value
    text = _readable_printer().doprint(value)
    return text.replace("**", "^").replace("*", "·")


@lru_cache(maxsize=1)
def _readable_printer():
    """One printer for the process: it remembers the text of every subexpression it printed
    (convplan.analysis.sympy_text), and formulas share most of theirs."""
    import sympy
    from sympy.printing.str import StrPrinter

    from convplan.analysis.sympy_text import memoized

    class Readable(memoized(StrPrinter)):  # type: ignore[misc]
        # together() writes H/2 - 3/2 as (H - 3)/2, the way the rule was derived; an identity
        def _print_floor(self, expr) -> str:
            return "⌊" + self._print(sympy.together(expr.args[0])) + "⌋"

        def _print_ceiling(self, expr) -> str:
            return "⌈" + self._print(sympy.together(expr.args[0])) + "⌉"

    return Readable()


def _symbol_locals(text: str) -> dict[str, Any]:
    """Names such as 'S', 'N' or 'E' are sympy builtins; read them back as plain symbols."""
    import re

    import sympy

    functions = {"floor", "ceiling", "Max", "Min", "Mod", "Rational"}
    return {name: sympy.Symbol(name, integer=True, positive=True)
            for name in set(re.findall(r"[A-Za-z_]\w*", text)) - functions}
