"""Names in Keras model files (issue #13): unknown input sizes are H and W everywhere, nested
models' names stay visible, and a config whose names make two layers one is refused."""

from __future__ import annotations

import json

import pytest
from cli_run import run_main
from test_keras_import import CONV, input_layer, layer, model

from convplan import analyze
from convplan.errors import GraphError
from convplan.frontends.keras_model import graph_from_keras_config


def free_input_model(*names: str) -> dict:
    """Inputs of shape (None, None, 3), each through its own Conv2D."""
    convs = [layer("Conv2D", f"conv_{n}", [n], **CONV) for n in names]
    data = model(*convs, inputs=names, outputs=[c["name"] for c in convs])
    for entry, n in zip(data["config"]["layers"], names):
        entry.update(input_layer(n, (None, None, 3)))
    return data


@pytest.mark.parametrize("names, symbols", [
    (("x",), ["H", "W"]),
    (("a", "b"), ["H_a", "W_a", "H_b", "W_b"]),
])
def test_unknown_input_sizes_have_one_name_in_table_json_and_formulas(tmp_path, capsys, names,
                                                                      symbols):
    path = tmp_path / "free.json"
    path.write_text(json.dumps(free_input_model(*names)))
    graph = graph_from_keras_config(json.loads(path.read_text()))
    plain, general = analyze(graph), analyze(graph, generalize=True)
    assert sorted(plain.symbols) == sorted(general.symbols) == sorted(symbols)
    assert plain == general  # one set of names: the same formulas whichever way asked
    code, table, _ = run_main(capsys, "analyze", path, "--layer-formulas")
    assert code == 0
    first = names[0]
    h, w = ("H", "W") if len(names) == 1 else (f"H_{first}", f"W_{first}")
    assert f"input {first} (None, {h}, {w}, 3)" in table.splitlines()[0]
    assert "input_layer" not in table and f"{first}_0" not in table
    code, text, _ = run_main(capsys, "analyze", path, "--format", "json")
    assert code == 0
    report = json.dumps(json.loads(text))
    assert f'"{h}"' in report and f"{first}_0" not in report
    for symbol in symbols:
        assert symbol in table


def nested_config() -> dict:
    """A Sequential `stem` and, inside a Functional `block`, a Sequential `inner`."""
    conv = {k: v for k, v in CONV.items() if k != "padding"} | {"padding": "same"}
    stem = {"module": "keras", "class_name": "Sequential", "name": "stem",
            "config": {"name": "stem", "trainable": True, "layers": [
                input_layer("stem_in"),
                {"module": "keras.layers", "class_name": "Conv2D",
                 "config": {"name": "stem_conv", "trainable": True, **conv}},
                {"module": "keras.layers", "class_name": "ReLU",
                 "config": {"name": "act", "trainable": True, "max_value": None,
                            "negative_slope": 0.0, "threshold": 0.0}}]},
            "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
                "shape": [None, 8, 8, 3], "keras_history": ["x", 0, 0]}}], "kwargs": {}}]}
    inner = json.loads(json.dumps(stem) .replace('"stem"', '"inner"')
                       .replace("stem_conv", "inner_conv"))
    inner["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["block_in", 0, 0]
    block = {"module": "keras", "class_name": "Functional", "name": "block",
             "config": {"name": "block", "trainable": True,
                        "layers": [input_layer("block_in", (8, 8, 4)), inner],
                        "input_layers": [["block_in", 0, 0]],
                        "output_layers": [["inner", 1, 0]]},
             "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
                 "shape": [None, 8, 8, 4], "keras_history": ["stem", 1, 0]}}], "kwargs": {}}]}
    top = layer("ReLU", "act", ["block"], max_value=None, negative_slope=0.0, threshold=0.0)
    top["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["block", 1, 0]
    return model(stem, block, top)


def test_nested_models_names_prefix_their_layers(tmp_path, capsys):
    graph = graph_from_keras_config(nested_config())
    assert list(graph.nodes) == ["x", "stem.stem_conv", "stem.act", "block.inner.inner_conv",
                                 "block.inner.act", "act"]
    assert graph["block.inner.inner_conv"].inputs == ("stem.act",)
    path = tmp_path / "nested.json"
    path.write_text(json.dumps(nested_config()))
    code, table, _ = run_main(capsys, "analyze", path)
    assert code == 0
    # A user comparing with model.summary() finds each nested model by its name.
    rows = [line.split()[0] for line in table.splitlines() if line.startswith(("stem", "block"))]
    assert rows == ["stem.stem_conv", "stem.act", "block.inner.inner_conv", "block.inner.act"]


def test_a_config_name_that_makes_two_layers_one_is_refused_naming_both():
    data = model(layer("Conv2D", "a", ["x"], **CONV), layer("Conv2D", "b", ["a"], **CONV))
    data["config"]["layers"][2]["config"]["name"] = "a"  # Keras names the layer by its config
    with pytest.raises(GraphError) as error:
        graph_from_keras_config(data)
    message = str(error.value)
    assert "\n" not in message
    assert message == ("layer 'b': layers 'a' and 'b' of model 'm' would both be named 'a' "
                       "('b''s config names it 'a'); Keras refuses two layers of one name")
    data["config"]["layers"][2]["config"]["name"] = "c"  # a mismatch alone Keras loads
    assert "b" in graph_from_keras_config(data).nodes
