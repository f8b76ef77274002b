"""Budgets solve for inputs of a given aspect ratio (issue #13: a 384x640 detector got 992x992):
the input's declared ratio by default, `--aspect` otherwise, square where there is none."""

from __future__ import annotations

import json
import math

import pytest
from cli_run import run_main
from hypothesis import given, settings
from hypothesis import strategies as st

from convplan import analyze, loads_spec
from convplan.errors import ShapeError, UsageError
from convplan.explore.solve import default_aspect, largest_input_size

DETECTOR = """
name: det
inputs: {image: [384, 640, 3]}
layers:
  - {name: c1, op: Conv2D, filters: 8, kernel_size: 3, strides: 2, padding: same}
  - {name: c2, op: Conv2D, filters: 8, kernel_size: 3, strides: 2, padding: valid}
  - {name: p, op: MaxPooling2D, pool_size: 2}
  - {name: up, op: UpSampling2D, size: 2}
  - {name: c3, op: Conv2D, filters: 8, kernel_size: 1}
"""


def macs_at(graph, sizes) -> int | None:
    """MACs of a concrete analysis, None where Keras would not build it."""
    try:
        return analyze(graph, input_size=sizes).totals.macs
    except ShapeError:
        return None


def test_the_declared_ratio_is_the_default():
    graph = loads_spec(DETECTOR)
    assert default_aspect(graph) == (3, 5)
    answer = largest_input_size(graph, "macs", 10**8)
    assert answer.scale == (3, 5)
    h, w = answer.sizes(answer.answer)
    assert 3 * w == 5 * h and macs_at(graph, (h, w)) == answer.value <= 10**8
    assert macs_at(graph, answer.sizes(answer.next_answer)) == answer.next_value > 10**8


@settings(max_examples=15)
@given(aspect=st.tuples(st.integers(1, 4), st.integers(1, 4)), budget=st.integers(10**4, 10**6))
def test_the_answer_is_the_largest_valid_size_of_that_ratio_within_the_budget(aspect, budget):
    graph = loads_spec(DETECTOR)
    answer = largest_input_size(graph, "macs", budget, aspect=aspect)
    scale = tuple(p // math.gcd(*aspect) for p in aspect)
    assert answer.scale == scale
    # Brute force over every side: the largest that builds and fits.
    fits = [k for k in range(1, 400) if (m := macs_at(graph, [p * k for p in scale])) is not None
            and m <= budget]
    assert answer.answer == (max(fits) if fits else None)
    if answer.answer is not None:
        later = next(k for k in range(answer.answer + 1, 1000)
                     if macs_at(graph, [p * k for p in scale]) is not None)
        assert answer.next_answer == later


def test_square_where_nothing_is_declared_and_the_cli(tmp_path, capsys):
    free = DETECTOR.replace("[384, 640, 3]", "[H, W, 3]")
    assert default_aspect(loads_spec(free)) is None
    assert largest_input_size(loads_spec(free), "macs", 10**7).scale == (1, 1)
    path = tmp_path / "det.yaml"
    path.write_text(DETECTOR)
    code, out, _ = run_main(capsys, "solve", path, "--max-macs", "1e8", "--format", "json")
    assert code == 0
    budget = json.loads(out)["budgets"][0]
    assert budget["aspect"] == [3, 5] and budget["sizes"][0] * 5 == budget["sizes"][1] * 3
    code, out, _ = run_main(capsys, "solve", path, "--max-macs", "1e8", "--aspect", "1x1")
    assert code == 0
    size = out.split("(batch 1):\n  ")[1].split(":")[0]
    h, w = size.split("x")
    assert h == w
    code, _, err = run_main(capsys, "solve", path, "--max-macs", "1e8", "--aspect", "1x2x3")
    assert code == 2 and "--aspect 1x2x3 has 3 sizes" in err
    with pytest.raises(UsageError):
        largest_input_size(loads_spec(DETECTOR), "macs", 10**8, aspect=(1, 2, 3))
