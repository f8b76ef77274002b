"""benchmarks/conv_rates.py divides each measured pass by the rate convplan charges it; that
rate must be the one convplan.analysis.timing.time_plan uses, or its ratios mean nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from conv_rates import priced_rates  # noqa: E402

from convplan.analysis import analyze  # noqa: E402
from convplan.analysis.timing import time_plan  # noqa: E402
from convplan.devices import Device  # noqa: E402
from convplan.frontends.spec import build_graph  # noqa: E402

EXTRA = {"xla_conv_flops": 1e8, "xla_conv_backward_flops": 1e7,
         "xla_pointwise_filter_flops": 1e6}


STEM = {"xla_stem_conv_flops": 3e7, "xla_stem_input_flops": 2e7, "xla_stem_filter_flops": 4e6}
WIDE = {"xla_wide_conv_flops": 3e8, "xla_wide_input_flops": 2e7, "xla_wide_filter_flops": 5e7}


@pytest.mark.parametrize("kernel", [1, 3, 5])
@pytest.mark.parametrize("channels, filters", [(2, 3), (4, 3), (5, 3), (96, 160), (300, 80)])
@pytest.mark.parametrize("extra", [EXTRA, {**EXTRA, **STEM}, {**EXTRA, **STEM, **WIDE}, {
    k: v for k, v in EXTRA.items() if k != "xla_pointwise_filter_flops"}])
def test_priced_rates_are_the_rates_time_plan_charges(kernel, channels, filters, extra):
    # no bias: the layer's FLOPs are its convolution's; the map is large enough that
    # XLA's operand swap (priced by bytes instead) does not apply. Behind a trainable
    # BatchNormalization the step computes all three passes; as the first layer, no input
    # gradient (nothing trainable lies upstream)
    chip = Device("toy", "toy", 2**30, {"float32": 1e9}, 1e9, "test", kind="cpu",
                  extra=dict(extra))
    priced = priced_rates(chip, kernel, channels, filters)
    for first in (False, True):
        layers = [] if first else [{"name": "bn", "op": "BatchNormalization"}]
        graph = build_graph({"name": "t", "inputs": {"x": [6, 6, channels]}, "layers": [
            *layers, {"name": "c", "op": "Conv2D", "filters": filters, "kernel_size": kernel,
                      "use_bias": False}]})
        analysis = analyze(graph)
        flops = analysis.layer("c").flops
        forward = time_plan(graph, analysis, chip, batch=1).layers[-1]
        assert forward.compute_s == pytest.approx(flops / priced["forward"])
        train = time_plan(graph, analysis, chip, batch=1, training=True).layers[-1]
        passes = [rate for name, rate in priced.items() if not first or name != "input gradient"]
        assert train.compute_s == pytest.approx(flops * sum(1 / rate for rate in passes))
