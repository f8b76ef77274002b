"""Declared layers (`--custom-layer`, `custom_layers=`, `op: Custom` in a spec) that change
shape: a declared window and channel count must give exactly what the equivalent convolution
gives (shapes, params, MACs, receptive fields, symbolically too); formulas are parsed by a
whitelist, never evaluated; a declaration the model's recorded shapes contradict is an error
naming both layers. Real Keras layers are compared in test_custom_layers_tf.py."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from test_keras_import import input_layer, layer, model

from convplan import analyze
from convplan.cli.main import main
from convplan.errors import ShapeError, SpecError, UsageError
from convplan.frontends.keras_layers import CustomLayer, normalize_custom_layers, parse_custom_layer
from convplan.frontends.keras_model import graph_from_keras_config
from convplan.frontends.spec import loads_spec
from convplan.frontends.spec_writer import write_spec
from convplan.ir import ops as O
from convplan.ir.formula import FormulaError, canonical, evaluate, parse_formula
from convplan.ir.graph import Graph

CONVOLUTIONS = {1: O.Conv1D, 2: O.Conv2D, 3: O.Conv3D}


@st.composite
def windows(draw):
    """A convolution Keras builds: per axis kernel, stride, dilation (not both above 1),
    padding, input length that leaves an output, channels in and out."""
    rank = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 5)) for _ in range(rank))
    strided = draw(st.booleans())
    strides = tuple(draw(st.integers(1, 4)) if strided else 1 for _ in range(rank))
    dilation = tuple(1 if strided else draw(st.integers(1, 3)) for _ in range(rank))
    padding = draw(st.sampled_from(["valid", "same"]))
    sizes = tuple(draw(st.integers(1, 24)) for _ in range(rank))
    if padding == "valid":
        assume(all(n >= (k - 1) * d + 1 for n, k, d in zip(sizes, kernel, dilation)))
    return dict(kernel_size=kernel, strides=strides, dilation_rate=dilation, padding=padding,
                sizes=sizes, c_in=draw(st.integers(1, 6)), filters=draw(st.integers(1, 6)),
                use_bias=draw(st.booleans()))


def _chain(middle: O.Op, sizes: tuple[int, ...], c_in: int) -> Graph:
    """input -> middle -> a 'same' convolution (so the field downstream is compared too)."""
    rank = len(sizes)
    graph = Graph("declared")
    graph.add(O.InputLayer(name="x", shape=(*sizes, c_in)))
    graph.add(middle, ["x"])
    graph.add(CONVOLUTIONS[rank](name="after", filters=2, kernel_size=3, padding="same"),
              [middle.name])
    graph.set_outputs(["after"])
    return graph


def _declaration(w: dict) -> dict:
    """The Custom op attributes that declare the convolution `w`."""
    taps = math.prod(w["kernel_size"])
    return dict(class_name="MyConv", kernel_size=list(w["kernel_size"]),
                strides=list(w["strides"]), dilation_rate=list(w["dilation_rate"]),
                padding=w["padding"], filters=w["filters"],
                params=f"{taps}*C_in*C_out" + ("+C_out" if w["use_bias"] else ""),
                macs_per_position=f"{taps}*C_in*C_out", flops_per_element=int(w["use_bias"]))


def _conv(w: dict) -> O.Op:
    return CONVOLUTIONS[len(w["sizes"])](
        name="layer", filters=w["filters"], kernel_size=w["kernel_size"], strides=w["strides"],
        dilation_rate=w["dilation_rate"], padding=w["padding"], use_bias=w["use_bias"])


def _facts(analysis) -> list:
    return [(r.output_shape, r.trainable_params, r.non_trainable_params, r.macs, r.flops,
             r.receptive_field) for r in analysis.layers]


@given(windows())
def test_a_declared_window_gives_what_the_equivalent_convolution_gives(w):
    declared = _chain(O.make_op("Custom", "layer", _declaration(w)), w["sizes"], w["c_in"])
    real = _chain(_conv(w), w["sizes"], w["c_in"])
    assert _facts(analyze(declared)) == _facts(analyze(real))
    # symbolically as well: the same formulas in the input sizes, fields included
    assert _facts(analyze(declared, generalize=True)) == _facts(analyze(real, generalize=True))


@given(windows())
def test_the_cli_form_declares_the_same_layer(w):
    """'MyConv=kernel_size=3x1,strides=2x2,...' read through a Keras model config."""
    d = _declaration(w)
    text = ",".join(f"{k}={'x'.join(map(str, v)) if isinstance(v, list) else v}"
                    for k, v in d.items() if k != "class_name")
    key, declaration = parse_custom_layer(f"MyConv={text}")
    shape = [None, *w["sizes"], w["c_in"]]
    entry = layer("MyConv", "layer", ["x"], module="my_package")
    entry["inbound_nodes"][0]["args"][0]["config"]["shape"] = shape
    data = model(entry)
    data["config"]["layers"][0] = input_layer("x", tuple(shape[1:]))
    graph = graph_from_keras_config(data, custom_layers={key: declaration})
    if len(w["sizes"]) > 1:  # one axis is written as one integer, which means every axis
        assert graph["layer"].op == O.make_op("Custom", "layer", d)
    one = Graph("one")
    one.add(O.InputLayer(name="x", shape=tuple(shape[1:])))
    one.add(_conv(w), ["x"])
    assert _facts(analyze(graph)) == _facts(analyze(one))


def test_only_strides_declared_give_shapes_but_no_field():
    """Without a kernel_size the extent of the window is unknown: no field, never a guess."""
    custom = O.Custom(name="c", class_name="Block", strides=2, filters=8, params="C_in*C_out")
    analysis = analyze(_chain(custom, (9, 10), 3), generalize=True)
    c = analysis.layer("c")
    strided = O.Conv2D(name="c", filters=8, kernel_size=1, strides=2)
    assert c.output_shape == analyze(_chain(strided, (9, 10), 3),
                                     generalize=True).layer("c").output_shape
    assert c.receptive_field is None and analysis.layer("after").receptive_field is None
    assert c.trainable_params == 3 * 8
    # channels only: positions are kept, and so is the field
    channels = analyze(_chain(O.Custom(name="c", class_name="Mix", filters=5), (9, 10), 3))
    assert channels.layer("c").output_shape == (9, 10, 5)
    assert channels.layer("c").receptive_field == channels.layer("x").receptive_field


# ---------------------------------------------------------------- formulas


@st.composite
def formulas(draw, depth=3):
    """A formula text and the Python function it stands for."""
    if depth == 0 or draw(st.booleans()):
        leaf = draw(st.sampled_from(["C_in", "C_out", "int"]))
        if leaf == "int":
            n = draw(st.integers(0, 1000))
            return str(n), lambda c, o, n=n: n
        return leaf, (lambda c, o: c) if leaf == "C_in" else (lambda c, o: o)
    op = draw(st.sampled_from(["+", "-", "*", "//", "**", "neg"]))
    left, f = draw(formulas(depth=depth - 1))
    if op == "neg":
        return f"-({left})", lambda c, o: -f(c, o)
    if op == "**":
        p = draw(st.integers(0, 3))
        return f"({left})**{p}", lambda c, o: f(c, o) ** p
    if op == "//":
        n = draw(st.integers(1, 9))
        return f"({left})//{n}", lambda c, o: f(c, o) // n
    right, g = draw(formulas(depth=depth - 1))
    ops = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}
    return f"({left}){op}({right})", lambda c, o: ops[op](f(c, o), g(c, o))


@given(formulas(), st.integers(1, 2048), st.integers(1, 2048))
def test_formulas_mean_what_python_integer_arithmetic_means(formula, c_in, c_out):
    text, meaning = formula
    assert evaluate(canonical(text), c_in, c_out) == meaning(c_in, c_out)
    assert evaluate(text, c_in, c_out) == meaning(c_in, c_out)
    assert parse_formula(text).free_symbols <= {parse_formula("C_in"), parse_formula("C_out")}


@given(st.text(max_size=60))
def test_any_text_is_a_formula_or_a_formula_error(text):
    try:
        parse_formula(text)
    except FormulaError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize("text,why", [
    ("__import__('os').system('true')", "call is not allowed"),
    ("C_in.__class__", "attribute is not allowed"),
    ("[c for c in ()]", "not allowed"),
    ("lambda: 1", "lambda is not allowed"),
    ("open('x')", "call is not allowed"),
    ("9**9**9", "a power must be a constant from 0 to 4"),
    ("C_in**C_out", "a power must be a constant"),
    ("C_in/2", "use //"),
    ("C_in//C_out", "// must divide by a positive integer constant"),
    ("2.5*C_in", "not an integer"),
    ("H*W", "unknown name 'H'"),
    ("C_in +", "not a formula"),
    ("1" * 17, "above"),
    ("C_in+" * 60 + "1", "longer than 200"),
])
def test_hostile_and_bad_formulas_are_refused_in_one_line(text, why):
    with pytest.raises(FormulaError, match=why):
        parse_formula(text)
    with pytest.raises(UsageError, match=f"custom layer 'Gate': attribute 'params': .*{why}"):
        normalize_custom_layers({"Gate": {"params": text}})


# ---------------------------------------------------------------- declarations


@pytest.mark.parametrize("declared,message", [
    ("Gate=identity,weights=3", r"unknown option\(s\) \['weights'\]"),
    ("Gate=stride=2", r"unknown option\(s\) \['stride'\]"),
    ("Gate=strides=-2", "strides must be a non-negative integer or one per spatial axis"),
    ("Gate=strides=0", "'strides' must be an integer >= 1"),
    ("Gate=kernel_size=3x3,strides=2x2x2", "the same number of spatial axes"),
    ("Gate=identity,strides=2", "identity keeps the input's shape, so it cannot declare strides"),
    ("Gate=strides=2,padding=full", "'padding' must be one of 'valid', 'same'"),
    ("Gate=filters=0", "'filters' must be an integer >= 1"),
    ("Gate=params=C_in-5", "is -4 at C_in = C_out = 1"),
    ("Gate=params=__import__('os')", "call is not allowed"),
    ("Gate=strides=2,strides=3", "strides is given twice"),
    ("Gate=reshape", "unknown behaviour 'reshape'"),
    ("Gate", "must look like CLASS=identity"),
])
def test_bad_declarations_are_usage_errors(declared, message):
    with pytest.raises(UsageError, match=message) as info:
        normalize_custom_layers(dict([parse_custom_layer(declared)]))
    assert "\n" not in str(info.value)


def test_python_declarations_take_lists_and_formulas():
    declared = normalize_custom_layers({"Down": {"strides": [2, 1], "kernel_size": 3,
                                                 "filters": 16, "params": "9 * C_in * 16 + 16"}})
    assert declared["Down"] == CustomLayer(behaviour="declared", strides=(2, 1), kernel_size=3,
                                           filters=16, params="9*C_in*16+16")
    assert normalize_custom_layers({"Down": declared["Down"]}) == declared
    assert parse_custom_layer("Down=strides=2x1,kernel_size=3,filters=16,"
                              "params=9 * C_in * 16 + 16") == ("Down", declared["Down"])


def _recorded(entry: dict, shape: list) -> dict:
    entry["inbound_nodes"][0]["args"][0]["config"]["shape"] = shape
    return entry


def _padded_model() -> dict:
    """x (8, 8, 3) -> pad_1 (a custom Pad: 10 x 10) -> conv_3, with the shapes Keras records."""
    return model(_recorded(layer("MyPad", "pad_1", ["x"], module="my_package"), [None, 8, 8, 3]),
                 _recorded(layer("Conv2D", "conv_3", ["pad_1"], filters=4, kernel_size=[3, 3],
                                 strides=[1, 1], padding="valid", dilation_rate=[1, 1],
                                 groups=1, activation="linear", use_bias=True),
                           [None, 10, 10, 3]))


@pytest.mark.parametrize("declared,what", [
    ("identity", "identity"), ("strides=2", "geometry"), ("filters=4", "geometry")])
def test_a_declaration_the_recorded_shapes_contradict_names_both_layers(declared, what):
    with pytest.raises(ShapeError) as info:
        graph_from_keras_config(_padded_model(), custom_layers={"MyPad": declared})
    text = str(info.value)
    assert text.startswith(f"layer 'pad_1' (Custom MyPad): the declared {what} gives output")
    assert "next layer 'conv_3' was saved with input shape (None, 10, 10, 3)" in text
    assert "recorded input shape (None, 8, 8, 3)" in text


def test_a_declaration_the_recorded_shapes_agree_with_is_read():
    data = _padded_model()
    data["config"]["layers"][2]["inbound_nodes"][0]["args"][0]["config"]["shape"] = \
        [None, 4, 4, 3]
    graph = graph_from_keras_config(data, custom_layers={"pad_1": "strides=2"})
    assert analyze(graph).layer("pad_1").output_shape == (4, 4, 3)
    # a free (None) dimension in a recorded shape is not compared
    data["config"]["layers"][2]["inbound_nodes"][0]["args"][0]["config"]["shape"] = \
        [None, None, 4, 3]
    graph_from_keras_config(data, custom_layers={"pad_1": "strides=2"})


def test_a_recorded_input_the_declaration_cannot_take_is_an_error():
    data = _padded_model()
    with pytest.raises(ShapeError, match="layer 'pad_1' .*fails on the input shape the model "
                       "recorded, \\(None, 8, 8, 3\\): output height would be -2"):
        graph_from_keras_config(data, custom_layers={"MyPad": "kernel_size=11"})


def test_cli_exit_code_2_with_one_line_naming_both_layers(tmp_path, capsys):
    source = tmp_path / "padded.json"
    source.write_text(json.dumps(_padded_model()))
    for command in ("analyze", "import"):
        assert main([command, str(source), "--custom-layer", "MyPad=identity"]) == 2, command
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "'pad_1'" in err and "'conv_3'" in err, err
    assert main(["analyze", str(source), "--custom-layer", "MyPad=params=__import__('os')"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "call is not allowed" in err
    assert main(["verify", str(source), "--custom-layer", "MyPad=strides=-1"]) == 2
    assert "strides must be a non-negative integer" in capsys.readouterr().err


# ---------------------------------------------------------------- specs


SPEC = """
inputs: {image: [33, 32, 3]}
layers:
  - {name: stem, op: Conv2D, filters: 16, kernel_size: 3, padding: same}
  - name: down
    op: Custom
    class_name: MyDownsample
    kernel_size: 3
    strides: [2, 2]
    padding: same
    filters: 32
    params: 9*C_in*C_out + C_out
    macs_per_position: 9*C_in*C_out
  - {name: head, op: GlobalAveragePooling2D}
"""


def test_a_spec_declares_a_custom_layer_that_changes_shape():
    graph = loads_spec(SPEC)
    down = analyze(graph).layer("down")
    real = analyze(loads_spec(SPEC.replace("op: Custom", "op: Conv2D").replace(
        "    class_name: MyDownsample\n", "").replace("    params: 9*C_in*C_out + C_out\n", "")
        .replace("    macs_per_position: 9*C_in*C_out\n", ""))).layer("down")
    assert (down.output_shape, down.params, down.macs, down.receptive_field) == (
        real.output_shape, real.params, real.macs, real.receptive_field) == (
        (17, 16, 32), 9 * 16 * 32 + 32, 17 * 16 * 9 * 16 * 32, real.receptive_field)
    back = loads_spec(write_spec(graph))  # strides [2, 2] is written as 2: every axis
    assert analyze(back, generalize=True) == analyze(graph, generalize=True)
    assert "params: 9*C_in*C_out+C_out" in write_spec(graph)


@pytest.mark.parametrize("attribute,message", [
    ("params: __import__('os')", "layer 'down' \\(Custom\\): attribute 'params': .*call is not"),
    ("strides: -2", "layer 'down' \\(Custom\\): attribute 'strides' must be an integer >= 1"),
    ("strides: [2, 2, 2]", "strides \\[2, 2, 2\\] has 3 axes, but the input has 2"),
    ("kernel_size: [3, 3, 3]", "kernel_size \\[3, 3, 3\\], strides \\[2, 2\\]"),
])
def test_bad_custom_attributes_in_a_spec_are_spec_errors(attribute, message):
    key = attribute.split(":")[0]
    lines = [f"    {attribute}" if line.startswith(f"    {key}:") else line
             for line in SPEC.splitlines()]
    text = "\n".join(lines)
    assert attribute in text
    with pytest.raises(SpecError, match=message):
        analyze(loads_spec(text))


def test_a_user_class_named_as_a_keras_operation_can_be_declared():
    """keras.ops.pad is modelled as the op Pad; a user's own layer class Pad is another thing,
    and the issue's example: declared identity for Pad, contradicted by the next layer."""
    data = _padded_model()
    data["config"]["layers"][1]["class_name"] = "Pad"
    with pytest.raises(ShapeError, match="layer 'pad_1' \\(Custom Pad\\): the declared identity"):
        graph_from_keras_config(data, custom_layers={"Pad": "identity"})
    with pytest.raises(UsageError, match="Conv2D is a Keras layer convplan models"):
        normalize_custom_layers({"Conv2D": "strides=2"})
