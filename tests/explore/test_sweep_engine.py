"""The pieces of a sweep: exact vectorized formulas, Pareto fronts, filters, collectors."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from conftest import EXAMPLES
from hypothesis import given
from hypothesis import strategies as st

from convplan import load
from convplan.analysis.arith import substitute, symbol
from convplan.errors import UsageError
from convplan.explore.choices import parse_varies
from convplan.explore.collect import BestRows, ParetoFront, Sample, nondominated
from convplan.explore.sweep import Chunk, Sweep
from convplan.explore.vectorize import compile_formulas, float_values, integer_values
from convplan.explore.where import parse_number, parse_where, where_mask

N, S, D, K = (symbol(n) for n in ("n", "s", "d", "k"))
BOUNDS = {N: (1, 400), S: (1, 6), D: (1, 4), K: (1, 9)}


@st.composite
def formulas(draw, depth: int = 3) -> sympy.Expr:
    """Floor-linear and Max/Min formulas like the rules build, with rational coefficients."""
    leaf = st.sampled_from([N, S, D, K, sympy.Integer(draw(st.integers(-7, 7))),
                            sympy.Rational(draw(st.integers(-5, 5)), draw(st.integers(1, 4)))])
    if depth == 0:
        return draw(leaf)
    a, b = draw(formulas(depth - 1)), draw(formulas(depth - 1))
    kind = draw(st.sampled_from(["add", "mul", "floor", "ceiling", "max", "min", "mod",
                                 "piecewise", "leaf"]))
    if kind == "add":
        return a + b
    if kind == "mul":
        return a * draw(st.sampled_from([S, K, sympy.Integer(3), sympy.Rational(1, 2)]))
    if kind in ("floor", "ceiling"):
        fn = sympy.floor if kind == "floor" else sympy.ceiling
        return fn(a / draw(st.sampled_from([S, D * S, sympy.Integer(2), K + 1])))
    if kind == "max":
        return sympy.Max(a, b)
    if kind == "min":
        return sympy.Min(a, b)
    if kind == "mod":
        return sympy.Mod(sympy.floor(a), draw(st.sampled_from([S, sympy.Integer(4)])))
    if kind == "piecewise":  # as receptive fields after resampling: a parity test, or a comparison
        relation = draw(st.sampled_from([sympy.Eq, sympy.Ne, sympy.Ge, sympy.Gt, sympy.Le,
                                         sympy.Lt]))
        # conditions on a plain formula (sympy folds one over a Piecewise into an ITE)
        c = draw(leaf) + draw(leaf) * draw(st.sampled_from([N, S, K]))
        left = draw(st.sampled_from([sympy.Mod(sympy.floor(c), 2), c]))
        condition = relation(left, draw(leaf))
        # sympy joins parity tests: Eq(Mod(x, 3), 0) | Eq(Mod(x, 3), 1)
        join = draw(st.sampled_from(["one", "or", "and", "not"]))
        other = sympy.Eq(sympy.Mod(sympy.floor(c), 3), draw(st.integers(0, 2)))
        condition = {"one": condition, "or": sympy.Or(condition, other),
                     "and": sympy.And(condition, other), "not": sympy.Not(condition)}[join]
        return sympy.Piecewise((a, condition), (b, True))
    return draw(leaf)


@given(formulas(), st.integers(0, 2**32))
def test_programs_equal_exact_sympy_values(formula, seed):
    rng = np.random.default_rng(seed)
    env = {sym: rng.integers(low, high + 1, 64) for sym, (low, high) in BOUNDS.items()}
    program = compile_formulas([formula], BOUNDS)
    (num, den), = program.run(env)
    num = np.broadcast_to(num, (64,))
    den = np.broadcast_to(1 if den is None else den, (64,))
    for j in range(0, 64, 7):
        point = {str(sym): int(values[j]) for sym, values in env.items()}
        # rational=True: without it nsimplify once turned 3245/2 into a product of surds
        exact = sympy.nsimplify(substitute(formula, point), rational=True)
        assert sympy.Rational(int(num[j]), int(den[j])) == exact, (formula, point)


def test_floor_is_integer_floor_not_float_floor():
    # 3 * 2**55 - 1 is not a float64: a float division rounds it up and floors to 2**55
    big = symbol("big")
    program = compile_formulas([sympy.floor((big + 1) / 3), big * 2], {big: (1, 2**60)})
    values = program.run({big: np.array([2**53, 3 * 2**55 - 2])})
    assert integer_values(values[0], 2).tolist() == [(2**53 + 1) // 3, 2**55 - 1]
    assert int(np.floor((3 * 2**55 - 1) / 3)) == 2**55  # what lambdify's float floor gives
    assert program.exact_int64


def test_formulas_beyond_int64_run_on_python_integers():
    program = compile_formulas([N**3 * 2**50 + 1], {N: (1, 2**20)})
    assert not program.exact_int64
    result = program.run({N: np.array([2**20, 3])})
    assert integer_values(result[0], 2).tolist() == [2**110 + 1, 27 * 2**50 + 1]


def test_rational_results_and_constants_broadcast():
    program = compile_formulas([N / 4, sympy.Integer(7)], {N: (1, 9)})
    first, second = program.run({N: np.array([2, 8])})
    assert float_values(first, 2).tolist() == [0.5, 2.0]
    assert integer_values(second, 2).tolist() == [7, 7]


def brute_front(matrix: np.ndarray) -> np.ndarray:
    keep = []
    for row in matrix:
        dominated = np.any(np.all(matrix <= row, axis=1) & np.any(matrix < row, axis=1))
        keep.append(not dominated)
    return np.array(keep, dtype=bool)


@given(st.integers(1, 3), st.integers(1, 150), st.integers(0, 2**32))
def test_nondominated_equals_brute_force(k, rows, seed):
    matrix = np.random.default_rng(seed).integers(0, 6, (rows, k)).astype(float)  # many ties
    assert np.array_equal(nondominated(matrix), brute_front(matrix))


def chunk_of(values: dict[str, np.ndarray]) -> Chunk:
    n = len(next(iter(values.values())))
    return Chunk({"index": np.arange(n), **values})


def test_streamed_front_equals_the_front_of_everything():
    rng = np.random.default_rng(4)
    macs, rf = rng.integers(0, 50, 3000), rng.integers(0, 40, 3000)
    whole = chunk_of({"macs": macs, "rf": rf})
    front = ParetoFront([("macs", 1), ("rf", -1)])
    for start in range(0, 3000, 256):
        front.add(whole.take(slice(start, start + 256)))
    expected = brute_front(np.stack([macs, -rf], axis=1).astype(float))
    result = front.result()
    assert sorted(result.columns["index"].tolist()) == np.nonzero(expected)[0].tolist()
    assert np.all(np.diff(result.columns["macs"]) >= 0)  # sorted by the first objective


def test_best_rows_and_sample_are_bounded_and_exact():
    rng = np.random.default_rng(5)
    values = rng.integers(0, 1000, 5000)
    whole = chunk_of({"macs": values})
    best, sample = BestRows("macs", -1, 7), Sample(100, seed=1)
    for start in range(0, 5000, 333):
        part = whole.take(slice(start, start + 333))
        best.add(part)
        sample.add(part)
    order = np.lexsort([np.arange(5000), -values])[:7]
    assert best.result().columns["index"].tolist() == order.tolist()
    assert len(sample.result()) == 100
    assert len(set(sample.result().columns["index"].tolist())) == 100


@pytest.mark.parametrize("text, value", [("64", 64), ("1e9", 10**9), ("500M", 5 * 10**8),
                                         ("2GiB", 2 * 2**30), ("1.5K", 1500), ("0.5", 0.5),
                                         ("8MB", 8 * 10**6), ("abc", None)])
def test_numbers_with_suffixes(text, value):
    assert parse_number(text) == value


def test_where_filters_on_metrics_and_choices():
    graph = load(EXAMPLES / "seed_cnn.yaml")
    sweep = Sweep(graph, parse_varies(graph, ["conv1.strides=1..3", "conv*.padding=valid,same",
                                              "conv1.kernel_size=3x3,1x5"]))
    chunk = Chunk.concat(list(sweep.chunks()))
    conditions = parse_where(sweep, ["rf>=8,conv1.strides<=2", "conv*.padding==same",
                                     "conv1.kernel_size!=1x5"])
    mask = where_mask(sweep, chunk, conditions)
    strides = np.array([1, 2, 3])[chunk.columns["vary:0"]]
    expected = (chunk.columns["valid"] & (chunk.columns["rf"] >= 8) & (strides <= 2)
                & (chunk.columns["vary:1"] == 1) & (chunk.columns["vary:2"] == 0))
    assert mask.any() and np.array_equal(mask, expected)


@pytest.mark.parametrize("where, message", [
    ("rf 64", "must look like"), ("rf>>3", "not a number"), ("latency<3", "unknown metric"),
    ("macs<lots", "not a number"),
    ("conv*.padding<same", "takes == or !="), ("conv*.padding==full", "not one of the values"),
])
def test_bad_filters_are_usage_errors(where, message):
    graph = load(EXAMPLES / "seed_cnn.yaml")
    sweep = Sweep(graph, parse_varies(graph, ["conv*.padding=valid,same"]))
    with pytest.raises(UsageError, match=message):
        parse_where(sweep, [where])
