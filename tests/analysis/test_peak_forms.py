"""The symbolic peak's pruning works on per-tensor expansions (issue 19): each tensor's size
is expanded once however many steps it is live in, and the steps kept are exactly those the
expansion of each step's whole sum keeps (expanding is linear)."""

from __future__ import annotations

from pathlib import Path

import pytest

from convplan import load
from convplan.analysis import arith, memory
from convplan.analysis.analyze import analyze

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("example", ["unet_small.yaml", "resnet_small.yaml",
                                     "mobilenet_small.yaml"])
@pytest.mark.parametrize("convention", ["fused", "eager", "xla-cpu"])
def test_each_tensor_is_expanded_once_and_the_kept_steps_match_whole_sums(
        monkeypatch, example, convention):
    graph = load(EXAMPLES / example)
    symbolic = analyze(graph, generalize=True)
    assert symbolic.symbols, "the example must be analysed in symbolic sizes"
    expanded = []
    real = memory._monomials

    def counting(value):
        expanded.append(value)
        return real(value)

    monkeypatch.setattr(memory, "_monomials", counting)
    plan = memory.plan_memory(graph, symbolic, arith.symbol("batch"), "float32", "adam",
                              convention)
    for steps, peak in ((plan.training_steps, plan.training),
                        (plan.inference_steps, plan.inference)):
        unique = list(dict.fromkeys(s.live for s in steps))
        outer = [next(s for s in steps if s.live == live) for live in unique
                 if not any(live < other for other in unique)]
        if len(outer) < 2:
            continue
        used = set().union(*(s.live for s in outer))
        expanded.clear()
        forms = memory._step_forms(outer, plan.tensors, used)
        assert len(expanded) == 2 * len(used)  # fixed and per-example, once per tensor
        whole = [memory._step_bytes(s, plan.tensors) for s in outer]
        assert memory._undominated_forms(forms) == memory._undominated(whole)
        kept = [outer[i] for i in memory._undominated(whole)]
        assert peak.candidates == tuple(kept) or all(
            isinstance(arith.simplify_int(v), int) for pair in whole for v in pair)
