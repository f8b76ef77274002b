"""TensorFlow is the oracle for `solve` and `sweep`: every input size the closed form accepts
builds (and runs) in Keras, every size it rejects fails there; sampled sweep rows build with
the output shape and parameter count the sweep reports."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import EXAMPLES
from test_solve_sizes import BROADCAST

from convplan import load, loads_spec
from convplan.explore.choices import apply_categorical, parse_varies
from convplan.explore.solve import solve_input_sizes
from convplan.explore.sweep import Chunk, Sweep
from convplan.verify.keras_build import build_keras_model

pytestmark = pytest.mark.tf


def keras_builds(graph, sizes: tuple[int, ...], channels: int) -> bool:
    """Build the functional model at these sizes and run one zero batch through it."""
    try:
        model = build_keras_model(graph, sizes)
        model(np.zeros((1, *sizes, channels), dtype="float32"))
    except (ValueError, TypeError) as exc:  # Keras's shape errors; TF's InvalidArgumentError
        assert "shape" in str(exc).lower() or "size" in str(exc).lower(), exc
        return False
    except Exception as exc:  # noqa: BLE001 - a TF runtime rejection is a failure to build
        if type(exc).__name__ != "InvalidArgumentError":
            raise
        return False
    return True


def accepts(sizes, point: tuple[int, ...]) -> bool:
    return sizes.accepts({a.symbol: n for a, n in zip(sizes.axes, point)})


@pytest.mark.parametrize("spec, channels, points", [
    (EXAMPLES / "seed_cnn.yaml", 1,
     [(n, n) for n in range(1, 9)] + [(3, 12), (12, 3), (4, 5)]),
    (EXAMPLES / "unet_4level.yaml", 1,
     [(n, n) for n in range(1, 35)] + [(16, 24), (24, 16), (32, 48), (8, 16), (48, 40)]),
    (BROADCAST, 4, [(n, n) for n in range(1, 20)] + [(7, 9), (9, 7)]),
])
def test_every_size_solve_accepts_builds_and_every_other_fails(keras, spec, channels, points):
    graph = loads_spec(spec) if isinstance(spec, str) else load(spec)
    sizes = solve_input_sizes(graph)
    seen = set()
    for point in points:
        expected = accepts(sizes, point)
        assert keras_builds(graph, point, channels) == expected, point
        seen.add(expected)
    assert seen == {True, False}
    keras.backend.clear_session()


def test_sampled_sweep_rows_match_keras(keras):
    graph = load(EXAMPLES / "seed_cnn.yaml")
    sweep = Sweep(graph, parse_varies(graph, [
        "conv1.strides=1..3", "conv*.dilation_rate=1,2", "conv1.kernel_size=1,3,5",
        "conv2.filters=8,24", "input.size=9..33:6", "conv*.padding=valid,same"]))
    rows = Chunk.concat(list(sweep.chunks()))
    rng = np.random.default_rng(11)
    picks = np.concatenate([rng.choice(np.nonzero(rows.columns["valid"])[0], 6, replace=False),
                            rng.choice(np.nonzero(~rows.columns["valid"])[0], 4, replace=False)])
    for j in picks:
        assignment, size = sweep.combination(int(rows.columns["index"][j]))
        try:
            model = build_keras_model(apply_categorical(graph, assignment), size)
        except Exception:  # noqa: BLE001 - Keras rejects: the row must say invalid
            assert not rows.columns["valid"][j], (assignment, size)
            continue
        assert rows.columns["valid"][j], (assignment, size)
        assert tuple(model.output_shape[1:]) == tuple(rows.columns["output:0"][j].tolist())
        assert model.count_params() == rows.columns["params"][j]
    keras.backend.clear_session()
