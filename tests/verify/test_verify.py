"""`convplan verify`: the plan against the model built in TensorFlow.

The seed networks and the example networks verify clean; a plan that disagrees with Keras in
shape, params, MACs or receptive field is reported as a mismatch with exit code 1 (the plan is
perturbed here, so each check is shown to be able to fail); the receptive field measurement
agrees with a direct gradient computation on a real (non-linearized) network.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import EXAMPLES

from convplan import analyze, load, loads_spec
from convplan.analysis.receptive import AxisField
from convplan.cli.main import main

pytestmark = pytest.mark.tf

DILATED = """
name: dilated
inputs: {image: [20, 20, 2]}
layers:
  - {name: a, op: Conv2D, filters: 4, kernel_size: 3, dilation_rate: 2, padding: same}
  - {name: b, op: MaxPooling2D, pool_size: 3, strides: 2, padding: same}
  - {name: c, op: DepthwiseConv2D, kernel_size: 3, strides: 2, dilation_rate: 2, padding: same}
  - {name: d, op: ZeroPadding2D, padding: [[1, 2], [0, 1]]}
  - {name: e, op: SeparableConv2D, filters: 4, kernel_size: [3, 1]}
  - {name: f, op: Cropping2D, cropping: [[1, 0], [0, 1]]}
  - {name: g, op: Conv2D, filters: 2, kernel_size: 2, inputs: [f]}
"""


@pytest.mark.parametrize("spec", ["seed_cnn", "seed_dilated", "seed_separable", "resnet_small",
                                  "mobilenet_small", "unet_segmentation"])
def test_examples_verify_clean(spec, capsys):
    assert main(["verify", str(EXAMPLES / f"{spec}.yaml")]) == 0
    out = capsys.readouterr().out
    assert "0 mismatch(es); the plan matches TensorFlow" in out


def test_windows_padding_and_cropping_fields_verify_exactly():
    from convplan.verify.compare import verify_model

    result = verify_model(loads_spec(DILATED))
    assert result.ok, result.mismatches
    fields = [c for layer in result.layers for c in layer.checks if c.quantity == "receptive_field"]
    assert len(fields) == 7 and all(c.detail == "" for c in fields)  # uniform: exact per pixel


def _perturbed(monkeypatch, layer: str, **changes):
    """Make `analyze` report a wrong value for one layer, as a buggy plan would."""
    import convplan.verify.compare as compare

    def wrong(graph, input_size=None, generalize=False):
        plan = analyze(graph, input_size=input_size, generalize=generalize)
        layers = tuple(dataclasses.replace(r, **changes) if r.name == layer else r
                       for r in plan.layers)
        return dataclasses.replace(plan, layers=layers)

    monkeypatch.setattr(compare, "analyze", wrong)


@pytest.mark.parametrize("changes,quantity", [
    ({"output_shape": (28, 28, 33)}, "output_shape"),
    ({"trainable_params": 321}, "trainable_params"),
    ({"non_trainable_params": 1}, "non_trainable_params"),
    ({"macs": 225791}, "macs"),
    ({"receptive_field": (AxisField(3, 1, -1), AxisField(5, 1, -2))}, "receptive_field"),
    ({"receptive_field": (AxisField(3, 1, 0), AxisField(3, 1, -1))}, "receptive_field"),
    ({"receptive_field": (AxisField(3, 2, -1), AxisField(3, 1, -1))}, "receptive_field"),
])
def test_a_wrong_plan_is_a_mismatch_with_exit_1(monkeypatch, capsys, changes, quantity):
    _perturbed(monkeypatch, "conv1", **changes)
    assert main(["verify", str(EXAMPLES / "seed_cnn.yaml"), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    failed = [(layer["name"], c["quantity"]) for layer in doc["layers"] for c in layer["checks"]
              if not c["ok"]]
    assert ("conv1", quantity) in failed
    assert all(name == "conv1" for name, _ in failed)


def test_measured_fields_equal_the_gradient_of_the_real_network():
    """On the seed CNN with real weights and ReLUs, the input pixels with a non-zero gradient
    for an output pixel lie inside the measured field (dead ReLUs and max-pooling winners can
    only hide pixels), and over many random inputs they fill it."""
    import numpy as np
    import tensorflow as tf

    from convplan.verify.field import measure_fields
    from convplan.verify.keras_build import build_keras_model

    graph = load(EXAMPLES / "seed_cnn.yaml")
    measured = measure_fields(graph, ["conv2"], [28, 28, 1])["conv2"]
    model = build_keras_model(graph)
    probe = tf.keras.Model(model.inputs, model.get_layer("conv2").output)
    rng = np.random.default_rng(0)
    x = tf.Variable(rng.uniform(0, 1, (64, 28, 28, 1)).astype("float32"))
    with tf.GradientTape() as tape:
        y = probe(x)[:, 7, 3, :]  # output row 7, column 3, every channel
        target = tf.reduce_sum(y * rng.uniform(0.5, 1.5, y.shape).astype("float32"))
    seen = np.abs(tape.gradient(target, x).numpy()).sum(axis=(0, 3)) > 0
    rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    assert (rows.min(), rows.max()) == measured[0][7]
    assert (cols.min(), cols.max()) == measured[1][3]


@pytest.mark.parametrize("name", ["seed.keras", "seed.zip"])
def test_a_saved_keras_model_is_verified_as_saved(tmp_path, capsys, name):
    """A .keras file is checked as itself: verify loads the saved model, not a rebuild, under
    any name (an archive is known by its content; Keras is given a name it opens)."""
    from convplan.verify.keras_build import build_keras_model

    path = tmp_path / "seed.keras"
    build_keras_model(load(EXAMPLES / "seed_cnn.yaml")).save(path)
    path = path.rename(tmp_path / name)
    assert main(["verify", str(path)]) == 0
    assert "0 mismatch(es)" in capsys.readouterr().out


def test_symbolic_sizes_need_an_input_size(tmp_path, capsys):
    spec = tmp_path / "sym.yaml"
    spec.write_text("name: sym\ninputs: {x: [H, W, 3]}\nlayers:\n"
                    "  - {name: c, op: Conv2D, filters: 2, kernel_size: 3}\n")
    assert main(["verify", str(spec)]) == 2
    assert "--input-size" in capsys.readouterr().err
    assert main(["verify", str(spec), "--input-size", "9x7"]) == 0


MASKED = """
name: masked
inputs: {x: [8, 8, 3]}
layers:
  - {name: mask, op: Masking, inputs: [x]}
  - {name: any, op: BatchNormalization, inputs: [mask]}
  - {name: not_equal, op: Conv2D, filters: 3, kernel_size: 1, inputs: [any]}
  - {name: any_mask_1, op: Add, inputs: [mask, not_equal]}
  - {name: concatenate, op: BatchNormalization, inputs: [any_mask_1]}
"""


def test_layers_named_as_the_operations_keras_adds_for_masks(tmp_path, capsys):
    """The fuzzer found it: a layer that takes Masking's mask (BatchNormalization, a merge)
    brings in the keras.ops nodes computing it (not_equal, any, ...; named by a per-process
    counter), and keras.Model refused a graph where one had a layer's name. The added nodes are
    renamed; the graph's own layers keep theirs."""
    from convplan.verify.keras_build import build_keras_model

    graph = loads_spec(MASKED)
    for _ in range(2):  # the second build meets Keras's counters past the first names
        model = build_keras_model(graph)
        names = [op.name for op in model.operations]
        assert len(names) == len(set(names))
        assert {"NotEqual", "Any"} <= {type(op).__name__ for op in model.operations}
        assert {n: type(model.get_layer(n)).__name__ for n in ("any", "not_equal",
                "any_mask_1", "concatenate")} == {"any": "BatchNormalization",
                "not_equal": "Conv2D", "any_mask_1": "Add", "concatenate": "BatchNormalization"}
    path = tmp_path / "masked.yaml"
    path.write_text(MASKED)
    assert main(["verify", str(path)]) == 0
    assert "0 mismatch(es)" in capsys.readouterr().out
