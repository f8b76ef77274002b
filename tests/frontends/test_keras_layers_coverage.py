"""Every public layer class of `keras.layers` is modelled or refused with its own reason.

The walk enumerates `dir(keras.layers)` (aliases included) and fails on any class that is
neither an op convplan models (`OPS`, `ALIASES`, or mapped by the importer: `RENAMED`) nor in
the refusal table (`convplan.frontends.keras_refusals.REFUSED`). Then models holding the new
pointwise and augmentation layers are imported from their JSON and compared with the built
Keras model layer by layer, rebuilt by `verify`'s builder with the same layer configs; and a
model holding a refused layer fails with that layer's reason, naming it, exit 2 from the CLI.
"""

from __future__ import annotations

import inspect

import pytest
from cli_run import one_error_line, run_cli
from tf_oracle import mismatches, model_totals

from convplan import analyze, load
from convplan.errors import UnsupportedError
from convplan.frontends.keras_layers import RENAMED
from convplan.frontends.keras_refusals import REFUSED
from convplan.ir import ops as O

pytestmark = pytest.mark.tf


def keras_layer_classes(keras) -> dict[str, type]:
    """Every name in keras.layers bound to a Layer subclass (an alias is a name of its own)."""
    return {name: value for name in dir(keras.layers)
            if inspect.isclass(value := getattr(keras.layers, name))
            and issubclass(value, keras.layers.Layer)}


def modelled(name: str) -> bool:
    return name in O.OPS or name in O.ALIASES or name in RENAMED


def test_every_keras_layer_is_modelled_or_refused(keras):
    neither = sorted(name for name in keras_layer_classes(keras)
                     if not modelled(name) and name not in REFUSED)
    assert neither == [], "keras.layers classes neither modelled nor refused"


def test_the_refusal_table_names_real_unmodelled_classes(keras):
    """Names are those keras.layers exports or the classes' own (a model's JSON writes
    GroupedQueryAttention, which keras.layers exports as GroupQueryAttention)."""
    classes = keras_layer_classes(keras)
    names = set(classes) | {cls.__name__ for cls in classes.values()}
    assert sorted(set(REFUSED) - names) == []
    assert sorted(name for name in REFUSED if modelled(name)) == []


def test_every_keras_alias_of_a_modelled_class_is_an_alias(keras):
    for name, cls in keras_layer_classes(keras).items():
        if name != cls.__name__ and modelled(cls.__name__):
            assert O.ALIASES.get(name, name) == cls.__name__ or name in O.OPS, name


def _model_json(keras, tmp_path, model) -> str:
    path = tmp_path / f"{model.name}.json"
    path.write_text(model.to_json())
    return str(path)


def test_pointwise_and_augmentation_layers_import_and_rebuild(keras, tmp_path):
    """A preprocessing-and-normalization front end imported from JSON: every layer's shape,
    params and MACs as Keras builds them; verify's builder makes the same layer configs."""
    from convplan.verify.keras_build import build_keras_model

    L = keras.layers
    x = inputs = keras.Input((24, 20, 3))
    for layer in [L.RandomFlip("horizontal"), L.RandomRotation(0.1, fill_mode="constant"),
                  L.RandomZoom((-0.2, 0.1)), L.RandomContrast(0.2), L.RandomBrightness(0.1),
                  L.RandomTranslation(0.1, 0.2), L.GaussianNoise(0.1),
                  L.Conv2D(8, 3, padding="same"), L.GroupNormalization(groups=4),
                  L.PReLU(shared_axes=[1, 2]), L.SpatialDropout2D(0.1, data_format="channels_last"),
                  L.Conv2D(6, 3), L.GroupNormalization(groups=-1, center=False), L.ELU(0.5),
                  L.GaussianDropout(0.2), L.AlphaDropout(0.1), L.UnitNormalization(),
                  L.RMSNormalization(), L.ActivityRegularization(l2=0.01),
                  L.SeparableConvolution2D(4, 3), L.GlobalAvgPool2D()]:
        x = layer(x)
    model = keras.Model(inputs, x, name="front_end")
    graph = load(_model_json(keras, tmp_path, model))
    analysis = analyze(graph)
    assert mismatches(model, analysis) == []
    assert (analysis.totals.params, analysis.totals.trainable_params) == model_totals(model)
    rebuilt = build_keras_model(graph)

    def configs(m):
        return [(type(layer).__name__, {k: v for k, v in layer.get_config().items()
                                        if k not in ("seed", "dtype")})
                for layer in m.layers]
    assert configs(rebuilt) == configs(model)


@pytest.mark.parametrize("make, sequence, reason", [
    (lambda L: L.Lambda(lambda t: t * 2), False, "arbitrary Python code"),
    (lambda L: L.LSTM(4), True, "recurrent layer"),
    (lambda L: L.TimeDistributed(L.Dense(3)), True, "every step of a time axis"),
    (lambda L: L.AutoContrast(), False, "acts at inference too"),
    (lambda L: L.Discretization(bin_boundaries=[0.0, 1.0]), False, "vocabulary, bins"),
])
def test_a_refused_layer_fails_with_its_reason(keras, tmp_path, make, sequence, reason):
    L = keras.layers
    inputs = keras.Input((12, 20, 3))
    x = L.Reshape((12, 60))(inputs) if sequence else inputs
    layer = make(L)
    model = keras.Model(inputs, layer(x), name=f"with_{layer.name}")
    with pytest.raises(UnsupportedError) as err:
        load(_model_json(keras, tmp_path, model))
    assert f"layer {layer.name!r}" in str(err.value) and reason in str(err.value)
    assert "Hint: declare it, e.g." not in str(err.value)  # not the generic message


def test_a_refused_layer_exits_2_from_the_cli_with_one_line(keras, tmp_path):
    inputs = keras.Input((8, 8, 3))
    attention = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")
    model = keras.Model(inputs, attention(inputs, inputs), name="attends")
    result = run_cli("analyze", _model_json(keras, tmp_path, model))
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert "layer 'mha' (MultiHeadAttention)" in line and "attention is outside" in line


def test_a_declaration_still_wins_over_a_refusal(keras, tmp_path):
    """A user who knows what their Lambda does may declare it."""
    inputs = keras.Input((6, 6, 2))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2, name="double")(inputs),
                        name="declared")
    graph = load(_model_json(keras, tmp_path, model), custom_layers={"Lambda": "identity"})
    assert analyze(graph).layer("double").output_shape == (6, 6, 2)


@pytest.mark.parametrize("sequential", [False, True])
def test_keras_cannot_build_a_model_with_equalization(keras, sequential):
    """Why Equalization is refused: Keras 3.15.1 gives its input tensor back as its symbolic
    output, and a model through it is a cycle. When a Keras release fixes this, this test
    fails, and Equalization can be modelled again as an identity at inference."""
    layer = keras.layers.Equalization()
    with pytest.raises(ValueError, match="part of a cycle"):
        if sequential:
            keras.Sequential([keras.Input((6, 6, 3)), layer])(keras.ops.zeros((1, 6, 6, 3)))
        else:
            inputs = keras.Input((6, 6, 3))
            x = keras.layers.Conv2D(3, 1)(inputs)
            keras.Model(inputs, keras.layers.Conv2D(2, 1)(layer(x)))

