"""`convplan calibrate --quick` measures and writes a cpu-local entry the time model reads."""

from __future__ import annotations

import json

import pytest
from cli_run import run_main

from convplan.devices import device


def test_calibrate_writes_cpu_local(capsys, monkeypatch, tmp_path):
    path = tmp_path / "sub" / "devices.json"
    monkeypatch.setenv("CONVPLAN_DEVICES", str(path))
    # another entry already in the file is kept
    path.parent.mkdir()
    path.write_text(json.dumps({"devices": [{
        "name": "lab-box", "description": "x", "memory": 1, "flops": {"float32": 1.0},
        "bandwidth": 1.0, "source": "hand"}]}))
    code, out, err = run_main(capsys, "calibrate", "--quick", "--seconds", "0.3")
    assert code == 0, err
    assert f"wrote the 'cpu-local' entry to {path}" in out
    local = device("cpu-local")
    assert local.measured and local.kind == "cpu"
    # sane magnitudes on a loaded 2-core machine to a server (tiny sizes: not accurate)
    assert 1e8 < local.peak_flops("float32") < 1e14
    assert 1e8 < local.bandwidth < 1e13
    assert local.extra["conv_flops"] > 0
    # the two-level roofline and the depthwise rate the time model reads
    assert local.extra["cache_bandwidth"] >= local.bandwidth
    assert 2**19 <= local.extra["cache_bytes"] <= 2**31
    assert 1e6 < local.extra["depthwise_flops"] < 1e14
    assert "depthwise 3x3 (numpy)" in out and "cache bandwidth" in out
    # the depthwise kernel gradient, the fixed cost of a kernel, the load it saw
    assert 1e6 < local.extra["depthwise_filter_flops"] < 1e14
    assert 0 <= local.extra["kernel_s"] < 1e-2
    assert "load_average" in local.extra and "load average" in out
    assert "load average" in local.source
    assert device("lab-box").source == "hand"


def test_cache_level_picks_the_largest_array_copied_at_half_the_best_rate():
    from convplan.calibration import cache_level

    # 1 MiB and 4 MiB arrays at 60 and 31 GB/s (>= 30), 8 MiB at 20: 2 x 4 MiB moved
    rates = {2**20: 60e9, 2**21: 50e9, 2**22: 31e9, 2**23: 20e9, 2**24: 12e9}
    assert cache_level(rates) == (60e9, 2.0 * 2**22)
    assert cache_level({2**19: 5e9}) == (5e9, 2.0 * 2**19)


def test_calibrate_quick_is_fast(capsys, tmp_path):
    import time

    start = time.perf_counter()
    code, _, err = run_main(capsys, "calibrate", "--quick", "-o", str(tmp_path / "d.json"))
    assert code == 0, err
    assert time.perf_counter() - start < 3.0


def test_calibrate_refuses_a_builtin_name(capsys, tmp_path):
    code, _, err = run_main(capsys, "calibrate", "--quick", "--name", "h100",
                            "-o", str(tmp_path / "d.json"))
    assert code == 2 and "built-in device" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "d.json").exists()


def test_the_swapped_convolution_runs_sweep_the_kernel_per_output_position():
    """calibrate's swapped-convolution sweep (with jax): one run per kernel size, each a 3x3
    on 2 x 2 maps that XLA swaps, its work B x 4 positions x the kernel's bytes."""
    pytest.importorskip("jax")
    from convplan.analysis.xla_cpu import swaps_operands
    from convplan.calibration import SWAPPED_CHANNELS, _swapped_conv_runs
    from convplan.ir.ops import make_op

    runs = _swapped_conv_runs(True)
    assert sorted(runs) == sorted(9 * c * c * 4 for c in SWAPPED_CHANNELS)
    for kernel, (_, swept) in runs.items():
        assert swept % (4 * kernel) == 0 and swept >= 4 * kernel
    op = make_op("Conv2D", "c", {"filters": 128, "kernel_size": 3, "padding": "same"})
    assert swaps_operands(op, [2, 2])
    run, _ = runs[9 * 128 * 128 * 4]
    run()
    assert _swapped_conv_runs(False) == {}


def test_the_xla_convolution_runs_and_their_flops():
    """calibrate's XLA convolutions (with jax): the 3x3 forward, its two gradients (twice the
    forward's FLOPs), the 1x1 kernel gradient (a ninth of the 3x3's FLOPs) and the image
    stem's and the wide convolution's three passes (each of their forward's FLOPs), each
    runs."""
    pytest.importorskip("jax")
    from convplan.calibration import _conv_runs

    runs = _conv_runs(True)
    forward = 2.0 * 9 * 8 * 28 * 28 * 64 * 64
    stem = 2.0 * 9 * 3 * 8 * 32 * 32 * 32  # 8 x 64 x 64 x 3 -> 32 at stride 2: 32 x 32 out
    wide = 2.0 * 9 * 256 * 8 * 14 * 14 * 256  # 8 x 14 x 14 x 256 -> 256, 'same'
    assert {name: flops for name, (_, flops) in runs.items()} == {
        "xla_conv_flops": forward, "xla_conv_backward_flops": 2 * forward,
        "xla_pointwise_filter_flops": 2.0 * 8 * 28 * 28 * 64 * 64,
        "xla_stem_conv_flops": stem, "xla_stem_input_flops": stem,
        "xla_stem_filter_flops": stem, "xla_wide_conv_flops": wide,
        "xla_wide_input_flops": wide, "xla_wide_filter_flops": wide}
    for run, _ in runs.values():
        run()
    assert _conv_runs(False) == {}
