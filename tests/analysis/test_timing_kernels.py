"""The per-kernel fixed cost and the depthwise kernel-gradient rate of the time model
(convplan.analysis.timing), by hand and as properties over drawn networks."""

from __future__ import annotations

import pytest
from hypothesis import given
from strategies import analyzed_or_rejected, network_specs

from convplan.analysis import analyze
from convplan.analysis.gradient_flow import output_gradients
from convplan.analysis.timing import layer_kernels, step_passes, time_plan
from convplan.devices import Device
from convplan.frontends.spec import build_graph
from convplan.ir import ops as O

# one FLOP per ns, one byte per ns; depthwise at 1e8, its kernel gradient at 1e7 FLOP/s (of
# the forward's FLOPs), 1 us per kernel
PLAIN = Device("toy", "toy", 2**30, {"float32": 1e9}, 1e9, "test", kind="cpu",
               extra={"depthwise_flops": 1e8})
KERNELS = Device("toy3", "toy", 2**30, {"float32": 1e9}, 1e9, "test", kind="cpu",
                 extra={"depthwise_flops": 1e8, "depthwise_filter_flops": 1e7,
                        "kernel_s": 1e-6, "xla_conv_flops": 5e8,
                        "xla_conv_backward_flops": 2e8})


def _graph(layers, shape, fed=False):
    """The layers on input x; with `fed`, after a BatchNormalization "bn" (trainable, so a
    training step computes the first layer's input gradient, which it does not for a layer
    fed by the graph's input: convplan.analysis.gradient_flow)."""
    first = [{"name": "bn", "op": "BatchNormalization"}] if fed else []
    return build_graph({"name": "t", "inputs": {"x": shape}, "layers": [*first, *layers]})


def _last(graph, device, training, batch=1):
    """The time of the graph's last layer."""
    return time_plan(graph, analyze(graph), device, "float32", batch=batch,
                     training=training).layers[-1]


def test_depthwise_training_pays_its_kernel_gradient_at_its_own_rate_by_hand():
    # DepthwiseConv2D 3x3 valid on 4x4x2, batch 1: 152 FLOPs forward (test_timing.py).
    # Training: forward and input gradient at 1e8 (2 x 1520 ns), the kernel's gradient at
    # 1e7 (15200 ns): 18240 ns of compute; 3 kernels (forward, dx, dW) x 1 us on top
    g = _graph([{"name": "dw", "op": "DepthwiseConv2D", "kernel_size": 3}], [4, 4, 2], fed=True)
    plain = _last(g, PLAIN, True)
    assert plain.compute_s == pytest.approx(3 * 1520e-9)
    dw = _last(g, KERNELS, True)
    assert dw.compute_s == pytest.approx(2 * 1520e-9 + 15200e-9)
    assert dw.kernel_s == pytest.approx(3e-6)
    assert dw.lower_s == pytest.approx(max(dw.compute_s, dw.memory_s) + 3e-6)
    assert dw.upper_s == pytest.approx(dw.compute_s + dw.memory_s + 3e-6)
    # forward only: one kernel, the depthwise rate
    fwd = _last(g, KERNELS, False)
    assert fwd.compute_s == pytest.approx(1520e-9) and fwd.kernel_s == pytest.approx(1e-6)
    # fed by the graph's input: no input gradient, 2 kernels (forward, dW)
    first = _last(_graph([{"name": "dw", "op": "DepthwiseConv2D", "kernel_size": 3}],
                         [4, 4, 2]), KERNELS, True)
    assert first.compute_s == pytest.approx(1520e-9 + 15200e-9)
    assert first.kernel_s == pytest.approx(2e-6)


def test_layer_kernels_by_hand():
    conv = O.OPS["Conv2D"](name="c", filters=4, kernel_size=(3, 3))
    sep = O.OPS["SeparableConv2D"](name="s", filters=4, kernel_size=(3, 3))
    relu = O.OPS["ReLU"](name="r")
    assert [layer_kernels(op, False) for op in (conv, sep, relu)] == [1, 2, 1]
    assert [layer_kernels(op, True) for op in (conv, sep, relu)] == [3, 6, 2]
    # the gradients a step computes: a first convolution 1 (dW), a frozen layer's none
    assert [layer_kernels(op, True, 1) for op in (conv, sep, relu)] == [2, 4, 2]
    assert [layer_kernels(op, True, 0) for op in (conv, sep, relu)] == [1, 2, 1]


@given(spec=network_specs(invalid=False, max_steps=5))
def test_the_kernel_cost_is_counted_once_per_kernel_of_the_plan(spec):
    """With a kernel cost k, every layer that computes or moves anything adds exactly
    k x layer_kernels to both bounds (a view adds nothing), and the step adds the sum; the
    bands stay ordered, lower <= upper <= 2 x lower."""
    graph, analysis = analyzed_or_rejected(spec)
    free = Device("toy4", "toy", 2**30, {"float32": 1e9}, 1e9, "test", kind="cpu",
                  extra={"depthwise_flops": 1e8, "depthwise_filter_flops": 1e7,
                         "xla_conv_flops": 5e8, "xla_conv_backward_flops": 2e8})
    flows = output_gradients(graph, analysis)
    layer = {t.name: t for t in analysis.layers}
    for training in (False, True):
        with_k = time_plan(graph, analysis, KERNELS, "float32", batch=8, training=training)
        without = time_plan(graph, analysis, free, "float32", batch=8, training=training)
        expected_total = 0.0
        for a, b in zip(with_k.layers, without.layers, strict=True):
            runs = b.flops != 0 or b.bytes != 0
            node = graph[a.name]
            gradients = step_passes(node, layer[a.name], flows, training).gradients
            kernels = layer_kernels(node.op, training, gradients) if runs else 0
            assert a.kernel_s == pytest.approx(kernels * 1e-6)
            assert a.lower_s - b.lower_s == pytest.approx(kernels * 1e-6, abs=1e-15)
            assert a.upper_s - b.upper_s == pytest.approx(kernels * 1e-6, abs=1e-15)
            assert 0 <= a.lower_s <= a.upper_s <= 2 * a.lower_s * (1 + 1e-12)
            expected_total += kernels * 1e-6
        assert with_k.lower_s - without.lower_s == pytest.approx(expected_total, abs=1e-12)
        assert with_k.upper_s - without.upper_s == pytest.approx(expected_total, abs=1e-12)
        assert with_k.lower_s <= with_k.upper_s


def test_a_convolution_runs_at_the_calibrated_xla_rates_by_hand():
    # Conv2D 1 filter 3x3 valid on 3x3x1, no bias, batch 1: 9 MACs, 18 FLOPs. Forward at
    # 1e8 FLOP/s: 180 ns; training: + 2 x 18 FLOPs backward at 1e7: 3600 ns more (the
    # kernel's gradient, 1800 ns, alone where the input has no gradient). A Dense keeps the
    # float32 peak (1e9)
    rates = Device("toy5", "toy", 2**30, {"float32": 1e9}, 1e9, "test", kind="cpu",
                   extra={"xla_conv_flops": 1e8, "xla_conv_backward_flops": 1e7})
    conv = [{"name": "c", "op": "Conv2D", "filters": 1, "kernel_size": 3, "use_bias": False}]
    fwd = _last(_graph(conv, [3, 3, 1]), rates, False)
    assert fwd.flops == 18 and fwd.compute_s == pytest.approx(180e-9)
    assert _last(_graph(conv, [3, 3, 1], fed=True), rates, True).compute_s == pytest.approx(
        180e-9 + 3600e-9)
    first = _last(_graph(conv, [3, 3, 1]), rates, True)
    assert first.flops == 2 * 18 and first.compute_s == pytest.approx(180e-9 + 1800e-9)
    dense = [{"name": "d", "op": "Dense", "units": 1, "use_bias": False}]
    assert _last(_graph(dense, [9], fed=True), rates, True).compute_s == pytest.approx(
        3 * 18e-9)
    assert _last(_graph(dense, [9]), rates, True).compute_s == pytest.approx(2 * 18e-9)


def test_a_1x1_kernel_gradient_runs_at_its_own_rate_by_hand():
    # Conv2D 2 filters 1x1 on 3x3x2, no bias, batch 1: 9 x 2 x 2 = 36 MACs, 72 FLOPs.
    # Training: forward at 1e8 (720 ns), input gradient at 1e7 (7200 ns), kernel gradient at
    # the 1x1 rate 1e6 (72000 ns); a 3x3 convolution and a grouped 1x1 keep 2 x at 1e7
    rates = Device("toy8", "toy", 2**30, {"float32": 1e9}, 1e9, "test", kind="cpu",
                   extra={"xla_conv_flops": 1e8, "xla_conv_backward_flops": 1e7,
                          "xla_pointwise_filter_flops": 1e6})
    g = _graph([{"name": "c", "op": "Conv2D", "filters": 2, "kernel_size": 1,
                 "use_bias": False}], [3, 3, 2], fed=True)
    train = _last(g, rates, True)
    assert train.flops == 3 * 72 and train.compute_s == pytest.approx(720e-9 + 7200e-9 + 72e-6)
    fwd = _last(g, rates, False)
    assert fwd.compute_s == pytest.approx(720e-9)
    grouped = _graph([{"name": "c", "op": "Conv2D", "filters": 2, "kernel_size": 1,
                       "groups": 2, "use_bias": False}], [3, 3, 2], fed=True)
    train = _last(grouped, rates, True)
    assert train.compute_s == pytest.approx(36 * (1 / 1e8 + 2 / 1e7))  # 18 MACs
    k3 = _graph([{"name": "c", "op": "Conv2D", "filters": 1, "kernel_size": 3,
                  "use_bias": False}], [3, 3, 1], fed=True)
    train = _last(k3, rates, True)
    assert train.compute_s == pytest.approx(180e-9 + 3600e-9)


def test_the_bandwidth_is_read_from_the_calibrated_sweep_by_hand():
    # the depthwise layer of test_timing.py moves 240 B at batch 1, 400 B at batch 2, 560 B
    # at batch 3; sweep: passes moving 300 B at 1e10 B/s and 500 B at 5e9; beyond, 1e9
    swept = Device("toy6", "toy", 2**30, {"float32": 1e9}, 1e9, "test", kind="cpu",
                   extra={"stream_300": 1e10, "stream_500": 5e9, "cache_bytes": 300.0,
                          "cache_bandwidth": 1e10})
    g = _graph([{"name": "dw", "op": "DepthwiseConv2D", "kernel_size": 3}], [4, 4, 2])
    memory = [time_plan(g, analyze(g), swept, "float32", batch=b).layers[1].memory_s
              for b in (1, 2, 3)]
    assert memory == [pytest.approx(240 / 1e10), pytest.approx(400 / 5e9),
                      pytest.approx(560 / 1e9)]


def test_a_training_step_prices_its_layers_by_the_whole_steps_bytes_by_hand():
    # two depthwise layers (3x3 'same' on 4x4x2, batch 1): each moves 32 x 4 in + 32 x 4 out
    # + 20 x 4 weights = 336 B forward, under the 500 B pass. Training, each moves 880-1008 B
    # and the step 1888 B, past the 1100 B pass: inside the step both move at the memory
    # bandwidth, alone each at the rate of the pass that holds its own bytes. At inference
    # each layer moves at the rate of its own bytes (the 500 B pass), inside the step or alone.
    swept = Device("toy7", "toy", 2**30, {"float32": 1e9}, 1e9, "test", kind="cpu",
                   extra={"stream_300": 1e10, "stream_500": 5e9, "stream_1100": 2e9})
    g = _graph([{"name": "dw1", "op": "DepthwiseConv2D", "kernel_size": 3, "padding": "same"},
                {"name": "dw2", "op": "DepthwiseConv2D", "kernel_size": 3, "padding": "same"}],
               [4, 4, 2])
    analysis = analyze(g)
    train = time_plan(g, analysis, swept, "float32", batch=1, training=True).layers[1:]
    train_alone = time_plan(g, analysis, swept, "float32", batch=1, training=True,
                            alone=True).layers[1:]
    assert all(500 < t.bytes <= 1100 for t in train) and sum(t.bytes for t in train) > 1100
    assert [t.memory_s for t in train] == [pytest.approx(t.bytes / 1e9) for t in train]
    assert [t.memory_s for t in train_alone] == [pytest.approx(t.bytes / 2e9) for t in train]
    for alone in (False, True):
        forward = time_plan(g, analysis, swept, "float32", batch=1, alone=alone).layers[1:]
        assert [t.bytes for t in forward] == [336, 336]
        assert [t.memory_s for t in forward] == [pytest.approx(336 / 5e9)] * 2
    # a step that fits the sweep's small pass keeps its in-cache rate inside the step too
    tiny = _graph([{"name": "dw", "op": "DepthwiseConv2D", "kernel_size": 1}], [2, 2, 2])
    (t,) = time_plan(tiny, analyze(tiny), swept, "float32", batch=1).layers[1:]
    assert t.bytes <= 300 and t.memory_s == pytest.approx(t.bytes / 1e10)


# calibrated as `convplan calibrate` writes it: the kernel gradient measured at 2 channels,
# a stride-2 convolution's input gradient at 1e6 FLOP/s (of its forward's FLOPs)
DENSE_LOWERING = Device("toy4", "toy", 2**30, {"float32": 1e9}, 1e9, "test", kind="cpu",
                        extra={"depthwise_flops": 1e8, "depthwise_filter_flops": 1e7,
                               "depthwise_channels": 2.0,
                               "depthwise_strided_input_flops": 1e6})


def test_depthwise_kernel_gradient_scales_with_channels_by_hand():
    # 3x3 valid on 4x4xC, batch 1: 2 x 9 x 4 x C MACs' FLOPs + 4C bias = 76C FLOPs forward.
    # The kernel gradient (XLA's dense C x C lowering) costs C / 2 of the rate calibrated at
    # 2 channels: C = 2 is the calibrated rate itself, C = 4 twice its time.
    for channels, expected in ((2, 152 * (2 / 1e8 + 1 / 1e7)),
                               (4, 304 * (2 / 1e8 + 2 / 1e7))):
        g = _graph([{"name": "dw", "op": "DepthwiseConv2D", "kernel_size": 3}],
                   [4, 4, channels], fed=True)
        dw = _last(g, DENSE_LOWERING, True)
        assert dw.compute_s == pytest.approx(expected)
    # an entry without depthwise_channels keeps the kernel gradient per forward FLOP
    old = _last(g, KERNELS, True)
    assert old.compute_s == pytest.approx(304 * (2 / 1e8 + 1 / 1e7))


def test_a_strided_depthwise_input_gradient_runs_at_its_own_rate_by_hand():
    # 3x3 stride 2 valid on 5x5x2: 2x2x2 out, 2 x 9 x 8 + 8 = 152 FLOPs forward; the input
    # gradient at 1e6, the forward at 1e8, the kernel gradient at 1e7 x 2/2
    g = _graph([{"name": "dw", "op": "DepthwiseConv2D", "kernel_size": 3, "strides": 2}],
               [5, 5, 2], fed=True)
    dw = _last(g, DENSE_LOWERING, True)
    assert dw.flops == 3 * 152
    assert dw.compute_s == pytest.approx(152 * (1 / 1e8 + 1 / 1e6 + 1 / 1e7))
    # the forward pass alone pays none of it; stride 1 takes the forward's rate for dx
    forward = _last(g, DENSE_LOWERING, False)
    assert forward.compute_s == pytest.approx(152 / 1e8)
    g1 = _graph([{"name": "dw", "op": "DepthwiseConv2D", "kernel_size": 3}], [4, 4, 2],
                fed=True)
    stride1 = _last(g1, DENSE_LOWERING, True)
    assert stride1.compute_s == pytest.approx(152 * (2 / 1e8 + 1 / 1e7))


def test_max_pooling_backward_runs_at_its_calibrated_rate_by_hand():
    # 2x2 max pooling of 4x4x2: 2x2x2 outputs x 3 comparisons = 24 FLOPs forward; training:
    # the forward at the vector rate (1e9), the backward's select-and-scatter at 1e6
    g = _graph([{"name": "p", "op": "MaxPooling2D", "pool_size": 2}], [4, 4, 2], fed=True)
    pooled = Device("toy5", "toy", 2**30, {"float32": 1e9}, 1e9, "test", kind="cpu",
                    extra={"max_pool_backward_flops": 1e6})
    layer = _last(g, pooled, True)
    assert layer.compute_s == pytest.approx(24 / 1e9 + 24 / 1e6)
    assert _last(g, pooled, False).compute_s == pytest.approx(24 / 1e9)
    # without the rate: twice the forward's FLOPs at the vector rate
    plain = _last(g, PLAIN, True)
    assert plain.compute_s == pytest.approx(3 * 24 / 1e9)
    average = _graph([{"name": "p", "op": "AveragePooling2D", "pool_size": 2}], [4, 4, 2],
                     fed=True)
    avg = _last(average, pooled, True)
    assert avg.compute_s == pytest.approx(avg.flops / 1e9)  # 3 passes of its FLOPs
    # on the graph's input nothing before it trains: no backward at all
    first = _last(_graph([{"name": "p", "op": "MaxPooling2D", "pool_size": 2}], [4, 4, 2]),
                  pooled, True)
    assert (first.flops, first.compute_s) == (24, pytest.approx(24 / 1e9))


def test_an_image_stem_runs_at_the_calibrated_stem_rates_by_hand():
    # Conv2D 2 filters 3x3 valid on 4x4x3, no bias, batch 1: 4 x 27 x 2 = 216 MACs, 432
    # FLOPs. With the stem rates: forward at 1e8 (4320 ns), input gradient at 1e7 (43200
    # ns), kernel gradient at 1e6 (432000 ns); without them, or with 5 input channels or a
    # 5x5 kernel, the general rates (forward 1e9, both gradients at 1e8)
    general = {"xla_conv_flops": 1e9, "xla_conv_backward_flops": 1e8}
    stem = {**general, "xla_stem_conv_flops": 1e8, "xla_stem_input_flops": 1e7,
            "xla_stem_filter_flops": 1e6}

    def compute_s(extra, channels=3, kernel=3, training=True):
        rates = Device("toy9", "toy", 2**30, {"float32": 1e10}, 1e9, "test", kind="cpu",
                       extra=extra)
        g = _graph([{"name": "c", "op": "Conv2D", "filters": 2, "kernel_size": kernel,
                     "use_bias": False}], [4 + kernel - 3, 4 + kernel - 3, channels],
                   fed=True)
        return _last(g, rates, training).compute_s

    assert compute_s(stem) == pytest.approx(4320e-9 + 43200e-9 + 432000e-9)
    assert compute_s(stem, training=False) == pytest.approx(4320e-9)
    assert compute_s(general) == pytest.approx(432e-9 + 2 * 4320e-9)
    five = 4 * 27 * 2 * 2 * 5 / 3  # 720 FLOPs with 5 input channels
    assert compute_s(stem, channels=5) == pytest.approx(five * (1 / 1e9 + 2 / 1e8))
    wide = 4 * 75 * 2 * 2  # 5x5 kernel: 1200 FLOPs
    assert compute_s(stem, kernel=5) == pytest.approx(wide * (1 / 1e9 + 2 / 1e8))
    # a partial entry (one stem key) keeps the general rates
    assert compute_s({**general, "xla_stem_conv_flops": 1e8}) == pytest.approx(
        432e-9 + 2 * 4320e-9)


def test_a_wide_convolution_runs_at_the_wide_rates_by_hand():
    # 3x3 valid on 3x3 maps (one output position), no bias, batch 1: FLOPs 2 x 9 x C_in x
    # C_out. Base rates 1e9 forward, 1e8 each gradient; wide ones 4e9, 4e8, 1.6e9. The
    # forward is wide where C_out >= 128 and C_in x C_out >= 128^2, the gradients where
    # both C_in and C_out are >= 128
    wide = {"xla_conv_flops": 1e9, "xla_conv_backward_flops": 1e8,
            "xla_wide_conv_flops": 4e9, "xla_wide_input_flops": 4e8,
            "xla_wide_filter_flops": 1.6e9}

    def compute_s(extra, cin, cout, kernel=3, training=True):
        chip = Device("toy10", "toy", 2**30, {"float32": 1e12}, 1e12, "test", kind="cpu",
                      extra=extra)
        g = _graph([{"name": "c", "op": "Conv2D", "filters": cout, "kernel_size": kernel,
                     "use_bias": False}], [kernel, kernel, cin], fed=True)
        return _last(g, chip, training).compute_s

    def flops(cin, cout, kernel=3):
        return 2 * kernel * kernel * cin * cout

    base, all_wide = 1 / 1e9 + 2 / 1e8, 1 / 4e9 + 1 / 4e8 + 1 / 1.6e9
    for cin, cout in ((128, 128), (256, 256), (512, 512), (128, 256), (256, 128)):
        assert compute_s(wide, cin, cout) == pytest.approx(flops(cin, cout) * all_wide)
    for cin, cout in ((64, 64), (127, 127), (64, 128), (256, 64), (128, 32), (32, 128)):
        assert compute_s(wide, cin, cout) == pytest.approx(flops(cin, cout) * base)
    # 64 -> 256: a wide forward (64 x 256 = 128^2), the gradients at the base rate
    assert compute_s(wide, 64, 256) == pytest.approx(flops(64, 256) * (1 / 4e9 + 2 / 1e8))
    assert compute_s(wide, 64, 256, training=False) == pytest.approx(flops(64, 256) / 4e9)
    # a 1x1 kernel keeps the base rates; so does an entry without all three wide keys
    assert compute_s(wide, 256, 256, kernel=1) == pytest.approx(flops(256, 256, 1) * base)
    partial = {k: v for k, v in wide.items() if k != "xla_wide_filter_flops"}
    assert compute_s(partial, 256, 256) == pytest.approx(flops(256, 256) * base)
