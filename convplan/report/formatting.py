"""Numbers, shapes and formulas as people read them.

Counts use decimal prefixes (K = 10^3, M = 10^6, G = 10^9, T = 10^12) with three significant
digits; bytes use binary prefixes (KiB = 2^10, MiB = 2^20, GiB = 2^30). Formulas are sympy
expressions printed with floor and ceiling brackets and a middle dot for products.
"""

from __future__ import annotations

from typing import Any

from convplan.analysis.arith import Value, simplify_int, to_json

NUMBER_PREFIXES = "K/M/G/T = 10^3/10^6/10^9/10^12 (3 significant digits)"
BYTE_PREFIXES = "KiB/MiB/GiB = 2^10/2^20/2^30 bytes"


def human(value: Value, unit: str = "") -> str:
    """1234567 -> '1.23M'; symbolic values are printed as formulas."""
    value = to_json(value)
    if value is None:
        return "-"
    if isinstance(value, str):
        return format_formula(value)
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}{unit}"
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def human_bytes(value: Value) -> str:
    """204392 -> '200 KiB'; symbolic values are printed as formulas in bytes."""
    value = to_json(value)
    if isinstance(value, str):
        return format_formula(value) + " B"
    for factor, suffix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= factor:
            return f"{value / factor:.3g} {suffix}"
    return f"{value} B"


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
    import sympy

    if isinstance(value, str):
        try:
            value = sympy.sympify(value, locals=_symbol_locals(value))
        except (sympy.SympifyError, SyntaxError, TypeError):
            return value
    text = _readable_printer().doprint(value)
    return text.replace("**", "^").replace("*", "·")


def _readable_printer():
    import sympy
    from sympy.printing.str import StrPrinter

    class Readable(StrPrinter):
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
