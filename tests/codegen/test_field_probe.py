"""The modules every generated project's tests carry verbatim (convplan/codegen/field_probe.py
as tests/keras_field.py, model_facts.py as tests/keras_facts.py), tested against the oracles:
on real Keras models built from the plan's graph, the probe's receptive fields equal the ones
`convplan verify` measures (convplan/verify/field.py, which linearizes the plan's graph instead
of the built model) for every layer, on the examples and on random networks (hypothesis), and
agree with the plan; the wiring, activations and Keras arguments read off the built model equal
plan.json's (convplan/codegen/plan_json.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import fuzz_oracle as F
import pytest
from conftest import EXAMPLES
from hypothesis import HealthCheck, assume, given, settings
from strategies import network_specs, op_types, spatial_rank

from convplan import analyze, load
from convplan.codegen import field_probe, model_facts, plan_json
from convplan.codegen.project import VERBATIM_COPIES, render_project

# Example specs at sizes that keep the measurement quick (None: the spec's own).
EXAMPLE_SIZES = {"seed_cnn": None, "seed_dilated": None, "seed_stride_padding": None,
                 "seed_separable": None, "resnet_small": None, "mobilenet_small": None,
                 "unet_segmentation": (32, 32), "unet_small": (32, 32)}


def test_the_projects_carry_the_modules_verbatim():
    files = render_project(load(EXAMPLES / "seed_cnn.yaml"))
    for copy, source in VERBATIM_COPIES.items():
        assert files[copy] == Path(source).read_text(encoding="utf-8")


def oracle_fields(graph, analysis, input_size):
    from convplan.verify.field import measure_fields

    names = F.field_layers(graph, analysis)
    shape = [int(d) for d in analysis.layer(graph.inputs[0]).output_shape]
    return measure_fields(graph, names, shape, input_size, plan=analysis) if names else {}


def built_example(spec: str):
    """The example's graph, plan, Keras model (built from the graph, the oracle) and plan.json
    document (as JSON reads it back), at the size of EXAMPLE_SIZES."""
    from convplan.verify.keras_build import build_keras_model

    graph, size = load(EXAMPLES / f"{spec}.yaml"), EXAMPLE_SIZES[spec]
    analysis = analyze(graph, input_size=size)
    document = plan_json.plan_document(graph, analysis, None, input_size=size)
    return graph, analysis, build_keras_model(graph, size), json.loads(json.dumps(document))


@pytest.mark.tf
@pytest.mark.parametrize("spec", sorted(EXAMPLE_SIZES))
def test_probe_fields_equal_verify_and_the_plan_on_the_examples(spec):
    graph, analysis, model, document = built_example(spec)
    probed = field_probe.measure_fields(model)
    oracle = oracle_fields(graph, analysis, EXAMPLE_SIZES[spec])
    assert oracle and {n: probed[n] for n in oracle} == oracle
    spatial = [int(d) for d in model.inputs[0].shape[1:-1]]
    compared = [r for r in document["layers"] if r["field_check"] == "per_output"]
    assert compared
    for planned in compared:
        problem = field_probe.field_problem(planned["receptive_field"], probed[planned["name"]],
                                            spatial)
        assert problem is None, (planned["name"], problem)


@pytest.mark.tf
@pytest.mark.parametrize("spec", sorted(EXAMPLE_SIZES))
def test_the_built_models_facts_equal_plan_json(spec):
    _, _, model, document = built_example(spec)
    assert model_facts.inbound_layers(model) == {
        r["name"]: [r["inputs"]] if r["inputs"] else [] for r in document["layers"]}
    for planned in document["layers"]:
        layer = model.get_layer(planned["name"])
        config = json.loads(json.dumps(layer.get_config()))
        assert {k: config.get(k) for k in planned["attributes"]} == planned["attributes"]
        if planned["op"] != "InputLayer":
            assert model_facts.layer_activation(layer) == planned["activation"]
            assert model_facts.layer_dtype_policy(layer) == "float32"


NOT_PROBED = {"Custom", "Dot", "Embedding", "EinsumDense", "Pad", "Split", "Mean", "Sum", "Max",
              "Min", "ExpandDims", "Squeeze"}


@pytest.mark.tf
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(network_specs(invalid=False, max_steps=5, inputs=1))
def test_probe_fields_equal_verify_on_random_networks(spec):
    """Both linearize the same network (one from the plan's graph, one from the built model's
    config) and must see exactly the same input pixels from every output position."""
    from convplan.verify.field import with_every_sink
    from convplan.verify.keras_build import build_keras_model

    # TF's CPU kernels run no dilated transposed convolution (the fuzz test covers those). The
    # probe rebuilds keras.layers classes from the saved config: keras.ops nodes (Pad, Split,
    # ...), Dot and Embedding (integer input) are not probed yet (verify measures those).
    assume(spatial_rank(spec) in (1, 2) and not F._has_dilated_transpose(spec)
           and not set(op_types(spec)) & NOT_PROBED)
    planned = F.plan_spec(spec)
    assume(planned.error is None)
    try:
        model = build_keras_model(with_every_sink(planned.graph))  # dead ends kept
    except Exception:  # Keras rejects it (the fuzz test compares those verdicts)
        assume(False)
    oracle = oracle_fields(planned.graph, planned.analysis, None)
    probed = field_probe.measure_fields(model)
    assert {n: probed[n] for n in oracle} == oracle


@pytest.mark.tf
def test_a_merge_leaves_out_a_path_mixed_along_a_spatial_axis():
    """hypothesis found it: a LayerNormalization over H (every output sees the whole column)
    added to the input. The plan and verify leave that global context out of the Add's field
    (receptive.merge_fields); the probe once counted it, so the Add saw the whole H axis."""
    from convplan.verify.field import with_every_sink
    from convplan.verify.keras_build import build_keras_model

    spec = {"name": "fuzz", "inputs": {"x": [5, 5, 1]}, "layers": [
        {"name": "conv", "op": "Conv2D", "inputs": ["x"], "filters": 1, "kernel_size": 1,
         "padding": "same"},
        {"name": "add", "op": "Add", "inputs": ["x", "conv"]},
        {"name": "norm", "op": "LayerNormalization", "inputs": ["add"], "axis": 1},
        {"name": "out", "op": "Add", "inputs": ["norm", "x"]}]}
    planned = F.plan_spec(spec)
    probed = field_probe.measure_fields(build_keras_model(with_every_sink(planned.graph)))
    oracle = oracle_fields(planned.graph, planned.analysis, None)
    assert "out" in oracle and {n: probed[n] for n in oracle} == oracle
    assert probed["out"][0] == tuple((i, i) for i in range(5))  # each row its own


@pytest.mark.tf
@pytest.mark.parametrize("mask_value, mask_used, merged", [(1.0, False, False),
                                                            (0.0, True, False),
                                                            (0.0, True, True)])
def test_masking_is_the_identity_in_the_copy(mask_value, mask_used, merged):
    """hypothesis found the first two: Masking(mask_value=1.0) masked the probe's ones, so its
    every position saw nothing; and where a later layer takes Masking's mask, the model's config
    holds the keras.ops nodes that compute it (NotEqual, Any), which the copy tried to rebuild as
    layers; a merge of masked inputs adds its own (LogicalOr). verify treats Masking as the
    identity (verify/field.py); the probe must too."""
    from convplan.verify.field import with_every_sink
    from convplan.verify.keras_build import build_keras_model

    layers = [{"name": "mask", "op": "Masking", "inputs": ["x"], "mask_value": mask_value}]
    last = "mask"
    if mask_used:  # a BatchNormalization takes the mask, so its ops enter the config
        layers += [{"name": "norm", "op": "BatchNormalization", "inputs": ["mask"]},
                   {"name": "out", "op": "Add", "inputs": ["mask", "norm"]}]
        last = "out"
    if merged:  # and the Add's mask, the or of its inputs', taken by another one
        layers.append({"name": "norm2", "op": "BatchNormalization", "inputs": ["out"]})
        last = "norm2"
    layers.append({"name": "conv", "op": "Conv2D", "inputs": [last], "filters": 1,
                   "kernel_size": 3, "padding": "same"})
    spec = {"name": "fuzz", "inputs": {"x": [5, 5, 1]}, "layers": layers}
    planned = F.plan_spec(spec)
    model = build_keras_model(with_every_sink(planned.graph))
    kinds = {type(op).__name__ for op in model.operations}
    assert ("NotEqual" in kinds) == mask_used  # the config case is the one exercised
    assert ("LogicalOr" in kinds) == merged
    probed = field_probe.measure_fields(model)
    oracle = oracle_fields(planned.graph, planned.analysis, None)
    assert {n: probed[n] for n in oracle} == oracle
    assert probed["mask"][0][2] == (2, 2) and probed["conv"][0][2] == (1, 3)  # not None
