"""model.py builds the network that was planned, layer by layer, as plan.json describes it:
the same layers, each taking the planned inputs in the planned order (read from the built
model's own graph, keras_facts.py), with the planned class, Keras arguments (strides, padding,
dilation, kernel size, ...), activation and dtype policy; the planned output shape, trainable
and non-trainable params and MACs (keras_measure.py, the measurement `convplan verify` uses);
and the planned receptive field, measured on a linearized copy of the built model
(keras_field.py, the method of `convplan verify`)."""

import json
from pathlib import Path

import keras
import pytest

from keras_facts import inbound_layers, layer_activation, layer_dtype_policy
from keras_field import field_problem, measure_fields
from keras_measure import measure_layer, shape_of
from model import INPUT_SHAPE, OUTPUT_LAYER, build_model

PLAN = json.loads((Path(__file__).resolve().parents[1] / "plan.json").read_text(encoding="utf-8"))
NAMES = [r["name"] for r in PLAN["layers"]]
FIELDS = [r for r in PLAN["layers"] if r["field_check"] == "per_output"]


def as_json(value):
    """The value as plan.json holds it (tuples as lists)."""
    return json.loads(json.dumps(value))


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return build_model()


@pytest.fixture(scope="module")
def fields(model):
    return measure_fields(model)


def test_the_model_has_exactly_the_planned_layers(model):
    assert sorted(layer.name for layer in model.layers) == sorted(NAMES)


def test_every_layer_takes_the_planned_inputs_in_order(model):
    planned = {r["name"]: [r["inputs"]] if r["inputs"] else [] for r in PLAN["layers"]}
    assert inbound_layers(model) == planned


@pytest.mark.parametrize("planned", PLAN["layers"], ids=NAMES)
def test_every_layer_matches_the_plan(model, planned):
    layer = model.get_layer(planned["name"])
    if planned["op"] == "InputLayer":
        assert [None, *shape_of(layer.output)] == planned["output_shape"]
        return
    measured = measure_layer(layer)
    assert type(layer).__name__ == planned["op"]
    assert [None, *measured["output_shape"]] == planned["output_shape"]
    assert measured["trainable_params"] == planned["trainable_params"]
    assert measured["non_trainable_params"] == planned["non_trainable_params"]
    assert measured["macs"] == planned["macs"]


@pytest.mark.parametrize("planned", PLAN["layers"], ids=NAMES)
def test_every_layer_has_the_planned_arguments_and_activation(model, planned):
    layer = model.get_layer(planned["name"])
    config = layer.get_config()
    built = {key: as_json(config.get(key)) for key in planned["attributes"]}
    assert built == planned["attributes"]
    if planned["op"] != "InputLayer":
        assert layer_activation(layer) == planned["activation"]


@pytest.mark.parametrize("planned", FIELDS, ids=[r["name"] for r in FIELDS])
def test_every_receptive_field_is_the_planned_one(fields, planned):
    assert planned["name"] in fields, "the layer lost the input's spatial axes"
    problem = field_problem(planned["receptive_field"], fields[planned["name"]], INPUT_SHAPE[:-1])
    assert problem is None, problem


def test_totals_match_the_plan(model):
    assert model.count_params() == PLAN["totals"]["params"]


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_every_layer_has_the_planned_dtype_policy(policy):
    keras.config.set_dtype_policy(policy)
    try:
        built = build_model()
    finally:
        keras.config.set_dtype_policy("float32")
    policies = {layer.name: layer_dtype_policy(layer) for layer in built.layers
                if type(layer).__name__ != "InputLayer"}
    assert policies == {r["name"]: r["dtype_policy"] or policy for r in PLAN["layers"]
                        if r["op"] != "InputLayer"}
    assert built.get_layer(OUTPUT_LAYER).compute_dtype == "float32"
    assert built.outputs[0].dtype == "float32"
