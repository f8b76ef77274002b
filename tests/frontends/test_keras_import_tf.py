"""Keras models built in TensorFlow, imported from their JSON or .keras file, against the built
layers: nested models, shared inputs, Sequential models, frozen layers, dtype policies, keras.ops
arithmetic, shared weightless layers, the live `from_keras`, and the spec `convplan import`
writes. Every number compared comes from the built Keras model (tf_oracle.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tf_oracle import mismatches, model_totals

from convplan import analyze, from_keras, load
from convplan.cli.main import main
from convplan.errors import SpecError, UnsupportedError

pytestmark = pytest.mark.tf


def _same_as_keras(model, graph) -> None:
    analysis = analyze(graph)
    assert (analysis.totals.params, analysis.totals.trainable_params) == model_totals(model)
    assert mismatches(model, analysis) == []
    assert [analysis.layer(o).output_shape for o in graph.outputs] == [
        tuple(t.shape[1:]) for t in model.outputs]


def _from_json(model, tmp_path, **kwargs):
    path = tmp_path / f"{model.name}.json"
    path.write_text(model.to_json())
    return load(path, **kwargs)


@pytest.fixture(scope="module")
def nested_model(keras):
    """A Sequential and a Functional model nested in a Functional one, an input shared by
    three branches, and a nested layer whose name the outer model also uses."""
    L = keras.layers
    block = keras.Sequential([L.Conv2D(8, 3, padding="same", name="inner_conv"),
                              L.BatchNormalization(name="inner_bn"), L.ReLU(6.0, name="relu6"),
                              L.Conv2D(8, 1, name="clash")], name="block")
    fin = keras.Input((None, None, 8), name="fin")
    head = keras.Model(fin, L.GlobalAveragePooling2D(name="gap")(fin), name="head")
    x = keras.Input((32, 24, 3), name="image")
    a = block(x)
    b = L.Conv2D(8, 3, padding="same", name="clash")(x)
    c = L.DepthwiseConv2D(3, padding="same", name="dw")(b)
    y = L.Add(name="sum")([a, b, c])
    out = L.Dense(5, name="logits")(head(y))
    return keras.Model(x, [out, a], name="nested")


def test_nested_models_are_flattened_and_match_keras(nested_model, tmp_path):
    graph = _from_json(nested_model, tmp_path)
    # Nested layers are named <nested model>.<layer>, so the nested model's name stays visible
    # (model.summary() lists `block` and `head`); the outer model's own layers keep theirs.
    assert {"block.inner_conv", "block.inner_bn", "block.relu6", "block.clash", "clash",
            "head.gap"} <= set(graph.nodes)
    assert graph["block.inner_conv"].inputs == ("image",)
    assert graph["sum"].inputs == ("block.clash", "clash", "dw")
    assert graph.outputs == ["logits", "block.clash"]
    analysis = analyze(graph)
    assert analysis.layer("block.clash").output_shape == tuple(
        nested_model.get_layer("block").get_layer("clash").output.shape[1:])
    _same_as_keras(nested_model, graph)


def test_keras_archive_gives_the_same_plan_as_the_json(nested_model, tmp_path):
    archive = tmp_path / "nested.keras"
    nested_model.save(archive)
    a, b = analyze(load(archive)), analyze(_from_json(nested_model, tmp_path))
    assert a == b


def test_sequential_models_with_and_without_an_input_layer(keras, tmp_path):
    L = keras.layers
    with_input = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(4, 3, strides=2),
                                   L.MaxPooling2D(), L.Flatten(), L.Dense(10)], name="with_input")
    built = keras.Sequential([L.Conv1D(4, 5, padding="causal", dilation_rate=2),
                              L.GlobalMaxPooling1D(), L.Dense(3)], name="built")
    built.build((None, 50, 2))
    for model in (with_input, built):
        _same_as_keras(model, _from_json(model, tmp_path))


def test_sequential_never_built_is_a_clear_error(keras, tmp_path):
    model = keras.Sequential([keras.layers.Dense(3)], name="unbuilt")
    with pytest.raises(SpecError, match="no input shape .*never built"):
        _from_json(model, tmp_path)


def test_frozen_layers_and_models_count_as_non_trainable(keras, tmp_path):
    L = keras.layers
    backbone = keras.Sequential([L.Conv2D(8, 3, name="b_conv"), L.BatchNormalization(name="b_bn")],
                                name="backbone")
    backbone.trainable = False
    x = keras.Input((16, 16, 3))
    y = L.Dense(4, name="frozen_dense", trainable=False)(L.Flatten()(backbone(x)))
    model = keras.Model(x, L.Dense(2, name="head")(y), name="frozen")
    _same_as_keras(model, _from_json(model, tmp_path))
    assert model_totals(model)[1] == 4 * 2 + 2  # only the head trains: the test can fail


def test_dtype_policies_do_not_change_the_plan(keras, tmp_path):
    L = keras.layers
    x = keras.Input((12, 12, 3))
    y = L.Conv2D(4, 3, dtype="mixed_float16", name="half")(x)
    y = L.SeparableConv2D(6, 3, dtype="mixed_bfloat16", name="sep")(y)
    y = L.Conv2DTranspose(3, 3, strides=2, name="up")(y)
    model = keras.Model(x, L.Activation("softmax", dtype="float32", name="probs")(y))
    assert "mixed_float16" in model.to_json()
    _same_as_keras(model, _from_json(model, tmp_path))


def test_keras_ops_arithmetic_and_shared_weightless_layers(keras, tmp_path):
    L = keras.layers
    x = keras.Input((10, 10, 4), name="x")
    relu = L.ReLU(name="shared_relu")
    a = relu(L.Conv2D(4, 3, padding="same", name="c1")(x))
    b = relu(x)  # the same weightless layer called twice
    y = (a + 3.0) * (1.0 / 6.0) - b
    y = L.Rescaling([0.5, 1.0, 2.0, 4.0], offset=1.0, name="per_channel")(y)
    y = L.Identity(name="ident")(L.LeakyReLU(0.1, name="leaky")(y))
    model = keras.Model(x, y, name="ops")
    graph = _from_json(model, tmp_path)
    assert graph["shared_relu_call1"].inputs == ("x",)
    assert graph["per_channel"].op.scale == (0.5, 1.0, 2.0, 4.0)
    _same_as_keras(model, graph)
    assert [graph[n].op.op_type for n in graph.outputs] == ["Activation"]  # Identity


def test_shared_layer_with_weights_is_refused(keras, tmp_path):
    L = keras.layers
    x1, x2 = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
    conv = L.Conv2D(4, 3, name="siamese")
    model = keras.Model([x1, x2], L.Concatenate()([conv(x1), conv(x2)]))
    with pytest.raises(UnsupportedError, match="'siamese' .*shares its weights"):
        _from_json(model, tmp_path)


def test_from_keras_equals_the_file_import(nested_model, tmp_path):
    assert analyze(from_keras(nested_model)) == analyze(_from_json(nested_model, tmp_path))
    _same_as_keras(nested_model, from_keras(nested_model))


def test_custom_layer_needs_a_declaration_and_then_matches_keras(keras, tmp_path):
    @keras.saving.register_keras_serializable(package="tests")
    class Gate(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), name="w")
            self.b = self.add_weight(shape=(), name="b", trainable=False)

        def call(self, x):
            return x * self.w + self.b

    x = keras.Input((6, 6, 5))
    y = Gate(name="gate")(keras.layers.Conv2D(5, 3, name="conv")(x))
    model = keras.Model(x, y, name="gated")
    with pytest.raises(UnsupportedError, match="layer 'gate' .*'Gate'.* `custom_layers` Gate="):
        _from_json(model, tmp_path)
    # A wrong declaration gives a wrong count: the comparison below can fail.
    wrong = _from_json(model, tmp_path, custom_layers={"Gate": "identity,params_per_channel=2"})
    assert analyze(wrong).totals.params != model_totals(model)[0]
    graph = _from_json(model, tmp_path, custom_layers={"Gate": "identity,params_per_channel=1,"
                                                       "params=1"})
    assert analyze(graph).totals.params == model_totals(model)[0]


def test_import_command_writes_a_spec_with_the_same_analysis(nested_model, tmp_path, capsys):
    source = tmp_path / "nested.json"
    source.write_text(nested_model.to_json())
    spec = tmp_path / "nested.yaml"
    assert main(["import", str(source), "-o", str(spec)]) == 0
    text = spec.read_text()
    assert "op: Conv2D" in text and "class_name" not in text
    assert analyze(load(spec)) == analyze(load(source))
    assert analyze(load(spec), generalize=True) == analyze(load(source), generalize=True)


def test_reading_keras_files_never_imports_tensorflow(nested_model, tmp_path):
    source = tmp_path / "nested.json"
    source.write_text(nested_model.to_json())
    archive = tmp_path / "nested.keras"
    nested_model.save(archive)
    script = (
        "import sys, convplan\n"
        "from convplan.cli.main import main\n"
        f"for path in ({str(source)!r}, {str(archive)!r}):\n"
        "    convplan.analyze(convplan.load(path))\n"
        f"    assert main(['analyze', path, '--format', 'json']) == 0\n"
        f"assert main(['import', {str(archive)!r}]) == 0\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]\n"
        "assert not bad, bad\n"
        "print('clean')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.rstrip().endswith("clean")


def test_subclassed_models_are_refused_with_a_hint(keras):
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__(name="tiny")
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(x)

    model = Tiny()
    model(keras.ops.zeros((1, 4)))
    with pytest.raises(UnsupportedError, match="'Tiny'.*subclassed model.*Functional API"):
        from_keras(model)
