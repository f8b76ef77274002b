"""model.py builds the network that was planned: every layer of plan.json, with its output
shape, trainable and non-trainable params and MACs, measured on the built Keras layers
(keras_measure.py, the measurement `convplan verify` uses)."""

import json
from pathlib import Path

import keras
import pytest

from keras_measure import measure_layer, shape_of
from model import OUTPUT_LAYER, build_model

PLAN = json.loads((Path(__file__).resolve().parents[1] / "plan.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return build_model()


def test_the_model_has_exactly_the_planned_layers(model):
    assert sorted(layer.name for layer in model.layers) == sorted(r["name"] for r in PLAN["layers"])


@pytest.mark.parametrize("planned", PLAN["layers"], ids=[r["name"] for r in PLAN["layers"]])
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


def test_totals_match_the_plan(model):
    assert model.count_params() == PLAN["totals"]["params"]


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_the_output_stays_float32_under_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)
    try:
        mixed = build_model()
    finally:
        keras.config.set_dtype_policy("float32")
    assert mixed.get_layer(OUTPUT_LAYER).compute_dtype == "float32"
    assert mixed.outputs[0].dtype == "float32"
    hidden = [layer for layer in mixed.layers if layer.weights and layer.name != OUTPUT_LAYER]
    assert all(layer.compute_dtype == policy.removeprefix("mixed_") for layer in hidden)
