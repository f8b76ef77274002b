"""TensorFlow as the oracle for what the checks claim: Keras rejects what CP101/CP102 report,
the outputs CP103 calls padding-only see no input, the rows CP104 calls unread do not change
the output, CP404's padding split is TF's, CP105's condition is exactly when Keras builds the
merge, and CP402/CP403's tap counts are real."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from convplan import loads_spec
from convplan.checks import check_graph
from convplan.checks.config import CheckConfig
from convplan.checks.design_rules import _coverage
from convplan.checks.examples import EXAMPLES
from convplan.checks.runner import error_finding
from convplan.errors import ConvplanError
from convplan.verify.keras_build import build_keras_model

pytestmark = pytest.mark.tf


def findings(text: str):
    return check_graph(loads_spec(text), CheckConfig())


@pytest.mark.parametrize("op, rejected", [
    ("Conv2D", True), ("Conv2DTranspose", True), ("Conv1D", True),
    ("DepthwiseConv2D", False), ("SeparableConv2D", False),
])
def test_strides_with_dilation_is_reported_where_keras_rejects_it(keras, op, rejected):
    rank = 1 if op.endswith("1D") else 2
    layer = getattr(keras.layers, op)
    kwargs = {"kernel_size": 3, "strides": 2, "dilation_rate": 2, "padding": "same"}
    if op != "DepthwiseConv2D":
        kwargs["filters"] = 4
    try:
        layer(**kwargs)(keras.Input((16,) * rank + (3,)))
        keras_rejects = False
    except ValueError:
        keras_rejects = True
    assert keras_rejects is rejected
    filters = "" if op == "DepthwiseConv2D" else "filters: 4, "
    spec = (f"inputs: {{x: [{', '.join(['16'] * rank)}, 3]}}\nlayers:\n  - {{name: l, op: {op}, "
            f"{filters}kernel_size: 3, strides: 2, dilation_rate: 2, padding: same}}\n")
    try:
        codes = [f.code for f in findings(spec)]
    except ConvplanError as exc:  # raised while loading: the runner turns it into CP102
        codes = [error_finding(exc, None).code]
    assert ("CP102" in codes) is rejected


def test_empty_output_is_what_keras_refuses_to_build(keras):
    bad, good = EXAMPLES["CP101"]
    with pytest.raises(ValueError, match="zero or negative"):
        build_keras_model(loads_spec(bad))
    build_keras_model(loads_spec(good))


TRUNCATING = """\
inputs: {{x: [{h}, {w}, 1]}}
layers:
  - {{name: conv, op: Conv2D, filters: 2, kernel_size: 3, strides: 2}}
  - {{name: pool, op: AveragePooling2D, pool_size: 3, strides: 2}}
"""


@pytest.mark.parametrize("h, w", [(29, 31), (24, 26)])
def test_rows_reported_unread_do_not_change_the_output(keras, h, w):
    """Perturbing the input rows that CP104 says no window reaches (mapped back through the
    conv's stride) leaves the output unchanged; perturbing the last row that is read does not."""
    graph = loads_spec(TRUNCATING.format(h=h, w=w))
    model = build_keras_model(graph)
    x = np.random.default_rng(0).normal(size=(1, h, w, 1)).astype("float32")
    base = model.predict(x, verbose=0)
    reported = {f.layer: f.message for f in check_graph(graph, CheckConfig()) if f.code == "CP104"}
    # pool's input has (h - 3) // 2 + 1 rows; the unread ones come from input rows >= read_h.
    conv_rows = (h - 3) // 2 + 1
    lost = (conv_rows - 3) % 2
    assert (f"the last {lost} of its {conv_rows} input rows" in reported.get("pool", "")) == (lost > 0)
    read_h = 2 * (conv_rows - lost - 1) + 3  # input rows the remaining conv outputs read
    for row in range(h):
        y = x.copy()
        y[0, row] += 100.0
        changed = not np.allclose(model.predict(y, verbose=0), base)
        assert changed == (row < read_h), row


def test_same_padding_split_is_tensorflows(keras):
    """Conv2D 'same' equals an explicit pad with the (before, after) CP404 reports: the
    example's 4x4 kernel at stride 1, and a 2x2 stride-2 kernel on 7 rows."""
    import tensorflow as tf

    finding = next(f for f in findings(EXAMPLES["CP404"][0]) if f.code == "CP404")
    assert "1 before and 2 after the 64 rows" in finding.message
    strided = ("inputs: {x: [7, 7, 3]}\nlayers:\n  - {name: c, op: Conv2D, filters: 4, "
               "kernel_size: 2, strides: 2, padding: same}\n")
    assert "0 before and 1 after the 7 rows" in next(
        f.message for f in findings(strided) if f.code == "CP404")
    for size, k, s, (before, after) in ((64, 4, 1, (1, 2)), (7, 2, 2, (0, 1))):
        x = tf.random.normal((1, size, size, 3), seed=1)
        kernel = tf.random.normal((k, k, 3, 4), seed=2)
        same = tf.nn.conv2d(x, kernel, strides=s, padding="SAME")
        pads = [[0, 0], [before, after], [before, after], [0, 0]]
        reported = tf.nn.conv2d(tf.pad(x, pads), kernel, s, "VALID")
        swapped = [[0, 0], [after, before], [after, before], [0, 0]]
        other = tf.nn.conv2d(tf.pad(x, swapped), kernel, s, "VALID")
        assert np.allclose(same, reported, atol=1e-5)
        assert not np.allclose(same, other, atol=1e-3)


def test_outputs_cp103_calls_padding_only_are_the_ones_that_see_no_input(keras):
    """With an all-ones kernel, no bias and positive inputs, an output is 0 exactly when
    every tap reads padding: DepthwiseConv1D (strides with dilation, as Keras allows) over
    windows and lengths around the dilation."""
    from convplan.checks.shape_rules import padding_only_outputs

    rng = np.random.default_rng(0)
    fired = 0
    for n, k, s, d in itertools.product(range(1, 12), (2, 3, 4), (1, 2, 3), (2, 5, 9)):
        layer = keras.layers.DepthwiseConv1D(k, strides=s, dilation_rate=d, padding="same",
                                             use_bias=False, depthwise_initializer="ones")
        x = rng.uniform(1.0, 2.0, size=(1, n, 1)).astype("float32")
        out = np.asarray(layer(x))[0, :, 0]
        zero = [i for i, value in enumerate(out) if value == 0.0]
        assert zero == padding_only_outputs(n, k, s, d, "same"), (n, k, s, d, out)
        fired += bool(zero)
    assert fired > 20  # the grid reaches the cases the rule is for


UNET = """\
inputs: {{image: [{size}, 8, 3]}}
layers:
  - {{name: enc, op: Conv2D, filters: 4, kernel_size: 3, padding: same}}
  - {{name: p1, op: MaxPooling2D, pool_size: 2}}
  - {{name: p2, op: MaxPooling2D, pool_size: 2}}
  - {{name: up, op: UpSampling2D, size: 4}}
  - {{name: merge, op: Concatenate, inputs: [enc, up]}}
"""


def test_merge_condition_is_when_keras_builds_the_merge(keras):
    message = next(f.message for f in findings(UNET.format(size="H")) if f.code == "CP105")
    assert "agree only when H is divisible by 4" in message
    for size in range(8, 17):
        try:
            build_keras_model(loads_spec(UNET.format(size=size)))
            built = True
        except ValueError:
            built = False
        assert built == (size % 4 == 0), size


def test_checkerboard_tap_counts(keras):
    """With an all-ones kernel and input, each output of a transposed convolution is its tap
    count: k = 3, s = 2 alternates 1 and 2 (what CP403 reports); k = 4 is even everywhere."""
    for kernel, counts in ((3, {1.0, 2.0}), (4, {2.0})):
        layer = keras.layers.Conv1DTranspose(1, kernel, strides=2, padding="same",
                                             use_bias=False, kernel_initializer="ones")
        out = np.asarray(layer(np.ones((1, 8, 1), "float32")))[0, 2:-2, 0]
        assert set(np.round(out).tolist()) == counts


def test_gridding_coverage_is_the_impulse_response(keras):
    """Three stacked 3-tap convolutions with dilation 2: the output centre depends on exactly
    the input offsets _coverage counts (7 of a 13-pixel span)."""
    model = keras.Sequential([keras.Input((32, 1))] + [
        keras.layers.Conv1D(1, 3, dilation_rate=2, padding="same", use_bias=False,
                            kernel_initializer="ones") for _ in range(3)])
    seen = 0
    for offset in range(-8, 9):
        x = np.zeros((1, 32, 1), "float32")
        x[0, 16 + offset] = 1.0
        seen += model.predict(x, verbose=0)[0, 16, 0] != 0
    assert (seen, 13) == _coverage([(3, 2)] * 3)
