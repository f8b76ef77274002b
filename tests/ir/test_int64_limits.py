"""Sizes beyond int64 are refused, not analyzed into astronomically large numbers (issue #13:
filters 10**30). TensorFlow stores dims, attributes and element counts as int64."""

from __future__ import annotations

import pytest
from cli_run import run_main
from hypothesis import given
from hypothesis import strategies as st

from convplan import analyze, loads_spec
from convplan.errors import ShapeError, SpecError

LIMIT = 2**63


def spec(layer: str, size: int = 8) -> str:
    return f"inputs: {{x: [{size}, {size}, 3]}}\nlayers:\n  - {layer}\n"


@given(value=st.integers(LIMIT, 10**40),
       layer=st.sampled_from(["{{name: big, op: Conv2D, filters: {v}, kernel_size: 1}}",
                              "{{name: big, op: Dense, units: {v}}}",
                              "{{name: big, op: ZeroPadding2D, padding: {v}}}",
                              "{{name: big, op: UpSampling2D, size: [2, {v}]}}"]))
def test_an_attribute_beyond_int64_names_the_layer_and_attribute(value, layer):
    with pytest.raises(SpecError, match=r"layer 'big' .*attribute '\w+' holds .*int64"):
        analyze(loads_spec(spec(layer.format(v=value))))


@given(filters=st.integers(1, LIMIT - 1), size=st.integers(1, 2**20))
def test_products_beyond_int64_are_refused_exactly_where_they_reach_it(filters, size):
    """Each attribute fits; the output (size x size x filters elements) or the weights
    (4 x filters + filters: a 2x2 kernel over one channel, plus the bias) may not."""
    text = (f"inputs: {{x: [{size}, {size}, 1]}}\nlayers:\n"
            f"  - {{name: conv, op: Conv2D, filters: {filters}, kernel_size: 1, "
            "padding: same}\n")
    graph = loads_spec(text)
    elements, params = size * size * filters, 2 * filters
    if max(elements, params) < LIMIT:
        assert analyze(graph).layer("conv").activations == elements
    else:
        with pytest.raises(ShapeError, match=r"layer 'conv' \(Conv2D\): .* would be .*int64"):
            analyze(graph)


def test_the_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    path = tmp_path / "big.yaml"
    path.write_text(spec(f"{{name: wide, op: Conv2D, filters: {10**30}, kernel_size: 3}}"))
    code, out, err = run_main(capsys, "analyze", path)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "convplan: error: layer 'wide' (Conv2D): attribute 'filters' holds 1e+30, beyond what "
        "TensorFlow can represent (int64: at most 2**63 - 1)"]
    path.write_text(spec("{name: up, op: UpSampling2D, size: [4000000000, 4000000000]}"))
    code, out, err = run_main(capsys, "analyze", path)
    assert code == 2
    assert "layer 'up' (UpSampling2D): the output's elements per example would be" in err


def test_the_largest_int64_attribute_is_accepted():
    graph = loads_spec(spec(f"{{name: ok, op: ZeroPadding2D, padding: [[0, {LIMIT - 4}], "
                            "[0, 0]]}"))
    with pytest.raises(ShapeError, match="an output dim would be"):
        analyze(graph)  # the attribute fits; the padded height does not
    assert analyze(loads_spec(spec(f"{{name: ok, op: Dense, units: {2**40}}}", 1))) is not None
