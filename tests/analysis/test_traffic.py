"""Bytes per layer (convplan.analysis.traffic): hand-worked rows and properties.

Each row's bytes are worked out by hand from the rules stated in docs/counting.md ("Bytes"),
with the arithmetic in the comment above it; they were not copied from convplan's output.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from strategies import analyzed_or_rejected, network_specs, symbolic_twin

from convplan.analysis import analyze
from convplan.analysis.traffic import TRAFFIC_RULES, layer_traffic
from convplan.frontends.spec import build_graph
from convplan.ir.rules import uncovered


def _traffic(layer: dict, shape: list[int], batch: int, itemsize: int, fed: bool = True):
    """The layer's LayerTraffic; `fed`: behind a trainable BatchNormalization, so a training
    step computes its input's gradient (a layer on the graph's input writes none)."""
    layers = [{"name": "pre", "op": "BatchNormalization"}] if fed else []
    graph = build_graph({"name": "t", "inputs": {"x": shape},
                         "layers": layers + [{"name": "it", **layer}]})
    rows = layer_traffic(graph, analyze(graph), batch, itemsize)
    return next(r for r in rows if r.name == "it")


# (layer, input shape, batch, itemsize, forward, training forward, backward)
ROWS = [
    # 3x3 conv 16 -> 32, same, on 8x8, float32, batch 2: x 8*8*16 = 1024 elements (4096 B),
    # y 8*8*32 = 2048 (8192 B): per example 12288, x2 = 24576; weights 3*3*16*32 + 32 = 4640
    # (18560 B): forward 43136. Backward: dy twice (16384) + x saved (4096) read, dx (4096)
    # written = 24576 per example, x2 = 49152; weights read 18560 + gradients 18560: 86272
    ({"op": "Conv2D", "filters": 32, "kernel_size": 3, "padding": "same"}, [8, 8, 16], 2, 4,
     43136, 43136, 86272),
    # Dense 10 -> 5 in bfloat16 (2 B), batch 3: (10 + 5) * 2 = 30 per example, x3 = 90;
    # weights 55 * 2 = 110: 200. Backward: dy twice 20 + x 20 read, dx 20 written = 60, x3 =
    # 180; weights 110 read, 110 written: 400
    ({"op": "Dense", "units": 5}, [10], 3, 2, 200, 200, 400),
    # ReLU on 4x4x8 = 128 elements, float32: forward 512 + 512 = 1024; backward dy 512 +
    # the saved output 512 read, dx 512 written = 1536
    ({"op": "ReLU"}, [4, 4, 8], 1, 4, 1024, 1024, 1536),
    # Dropout: nothing at inference; training forward reads 512, writes 512 and a 1-byte mask
    # per element (128): 1152; backward dy 512 + mask 128 read, dx 512: 1152
    ({"op": "Dropout", "rate": 0.5}, [4, 4, 8], 1, 4, 0, 1152, 1152),
    # Flatten is a view: nothing moves
    ({"op": "Flatten"}, [4, 4, 8], 4, 4, 0, 0, 0),
    # BatchNormalization on 4x4x8, batch 2, float32: per example 512 + 512 = 1024, x2 = 2048;
    # gamma, beta, moving mean and variance 4 * 8 * 4 B = 128: 2176. Backward: dy 512 + x 512
    # read and dx 512 written per example (x2 = 3072); fixed: the saved float32 mean and
    # variance 2*8*4 = 64, the weights 128, gamma's and beta's gradients 2*8*4 = 64: 3328
    ({"op": "BatchNormalization"}, [4, 4, 8], 2, 4, 2176, 2176, 3328),
    # MaxPooling 2x2 on 4x4x8 -> 2x2x8 (32 elements): forward 512 + 128 = 640; backward dy
    # 128 + the saved input 512 and output 128 read, dx 512 written: 1280
    ({"op": "MaxPooling2D", "pool_size": 2}, [4, 4, 8], 1, 4, 640, 640, 1280),
    # SeparableConv2D 3x3, 4 -> 6, multiplier 1, valid on 5x5 (out 3x3), float32:
    # x 100 elements (400 B), mid 3*3*4 = 36 (144 B), y 3*3*6 = 54 (216 B); forward per
    # example 400 + 144 (read) + 144 + 216 (written) = 904; weights 3*3*4 + 4*6 + 6 = 66
    # (264 B): 1168. Backward: dy twice 432, mid twice 288, x saved 400, the saved depthwise
    # result 144 read, dm 144 and dx 400 written = 1808; weights 264 + 264: 2336
    ({"op": "SeparableConv2D", "filters": 6, "kernel_size": 3}, [5, 5, 4], 1, 4,
     1168, 1168, 2336),
]


@pytest.mark.parametrize("layer, shape, batch, size, forward, training_forward, backward",
                         ROWS, ids=[r[0]["op"] for r in ROWS])
def test_hand_worked(layer, shape, batch, size, forward, training_forward, backward):
    row = _traffic(layer, shape, batch, size)
    assert (row.forward, row.training_forward, row.backward) == (
        forward, training_forward, backward)


def test_a_layer_on_the_input_writes_no_input_gradient():
    # the Conv2D row without `pre`: dx (4096 B per example, x2) is not written
    row = _traffic(ROWS[0][0], [8, 8, 16], 2, 4, fed=False)
    assert row.backward == 86272 - 2 * 4096


@pytest.mark.parametrize("index", [2, 3, 5])  # ReLU, Dropout, BatchNormalization
def test_no_backward_moves_where_no_trainable_weight_lies_upstream(index):
    # ReLU and Dropout on the input compute no gradient at all; a BatchNormalization frozen
    # there (trainable: false) neither: its forward's bytes stay, its backward is 0
    layer, shape, batch, size, forward, training_forward, _ = ROWS[index]
    row = _traffic({**layer, "trainable": False}, shape, batch, size, fed=False)
    assert (row.forward, row.training_forward, row.backward) == (forward, training_forward, 0)


def test_every_op_has_a_rule():
    assert uncovered(TRAFFIC_RULES) == []


@given(spec=network_specs(invalid=False, max_steps=5))
def test_bytes_are_linear_in_batch_and_weights_independent_of_it(spec):
    """bytes(b) = b x per-example + fixed; the fixed part of the forward pass is the
    weights (every layer but Embedding, which reads only the rows it looks up)."""
    graph, analysis = analyzed_or_rejected(spec)
    rows = {b: layer_traffic(graph, analysis, b, 2) for b in (0, 1, 3)}
    for r0, r1, r3 in zip(rows[0], rows[1], rows[3]):
        for part in ("forward", "training_forward", "backward"):
            v0, v1, v3 = (getattr(r, part) for r in (r0, r1, r3))
            assert v3 - v0 == 3 * (v1 - v0), (r1.name, part)
            assert v0 >= 0 and v1 >= v0
        layer = analysis.layer(r0.name)
        if layer.op not in ("Embedding",) and r1.training_forward == r1.forward:
            assert r0.forward == 2 * layer.params, r0.name


@given(spec=network_specs(invalid=False, max_steps=4, inputs=1))
def test_symbolic_bytes_equal_concrete_ones(spec):
    """The formulas in H, W (and the batch) evaluate to the concrete analysis's bytes."""
    from convplan.analysis import arith

    graph, concrete = analyzed_or_rejected(spec)
    symbolic, sizes = symbolic_twin(graph, concrete)
    batch = arith.symbol("batch")
    for c, s in zip(layer_traffic(graph, concrete, 5, 4), layer_traffic(graph, symbolic, batch, 4)):
        for part in ("forward", "training_forward", "backward"):
            value = arith.substitute(getattr(s, part), {**sizes, "batch": 5})
            assert arith.simplify_int(value) == getattr(c, part), (c.name, part)


def test_concrete_traffic_imports_no_sympy():
    code = ("import sys\nfrom convplan import load\nfrom convplan.analysis import analyze\n"
            "from convplan.analysis.traffic import layer_traffic\n"
            "g = load('examples/resnet50.yaml')\nlayer_traffic(g, analyze(g), 32, 2)\n"
            "print('sympy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=__file__.rsplit("/tests/", 1)[0])
    assert done.stdout.strip() == "False"
