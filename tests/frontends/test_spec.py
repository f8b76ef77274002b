"""Spec loading: format, blocks, defaults, and one-line errors naming the layer."""

from __future__ import annotations

import pytest

import convplan
from convplan import analyze, loads_spec
from convplan.errors import GraphError, ShapeError, SpecError, UnsupportedError

SEED = """
name: seed
inputs: {image: [28, 28, 1]}
layers:
  - {name: conv1, op: Conv2D, filters: 32, kernel_size: 3, padding: same, activation: relu}
  - {name: pool1, op: MaxPooling2D}
  - {name: flat, op: Flatten}
  - {name: out, op: Dense, units: 10}
"""


def test_sequential_defaults_chain_layers():
    g = loads_spec(SEED)
    assert [n.inputs for n in g] == [(), ("image",), ("conv1",), ("pool1",), ("flat",)]
    assert g.outputs == ["out"]
    assert g["conv1"].op.kernel_size == (3, 3)
    assert g["pool1"].op.strides == (2, 2)  # Keras: strides=None -> pool_size
    assert g["conv1"].line == 5


def test_json_and_yaml_give_the_same_graph():
    import json

    import yaml

    data = yaml.safe_load(SEED)
    a = analyze(loads_spec(SEED))
    b = analyze(loads_spec(json.dumps(data)))
    assert a.totals == b.totals


BLOCKS = """
name: blocks
inputs: {x: [32, 32, 16]}
blocks:
  res:
    params: {filters: null, stride: 1}
    layers:
      - {name: a, op: Conv2D, filters: $filters, kernel_size: 3, padding: same,
         strides: "${stride if index == 1 else 1}"}
      - {name: b, op: Conv2D, filters: "${filters * 1}", kernel_size: 3, padding: same}
      - {name: skip, op: Conv2D, filters: $filters, kernel_size: 1,
         strides: "${stride if index == 1 else 1}", inputs: $input}
      - {name: sum, op: Add, inputs: [b, skip]}
layers:
  - {name: stage, block: res, repeat: 3, with: {filters: 8, stride: 2}}
  - {name: head, op: GlobalAveragePooling2D}
"""


def test_blocks_expand_with_parameters_and_repeat():
    g = loads_spec(BLOCKS)
    names = list(g.nodes)
    assert names[:5] == ["x", "stage_1_a", "stage_1_b", "stage_1_skip", "stage_1_sum"]
    assert g["stage_1_a"].op.strides == (2, 2)
    assert g["stage_2_a"].op.strides == (1, 1)
    assert g["stage_2_a"].inputs == ("stage_1_sum",)
    assert g["stage_2_skip"].inputs == ("stage_1_sum",)
    assert g["head"].inputs == ("stage_3_sum",)
    a = analyze(g)
    assert a.layer("stage_3_sum").output_shape == (16, 16, 8)


@pytest.mark.parametrize("text, error, fragment", [
    ("inputs: {x: [8, 8, 1]}\nlayers: [{name: c, op: Conv9D}]", UnsupportedError,
     "layer 'c': unknown op 'Conv9D'"),
    # a Keras class refused on purpose gets its reason, not "unknown op"
    ("inputs: {x: [8, 8, 3]}\nlayers: [{name: e, op: Equalization}]", UnsupportedError,
     "layer 'e' (Equalization): op 'Equalization' is not modelled: in Keras 3.15 its symbolic "
     "output is its input tensor itself"),
    ("inputs: {x: [8, 8, 3]}\nlayers: [{name: a, op: AutoContrast}]", UnsupportedError,
     "op 'AutoContrast' is not modelled: unlike the Random* augmentation layers it acts"),
    ("inputs: {x: [8, 8, 1]}\nlayers: [{name: c, op: Conv2D, filters: 2}]", SpecError,
     "layer 'c' (Conv2D): missing required attribute 'kernel_size'"),
    ("inputs: {x: [8, 8, 1]}\nlayers: [{name: c, op: Conv2D, filters: 2, kernel_size: 3, "
     "padd: same}]", SpecError, "unknown attribute 'padd'"),
    ("inputs: {x: [8, 8, 1]}\nlayers: [{name: c, op: Conv2D, filters: -2, kernel_size: 3}]",
     SpecError, "attribute 'filters' must be an integer >= 1, received -2"),
    ("inputs: {x: [8, 8, 1]}\nlayers: [{name: c, op: Conv2D, filters: 2, kernel_size: 3},"
     "{name: c, op: ReLU}]", GraphError, "layer 'c' (ReLU): duplicate layer name"),
    ("inputs: {x: [8, 8, 1]}\nlayers: [{name: c, op: ReLU, inputs: [y]}]", GraphError,
     "input 'y' is not a layer"),
    ("inputs: {x: [5, 5, 1]}\nlayers: [{name: conv3, op: Conv2D, filters: 2, kernel_size: 7}]",
     ShapeError, "layer 'conv3' (Conv2D): output height would be -1; kernel 7 with dilation 1 "
     "needs an input of at least 7 rows under padding 'valid', received 5. Hint: padding: same"),
    ("inputs: {x: [8, 8, 1]}\nlayers: [{name: a, op: ReLU, inputs: [b]}, "
     "{name: b, op: ReLU, inputs: [a]}]", GraphError, "cycle"),
    ("inputs: {x: [8, 8]}\nlayers: [{name: c, op: Conv2D, filters: 2, kernel_size: 3}]",
     ShapeError, "expects a rank-4 input"),
    ("inputs: {x: [8, 8, 1]}\nlayers: [{name: c, op: Conv2D, filters: 2, kernel_size: 3, "
     "strides: 2, dilation_rate: 2}]", SpecError, "rejected by Keras"),
    ("a: &a [1]\nb: *a", SpecError, "aliases"),
    ("!!python/object:os.system {}", SpecError, "plain data only"),
    ("inputs: {x: [8, 8, 1]}\nlayers: [{name: 'bad name', op: ReLU}]", SpecError,
     "layer 'name' must be"),
])
def test_bad_specs_get_one_clear_line(text, error, fragment):
    with pytest.raises(error) as info:
        analyze(loads_spec(text))
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_load_validates_what_it_reads(tmp_path):
    """An Add with one input is well-formed YAML and a valid op, but not a valid graph."""
    spec = tmp_path / "one_input_add.yaml"
    spec.write_text("inputs: {x: [4, 4, 3]}\nlayers:\n"
                    "  - {name: a, op: Conv2D, filters: 3, kernel_size: 1}\n"
                    "  - {name: s, op: Add, inputs: [a]}\n")
    with pytest.raises(GraphError, match="layer 's' .*Add"):
        convplan.load(spec)
