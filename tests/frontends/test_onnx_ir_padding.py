"""The IR's explicit per-side padding, ceil_mode and count_include_pad (what ONNX and PyTorch
need), in specs: the formulas against brute-force window counting (PyTorch's rule), the
symbolic formula against the concrete one, and the Keras side refusing them cleanly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convplan.analysis import arith
from convplan.analysis.analyze import analyze
from convplan.analysis.windows import ceil_output_length, conv_output_length
from convplan.errors import SpecError, UnsupportedError
from convplan.frontends.spec import build_graph
from convplan.ir import ops as O
from convplan.ir.keras_arguments import keras_arguments


def windows_by_counting(n: int, k: int, s: int, d: int, before: int, after: int,
                        ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape in words, by counting window starts i * s in the padded
    input of n + b + e: floor mode keeps the windows that end inside it; ceil mode those that
    end less than a stride beyond it, then drops the last one if it starts at or after
    n + b (in the right padding)."""
    span = (k - 1) * d + 1
    reach = n + before + after + (s - 1 if ceil_mode else 0)
    starts = [i * s for i in range(n + before + after + 1) if i * s + span <= reach]
    if ceil_mode and starts and starts[-1] >= n + before:
        starts.pop()
    return len(starts)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 30), st.integers(1, 5), st.integers(1, 4), st.integers(1, 3),
       st.integers(0, 4), st.integers(0, 4), st.booleans())
def test_lengths_equal_window_counting(n, k, s, d, before, after, ceil_mode):
    expected = windows_by_counting(n, k, s, d, before, after, ceil_mode)
    got = conv_output_length(n, k, s, d, (before, after), ceil_mode)
    if expected == 0:
        assert got <= 0
    else:
        assert got == expected


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.integers(0, 4), st.integers(0, 4))
def test_symbolic_ceil_formula_equals_the_concrete_one(k, s, before, after):
    h = arith.symbol("H")
    formula = ceil_output_length(h, k, s, 1, before, after)
    for n in range(max(k - before - after, 1), 25):
        assert int(arith.substitute(formula, {"H": n})) == ceil_output_length(n, k, s, 1,
                                                                               before, after)


SPEC = {
    "name": "explicit",
    "inputs": {"x": ["H", "W", 3]},
    "layers": [
        {"name": "conv", "op": "Conv2D", "filters": 4, "kernel_size": 3, "strides": 2,
         "dilation_rate": 2, "padding": [[1, 2], [0, 3]]},
        {"name": "pool", "op": "MaxPooling2D", "pool_size": 3, "strides": 2, "padding": 1,
         "ceil_mode": True},
        {"name": "avg", "op": "AveragePooling2D", "pool_size": 2, "padding": [[0, 1], [1, 0]],
         "count_include_pad": True},
    ],
}


def test_a_spec_with_explicit_padding_analyzes_symbolically_and_concretely():
    graph = build_graph(SPEC, "explicit.yaml")
    symbolic = analyze(graph)
    concrete = analyze(graph, input_size=(37, 29))
    at = symbolic.at({"H": 37, "W": 29})
    for layer in ("conv", "pool", "avg"):
        assert tuple(at.layer(layer).output_shape) == tuple(concrete.layer(layer).output_shape)
    # conv: floor((37 + 3 - 5) / 2) + 1 = 18, floor((29 + 3 - 5) / 2) + 1 = 14 (stride with
    # dilation: Keras refuses it, explicit padding is PyTorch's and allows it)
    assert concrete.layer("conv").output_shape[:2] == (18, 14)
    # pool, ceil: min(ceil((18 + 2 - 3) / 2), floor((18 + 1 - 1) / 2)) + 1 = 10; 14 -> 8
    assert concrete.layer("pool").output_shape[:2] == (10, 8)
    field = concrete.layer("conv").receptive_field
    assert (field[0].size, field[0].stride, field[0].start) == (5, 2, -1)
    assert (field[1].start) == 0


def test_keras_arguments_refuse_what_no_keras_layer_takes():
    graph = build_graph(SPEC, "explicit.yaml")
    for name, words in (("conv", "explicit padding"), ("pool", "explicit padding"),
                        ("avg", "explicit padding")):
        with pytest.raises(UnsupportedError, match=words):
            keras_arguments(graph[name].op)
    with pytest.raises(UnsupportedError, match="ceil_mode"):
        keras_arguments(O.MaxPooling2D(name="p", ceil_mode=True))
    with pytest.raises(UnsupportedError, match="count_include_pad"):
        keras_arguments(O.AveragePooling2D(name="a", pool_size=2, count_include_pad=True))
    # Keras's own layers keep their arguments exactly, without the new settings
    assert keras_arguments(O.MaxPooling2D(name="p")) == {
        "trainable": True, "pool_size": (2, 2), "strides": (2, 2), "padding": "valid"}


def test_bad_padding_and_ceil_mode_are_refused_with_one_line():
    with pytest.raises(SpecError, match="explicit .before, after. amounts"):
        O.Conv2D(name="c", filters=1, kernel_size=3, padding=[[1, 2, 3]])
    with pytest.raises(SpecError, match="ceil_mode applies to padding 'valid' or explicit"):
        O.MaxPooling2D(name="p", padding="same", ceil_mode=True)
    with pytest.raises(SpecError, match="output_padding"):
        O.Conv2DTranspose(name="t", filters=1, kernel_size=3, strides=1, padding=[[0, 0]] * 2,
                          output_padding=1)
