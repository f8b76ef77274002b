"""Every formula, evaluated at a concrete size, equals the concrete analysis at that size.

Random small sequential and DAG networks (1D, 2D and 3D, tests/strategies.py) are built;
`analyze(graph, generalize=True)` gives formulas in the spatial symbols (L / H, W / D, H, W), and
`.at(sizes)` evaluates them exactly. For many sizes that must equal `analyze(graph,
input_size=sizes)`: every layer's shape, params, MACs, FLOPs, activations and receptive field,
and the totals. Where the concrete analysis rejects a size, the formulas must predict it (an
output dimension <= 0 or a merge condition that fails there). No TensorFlow needed.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import network_specs, spatial_rank

from convplan import NetworkBuilder, analyze
from convplan.analysis import arith
from convplan.analysis.analyze import SPATIAL_NAMES
from convplan.errors import ShapeError, UnsupportedError
from convplan.frontends.spec import build_graph
from convplan.ir import ops as O


@st.composite
def networks(draw):
    """A random network of tests/strategies.py (one input, every layer valid on its own)."""
    spec = draw(network_specs(invalid=False, inputs=1))
    return build_graph(spec), spatial_rank(spec)


def evaluate(value, sizes: dict[str, int]):
    return arith.substitute(value, sizes)


def predicts_failure(symbolic, graph, sizes: dict[str, int]) -> bool:
    """The formulas say these sizes are invalid: an empty dim, or a merge condition fails
    (Concatenate: left == right; elementwise merges broadcast: equal, or one of them is 1)."""
    for layer in symbolic.layers:
        if any(evaluate(d, sizes) <= 0 for d in layer.output_shape):
            return True
    for c in symbolic.conditions:
        left, right = evaluate(c.left, sizes), evaluate(c.right, sizes)
        broadcasts = graph[c.layer].op.op_type != "Concatenate" and 1 in (left, right)
        if left != right and not broadcasts:
            return True
    return False


def resizes_a_center_crop(graph, concrete) -> bool:
    """Some CenterCrop's input is smaller than its target at these sizes."""
    shapes = {layer.name: layer.output_shape for layer in concrete.layers}
    return any(isinstance(node.op, O.CenterCrop) and any(
        n < t for n, t in zip(shapes[node.inputs[0]][:2], (node.op.height, node.op.width)))
        for node in graph)


def intervals(f, count: int) -> list:
    """What outputs 0 .. count - 1 see on one axis: (first, last), or None for nothing."""
    phases = getattr(f, "phases", None) or ((0, f.size - 1),)
    q = len(phases)
    return [None if phases[i % q] is None else
            (f.start + (i // q) * q * f.stride + phases[i % q][0],
             f.start + (i // q) * q * f.stride + phases[i % q][1]) for i in range(count)]


def same_field(a, b) -> bool:
    """Equal fields, however their periods are written (a formula may keep a longer one)."""
    if a is None or b is None:
        return a is b
    return all((x.size, x.stride, x.start) == (y.size, y.stride, y.start)
               and intervals(x, 12) == intervals(y, 12) for x, y in zip(a, b, strict=True))


def assert_same(evaluated, concrete) -> None:
    """Equal results; a formula's field may be None only where the analysis says it depends on
    the size (size_dependent_fields: modulo the strides after resampling, or whether a merge
    broadcasts; convplan/analysis/receptive.py)."""
    assert evaluated.totals == concrete.totals
    for a, b in zip(evaluated.layers, concrete.layers, strict=True):
        where = f"layer {a.name}:\n formulas: {a}\n concrete: {b}"
        assert dataclasses.replace(a, receptive_field=None) == \
            dataclasses.replace(b, receptive_field=None), where
        if a.name in evaluated.size_dependent_fields:
            assert a.receptive_field is None, where
        else:
            assert same_field(a.receptive_field, b.receptive_field), where


@given(network=networks(), data=st.data())
def test_formulas_equal_concrete_analysis(network, data):
    graph, rank = network
    try:
        symbolic = analyze(graph, generalize=True)
    except UnsupportedError as error:
        # refused in symbolic sizes by design (a RandomCrop to a fixed size has no one shape)
        assert "RandomCrop" in str(error), error
        return
    except ShapeError:
        # Wrong for every size (say channels of a merge differ): concrete must agree.
        with pytest.raises(ShapeError):
            analyze(graph, input_size=[data.draw(st.integers(1, 40)) for _ in range(rank)])
        return
    names = SPATIAL_NAMES[rank]
    assert set(symbolic.symbols) <= set(names)
    for _ in range(8):
        size = [data.draw(st.integers(1, 40)) for _ in range(rank)]
        sizes = dict(zip(names, size))
        try:
            concrete = analyze(graph, input_size=size)
        except ShapeError as error:
            assert predicts_failure(symbolic, graph, sizes), f"{size}: {error}"
            continue
        assert not predicts_failure(symbolic, graph, sizes), size
        assert concrete.is_concrete
        if resizes_a_center_crop(graph, concrete):
            # the formulas are Keras's dynamic-shape branch, a crop; below the target Keras
            # resizes instead (docs/keras-import.md; checked against Keras in
            # test_differential_structural.py, and the sweep's rows in test_sweep_values.py)
            continue
        evaluated = symbolic.at(sizes)
        assert not evaluated.symbols
        assert_same(evaluated, concrete)
        # A path misaligned at these sizes is flagged by the formulas too (maybe "for some"),
        # where the field has a formula.
        flagged = {(m.layer, m.axis) for m in symbolic.misalignments}
        unknown = set(symbolic.size_dependent_fields)
        assert {(m.layer, m.axis) for m in concrete.misalignments if m.layer not in unknown} \
            <= flagged


def test_a_wrong_formula_is_detected():
    """The comparison can fail: a formula that drifts from the concrete value is caught."""
    net = NetworkBuilder("probe")
    x = net.input("x", [16, 16, 3])
    net.Conv2D(x, filters=4, kernel_size=3, strides=2, padding="same")
    graph = net.build()
    evaluated = analyze(graph, generalize=True).at({"H": 17, "W": 16})
    with pytest.raises(AssertionError):
        assert_same(evaluated, analyze(graph, input_size=(16, 16)))
    assert_same(evaluated, analyze(graph, input_size=(17, 16)))


def test_merge_of_sizes_unequal_everywhere_broadcasts_where_one_is_1():
    """Regression: Add of lengths L - 1 and L raised for every L symbolically, yet at L = 2
    Keras (and the concrete analysis) broadcast the 1. Now it is a condition."""
    net = NetworkBuilder("off_by_one")
    x = net.input("x", [8, 2])
    y = net.Cropping1D(x, cropping=(0, 1))
    net.Add([y, x])
    graph = net.build()
    symbolic = analyze(graph, generalize=True)
    assert [(c.left, c.right) for c in symbolic.conditions] == [(arith.symbol("L") - 1,
                                                                 arith.symbol("L"))]
    assert_same(symbolic.at({"L": 2}), analyze(graph, input_size=[2]))
    assert analyze(graph, input_size=[2]).layer("add").output_shape == (2, 2)
    assert predicts_failure(symbolic, graph, {"L": 5})
    with pytest.raises(ShapeError):
        analyze(graph, input_size=[5])
