"""`convplan import model.onnx -o spec.yaml` writes Keras semantics (explicit pads as
ZeroPadding + 'valid'), the spec analyzes to the ONNX model's numbers, onnxruntime's output
shape is the spec's, and `convplan generate` builds a project from it whose own tests pass
(they check the Keras model against the plan layer by layer, so Keras's shapes are the ONNX
model's). What Keras cannot compute is refused in one line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from cli_run import one_error_line, run_cli

from convplan import analyze, load

onnx = pytest.importorskip("onnx")


def small_onnx(path, maxpool_after_relu: bool = True, count_include_pad: int = 1):
    """A stem with asymmetric and symmetric pads, a padded max pool, a padded average pool
    that counts its padding, then global pooling and Gemm (NCHW, dynamic H and W)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = []

    def weight(name, shape):
        inits.append(numpy_helper.from_array(rng.standard_normal(shape).astype("float32"),
                                             name))
        return name

    nodes = [
        helper.make_node("Conv", ["x", weight("w1", (8, 3, 3, 3)), weight("b1", (8,))], ["c1"],
                         kernel_shape=[3, 3], strides=[2, 2], pads=[0, 1, 1, 2]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1" if maxpool_after_relu else "c1"], ["p1"],
                         kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["p1", weight("w2", (8, 8, 3, 3))], ["c2"],
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("AveragePool", ["c2"], ["a1"], kernel_shape=[3, 3], strides=[1, 1],
                         pads=[1, 1, 1, 1], count_include_pad=count_include_pad),
        helper.make_node("GlobalAveragePool", ["a1"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", weight("wf", (5, 8)), weight("bf", (5,))], ["y"],
                         transB=1),
    ]
    graph = helper.make_graph(
        nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                       ["batch", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def test_import_writes_zero_padding_and_the_same_numbers(tmp_path):
    model = small_onnx(tmp_path / "small.onnx")
    spec = tmp_path / "small.yaml"
    result = run_cli("import", model, "-o", spec)
    assert result.returncode == 0, result.stderr
    text = spec.read_text()
    assert "op: ZeroPadding2D, padding: [[0, 1], [1, 2]]" in text
    assert "padding: [[" not in text.replace("ZeroPadding2D, padding: [[", "")  # no explicit
    assert "count_include_pad" not in text and "ceil_mode" not in text
    onnx_graph, keras_graph = load(model), load(spec)
    for size in ((32, 32), (33, 47)):
        a, b = analyze(onnx_graph, input_size=size), analyze(keras_graph, input_size=size)
        assert (a.totals.params, a.totals.macs) == (b.totals.params, b.totals.macs)
        assert a.layer(onnx_graph.outputs[0]).output_shape == \
            b.layer(keras_graph.outputs[0]).output_shape


def test_onnxruntime_shapes_are_the_spec_shapes(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = small_onnx(tmp_path / "small.onnx")
    spec = tmp_path / "small.yaml"
    assert run_cli("import", model, "-o", spec).returncode == 0
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    graph = load(spec)
    for size in ((32, 32), (21, 40)):
        (out,) = session.run(None, {"x": np.zeros((2, 3, *size), "float32")})
        assert out.shape[1:] == analyze(graph, input_size=size).layer(
            graph.outputs[0]).output_shape


@pytest.mark.parametrize("kwargs, message", [
    ({"maxpool_after_relu": False}, "with -inf before a max pooling of a signed input"),
    ({"count_include_pad": 0}, "left out of the average's divisor"),
])
def test_what_keras_cannot_compute_is_refused_in_one_line(tmp_path, kwargs, message):
    model = small_onnx(tmp_path / "small.onnx", **kwargs)
    result = run_cli("import", model, "-o", tmp_path / "out.yaml")
    assert result.returncode == 2
    assert message in one_error_line(result.stderr)
    assert not (tmp_path / "out.yaml").exists()


@pytest.mark.tf
@pytest.mark.slow
def test_generated_project_from_the_import_passes_its_own_tests(tmp_path):
    model = small_onnx(tmp_path / "small.onnx")
    spec = tmp_path / "small.yaml"
    assert run_cli("import", model, "-o", spec).returncode == 0
    project = tmp_path / "project"
    result = run_cli("generate", spec, "-o", project, "--input-size", "32x48")
    assert result.returncode == 0, result.stderr
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "-x"], cwd=project, capture_output=True, text=True, timeout=900)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
