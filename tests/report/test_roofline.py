"""`convplan plot --kind roofline --device NAME`: every layer with FLOPs and bytes is a point
at (its intensity, its FLOPs / lower bound), no point above the roof, and one-line errors."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from cli_run import EXAMPLES, SEED, one_error_line, run_main

import convplan
from convplan.analysis import analyze
from convplan.analysis.timing import time_plan
from convplan.devices import device
from convplan.report.plots import render_figure
from convplan.report.roofline import roofline_points

pytest.importorskip("matplotlib")
SVG = "{http://www.w3.org/2000/svg}"
RESNET = EXAMPLES / "resnet50.yaml"


@pytest.mark.parametrize("spec, chip, dtype, batch, training", [
    (SEED, "h100", "float32", 32, False),
    (SEED, "tpu-v5e", "bfloat16", 8, True),
    (RESNET, "h100", "mixed_bfloat16", 256, False),
    (RESNET, "t4", "float16", 1, True),
])
def test_points_lie_on_or_under_the_roof(spec, chip, dtype, batch, training):
    graph = convplan.load(spec)
    analysis = analyze(graph)
    entry = device(chip)
    plan = time_plan(graph, analysis, entry, dtype, batch, training=training)
    points = roofline_points(plan)
    with_work = [t for t in plan.layers if t.flops > 0 and t.bytes > 0]
    assert [p[0] for p in points] == [t.name for t in with_work]
    roof = max(entry.peak_flops(dtype), entry.flops["float32"])
    for name, intensity, attained, bound in points:
        layer = next(t for t in plan.layers if t.name == name)
        assert intensity == pytest.approx(layer.flops / layer.bytes)
        # the lower bound is at least the memory time, so no point beats the bandwidth slope
        assert attained <= intensity * entry.bandwidth * (1 + 1e-9)
        assert attained <= roof * (1 + 1e-9)
        if bound == "memory":  # on the slope exactly
            assert attained == pytest.approx(intensity * entry.bandwidth)


def test_svg_names_the_device_and_the_bounds(tmp_path, capsys):
    out = tmp_path / "roof.svg"
    assert run_main(capsys, "plot", SEED, "--kind", "roofline", "--device", "h100",
                    "--batch", "64", "-o", out) == (0, "", "")
    root = ElementTree.parse(out).getroot()
    texts = ["".join(e.itertext()) for e in root.iter(f"{SVG}text")]
    assert any("on h100, float32, batch 64, forward" in t for t in texts)
    assert any(t.startswith("memory-bound layers") for t in texts)
    assert any("FLOP/s" in t for t in texts)
    graph = convplan.load(SEED)
    training = render_figure("roofline", analyze(graph), graph=graph, device="h100",
                             training=True, batch=64)
    assert b"training step" in training


@pytest.mark.parametrize("argv, message", [
    ([], "needs --device"),
    (["--device", "h900"], "unknown device 'h900'"),
    (["--device", "tpu-v5e", "--dtype", "float16"], "no float16 rate"),
])
def test_bad_rooflines_exit_2_with_one_line(tmp_path, capsys, argv, message):
    code, out, err = run_main(capsys, "plot", SEED, "--kind", "roofline", *argv,
                              "-o", tmp_path / "r.svg")
    assert code == 2 and out == ""
    assert message in one_error_line(err)
    assert not (tmp_path / "r.svg").exists()
