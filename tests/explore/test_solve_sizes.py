"""`solve`: closed-form valid input sizes and budget answers, against brute force with the
concrete analysis at every size of a range (TensorFlow itself: test_solve_tf.py)."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES

from convplan import analyze, load, loads_spec
from convplan.errors import ConvplanError
from convplan.explore.periodic import SizeRule
from convplan.explore.solve import largest_batch, largest_input_size, solve_input_sizes

BROADCAST = """
name: broadcast
inputs: {x: [H, W, 4]}
layers:
  - {name: a, op: Conv2D, filters: 4, kernel_size: 1, strides: 8, padding: same, inputs: x}
  - {name: b, op: MaxPooling2D, pool_size: 2, inputs: x}
  - {name: add, op: Add, inputs: [a, b]}
  - {name: c, op: Conv2D, filters: 2, kernel_size: 3}
"""

VALID_UNET = """
name: valid_unet
inputs: {x: [H, W, 3]}
layers:
  - {name: c1, op: Conv2D, filters: 4, kernel_size: 3}
  - {name: c2, op: Conv2D, filters: 4, kernel_size: 3}
  - {name: p1, op: MaxPooling2D}
  - {name: c3, op: Conv2D, filters: 8, kernel_size: 3}
  - {name: p2, op: MaxPooling2D, pool_size: 3, strides: 2}
  - {name: c4, op: Conv2D, filters: 8, kernel_size: 3, padding: same}
  - {name: u2, op: UpSampling2D, size: 2}
  - {name: crop, op: Cropping2D, cropping: 1, inputs: [c3]}
  - {name: cat2, op: Concatenate, inputs: [u2, crop]}
  - {name: u1, op: Conv2DTranspose, filters: 4, kernel_size: 3, strides: 2}
  - {name: crop1, op: Cropping2D, cropping: [[3, 4], [3, 4]], inputs: [c2]}
  - {name: cat1, op: Concatenate, inputs: [u1, crop1]}
"""

VOLUME = """
name: volume
inputs: {v: [16, 32, 24, 1]}
layers:
  - {name: c1, op: Conv3D, filters: 4, kernel_size: [3, 5, 1], strides: [1, 2, 3]}
  - {name: p1, op: MaxPooling3D, pool_size: [2, 2, 2]}
  - {name: c2, op: Conv3D, filters: 4, kernel_size: 3, padding: same, strides: 2}
"""


def builds(graph, sizes: tuple[int, ...]) -> bool:
    try:
        analyze(graph, input_size=sizes)
    except ConvplanError:
        return False
    return True


@pytest.mark.parametrize("spec, other", [
    (EXAMPLES / "seed_cnn.yaml", 28), (EXAMPLES / "unet_4level.yaml", 32),
    (BROADCAST, 8), (VALID_UNET, 48), (VOLUME, None),
])
def test_closed_form_equals_brute_force_on_every_axis(spec, other):
    graph = loads_spec(spec) if isinstance(spec, str) else load(spec)
    sizes = solve_input_sizes(graph)
    base = [a.rule.examples(1)[0] if other is None else other for a in sizes.axes]
    for i, axis in enumerate(sizes.axes):
        for n in range(1, 130):
            point = list(base)
            point[i] = n
            assert axis.rule.contains(n) == builds(graph, tuple(point)), (axis.symbol, n)


def test_the_closed_forms_read_as_expected():
    def text(spec) -> list[str]:
        sizes = solve_input_sizes(loads_spec(spec) if isinstance(spec, str) else load(spec))
        return [a.rule.text(a.symbol) for a in sizes.axes]

    assert text(EXAMPLES / "seed_cnn.yaml") == ["H >= 4", "W >= 4"]
    assert text(EXAMPLES / "unet_4level.yaml") == ["H divisible by 16", "W divisible by 16"]
    assert text(BROADCAST) == ["H in {6, 7, 8}", "W in {6, 7, 8}"]
    assert text(VALID_UNET) == ["H >= 16 and H divisible by 4", "W >= 16 and W divisible by 4"]


@pytest.mark.parametrize("rule, text, members", [
    (SizeRule(1, 1, (0,)), "any H", [1, 2, 3]),
    (SizeRule(7, 1, (0,)), "H >= 7", [7, 8, 9]),
    (SizeRule(16, 16, (0,)), "H divisible by 16", [16, 32, 48]),
    (SizeRule(21, 8, (5,)), "H >= 21 and H % 8 == 5", [21, 29, 37]),
    (SizeRule(1, 8, (0, 1, 2, 3)), "H % 8 < 4", [1, 2, 3, 8]),
    (SizeRule(3, 4, (1, 3), (1,)), "H in {1}, or H >= 3 and H % 4 in {1, 3}", [1, 3, 5, 7]),
    (SizeRule(1, 1, ()), "no H is valid", []),
])
def test_size_rule_text_and_members(rule, text, members):
    assert rule.text("H") == text
    assert rule.examples(len(members)) == members


@pytest.mark.parametrize("spec, metric, budget, batch", [
    (EXAMPLES / "seed_cnn.yaml", "macs", 10**8, 1),
    (EXAMPLES / "seed_cnn.yaml", "memory", 64 * 2**20, 16),
    (EXAMPLES / "unet_4level.yaml", "macs", 3 * 10**9, 2),
    (EXAMPLES / "unet_4level.yaml", "memory", 2**28, 4),
])
def test_largest_input_size_is_the_largest_valid_size_within_budget(spec, metric, budget,
                                                                    batch):
    graph = load(spec)
    answer = largest_input_size(graph, metric, budget, batch)

    def cost(s: int) -> int:
        result = analyze(graph, input_size=(s, s))
        return result.totals.macs * batch if metric == "macs" else \
            result.training_memory(batch).total

    fitting = [s for s in range(1, answer.answer + 40) if builds(graph, (s, s))
               and cost(s) <= budget]
    assert answer.answer == max(fitting)
    assert answer.value == cost(answer.answer) <= budget
    assert answer.next_value == cost(answer.next_answer) > budget


def test_nothing_fits_and_largest_batch():
    graph = load(EXAMPLES / "seed_cnn.yaml")
    tiny = largest_input_size(graph, "macs", 1000)
    assert tiny.answer is None and tiny.next_answer == 4
    result = analyze(graph, input_size=(64, 64))
    batch = largest_batch(graph, (64, 64), "memory", 2**30)
    assert result.training_memory(batch.answer).total <= 2**30
    assert result.training_memory(batch.answer + 1).total > 2**30
    macs = largest_batch(graph, (64, 64), "macs", 10**10)
    assert macs.answer == 10**10 // result.totals.macs
