"""The runtimes take what `solve --export` writes: Keras runs every size the TF contract admits
and its assertion refuses the first rejected ones; onnxruntime runs an ONNX graph (built with
onnx.helper, the same network as the spec) at every admitted size of the profile and fails at
the first rejected ones; torch.export accepts the dynamic shapes (it refuses a Dim whose
multiple is wrong) and the exported program runs every admitted size."""

from __future__ import annotations

import numpy as np
import pytest
from test_contracts import OFFSET_UNET

from convplan import loads_spec
from convplan.explore.contracts import (
    derive_contract,
    onnx_profile,
    tf_signature_source,
    torch_export_source,
)
from convplan.explore.solve import solve_input_sizes

CAP = 42  # admitted H: 10, 18, 26, 34, 42


def contract():
    graph = loads_spec(OFFSET_UNET)
    return graph, derive_contract(graph, solve_input_sizes(graph), CAP, (2, 4))


@pytest.mark.tf
def test_keras_runs_every_admitted_size_and_the_assertion_refuses_the_rest(keras):
    import tensorflow as tf

    from convplan.verify.keras_build import build_keras_model

    graph, c = contract()
    namespace: dict = {}
    exec(compile(tf_signature_source(c), "tf_signature.py", "exec"), namespace)
    model = build_keras_model(graph)
    serve = tf.function(lambda x: (namespace["assert_valid_input"](x), model(x))[1],
                        input_signature=namespace["INPUT_SIGNATURE"])
    h = c.axis("H")
    admitted = [n for n in range(1, CAP + 1) if h.admits(n)]
    assert admitted == [10, 18, 26, 34, 42]
    for n in admitted:
        out = serve(tf.zeros((2, n, 10, 3)))
        assert out.shape == (2, n - 2, 8, 2)
    for n in h.first_rejected():
        with pytest.raises(tf.errors.InvalidArgumentError):
            serve(tf.zeros((1, n, 10, 3)))
    # and the network itself fails at the rejected sizes inside the range (9 is too small for
    # the valid stem after 3 poolings, 11 breaks the skips)
    for n in (9, 11):
        with pytest.raises(Exception):  # noqa: B017 - Keras or TF shape errors
            model(tf.zeros((1, n, 10, 3)))
    keras.backend.clear_session()


def offset_unet_onnx():
    """OFFSET_UNET in ONNX (NCHW): Conv pads 0, then 'same' 3x3 convolutions (pads 1),
    2x2 max pools, nearest Resize x2 and Concat on channels."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits, nodes = [], []

    def conv(name, x, cin, cout, k, pad):
        w = numpy_helper.from_array(rng.standard_normal((cout, cin, k, k)).astype("float32"),
                                    f"{name}_w")
        inits.append(w)
        nodes.append(helper.make_node("Conv", [x, w.name], [name], kernel_shape=[k, k],
                                      pads=[pad] * 4))
        return name

    def pool(name, x):
        nodes.append(helper.make_node("MaxPool", [x], [name], kernel_shape=[2, 2],
                                      strides=[2, 2]))
        return name

    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], dtype="float32"), "scales")
    inits.append(scales)

    def up(name, x):
        nodes.append(helper.make_node("Resize", [x, "", "scales"], [name], mode="nearest"))
        return name

    def cat(name, a, b):
        nodes.append(helper.make_node("Concat", [a, b], [name], axis=1))
        return name

    stem = conv("stem", "x", 3, 4, 3, 0)
    e1 = conv("e1", stem, 4, 4, 3, 1)
    e2 = conv("e2", pool("p1", e1), 4, 4, 3, 1)
    e3 = conv("e3", pool("p2", e2), 4, 4, 3, 1)
    mid = conv("mid", pool("p3", e3), 4, 4, 3, 1)
    c3 = cat("c3", up("u3", mid), e3)
    c2 = cat("c2", up("u2", c3), e2)
    c1 = cat("c1", up("u1", c2), e1)
    conv("head", c1, 16, 2, 1, 0)
    graph = helper.make_graph(
        nodes, "offset_unet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, "H", "W"])],
        [helper.make_tensor_value_info("head", TensorProto.FLOAT, ["batch", 2, "Ho", "Wo"])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_onnxruntime_runs_every_admitted_size_and_fails_at_the_first_rejected():
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(offset_unet_onnx(), providers=["CPUExecutionProvider"])
    _, c = contract()
    profile = onnx_profile(c)["inputs"]["x"]
    assert profile == {"min": [1, 3, 10, 10], "opt": [2, 3, 42, 42], "max": [4, 3, 42, 42]}
    h, w = c.axis("H"), c.axis("W")
    for n in range(profile["min"][2], profile["max"][2] + 1):
        if not h.admits(n):
            continue
        (out,) = session.run(None, {"x": np.zeros((1, 3, n, w.minimum), "float32")})
        assert out.shape == (1, 2, n - 2, w.minimum - 2)
    for n in h.first_rejected()[:-1]:  # inside the profile's range or just below
        with pytest.raises(Exception, match="(?i)concat|dimension|shape|size"):
            session.run(None, {"x": np.zeros((1, 3, n, w.minimum), "float32")})


def torch_offset_unet():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class OffsetUNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 4, 3)
            self.enc = nn.ModuleList(nn.Conv2d(4, 4, 3, padding=1) for _ in range(4))
            self.head = nn.Conv2d(16, 2, 1)

        def forward(self, x):
            skips, x = [], self.stem(x)
            for i, conv in enumerate(self.enc):
                x = conv(x)
                if i < 3:
                    skips.append(x)
                    x = nn.functional.max_pool2d(x, 2)
            for skip in reversed(skips):
                x = torch.cat([nn.functional.interpolate(x, scale_factor=2.0), skip], 1)
            return self.head(x)

    return torch, OffsetUNet().eval()


@pytest.mark.slow
def test_torch_export_takes_the_dynamic_shapes_and_runs_every_admitted_size():
    torch, model = torch_offset_unet()
    _, c = contract()
    namespace: dict = {}
    exec(compile(torch_export_source(c), "torch_export.py", "exec"), namespace)
    exported = torch.export.export(model, namespace["example_inputs"],
                                   dynamic_shapes=namespace["dynamic_shapes"])
    run = exported.module()
    h = c.axis("H")
    assert h.torch_minimum == 18  # at 10 the bottleneck is 1 row: torch's guard refuses it
    for n in (n for n in range(h.torch_minimum, CAP + 1) if h.admits(n)):
        assert tuple(run(torch.zeros(2, 3, n, 18)).shape) == (2, 2, n - 2, 16)
    for n in (10, 17, 19, CAP + 8):
        with pytest.raises(Exception):  # noqa: B017 - the exported guards refuse it
            run(torch.zeros(2, 3, n, 18))
    # a plain Dim for H (no multiple) is refused by torch.export: the multiple is needed
    from torch.export import Dim
    plain = ({0: namespace["batch"], 2: Dim("H", min=10, max=CAP), 3: Dim("W", min=10,
                                                                          max=CAP)},)
    with pytest.raises(Exception, match="(?i)constraint|specializ|guard|8\\*"):
        torch.export.export(model, namespace["example_inputs"], dynamic_shapes=plain)
