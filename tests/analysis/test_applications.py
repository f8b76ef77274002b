"""keras.applications, built in TensorFlow (weights=None), against the plan convplan imports from
the model's JSON: identical total and trainable params, and every layer's output shape, params
and MACs equal to what the built Keras layer implies (see tf_oracle.py).

Each model is built once per size; its JSON goes through the same file path a user's does.
"""

from __future__ import annotations

import gc

import pytest
from tf_oracle import mismatches, model_totals

from convplan import analyze, load

FIVE = ["ResNet50", "VGG16", "MobileNetV2", "EfficientNetB0", "DenseNet121"]
# (input shape or None for the model's default, classes)
SIZES = [(None, 1000), ((197, 171, 3), 7)]
# Further through the zoo, at one small non-default size each (kept small for CI time).
MORE = [("ResNet50V2", (96, 112, 3)), ("MobileNet", (128, 128, 3)),
        ("MobileNetV3Small", (96, 96, 3)), ("InceptionV3", (139, 150, 3)),
        ("Xception", (96, 80, 3)), ("NASNetMobile", (96, 96, 3)),
        ("EfficientNetV2B0", (64, 80, 3)), ("ConvNeXtTiny", (64, 64, 3)),
        ("InceptionResNetV2", (96, 96, 3))]


def _build(keras, name, input_shape, classes):
    kwargs = {"weights": None, "classes": classes}
    if input_shape is not None:
        kwargs["input_shape"] = input_shape
    return getattr(keras.applications, name)(**kwargs)


def _check(keras, tmp_path, model):
    path = tmp_path / f"{model.name}.json"
    path.write_text(model.to_json())
    graph = load(path)
    analysis = analyze(graph)
    try:
        assert (analysis.totals.params, analysis.totals.trainable_params) == model_totals(model)
        assert mismatches(model, analysis) == []
        assert [analysis.layer(o).output_shape for o in graph.outputs] == [
            tuple(t.shape[1:]) for t in model.outputs]
    finally:
        keras.backend.clear_session()
        gc.collect()
    return analysis


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("input_shape,classes", SIZES, ids=["default", "197x171-7cls"])
@pytest.mark.parametrize("name", FIVE)
def test_five_applications_match_tensorflow(keras, tmp_path, name, input_shape, classes):
    model = _build(keras, name, input_shape, classes)
    _check(keras, tmp_path, model)


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("name,input_shape", MORE, ids=[m[0] for m in MORE])
def test_more_of_the_zoo_matches_tensorflow(keras, tmp_path, name, input_shape):
    model = _build(keras, name, input_shape, 10)
    _check(keras, tmp_path, model)
