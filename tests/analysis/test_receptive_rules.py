"""The receptive-field pass without TensorFlow: what it needs is an argument (no hidden
context), a rule that needs a number where a sweep gave a symbol says so by name, and the
field algebra lives apart from the per-op rules (tests/analysis/test_receptive_field_tf.py measures the
numbers against TF)."""

from __future__ import annotations

import pytest
import sympy
from test_solve_sizes import BROADCAST

from convplan import analyze, loads_spec
from convplan.analysis import periodic_field as P
from convplan.analysis import receptive

# `add` stretches `a` where ceil(H / 8) = 1 < floor(H / 2), and not at H = 2 or 3.
MAY_BROADCAST = BROADCAST.rsplit("  - {name: c", 1)[0]

UPSAMPLED = """
name: upsampled
inputs: {x: [16, 16, 3]}
layers:
  - {name: up, op: UpSampling2D, size: 2}
  - {name: conv, op: Conv2D, filters: 4, kernel_size: 3, strides: 2}
"""


def test_a_broadcast_that_depends_on_the_size_has_no_formula_by_default():
    result = analyze(loads_spec(MAY_BROADCAST))
    assert result.size_dependent_fields == ("add",)
    assert result.layer("add").receptive_field is None


def test_assume_no_broadcast_is_an_argument_and_exact_where_nothing_broadcasts():
    graph = loads_spec(MAY_BROADCAST)
    assumed = analyze(graph, assume_no_broadcast=True)
    assert assumed.size_dependent_fields == ()
    for size in (2, 3):
        concrete = analyze(graph, input_size=(size, size))
        at = assumed.at({"H": size, "W": size})
        assert at.layer("add").receptive_field == concrete.layer("add").receptive_field
    # no state is left behind: the next analysis is the default one again
    assert analyze(graph).size_dependent_fields == ("add",)


def test_a_symbolic_kernel_after_resampling_needs_a_concrete_value():
    graph = loads_spec(UPSAMPLED)
    up = analyze(graph).layer("up")
    assert up.receptive_field[0].phases  # two outputs per input: a periodic field
    k = sympy.Symbol("k", integer=True, positive=True)
    conv = graph["conv"].op.with_symbols(kernel_size=(k, k))
    with pytest.raises(receptive.NeedsConcreteValue, match="concrete kernel size"):
        receptive.window_field(conv, [up.receptive_field], [up.output_shape], (7, 7, 4))


def test_the_field_types_are_the_algebra_modules():
    assert receptive.AxisField is P.AxisField
    assert receptive.SizeDependentField is P.SizeDependentField


def test_union_of_aligned_paths_is_exact_and_shifted_moves_the_field():
    wide, narrow = P.AxisField(5, 2, -2), P.AxisField(3, 2, 0)
    assert P.union([wide, narrow]) == P.AxisField(5, 2, -2)
    assert P.shifted(narrow, -1) == P.AxisField(3, 2, -2)  # zero padding by 1: one step back

