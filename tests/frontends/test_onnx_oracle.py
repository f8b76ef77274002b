"""ONNX reader against onnxruntime, per op: one-node graphs built with onnx.helper (no torch),
hypothesis drawing Conv/Pool/ConvTranspose attributes (kernel, stride, dilation, pads incl.
asymmetric, auto_pad, ceil_mode, count_include_pad, group, output_padding) and input sizes.

Oracles: the output shapes onnxruntime computes; params = the initializers' element counts;
receptive fields from impulses run through onnxruntime (all-ones weights, one input pixel set
per batch item: output o is non-zero exactly where that pixel is in its field). Sizes are also
checked through convplan's symbolic formulas (dim_param H, W) evaluated at the drawn size.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from convplan.analysis.analyze import analyze  # noqa: E402
from convplan.errors import SpecError  # noqa: E402
from convplan.frontends.onnx_graph import build_graph  # noqa: E402

FAST = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def model_of(node_kw: dict, input_dims: list, weights: dict[str, np.ndarray],
             opset: int = 17) -> onnx.ModelProto:
    op_type = node_kw.pop("op_type")
    inputs = ["x", *weights]
    node = helper.make_node(op_type, inputs, ["y"], name="n", **node_kw)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, name) for name, w in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def run_ort(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.log_severity_level = 4  # its refusals are expected here; the test says which
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def ort_pool_pads_negative(case: dict) -> bool:
    """onnxruntime's pooling leaves out SAME's max(0, .): a negative total pad (a stride above
    the kernel on a short input) is its error "padding values must be non-negative"."""
    return case["auto_pad"].startswith("SAME") and any(
        (-(-n // s) - 1) * s + k < n for n, k, s in zip(case["sizes"], case["kernel"],
                                                        case["strides"]))


def ort_shape(model: onnx.ModelProto, dims: list[int]) -> tuple[int, ...] | None:
    """onnxruntime's output shape, or None where it refuses the graph or the size."""
    try:
        return tuple(run_ort(model, np.zeros(dims, np.float32)).shape)
    except Exception:  # noqa: BLE001 - ORT's errors are its own classes; any refusal counts
        return None


def convplan_shape(model: onnx.ModelProto) -> tuple[tuple[int, ...], object] | None:
    """(N, C, spatial...) of the output as convplan computes it, and the analysis; None where
    convplan refuses the graph."""
    try:
        graph = build_graph(model, "test.onnx")
        result = analyze(graph)
    except SpecError:
        return None
    shape = result.layer("n").output_shape
    return (1, int(shape[-1]), *(int(d) for d in shape[:-1])), result


def check_against_ort(model: onnx.ModelProto, dims: list[int]) -> object:
    expected = ort_shape(model, dims)
    got = convplan_shape(model)
    if expected is None or 0 in expected:
        assert got is None, f"onnxruntime refuses, convplan gives {got and got[0]}"
        return None
    assert got is not None, f"convplan refuses, onnxruntime gives {expected}"
    assert got[0] == expected
    return got[1]


def symbolic_matches(model: onnx.ModelProto, sizes: list[int], expected: tuple) -> None:
    """The formula with H (and W) symbolic, evaluated at the drawn sizes, is the same shape."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    names = ["H", "W"][:len(sizes)] if len(sizes) == 2 else ["L"]
    for dim, name in zip(list(dims)[2:], names):
        dim.ClearField("dim_value")
        dim.dim_param = name
    try:
        result = analyze(build_graph(model, "test.onnx"))
    except SpecError as exc:
        # Refused only where the size is needed: SAME_LOWER with stride > 1 pads by an
        # amount that depends on it, and SAME_UPPER at a symbolic size is TF's 'same', which
        # carries TensorFlow's refusals (unequal depthwise strides)
        assert "SAME_LOWER" in str(exc) or exc.reason == "keras_rejects", exc
        return
    at = result.at(dict(zip(names, sizes)))
    shape = at.layer("n").output_shape
    assert (1, int(shape[-1]), *(int(d) for d in shape[:-1])) == expected


def params_of(weights: dict[str, np.ndarray]) -> int:
    return sum(w.size for w in weights.values())


# ---------------------------------------------------------------- strategies


@st.composite
def window_case(draw: st.DrawFn, pool: bool = False) -> dict:
    rank = draw(st.sampled_from([1, 2, 2]))
    kernel = [draw(st.integers(1, 4)) for _ in range(rank)]
    strides = [draw(st.integers(1, 3)) for _ in range(rank)]
    dilations = [1] * rank if pool else [draw(st.integers(1, 3)) for _ in range(rank)]
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER",
                                     "VALID"]))
    if auto_pad.startswith("SAME"):
        dilations = [1] * rank  # onnxruntime: "Dilation not supported for AutoPadType::SAME"
    k_eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    # onnxruntime's pooling wants pads below the kernel; convolutions take any
    pads = [draw(st.integers(0, max(k - 1, 0))) for k in (kernel if pool else k_eff)] + \
        [draw(st.integers(0, max(k - 1, 0))) for k in (kernel if pool else k_eff)]
    sizes = [draw(st.integers(1, 12)) for _ in range(rank)]
    if auto_pad in ("NOTSET", "VALID"):
        # a window longer than the padded input: ONNX's floor((n + pads - k) / s) + 1 is 0 and
        # convplan refuses; onnxruntime's pooling divides truncating toward 0 and gives 1
        spans = [n + (pads[i] + pads[i + rank] if auto_pad == "NOTSET" else 0)
                 for i, n in enumerate(sizes)]
        assume(all(span >= k for span, k in zip(spans, k_eff)))
    return dict(rank=rank, kernel=kernel, strides=strides, dilations=dilations,
                auto_pad=auto_pad, pads=pads, sizes=sizes)


def window_attributes(case: dict) -> dict:
    kw = dict(kernel_shape=case["kernel"], strides=case["strides"])
    if case["auto_pad"] == "NOTSET":
        kw["pads"] = case["pads"]
    else:
        kw["auto_pad"] = case["auto_pad"]
    return kw


# ---------------------------------------------------------------- convolutions


@FAST
@given(window_case(), st.sampled_from(["one", "all", "some"]), st.booleans(),
       st.integers(1, 3))
def test_conv_shapes_and_params(case: dict, grouping: str, bias: bool, multiplier: int) -> None:
    channels = 4
    group = {"one": 1, "all": channels, "some": 2}[grouping]
    filters = group * multiplier if grouping != "one" else 3
    weights = {"w": np.ones((filters, channels // group, *case["kernel"]), np.float32)}
    if bias:
        weights["b"] = np.zeros(filters, np.float32)
    kw = dict(op_type="Conv", dilations=case["dilations"], group=group, **window_attributes(case))
    dims = [1, channels, *case["sizes"]]
    model = model_of(kw, dims, weights)
    result = check_against_ort(model, dims)
    if result is None:
        return
    assert result.layer("n").params == params_of(weights)
    symbolic_matches(model, case["sizes"], tuple(run_ort(model, np.zeros(dims, np.float32)).shape))


@FAST
@given(window_case(), st.data())
def test_conv_transpose_shapes_and_params(case: dict, data: st.DataObject) -> None:
    strides, dilations = case["strides"], case["dilations"]
    output_padding = [data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(strides, dilations)]
    use_output_shape = data.draw(st.booleans()) and case["auto_pad"] == "NOTSET"
    weights = {"w": np.ones((2, 3, *case["kernel"]), np.float32)}
    kw = dict(op_type="ConvTranspose", dilations=dilations, **window_attributes(case))
    if any(output_padding):
        kw["output_padding"] = output_padding
    if use_output_shape:
        full = [(n - 1) * s + (k - 1) * d + 1 + p for n, s, k, d, p in
                zip(case["sizes"], strides, case["kernel"], dilations, output_padding)]
        kw.pop("pads", None)
        kw["output_shape"] = [max(f - data.draw(st.integers(0, 3)), 1) for f in full]
    dims = [1, 2, *case["sizes"]]
    model = model_of(kw, dims, weights)
    result = check_against_ort(model, dims)
    if result is None:
        return
    assert result.layer("n").params == params_of(weights)


# ---------------------------------------------------------------- pooling


@FAST
@given(window_case(pool=True), st.sampled_from(["MaxPool", "AveragePool"]), st.booleans(),
       st.booleans())
def test_pool_shapes(case: dict, op_type: str, ceil_mode: bool, count_include_pad: bool) -> None:
    kw = dict(op_type=op_type, ceil_mode=int(ceil_mode), **window_attributes(case))
    if op_type == "AveragePool":
        kw["count_include_pad"] = int(count_include_pad)
    dims = [1, 3, *case["sizes"]]
    assume(not ort_pool_pads_negative(case))
    model = model_of(kw, dims, {})
    result = check_against_ort(model, dims)
    if result is None:
        return
    op = result.graph["n"].op
    assert op.ceil_mode == (ceil_mode and case["auto_pad"] not in ("SAME_UPPER", "SAME_LOWER"))
    symbolic_matches(model, case["sizes"], tuple(run_ort(model, np.zeros(dims, np.float32)).shape))


def test_ceil_mode_drops_a_window_starting_in_the_right_padding() -> None:
    """Kernel 2, stride 2, pads 1 + 1 on 3 rows: ceil((3 + 2 - 2) / 2) + 1 = 3 windows, but
    the third would start at padded row 4, in the right padding: 2 (PyTorch's rule, and
    onnxruntime's)."""
    kw = dict(op_type="MaxPool", kernel_shape=[2], strides=[2], pads=[1, 1], ceil_mode=1)
    model = model_of(kw, [1, 1, 3], {})
    assert ort_shape(model, [1, 1, 3]) == (1, 1, 2)
    assert check_against_ort(model, [1, 1, 3]) is not None


# ---------------------------------------------------------------- receptive fields


def impulse_fields(model: onnx.ModelProto, channels: int, n: int) -> list[set[int]]:
    """Per output position, the input positions whose impulse reaches it (1-D)."""
    x = np.zeros((n, channels, n), np.float32)
    for p in range(n):
        x[p, :, p] = 1.0
    y = run_ort(model, x)
    return [set(np.nonzero(np.abs(y[:, :, o]).sum(axis=1) > 0)[0]) for o in range(y.shape[2])]


@FAST
@given(window_case(), st.sampled_from(["Conv", "MaxPool", "AveragePool"]), st.booleans())
def test_receptive_fields_by_impulse(case: dict, op_type: str, ceil_mode: bool) -> None:
    """convplan's start and stride and the op's taps give exactly the pixels each output
    reads (1-D; asymmetric pads, auto_pad, ceil_mode included)."""
    k, s = case["kernel"][0], case["strides"][0]
    d = case["dilations"][0] if op_type == "Conv" else 1
    pads = [case["pads"][0], case["pads"][case["rank"]]]
    if op_type != "Conv":
        pads = [min(p, k - 1) for p in pads]
    n = case["sizes"][0] + 4
    if op_type != "Conv":
        assume(not ort_pool_pads_negative({**case, "sizes": [n]}))
    kw = dict(op_type=op_type, kernel_shape=[k], strides=[s])
    if case["auto_pad"] == "NOTSET":
        kw["pads"] = pads
    else:
        kw["auto_pad"] = case["auto_pad"]
    weights = {}
    if op_type == "Conv":
        kw["dilations"] = [d]
        weights["w"] = np.ones((1, 1, k), np.float32)
    else:
        kw["ceil_mode"] = int(ceil_mode)
    model = model_of(kw, ["N", 1, n], weights)
    result = check_against_ort(model, [1, 1, n])
    assume(result is not None)
    field = result.layer("n").receptive_field[0]
    assert field.size == (k - 1) * d + 1
    assert field.stride == s
    measured = impulse_fields(model, 1, n)
    for o, seen in enumerate(measured):
        taps = {field.start + o * s + j * d for j in range(k)}
        assert seen == {t for t in taps if 0 <= t < n}, (o, seen, taps)


# ---------------------------------------------------------------- chains torch writes


def test_flatten_by_shape_gather_concat_reshape() -> None:
    """x.view(x.size(0), -1) as torch exports it: Shape, Gather(0), Unsqueeze, Concat with -1,
    Reshape; with a symbolic batch and spatial size."""
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3]),
        helper.make_node("Shape", ["c"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsqueeze"),
        helper.make_node("Concat", ["n1", "minus"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["c", "target"], ["y"], name="reshape"),
    ]
    inits = [numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w"),
             numpy_helper.from_array(np.array(0, np.int64), "zero"),
             numpy_helper.from_array(np.array([0], np.int64), "axes"),
             numpy_helper.from_array(np.array([-1], np.int64), "minus")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    expected = run_ort(model, np.zeros((2, 3, 8, 10), np.float32)).shape
    result = analyze(build_graph(model, "t.onnx"))
    assert (2, *result.layer("reshape").output_shape) == expected
    # NCHW order kept: a Permute to channels-first before the Reshape
    assert result.graph["reshape/permute"].op.dims == (3, 1, 2)


def test_se_block_and_silu_and_layer_scale() -> None:
    """Squeeze-and-excitation as torchvision writes it (GlobalAveragePool, 1x1 Conv, Relu,
    Conv, HardSigmoid, Mul with the features), x * sigmoid(x), and a learned (C, 1, 1)
    scale counted as parameters."""
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["g"], name="gap"),
        helper.make_node("Conv", ["g", "w1", "b1"], ["f1"], name="fc1", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["f1"], ["r"], name="relu"),
        helper.make_node("Conv", ["r", "w2", "b2"], ["f2"], name="fc2", kernel_shape=[1, 1]),
        helper.make_node("HardSigmoid", ["f2"], ["h"], name="gate", alpha=1 / 6),
        helper.make_node("Mul", ["x", "h"], ["m"], name="scale"),
        helper.make_node("Sigmoid", ["m"], ["sg"], name="sig"),
        helper.make_node("Mul", ["m", "sg"], ["silu"], name="silu"),
        helper.make_node("Mul", ["silu", "gamma"], ["y"], name="layer_scale"),
    ]
    inits = [numpy_helper.from_array(np.ones(s, np.float32), n) for n, s in
             [("w1", (2, 8, 1, 1)), ("b1", (2,)), ("w2", (8, 2, 1, 1)), ("b2", (8,)),
              ("gamma", (8, 1, 1))]]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 5, 7])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    expected = run_ort(model, np.zeros((1, 8, 5, 7), np.float32)).shape
    result = analyze(build_graph(model, "t.onnx"))
    shape = result.layer("layer_scale").output_shape
    assert (1, shape[-1], *shape[:-1]) == expected
    assert result.totals.params == sum(i.size for i in
                                       (numpy_helper.to_array(t) for t in inits))


# ---------------------------------------------------------------- the other ops, one graph each


def const(name: str, values: list | np.ndarray, dtype: type = np.int64) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype), name)


def weight(name: str, *dims: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ones(dims, np.float32), name)


# (case name, nodes, initializers, input dims, opset); the last node's output is "y"
OP_CASES = [
    ("resize_scales_nearest", [helper.make_node("Resize", ["x", "", "sc"], ["y"], name="n")],
     [const("sc", [1, 1, 2, 3], np.float32)], [1, 3, 5, 4], 13),
    ("resize_sizes_bilinear", [helper.make_node(
        "Resize", ["x", "", "", "sz"], ["y"], name="n", mode="linear",
        coordinate_transformation_mode="pytorch_half_pixel")],
     [const("sz", [1, 3, 11, 9])], [1, 3, 5, 4], 13),
    ("resize_whole_sizes", [helper.make_node("Resize", ["x", "", "", "sz"], ["y"], name="n",
                                             mode="linear")],
     [const("sz", [1, 3, 10, 8])], [1, 3, 5, 4], 13),
    ("upsample_opset9", [helper.make_node("Upsample", ["x", "sc"], ["y"], name="n")],
     [const("sc", [1, 1, 2, 2], np.float32)], [1, 2, 3, 3], 9),
    ("pad_zeros", [helper.make_node("Pad", ["x", "p"], ["y"], name="n")],
     [const("p", [0, 0, 1, 2, 0, 0, 3, 0])], [1, 2, 4, 5], 13),
    ("pad_reflect_channels", [helper.make_node("Pad", ["x", "p"], ["y"], name="n",
                                               mode="reflect")],
     [const("p", [0, 1, 1, 1, 0, 1, 1, 1])], [1, 2, 4, 5], 13),
    ("reduce_mean_keepdims", [helper.make_node("ReduceMean", ["x"], ["y"], name="n",
                                               axes=[2, 3], keepdims=1)], [], [1, 4, 5, 6], 13),
    ("reduce_max_h", [helper.make_node("ReduceMax", ["x"], ["y"], name="n", axes=[2],
                                       keepdims=0)], [], [1, 4, 5, 6], 13),
    ("reduce_sum_input_axes", [helper.make_node("ReduceSum", ["x", "ax"], ["y"], name="n",
                                                keepdims=1)],
     [const("ax", [1])], [1, 4, 5, 6], 13),
    ("split_channels", [helper.make_node("Split", ["x", "sp"], ["a", "y"], name="n", axis=1)],
     [const("sp", [1, 3])], [1, 4, 5, 6], 13),
    ("instance_norm", [helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"],
                                        name="n")],
     [weight("s", 4), weight("b", 4)], [1, 4, 5, 6], 13),
    ("convnext_block", [
        helper.make_node("Conv", ["x", "dw", "db"], ["c"], name="dw", kernel_shape=[7, 7],
                         pads=[3, 3, 3, 3], group=4),
        helper.make_node("Transpose", ["c"], ["t"], name="t", perm=[0, 2, 3, 1]),
        helper.make_node("LayerNormalization", ["t", "ls", "lb"], ["l"], name="ln", axis=-1),
        helper.make_node("MatMul", ["l", "w1"], ["m1"], name="pw1"),
        helper.make_node("Add", ["m1", "b1"], ["a1"], name="pw1_bias"),
        helper.make_node("Gelu", ["a1"], ["g"], name="gelu"),
        helper.make_node("MatMul", ["g", "w2"], ["m2"], name="pw2"),
        helper.make_node("Add", ["m2", "b2"], ["a2"], name="pw2_bias"),
        helper.make_node("Mul", ["a2", "gamma"], ["s"], name="layer_scale"),
        helper.make_node("Transpose", ["s"], ["back"], name="back", perm=[0, 3, 1, 2]),
        helper.make_node("Add", ["back", "x"], ["y"], name="n")],
     [weight("dw", 4, 1, 7, 7), weight("db", 4), weight("ls", 4), weight("lb", 4),
      weight("w1", 4, 16), weight("b1", 16), weight("w2", 16, 4), weight("b2", 4),
      weight("gamma", 4)], [1, 4, 9, 11], 20),
    ("dense_block_concat", [
        helper.make_node("Conv", ["x", "w"], ["c"], name="c", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["x", "c"], ["cat"], name="cat", axis=1),
        helper.make_node("AveragePool", ["cat"], ["y"], name="n", kernel_shape=[2, 2],
                         strides=[2, 2])],
     [weight("w", 6, 4, 3, 3)], [1, 4, 9, 11], 13),
    ("clip_relu6_softmax", [
        helper.make_node("Clip", ["x", "lo", "hi"], ["c"], name="c"),
        helper.make_node("Softmax", ["c"], ["y"], name="n", axis=1)],
     [const("lo", 0.0, np.float32), const("hi", 6.0, np.float32)], [1, 4, 3, 3], 13),
]


@pytest.mark.parametrize("case", OP_CASES, ids=[c[0] for c in OP_CASES])
def test_other_ops_against_onnxruntime(case: tuple) -> None:
    _, nodes, inits, dims, opset = case
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    expected = run_ort(model, np.random.default_rng(0).random(dims, np.float32)).shape
    g = build_graph(model, "t.onnx")
    result = analyze(g)
    out = g.outputs[0]
    shape = result.layer(out).output_shape
    tensor_axes = len(expected) - 1
    assert len(shape) == tensor_axes
    got = (1, shape[-1], *shape[:-1]) if len(expected) >= 3 and "reduce_max_h" not in case[0] \
        else (1, *shape)
    if case[0] == "reduce_max_h":  # (N, C, W) -> convplan (W, C)
        got = (1, shape[-1], shape[0])
    assert tuple(int(d) for d in got) == expected
    learned = sum(numpy_helper.to_array(t).size for t in inits
                  if t.data_type == TensorProto.FLOAT and t.name not in ("sc", "lo", "hi"))
    assert result.totals.params == learned
