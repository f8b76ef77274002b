"""The memory model by tensor lifetimes (convplan.analysis.memory): hand-worked peaks, the
symbolic formula against concrete plans, the conventions, the CLI (solve --device, analyze
--memory). XLA's buffer assignment as the oracle: tests/verify/test_memory_xla.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_run import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import network_specs

from convplan import load
from convplan.analysis import arith
from convplan.analysis.analyze import analyze
from convplan.analysis.memory import plan_memory
from convplan.devices import DEVICES
from convplan.errors import ConvplanError
from convplan.frontends.spec import build_graph

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEED = {"name": "seed", "inputs": {"image": [28, 28, 1]}, "layers": [
    {"name": "conv1", "op": "Conv2D", "filters": 32, "kernel_size": 3, "padding": "same",
     "activation": "relu"},
    {"name": "pool1", "op": "MaxPooling2D"},
    {"name": "flatten", "op": "Flatten"},
    {"name": "dense", "op": "Dense", "units": 10}]}


def test_seed_inference_peak_by_hand():
    # params 320 + 62730 = 63050 (x4 bytes); input 784 x 4 per example; output 10 x 4 apart
    # peak at pool1: conv1's 28*28*32 = 25088 and pool1's 6272 floats live together
    graph = build_graph(SEED)
    plan = plan_memory(graph, analyze(graph), 8)
    assert plan.inference.step.layer == "pool1"
    assert plan.inference_peak == 63050 * 4 + 8 * (784 + 10) * 4 + 8 * (25088 + 6272) * 4


def test_seed_training_parts_by_hand():
    graph = build_graph(SEED)
    plan = plan_memory(graph, analyze(graph), 8, "float32", "adam")
    assert plan.variables == 63050 * 4 and plan.optimizer_slots == 2 * 63050 * 4
    assert plan.data == 8 * (784 + 10) * 4
    # conv1 keeps the input (an argument) and its relu output; pool1 keeps both; Dense keeps
    # its input (flatten is a view of pool1's output); at the backward step of pool1 the
    # gradients of pool1's and conv1's outputs are live beside conv1's output
    step = next(s for s in plan.training_steps if s.phase == "backward" and s.layer == "pool1")
    assert plan.live_bytes(step) == 8 * 4 * (25088 + 6272 + 6272 + 25088)


def test_mixed_precision_halves_activations_keeps_float32_variables():
    graph = build_graph(SEED)
    a = analyze(graph)
    full, mixed = plan_memory(graph, a, 64), plan_memory(graph, a, 64, "mixed_bfloat16")
    assert mixed.variables == full.variables
    assert mixed.training.bytes < full.training.bytes


@pytest.mark.parametrize("convention", ["fused", "eager", "xla-cpu"])
def test_peak_grows_with_batch(convention):
    graph = build_graph(SEED)
    a = analyze(graph)
    peaks = [plan_memory(graph, a, b, convention=convention).training_peak for b in (1, 2, 5)]
    assert peaks == sorted(peaks) and peaks[0] < peaks[-1]


def test_unknown_convention_is_a_usage_error():
    graph = build_graph(SEED)
    with pytest.raises(ConvplanError, match="expected one of fused, eager, xla-cpu"):
        plan_memory(graph, analyze(graph), 1, convention="lazy")


def _swapped_somewhere(graph, analysis):
    """Whether XLA:CPU swaps the operands of a convolution's forward or input gradient at
    the analysis's sizes (fuzz: a 4-tap Conv1D on a 3-position map)."""
    from convplan.analysis import xla_cpu

    shapes = {layer.name: layer.output_shape for layer in analysis.layers}
    return any(
        xla_cpu.swaps_operands(node.op, shapes[node.inputs[0]][:-1])
        or xla_cpu.swaps_input_gradient(node.op, shapes[node.inputs[0]][:-1])
        for node in graph if node.inputs)


def _concrete_size(spec):
    rank = len(next(iter(spec["inputs"].values()))) - 1
    return (12,) * rank


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(spec=network_specs(invalid=False), batch=st.integers(1, 9),
       convention=st.sampled_from(["fused", "eager", "xla-cpu"]))
def test_symbolic_peak_equals_concrete_plans(spec, batch, convention):
    """The formula in the batch and the input size, evaluated, is the concrete plan's peak
    (under xla-cpu where no convolution's operands are swapped at that size: the formula
    takes the maps to be large enough, docs/memory.md)."""
    graph = build_graph(spec)
    size = _concrete_size(spec)
    try:
        concrete = analyze(graph, input_size=size)
        symbolic = analyze(graph, generalize=True)
    except ConvplanError:
        return  # a network that does not build at this size
    if convention == "xla-cpu" and _swapped_somewhere(graph, concrete):
        return
    names = [s for s in symbolic.symbols]
    if len(graph.inputs) != 1 or not names:
        return
    bindings = dict(zip(names, size))
    if set(bindings) != set(symbolic.symbols):
        return
    want = concrete.training_memory(batch, "float32", "adam", convention)
    got = symbolic.training_memory(arith.symbol("batch"), "float32", "adam", convention)
    assert arith.substitute(got.total, {**bindings, "batch": batch}) == want.total
    inference = arith.substitute(got.plan.inference_peak, {**bindings, "batch": batch})
    assert inference == want.plan.inference_peak


def test_solve_device_max_batch_gives_a_batch_and_its_breakdown():
    result = run_cli("solve", "examples/seed_cnn.yaml", "--device", "t4", "--max-batch",
                     "--dtype", "mixed_bfloat16")
    assert result.returncode == 0, result.stderr
    assert "largest batch with training memory <=" in result.stdout
    assert "training peak" in result.stdout and "live at the peak, by layer" in result.stdout


def test_solve_device_answer_fits_and_the_next_does_not():
    graph = build_graph(SEED)
    from convplan.explore.solve import largest_batch

    budget = int(DEVICES["t4"].memory * 0.9)
    answer = largest_batch(graph, None, "memory", budget)
    a = analyze(graph)
    assert a.training_memory(answer.answer).total <= budget
    assert a.training_memory(answer.answer + 1).total > budget


@pytest.mark.parametrize("args, words", [
    (["--device", "h1000", "--max-batch"], "unknown device 'h1000'; expected one of h100"),
    (["--device", "t4"], "needs one of --max-batch"),
    (["--max-size"], "need --device NAME"),
    (["--device", "t4", "--max-batch", "--dtype", "float8"], "float8"),
    (["--device", "t4", "--max-batch", "--optimizer", "adamq"], "adamq"),
])
def test_solve_device_bad_input_is_one_line_exit_2(args, words):
    result = run_cli("solve", "examples/seed_cnn.yaml", *args)
    assert result.returncode == 2
    assert words in result.stderr and len(result.stderr.strip().splitlines()) <= 3


def test_analyze_memory_prints_breakdown_and_chart():
    result = run_cli("analyze", "examples/seed_cnn.yaml", "--memory", "--batch", "16",
                     "--no-symbolic", "--convention", "eager")
    assert result.returncode == 0, result.stderr
    assert "convention  eager" in result.stdout
    assert "<- peak" in result.stdout and "inference peak" in result.stdout


def test_every_device_cites_a_source():
    for d in DEVICES.values():
        assert d.source.startswith("https://") and d.memory > 2**30 and d.bf16_flops > 0


def test_a_keras_models_own_dtype_policy_is_the_default_for_memory():
    """Issue 13: a model saved under mixed precision is planned in it unless --dtype says
    otherwise (tests/data/keras_seed_mixed_bfloat16.json: the seed CNN saved by Keras 3 under
    mixed_bfloat16)."""
    from convplan import load

    path = "tests/data/keras_seed_mixed_bfloat16.json"
    assert load(path).dtype_policy == "mixed_bfloat16"
    own = run_cli("analyze", path, "--no-symbolic", "--format", "json")
    forced = run_cli("analyze", path, "--no-symbolic", "--format", "json", "--dtype", "float32")
    assert own.returncode == forced.returncode == 0, own.stderr + forced.stderr
    import json

    assert json.loads(own.stdout)["memory"]["dtype"] == "mixed_bfloat16"
    assert json.loads(forced.stdout)["memory"]["dtype"] == "float32"
    assert load("examples/seed_cnn.yaml").dtype_policy is None


_H, _W = arith.symbol("H"), arith.symbol("W")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(0, 40), min_size=4, max_size=4),
                          st.lists(st.integers(0, 40), min_size=4, max_size=4)),
                min_size=1, max_size=7),
       st.lists(st.tuples(st.integers(1, 90), st.integers(1, 90), st.integers(1, 9)),
                min_size=1, max_size=6))
def test_dropped_peak_candidates_never_are_the_max(coefficients, points):
    """A (fixed, per-example) pair is dropped only when another's coefficients beat it on
    every monomial of sizes, so the max over what is kept is the max over all, at any size."""
    import sympy

    from convplan.analysis.memory import _undominated

    monomials = [1, _H * _W, sympy.floor(_H / 2) * sympy.floor(_W / 2),
                 sympy.floor((_H - 1) / 4 + 1) * _W]
    parts = [(arith.total(c * m for c, m in zip(f, monomials)),
              arith.total(c * m for c, m in zip(p, monomials))) for f, p in coefficients]
    kept = _undominated(parts)
    assert kept and len(set(kept)) == len(kept)
    for h, w, batch in points:
        at = {"H": h, "W": w}
        values = [arith.substitute(f, at) + batch * arith.substitute(p, at) for f, p in parts]
        assert max(values[i] for i in kept) == max(values)
    for i in set(range(len(parts))) - set(kept):  # each dropped one is beaten everywhere
        assert any(all(a >= b for a, b in zip(coefficients[j][0] + coefficients[j][1],
                                              coefficients[i][0] + coefficients[i][1]))
                   for j in kept)


def test_symbolic_unet_peak_is_short_and_prints_fast():
    """The U-Net at any size: the training peak keeps the steps no other beats on every
    monomial (35 steps -> 21) with their sums combined, even under sympy.evaluate(False) as
    solve builds it; human_bytes prints it without sympy re-evaluating the Max (a minute)."""
    import time

    import sympy

    from convplan.report.formatting import human_bytes

    graph = load(EXAMPLES / "unet_small.yaml")
    symbolic = analyze(graph, generalize=True)
    with sympy.evaluate(False):
        memory = symbolic.training_memory(4, "float32", "adam")
    assert 1 < len(memory.plan.training.candidates) <= 21
    assert sympy.count_ops(memory.total) < 1200
    start = time.perf_counter()
    text = human_bytes(memory.total)
    assert time.perf_counter() - start < 5 and text.endswith(" B") and "Max(" in text
    concrete = analyze(graph, input_size=(64, 64)).training_memory(4, "float32", "adam")
    assert arith.substitute(memory.total, {"H": 64, "W": 64}) == concrete.total


def test_xla_cpu_widens_16_bit_dots_to_float32():
    """Under xla-cpu a 16-bit policy's weighted layer holds a float32 copy of its kernel and its
    float32 result (XLA:CPU's bf16 predict step of the seed CNN: f32[3136,128] beside the
    bf16 kernel, f32[8,28,28,32] beside the bf16 conv output); `fused` keeps 16 bits."""
    graph = build_graph(SEED)
    analysis = analyze(graph)
    wide = plan_memory(graph, analysis, 8, "mixed_bfloat16", convention="xla-cpu")
    narrow = plan_memory(graph, analysis, 8, "mixed_bfloat16", convention="fused")
    assert wide.tensors["cast:dense"].fixed == 62730 * 4
    assert narrow.tensors["cast:dense"].fixed == 62730 * 2
    assert wide.tensors["wide:conv1"].per_example == 28 * 28 * 32 * 4
    assert "wide:conv1" not in narrow.tensors
    assert wide.inference_peak > narrow.inference_peak


@pytest.mark.parametrize("convention", ["xla-cpu", "fused"])
def test_xla_cpu_widens_every_kernel_before_the_first_layer(convention):
    """Inference under xla-cpu with a 16-bit policy: every weighted layer's widened kernel is
    live from the first step until its own layer has run (XLA:CPU's seed CNN bf16 predict step
    runs all four kernel converts before the first convolution); under `fused` a layer's cast
    weights live only at its own step."""
    graph = build_graph(SEED)
    plan = plan_memory(graph, analyze(graph), 8, "mixed_bfloat16", convention=convention)
    steps = plan.inference_steps
    ran = [s.layer for s in steps]
    assert [k for k in plan.tensors if k.startswith("cast:")]
    for i, step in enumerate(steps):
        casts = {k for k in step.live if k.startswith("cast:")}
        expected = ran[i:] if convention == "xla-cpu" else ran[i:i + 1]
        assert casts == {f"cast:{n}" for n in expected if f"cast:{n}" in plan.tensors}


@pytest.mark.parametrize("size, reversed_copy", [(2, True), (3, False), (4, False)])
def test_xla_cpu_reverses_the_kernel_of_a_convolution_on_a_map_smaller_than_its_window(
        size, reversed_copy):
    """float32 inference under xla-cpu: a 3x3 convolution on a 2 x 2 map holds a reversed
    float32 copy of its kernel from the program's start until it has run (ResNet50's stage 5
    at input 64); on 3 x 3 maps and larger, no copy; `fused` and 16-bit policies never."""
    spec = {"name": "small", "inputs": {"x": [size, size, 8]}, "layers": [
        {"name": "a", "op": "Conv2D", "filters": 8, "kernel_size": 1},
        {"name": "b", "op": "Conv2D", "filters": 16, "kernel_size": 3, "padding": "same"}]}
    graph = build_graph(spec)
    a = analyze(graph)
    plan = plan_memory(graph, a, 4, convention="xla-cpu")
    steps = {s.layer: s.live for s in plan.inference_steps}
    assert ("reversed:b" in steps["a"] and "reversed:b" in steps["b"]) is reversed_copy
    if reversed_copy:
        assert plan.tensors["reversed:b"].fixed == 3 * 3 * 8 * 16 * 4
    for other in (plan_memory(graph, a, 4, convention="fused"),
                  plan_memory(graph, a, 4, "mixed_bfloat16", convention="xla-cpu")):
        assert "reversed:b" not in other.tensors


@pytest.mark.parametrize("convention", ["xla-cpu", "fused", "eager"])
def test_training_keeps_cast_weights_until_the_input_gradient(convention):
    """Under a 16-bit policy a layer's cast kernel is the residual of its input gradient:
    live from its forward step to its backward step. The first convolution computes no input
    gradient (its input is the model's), so its cast lives at its own steps only."""
    graph = build_graph(SEED)
    plan = plan_memory(graph, analyze(graph), 8, "mixed_bfloat16", convention=convention)
    steps = plan.training_steps
    forward = next(i for i, s in enumerate(steps) if s.phase == "forward" and s.layer == "dense")
    backward = next(i for i, s in enumerate(steps) if s.phase == "backward" and s.layer == "dense")
    assert all("cast:dense" in s.live for s in steps[forward:backward + 1])
    assert not any("cast:dense" in s.live for s in steps[:forward] + steps[backward + 1:])
    conv1 = [i for i, s in enumerate(steps) if "cast:conv1" in s.live]
    assert [steps[i].layer for i in conv1] == ["conv1", "conv1"]  # its forward and backward


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(spec=network_specs(invalid=False))
def test_xla_cpu_trains_16_bit_steps_at_float32_width(spec):
    """Under xla-cpu a 16-bit policy's training step holds its outputs, gradients and kept
    buffers at float32 width (XLA:CPU's bf16 train step of the seed CNN holds every
    per-example float32 buffer of the float32 step), its inference 16 bits; `fused` keeps 16
    bits in both."""
    graph = build_graph(spec)
    try:
        analysis = analyze(graph, input_size=_concrete_size(spec))
    except ConvplanError:
        return  # a network that does not build at this size
    wide = plan_memory(graph, analysis, 4, "mixed_bfloat16", convention="xla-cpu")
    single = plan_memory(graph, analysis, 4, "float32", convention="xla-cpu")
    narrow = plan_memory(graph, analysis, 4, "mixed_bfloat16", convention="fused")
    for key, t in single.tensors.items():
        if key.startswith(("out:", "grad:", "kept:", "partial:")):
            assert wide.tensors[key].per_example == t.per_example, key
    for key, t in wide.tensors.items():
        if key.startswith("infer:"):
            assert t.per_example * 2 == single.tensors["out:" + key[6:]].per_example, key
    for key, t in narrow.tensors.items():
        if key.startswith("out:") and key in single.tensors:
            assert t.per_example * 2 == single.tensors[key].per_example, key
