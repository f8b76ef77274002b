"""`convplan schema` is true: it accepts every example and regression spec the loader accepts,
and rejects what the loader rejects, attribute by attribute and op by op (TF-free).

The only disagreements allowed are the loader rules JSON Schema cannot state, listed in
convplan/frontends/schema.py's docstring and docs/spec.md; there the schema is the more lenient.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import convplan
from convplan.cli.main import main
from convplan.errors import ConvplanError
from convplan.frontends.loader import parse_text, read_text
from convplan.frontends.schema import SCHEMA_RULES, attribute_schema, spec_schema
from convplan.frontends.spec import build_graph
from convplan.ir import ops as O
from convplan.ir import validate
from convplan.ir.rules import MissingRule, uncovered

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.suffix in (".yaml", ".yml", ".json"))
REGRESSIONS = sorted((ROOT / "tests" / "data").rglob("*.yaml"))
# Regression specs the loader rejects for a reason the schema cannot state (see its docstring).
BEYOND_THE_SCHEMA = {"transpose_same_even_kernel_output_padding_0.yaml": "even effective kernel"}
SCHEMA = spec_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
LAYER = jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": "#/$defs/layer"})


def schema_accepts(data) -> bool:
    return VALIDATOR.is_valid(data)


def loader_accepts(data) -> bool:
    try:
        validate(build_graph(data))
    except ConvplanError:
        return False
    return True


def test_schema_is_valid_draft_2020_12_and_deterministic(capsys):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert json.dumps(spec_schema()) == json.dumps(SCHEMA)
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == json.dumps(SCHEMA, indent=2) + "\n"


def test_every_op_has_schema_rules_for_every_attribute():
    assert uncovered(SCHEMA_RULES) == []
    assert O.Op not in SCHEMA_RULES
    for cls in O.OPS.values():
        for attr in O.attribute_names(cls):
            assert attribute_schema(cls, attr), f"{cls.__name__}.{attr}"
    with pytest.raises(MissingRule, match="no rule for Conv2D.colour"):
        attribute_schema(O.Conv2D, "colour")


@pytest.mark.parametrize("path", EXAMPLES + REGRESSIONS, ids=lambda p: p.name)
def test_examples_and_regression_specs(path):
    data = parse_text(read_text(path), str(path))
    if path.name in BEYOND_THE_SCHEMA:
        assert schema_accepts(data) and not loader_accepts(data)
        return
    errors = [f"{e.json_path}: {e.message[:200]}" for e in VALIDATOR.iter_errors(data)]
    assert (errors == []) == loader_accepts(data), errors


def test_examples_are_found():
    assert {"resnet50.yaml", "unet_small.yaml"} <= {p.name for p in EXAMPLES}
    assert len(REGRESSIONS) >= 20


def test_json_specs_are_held_to_the_same_schema(tmp_path):
    for path in EXAMPLES[:3]:
        data = parse_text(read_text(path), str(path))
        target = tmp_path / (path.stem + ".json")
        target.write_text(json.dumps(data))
        assert schema_accepts(json.loads(target.read_text()))
        validate(convplan.load(target))


BASE = "inputs: {x: [16, 16, 4]}\nlayers:\n"
BLOCK = ("inputs: {x: [16, 16, 4]}\nblocks:\n  unit:\n    params: {filters: null, k: 3}\n"
         "    layers:\n")
CASES = {
    # (spec text, accepted by convplan.load)
    "causal pooling": (BASE + "  - {name: p, op: MaxPooling2D, padding: causal}", False),
    "causal Conv1D": ("inputs: {x: [16, 4]}\nlayers:\n"
                      "  - {name: c, op: Conv1D, filters: 2, kernel_size: 3, padding: causal}",
                      True),
    "causal Conv2D": (BASE + "  - {name: c, op: Conv2D, filters: 2, kernel_size: 3, "
                      "padding: causal}", False),
    "padding in capitals": (BASE + "  - {name: c, op: Conv2D, filters: 2, kernel_size: 3, "
                            "padding: SAME}", True),
    "unknown attribute": (BASE + "  - {name: c, op: Conv2D, filters: 2, kernel_size: 3, "
                          "colour: red}", False),
    "bad activation": (BASE + "  - {name: c, op: Conv2D, filters: 2, kernel_size: 3, "
                       "activation: relu7}", False),
    "unmodelled activation": (BASE + "  - {name: a, op: Activation, activation: glu}", False),
    "negative filters": (BASE + "  - {name: c, op: Conv2D, filters: -2, kernel_size: 3}", False),
    "missing filters": (BASE + "  - {name: c, op: Conv2D, kernel_size: 3}", False),
    "null filters": (BASE + "  - {name: c, op: Conv2D, filters: null, kernel_size: 3}", False),
    "unknown op": (BASE + "  - {name: c, op: Conv4D, filters: 2, kernel_size: 3}", False),
    "alias op": (BASE + "  - {name: p, op: MaxPool2D}", True),
    "channels_first": (BASE + "  - {name: p, op: MaxPooling2D, data_format: channels_first}",
                       False),
    "rate above 1": (BASE + "  - {name: d, op: Dropout, rate: 1.5}", False),
    "unknown interpolation": (BASE + "  - {name: u, op: UpSampling2D, interpolation: gaussian}",
                              False),
    "area interpolation": (BASE + "  - {name: u, op: UpSampling2D, interpolation: area}", True),
    "kernel per axis, wrong count": (BASE + "  - {name: c, op: Conv2D, filters: 2, "
                                     "kernel_size: [3, 3, 3]}", False),
    "stride with dilation": (BASE + "  - {name: c, op: Conv2D, filters: 2, kernel_size: 3, "
                             "strides: 2, dilation_rate: [1, 2]}", False),
    "depthwise unequal strides": (BASE + "  - {name: c, op: DepthwiseConv2D, kernel_size: 3, "
                                  "strides: [1, 2]}", False),
    "depthwise unequal strides, dilated": (BASE + "  - {name: c, op: DepthwiseConv2D, "
                                           "kernel_size: 1, strides: [1, 2], "
                                           "dilation_rate: 2}", True),
    "two -1 in a reshape": (BASE + "  - {name: r, op: Reshape, target_shape: [-1, -1]}", False),
    "one -1 in a reshape": (BASE + "  - {name: r, op: Reshape, target_shape: [-1, 4]}", True),
    "mean without variance": (BASE + "  - {name: n, op: Normalization, mean: 0.5}", False),
    "number mean, list variance": (BASE + "  - {name: n, op: Normalization, mean: 0.5, "
                                   "variance: [1, 1, 1, 1]}", False),
    "add of one input": (BASE + "  - {name: a, op: Add}", False),
    "subtract of three": (BASE + "  - {name: a, op: Subtract, inputs: [x, x, x]}", False),
    "$input outside a block": (BASE + "  - {name: c, op: ReLU, inputs: $input}", False),
    "name with a space": (BASE + "  - {name: my conv, op: ReLU}", False),
    "suppress as a string": (BASE + "  - {name: r, op: ReLU, suppress: CP401}", True),
    "dtype of an input": ("inputs: {x: {shape: [8, 8, 3], dtype: float64}}\nlayers:\n"
                          "  - {name: r, op: ReLU}", True),
    "unknown dtype": ("inputs: {x: {shape: [8, 8, 3], dtype: float128}}\nlayers:\n"
                      "  - {name: r, op: ReLU}", False),
    "block with parameters": (BLOCK + "      - {name: 1_conv, op: Conv2D, filters: $filters, "
                              "kernel_size: [$k, \"${k - 2}\"], padding: same}\n"
                              "      - {name: add, op: Add, inputs: [$input, 1_conv]}\n"
                              "layers:\n  - {name: c0, op: Conv2D, filters: 4, kernel_size: 1}\n"
                              "  - {name: \"s{index}\", block: unit, repeat: 2, first_index: 2,"
                              " with: {filters: 4}}", True),
    "block use with first_index -1": (BLOCK + "      - {name: a, op: ReLU}\nlayers:\n"
                                      "  - {name: s, block: unit, first_index: -1, "
                                      "with: {filters: 4}}", False),
    "block use with repeat 0": (BLOCK + "      - {name: a, op: ReLU}\nlayers:\n"
                                "  - {name: s, block: unit, repeat: 0, with: {filters: 4}}",
                                False),
    "block use with an unknown key": (BLOCK + "      - {name: a, op: ReLU}\nlayers:\n"
                                      "  - {name: s, block: unit, times: 2}", False),
    "{index} first at the top": (BLOCK + "      - {name: a, op: ReLU}\nlayers:\n"
                                 "  - {name: \"{index}s\", block: unit, with: {filters: 4}}",
                                 False),
    "block op as a parameter": ("inputs: {x: [16, 16, 4]}\nblocks:\n  unit:\n"
                                "    params: {kind: ReLU}\n    layers:\n"
                                "      - {name: a, op: $kind}\nlayers:\n"
                                "  - {name: s, block: unit}", True),
    "checks section": (BASE + "  - {name: r, op: ReLU}\nchecks: {target: GPU, "
                       "max-plain-depth: 4, budgets: {max_params: 25M, output_stride: 8}}",
                       True),
    "unknown top-level key": (BASE + "  - {name: r, op: ReLU}\nmodel: x", False),
}
# what `convplan check` refuses in a spec's checks: section (load does not read it)
CHECK_CASES = {
    "unknown setting": "checks: {colour: red}",
    "unknown target": "checks: {target: fpga}",
    "exclude (pyproject.toml only)": "checks: {exclude: ['*.yaml']}",
    "fraction above 1": "checks: {costly_min_share: 2}",
    "unknown budget": "checks: {budgets: {max_layers: 3}}",
}


@pytest.mark.parametrize("case", CASES)
def test_schema_agrees_with_load(case, tmp_path):
    text, accepted = CASES[case]
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    try:
        validate(convplan.load(path))  # load, then the structural lint every pass runs first
        loaded = True
    except ConvplanError:
        loaded = False
    assert loaded == accepted, "the case itself is wrong"
    data = parse_text(text, "spec.yaml")
    assert schema_accepts(data) == accepted, [e.message[:200] for e in VALIDATOR.iter_errors(data)]


@pytest.mark.parametrize("case", CHECK_CASES)
def test_schema_rejects_what_check_rejects(case, tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(BASE + "  - {name: r, op: ReLU}\n" + CHECK_CASES[case])
    assert main(["check", str(path)]) == 2
    assert not schema_accepts(parse_text(path.read_text(), "spec.yaml"))


# ---------------------------------------------------------------- every attribute, many values

VALUES = [None, True, 0, 1, 2, 3, -1, 0.5, 1.5, -0.5, "same", "valid", "causal", "SAME", "relu",
          "linear", "glu", "channels_last", "channels_first", "bilinear", "Lanczos3", "gaussian",
          "float16", "x", " ", "", [], [1], [2], [1, 1], [1, 2], [2, 2], [1, 1, 1], [0, 0],
          [0.5, 0.5], [[1, 1], [0, 2]], [[1, 2]], [[1, 2], 3], [-1], [2, -1], [-1, -1], {"a": 1}]
# Cross-field loader rules the schema cannot state: (op family, attribute) varied alone.
GAPS = {(O.Conv, "groups"): "filters divisible by groups",
        (O.ConvTranspose, "output_padding"): "output_padding below strides",
        (O.Permute, "dims"): "a permutation of 1..n, n the input's axes"}
PROBE = {"filters": 4, "kernel_size": 1, "units": 2, "rate": 0.5, "activation": "relu",
         "target_shape": [-1], "scale": 1.0, "class_name": "Layer"}


def _gap(cls: type[O.Op], attr: str) -> bool:
    return any(issubclass(cls, family) and name == attr for family, name in GAPS)


def _entry(cls: type[O.Op], **attributes) -> dict:
    base = {k: v for k, v in PROBE.items() if k in cls.required}
    inputs = ["x"] * max(cls.min_inputs, 1)
    return {"name": "layer", "op": cls.__name__, "inputs": inputs, **base, **attributes}


def _spec(cls: type[O.Op], entry: dict) -> dict:
    rank = cls.spatial_rank or 2
    return {"inputs": {"x": [8] * rank + [4]}, "layers": [entry]}


@pytest.mark.parametrize("cls", [c for c in O.OPS.values() if c is not O.InputLayer],
                         ids=lambda c: c.__name__)
def test_every_attribute_value_as_the_loader_judges_it(cls):
    disagreements = []
    for attr in O.attribute_names(cls):
        gap = _gap(cls, attr)
        for value in VALUES:
            entry = _entry(cls, **{attr: value})
            loaded, schema = loader_accepts(_spec(cls, entry)), LAYER.is_valid(entry)
            if loaded != schema and not (gap and schema and not loaded):
                disagreements.append(f"{attr}={value!r}: load {loaded}, schema {schema}")
    assert disagreements == []


@pytest.mark.parametrize("cls", [O.Conv2D, O.Add, O.Subtract, O.Custom, O.Concatenate],
                         ids=lambda c: c.__name__)
def test_input_counts_as_the_loader_judges_them(cls):
    for inputs in (None, "x", [], ["x"], ["x", "x"], ["x", "x", "x"]):
        entry = _entry(cls)
        del entry["inputs"]
        if inputs is not None:
            entry["inputs"] = inputs
        assert LAYER.is_valid(entry) == loader_accepts(_spec(cls, entry)), inputs


@pytest.mark.parametrize("cls", [O.Conv2D, O.DepthwiseConv2D, O.MaxPooling1D, O.Normalization,
                                 O.ZeroPadding2D, O.Add], ids=lambda c: c.__name__)
def test_inside_a_block_values_are_judged_alike_and_parameters_pass(cls):
    """A block layer's attribute, written out or given as `$value` through `with:`."""
    disagreements = []
    for attr in O.attribute_names(cls):
        for value in VALUES:
            entry = {**_entry(cls, **{attr: value}), "inputs": ["$input"] * max(cls.min_inputs, 1)}
            for layer, given in ((entry, {}), ({**entry, attr: "$value"}, {"value": value})):
                spec = {**_spec(cls, {"name": "use", "block": "b", "with": given}),
                        "blocks": {"b": {"params": {"value": 0}, "layers": [layer]}}}
                loaded, schema = loader_accepts(spec), schema_accepts(spec)
                # a parameter's value is the loader's to judge, as are the gaps
                if loaded != schema and not (schema and (given or _gap(cls, attr))):
                    disagreements.append(f"{attr}={value!r} {given}: load {loaded}, "
                                         f"schema {schema}")
    assert disagreements == []
