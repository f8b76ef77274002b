"""convplan's FLOPs and time bands against XLA (Keras 3 + JAX on the CPU, in a subprocess:
convplan.verify.xla_time).

- XLA's cost_analysis of a convolution counts only the taps that land inside the input (it
  skips multiplications by the zero padding); convplan counts every tap of every window, as
  papers do. So for each convolution XLA's flops equal convplan's less 2 x the taps in the
  padding x channels, exactly, which this test computes per axis (and a product of a single
  term, a 1x1 kernel over one channel per group, XLA rewrites as a multiply: 1 FLOP, not 2);
  for 'valid' windows, Dense and pooling the two agree exactly.
- On the seed CNN measured for real (a short budget): every predicted lower bound <= its upper
  bound, and the band fraction, Spearman's rho and the step ratios come out well formed; each
  layer's forward + backward is timed too, with the gradients a training step takes (none of
  the input for the layer fed by the model's input: XLA's count of that program says so). No
  assertion on seconds: this machine is shared and its times are noise.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from convplan import load
from convplan.analysis.analyze import analyze
from convplan.analysis.gradient_flow import output_gradients
from convplan.analysis.timing import time_plan
from convplan.devices import device
from convplan.frontends.spec import build_graph
from convplan.verify.time_accuracy import compare
from convplan.verify.xla_time import environment

pytest.importorskip("jax")
ROOT = Path(__file__).resolve().parents[2]
RUNNER = ("import json, sys; from convplan.verify.xla_time import run\n"
          "for request in json.load(sys.stdin):\n"
          "    run(request)\n")
BATCH = 3


def _measure(requests: list[dict]) -> list[dict]:
    done = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(requests),
                          capture_output=True, text=True, env=environment(), cwd=ROOT,
                          timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _graph(model_json: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.json"
        path.write_text(model_json)
        return load(str(path))


def taps_inside(size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    """Over one axis: how many (output position, kernel tap) pairs read inside the input, with
    TensorFlow's padding (the extra pad of 'same' at the end; 'causal' all at the start)."""
    span = (kernel - 1) * dilation + 1
    if padding == "valid":
        out, before = (size - span) // stride + 1, 0
    elif padding == "same":
        out = -(-size // stride)
        before = max((out - 1) * stride + span - size, 0) // 2
    else:  # causal
        out, before = -(-size // stride), span - 1
    return sum(0 <= o * stride - before + k * dilation < size
               for o in range(out) for k in range(kernel))


def _conv_cases(count: int) -> list[dict]:
    """Convolutions over the corners: 1-D (causal too) and 2-D, strides or dilation, odd and
    even kernels, 'same' and 'valid', groups, depthwise multipliers, bias or not."""
    rng = random.Random(15)
    cases = []
    for i in range(count):
        kind = ("Conv1D", "Conv2D", "Conv2D", "DepthwiseConv2D")[i % 4]
        rank = 1 if kind == "Conv1D" else 2
        sizes = [rng.randint(5, 13) for _ in range(rank)]
        kernel = [rng.randint(1, 5) for _ in range(rank)]
        strided = rng.random() < 0.5
        strides = [rng.randint(1, 3) if strided else 1 for _ in range(rank)]
        dilation = [1 if strided else rng.randint(1, 2) for _ in range(rank)]
        paddings = ["same", "valid", "causal"] if rank == 1 else ["same", "valid"]
        layer = {"name": "conv", "op": kind, "kernel_size": kernel, "strides": strides,
                 "dilation_rate": dilation, "padding": rng.choice(paddings),
                 "use_bias": rng.random() < 0.5}
        groups = rng.choice([1, 1, 2]) if kind != "DepthwiseConv2D" else 1
        channels = rng.randint(1, 4) * groups
        if kind == "DepthwiseConv2D":  # TensorFlow's depthwise kernels take equal strides
            layer["depth_multiplier"] = rng.randint(1, 3)
            layer["strides"] = [strides[0]] * rank
        else:
            layer["filters"] = rng.randint(1, 4) * groups
            layer["groups"] = groups
        span_ok = all((k - 1) * d + 1 <= s for k, d, s in zip(kernel, dilation, sizes))
        if layer["padding"] == "valid" and not span_ok:
            layer["padding"] = "same"
        cases.append({"name": f"case{i}", "inputs": {"x": [*sizes, channels]},
                      "layers": [layer]})
    return cases


def _expected_xla_flops(spec: dict, convplan_flops: int) -> int:
    """convplan's forward FLOPs at the batch less 2 x the multiplies by padding."""
    layer = spec["layers"][0]
    *sizes, channels = spec["inputs"]["x"]
    inside = 1
    for axis, size in enumerate(sizes):
        k, s, d = layer["kernel_size"][axis], layer["strides"][axis], layer["dilation_rate"][axis]
        inside *= taps_inside(size, k, s, d, layer["padding"])
    depthwise = layer["op"] == "DepthwiseConv2D"
    per_tap = (channels * layer["depth_multiplier"] if depthwise
               else channels // layer["groups"] * layer["filters"])
    every_tap = math.prod(layer["kernel_size"]) * _output_positions(spec)
    contraction = math.prod(layer["kernel_size"]) * (1 if depthwise else
                                                     channels // layer["groups"])
    # a product of one term (a 1x1 kernel over one channel per group) XLA rewrites as a
    # multiply: 1 FLOP, where a multiply-add counts 2
    per_multiply = 1 if contraction == 1 else 2
    return convplan_flops - BATCH * per_tap * (2 * every_tap - per_multiply * inside)


def _output_positions(spec: dict) -> int:
    layer = spec["layers"][0]
    *sizes, _ = spec["inputs"]["x"]
    total = 1
    for axis, size in enumerate(sizes):
        k, s, d = layer["kernel_size"][axis], layer["strides"][axis], layer["dilation_rate"][axis]
        span = (k - 1) * d + 1
        total *= (size - span) // s + 1 if layer["padding"] == "valid" else -(-size // s)
    return total


@pytest.mark.tf
@pytest.mark.slow
def test_convolution_flops_equal_xla_less_the_taps_in_the_padding():
    specs = _conv_cases(16)
    requests = [{"name": s["name"], "spec": s, "sizes": [None], "batches": [BATCH],
                 "measure": False} for s in specs]
    rows = _measure(requests)
    assert len(rows) == len(specs)
    padded, wrong = 0, []
    for spec, row in zip(specs, rows, strict=True):
        ours = analyze(build_graph(spec)).layer("conv").flops * BATCH
        xla = row["layers"][0]["xla"]["flops"]
        expected = _expected_xla_flops(spec, ours)
        if xla != expected or xla > ours:
            wrong.append((spec["inputs"]["x"], spec["layers"][0], xla, expected, ours))
        padded += expected < ours
    assert not wrong, wrong
    assert padded >= 4  # the corners where XLA and convplan differ were drawn


@pytest.mark.tf
@pytest.mark.slow
def test_seed_cnn_layers_dense_and_pooling_agree_and_bands_are_well_formed(tmp_path,
                                                                          monkeypatch):
    spec = yaml.safe_load((ROOT / "examples" / "seed_cnn.yaml").read_text())
    spec["layers"][0]["padding"] = "valid"  # no padding: XLA counts what convplan counts
    spec["layers"][2]["padding"] = "valid"
    row, = _measure([{"name": "seed", "spec": spec, "sizes": [None], "batches": [8],
                      "budget_s": 0.0}])
    graph = _graph(row["model_json"])
    analysis = analyze(graph)
    xla = {m["name"]: m["xla"]["flops"] for m in row["layers"]}
    for layer in analysis.layers:
        if layer.op in ("Conv2D", "MaxPooling2D") or layer.op == "Dense" and \
                layer.name == "dense1":  # dense2's softmax: XLA counts exp/div its own way
            assert xla[layer.name] == layer.flops * 8, layer.name
    # the whole forward program: the same, but for the softmax (XLA counts its exp, max and
    # division its own way: 152 FLOPs more over 8 x 10 outputs, measured)
    assert row["steps"]["forward"]["xla"]["flops"] == pytest.approx(analysis.totals.flops * 8,
                                                                    rel=1e-4)
    # a calibrated-style CPU entry of the test's own: no wall-clock figure is asserted
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"devices": [{
        "name": "cpu-test", "description": "test", "memory": 2**34,
        "flops": {"float32": 2e10}, "bandwidth": 5e9, "source": "test", "kind": "cpu",
        "units": 2}]}))
    monkeypatch.setenv("CONVPLAN_DEVICES", str(path))
    chip = device("cpu-test")
    forward = time_plan(graph, analysis, chip, "float32", 8, training=False)
    training = time_plan(graph, analysis, chip, "float32", 8, training=True)
    for plan in (forward, training):
        assert all(0 <= t.lower_s <= t.upper_s for t in plan.layers)
        assert 0 < plan.lower_s <= plan.upper_s
    assert training.lower_s > forward.lower_s
    measured = {m["name"]: m["min_s"] for m in row["layers"]}
    result = compare(measured, {t.name: (t.lower_s, t.upper_s) for t in forward.layers},
                     {t.name: t.op for t in forward.layers}, row["steps"]["train"]["min_s"],
                     (training.lower_s, training.upper_s))
    with_time = [t.name for t in forward.layers if t.upper_s > 0]
    assert [b.name for b in result.layers] == with_time
    assert {"conv1", "conv2", "dense1", "dense2"} <= set(with_time)
    assert 0 <= result.inside_fraction <= 1
    assert -1 <= result.spearman <= 1
    assert result.step_ratio > 0 and math.isfinite(result.step_ratio)
    assert row["steps"]["train"]["repeats"] >= 5
    _check_layer_training(row, training)


def _check_layer_training(row: dict, training) -> None:
    """Each layer's forward + backward, timed alone: every layer has one; the first layer,
    fed by the model's input, takes no input gradient (a training step computes none), so its
    compiled program counts the forward and the kernel gradient (~2x the forward's FLOPs),
    where conv2 and the Dense layers count the input gradient too (3x); and the timings score
    against the training plan's bands layer by layer."""
    layers = {m["name"]: m for m in row["layers"]}
    assert all("train" in m and m["train"]["repeats"] >= 5 for m in layers.values())
    assert layers["conv1"]["train"]["input_gradients"] == 0
    assert all(layers[n]["train"]["input_gradients"] == 1 for n in ("pool1", "conv2", "dense1"))

    def backward_share(name: str) -> float:
        return layers[name]["train"]["xla"]["flops"] / layers[name]["xla"]["flops"]
    assert backward_share("conv1") == pytest.approx(2, rel=0.1)
    for name in ("conv2", "dense1"):
        assert backward_share(name) == pytest.approx(3, rel=0.02), name
    timed = {n: m["train"]["min_s"] for n, m in layers.items()}
    result = compare(timed, {t.name: (t.lower_s, t.upper_s) for t in training.layers},
                     {t.name: t.op for t in training.layers}, row["steps"]["train"]["min_s"],
                     (training.lower_s, training.upper_s))
    assert {"conv1", "pool1", "conv2", "pool2", "dense1", "dense2"} <= \
        {b.name for b in result.layers}
    assert all(b.measured_s > 0 and b.lower_s <= b.upper_s for b in result.layers)


GRADIENT_FLOW = """
import json, keras
from convplan.verify.xla_time import time_layers
x = keras.Input((6, 6, 2))
h = keras.layers.Rescaling(0.5, name="scale")(x)
h = keras.layers.ZeroPadding2D(1, name="pad")(h)
h = keras.layers.Conv2D(3, 3, name="frozen", trainable=False)(h)
h = keras.layers.Conv2D(4, 3, name="first")(h)
h = keras.layers.ReLU(name="relu")(h)
h = keras.layers.Conv2D(2, 1, name="second")(h)
model = keras.Model(x, h)
print(json.dumps({"json": model.to_json(), "layers": time_layers(model, 2, measure=False)}))
"""


def test_the_layers_timed_alone_take_the_gradients_convplan_counts():
    """A preprocessing layer, a padding and a frozen convolution before the first trainable
    one: the benchmark differentiates no input of theirs, nor the first trainable layer's
    input (so XLA's compiled program of that layer counts its forward and kernel gradient,
    2x the forward's FLOPs, where the next convolution's counts 3x), exactly the inputs
    convplan.analysis.gradient_flow says a step computes gradients for."""
    done = subprocess.run([sys.executable, "-c", GRADIENT_FLOW], capture_output=True,
                          text=True, env=environment(), cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    measured = {m["name"]: m for m in out["layers"]}
    graph = _graph(out["json"])
    flows = output_gradients(graph, analyze(graph))
    assert [n for n, f in flows.items() if f] == ["first", "relu", "second"]
    for name, m in measured.items():
        assert m["train"]["input_gradients"] == sum(flows[i] for i in graph[name].inputs), name

    def backward_share(name: str) -> float:
        return measured[name]["train"]["xla"]["flops"] / measured[name]["xla"]["flops"]
    assert backward_share("first") == pytest.approx(2, rel=0.15)
    assert backward_share("second") == pytest.approx(3, rel=0.15)
