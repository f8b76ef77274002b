"""convplan.analysis.xla_cpu's operand-swap rule against XLA itself.

For convolutions over the corners (1-D and 2-D, 'same', 'valid' and 'causal', strides or
dilation, kernels larger and smaller than the map, one group or two), a subprocess compiles
the forward and the input's gradient with jax on the CPU and reports whether XLA's optimized
program convolves with a reversed window (`rhs_reversal` in the convolution's window: the
swapped form); the rule must say the same for every case, both ways. The time model prices
exactly these passes by the kernel bytes they sweep (docs/time.md) and the memory model
holds their reversed kernels (docs/memory.md).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from convplan.analysis.xla_cpu import swaps_input_gradient, swaps_operands, touched_taps
from convplan.ir.ops import make_op
from convplan.verify.xla_time import environment

pytest.importorskip("jax")

# per case: sizes, kernel, stride, dilation, padding ('same', 'valid' or explicit pairs), groups
COMPILE = r"""
import json, sys
import jax, jax.numpy as jnp
from jax import lax

def reversed_window(text):
    return any("convolution(" in line and "rhs_reversal" in line for line in text.splitlines())

for case in json.load(sys.stdin):
    rank = len(case["sizes"])
    spatial = "HWD"[:rank]
    numbers = ("N" + spatial + "C", spatial + "IO", "N" + spatial + "C")
    padding = case["padding"] if isinstance(case["padding"], str) else \
        [tuple(p) for p in case["padding"]]
    channels, groups = 4, case["groups"]
    def conv(x, w):
        return lax.conv_general_dilated(
            x, w, (case["stride"],) * rank, padding, rhs_dilation=(case["dilation"],) * rank,
            dimension_numbers=numbers, feature_group_count=groups)
    x = jnp.ones((2, *case["sizes"], channels))
    w = jnp.ones((*[case["kernel"]] * rank, channels // groups, channels))
    forward = jax.jit(conv).lower(x, w).compile().as_text()
    y = conv(x, w)
    grad = jax.jit(lambda x, w, y: jax.vjp(lambda x: conv(x, w), x)[1](y)[0])
    gradient = grad.lower(x, w, y).compile().as_text()
    print(json.dumps([reversed_window(forward), reversed_window(gradient)]))
"""


def _cases(count: int) -> list[dict]:
    rng = random.Random(19)
    cases = [  # the measured ones (docs/time.md): 2x2 and 3x2 swap, 2x8, 3x3 and 4x4 d2 not
        {"sizes": [2, 2], "kernel": 3, "stride": 1, "dilation": 1, "padding": "same"},
        {"sizes": [3, 2], "kernel": 3, "stride": 1, "dilation": 1, "padding": "same"},
        {"sizes": [2, 8], "kernel": 3, "stride": 1, "dilation": 1, "padding": "same"},
        {"sizes": [3, 3], "kernel": 3, "stride": 1, "dilation": 1, "padding": "same"},
        {"sizes": [4, 4], "kernel": 3, "stride": 1, "dilation": 2, "padding": "same"},
        {"sizes": [4, 4], "kernel": 3, "stride": 2, "dilation": 1, "padding": "same"},
        {"sizes": [1, 1], "kernel": 3, "stride": 1, "dilation": 1, "padding": "same"},
        {"sizes": [3, 3], "kernel": 3, "stride": 1, "dilation": 1, "padding": "valid"},
        {"sizes": [5], "kernel": 3, "stride": 1, "dilation": 2, "padding": "causal"},
    ]
    while len(cases) < count:
        rank = rng.choice((1, 2, 2))
        kernel = rng.choice((1, 2, 3, 3, 5, 7))
        stride, dilation = rng.choice(((1, 1), (1, 1), (2, 1), (3, 1), (1, 2), (1, 3)))
        padding = rng.choice(("same", "same", "valid") + (("causal",) if rank == 1 else ()))
        span = (kernel - 1) * dilation + 1
        low = span if padding == "valid" else 1
        sizes = [rng.randint(low, low + 6) for _ in range(rank)]
        cases.append({"sizes": sizes, "kernel": kernel, "stride": stride,
                      "dilation": dilation, "padding": padding})
    for i, case in enumerate(cases):
        case["groups"] = 2 if i % 7 == 6 else 1
    return cases


def _op(case: dict):
    rank = len(case["sizes"])
    return make_op(f"Conv{rank}D", "c", {
        "filters": 4, "kernel_size": case["kernel"], "strides": case["stride"],
        "dilation_rate": case["dilation"], "padding": case["padding"],
        "groups": case["groups"]})


def _xla_padding(case: dict) -> str | list[list[int]]:
    if case["padding"] == "causal":
        return [[(case["kernel"] - 1) * case["dilation"], 0]]
    return case["padding"].upper()


def test_the_swap_rule_is_what_xla_compiles():
    cases = _cases(70)
    job = [{**case, "padding": _xla_padding(case)} for case in cases]
    done = subprocess.run([sys.executable, "-c", COMPILE], input=json.dumps(job),
                          capture_output=True, text=True, env=environment(), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    observed = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[")]
    assert len(observed) == len(cases)
    predicted = [[swaps_operands(_op(c), c["sizes"]), swaps_input_gradient(_op(c), c["sizes"])]
                 for c in cases]
    wrong = [(c, p, o) for c, p, o in zip(cases, predicted, observed) if p != o]
    assert not wrong, wrong
    # the corners are exercised both ways
    assert {tuple(o) for o in observed} >= {(True, True), (False, False), (False, True)}


@pytest.mark.parametrize("sizes, kernel, taps", [
    ([2, 2], 3, 9), ([2, 2], 5, 9), ([3, 3], 5, 25), ([1, 1], 3, 1), ([1, 4], 5, 5)])
def test_touched_taps_by_hand(sizes, kernel, taps):
    # 'same' stride 1: on n positions a k-tap window touches min(k, 2n - 1) taps per axis
    # (offsets -(n - 1) .. n - 1 from the centre); 1 x 4 with 5x5: 1 x 5
    op = make_op("Conv2D", "c", {"filters": 4, "kernel_size": kernel, "padding": "same"})
    assert touched_taps(op, sizes) == taps
