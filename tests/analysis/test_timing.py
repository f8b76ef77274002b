"""Time bounds (convplan.analysis.timing): hand-worked layers, quantization, properties."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import assume, given
from strategies import analyzed_or_rejected, network_specs, op_types, symbolic_twin

from convplan import load
from convplan.analysis import analyze, arith
from convplan.analysis.timing import matrix_quantization, time_plan
from convplan.devices import DEVICES, Device
from convplan.errors import UsageError
from convplan.frontends.spec import build_graph
from convplan.ir import ops as O

# one FLOP per ns, one byte per ns: seconds are counts x 1e-9
TOY = Device("toy", "toy", 2**30, {"float32": 1e9}, 1e9, "test", kind="cpu")


def _graph(layers, shape):
    return build_graph({"name": "t", "inputs": {"x": shape}, "layers": layers})


def test_dense_by_hand():
    # Dense 10 -> 5 float32 at batch 3: FLOPs 3 x (2 x 50 + 5 bias) = 315; bytes 3 x (10 + 5)
    # x 4 + 55 weights x 4 = 400: memory-bound, lower 400 ns, upper 715 ns
    g = _graph([{"name": "d", "op": "Dense", "units": 5}], [10])
    plan = time_plan(g, analyze(g), TOY, "float32", batch=3)
    d = plan.layers[1]
    assert (d.flops, d.bytes, d.bound) == (315, 400, "memory")
    assert d.lower_s == pytest.approx(400e-9) and d.upper_s == pytest.approx(715e-9)
    assert d.intensity == pytest.approx(315 / 400)
    assert plan.lower_s == pytest.approx(400e-9) and plan.images_per_s[0] == pytest.approx(
        3 / 400e-9)


def test_training_step_by_hand():
    # the same Dense in training: no input gradient (x is the graph's input, which autodiff
    # never differentiates), so FLOPs 3 x (2 passes x 100 matrix + 3 x 5 bias) = 645: the
    # forward and the weights' gradient; bytes forward 400 + backward (dy twice 2 x 3 x 20 +
    # x 3 x 40 read, no dx; weights 220 read, 220 written) = 120 + 120 + 440 = 680, in all
    # 1080; Adam's update: 55 weights x (3 + 2 x 2) x 4 B = 1540 B in both bounds
    g = _graph([{"name": "d", "op": "Dense", "units": 5}], [10])
    plan = time_plan(g, analyze(g), TOY, "float32", batch=3, training=True)
    d = plan.layers[1]
    assert (d.flops, d.bytes, d.bound) == (645, 1080, "memory")
    assert plan.optimizer_s == pytest.approx(1540e-9)
    assert plan.lower_s == pytest.approx((1080 + 1540) * 1e-9)
    assert plan.upper_s == pytest.approx((1080 + 645 + 1540) * 1e-9)


def test_the_gradients_a_step_never_computes_cost_nothing():
    # x -> pad (ZeroPadding1D 1) -> d1 Dense 3 -> d2 Dense 2 on 2x4 at batch 1, float32 on TOY
    # (1 FLOP and 1 byte per ns). pad runs no backward (nothing before it trains): 0 FLOPs,
    # bytes forward only, in 32 + out 64 = 96. d1's input has no gradient: FLOPs 4 positions
    # x (2 passes x 12 MACs x 2 + 3 x 3 bias) = 4 x (48 + 9) = 228; its backward reads dy
    # 48 twice and x 64, writes dW 60 (no dx). d2 computes its input's gradient too: FLOPs
    # 4 x (3 x 2 x 6 + 3 x 2) = 168, and writes dx 48.
    layers = [{"name": "pad", "op": "ZeroPadding1D", "padding": 1},
              {"name": "d1", "op": "Dense", "units": 3}, {"name": "d2", "op": "Dense", "units": 2}]
    g = _graph(layers, [2, 4])
    plan = time_plan(g, analyze(g), TOY, "float32", batch=1, training=True)
    pad, d1, d2 = plan.layers[1:]
    forward = time_plan(g, analyze(g), TOY, "float32", batch=1, training=False).layers
    assert (pad.flops, pad.bytes) == (0, forward[1].bytes) == (0, 96)
    assert d1.flops == 228 and d2.flops == 168
    d1_forward = forward[2].bytes  # in 64 + out 48 + weights 60 read
    assert d1_forward == 172 and d1.bytes == d1_forward + 48 * 2 + 64 + 60 + 60
    assert d2.bytes == forward[3].bytes + 32 * 2 + 48 + 32 + 48 + 32


def test_a_frozen_backbone_runs_no_backward():
    # the same network with d1 frozen: nothing before d2 trains, so pad and d1 run their
    # forwards alone (FLOPs and bytes as at inference) and d2 computes no input gradient
    layers = [{"name": "pad", "op": "ZeroPadding1D", "padding": 1},
              {"name": "d1", "op": "Dense", "units": 3, "trainable": False},
              {"name": "d2", "op": "Dense", "units": 2}]
    g = _graph(layers, [2, 4])
    train = time_plan(g, analyze(g), TOY, "float32", batch=1, training=True).layers
    forward = time_plan(g, analyze(g), TOY, "float32", batch=1, training=False).layers
    assert [(t.flops, t.bytes) for t in train[1:3]] == [(f.flops, f.bytes)
                                                          for f in forward[1:3]]
    assert train[3].flops == 4 * (2 * 2 * 6 + 3 * 2)


# TOY calibrated: depthwise at 1e8 FLOP/s (10x under its vector rate), 300 bytes of cache at
# 1e10 B/s (10x its memory bandwidth)
CALIBRATED = Device("toy2", "toy", 2**30, {"float32": 1e9}, 1e9, "test", kind="cpu",
                    extra={"depthwise_flops": 1e8, "cache_bytes": 300.0,
                           "cache_bandwidth": 1e10})


def test_depthwise_rate_and_cache_bandwidth_by_hand():
    # DepthwiseConv2D 3x3 valid on 4x4x2 at batch 1: out 2x2x2; FLOPs 8 x (2 x 9) + 8 bias
    # = 152; bytes in 32 x 4 + out 8 x 4 + weights (18 + 2) x 4 = 240
    g = _graph([{"name": "dw", "op": "DepthwiseConv2D", "kernel_size": 3}], [4, 4, 2])
    plain = time_plan(g, analyze(g), TOY, "float32", batch=1).layers[1]
    assert (plain.flops, plain.bytes) == (152, 240)
    assert plain.compute_s == pytest.approx(152e-9) and plain.memory_s == pytest.approx(240e-9)
    cal = time_plan(g, analyze(g), CALIBRATED, "float32", batch=1).layers[1]
    # 152 / 1e8 = 1520 ns of compute; 240 B <= 300 B of cache: 240 / 1e10 = 24 ns
    assert cal.compute_s == pytest.approx(1520e-9) and cal.memory_s == pytest.approx(24e-9)
    assert (cal.bound, cal.lower_s) == ("compute", pytest.approx(1520e-9))
    # at batch 2 the bytes (in 256 + out 64 + weights 80 = 400) leave the 300-byte cache
    big = time_plan(g, analyze(g), CALIBRATED, "float32", batch=2).layers[1]
    assert big.bytes == 400 and big.memory_s == pytest.approx(400e-9)
    assert big.compute_s == pytest.approx(2 * 1520e-9)


def test_a_dense_layer_keeps_the_vector_rate_on_a_calibrated_device():
    # the Dense of test_dense_by_hand: 315 FLOPs (not depthwise: at 1e9), 400 B > 300 B cache
    g = _graph([{"name": "d", "op": "Dense", "units": 5}], [10])
    d = time_plan(g, analyze(g), CALIBRATED, "float32", batch=3).layers[1]
    assert d.compute_s == pytest.approx(315e-9) and d.memory_s == pytest.approx(400e-9)
    # at batch 1: bytes (10 + 5) x 4 + 220 = 280 fit: 28 ns
    d1 = time_plan(g, analyze(g), CALIBRATED, "float32", batch=1).layers[1]
    assert d1.bytes == 280 and d1.memory_s == pytest.approx(28e-9)


def test_a_big_convolution_is_compute_bound_on_h100():
    g = load("examples/resnet50.yaml")
    plan = time_plan(g, analyze(g), DEVICES["h100"], "mixed_bfloat16", batch=256)
    rows = {t.name: t for t in plan.layers}
    assert rows["conv5_block1_2_conv"].bound == "compute"
    assert rows["conv1_relu"].bound == "memory"
    assert all(isinstance(t.lower_s, float) for t in plan.layers)


def test_gpu_tile_padding_and_waves_by_hand():
    h100 = DEVICES["h100"]
    conv = O.OPS["Conv2D"](name="c", filters=64, kernel_size=(3, 3))
    # cin 3 padded to 8 under bfloat16 (16 bytes of elements); rows 128 x 132 x 4 = 67584
    # and cout 64 fill exactly 528 tiles of 128 x 64, 4 whole waves on 132 SMs: q = 8/3
    assert matrix_quantization(h100, "bfloat16", conv, 128 * 132 * 4, 3, 64) == pytest.approx(
        8 / 3)
    # one tile more: a fifth wave for 1 tile: q = 5 x 132 / 529 (cin 64: no padding)
    q = matrix_quantization(h100, "bfloat16", conv, 128 * 132 * 4 + 1, 64, 64)
    tiles = math.ceil((128 * 132 * 4 + 1) / 128)
    assert q == pytest.approx(5 * 132 * 128 * 64 / ((128 * 132 * 4 + 1) * 64))
    assert tiles == 529
    # float32 has no tensor-core padding: cin 3 stays 3
    assert matrix_quantization(h100, "float32", conv, 128 * 132 * 4, 3, 64) == pytest.approx(1)


def test_tpu_pads_small_channel_counts_to_the_mxu_width():
    conv = O.OPS["Conv2D"](name="c", filters=64, kernel_size=(3, 3))
    # cin 3 -> 128, cout 64 -> 128, rows 1000 -> 1000 (a multiple of 8)
    assert matrix_quantization(DEVICES["tpu-v5e"], "bfloat16", conv, 1000, 3, 64) == \
        pytest.approx(128 / 3 * 2)
    # v6e's 256-wide MXUs: cin 128 -> 256, cout 256, rows 12 -> 16
    assert matrix_quantization(DEVICES["tpu-v6e"], "bfloat16", conv, 12, 128, 256) == \
        pytest.approx(2 * 16 / 12)


@pytest.mark.parametrize("name, dtype", [("t4", "mixed_bfloat16"), ("tpu-v4", "float16"),
                                         ("h100", "float64")])
def test_a_dtype_the_device_lacks_is_refused(name, dtype):
    g = load("examples/seed_cnn.yaml")
    with pytest.raises(UsageError, match="rate"):
        time_plan(g, analyze(g), DEVICES[name], dtype, batch=8)


@given(spec=network_specs(invalid=False, max_steps=5))
def test_bounds_are_ordered_and_sum(spec):
    """lower <= upper <= 2 x lower per layer and per step; the step is the sum of layers."""
    graph, analysis = analyzed_or_rejected(spec)
    for device, dtype in ((DEVICES["h100"], "mixed_bfloat16"), (DEVICES["tpu-v5e"], "bfloat16"),
                          (TOY, "float32"), (CALIBRATED, "float32")):
        for training in (False, True):
            plan = time_plan(graph, analysis, device, dtype, batch=16, training=training)
            for t in plan.layers:
                assert 0 <= t.lower_s <= t.upper_s <= 2 * t.lower_s * (1 + 1e-12)
                assert t.bound == ("compute" if t.compute_s > t.memory_s else "memory")
                assert t.quantization >= 1
            assert plan.lower_s == pytest.approx(
                sum(t.lower_s for t in plan.layers) + plan.optimizer_s)
            assert plan.upper_s == pytest.approx(
                sum(t.upper_s for t in plan.layers) + plan.optimizer_s)


@given(spec=network_specs(invalid=False, max_steps=4, inputs=1))
def test_symbolic_times_equal_concrete_ones(spec):
    # CenterCrop's FLOPs differ on purpose: with symbolic sizes it is a crop, as Keras's
    # dynamic shapes take that branch; concretely a smaller input is resized (counts.py)
    assume("CenterCrop" not in op_types(spec))
    graph, concrete = analyzed_or_rejected(spec)
    symbolic, sizes = symbolic_twin(graph, concrete)
    batch = arith.symbol("batch")
    c = time_plan(graph, concrete, TOY, "float32", 4, training=True)
    s = time_plan(graph, symbolic, TOY, "float32", batch, training=True)
    at = {**sizes, "batch": 4}
    assert float(arith.substitute(s.lower_s, at)) == pytest.approx(c.lower_s)
    assert float(arith.substitute(s.upper_s, at)) == pytest.approx(c.upper_s)


def test_concrete_time_plan_imports_no_sympy():
    code = ("import sys\nfrom convplan import load\nfrom convplan.analysis import analyze\n"
            "from convplan.analysis.timing import time_plan\nfrom convplan.devices import device\n"
            "g = load('examples/resnet50.yaml')\n"
            "time_plan(g, analyze(g), device('h100'), 'mixed_bfloat16', 256, True)\n"
            "print('sympy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=__file__.rsplit("/tests/", 1)[0])
    assert done.stdout.strip() == "False"


# TOY with XLA:CPU's swapped-convolution sweep: kernels of up to 1000 B swept at 1e9 B/s,
# 10 x that much at 1e8 B/s; convolutions at 1e9 FLOP/s forward, 5e8 backward
SWAPPING = Device("toy3", "toy", 2**30, {"float32": 1e9}, 1e9, "test", kind="cpu",
                  extra={"swapped_conv_1000": 1e9, "swapped_conv_10000": 1e8,
                         "xla_conv_flops": 1e9, "xla_conv_backward_flops": 5e8})


def _swapped_layer(size, training, device=SWAPPING, batch=2, first=False, **conv):
    """The 3x3 convolution c (2 -> 4 channels) on size x size; after a BatchNormalization
    (trainable: so a training step computes c's input gradient) unless `first`."""
    relu = [] if first else [{"name": "r", "op": "BatchNormalization"}]
    g = _graph([*relu, {"name": "c", "op": "Conv2D", "filters": 4, "kernel_size": 3,
                        "padding": "same", "use_bias": False, **conv}], [size, size, 2])
    plan = time_plan(g, analyze(g), device, "float32", batch=batch, training=training)
    return next(t for t in plan.layers if t.name == "c")


def test_a_swapped_convolution_is_priced_by_the_kernel_bytes_it_sweeps():
    # 3x3 'same' 2 -> 4 on 2 x 2 at batch 2: XLA swaps (9 taps > 4 positions); every tap
    # touches the map, the kernel is 9 x 2 x 4 x 4 = 288 B (<= 1000: at 1e9 B/s); the loop
    # sweeps it per output position: 2 x 4 x 288 = 2304 B, 2304 ns. FLOPs 2 x 8 x 72 = 1152.
    fwd = _swapped_layer(2, False)
    assert fwd.flops == 1152 and fwd.compute_s == pytest.approx(2304e-9)
    # training: the input gradient swaps too (2304 ns more), the kernel's gradient does not
    # (its 1152 FLOPs at 5e8: 2304 ns)
    train = _swapped_layer(2, True)
    assert train.compute_s == pytest.approx(3 * 2304e-9)
    # fed by the model's input no input gradient runs: the forward and the kernel's gradient
    assert _swapped_layer(2, True, first=True).compute_s == pytest.approx(2 * 2304e-9)
    # on 3 x 3 (9 taps, 9 positions) nothing swaps: 2 x 9 x 72 x 2 = 2592 FLOPs at 1e9
    plain = _swapped_layer(3, False)
    assert plain.compute_s == pytest.approx(2592e-9)
    assert _swapped_layer(3, True).compute_s == pytest.approx(2592e-9 + 2 * 2592 / 5e8)


def test_a_strided_convolution_swaps_its_input_gradient_only():
    # 3x3 stride 2 on 4 x 4 (9 <= 16: the forward at the conv rate); its input gradient's map
    # is the 2 x 2 output (9 > 4): swapped, 2 x 4 x 288 = 2304 B at 1e9. FLOPs 2 x 8 x 72
    t = _swapped_layer(4, True, strides=2)
    assert t.compute_s == pytest.approx(1152e-9 + 2304e-9 + 1152 / 5e8)


def test_the_swapped_sweep_interpolates_in_log_log_and_holds_at_its_ends():
    from convplan.analysis.timing import swapped_conv_bandwidth
    assert swapped_conv_bandwidth(SWAPPING, 10) == 1e9
    assert swapped_conv_bandwidth(SWAPPING, 10**6) == 1e8
    # halfway in log between 1000 and 10000 B: halfway in log between the rates
    assert swapped_conv_bandwidth(SWAPPING, 1000 * 10**0.5) == pytest.approx(1e9 * 0.1**0.5)
    assert swapped_conv_bandwidth(TOY, 1000) is None


def test_a_device_without_the_sweep_prices_a_small_map_as_before():
    # no swapped_conv_ keys (every GPU and TPU entry, and older calibrations): the FLOPs
    plain = Device("toy4", "toy", 2**30, {"float32": 1e9}, 1e9, "test", kind="cpu",
                   extra={"xla_conv_flops": 1e9, "xla_conv_backward_flops": 5e8})
    assert _swapped_layer(2, True, plain).compute_s == pytest.approx(1152e-9 + 2 * 1152 / 5e8)
