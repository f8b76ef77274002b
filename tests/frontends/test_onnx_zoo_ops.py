"""What torchvision's zoo exports that the per-op tests do not: a weight Transposed in the
graph (no constant folding), GELU written with Erf (ConvNeXt), and a Reshape whose batch is
the literal 1 of a batch-1 export (the dynamo exporter). Oracles: onnxruntime's output shape,
the initializers' element counts, and MACs counted by hand as PyTorch's FlopCounterMode / 2
counts them (matmuls only: H W x C_in x C_out)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from convplan.analysis.analyze import analyze  # noqa: E402
from convplan.errors import SpecError  # noqa: E402
from convplan.frontends.onnx_graph import build_graph  # noqa: E402


def convnext_mlp(batch: int | str, first: int) -> onnx.ModelProto:
    """NCHW -> NHWC, Linear(C, 4C) with its (4C, C) weight Transposed in the graph, GELU as
    x * 0.5 * (1 + erf(x / sqrt 2)), then Reshape([first, -1])."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], name="to_nhwc", perm=[0, 2, 3, 1]),
        helper.make_node("Transpose", ["w"], ["wt"], name="w_t", perm=[1, 0]),
        helper.make_node("MatMul", ["t", "wt"], ["m"], name="fc"),
        helper.make_node("Add", ["m", "b"], ["mb"], name="bias"),
        helper.make_node("Div", ["mb", "root2"], ["d"], name="div"),
        helper.make_node("Erf", ["d"], ["e"], name="erf"),
        helper.make_node("Add", ["e", "one"], ["e1"], name="plus1"),
        helper.make_node("Mul", ["mb", "e1"], ["g"], name="times_x"),
        helper.make_node("Mul", ["g", "half"], ["gelu"], name="half"),
        helper.make_node("Reshape", ["gelu", "target"], ["y"], name="flat"),
    ]
    inits = {"w": np.ones((16, 4), np.float32), "b": np.zeros(16, np.float32),
             "root2": np.array(2 ** 0.5, np.float32), "one": np.array(1.0, np.float32),
             "half": np.array(0.5, np.float32), "target": np.array([first, -1], np.int64)}
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4, 5, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_transposed_weight_erf_gelu_and_batch_one_reshape() -> None:
    model = convnext_mlp(1, 1)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"x": np.zeros((1, 4, 5, 6), np.float32)})[0].shape
    result = analyze(build_graph(model, "t.onnx"))
    out = [n.name for n in result.graph][-1]
    assert (1, *result.layer(out).output_shape) == expected == (1, 5 * 6 * 16)
    assert int(result.totals.params) == 16 * 4 + 16  # the Transposed weight and the bias
    assert int(result.totals.macs) == 5 * 6 * 4 * 16  # the MatMul only, as FlopCounterMode


def test_literal_batch_must_match_the_inputs_batch() -> None:
    with pytest.raises(SpecError, match=r"must keep the batch first .*batch 1"):
        build_graph(convnext_mlp(1, 2), "t.onnx")
    with pytest.raises(SpecError, match="must keep the batch first"):
        build_graph(convnext_mlp("N", 1), "t.onnx")  # an open batch: 1 would fix it
