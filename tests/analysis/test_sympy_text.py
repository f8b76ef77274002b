"""The memoizing printers (convplan.analysis.sympy_text, issue 19) print what sympy prints:
`sstr` equals `sympy.sstr`, and the report's readable printer equals the same printer without
the memo, on drawn formulas that share subexpressions (one printer instance across examples, so
texts remembered from earlier formulas are reused)."""

from __future__ import annotations

import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from convplan.analysis.sympy_text import sstr
from convplan.report import formatting

H, W, B = (sympy.Symbol(n, integer=True, positive=True) for n in ("H", "W", "batch"))

leaves = st.one_of(st.sampled_from([H, W, B]), st.integers(-40, 40).map(sympy.Integer),
                   st.fractions(max_denominator=8).map(sympy.Rational),
                   st.sampled_from([sympy.Float(0.5), sympy.Float(2.0), sympy.Float(1e-3)]))


def _combine(children):
    two = st.tuples(children, children)
    return st.one_of(
        two.map(lambda ab: ab[0] + ab[1]), two.map(lambda ab: ab[0] * ab[1]),
        children.map(lambda a: sympy.floor((a - 1) / 2) + 1),
        children.map(lambda a: sympy.ceiling(a / 3)),
        st.lists(children, min_size=2, max_size=4).map(lambda xs: sympy.Max(*xs, evaluate=False)),
        st.tuples(children, st.integers(2, 3)).map(lambda ap: ap[0] ** ap[1]),
        two.map(lambda ab: sympy.Min(ab[0], ab[1])))


formulas = st.recursive(leaves, _combine, max_leaves=8)


@settings(max_examples=60, deadline=None)
@given(formulas)
def test_sstr_is_sympys(expr):
    assert sstr(expr) == sympy.sstr(expr)


@settings(max_examples=60, deadline=None)
@given(formulas)
def test_readable_printer_is_unchanged_by_the_memo(expr):
    printer = formatting._readable_printer()
    fresh = type(printer)()  # a new instance: nothing remembered
    fresh._texts = _Forgetful()
    assert printer.doprint(expr) == fresh.doprint(expr)


class _Forgetful(dict):
    """A memo that never remembers: the plain printer's behaviour."""

    def __setitem__(self, key, value):
        pass


def test_repeated_pieces_are_printed_once():
    """A Max of sums sharing their floor terms: each distinct floor is printed once."""
    printer = formatting._readable_printer()
    printer._texts.clear()
    terms = [sympy.floor((H - 1) / 2 ** k) + 1 for k in range(1, 5)]
    peak = sympy.Max(*[c * terms[c % 4] * terms[(c + 1) % 4] + c for c in range(1, 40)],
                     evaluate=False)
    calls = []
    original = type(printer)._print_floor

    def counting(self, expr):
        calls.append(expr)
        return original(self, expr)

    type(printer)._print_floor = counting
    try:
        printer.doprint(peak)
    finally:
        type(printer)._print_floor = original
    assert len(calls) == 4
