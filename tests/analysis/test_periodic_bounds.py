"""Bounded periodic formulas are compared by their exact range (issue #13: RegNetX002's symbolic
analysis took 10-25 s; merges of paths whose 'same' pads follow the size's parity nested Max and
Min without end)."""

from __future__ import annotations

import sympy
from hypothesis import given
from hypothesis import strategies as st
from test_symbolic_consistency import assert_same

from convplan import NetworkBuilder, analyze
from convplan.analysis import arith
from convplan.analysis.periodic_bounds import periodic_range

N = arith.symbol("H")


@st.composite
def unit_slope_terms(draw):
    """A floor-linear term of slope 1 in N: N, q*floor((N + c)/q), q*ceiling((N + c)/q), or a
    nested q*r*floor((floor((N + c)/q) + d)/r)."""
    kind = draw(st.sampled_from(["n", "floor", "ceiling", "nested"]))
    q, r = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    c, d = draw(st.integers(-7, 7)), draw(st.integers(-3, 3))
    if kind == "n":
        return N
    if kind == "floor":
        return q * sympy.floor((N + c) / q)
    if kind == "ceiling":
        return q * sympy.ceiling((N + c) / q)
    return q * r * sympy.floor((sympy.floor((N + c) / q) + d) / r)


@given(plus=st.lists(unit_slope_terms(), min_size=1, max_size=3),
       minus=st.lists(unit_slope_terms(), min_size=1, max_size=3),
       constant=st.integers(-5, 5), scale=st.integers(-3, 3))
def test_range_is_the_brute_force_range(plus, minus, constant, scale):
    # Equal numbers of slope-1 terms added and subtracted: slope 0, so periodic.
    while len(plus) != len(minus):
        (plus if len(plus) < len(minus) else minus).append(N)
    expr = arith.simplify_int(scale * (sympy.Add(*plus) - sympy.Add(*minus)) + constant)
    values = [arith.substitute(expr, {"H": n}) for n in range(1, 400)]
    assert periodic_range(expr) == (min(values), max(values)), expr


def test_growing_or_several_symbol_formulas_have_no_range():
    w = arith.symbol("W")
    assert periodic_range(N - 2 * sympy.floor(N / 3)) is None  # slope 1/3
    assert periodic_range(N - 2 * sympy.floor(N / 2) + w - 2 * sympy.floor(w / 2)) is None
    assert periodic_range(sympy.Max(0, N - 2 * sympy.floor(N / 2))) is None
    assert periodic_range(N - 2 * sympy.floor(N / 2)) == (0, 1)


def regnet_like(stages: int, size="H") -> NetworkBuilder:
    """RegNet X blocks: a 1x1 stride-2 'valid' skip beside 1x1, 3x3 stride-2 'same' grouped,
    1x1 convolutions, added; then a stride-1 block. The 'same' pad follows H's parity."""
    net = NetworkBuilder("regnet_like")
    x = net.input("image", [size, size, 3])
    x = net.Conv2D(x, filters=8, kernel_size=3, strides=2, padding="same")
    for s in range(stages):
        for stride in (2, 1):
            skip = net.Conv2D(x, filters=16, kernel_size=1, strides=stride) if stride > 1 else x
            y = net.Conv2D(x, filters=16, kernel_size=1)
            y = net.Conv2D(y, filters=16, kernel_size=3, strides=stride, padding="same",
                           groups=2)
            y = net.Conv2D(y, filters=16, kernel_size=1)
            x = net.ReLU(net.Add([y, skip], name=f"add_{s}_{stride}"))
    return net


def test_strided_blocks_keep_their_field_a_number():
    graph = regnet_like(4).build()
    symbolic = analyze(graph, generalize=True)
    last = symbolic.layers[-1]
    field = last.receptive_field
    # The paths' ends differ by the parity of H; the envelope is decided for every size (was a
    # nest of Max terms growing with every stage).
    assert all(isinstance(axis.size, int) for axis in field), field
    assert all(sympy.count_ops(axis.start) < 120 for axis in field), field
    for h in [31, 32, 33, 46, 47, 64, 95, 96, 97]:
        assert_same(symbolic.at({"H": h, "W": h}), analyze(graph, input_size=(h, h)))


@given(stages=st.integers(1, 3), sizes=st.lists(st.integers(8, 120), min_size=1, max_size=4))
def test_strided_blocks_formulas_equal_concrete_analysis(stages, sizes):
    graph = regnet_like(stages).build()
    symbolic = analyze(graph, generalize=True)
    for h in sizes:
        assert_same(symbolic.at({"H": h, "W": h}), analyze(graph, input_size=(h, h)))
