"""`convplan analyze --device`: the time table and totals, JSON, and the refusals."""

from __future__ import annotations

import json

import pytest
from cli_run import EXAMPLES, SEED, run_main

from convplan import load
from convplan.analysis import analyze
from convplan.analysis.timing import time_plan
from convplan.devices import DEVICES


def test_table_has_the_time_columns_and_totals(capsys):
    code, out, err = run_main(capsys, "analyze", EXAMPLES / "resnet50.yaml", "--device", "h100",
                              "--dtype", "mixed_bfloat16", "--batch", "256", "--no-symbolic")
    assert code == 0, err
    assert "time on h100 (datasheet, never measured), mixed_bfloat16, batch 256, training" in out
    header = next(line for line in out.splitlines() if "FLOP/B" in line)
    assert header.split() == ["layer", "op", "FLOPs", "bytes", "FLOP/B", "bound", "lower",
                              "upper", "q"]
    # name, op, FLOPs, bytes (a number and a unit), FLOP/B, bound, ...
    rows = {f[0]: f for f in (line.split() for line in out.splitlines())
            if f[6:7] in (["compute"], ["memory"])}
    assert rows["conv3_block1_2_conv"][6] == "compute"  # 3x3 128 -> 128: 575 FLOP/B
    # the stem computes no input gradient (nothing trainable lies upstream): its forward
    # and kernel gradient, 256 x 2 x 2 x 118.0M MACs = 121G, below the ridge point
    assert rows["conv1_conv"][2] == "121G" and rows["conv1_conv"][6] == "memory"
    assert "training step:" in out and "images/s" in out and "forward pass:" in out


def test_json_carries_every_layer_and_the_library_numbers(capsys):
    code, out, err = run_main(capsys, "analyze", SEED, "--device", "a100-80gb", "--batch", "64",
                              "--format", "json", "--no-symbolic")
    assert code == 0, err
    t = json.loads(out)["time"]
    graph = load(SEED)
    plan = time_plan(graph, analyze(graph), DEVICES["a100-80gb"], "float32", 64, True)
    assert [r["name"] for r in t["layers"]] == [r.name for r in plan.layers]
    assert t["totals"]["lower_s"] == pytest.approx(plan.lower_s)
    assert t["totals"]["images_per_s"]["from_lower"] == pytest.approx(64 / plan.lower_s)
    assert {r["bound"] for r in t["layers"]} <= {"compute", "memory"}
    assert t["step"] == "training" and t["measured"] is False


def test_markdown_and_inference(capsys):
    code, out, _ = run_main(capsys, "analyze", SEED, "--device", "tpu-v5e", "--dtype",
                            "bfloat16", "--step", "inference", "--format", "markdown",
                            "--no-symbolic")
    assert code == 0 and "## Time" in out and "forward pass:" in out
    assert "training step" not in out


@pytest.mark.parametrize("args, fragment", [
    (["--device", "h300"], "unknown device 'h300'"),
    (["--device", "t4", "--dtype", "mixed_bfloat16"], "device 't4' has no mixed_bfloat16 rate"),
    (["--device", "tpu-v4", "--dtype", "float16"], "no float16 rate"),
])
def test_bad_device_input_is_one_line_exit_2(capsys, tmp_path, args, fragment):
    out_file = tmp_path / "report.txt"
    code, out, err = run_main(capsys, "analyze", SEED, *args, "-o", out_file)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and fragment in err
    assert not out_file.exists()


def test_symbolic_sizes_are_refused(capsys, tmp_path):
    spec = tmp_path / "open.yaml"
    spec.write_text("name: open\ninputs:\n  x: [null, null, 3]\nlayers:\n"
                    "  - {name: c, op: Conv2D, filters: 8, kernel_size: 3}\n")
    code, _, err = run_main(capsys, "analyze", spec, "--device", "h100", "--no-symbolic")
    assert code == 2 and "--device needs concrete sizes; give --input-size" in err
    code, out, err = run_main(capsys, "analyze", spec, "--device", "h100", "--input-size",
                              "32x32", "--no-symbolic")
    assert code == 0 and "time on h100" in out, err
