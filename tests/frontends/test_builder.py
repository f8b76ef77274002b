"""The Python builder produces the same IR as a spec."""

from __future__ import annotations

from conftest import EXAMPLES

from convplan import NetworkBuilder, analyze, load
from convplan.analysis.arith import substitute


def test_builder_equals_spec_for_the_seed_cnn():
    net = NetworkBuilder("seed_cnn")
    x = net.input("image", [28, 28, 1])
    x = net.Conv2D(x, name="conv1", filters=32, kernel_size=[3, 3], padding="same",
                   activation="relu")
    x = net.MaxPooling2D(x, name="pool1", pool_size=[2, 2])
    x = net.Conv2D(x, name="conv2", filters=64, kernel_size=[3, 3], padding="same",
                   activation="relu")
    x = net.MaxPooling2D(x, name="pool2", pool_size=[2, 2])
    x = net.Flatten(x, name="flatten")
    x = net.Dense(x, name="dense1", units=128, activation="relu")
    x = net.add_layer("Dense", x, name="dense2", units=10, activation="softmax")
    built = net.build()
    spec = load(EXAMPLES / "seed_cnn.yaml")
    assert [(n.op, n.inputs) for n in built] == [(n.op, n.inputs) for n in spec]
    assert analyze(built) == analyze(spec)


def test_builder_auto_names_like_keras_and_handles_merges():
    net = NetworkBuilder("tiny")
    x = net.input("image", ["H", "W", 3])
    y = net.Conv2D(x, filters=8, kernel_size=3, strides=2, padding="same")
    z = net.Conv2D(x, filters=8, kernel_size=1, strides=2)
    s = net.add_layer("Add", [y, z])
    graph = net.build(outputs=s)
    assert (y, z, s) == ("conv2d", "conv2d_1", "add")
    result = analyze(graph)
    height = result.layer(y).output_shape[0]
    assert {str(s) for s in height.free_symbols} == {"H"}
    for h in range(1, 40):  # 'same' with stride 2 is ceil(H / 2)
        assert substitute(height, {"H": h}) == -(-h // 2)
    # 'valid' 1x1 stride 2 gives the same length as 'same' 3x3 stride 2: no size condition
    assert result.conditions == ()
