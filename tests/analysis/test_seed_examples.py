"""Every network of the seed blog, as a spec under examples/, equals the blog's own Keras code.

Each Keras model below is written as the blog writes it; convplan must give the same output
shapes and parameter counts, and MACs equal to what the built layers imply.
"""

from __future__ import annotations

import math

import pytest
from conftest import EXAMPLES

from convplan import analyze, load

pytestmark = pytest.mark.tf


def _blog_models(keras):
    L = keras.layers
    image = keras.Input((28, 28, 1), name="image")
    features = keras.Input((28, 28, 16), name="features")

    def single(name, inp, layer):
        return keras.Model(inp, layer(inp), name=name)

    stride = L.Conv2D(filters=1, kernel_size=(3, 3), strides=(2, 2), padding="valid",
                      name="conv_stride")
    same = L.Conv2D(filters=1, kernel_size=(3, 3), strides=(1, 1), padding="same",
                    name="conv_same")
    cnn = keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(32, (3, 3), padding="same", activation="relu", name="conv1"),
        L.MaxPooling2D((2, 2), name="pool1"),
        L.Conv2D(64, (3, 3), padding="same", activation="relu", name="conv2"),
        L.MaxPooling2D((2, 2), name="pool2"),
        L.Flatten(name="flatten"),
        L.Dense(128, activation="relu", name="dense1"),
        L.Dense(10, activation="softmax", name="dense2"),
    ], name="seed_cnn")
    return {
        "seed_basic_conv": single("seed_basic_conv", image, L.Conv2D(
            filters=1, kernel_size=(3, 3), strides=(1, 1), padding="same", activation=None,
            name="conv_layer")),
        "seed_stride_padding": keras.Model(image, [stride(image), same(image)]),
        "seed_multi_filters": single("m", image, L.Conv2D(filters=16, kernel_size=(3, 3),
                                                          padding="same", name="conv_multi")),
        "seed_relu": single("r", image, L.Conv2D(filters=1, kernel_size=(3, 3),
                                                 activation="relu", name="conv_relu")),
        "seed_1x1": single("p", features, L.Conv2D(filters=8, kernel_size=(1, 1),
                                                   activation="relu", name="conv_1x1")),
        "seed_dilated": single("d", image, L.Conv2D(filters=1, kernel_size=(3, 3),
                                                    dilation_rate=2, padding="same",
                                                    name="conv_dilated")),
        "seed_separable": single("s", image, L.SeparableConv2D(filters=32, kernel_size=(3, 3),
                                                               padding="same", name="sep_conv")),
        "seed_cnn": cnn,
    }


def implied_macs(layer, keras) -> int:
    """MACs implied by a built Keras layer: output positions x kernel volume x in/out."""
    L = keras.layers
    out = layer.output.shape
    positions = math.prod(out[1:-1])
    if isinstance(layer, L.SeparableConv2D):
        dw, pw = layer.depthwise_kernel.shape, layer.pointwise_kernel.shape
        return positions * (math.prod(dw) + math.prod(pw))
    if isinstance(layer, (L.Conv2D, L.Dense)):
        return positions * math.prod(layer.kernel.shape)
    return 0


@pytest.mark.parametrize("example", [
    "seed_basic_conv", "seed_stride_padding", "seed_multi_filters", "seed_relu", "seed_1x1",
    "seed_dilated", "seed_separable", "seed_cnn"])
def test_seed_example_matches_the_blogs_keras_code(keras, example):
    model = _blog_models(keras)[example]
    result = analyze(load(EXAMPLES / f"{example}.yaml"))
    assert result.totals.params == model.count_params()
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        mine = result.layer(layer.name)
        assert (None, *mine.output_shape) == tuple(layer.output.shape), layer.name
        assert mine.params == layer.count_params(), layer.name
        assert mine.macs == implied_macs(layer, keras), layer.name


def test_blog_statements_hold():
    """The blog's own claims: stride 2 'valid' on 28x28 gives 13x13; 'same' keeps 28x28."""
    r = analyze(load(EXAMPLES / "seed_stride_padding.yaml"))
    assert r.layer("conv_stride").output_shape == (13, 13, 1)
    assert r.layer("conv_same").output_shape == (28, 28, 1)
    assert analyze(load(EXAMPLES / "seed_1x1.yaml")).layer("conv_1x1").output_shape == (28, 28, 8)
    assert analyze(load(EXAMPLES / "seed_multi_filters.yaml")).output_shapes == [(28, 28, 16)]


def test_resnet50_spec_equals_keras_applications(keras):
    model = keras.applications.ResNet50(weights=None)
    result = analyze(load(EXAMPLES / "resnet50.yaml"))
    assert result.totals.params == model.count_params() == 25_636_712
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    assert result.totals.trainable_params == trainable
    for layer in model.layers[1:]:
        mine = result.layer(layer.name)
        assert (None, *mine.output_shape) == tuple(layer.output.shape), layer.name
        assert mine.macs == implied_macs(layer, keras), layer.name
    assert len(result.layers) == len(model.layers)
    assert result.totals.macs == sum(implied_macs(layer, keras) for layer in model.layers)
    assert round(result.totals.macs / 1e9, 2) == 3.86  # the figure papers call "FLOPs"
