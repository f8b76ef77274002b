"""The live page without a browser: its data is JSON no script end tag can break out of, it
names nothing outside itself, and the static report still serves --no-symbolic."""

from __future__ import annotations

import json
import re

from cli_run import SEED, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from convplan.report.live import live_html, model_json


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.text() | st.integers() | st.none(),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12))
def test_model_json_reads_back_and_cannot_end_its_script(value):
    text = model_json({"v": value})
    assert json.loads(text) == {"v": value}
    assert not re.search(r"[<>&]", text)  # so no </script>, <!-- or entity in the element


def test_the_page_is_one_file_with_its_data_and_script():
    page = live_html(SEED, input_size=(56, 56), batch=8, dtype="mixed_float16",
                     optimizer="sgd")
    assert page.count("<script") == 2 and " src=" not in page and "<link" not in page
    assert "default-src 'none'" in page  # the Content-Security-Policy: no request at all
    assert not re.search(r"https?://", page)
    model = json.loads(re.search(r"<script type=application/json id=cp-model>(.*?)</script>",
                                 page).group(1))
    assert model["start"] == {"sizes": {"H": 56, "W": 56}, "batch": 8,
                              "dtype": "mixed_float16", "optimizer": "sgd"}
    assert [layer["name"] for layer in model["layers"]][:2] == ["image", "conv1"]


def test_no_symbolic_keeps_the_static_report(tmp_path):
    out = tmp_path / "static.html"
    result = run_cli("analyze", SEED, "--no-symbolic", "-o", out)
    assert result.returncode == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert "<script" not in text and "data:image/svg+xml;base64," in text


# Upsampling by 3 (bilinear), then stride-2 'same' windows: their padding, and so the fields of
# `down`, `upt` and `head`, follow H mod 8 (and W mod 8): no formula
# (Analysis.size_dependent_fields); the page looks them up in convplan.report.live_fields's tables.
RESAMPLED = """
name: unet_resampled
inputs: {image: [48, 40, 3]}
layers:
  - {name: enc, op: Conv2D, filters: 4, kernel_size: 3, padding: same}
  - {name: pool, op: MaxPooling2D}
  - {name: mid, op: Conv2D, filters: 4, kernel_size: 3, strides: 2, padding: same}
  - {name: up, op: UpSampling2D, size: 3, interpolation: bilinear}
  - {name: down, op: Conv2D, filters: 4, kernel_size: 3, strides: 2, padding: same}
  - {name: upt, op: Conv2DTranspose, filters: 4, kernel_size: 3, strides: 2, padding: same}
  - {name: head, op: Conv2D, filters: 2, kernel_size: 5, strides: 3, padding: same}
"""


RESIZED = """
name: resized
inputs: {x: [40, 40, 3]}
layers:
  - {name: c, op: Conv2D, filters: 4, kernel_size: 3, padding: same}
  - {name: rs, op: Resizing, height: 32, width: 32, interpolation: bilinear}
  - {name: d, op: Conv2D, filters: 4, kernel_size: 3, strides: 2, padding: same}
"""


def test_fields_with_no_formula_are_tabled_or_stay_size_dependent():
    """After an upsampling, fields periodic in the size are tabled (the browser test checks
    their values); a Resizing to a fixed size follows the size itself, not a residue: its
    representatives disagree and the layer keeps "size-dependent"."""
    import convplan
    from convplan.analysis import analyze
    from convplan.report.live import live_model

    for spec, tabled, dependent in ((RESAMPLED, {"down", "upt", "head"}, set()),
                                    (RESIZED, set(), {"rs", "d"})):
        graph = convplan.loads_spec(spec)
        model, _ = live_model(analyze(graph), analyze(graph, generalize=True), graph,
                              batch=None, dtype="float32", optimizer="adam")
        assert {layer["name"] for layer in model["layers"] if layer["rft"]} == tabled
        assert {layer["name"] for layer in model["layers"] if layer["rfdep"]} == dependent
        for layer in model["layers"]:
            for table in layer["rft"] or ():
                assert len(table["small"]) == table["n0"] - 1
                assert len(table["base"]) == len(table["step"]) == table["p"] == 8


def test_the_page_offers_only_devices_whose_rates_it_computes(tmp_path, monkeypatch):
    """A devices file's entry whose calibrated rates the page's planAt does not compute (as
    `convplan calibrate` writes cpu-local: XLA's convolution rates, the per-kernel cost, the
    stream sweep) is left out of the page, which would show other times than the CLI's; one
    with only the depthwise and two-level cache rates stays."""
    from convplan.devices import Device, device_to_json
    from convplan.report.live_time import mirrored, page_devices

    def entry(name, **extra):
        return Device(name, "this machine", 2**34, {"float32": 1e11}, 1e10, "calibrate",
                      "cpu", 2, measured=True, extra={"depthwise_flops": 1e9, **extra})

    plain = entry("cpu-plain", cache_bytes=2.0**21, cache_bandwidth=5e10)
    unmirrored = [entry("cpu-kernel", kernel_s=1e-5), entry("cpu-xla", xla_conv_flops=7e10),
                  entry("cpu-sweep", stream_1048576=3e10),
                  entry("cpu-swapped", swapped_conv_589824=1.6e10),
                  entry("cpu-1x1", xla_pointwise_filter_flops=2e10),
                  entry("cpu-stem", xla_stem_conv_flops=1e10, xla_stem_input_flops=1e10,
                        xla_stem_filter_flops=1e10),
                  entry("cpu-wide", xla_wide_conv_flops=2e11, xla_wide_input_flops=2e11,
                        xla_wide_filter_flops=1e11)]
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"devices": [device_to_json(d) for d in (plain, *unmirrored)]}))
    monkeypatch.setenv("CONVPLAN_DEVICES", str(path))
    names = [d.name for d in page_devices()]
    assert "cpu-plain" in names and "h100" in names
    assert not any(d.name in names for d in unmirrored)
    assert mirrored(plain) and not any(mirrored(d) for d in unmirrored)
