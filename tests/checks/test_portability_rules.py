"""Portability rules (CP5xx): what they report, and that the port each finding states is exact:
Keras computes the same numbers with the stated ZeroPadding + 'valid' as with 'same'
(TensorFlow), PyTorch computes them with the stated F.pad, onnxruntime's AveragePool with
count_include_pad equals the stated Keras layers, ceil-mode pooling (PyTorch) equals the
stated Keras pooling, and PyTorch's NCHW flatten + Linear equals Keras's Permute + Flatten +
Dense with the same weights."""

from __future__ import annotations

import ast
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convplan.checks.portability_rules import tf_same_pads
from convplan.checks.runner import check_file


def findings(tmp_path, text: str, code: str, **overrides):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    report = check_file(path, isolated=True, overrides=overrides or None)
    assert report.error is None, report.error
    return [f for f in report.findings if f.code == code]


def conv_spec(n: int, k: int, s: int, d: int = 1, op: str = "Conv2D", extra: str = "") -> str:
    window = "pool_size" if "Pooling" in op else "kernel_size"
    more = "" if "Pooling" in op else f", filters: 2, dilation_rate: {d}"
    return (f"inputs: {{x: [{n}, {n + 1}, 3]}}\nlayers:\n"
            f"  - {{name: w, op: {op}, {window}: {k}, strides: {s}, padding: same{more}{extra}}}\n")


def keras_fix(message: str):
    """The ((top, bottom), (left, right)) of the finding's Keras ZeroPadding2D."""
    found = re.search(r"ZeroPadding2D\((\(\(.*?\)\))\)", message)
    assert found, message
    return ast.literal_eval(found.group(1))


def torch_fix(message: str):
    found = re.search(r"ZeroPad2d\((\(.*?\))\)", message) or re.search(
        r"F\.pad\(x, (\(.*?\))", message)
    assert found, message
    return ast.literal_eval(found.group(1))


# ---------------------------------------------------------------- what is reported


def test_port_rules_run_only_when_asked(tmp_path):
    text = conv_spec(64, 3, 2)
    assert findings(tmp_path, text, "CP501") == []
    (found,) = findings(tmp_path, text, "CP501", port="torch")
    assert "0 before and 1 after the rows of 64, 1 before and 1 after the columns of 65" in \
        found.message
    assert "ZeroPadding2D(((0, 1), (1, 1)))" in found.message
    assert "nn.ZeroPad2d((1, 1, 0, 1))" in found.message and "pads=[0, 1, 1, 1]" in found.message


def test_symmetric_same_is_not_reported(tmp_path):
    assert findings(tmp_path, conv_spec(65, 3, 1), "CP501", port="torch") == []
    assert findings(tmp_path, conv_spec(65, 1, 2).replace("[65, 66", "[65, 65"), "CP501",
                    port="torch") == []


def test_symbolic_sizes_give_the_split_per_residue(tmp_path):
    text = conv_spec(64, 3, 2).replace("[64, 65, 3]", "[H, W, 3]")
    (found,) = findings(tmp_path, text, "CP501", port="onnx")
    assert "n % 2 == 0: (0, 1); n % 2 == 1: (1, 1)" in found.message


def test_explicit_pads_that_same_does_not_compute(tmp_path):
    text = ("inputs: {x: [224, 224, 3]}\nlayers:\n  - {name: stem, op: Conv2D, filters: 4, "
            "kernel_size: 7, strides: 2, padding: [[3, 3], [3, 3]]}\n")
    (found,) = findings(tmp_path, text, "CP502")
    assert "'same' would pad 2 before and 3 after the rows of 224" in found.message
    assert keras_fix(found.message) == ((3, 3), (3, 3))
    # pads equal to TF's split at that size are left alone
    assert findings(tmp_path, text.replace("[[3, 3], [3, 3]]", "[[2, 3], [2, 3]]"), "CP502") == []


def test_max_pool_pads_before_a_non_negative_input_only(tmp_path):
    text = ("inputs: {x: [32, 32, 3]}\nlayers:\nRELU  - {name: p, op: MaxPooling2D, "
            "pool_size: 3, strides: 2, padding: [[1, 1], [1, 1]]}\n")
    (plain,) = findings(tmp_path, text.replace("RELU", ""), "CP502")
    assert "no single Keras layer" in plain.message
    (after_relu,) = findings(tmp_path, text.replace("RELU", "  - {name: r, op: ReLU}\n"),
                             "CP502")
    assert keras_fix(after_relu.message) == ((1, 1), (1, 1))


def test_ceil_mode_only_where_it_adds_a_window(tmp_path):
    text = ("inputs: {{x: [{n}, {n}, 3]}}\nlayers:\n  - {{name: r, op: ReLU}}\n"
            "  - {{name: p, op: MaxPooling2D, pool_size: 3, strides: 2, ceil_mode: true}}\n")
    assert findings(tmp_path, text.format(n=57), "CP503") == []  # (57 - 3) / 2 is whole
    (found,) = findings(tmp_path, text.format(n=56), "CP503")
    assert "padding='same'" in found.message


def test_flatten_order(tmp_path):
    seed = ("inputs: {x: [8, 8, 3]}\nlayers:\n  - {name: c, op: Conv2D, filters: 4, "
            "kernel_size: 3}\nPERMUTE  - {name: f, op: Flatten}\n  - {name: d, op: Dense, "
            "units: 2}\n")
    (found,) = findings(tmp_path, seed.replace("PERMUTE", ""), "CP505", port="torch")
    assert "6x6x4" in found.message and "Permute((3, 1, 2))" in found.message
    permuted = seed.replace("PERMUTE", "  - {name: t, op: Permute, dims: [3, 1, 2]}\n")
    assert findings(tmp_path, permuted, "CP505", port="torch") == []
    one_by_one = seed.replace("PERMUTE", "").replace("[8, 8, 3]", "[3, 3, 3]")
    assert findings(tmp_path, one_by_one, "CP505", port="torch") == []


# ---------------------------------------------------------------- the ports are exact


@pytest.mark.tf
@given(n=st.integers(4, 20), k=st.integers(1, 5), s=st.integers(1, 3), d=st.integers(1, 2),
       pool=st.booleans())
def test_stated_padding_reproduces_same_in_keras_and_torch(tmp_path_factory, keras, n, k, s, d,
                                                           pool):
    if (s > 1 and d > 1) or pool:
        d = 1  # Keras refuses strides with dilation; pooling has none
    tmp_path = tmp_path_factory.mktemp("p")
    op = "MaxPooling2D" if pool else "Conv2D"
    spec = conv_spec(n, k, s, d, op)
    pads = (tf_same_pads(n, k, s, d), tf_same_pads(n + 1, k, s, d))
    found = findings(tmp_path, spec, "CP501", port="torch")
    assert bool(found) == any(b != e for b, e in pads)
    rng = np.random.default_rng(n * 100 + k * 10 + s)
    x = rng.standard_normal((1, n, n + 1, 3)).astype("float32")
    if pool:
        same = keras.layers.MaxPooling2D(k, s, padding="same")(x)
        torch = pytest.importorskip("torch")
        padded = torch.nn.functional.pad(torch.from_numpy(x).permute(0, 3, 1, 2),
                                         torch_fix(found[0].message) if found else
                                         (pads[1][0], pads[1][1], pads[0][0], pads[0][1]),
                                         value=-float("inf"))
        ported = torch.nn.functional.max_pool2d(padded, k, s).permute(0, 2, 3, 1).numpy()
        np.testing.assert_array_equal(np.asarray(same), ported)
        return
    conv = keras.layers.Conv2D(2, k, s, padding="same", dilation_rate=d)
    same = np.asarray(conv(x))
    valid = keras.layers.Conv2D(2, k, s, padding="valid", dilation_rate=d)
    explicit = keras_fix(found[0].message) if found else pads
    padded = keras.layers.ZeroPadding2D(explicit)(x)
    valid.build(padded.shape)
    valid.set_weights(conv.get_weights())
    np.testing.assert_allclose(np.asarray(valid(padded)), same, rtol=1e-5, atol=1e-5)
    torch = pytest.importorskip("torch")
    kernel, bias = conv.get_weights()
    t_pads = torch_fix(found[0].message) if found else (pads[1][0], pads[1][1], pads[0][0],
                                                         pads[0][1])
    out = torch.nn.functional.conv2d(
        torch.nn.functional.pad(torch.from_numpy(x).permute(0, 3, 1, 2), t_pads),
        torch.from_numpy(kernel).permute(3, 2, 0, 1), torch.from_numpy(bias), stride=s,
        dilation=d)
    np.testing.assert_allclose(out.permute(0, 2, 3, 1).detach().numpy(), same, rtol=1e-4,
                               atol=1e-4)


def _onnx_average_pool(x_nchw: np.ndarray, k: int, s: int, **attributes) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[k, k], strides=[s, s],
                            **attributes)
    graph = helper.make_graph([node], "pool", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, list(x_nchw.shape))], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x_nchw})[0]


@pytest.mark.tf
@given(n=st.integers(3, 16), k=st.integers(2, 4), s=st.integers(1, 3), b=st.integers(0, 1),
       e=st.integers(0, 1))
def test_count_include_pad_is_zero_padding_then_valid(tmp_path_factory, keras, n, k, s, b, e):
    if n + b + e < k:
        return
    tmp_path = tmp_path_factory.mktemp("p")
    spec = (f"inputs: {{x: [{n}, {n}, 3]}}\nlayers:\n  - {{name: p, op: AveragePooling2D, "
            f"pool_size: {k}, strides: {s}, padding: [[{b}, {e}], [{b}, {e}]], "
            "count_include_pad: true}\n")
    found = findings(tmp_path, spec, "CP504")
    assert bool(found) == bool(b or e)
    x = np.random.default_rng(n).standard_normal((1, n, n, 3)).astype("float32")
    expected = _onnx_average_pool(x.transpose(0, 3, 1, 2), k, s, pads=[b, b, e, e],
                                  count_include_pad=1).transpose(0, 2, 3, 1)
    pads = keras_fix(found[0].message) if found else ((0, 0), (0, 0))
    ported = keras.layers.AveragePooling2D(k, s, padding="valid")(
        keras.layers.ZeroPadding2D(pads)(x))
    np.testing.assert_allclose(np.asarray(ported), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.tf
@given(n=st.integers(3, 16), k=st.integers(2, 4), s=st.integers(1, 3))
def test_keras_same_average_is_onnx_pads_without_counting_padding(keras, n, k, s):
    """CP504's port of Keras's 'same' average: TF's split as ONNX pads, count_include_pad=0;
    auto_pad='SAME_UPPER' too where k >= s (onnxruntime computes a negative total and fails
    for a window smaller than its stride, which TF clamps to 0)."""
    x = np.random.default_rng(n).standard_normal((1, n, n + 1, 3)).astype("float32")
    same = np.asarray(keras.layers.AveragePooling2D(k, s, padding="same")(x))
    (top, bottom), (left, right) = tf_same_pads(n, k, s, 1), tf_same_pads(n + 1, k, s, 1)
    onnx_pads = _onnx_average_pool(x.transpose(0, 3, 1, 2), k, s, count_include_pad=0,
                                   pads=[top, left, bottom, right]).transpose(0, 2, 3, 1)
    np.testing.assert_allclose(same, onnx_pads, rtol=1e-5, atol=1e-6)
    if k >= s:
        onnx_same = _onnx_average_pool(x.transpose(0, 3, 1, 2), k, s, auto_pad="SAME_UPPER",
                                       count_include_pad=0).transpose(0, 2, 3, 1)
        np.testing.assert_allclose(same, onnx_same, rtol=1e-5, atol=1e-6)


@pytest.mark.tf
@given(n=st.integers(4, 24), k=st.integers(2, 4), s=st.integers(2, 3))
def test_ceil_mode_max_pool_is_the_stated_keras_pooling(tmp_path_factory, keras, n, k, s):
    torch = pytest.importorskip("torch")
    tmp_path = tmp_path_factory.mktemp("p")
    spec = (f"inputs: {{x: [{n}, {n}, 3]}}\nlayers:\n  - {{name: r, op: ReLU}}\n"
            f"  - {{name: p, op: MaxPooling2D, pool_size: {k}, strides: {s}, ceil_mode: true}}\n")
    found = findings(tmp_path, spec, "CP503")
    x = np.maximum(np.random.default_rng(n).standard_normal((1, n, n, 3)), 0).astype("float32")
    expected = torch.nn.functional.max_pool2d(torch.from_numpy(x).permute(0, 3, 1, 2), k, s,
                                              ceil_mode=True).permute(0, 2, 3, 1).numpy()
    floor = np.asarray(keras.layers.MaxPooling2D(k, s)(x))
    if not found:
        np.testing.assert_array_equal(floor, expected)
        return
    message = found[0].message
    if "padding='same'" in message:
        ported = keras.layers.MaxPooling2D(k, s, padding="same")(x)
    else:
        ported = keras.layers.MaxPooling2D(k, s)(keras.layers.ZeroPadding2D(
            keras_fix(message))(x))
    np.testing.assert_array_equal(np.asarray(ported), expected)


@pytest.mark.tf
def test_permute_before_flatten_loads_torch_linear_weights_unchanged(keras):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 5, 6, 4)).astype("float32")
    linear = torch.nn.Linear(5 * 6 * 4, 3)
    expected = linear(torch.from_numpy(x).permute(0, 3, 1, 2).flatten(1)).detach().numpy()
    dense = keras.layers.Dense(3)
    flat = keras.layers.Flatten()(keras.layers.Permute((3, 1, 2))(x))
    dense.build(flat.shape)
    dense.set_weights([linear.weight.detach().numpy().T, linear.bias.detach().numpy()])
    np.testing.assert_allclose(np.asarray(dense(flat)), expected, rtol=1e-5, atol=1e-5)
    unpermuted = np.asarray(dense(keras.layers.Flatten()(x)))
    assert not np.allclose(unpermuted, expected, atol=1e-3)  # the order matters
