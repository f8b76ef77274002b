"""Regressions of issue #13: the sweep's rows after resampling and merges equal `analyze`.

A stride varied upstream of an upsampling, merged with a skip, once gave a receptive field
that analyze and TensorFlow disagreed with (13 against 15), printed as a float (15.0) under a
glob vary; a Reshape that does not divide and a depthwise convolution with unequal strides
were reported valid. Each row here is compared with a concrete analysis of its combination,
and one with TensorFlow's gradients.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from test_sweep_values import assert_matches_concrete, deepest_field

from convplan import analyze, loads_spec
from convplan.cli.main import main
from convplan.explore.choices import apply_categorical, parse_varies
from convplan.explore.derive import stride_dependent_merges, symbolize, vary_symbols
from convplan.explore.sweep import Chunk, Sweep, SweepOptions

# Strided conv, bilinear upsampling, Concatenate with the skip, an even kernel after it.
BILINEAR_SKIP = """
name: bilinear_skip
inputs: {x: [32, 32, 3]}
layers:
  - {name: conv1, op: Conv2D, filters: 4, kernel_size: 3, padding: same}
  - {name: conv2, op: Conv2D, filters: 4, kernel_size: 3, strides: 2, padding: same}
  - {name: up, op: UpSampling2D, size: 2, interpolation: bilinear}
  - {name: cat, op: Concatenate, inputs: [up, conv1]}
  - {name: conv3, op: Conv2D, filters: 4, kernel_size: 2, padding: same}
"""

# The nearest-neighbour variant, with the stride on a pooling layer and an Add.
NEAREST_ADD = """
name: nearest_add
inputs: {x: [20, 20, 2]}
layers:
  - {name: sep, op: SeparableConv2D, filters: 2, kernel_size: 1}
  - {name: pool, op: MaxPooling2D, pool_size: 1, strides: 2, padding: same}
  - {name: up, op: UpSampling2D, size: 2}
  - {name: add, op: Add, inputs: [sep, up]}
  - {name: conv, op: Conv2D, filters: 2, kernel_size: 2}
"""


def sweep_rows(spec: str, varies: list[str], **options) -> tuple[Sweep, Chunk]:
    graph = loads_spec(spec)
    sweep = Sweep(graph, parse_varies(graph, varies), SweepOptions(**options))
    return sweep, Chunk.concat(list(sweep.chunks()))


@pytest.mark.parametrize("varies", [
    ["conv*.strides=1,2"],
    ["conv2.strides=1,2"],
    ["conv2.strides=1..3", "conv1.kernel_size=1..3"],
    ["conv2.strides=1,2", "conv3.kernel_size=1..4", "input.size=30..34"],
    ["conv*.strides=1,2", "conv*.kernel_size=2,3"],
])
def test_a_stride_before_a_bilinear_upsampling_and_a_concatenate(varies):
    sweep, rows = sweep_rows(BILINEAR_SKIP, varies)
    valid, _ = assert_matches_concrete(sweep, rows)
    assert valid  # some rows build (the stride 2 brings the paths back together)
    assert rows.columns["rf"].dtype.kind == "i"


def test_the_issue_case_reports_analyzes_field():
    """All strides 2: the deepest field is 15 pixels in analyze; the sweep said 13."""
    sweep, rows = sweep_rows(BILINEAR_SKIP, ["conv*.strides=1,2"])
    graph = loads_spec(BILINEAR_SKIP)
    assignment = {(name, "strides"): 2 for name in ("conv1", "conv2", "conv3")}
    expected = deepest_field(analyze(apply_categorical(graph, assignment)))
    assert rows.columns["valid"].tolist() == [False, True]
    assert rows.columns["rf"][1] == expected
    # the merge's paths meet at one stride only for some values: enumerated, not a formula
    assert [v.numeric for v in sweep.varies] == [False]


def test_merges_whose_strides_meet_for_some_values_are_found():
    graph = loads_spec(BILINEAR_SKIP)
    varies = parse_varies(graph, ["conv2.strides=1,2"])
    symbolic = symbolize(graph, varies, vary_symbols(varies))
    assert stride_dependent_merges(symbolic, analyze(symbolic)) == ["cat"]
    # a varied kernel before the upsampling leaves the strides alone: the formulas stay
    varies = parse_varies(graph, ["conv2.kernel_size=1,3"])
    symbolic = symbolize(graph, varies, vary_symbols(varies))
    assert stride_dependent_merges(symbolic, analyze(symbolic)) == []


@pytest.mark.parametrize("varies", [
    ["pool.strides=1,2,3", "input.size=5..9"],
    ["pool.pool_size=1,2", "sep.kernel_size=1,3"],
])
def test_a_pooling_stride_before_a_nearest_upsampling_and_an_add(varies):
    sweep, rows = sweep_rows(NEAREST_ADD, varies)
    valid, invalid = assert_matches_concrete(sweep, rows)
    assert valid


def test_a_reshape_that_does_not_divide_is_invalid():
    """v * (floor(12 / s) + 1) / 3 is positive but not always whole: it is checked."""
    spec = """
name: reshape
inputs: {x: [11, 4]}
layers:
  - {name: pad, op: ZeroPadding1D, padding: 1}
  - {name: conv, op: Conv1D, filters: 3, kernel_size: 4, padding: same}
  - {name: flat, op: Reshape, target_shape: [-1, 3]}
"""
    sweep, rows = sweep_rows(spec, ["conv.strides=1,2,3", "conv.filters=2,3"])
    assert_matches_concrete(sweep, rows)
    assert rows.columns["valid"].tolist() == [False, True, False, True, False, True]
    assert "output dimension 1 would be below 1 or a fraction" in " ".join(sweep.messages)


def test_unequal_depthwise_strides_need_a_dilation():
    """TF's depthwise kernel cannot run strides 1x2 at dilation 1 (ops.Depthwise)."""
    spec = """
name: depthwise
inputs: {x: [18, 16, 2]}
layers:
  - {name: sep, op: SeparableConv2D, filters: 3, kernel_size: 2, strides: [1, 2],
     dilation_rate: 2, padding: same}
  - {name: dw, op: DepthwiseConv2D, kernel_size: 3}
"""
    sweep, rows = sweep_rows(spec, ["sep.dilation_rate=1..3", "dw.strides=1,2,1x2,2x1"])
    assert_matches_concrete(sweep, rows)
    valid = rows.columns["valid"].reshape(3, 4).tolist()
    assert valid == [[False] * 4, [True, True, False, False], [True, True, False, False]]
    # an even kernel dilated under 'same' may read only padding on a short map, so the sweep
    # enumerates sep's dilations (receptive.reads_nothing): each invalid row gives the layer's
    # own refusal
    assert any("differ between rows and columns" in m for m in sweep.messages)


def run(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("varies", [("conv*.strides=1,2",), ("conv2.strides=1,2",),
                                    ("conv2.strides=2", "input.size=30..33")])
def test_rf_prints_as_an_integer_in_every_format(capsys, tmp_path, varies):
    spec = tmp_path / "bilinear_skip.yaml"
    spec.write_text(BILINEAR_SKIP)
    flags = [a for v in varies for a in ("--vary", v)]
    sweep, rows = sweep_rows(BILINEAR_SKIP, list(varies))
    expected = [int(v) for v, ok in zip(rows.columns["rf"], rows.columns["valid"]) if ok]
    table = run(capsys, "sweep", str(spec), *flags)
    lines = table.splitlines()
    header = lines[1].split()
    cells = [line.split() for line in lines[3:3 + len(expected)]]
    assert [c[header.index("RF")] for c in cells] == [str(v) for v in expected]
    assert ".0" not in " ".join(c[header.index("RF")] for c in cells)
    listed = list(csv.DictReader(io.StringIO(run(capsys, "sweep", str(spec), *flags,
                                                 "--format", "csv"))))
    assert [row["rf"] for row in listed] == [str(v) for v in expected]
    document = json.loads(run(capsys, "sweep", str(spec), *flags, "--format", "json"))
    values = [row["rf"] for row in document["rows"]]
    assert values == expected and all(type(v) is int for v in values)


def test_a_fractional_field_stays_exact_and_whole_fields_stay_ints(capsys, tmp_path):
    """Paths at strides 3/2 and 1 merge by an envelope, and a kernel of 2 after it gives
    analyze a field of 11/2 (receptive.union): the sweep says 5.5 there, and 7 (not 7.0)
    beside it, in every format."""
    spec = """
name: envelope
inputs: {x: [12, 2]}
layers:
  - {name: down, op: Conv1D, filters: 2, kernel_size: 3, strides: 3}
  - {name: up, op: UpSampling1D, size: 2}
  - {name: pad, op: ZeroPadding1D, padding: 2}
  - {name: cat, op: Concatenate, inputs: [pad, x]}
  - {name: conv, op: Conv1D, filters: 2, kernel_size: 2}
"""
    sweep, rows = sweep_rows(spec, ["conv.kernel_size=2,3"])
    assert_matches_concrete(sweep, rows)
    assert rows.columns["rf"].tolist() == [5.5, 7]
    path = tmp_path / "envelope.yaml"
    path.write_text(spec)
    flags = ["sweep", str(path), "--vary", "conv.kernel_size=2,3"]
    listed = list(csv.DictReader(io.StringIO(run(capsys, *flags, "--format", "csv"))))
    assert [row["rf"] for row in listed] == ["5.5", "7"]
    document = json.loads(run(capsys, *flags, "--format", "json"))
    assert [row["rf"] for row in document["rows"]] == [5.5, 7]
    assert type(document["rows"][1]["rf"]) is int


@pytest.mark.tf
def test_the_issue_case_against_tensorflow_gradients():
    """The sweep's row equals analyze's deepest field, and analyze's fields equal what
    TensorFlow's gradients see (tests/analysis/test_receptive_field_tf.py's measurement)."""
    from test_receptive_field_tf import measure_and_compare, smallest_fitting

    graph = loads_spec(BILINEAR_SKIP)
    assignment = {(name, "strides"): 2 for name in ("conv1", "conv2", "conv3")}
    concrete = apply_categorical(graph, assignment)
    n, analysis = smallest_fitting(concrete, 2)
    assert n is not None
    assert measure_and_compare(concrete, 2, n, analysis) > 0
    sweep, rows = sweep_rows(BILINEAR_SKIP, ["conv*.strides=1,2"], input_size=(n, n))
    assert rows.columns["valid"].tolist() == [False, True]
    assert rows.columns["rf"][1] == deepest_field(analysis)
