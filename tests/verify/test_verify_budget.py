"""verify's receptive-field budget, without TensorFlow: the cost decision, the sample of input
positions, and the comparison on a sample, which must never invent a mismatch on a right plan
nor hide one that the full measurement finds.

The measured fields here are computed from a window geometry drawn by hypothesis (size k,
dilation d, stride s, start t: output p sees t + p * s + j * d for j < m), exactly as the
surrogate measurement reports them: the first and last *probed* input pixel each output sees.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
from cli_run import ROOT, clean_env
from hypothesis import given, settings
from hypothesis import strategies as st

from convplan.analysis.receptive import AxisField
from convplan.errors import UsageError
from convplan.verify.budget import (
    FieldBudget,
    blocks,
    parse_field_budget,
    phase_width,
    plan_measurement,
    probe_order,
    sample_axis,
)
from convplan.verify.compare import EVERYWHERE, compare_axis


@pytest.mark.parametrize("text,expected", [
    (None, FieldBudget()),
    ("512MiB", FieldBudget(512 * 2**20, FieldBudget().seconds)),
    ("30s", FieldBudget(FieldBudget().memory, 30.0)),
    ("1GiB, 2.5s", FieldBudget(2**30, 2.5)),
    ("0s", FieldBudget(FieldBudget().memory, 0.0)),
    ("4e9B", FieldBudget(4_000_000_000, FieldBudget().seconds)),
])
def test_field_budget_spellings(text, expected):
    assert parse_field_budget(text) == expected


@pytest.mark.parametrize("text", ["", "2G", "fast", "-1GiB", "0B", "2GiB,", "1m"])
def test_a_bad_field_budget_names_the_parameter(text):
    with pytest.raises(UsageError, match="`field_budget`"):
        parse_field_budget(text)


@given(n=st.integers(1, 3000), count=st.integers(0, 3000), width=st.integers(1, 80))
def test_a_sample_holds_both_ends_and_the_middle_block(n, count, width):
    sample = sample_axis(n, count, width)
    assert list(sample) == sorted(set(sample)) and all(0 <= i < n for i in sample)
    if count >= n:
        assert sample == tuple(range(n))
        return
    w = min(width, n)
    middle = (n - w) // 2
    assert {*range(w), *range(n - w, n), *range(middle, middle + w)} <= set(sample)
    assert len(sample) <= max(count, 3 * w)


def test_the_decision_skips_samples_or_measures_all():
    spatial, widths = [100, 100], [4, 4]
    full = plan_measurement(spatial, 10_000, 1e6, widths, FieldBudget())
    assert full.positions == (tuple(range(100)), tuple(range(100))) and not full.sampled
    assert plan_measurement(spatial, 10**9, 1e6, widths, FieldBudget()).positions is None
    slow = plan_measurement(spatial, 10_000, 1e9, widths, FieldBudget(seconds=20))
    assert slow.sampled and slow.passes <= 100 and "sampled" in slow.note
    assert plan_measurement(spatial, 10_000, 1e9, widths, FieldBudget(seconds=0)).positions \
        is None
    # chunks fit the memory budget: 10,000 activations + the input, float64, twice
    per_position = (10_000 + 10_000) * 8 * 2
    assert plan_measurement(spatial, 10_000, 1e6, widths,
                            FieldBudget(memory=5 * per_position)).chunk == 5


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 300), st.integers(0, 300), st.integers(1, 40)),
                min_size=1, max_size=3))
def test_the_probe_order_runs_every_axis_blocks_first(axes):
    """A measurement stopped at its time budget has probed, first, the blocks of every axis
    (the sample that covers every phase), and every planned probe comes exactly once."""
    spatial = [n for n, _, _ in axes]
    widths = [w for _, _, w in axes]
    positions = [sample_axis(n, count, w) for n, count, w in axes]
    order = probe_order(positions, spatial, widths)
    assert sorted(order) == sorted((a, i) for a, p in enumerate(positions) for i in p)
    head = sum(len(blocks(n, w)) for n, w in zip(spatial, widths))
    assert set(order[:head]) == {(a, i) for a, (n, w) in enumerate(zip(spatial, widths))
                                 for i in blocks(n, w)}
    for axis in range(len(positions)):  # the rest spread: no long run of neighbours
        rest = [i for a, i in order[head:] if a == axis]
        if len(rest) >= 8:
            assert max(rest[:len(rest) // 2]) - min(rest[:len(rest) // 2]) \
                >= (max(rest) - min(rest)) // 2


def windows(n: int, k: int, d: int, s: int, t: int) -> list[list[int]]:
    """Input pixels each output sees, for outputs whose window starts inside the input's
    reach (as a 'same' or 'valid' window walks it)."""
    outputs = max(1, (n - 1 - t) // s + 1)
    return [[i for i in (t + p * s + j * d for j in range(k)) if 0 <= i < n]
            for p in range(outputs)]


def measured(seen: list[list[int]], probed) -> list:
    hits = [[i for i in pixels if i in probed] for pixels in seen]
    return [(h[0], h[-1]) if h else None for h in hits]


geometry = st.tuples(st.integers(8, 160), st.integers(1, 9), st.integers(1, 3),
                     st.integers(1, 4), st.integers(-8, 0), st.integers(0, 160))


@settings(max_examples=300, deadline=None)
@given(geometry)
def test_a_sample_never_invents_a_mismatch(case):
    n, k, d, s, t, count = case
    plan = AxisField((k - 1) * d + 1, s, t)
    probed = frozenset(sample_axis(n, count, phase_width([(plan,)], 0)))
    seen = windows(n, k, d, s, t)
    assert compare_axis(plan, measured(seen, EVERYWHERE), n, True) == (True, "")
    assert compare_axis(plan, measured(seen, probed), n, True, probed) == (True, "")


@settings(max_examples=300, deadline=None)
@given(geometry, st.sampled_from(["size+", "size-", "start+", "start-", "stride+"]))
def test_a_sample_finds_what_the_full_measurement_finds(case, error):
    """A wrong plan caught by the full measurement is caught on the sample too (the sample
    holds a block of consecutive positions covering a period clear of the borders)."""
    n, k, d, s, t, count = case
    size = (k - 1) * d + 1
    wrong = {"size+": AxisField(size + 1, s, t), "size-": AxisField(max(1, size - 1), s, t),
             "start+": AxisField(size, s, t + 1), "start-": AxisField(size, s, t - 1),
             "stride+": AxisField(size, s + 1, t)}[error]
    seen = windows(n, k, d, s, t)
    if compare_axis(wrong, measured(seen, EVERYWHERE), n, True)[0]:
        return  # nothing to find at this size: the borders cut every field
    probed = frozenset(sample_axis(n, count, phase_width([(wrong,)], 0)))
    assert not compare_axis(wrong, measured(seen, probed), n, True, probed)[0]


# -- arguments are checked before TensorFlow is imported -------------------------------------

SEQUENTIAL = """{"class_name": "Sequential", "config": {"name": "tiny", "layers": [
 {"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [null, 12, 12, 3]}},
 {"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": [3, 3]}}]}}"""

FREE = """{"class_name": "Functional", "config": {"name": "free", "layers": [
 {"class_name": "InputLayer", "name": "x", "config": {"name": "x", "batch_shape": [null, null,
  null, 3]}, "inbound_nodes": []},
 {"class_name": "Conv2D", "name": "c", "config": {"name": "c", "filters": 2,
  "kernel_size": [3, 3]}, "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
  "config": {"shape": [null, null, null, 3], "dtype": "float32",
  "keras_history": ["x", 0, 0]}}], "kwargs": {}}]}],
 "input_layers": [["x", 0, 0]], "output_layers": [["c", 0, 0]]}}"""

PROBE = """
import json, sys
from convplan.cli.main import main
code = main(json.loads(sys.argv[1]))
print(json.dumps({"code": code, "tensorflow": "tensorflow" in sys.modules,
                  "keras": "keras" in sys.modules}))
"""


def _without_tensorflow(argv: list[str]):
    result = subprocess.run([sys.executable, "-c", PROBE, __import__("json").dumps(argv)],
                            capture_output=True, text=True, cwd=ROOT, env=clean_env(),
                            timeout=60)
    return __import__("json").loads(result.stdout.splitlines()[-1]), result.stderr


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "tiny.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", SEQUENTIAL)
        archive.writestr("metadata.json", '{"keras_version": "3.15.0"}')
    return path


@pytest.fixture
def free(tmp_path):
    path = tmp_path / "free.json"
    path.write_text(FREE)
    return path


@pytest.mark.parametrize("model,extra,fragment", [
    ("saved", ["--input-size", "32x32"], "--input-size applies to specs and to saved models "
     "with free input sizes; this one keeps its own (12x12x3), received 32x32"),
    ("saved", ["--input-size", "12x12x12"], "this one keeps its own (12x12x3)"),
    ("saved", ["--field-budget", "lots"], "--field-budget takes a memory size and a time"),
    ("saved", ["--input-size", "0x4"], "--input-size"),
    ("free", ["--input-size", "8x8x8"], "--input-size 8x8x8 has 3 spatial dimensions, but no "
     "input of this network has that many"),
    ("free", [], "verify needs concrete sizes"),
    ("free", ["--input-size", "2x2"], "layer 'c' (Conv2D)"),
    ("text", [], "the spec must be a mapping"),
])
def test_bad_arguments_fail_before_tensorflow(request, tmp_path, model, extra, fragment):
    if model == "text":
        path = tmp_path / "text.txt"
        path.write_text("not a model\n")
    else:
        path = request.getfixturevalue(model)
    report, stderr = _without_tensorflow(["verify", str(path), *extra])
    assert report == {"code": 2, "tensorflow": False, "keras": False}
    assert fragment in stderr and len(stderr.strip().splitlines()) == 1


def test_a_spec_with_free_sizes_fails_before_tensorflow(tmp_path):
    spec = tmp_path / "sym.yaml"
    spec.write_text("name: sym\ninputs: {x: [H, W, 3]}\nlayers:\n"
                    "  - {name: c, op: Conv2D, filters: 2, kernel_size: 3}\n")
    report, stderr = _without_tensorflow(["verify", str(spec)])
    assert report == {"code": 2, "tensorflow": False, "keras": False}
    assert "--input-size" in stderr
    report, stderr = _without_tensorflow(["verify", str(spec), "--input-size", "1x2x3x4"])
    assert report["code"] == 2 and not report["tensorflow"]
