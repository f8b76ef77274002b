"""CP305 (memory-bound time) and CP306 (device memory): the numbers in the messages are the
time and memory models' own; `device` is validated where it is set."""

from __future__ import annotations

import pytest
from cli_run import run_main

from convplan import analyze, loads_spec
from convplan.analysis.timing import time_plan
from convplan.checks import check_file
from convplan.checks.examples import DEPTHWISE_BLOCK, SEED
from convplan.devices import DEVICES


def _findings(tmp_path, text, code, **overrides):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    report = check_file(path, isolated=True, overrides=overrides or None)
    assert report.error is None, report.error
    return [f for f in report.findings if f.code == code]


def test_memory_bound_share_in_the_message_is_the_time_models(tmp_path):
    found = _findings(tmp_path, "checks: {device: a100-80gb, batch: 64}\n" + DEPTHWISE_BLOCK,
                      "CP305")
    assert len(found) == 1
    graph = loads_spec("name: s\n" + DEPTHWISE_BLOCK)
    plan = time_plan(graph, analyze(graph), DEVICES["a100-80gb"], "float32", 64, True)
    assert f"memory-bound layers take {plan.memory_bound_share:.0%}" in found[0].message
    assert "'bn' (BatchNormalization" in found[0].message  # the largest memory-bound layer
    ridge = DEVICES["a100-80gb"].peak_flops("float32") / DEVICES["a100-80gb"].bandwidth
    assert f"below {ridge:.0f} FLOP/B" in found[0].message


def test_no_device_no_time_or_memory_findings(tmp_path):
    assert _findings(tmp_path, "checks: {batch: 100000}\n" + SEED, "CP306") == []
    assert _findings(tmp_path, "checks: {batch: 64}\n" + DEPTHWISE_BLOCK, "CP305") == []


def test_device_memory_uses_the_training_peak(tmp_path):
    found = _findings(tmp_path, SEED, "CP306", device="t4", batch=100000)
    assert len(found) == 1
    graph = loads_spec("name: s\n" + SEED)
    total = analyze(graph).training_memory(100000, "float32", "adam").total
    assert f"({total:,}) is over t4's 16 GiB" in found[0].message
    # the same design fits a bigger device
    assert _findings(tmp_path, SEED, "CP306", device="h200", batch=100000) == []
    # and a 16-bit policy halves the activations: mixed_bfloat16 on an A100 40GB fits
    assert _findings(tmp_path, SEED, "CP306", device="a100-40gb", batch=100000,
                     dtype="mixed_bfloat16") == []


def test_an_unknown_device_in_the_spec_is_one_error(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("checks: {device: h300}\n" + SEED)
    report = check_file(path, isolated=True)
    assert report.error is not None and "device must be one of h100" in str(report.error)


@pytest.mark.parametrize("args, fragment", [
    (["--device", "h300"], "device must be one of"),
])
def test_check_cli_device(capsys, tmp_path, args, fragment):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SEED)
    code, _, err = run_main(capsys, "check", spec, "--isolated", *args)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1
    code, out, _ = run_main(capsys, "check", spec, "--isolated", "--device", "t4", "--batch",
                            "100000")
    assert code == 1 and "CP306" in out
