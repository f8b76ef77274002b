"""The training-step attribution the time benchmark prints (benchmarks/time_vs_jax.py): per op
class, the share of the layers' excess over their bands, on hand-made bands."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from convplan.verify.time_accuracy import compare

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from time_vs_jax import attribution  # noqa: E402


def test_excess_is_shared_by_what_each_class_adds_over_its_midpoints():
    # midpoints: conv 10 + 10, pool 2, relu 4; measured: conv 12 + 8 (no net excess),
    # pool 8 (+6), relu 2 (-2): the excess of 4 is pool's 6 less relu's 2
    bands = {"c1": (9, 11), "c2": (8, 12), "p": (1, 3), "r": (4, 4)}
    ops = {"c1": "Conv2D", "c2": "Conv2D", "p": "MaxPooling2D", "r": "ReLU"}
    measured = {"c1": 12.0, "c2": 8.0, "p": 8.0, "r": 2.0}
    shares = attribution(compare(measured, bands, ops, 30.0, (20, 32)))
    n, median, summed, time_share, excess = shares["MaxPooling2D"]
    assert (n, median, summed) == (1, 4.0, 4.0)
    assert time_share == pytest.approx(8 / 30)
    assert excess == pytest.approx(6 / 4)
    assert shares["ReLU"][4] == pytest.approx(-2 / 4)
    assert shares["Conv2D"][0] == 2 and shares["Conv2D"][2] == pytest.approx(1.0)
    assert shares["Conv2D"][4] == pytest.approx(0.0)
    assert sum(s[4] for s in shares.values()) == pytest.approx(1.0)
    assert sum(s[3] for s in shares.values()) == pytest.approx(1.0)


def test_a_row_is_scored_against_the_calibration_kept_with_it():
    from time_vs_jax import scored_device

    from convplan.devices import DEVICES, device_to_json

    kept = {**device_to_json(DEVICES["t4"]), "name": "cpu-local", "bandwidth": 1.5e9}
    row = {"name": "m", "calibration": kept}
    assert scored_device(row, "h100", own=True).bandwidth == 1.5e9
    assert scored_device(row, "h100", own=False) == DEVICES["h100"]
    assert scored_device({"name": "m"}, "h100", own=True) == DEVICES["h100"]


def test_calibrate_each_keeps_an_entry_the_row_is_scored_with():
    from time_vs_jax import calibration, scored_device

    entry = calibration(quick=True)  # `convplan calibrate --quick` in a subprocess
    assert entry["name"] == "cpu-local" and entry["measured"] is True
    chip = scored_device({"name": "m", "calibration": entry}, "h100", own=True)
    assert chip.name == "cpu-local" and chip.bandwidth == entry["bandwidth"] > 0
