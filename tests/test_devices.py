"""Device entries (convplan.devices): rates per dtype, sources, refusals, the user file."""

from __future__ import annotations

import json

import pytest

from convplan.devices import DEVICES, GIB, LOCAL, device, devices_file, user_devices
from convplan.errors import UsageError

REQUIRED = ("h100", "h200", "a100-40gb", "a100-80gb", "l4", "t4", "tpu-v4", "tpu-v5e",
            "tpu-v5p", "tpu-v6e")


@pytest.mark.parametrize("name", REQUIRED)
def test_required_entries_have_rates_bandwidth_capacity_and_a_source(name):
    d = DEVICES[name]
    assert d.source.startswith("https://")
    assert d.memory % GIB == 0 and d.memory >= 16 * GIB  # binary capacities, as sold
    assert 1e11 < d.bandwidth < 1e13
    assert d.peak_flops("float32") > 0 and d.peak_flops("bfloat16" if name != "t4"
                                                         else "float16") > d.fp32_flops
    # the 16-bit matrix rate beats plain float32 on every accelerator here
    assert d.bf16_flops == d.flops.get("bfloat16", d.flops.get("float16"))


def test_datasheet_figures():
    # dense halves of NVIDIA's sparse figures; Google's per-chip tables
    assert DEVICES["h100"].peak_flops("bfloat16") == 989.5e12
    assert DEVICES["h100"].peak_flops("tf32") == 494.5e12
    assert DEVICES["h200"].memory == 141 * GIB and DEVICES["h200"].bandwidth == 4.8e12
    assert DEVICES["a100-80gb"].peak_flops("int8") == 624e12
    assert DEVICES["tpu-v5p"].peak_flops("bfloat16") == 459e12
    assert DEVICES["tpu-v6e"].lanes == 256


def test_policies_run_at_their_compute_dtype():
    h100 = DEVICES["h100"]
    assert h100.peak_flops("mixed_bfloat16") == h100.peak_flops("bfloat16")
    assert h100.peak_flops("mixed_float16") == h100.peak_flops("float16")


@pytest.mark.parametrize("name, dtype", [("t4", "bfloat16"), ("t4", "tf32"),
                                         ("tpu-v5e", "float16"), ("h100", "float64")])
def test_a_dtype_the_device_lacks_is_one_line(name, dtype):
    with pytest.raises(UsageError, match=f"no {dtype} rate") as err:
        DEVICES[name].peak_flops(dtype)
    assert "\n" not in str(err.value)


def test_unknown_device_names_the_choices(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVPLAN_DEVICES", str(tmp_path / "none.json"))
    with pytest.raises(UsageError, match="unknown device 'h300'.*h100.*cpu-local"):
        device("h300")
    with pytest.raises(UsageError, match="run `convplan calibrate` first"):
        device(LOCAL)


def test_cpu_local_comes_from_the_user_file(monkeypatch, tmp_path):
    path = tmp_path / "devices.json"
    monkeypatch.setenv("CONVPLAN_DEVICES", str(path))
    assert devices_file() == path
    path.write_text(json.dumps({"devices": [{
        "name": "cpu-local", "description": "test", "memory": 2**34,
        "flops": {"float32": 5e10}, "bandwidth": 1e10, "source": "measured", "units": 2}]}))
    d = device("CPU-local")
    assert (d.kind, d.measured, d.peak_flops("float32"), d.bandwidth) == ("cpu", True, 5e10,
                                                                           1e10)
    with pytest.raises(UsageError, match="no bfloat16 rate"):
        d.peak_flops("bfloat16")


@pytest.mark.parametrize("text", ["not json", '{"devices": [{"name": "x"}]}', "[]"])
def test_a_broken_user_file_is_one_line(tmp_path, text):
    path = tmp_path / "devices.json"
    path.write_text(text)
    with pytest.raises(UsageError, match="calibrate") as err:
        user_devices(path)
    assert "\n" not in str(err.value)
