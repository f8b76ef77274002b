"""sympy's printers, printing each distinct subexpression once.

A network's formulas repeat the same pieces: ResNet50's training-memory peak is a Max of a
hundred sums that share their floor terms, and sympy's printer orders the terms of every Add
and Mul it meets again (`as_ordered_terms`, milliseconds each). `memoized(StrPrinter)` is the
same printer with `_print` remembered per subexpression; expressions are immutable and compare
by structure, so a remembered text is the text sympy would print. The one context a
StrPrinter's output depends on is whether a node is printed at the top (`_print_level`, which
decides how a Float's zeros are stripped); it is part of the key. `sstr(expr)` equals
`sympy.sstr(expr)` (tests/analysis/test_sympy_text.py compares them on drawn expressions).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

_MAX_TEXTS = 200_000


def memoized(printer_class: Any) -> Any:
    """A subclass of sympy printer class `printer_class` whose instances print each distinct
    subexpression once (for the instance's lifetime: its settings are fixed)."""

    class Memoized(printer_class):  # type: ignore[misc]
        def __init__(self, settings: dict[str, Any] | None = None) -> None:
            super().__init__(settings)
            self._texts: dict[tuple[type, Any, bool], str] = {}

        def _print(self, expr: Any, **kwargs: Any) -> str:
            if kwargs:
                return str(super()._print(expr, **kwargs))
            try:
                key = (type(expr), expr, self._print_level == 0)
                text = self._texts.get(key)
            except TypeError:  # unhashable (a list)
                return str(super()._print(expr))
            if text is None:
                if len(self._texts) > _MAX_TEXTS:  # a long-running process: start afresh
                    self._texts.clear()
                text = self._texts[key] = super()._print(expr)
            return text

    Memoized.__name__ = Memoized.__qualname__ = f"Memoized{printer_class.__name__}"
    return Memoized


@lru_cache(maxsize=1)
def _str_printer() -> Any:
    from sympy.printing.str import StrPrinter

    return memoized(StrPrinter)()


def sstr(expr: Any) -> str:
    """`sympy.sstr(expr)` with default settings, each distinct subexpression printed once."""
    text: str = _str_printer().doprint(expr)
    return text
