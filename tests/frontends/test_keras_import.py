"""Reading Keras model files without TensorFlow: the config format's corners, strictness (an
unknown class or key is an error naming the layer, never a guess), custom layer declarations,
hostile .keras archives, and the spec `convplan import` writes. The numbers themselves are
compared with real Keras in test_keras_import_tf.py and test_applications.py."""

from __future__ import annotations

import json
import struct
import zipfile

import pytest

from convplan import analyze, load
from convplan.cli.main import main
from convplan.errors import GraphError, SpecError, UnsupportedError, UsageError
from convplan.frontends.builder import NetworkBuilder
from convplan.frontends.keras_archive import read_archive_config
from convplan.frontends.keras_layers import CustomLayer, parse_custom_layer
from convplan.frontends.keras_model import graph_from_keras_config
from convplan.frontends.spec import loads_spec
from convplan.frontends.spec_writer import write_spec
from convplan.ir import ops as O

POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_float16"},
          "registered_name": None}


def tensor(name: str, node: int = 0) -> dict:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": [None, 8, 8, 3], "dtype": "float32",
                       "keras_history": [name, node, 0]}}


def layer(cls: str, name: str, inputs: list, module: str = "keras.layers", **config) -> dict:
    """One Keras 3 layer entry as model.to_json() writes it; inputs are names, or lists of
    names for merges."""
    args = [[tensor(i) for i in inp] if isinstance(inp, list) else tensor(inp) for inp in inputs]
    return {"module": module, "class_name": cls, "registered_name": None, "name": name,
            "config": {"name": name, "trainable": True, "dtype": POLICY, **config},
            "build_config": {"input_shape": [None, 8, 8, 3]},
            "inbound_nodes": [{"args": args, "kwargs": {"mask": None}}]}


def input_layer(name: str = "x", shape=(8, 8, 3)) -> dict:
    return {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
            "name": name, "inbound_nodes": [],
            "config": {"batch_shape": [None, *shape], "dtype": "float32", "sparse": False,
                       "ragged": False, "name": name, "optional": False}}


def model(*layers: dict, outputs=None, inputs=("x",)) -> dict:
    last = layers[-1]["name"]
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "registered_name": "Functional", "build_config": {"input_shape": None},
            "config": {"name": "m", "trainable": True,
                       "layers": [input_layer(i) for i in inputs] + list(layers),
                       "input_layers": [[i, 0, 0] for i in inputs],
                       "output_layers": [[o, 0, 0] for o in (outputs or [last])]}}


CONV = dict(filters=4, kernel_size=[3, 3], strides=[1, 1], padding="valid",
            data_format="channels_last", dilation_rate=[1, 1], groups=1, activation="linear",
            use_bias=True, kernel_initializer={"class_name": "GlorotUniform", "config": {}},
            bias_initializer={"class_name": "Zeros", "config": {}}, kernel_regularizer=None,
            bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
            bias_constraint=None)


def test_a_minimal_functional_config_reads_every_keras_detail():
    data = model(layer("Conv2D", "conv", ["x"], **CONV),
                 layer("BatchNormalization", "bn", ["conv"], axis=3, momentum=0.9,
                       epsilon=1e-05, center=True, scale=False, synchronized=False,
                       renorm=False, renorm_clipping=None, renorm_momentum=0.99,
                       gamma_initializer={}, moving_mean_initializer={}),
                 layer("Add", "add", [["bn", "bn"]]))
    graph = graph_from_keras_config(data)
    assert graph["conv"].op == O.Conv2D(name="conv", filters=4, kernel_size=3)
    assert graph["bn"].op.epsilon == 1e-05 and graph["bn"].op.axis == 3
    assert graph["add"].inputs == ("bn", "bn")
    assert analyze(graph).totals.params == 3 * 3 * 3 * 4 + 4 + 4 + 8


def test_keras2_inbound_nodes_give_the_same_graph():
    keras3 = model(layer("Conv2D", "conv", ["x"], **CONV))
    keras2 = json.loads(json.dumps(keras3))
    keras2["class_name"] = "Model"
    entry = keras2["config"]["layers"][1]
    entry["inbound_nodes"] = [[["x", 0, 0, {}]]]
    keras2["config"]["layers"][0]["config"] = {"batch_input_shape": [None, 8, 8, 3],
                                               "dtype": "float32", "name": "x"}
    assert analyze(graph_from_keras_config(keras2)) == analyze(graph_from_keras_config(keras3))


def test_layers_listed_out_of_order_are_wired_anyway():
    data = model(layer("ReLU", "b", ["a"]), layer("ReLU", "a", ["x"]), outputs=["b"])
    assert graph_from_keras_config(data)["b"].inputs == ("a",)


def test_an_input_nobody_produces_is_a_graph_error():
    with pytest.raises(GraphError, match="layer 'b'.*input 'ghost'"):
        graph_from_keras_config(model(layer("ReLU", "b", ["ghost"])))


def test_unknown_layer_class_names_the_class_and_the_layer():
    data = model(layer("FancyAttention", "attn", ["x"], module="my_package.layers", heads=4))
    with pytest.raises(UnsupportedError) as info:
        graph_from_keras_config(data)
    text = str(info.value)
    assert "layer 'attn' (FancyAttention)" in text and "my_package.layers" in text
    assert "`custom_layers` FancyAttention=identity" in text


@pytest.mark.parametrize("key,value,message", [
    ("lora_rank", 4, "lora_rank=4 is not modelled"),
    ("mystery", 1, "config key 'mystery'"),
    ("data_format", "channels_first", "channels_first"),
    ("activation", {"module": "builtins", "class_name": "function", "config": "my_act"},
     "custom activation function 'my_act'"),
])
def test_config_values_convplan_does_not_model_are_errors(key, value, message):
    data = model(layer("Conv2D", "conv", ["x"], **{**CONV, key: value}))
    with pytest.raises(SpecError, match=message) as info:
        graph_from_keras_config(data)
    assert "layer 'conv' (Conv2D)" in str(info.value)


def test_several_normalization_axes_are_refused_not_guessed():
    data = model(layer("LayerNormalization", "ln", ["x"], axis=[1, 2, 3], epsilon=1e-3,
                       center=True, scale=True, rms_scaling=False))
    with pytest.raises(UnsupportedError, match="layer 'ln'.*several axes"):
        graph_from_keras_config(data)


def test_custom_layers_are_declared_by_class_or_by_layer_name():
    data = model(layer("Gate", "gate", ["x"], module="my_package"),
                 layer("Lambda", "lam", ["gate"], function={"class_name": "__lambda__"}))
    graph = graph_from_keras_config(data, custom_layers={
        "Gate": "identity,params=1,params_per_channel=2", "lam": {"flops_per_element": 3}})
    assert graph["gate"].op == O.Custom(name="gate", class_name="Gate", params=1,
                                        params_per_channel=2)
    analysis = analyze(graph)
    assert analysis.layer("gate").trainable_params == 1 + 2 * 3
    assert analysis.layer("lam").flops == 3 * 8 * 8 * 3
    assert analysis.layer("lam").output_shape == (8, 8, 3)


@pytest.mark.parametrize("declared,message", [
    ({"Nobody": "identity"}, "match no layer"),
    ({"Conv2D": "identity"}, "Conv2D is a Keras layer convplan models"),
    ({"Gate": "reshape"}, "unknown behaviour 'reshape'"),
    ({"Gate": "identity,params=-1"}, "'params' must be an integer >= 0"),
    ({"Gate": "identity,weights=3"}, "unknown option"),
])
def test_bad_custom_layer_declarations_are_usage_errors(declared, message):
    data = model(layer("Gate", "gate", ["x"], module="my_package"))
    with pytest.raises(UsageError, match=message):
        graph_from_keras_config(data, custom_layers={"Gate": "identity", **declared}
                                if "Gate" not in declared else declared)


def test_parse_custom_layer():
    assert parse_custom_layer("My.Layer=identity,params=12") == (
        "My.Layer", CustomLayer(params=12))
    with pytest.raises(UsageError, match="CLASS=identity"):
        parse_custom_layer("identity")


def test_keras_ops_on_constants_become_rescaling_and_others_are_refused():
    def op(cls, name, args):
        entry = layer(cls, name, [], module="keras.src.ops.numpy")
        entry["config"] = {"name": name}
        entry["inbound_nodes"] = [{"args": args, "kwargs": {}}]
        return entry

    data = model(op("Add", "plus3", [tensor("x"), 3.0]), op("Subtract", "flip", [1.0,
                                                                                tensor("plus3")]),
                 op("Multiply", "both", [tensor("flip"), tensor("x")]))
    graph = graph_from_keras_config(data)
    assert graph["plus3"].op == O.Rescaling(name="plus3", scale=1.0, offset=3.0)
    assert graph["flip"].op == O.Rescaling(name="flip", scale=-1.0, offset=1.0)
    assert graph["both"].op.op_type == "Multiply"
    assert analyze(graph).layer("plus3").flops == 8 * 8 * 3  # one add per element
    with pytest.raises(UnsupportedError, match=r"'Power'\(tensor, 2.0\)"):
        graph_from_keras_config(model(op("Power", "sq", [tensor("x"), 2.0])))


def test_a_single_layer_or_a_subclassed_model_is_not_a_model():
    with pytest.raises(UnsupportedError, match="holds a 'Conv2D', which is not a Functional or Sequential"):
        graph_from_keras_config({"class_name": "Conv2D", "config": CONV})
    with pytest.raises(UnsupportedError, match="subclassed"):
        graph_from_keras_config({"class_name": "Functional", "config": {"name": "sub"}})


# ---------------------------------------------------------------- .keras archives


def _archive(path, files: dict[str, bytes], compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


def test_keras_archive_reads_only_config_json(tmp_path):
    data = model(layer("Conv2D", "conv", ["x"], **CONV))
    path = _archive(tmp_path / "m.keras", {
        "metadata.json": b'{"keras_version": "3.15.1"}',
        "config.json": json.dumps(data).encode(),
        "model.weights.h5": b"\x89HDF not really weights"})
    assert analyze(load(path)) == analyze(graph_from_keras_config(data))
    renamed = path.rename(tmp_path / "model.zip")  # recognized by its content, not its name
    assert analyze(load(renamed)) == analyze(graph_from_keras_config(data))


def test_zip_bomb_config_is_refused_before_inflating(tmp_path):
    path = _archive(tmp_path / "bomb.keras", {"config.json": b" " * (9 * 1024 * 1024)})
    assert path.stat().st_size < 100_000
    with pytest.raises(SpecError, match="config.json is .* bytes; configs larger"):
        read_archive_config(path)


def test_a_lying_size_header_is_caught(tmp_path):
    """The central directory claims config.json is 10 bytes; it inflates to far more."""
    path = _archive(tmp_path / "liar.keras", {"config.json": b"{" + b" " * 100_000 + b"}"})
    raw = bytearray(path.read_bytes())
    central = raw.rindex(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, 10)  # uncompressed size in the central directory
    path.write_bytes(bytes(raw))
    with pytest.raises(SpecError, match="damaged or unsupported .keras archive|not valid JSON"):
        read_archive_config(path)


@pytest.mark.parametrize("make,message", [
    (lambda p: p.write_bytes(b"not a zip at all"), "not a .keras archive"),
    (lambda p: p.write_bytes(_archive(p.with_suffix(".zip"), {"config.json": b"{}" * 5000})
                             .read_bytes()[:-30]), "not a .keras archive"),
    (lambda p: _archive(p, {"metadata.json": b"{}"}), "holds no config.json"),
    (lambda p: _archive(p, {"config.json": b"\xff\xfe"}), "not UTF-8"),
    (lambda p: _archive(p, {"config.json": b"{broken"}), "not valid JSON"),
    (lambda p: p.mkdir(), "is a folder"),
])
def test_hostile_or_broken_archives_are_one_line_errors(tmp_path, make, message):
    path = tmp_path / "bad.keras"
    make(path)
    with pytest.raises(SpecError, match=message):
        read_archive_config(path)
    assert main(["analyze", str(path)]) == 2


# ---------------------------------------------------------------- spec writer and CLI


def _every_kind_of_layer():
    net = NetworkBuilder("kinds")
    x = net.input("image", [None, 40, 3])
    y = net.Conv2D(x, filters=8, kernel_size=(3, 5), strides=2, padding="same", groups=1,
                   activation="relu", trainable=False)
    t = net.Conv2DTranspose(y, filters=4, kernel_size=3, strides=2, output_padding=1)
    p = net.MaxPooling2D(t, pool_size=3, strides=1, padding="same")
    z = net.ZeroPadding2D(p, padding=((0, 1), (2, 0)))
    r = net.Rescaling(z, scale=[0.5, 1.0, 2.0, 3.0], offset=-1.0)
    c = net.add_layer("Custom", r, class_name="Gate", params_per_channel=1, name="gate")
    m = net.Concatenate([c, r], axis=-1)
    d = net.Dense(net.GlobalAveragePooling2D(m), units=3, use_bias=False)
    return net.build([d, y])


def test_written_spec_loads_back_to_the_identical_graph_and_analysis():
    graph = _every_kind_of_layer()
    text = write_spec(graph, header="made by a test")
    assert text.startswith("# made by a test\n")
    back = loads_spec(text)
    assert [(n.op, n.inputs) for n in back] == [(n.op, n.inputs) for n in graph]
    assert back.outputs == graph.outputs
    assert analyze(back, generalize=True) == analyze(graph, generalize=True)
    assert "kernel_size: [3, 5]" in text and "pool_size: 3" in text  # (3, 3) written as 3
    assert "trainable: false" in text


def test_non_default_attributes_of_ops_with_required_attributes():
    op = O.Conv2DTranspose(name="t", filters=2, kernel_size=3, strides=2, output_padding=1)
    assert op.non_default_attributes() == {"kernel_size": (3, 3), "strides": (2, 2),
                                           "filters": 2, "output_padding": (1, 1)}


def test_import_command_errors_and_custom_layer_option(tmp_path, capsys):
    data = model(layer("Gate", "gate", ["x"], module="my_package"))
    source = tmp_path / "gated.json"
    source.write_text(json.dumps(data))
    assert main(["import", str(source)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "'Gate'" in err
    assert main(["import", str(source), "--custom-layer", "Gate=identity,params=7"]) == 0
    text = capsys.readouterr().out
    assert "{name: gate, op: Custom, class_name: Gate, params: 7}" in text
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    assert main(["import", str(spec)]) == 2
    assert "not a Keras model file" in capsys.readouterr().err
    assert main(["import", str(source), "--custom-layer", "Gate"]) == 2


def test_analyze_takes_custom_layer_declarations_for_keras_files_only(tmp_path, capsys):
    data = model(layer("Gate", "gate", ["x"], module="my_package"))
    source = tmp_path / "gated.json"
    source.write_text(json.dumps(data))
    assert main(["analyze", str(source), "--format", "json", "--no-symbolic",
                 "--custom-layer", "Gate=identity,params_per_channel=2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["params"] == 2 * 3
    spec = tmp_path / "spec.yaml"
    spec.write_text("inputs: {x: [8, 8, 3]}\nlayers:\n  - {name: r, op: ReLU}\n")
    assert main(["analyze", str(spec), "--custom-layer", "Gate=identity"]) == 2
    assert "apply to Keras model files" in capsys.readouterr().err


def test_topological_order_is_networkx_lexicographical_order():
    """Graph.topological_order avoids importing networkx (a sixth of `convplan analyze`'s
    start-up on a Keras JSON); it must keep networkx's order exactly."""
    import random

    import networkx as nx

    rng = random.Random(7)
    for trial in range(40):
        net = NetworkBuilder(f"dag{trial}")
        names = [net.input("x", [8, 8, 3])]
        for i in range(rng.randint(1, 30)):
            if len(names) > 1 and rng.random() < 0.4:
                picked = rng.sample(names, rng.randint(2, min(3, len(names))))
                names.append(net.Add(picked + picked[:1], name=f"add{i}"))
            else:
                names.append(net.ReLU(rng.choice(names), name=f"relu{i}"))
        graph = net.graph
        # Shuffle the written order (inputs may come after their users in a Keras file).
        items = list(graph.nodes.items())
        rng.shuffle(items)
        graph.nodes = dict(items)
        index = {name: i for i, name in enumerate(graph.nodes)}
        expected = list(nx.lexicographical_topological_sort(graph.to_networkx(),
                                                            key=index.__getitem__))
        assert graph.topological_order() == expected
