"""The diagram's geometry (issue #13): skip edges run in lanes outside every box they pass, and
the canvas is as wide as the boxes and lanes, not a symmetric frame around a bowing arc."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convplan import NetworkBuilder, analyze
from convplan.report.diagram import MARGIN_INCHES, X_INCHES, Y_INCHES, plan_diagram


def residual_net(blocks: list[int], wide: int = 0):
    """Residual blocks of `n` convolutions each; the skip jumps over them."""
    net = NetworkBuilder("res")
    x = net.Conv2D(net.input("x", [16, 16, 3]), filters=4, kernel_size=3, padding="same")
    for i, n in enumerate(blocks):
        y = x
        for _ in range(n):
            y = net.Conv2D(y, filters=4, kernel_size=3, padding="same")
        x = net.Add([x, y], name=f"add_{i}" + "_wide" * wide)
    return analyze(net.build())


@given(blocks=st.lists(st.integers(1, 4), min_size=1, max_size=4), wide=st.integers(0, 6))
def test_skip_lanes_pass_outside_every_box_and_the_canvas_fits_the_content(blocks, wide):
    analysis = residual_net(blocks, wide)
    plan = plan_diagram(analysis.layers)
    assert set(plan.lanes) == set(plan.bent) and len(plan.bent) == len(blocks)
    for (source, target), lane in plan.lanes.items():
        a, b = plan.places[source].depth, plan.places[target].depth
        for name, place in plan.places.items():
            if a <= place.depth <= b:  # every box the edge runs beside, its ends included
                assert abs(lane - place.x * X_INCHES) > plan.half_widths[name]
    lefts = [p.x * X_INCHES - plan.half_widths[n] for n, p in plan.places.items()]
    rights = [p.x * X_INCHES + plan.half_widths[n] for n, p in plan.places.items()]
    assert plan.left == min(lefts + list(plan.lanes.values()))
    assert plan.right == max(rights)  # one column: the lanes go left, nothing pads the right
    width, height = plan.size_inches
    assert width == pytest.approx(plan.right - plan.left + 2 * MARGIN_INCHES)
    assert height == pytest.approx((plan.depth + 1) * Y_INCHES + 2 * MARGIN_INCHES)
    assert len(analysis.layers) == len(plan.places)


def test_overlapping_skips_get_separate_lanes():
    net = NetworkBuilder("two")
    x = net.Conv2D(net.input("x", [8, 8, 3]), filters=4, kernel_size=1, name="c0")
    a = net.Conv2D(net.Conv2D(x, filters=4, kernel_size=1), filters=4, kernel_size=1)
    add1 = net.Add([x, a], name="add1")
    b = net.Conv2D(net.Conv2D(add1, filters=4, kernel_size=1), filters=4, kernel_size=1)
    net.Add([add1, b, x], name="add2")
    plan = plan_diagram(analyze(net.build()).layers)
    lanes = sorted(plan.lanes.values())
    assert len(lanes) == 3 and len(set(lanes)) == 3  # c0->add2 spans both others


def test_the_picture_renders(tmp_path):
    pytest.importorskip("matplotlib")
    from convplan.report.plots import render_figure

    png = render_figure("diagram", residual_net([2, 3]), fmt="png")
    assert png.startswith(b"\x89PNG")
