"""Sweep values equal plain concrete analyze() at sampled combinations; invalid combinations
are exactly those a concrete analysis (or op construction) rejects."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import EXAMPLES
from test_solve_sizes import BROADCAST

from convplan import analyze, load, loads_spec
from convplan.errors import ConvplanError, UsageError
from convplan.explore.choices import apply_categorical, parse_values, parse_varies
from convplan.explore.run import run_sweep
from convplan.explore.sweep import Chunk, Sweep, SweepOptions
from convplan.explore.where import parse_where

MIXED = """
name: mixed
inputs: {x: [40, 40, 6]}
layers:
  - {name: c1, op: Conv2D, filters: 12, kernel_size: 3, groups: 3}
  - {name: dw, op: DepthwiseConv2D, kernel_size: 3, strides: 2, padding: same}
  - {name: sep, op: SeparableConv2D, filters: 16, kernel_size: 3, padding: same}
  - {name: skip, op: Conv2D, filters: 16, kernel_size: 1, strides: 2, inputs: [c1]}
  - {name: add, op: Add, inputs: [sep, skip]}
  - {name: bn, op: BatchNormalization}
  - {name: pool, op: AveragePooling2D, pool_size: 2, padding: same}
  - {name: up, op: UpSampling2D, size: 2}
  - {name: crop, op: Cropping2D, cropping: 1}
  - {name: gap, op: GlobalAveragePooling2D}
  - {name: fc, op: Dense, units: 10}
"""

SEQUENCE = """
name: tcn
inputs: {s: [64, 4]}
layers:
  - {name: c1, op: Conv1D, filters: 8, kernel_size: 3, padding: causal, dilation_rate: 2}
  - {name: p1, op: MaxPooling1D, pool_size: 2}
  - {name: c2, op: Conv1D, filters: 8, kernel_size: 5, padding: valid}
  - {name: flat, op: Flatten}
  - {name: out, op: Dense, units: 3}
"""


def sample_rows(sweep: Sweep, per_chunk: int, seed: int = 0) -> Chunk:
    rng = np.random.default_rng(seed)
    parts = [c.take(rng.choice(len(c), min(per_chunk, len(c)), replace=False))
             for c in sweep.chunks()]
    return Chunk.concat(parts)


def deepest_field(result) -> int:
    """The sweep's rf: the largest field among the deepest layers with one (no layer with a
    field reads them), the smallest over the axes. Not simply the largest of all: a merge
    leaves out an input it broadcasts, so a field can shrink after a merge."""
    with_field = {r.name for r in result.layers if r.receptive_field}
    read = {i for r in result.layers if r.name in with_field for i in r.inputs}
    deepest = [r.receptive_field for r in result.layers if r.name in with_field
               and r.op != "InputLayer" and (r.name not in read or r.name in result.outputs)]
    if not deepest:  # no layer past the input has a field (a window that reads only padding)
        return 0
    return min(max(f[a].size for f in deepest) for a in range(len(deepest[0])))


def assert_matches_concrete(sweep: Sweep, rows: Chunk) -> tuple[int, int]:
    """Every sampled row against a concrete analysis of the same combination."""
    o = sweep.options
    counts = [0, 0]
    for j in range(len(rows)):
        index = int(rows.columns["index"][j])
        assignment, size = sweep.combination(index)
        try:
            result = analyze(apply_categorical(sweep.graph, assignment), input_size=size)
        except ConvplanError as exc:
            assert not rows.columns["valid"][j], (assignment, size, str(exc))
            counts[1] += 1
            continue
        message = sweep.messages[rows.columns["error"][j]]
        assert rows.columns["valid"][j], (assignment, size, message)
        counts[0] += 1
        totals = result.totals
        for name in ("params", "trainable_params", "macs", "flops", "activations"):
            assert rows.columns[name][j] == getattr(totals, name), (name, assignment, size)
        memory = result.training_memory(o.batch, o.dtype, o.optimizer).total
        assert rows.columns["memory"][j] == memory
        if sweep.has_rf:
            # a fractional field (an envelope, receptive.union) is a float in the sweep and a
            # sympy Rational in analyze: compare them as numbers (exact below 2^53)
            assert float(rows.columns["rf"][j]) == float(deepest_field(result)), (assignment,
                                                                                   size)
        for k, shape in enumerate(result.output_shapes):
            assert tuple(rows.columns[f"output:{k}"][j].tolist()) == shape
    return counts[0], counts[1]


def test_a_swept_count_a_rule_needs_known_is_derived_value_by_value():
    """GroupNormalization(groups=-1) needs its channel count known; with the filters before it
    swept, the symbolic derivation refuses (the count is a symbol), so the sweep derives each
    value on its own instead of calling every row invalid (a hypothesis draw found it)."""
    graph = loads_spec("""
inputs: {x: [5, 5, 1]}
layers:
  - {name: conv, op: Conv2D, inputs: [x], filters: 1, kernel_size: 1, padding: same}
  - {name: add, op: Add, inputs: [x, conv]}
  - {name: norm, op: GroupNormalization, inputs: [add], groups: -1}
  - {name: out, op: Add, inputs: [add, norm]}
""")
    sweep = Sweep(graph, parse_varies(graph, ["conv.filters=1..4", "input.size=4..6"]))
    rows = Chunk.concat(list(sweep.chunks()))
    assert rows.columns["valid"].all()
    assert not sweep.varies[0].numeric and sweep.varies[1].numeric  # filters enumerated
    assert assert_matches_concrete(sweep, rows) == (len(rows), 0)


def test_a_center_crop_larger_than_a_swept_input_is_a_resize_in_its_rows():
    """Keras resizes where the input is smaller than CenterCrop's target (7 FLOPs per output
    element) and crops elsewhere; the sweep's rows are analyze's at each size (a hypothesis
    draw found a crop's 0 FLOPs at sizes below the target)."""
    graph = loads_spec("""
inputs: {x: [8, 8, 2]}
layers:
  - {name: conv, op: Conv2D, inputs: [x], filters: 2, kernel_size: 1}
  - {name: crop, op: CenterCrop, inputs: [conv], height: 3, width: 5}
""")
    sweep = Sweep(graph, parse_varies(graph, ["input.size=2..7", "conv.filters=1..3"]))
    rows = Chunk.concat(list(sweep.chunks()))
    assert assert_matches_concrete(sweep, rows) == (len(rows), 0)
    flops = dict(zip(zip(rows.columns["vary:0"].tolist(), rows.columns["vary:1"].tolist()),
                     rows.columns["flops"].tolist()))
    # 2x2 input, 1 filter: the 1x1 conv (2 x 8 MACs + 4 biases) and the resize to 3x5x1
    assert flops[(0, 0)] == 2 * (2 * 2 * 2 * 1) + 2 * 2 * 1 + 7 * 3 * 5 * 1
    assert flops[(5, 0)] == 2 * (7 * 7 * 2 * 1) + 7 * 7 * 1  # 7x7: cropped, 0 FLOPs


def test_seed_cnn_sweep_matches_concrete_analysis():
    graph = load(EXAMPLES / "seed_cnn.yaml")
    varies = parse_varies(graph, [
        "conv1.strides=1..3", "conv*.dilation_rate=1..3", "conv1.kernel_size=1..7",
        "conv2.filters=8..64:8", "pool*.pool_size=1..3", "input.size=5..61:4",
        "conv*.padding=valid,same", "dense1.units=16,128"])
    sweep = Sweep(graph, varies, SweepOptions(batch=8, dtype="mixed_float16", optimizer="sgd"))
    valid, invalid = assert_matches_concrete(sweep, sample_rows(sweep, 80))
    assert valid > 40 and invalid > 20  # both kinds were really exercised


def test_mixed_ops_sweep_matches_concrete_analysis():
    graph = loads_spec(MIXED)
    varies = parse_varies(graph, [
        "c1.filters=6,8,9,12", "c1.kernel_size=1..5", "dw.strides=1..3", "dw.dilation_rate=1,2",
        "dw.depth_multiplier=1,2", "skip.strides=1..3", "sep.kernel_size=1,3",
        "pool.pool_size=1..3", "fc.units=4,10", "input.size=8..40:8,24x40",
        "dw.padding=valid,same", "c1.padding=valid,same"])
    sweep = Sweep(graph, varies, SweepOptions(chunk_size=4096))
    valid, invalid = assert_matches_concrete(sweep, sample_rows(sweep, 12, seed=3))
    assert valid > 30 and invalid > 30
    reasons = " ".join(sweep.messages)
    assert "filters must be divisible by groups 3" in reasons
    assert "inputs differ on axis" in reasons


def test_conv1d_causal_and_per_axis_values():
    graph = loads_spec(SEQUENCE)
    varies = parse_varies(graph, ["c1.dilation_rate=1..4", "c1.kernel_size=1..6",
                                  "c2.strides=1..3", "p1.strides=1,2", "input.size=2..64:6",
                                  "c*.padding=valid,same,causal"])
    sweep = Sweep(graph, varies)
    # causal is Conv1D-only and valid here: every categorical setting derives
    valid, invalid = assert_matches_concrete(sweep, sample_rows(sweep, 60, seed=5))
    assert valid > 50 and invalid > 10
    mixed = loads_spec(MIXED)
    per_axis = Sweep(mixed, parse_varies(mixed, ["c1.kernel_size=1x3,3x1,3x5",
                                                 "input.size=16x24,24x16"]))
    assert_matches_concrete(per_axis, sample_rows(per_axis, 100))


def test_transposed_strides_are_enumerated_and_exact():
    graph = load(EXAMPLES / "unet_4level.yaml")
    varies = parse_varies(graph, ["up*.strides=1,2", "enc1_a.kernel_size=1,3,5",
                                  "input.size=16..64:8"])
    assert [v.numeric for v in varies] == [False, True, True]
    sweep = Sweep(graph, varies)
    assert sweep.categorical_count == 2  # the kernel size stays a formula through the fields
    valid, invalid = assert_matches_concrete(sweep, sample_rows(sweep, 40))
    assert valid and invalid


def test_geometry_before_resampling_is_fast_and_exact():
    """A symbolic kernel upstream of transposed convolutions once made every later field a
    nest of sympy Max/Min (minutes per derivation). Fields after resampling are start + whole
    numbers, compared as numbers; where paths with different symbolic starts merge, the kernel
    is enumerated (NeedsConcreteValue) and the channel counts stay formulas."""
    import time

    graph = load(EXAMPLES / "unet_small.yaml")
    varies = parse_varies(graph, ["up4.kernel_size=2,4", "enc1_a.filters=8..64:8",
                                  "enc2_a.kernel_size=1..7:2", "input.size=32..256:32"])
    started = time.process_time()
    sweep = Sweep(graph, varies)
    rows = Chunk.concat(list(sweep.chunks()))
    assert time.process_time() - started < 60  # a bound on a hang, not a benchmark
    assert sweep.derivations <= 2 * 4 and sweep.numeric_count >= 8 * 8
    valid, _ = assert_matches_concrete(sweep, sample_rows(sweep, 6, seed=1))
    assert valid and rows.columns["valid"].any()


SIZE_DEPENDENT = """
name: parity
inputs: {x: [40, 6]}
layers:
  - {name: up, op: UpSampling1D, size: 3}
  - {name: c, op: Conv1D, filters: 4, kernel_size: 3, strides: 2, padding: same}
  - {name: d, op: Conv1D, filters: 4, kernel_size: 3}
"""


def test_fields_that_depend_on_the_size_modulo_the_strides():
    """After an upsampling by 3, a stride-2 'same' window pads 0 or 1 by the parity of the
    size: the field has no formula (analysis.size_dependent_fields), and the sweep's rf comes
    from concrete analyses, equal to them (the last layer's field, not an earlier one's)."""
    graph = loads_spec(SIZE_DEPENDENT)
    general = analyze(graph, generalize=True)
    assert general.size_dependent_fields == ("c", "d")
    assert general.layer("d").receptive_field is None
    sweep = Sweep(graph, parse_varies(graph, ["input.size=10..17", "c.filters=2,4"]))
    rows = Chunk.concat(list(sweep.chunks()))
    assert set(rows.columns["rf"].tolist()) == {3}
    assert_matches_concrete(sweep, rows)


def test_results_do_not_depend_on_the_chunk_size():
    graph = load(EXAMPLES / "seed_cnn.yaml")
    texts = ["conv1.strides=1..4", "conv1.dilation_rate=1..3", "input.size=4..40:3",
             "conv*.padding=valid,same"]
    whole = Chunk.concat(list(Sweep(graph, parse_varies(graph, texts)).chunks()))
    small = Chunk.concat(list(Sweep(graph, parse_varies(graph, texts),
                                    SweepOptions(chunk_size=7)).chunks()))
    assert len(whole) == 4 * 3 * 13 * 2
    for key in whole.columns:
        assert np.array_equal(whole.columns[key], small.columns[key]), key
    assert np.array_equal(whole.columns["index"], np.arange(len(whole)))


def test_a_large_sweep_streams_in_bounded_memory():
    import tracemalloc

    graph = load(EXAMPLES / "seed_cnn.yaml")
    varies = parse_varies(graph, ["conv1.filters=1..100", "conv2.filters=1..100",
                                  "input.size=8..57", "conv1.strides=1,2"])
    sweep = Sweep(graph, varies, SweepOptions(chunk_size=8192))
    assert sweep.total == 1_000_000
    seen = []
    tracemalloc.start()
    try:
        result = run_sweep(sweep, sink=lambda chunk: seen.append(len(chunk)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(seen) == result.valid == 1_000_000
    assert peak < 40 * 2**20, peak  # all rows at once would be far more than 200 MiB


@pytest.mark.parametrize("text, expected", [
    ("1..4", (1, 2, 3, 4)), ("16..64:16", (16, 32, 48, 64)), ("1,3..5,9", (1, 3, 4, 5, 9)),
    ("3x3,1x7", ((3, 3), (1, 7))), ("valid,same", ("valid", "same")),
    ("true,false", (True, False)),
])
def test_value_lists(text, expected):
    assert parse_values(text, "x.y") == expected


@pytest.mark.parametrize("vary, message", [
    ("conv9.strides=1,2", "no layer matches 'conv9'"),
    ("conv1.stride=1,2", "did you mean strides"),
    ("conv1.strides=4..1", "must go up"),
    ("conv1.strides=0,1", "values must be >= 1"),
    ("conv1.filters=3x3", "takes one integer"),
    ("conv1.strides=1,1", "listed twice"),
    ("conv1.strides", "LAYER.ATTRIBUTE=V1,V2"),
    ("conv1.strides=1x2x3", "has 2 spatial axes"),
    ("input.size=28x28x3", "has 3 axes"),
])
def test_bad_varies_are_usage_errors(vary, message):
    graph = load(EXAMPLES / "seed_cnn.yaml")
    with pytest.raises(UsageError, match=message):
        parse_varies(graph, [vary])


def test_symbolic_input_size_needs_a_value():
    graph = loads_spec(SEQUENCE.replace("[64, 4]", "[L, 4]"))
    with pytest.raises(UsageError, match="give `input_size`"):
        Sweep(graph, parse_varies(graph, ["c1.kernel_size=1,3"]))
    sized = Sweep(graph, parse_varies(graph, ["c1.kernel_size=1,3"]),
                  SweepOptions(input_size=(32,)))
    assert sized.total == 2


def test_two_varies_of_one_attribute_conflict():
    graph = load(EXAMPLES / "seed_cnn.yaml")
    with pytest.raises(UsageError, match="both set strides of layer 'conv1'"):
        parse_varies(graph, ["conv1.strides=1,2", "conv*.strides=1,3"])




def test_symbolic_add_broadcasting_a_one_matches_concrete():
    """Regression: where an Add's inputs agree only for some sizes, the symbolic output is the
    larger input dim (Keras broadcasts a 1), not the first input's: at H = 8, `a` is 1 x 1
    and `b` 4 x 4, so `add` is 4 x 4 and `c` 2 x 2."""
    graph = loads_spec(BROADCAST)
    symbolic = analyze(graph)
    for size in (6, 8):
        concrete = analyze(graph, input_size=(size, size))
        assert concrete.layer("add").output_shape == (size // 2, size // 2, 4)
        at = symbolic.at({"H": size, "W": size})
        assert at.layer("c").output_shape == concrete.layer("c").output_shape
        assert at.totals == concrete.totals


def test_attributes_a_rule_needs_as_integers_are_enumerated_instead(monkeypatch):
    """If an analysis rule cannot take a symbol (NeedsConcreteValue deep in the rule), the
    sweep enumerates those choices, one derivation each, and the values stay exact."""
    from convplan.analysis import receptive

    padding_before = receptive.padding_before

    def integers_only(n, k, s, d, padding):
        if not isinstance(s, int):
            raise receptive.NeedsConcreteValue("strides as a number")
        return padding_before(n, k, s, d, padding)

    monkeypatch.setattr(receptive, "padding_before", integers_only)
    graph = load(EXAMPLES / "seed_cnn.yaml")
    sweep = Sweep(graph, parse_varies(graph, ["conv1.strides=1..3", "input.size=3..30:3"]))
    assert [v.numeric for v in sweep.varies] == [False, True]
    assert sweep.categorical_count == 3 and sweep.total == 30
    assert_matches_concrete(sweep, Chunk.concat(list(sweep.chunks())))


def test_symbolize_builds_new_ops_and_leaves_the_graph_alone():
    from convplan.explore.derive import symbolize, vary_symbols

    graph = load(EXAMPLES / "seed_cnn.yaml")
    varies = parse_varies(graph, ["conv1.strides=1,2"])
    symbolic = symbolize(graph, varies, vary_symbols(varies))
    s = vary_symbols(varies)[0][0]
    assert symbolic["conv1"].op.strides == (s, s) and graph["conv1"].op.strides == (1, 1)
    assert symbolic["conv1"].op.kernel_size == graph["conv1"].op.kernel_size
    with pytest.raises(ValueError, match="cannot take symbols for padding"):
        graph["conv1"].op.with_symbols(padding=s)


@pytest.mark.parametrize("call, parameter, flag", [
    (lambda g: parse_varies(g, ["conv9.strides=1,2"]), "`vary` conv9.strides:",
     "--vary conv9.strides:"),
    (lambda g: Sweep(g, ()), "`vary`", "--vary"),
    (lambda g: parse_where(Sweep(g, parse_varies(g, ["conv1.strides=1,2"])), ["rf 64"]),
     "`where` must look like", "--where must look like"),
])
def test_messages_name_parameters_and_the_cli_names_flags(call, parameter, flag):
    from convplan.cli.main import PARAMETER_FLAGS
    from convplan.errors import cli_message

    with pytest.raises(UsageError) as caught:
        call(load(EXAMPLES / "seed_cnn.yaml"))
    assert parameter in str(caught.value) and "--" not in str(caught.value)
    assert flag in cli_message(str(caught.value), PARAMETER_FLAGS)
