"""Functional models built with keras.ops calls and the structural layers, as keras-hub's
vision backbones have them (ResNet v2's -inf pad before the max pooling, CSPDarkNet's split
and concatenate), imported from the JSON, the .keras archive and the live model, against the
built model operation by operation: output shapes (each output of a split), params
(count_params), and the model convplan.verify.keras_build rebuilds from the plan."""

from __future__ import annotations

import math

import pytest

from convplan import analyze, from_keras, load
from convplan.errors import UnsupportedError

pytestmark = pytest.mark.tf


def resnet_v2_stem(keras):
    L, ops = keras.layers, keras.ops
    x = keras.Input((32, 40, 3), name="images")
    y = L.Conv2D(8, 7, strides=2, padding="same", name="conv1")(x)
    y = ops.pad(y, pad_width=[[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=float("-inf"))
    y = L.MaxPooling2D(3, strides=2, name="pool1")(y)
    y = L.BatchNormalization(name="bn")(y)
    return keras.Model(x, L.ReLU(name="relu")(y), name="resnet_v2_stem")


def csp_block(keras):
    L, ops = keras.layers, keras.ops
    x = keras.Input((16, 16, 8), name="images")
    y = L.Conv2D(12, 1, name="expand")(x)
    xs, xb = ops.split(y, indices_or_sections=2, axis=-1)
    xb = L.Conv2D(6, 3, padding="same", name="block")(xb)
    y = ops.concatenate([xs, xb], axis=-1)
    parts = ops.split(y, [2, 5], axis=1)  # three parts along the height
    y = L.Conv2D(4, 1, name="transition")(y)
    return keras.Model(x, [y, parts[2]], name="csp")


def ops_zoo(keras):
    """Every other keras.ops call convplan reads, and the structural layers."""
    L, ops = keras.layers, keras.ops
    x = keras.Input((12, 10, 4), name="images")
    t = ops.transpose(x, (0, 2, 1, 3))
    r = ops.reshape(t, (-1, 120, 4))
    m = ops.mean(x, axis=[1, 2], keepdims=True)
    g = ops.multiply(ops.sigmoid(L.Conv2D(4, 1, name="se")(m)), x)
    s = ops.sum(g, axis=-1)
    e = ops.expand_dims(ops.max(g, axis=(1, 2)), 1)
    q = ops.squeeze(ops.min(g, axis=-1, keepdims=True), -1)
    z = ops.image.resize(ops.relu(g), (5, 7), interpolation="nearest")
    a = ops.add(ops.leaky_relu(z, 0.1), ops.gelu(z, approximate=False))
    b = ops.softmax(L.Resizing(9, 6, name="resizing")(a), axis=-1)
    c = L.CenterCrop(4, 5, name="crop")(b)
    p = L.Permute((2, 1, 3), name="permute")(c)
    ad = L.AdaptiveAveragePooling2D((3, 2), name="adaptive")(p)
    v = L.RepeatVector(3, name="repeat")(L.Flatten(name="flat")(ad))
    k = L.Masking(name="mask")(v)
    return keras.Model(x, [r, s, e, q, k], name="ops_zoo")


def embedding_model(keras):
    ids = keras.Input((7,), name="ids", dtype="int32")
    y = keras.layers.Embedding(50, 6, name="embed")(ids)
    return keras.Model(ids, keras.layers.Dense(3, name="head")(y), name="embedding")


MODELS = [resnet_v2_stem, csp_block, ops_zoo, embedding_model]


def operation_shapes(model) -> dict[str, tuple]:
    """Each operation's output shape(s) in the built model, named as the importer names the
    nodes: the operation's name, `name.i` for output i of several."""
    out = {}
    for operation in model.operations:
        outputs = operation.output if isinstance(operation.output, (list, tuple)) \
            else [operation.output]
        if len(outputs) == 1:
            out[operation.name] = tuple(outputs[0].shape[1:])
        else:
            out.update({f"{operation.name}.{i}": tuple(t.shape[1:])
                        for i, t in enumerate(outputs)})
    return out


def assert_matches(model, graph) -> None:
    analysis = analyze(graph)
    shapes = operation_shapes(model)
    # every node is an operation's output; only split parts nothing reads are left out
    assert set(graph.nodes) <= set(shapes), model.name
    assert all(name.rsplit(".", 1)[0].startswith("split") for name in set(shapes) - set(graph.nodes))
    for name in graph.nodes:
        assert analysis.layer(name).output_shape == shapes[name], name
    for layer in model.layers:
        result = analysis.layer(layer.name)
        assert result.trainable_params + result.non_trainable_params == layer.count_params(), \
            layer.name
    assert analysis.totals.params == model.count_params()


@pytest.mark.parametrize("make", MODELS, ids=lambda m: m.__name__)
def test_json_archive_and_live_model_match_keras(keras, make, tmp_path):
    model = make(keras)
    (tmp_path / "m.json").write_text(model.to_json())
    model.save(tmp_path / "m.keras")
    graphs = [load(tmp_path / "m.json"), load(tmp_path / "m.keras"), from_keras(model)]
    for graph in graphs:
        assert_matches(model, graph)
    assert analyze(graphs[0]) == analyze(graphs[1]) == analyze(graphs[2])


@pytest.mark.parametrize("make", MODELS, ids=lambda m: m.__name__)
def test_rebuilt_model_has_the_same_shapes_and_params(keras, make):
    """verify and codegen rebuild ops nodes as keras.ops calls named as the plan's nodes."""
    import numpy as np

    from convplan.verify.keras_build import build_keras_model

    model = make(keras)
    graph = from_keras(model)
    rebuilt = build_keras_model(graph)
    assert rebuilt.count_params() == model.count_params()
    analysis = analyze(graph)
    names = set()
    for operation in rebuilt.operations:
        output = operation.output
        if isinstance(output, (list, tuple)):  # a split rebuilt for its part `index`
            output = output[graph[operation.name].op.index]
        assert analysis.layer(operation.name).output_shape == tuple(output.shape[1:])
        names.add(operation.name)
    assert names == set(graph.nodes)
    x = np.ones((2, *model.inputs[0].shape[1:]), dtype=model.inputs[0].dtype)
    ours, theirs = rebuilt(x), model(x)
    ours, theirs = (v if isinstance(v, list) else [v] for v in (ours, theirs))
    assert [tuple(o.shape) for o in ours] == [tuple(t.shape) for t in theirs]


def test_minus_infinity_pad_and_split_parts(keras, tmp_path):
    """ResNet v2's pad keeps -inf (written `-Infinity` in the JSON); a split's parts are nodes
    of their own, `split.0` and `split.1`, each with its index."""
    stem = resnet_v2_stem(keras)
    text = stem.to_json()
    assert "-Infinity" in text
    (tmp_path / "stem.json").write_text(text)
    pad = next(node.op for node in load(tmp_path / "stem.json") if node.op.op_type == "Pad")
    assert pad.constant_values == -math.inf and pad.pad_width[1:3] == ((1, 1), (1, 1))
    graph = from_keras(csp_block(keras))
    parts = [n for n, node in graph.nodes.items() if node.op.op_type == "Split"]
    first, second = parts[0].split(".")[0], parts[2].split(".")[0]
    # the second split's parts 0 and 1 feed nothing: dropped, as Keras's graph drops them
    assert parts == [f"{first}.0", f"{first}.1", f"{second}.2"]
    assert [graph[n].op.index for n in parts] == [0, 1, 2]
    concat = next(n for n, node in graph.nodes.items() if node.op.op_type == "Concatenate")
    assert graph[concat].inputs == (f"{first}.0", "block")


def test_receptive_fields_through_ops_match_the_layers(keras):
    """ops.pad is ZeroPadding2D for the field, whatever it fills with; a channel split keeps
    the field."""
    L, ops = keras.layers, keras.ops
    x = keras.Input((32, 32, 4))
    a = L.MaxPooling2D(3, strides=2)(ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]],
                                                 constant_values=float("-inf")))
    b = L.MaxPooling2D(3, strides=2)(L.ZeroPadding2D(1)(x))
    c = ops.split(b, 2, axis=-1)[1]
    fields = [analyze(from_keras(keras.Model(x, t))).layers[-1].receptive_field
              for t in (a, b, c)]
    assert fields[0] == fields[1] == fields[2]


@pytest.mark.parametrize("build, match", [
    (lambda keras, x: keras.ops.reshape(x, (-1, 4)), "cannot reshape"),
    (lambda keras, x: keras.ops.transpose(x, (1, 0, 2, 3)), "batch axis"),
    (lambda keras, x: keras.ops.mean(x), "batch axis"),
    (lambda keras, x: keras.ops.gelu(x), "approximate"),
    (lambda keras, x: keras.ops.cumsum(x, axis=1), "not modelled"),
])
def test_unmodelled_operations_are_refused_with_their_reason(keras, build, match):
    x = keras.Input((4, 4, 4))
    with pytest.raises(UnsupportedError if match != "cannot reshape" else Exception,
                       match=match):
        analyze(from_keras(keras.Model(x, build(keras, x))))
