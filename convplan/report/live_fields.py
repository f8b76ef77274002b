"""Receptive fields with no formula, tabulated for the live page.

After resampling, a layer's field can depend on its input size modulo the strides
(Analysis.size_dependent_fields, periodic_field.SIZE_DEPENDENT): no formula, but a concrete
analysis gives it. Per spatial axis, with the axis's input size n a symbol of its own and the
other axes at the page's opening sizes, `field_tables` runs concrete analyses and stores:

- every n below n0 = 2P + 16 explicitly (the small sizes where a max(., 0) may still bite);
- from n0 on, per residue r = (n - n0) mod P, the linear form base + k * step,
  k = (n - n0) // P, measured at n0 + r, n0 + r + P and n0 + r + 2P and kept only where the
  three agree (each integer part grows by the same step, each fraction stays put).

P is the period of the axis's output lengths (convplan.explore.periodic.period: the lcm of the
slopes' denominators inside their floors), which is also the period of every 'same' padding
and so of the field past the small sizes. 5P + 15 concrete analyses per axis (no sympy:
about 2 ms each on a small U-Net). A layer keeps "size-dependent" where this does not hold
(no single input with one symbol per axis, a period over MAX_PERIOD, three representatives
that disagree as after a Resizing to a fixed size, or no field at the opening size on another
axis).

An axis entry encodes a field as [size, stride, start, phases]: integers as JSON numbers,
fractions as the text 'n/d' (the page's Ratio), phases null or a list of null or [first, last];
null for the whole entry: no field at that size (or a size the CLI refuses: the page shows its
error instead).
"""

from __future__ import annotations

from typing import Any

from convplan.analysis import Analysis
from convplan.ir.graph import Graph

MAX_PERIOD = 64


def field_tables(graph: Graph, symbolic: Analysis, start: dict[str, int]
                 ) -> dict[str, list[dict[str, Any]]]:
    """{layer name: one table per spatial axis} for the size-dependent layers that tabulate."""
    import sympy

    from convplan.explore.periodic import NotPeriodic, period

    names = list(symbolic.size_dependent_fields)
    if not names or len(graph.inputs) != 1:
        return {}
    source = symbolic.layer(graph.inputs[0]).output_shape
    rank = len(source) - 1  # spatial axes, then channels
    symbols = list(symbolic.symbols)
    axis_symbols = [str(d) for d in source[:rank]]
    if any(s not in symbols for s in axis_symbols) or len(set(axis_symbols)) != rank:
        return {}
    per_axis: list[dict[str, dict[str, Any] | None]] = []
    for axis, name in enumerate(axis_symbols):
        n = sympy.Symbol(name, integer=True, positive=True)
        lengths = [layer.output_shape[axis] for layer in symbolic.layers
                   if len(layer.output_shape) > axis]
        try:
            p = period([sympy.sympify(x).subs({s: n for s in sympy.sympify(x).free_symbols
                                                if str(s) == name}) for x in lengths], n)
        except NotPeriodic:
            return {}
        if p > MAX_PERIOD:
            return {}
        per_axis.append(_axis_tables(graph, names, axis, start, axis_symbols, name,
                                     symbols.index(name), p))
    return {layer: [tables[layer] for tables in per_axis] for layer in names  # type: ignore
            if all(tables[layer] is not None for tables in per_axis)}


def _axis_tables(graph: Graph, names: list[str], axis: int, start: dict[str, int],
                 axis_symbols: list[str], name: str, sym: int, p: int
                 ) -> dict[str, dict[str, Any] | None]:
    """Per layer, the table of axis `axis` (None where the representatives disagree)."""
    n0 = 2 * p + 16
    at = {n: _fields(graph, names, axis, [n if s == name else start[s]
                                           for s in axis_symbols]) for n in range(1, n0 + 3 * p)}
    tables: dict[str, dict[str, Any] | None] = {}
    for i, layer in enumerate(names):
        if all(at[n] is None or at[n][i] is None for n in at):  # nothing to learn from:
            tables[layer] = None  # refused, or no field from another axis at its opening size
            continue
        base, step = [], []
        for r in range(p):
            values = [None if at[n0 + r + k * p] is None else at[n0 + r + k * p][i]
                      for k in range(3)]
            first, second = _difference(values[0], values[1]), _difference(values[1], values[2])
            if first is _MISMATCH or first != second:
                break
            base.append(values[0])
            step.append(first)
        else:
            tables[layer] = {"sym": sym, "n0": n0, "p": p, "base": base, "step": step,
                             "small": [None if at[n] is None else at[n][i]
                                       for n in range(1, n0)]}
            continue
        tables[layer] = None
    return tables


def _fields(graph: Graph, names: list[str], axis: int, size: list[int]) -> list[Any] | None:
    """Each layer's field on `axis` at `size` (None: no field), or None where the CLI refuses
    the size."""
    from convplan.analysis import analyze
    from convplan.errors import ConvplanError

    try:
        concrete = analyze(graph, input_size=tuple(size))
    except ConvplanError:
        return None
    out: list[Any] = []
    for layer in names:
        field = concrete.layer(layer).receptive_field
        if field is None:
            out.append(None)
            continue
        a = field[axis]
        out.append([_number(a.size), _number(a.stride), _number(a.start),
                    [None if ph is None else [_number(ph[0]), _number(ph[1])]
                     for ph in a.phases] or None])
    return out


def _number(value: Any) -> int | str:
    """An int, or a fraction as 'n/d'."""
    from fractions import Fraction

    q = Fraction(str(value))
    return int(q) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


_MISMATCH = object()


def _difference(a: Any, b: Any) -> Any:
    """b - a part by part (the same shape: 0 for equal fractions); _MISMATCH otherwise."""
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        parts = [_difference(x, y) for x, y in zip(a, b)]
        return _MISMATCH if any(x is _MISMATCH for x in parts) else parts
    if isinstance(a, int) and isinstance(b, int):
        return b - a
    if a == b and (a is None or isinstance(a, str)):
        return None if a is None else 0
    return _MISMATCH
