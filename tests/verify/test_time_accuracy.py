"""The arithmetic the time benchmark reports (convplan.verify.time_accuracy): Spearman's rho
against scipy's, the band fraction and the step ratio on hand-made bands."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convplan.verify.time_accuracy import by_op, compare, ranks, spearman

scipy_stats = pytest.importorskip("scipy.stats")

# small integers make ties common, where the average-rank rule matters
values = st.lists(st.integers(0, 6).map(float), min_size=2, max_size=30)


@given(st.data())
def test_spearman_matches_scipy(data):
    xs = data.draw(values)
    ys = data.draw(st.lists(st.integers(0, 6).map(float), min_size=len(xs),
                            max_size=len(xs)))
    ours = spearman(xs, ys)
    if len(set(xs)) == 1 or len(set(ys)) == 1:
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(scipy_stats.spearmanr(xs, ys).statistic, abs=1e-12)


@given(values)
def test_ranks_match_scipy(xs):
    assert ranks(xs) == pytest.approx(list(scipy_stats.rankdata(xs)))


def test_spearman_refuses_unpaired_values():
    with pytest.raises(ValueError, match="pairs"):
        spearman([1.0, 2.0], [1.0])


def test_band_fraction_step_ratio_and_per_op():
    bands = {"a": (1.0, 3.0), "b": (2.0, 4.0), "c": (10.0, 20.0), "input": (0.0, 0.0)}
    ops = {"a": "Conv2D", "b": "Conv2D", "c": "Dense", "input": "InputLayer"}
    measured = {"a": 2.0, "b": 5.0, "c": 15.0, "input": 0.1}  # b is above its band
    result = compare(measured, bands, ops, 39.0, (30.0, 50.0))
    assert [b.name for b in result.layers] == ["a", "b", "c"]  # the zero band left out
    assert result.inside_fraction == pytest.approx(2 / 3)
    assert result.spearman == pytest.approx(1.0)  # same order on both sides
    assert result.step_ratio == pytest.approx(39.0 / 40.0)
    assert result.step_inside
    assert not compare({}, {}, {}, 51.0, (30.0, 50.0)).step_inside
    assert math.isnan(compare({}, {}, {}, 1.0, (1.0, 1.0)).inside_fraction)
    groups = by_op(result)
    assert groups["Conv2D"] == (2, 0.5, pytest.approx((2.0 / 2.0 + 5.0 / 3.0) / 2))
    assert groups["Dense"] == (1, 1.0, pytest.approx(1.0))


def test_reversed_order_is_minus_one():
    result = compare({"a": 3.0, "b": 2.0, "c": 1.0},
                     {"a": (1.0, 1.0), "b": (2.0, 2.0), "c": (3.0, 3.0)}, {}, 1.0, (1.0, 1.0))
    assert result.spearman == pytest.approx(-1.0)
    assert result.inside_fraction == pytest.approx(1 / 3)  # only b's measured time is its band
