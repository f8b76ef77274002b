"""The diagram layout and the scaling sweep: a layered DAG layout with merges below their
branches, and MACs/memory evaluated from the formulas equal to exact analyses at each size."""

from __future__ import annotations

import pytest
from cli_run import EXAMPLES

import convplan
from convplan.analysis import analyze
from convplan.errors import ShapeError, UsageError
from convplan.report.layout import compute_depths, layer_dag, layered_layout, long_edges
from convplan.report.scaling import reference_sizes, sweep_input_size

RESIDUAL = [("x", ()), ("stem", ("x",)), ("a1", ("stem",)), ("a2", ("a1",)),
            ("add", ("stem", "a2")), ("b1", ("add",)), ("b3", ("add",)), ("bp", ("add",)),
            ("cat", ("b1", "b3", "bp")), ("head", ("cat",))]


def test_a_chain_is_a_straight_column():
    chain = [("x", ()), ("a", ("x",)), ("b", ("a",)), ("c", ("b",))]
    places = layered_layout(chain)
    assert [places[n].depth for n, _ in chain] == [0, 1, 2, 3]
    assert {places[n].x for n, _ in chain} == {0.0}


def test_depth_is_the_longest_path_so_merges_sit_below_every_branch():
    depths = compute_depths(layer_dag(RESIDUAL))
    assert depths["add"] == 4  # x -> stem -> a1 -> a2 -> add, not 2 through the skip
    assert depths["cat"] == depths["add"] + 2
    places = layered_layout(RESIDUAL)
    for name, inputs in RESIDUAL:
        assert all(places[i].depth < places[name].depth for i in inputs)


def test_rows_are_unit_spaced_and_centred_on_their_inputs():
    places = layered_layout(RESIDUAL)
    row = sorted(places[n].x for n in ("b1", "b3", "bp"))
    assert row == pytest.approx([row[0], row[0] + 1, row[0] + 2])
    assert sum(row) / 3 == pytest.approx(places["add"].x)
    assert places["cat"].x == pytest.approx(places["b3"].x)


def test_skip_connections_are_bent_around_the_boxes_they_pass():
    places = layered_layout(RESIDUAL)
    edges = [(i, n) for n, inputs in RESIDUAL for i in inputs]
    assert long_edges(places, edges) == {("stem", "add")}


def sweep_for(spec: str, size: int, tmp_path, batch: int = 2):
    path = tmp_path / "net.yaml"
    path.write_text(spec)
    graph = convplan.load(path)
    concrete, symbolic = analyze(graph, input_size=(size, size)), analyze(graph, generalize=True)
    sweep = sweep_input_size(symbolic, reference_sizes(concrete, symbolic), batch=batch,
                             dtype="float16", optimizer="momentum")
    return graph, sweep


VALID_PADDING = """\
name: shrinking
inputs: {image: [32, 32, 3]}
layers:
  - {name: c1, op: Conv2D, filters: 8, kernel_size: 5}
  - {name: p1, op: MaxPooling2D, pool_size: 2}
  - {name: c2, op: Conv2D, filters: 16, kernel_size: 3, strides: 2}
  - {name: flat, op: Flatten}
  - {name: out, op: Dense, units: 10}
"""
UNET = """\
name: unet
inputs: {image: [32, 32, 1]}
layers:
  - {name: c1, op: Conv2D, filters: 4, kernel_size: 3, padding: same}
  - {name: p1, op: MaxPooling2D, pool_size: 2}
  - {name: c2, op: Conv2D, filters: 4, kernel_size: 3, padding: same}
  - {name: u1, op: UpSampling2D, size: 2}
  - {name: cat, op: Concatenate, inputs: [c1, u1]}
"""


@pytest.mark.parametrize("spec", [VALID_PADDING, UNET])
def test_the_sweep_is_exact_and_keeps_only_sizes_tensorflow_would_build(spec, tmp_path):
    graph, sweep = sweep_for(spec, 20, tmp_path)
    assert sweep.reference == 20 and 20 in sweep.sizes
    # 4 x 20 = 80 <= 96 points: every integer size from 1 to 80 was tried
    for size in range(1, 81):
        try:
            concrete = analyze(graph, input_size=(size, size))
        except ShapeError:
            concrete = None
        if concrete is not None and concrete.conditions:
            concrete = None  # a merge whose inputs disagree at this size
        assert (size in sweep.sizes) == (concrete is not None), size
        if concrete is not None:
            i = sweep.sizes.index(size)
            memory = concrete.training_memory(2, "float16", "momentum").total
            assert (sweep.macs[i], sweep.memory[i]) == (2 * concrete.totals.macs, memory)


def test_the_sweep_of_resnet50_matches_exact_analyses(tmp_path):
    graph = convplan.load(EXAMPLES / "resnet50.yaml")
    concrete, symbolic = analyze(graph, input_size=(64, 64)), analyze(graph, generalize=True)
    sweep = sweep_input_size(symbolic, reference_sizes(concrete, symbolic))
    for size in (sweep.sizes[0], 64, 97, sweep.sizes[-1]):
        if size in sweep.sizes:
            exact = analyze(graph, input_size=(size, size))
            assert sweep.macs[sweep.sizes.index(size)] == exact.totals.macs


def test_a_symbolic_input_without_a_size_asks_for_one(tmp_path):
    path = tmp_path / "fcn.yaml"
    path.write_text("name: fcn\ninputs: {image: [H, W, 3]}\nlayers:\n"
                    "  - {name: c1, op: Conv2D, filters: 8, kernel_size: 3}\n")
    graph = convplan.load(path)
    with pytest.raises(UsageError, match="`input_size` 224x224"):
        reference_sizes(analyze(graph), analyze(graph, generalize=True))
