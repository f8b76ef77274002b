"""convplan.analysis.masks against Keras: which layers pass a mask on, and where Softmax fails.

Found by the fuzzer (seed 31): Masking -> Softmax on a (1, 1, 1, 1) input, which convplan
accepted and Keras 3 refuses when run at batch 2 (its Softmax checks the mask right-aligned
against the whole input).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from convplan import NetworkBuilder, analyze
from convplan.analysis.masks import mask_sources
from convplan.errors import ShapeError
from convplan.ir import ops as O

pytestmark = pytest.mark.tf

# a Keras layer of each class that passes a mask on, with the arguments it needs
KEEPING = {
    "Activation": {"activation": "relu"}, "ActivityRegularization": {}, "AlphaDropout":
    {"rate": 0.1}, "BatchNormalization": {}, "Dense": {"units": 3}, "Dropout": {"rate": 0.1},
    "ELU": {}, "GaussianDropout": {"rate": 0.1}, "GaussianNoise": {"stddev": 0.1},
    "GroupNormalization": {"groups": 1}, "LayerNormalization": {}, "LeakyReLU": {},
    "Normalization": {}, "PReLU": {}, "ReLU": {}, "Rescaling": {"scale": 2.0}, "Softmax": {},
    "SpatialDropout1D": {"rate": 0.1}, "UnitNormalization": {},
}


def test_the_layers_that_keep_a_mask_are_keras_own():
    """Op.keeps_mask is set exactly on the classes Keras lets a mask through: each kept one
    carries Masking's mask in a built model, and no other op class's Keras layer both
    declares supports_masking and keeps Keras's default compute_mask."""
    import keras
    from keras.src import backend
    from keras.src.layers.layer import Layer

    assert {n for n, c in O.OPS.items() if c.keeps_mask} == set(KEEPING) | {
        "SpatialDropout2D", "SpatialDropout3D"}  # 2D and 3D: the 1D's class, other ranks
    for name, args in KEEPING.items():
        x = keras.Input((4, 4))
        y = getattr(keras.layers, name)(**args)(keras.layers.Masking()(x))
        assert backend.get_keras_mask(y) is not None, name
    for name, cls in O.OPS.items():
        keras_class = getattr(keras.layers, name, None)
        if cls.keeps_mask or keras_class is None or name in ("Masking", "Embedding"):
            continue
        declares = any("supports_masking = True" in inspect.getsource(base.__init__)
                       for base in keras_class.__mro__[:keras_class.__mro__.index(Layer)]
                       if "__init__" in base.__dict__)
        default_mask = keras_class.compute_mask is Layer.compute_mask
        assert not (declares and default_mask), name


def _network(case: str) -> tuple[NetworkBuilder, str]:
    net = NetworkBuilder(case)
    x = net.input("x", [4, 4])
    masked = net.Masking(x)
    if case == "masking":
        y = masked
    elif case == "through_dense":
        y = net.Dense(net.ReLU(masked), units=4)
    elif case == "add_of_two_masks":
        y = net.Add([masked, net.Masking(x)])
    elif case == "add_of_one_mask":
        y = net.Add([masked, x])
    elif case == "concatenate_of_one_mask":
        y = net.Concatenate([masked, x])
    elif case == "through_a_convolution":
        y = net.Conv1D(masked, filters=4, kernel_size=1)
    elif case == "through_flatten_and_dense":
        y = net.Dense(net.Flatten(masked), units=4)
    elif case == "embedding":
        y = net.Embedding(net.Flatten(x), input_dim=10, output_dim=16, mask_zero=True)
    elif case == "embedding_without_mask":
        y = net.Embedding(net.Flatten(x), input_dim=10, output_dim=16)
    else:
        raise AssertionError(case)
    return net, net.Softmax(y)


CASES = ["masking", "through_dense", "add_of_two_masks", "add_of_one_mask",
         "concatenate_of_one_mask", "through_a_convolution", "through_flatten_and_dense",
         "embedding", "embedding_without_mask"]


@pytest.mark.parametrize("case", CASES)
def test_softmax_of_a_mask_is_refused_where_keras_fails(case):
    """convplan refuses a Softmax given a mask exactly where Keras 3 fails to run the model
    at batch 2 or 3; the error names the Softmax and the layer that made the mask."""
    from tf_oracle import build_keras_model

    net, softmax = _network(case)
    graph = net.build()
    model = build_keras_model(graph)
    keras_runs = True
    for batch in (2, 3):
        try:
            model(np.ones((batch, 4, 4), "float32"))
        except ValueError:
            keras_runs = False
    try:
        analyze(graph)
        refused = None
    except ShapeError as error:
        refused = str(error)
    assert (refused is None) == keras_runs, (case, refused)
    if refused:
        assert f"layer {softmax!r} (Softmax)" in refused
        source = mask_sources(graph, graph.topological_order())[graph[softmax].inputs[0]]
        assert repr(source) in refused
