"""model.py as generated builds the same Keras model as the IR does: for every example spec,
every layer's class and full get_config() equal those of `build_keras_model` (the verify
oracle), so leaving Keras's defaults out of the generated calls loses nothing."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES

from convplan import analyze, load
from convplan.codegen.model_code import model_io, model_lines

pytestmark = pytest.mark.tf

SPECS = sorted(p.name for p in EXAMPLES.glob("*.yaml"))


def generated_model(graph, shapes):
    code = model_lines(graph, graph.topological_order(), shapes)
    inputs, outputs = model_io(graph, code)
    source = "\n".join(["import keras", "from keras import layers", "", "",
                        "def build_model():", *(line for c in code for line in c.lines),
                        f"    return keras.Model(inputs={inputs}, outputs={outputs})", ""])
    namespace: dict = {}
    exec(compile(source, "<model.py>", "exec"), namespace)
    return namespace["build_model"]()


@pytest.mark.parametrize("spec", SPECS)
def test_generated_layers_equal_the_irs(spec):
    from convplan.verify.keras_build import build_keras_model

    graph = load(EXAMPLES / spec)
    plan = analyze(graph)
    if not plan.is_concrete:
        plan = analyze(graph, input_size=(64, 64))
    shapes = {name: tuple(int(d) for d in plan.layer(name).output_shape) for name in graph.inputs}
    size = next(iter(shapes.values()))[:-1]
    ours = generated_model(graph, shapes)
    oracle = build_keras_model(graph, input_size=size)
    assert sorted(layer.name for layer in ours.layers) == sorted(k.name for k in oracle.layers)
    for layer in oracle.layers:
        mine = ours.get_layer(layer.name)
        assert type(mine) is type(layer)
        assert mine.get_config() == layer.get_config(), layer.name


EVERY_KIND = """
name: every_kind
inputs: {image: [24, 20, 3]}
layers:
  - {name: norm, op: Normalization, mean: [0.5, 0.4, 0.3], variance: [0.1, 0.2, 0.3]}
  - {name: scale, op: Rescaling, scale: 0.5, offset: -1.0}
  - {name: pad, op: ZeroPadding2D, padding: [[1, 2], [0, 3]]}
  - {name: crop, op: Cropping2D, cropping: [[2, 1], [3, 0]]}
  - {name: conv, op: Conv2D, filters: 8, kernel_size: [3, 5], strides: [1, 2], padding: same,
     groups: 1, use_bias: false, trainable: false}
  - {name: bn, op: BatchNormalization, momentum: 0.9, epsilon: 0.01, center: false}
  - {name: leaky, op: LeakyReLU, negative_slope: 0.1}
  - {name: sep, op: SeparableConv2D, filters: 8, kernel_size: 3, depth_multiplier: 2,
     dilation_rate: 2, padding: same, activation: gelu}
  - {name: drop, op: SpatialDropout2D, rate: 0.1}
  - {name: up, op: Conv2DTranspose, filters: 8, kernel_size: 3, strides: 2, output_padding: 1}
  - {name: bil, op: UpSampling2D, size: [1, 2], interpolation: bilinear, inputs: [drop]}
  - {name: pool, op: AveragePooling2D, pool_size: 3, strides: 1, padding: same, inputs: [drop]}
  - {name: mul, op: Multiply, inputs: [drop, pool]}
  - {name: sub, op: Subtract, inputs: [mul, drop]}
  - {name: mx, op: Maximum, inputs: [sub, mul, drop]}
  - {name: cat, op: Concatenate, axis: -1, inputs: [mx, drop]}
  - {name: ln, op: LayerNormalization, epsilon: 0.0001}
  - {name: relu6, op: ReLU, max_value: 6.0, threshold: 0.5}
  - {name: gmp, op: GlobalMaxPooling2D, keepdims: true}
  - {name: flat, op: Reshape, target_shape: [-1]}
  - {name: dense, op: Dense, units: 6, use_bias: false}
  - {name: soft, op: Softmax}
outputs: [soft, up, bil]
"""


def test_every_kind_of_attribute_is_written_as_keras_takes_it():
    from convplan import loads_spec
    from convplan.verify.keras_build import build_keras_model

    graph = loads_spec(EVERY_KIND)
    ours = generated_model(graph, {"image": (24, 20, 3)})
    oracle = build_keras_model(graph)
    for layer in oracle.layers:
        assert ours.get_layer(layer.name).get_config() == layer.get_config(), layer.name
    assert not ours.get_layer("conv").trainable


MASKED = """
name: masked
inputs: {x: [8, 8, 3]}
layers:
  - {name: mask, op: Masking, inputs: [x]}
  - {name: any, op: BatchNormalization, inputs: [mask]}
  - {name: not_equal, op: Conv2D, filters: 3, kernel_size: 1, inputs: [any]}
  - {name: out, op: Add, inputs: [mask, not_equal]}
"""


def test_a_project_whose_layers_take_a_mask_passes_its_model_tests(tmp_path):
    """The fuzzer led here: after Masking, a layer that takes the mask (BatchNormalization, a
    merge) brings in the keras.ops nodes computing it (not_equal, any: named by Keras's counter
    per process). model.py renames those that took a layer's name (keras.Model refused the
    graph), and the project's tests leave the mask out of a layer's inputs (keras_facts: the
    planned wiring failed on it); the model is built three times, as the tests do."""
    import subprocess
    import sys

    from convplan.cli.main import main

    spec = tmp_path / "masked.yaml"
    spec.write_text(MASKED)
    project = tmp_path / "project"
    assert main(["generate", str(spec), "-o", str(project)]) == 0
    assert "unique_operation_names" in (project / "model.py").read_text()
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1", "KERAS_BACKEND":
           "tensorflow", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "tests/test_model.py"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
