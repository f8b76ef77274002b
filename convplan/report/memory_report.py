"""Memory reports: the breakdown at the peak (what is live, for which layer, and why) and a text
chart of live bytes across a training step. Functions return text; they never print."""

from __future__ import annotations

from typing import Any

from convplan.analysis.memory import MemoryPlan, Step, TrainingMemory
from convplan.options import format_bytes

CONVENTION_WORDS = {
    "fused": "fused: elementwise chains fused into one kernel, each weight gradient applied "
             "when computed",
    "eager": "eager: every layer output a buffer, every weight gradient kept until the update",
    "xla-cpu": "xla-cpu: fused, every weight gradient kept until the update, plus XLA:CPU's "
               "gradient workspace (convolution transposes, dense depthwise kernels, max-pool "
               "select-and-scatter)",
}


def _bar(value: int, peak: int, width: int) -> str:
    return "#" * max(1 if value else 0, round(width * value / peak)) if peak else ""


def breakdown_lines(memory: TrainingMemory, top: int = 10) -> list[str]:
    """The peak's parts and the layers holding the most bytes at the peak step."""
    plan = memory.plan
    lines = [f"training peak {format_bytes(memory.total)} ({memory.total:,} bytes) at batch "
             f"{memory.batch}, {memory.dtype}, {memory.optimizer}",
             f"  convention  {CONVENTION_WORDS[memory.convention]}",
             f"  weights     {format_bytes(memory.weights)}",
             f"  optimizer   {format_bytes(memory.optimizer_slots)}",
             f"  batch       {format_bytes(memory.data)} (inputs and float32 targets)",
             f"  live        {format_bytes(memory.live)}" + (
                 f" at the {memory.peak_step.phase} step of {memory.peak_step.layer!r}"
                 if memory.peak_step else "")]
    step = memory.peak_step
    if step is not None:
        held = plan.by_layer(step)
        order = sorted(held, key=lambda name: -sum(held[name].values()))
        lines.append(f"  live at the peak, by layer ({len(held)} layers hold something):")
        for name in order[:top]:
            roles = ", ".join(f"{role} {format_bytes(v)}" for role, v in held[name].items())
            why = sorted({plan.tensors[k].why for k in step.live
                          if plan.tensors[k].layer == name and plan.tensors[k].role == "kept"})
            lines.append(f"    {name:<24} {format_bytes(sum(held[name].values())):>10}  {roles}"
                         + (f" ({'; '.join(why)})" if why else ""))
        if len(order) > top:
            rest = sum(sum(held[n].values()) for n in order[top:])
            lines.append(f"    {len(order) - top} more layers {format_bytes(rest):>10}")
    lines.append(f"inference peak {format_bytes(plan.inference_peak)} "
                 f"({plan.inference_peak:,} bytes)"
                 + (f" at {plan.inference.step.layer!r}" if plan.inference.step else ""))
    return lines


def chart_lines(plan: MemoryPlan, width: int = 50, rows: int = 40) -> list[str]:
    """Live bytes (persistent included) at each step of the training step, one bar per step
    (every n-th step where there are more than `rows`, the peak always shown)."""
    steps = list(plan.training_steps)
    values = [int(plan.persistent) + int(plan.live_bytes(s)) for s in steps]
    if not steps:
        return []
    peak = max(values)
    every = max(1, -(-len(steps) // rows))
    best = values.index(peak)
    lines = [f"live memory across the training step (persistent {format_bytes(plan.persistent)} "
             f"included; {len(steps)} steps" + (f", every {every}th shown" if every > 1 else "")
             + ")"]
    for i, (step, value) in enumerate(zip(steps, values)):
        if i % every and i != best:
            continue
        mark = " <- peak" if i == best else ""
        lines.append(f"  {step.phase[:4]:<4} {step.layer[:22]:<22} {format_bytes(value):>10} "
                     f"{_bar(value, peak, width)}{mark}")
    return lines


def memory_json(memory: TrainingMemory) -> dict[str, Any]:
    plan = memory.plan

    def step_json(step: Step | None) -> dict[str, Any] | None:
        if step is None:
            return None
        return {"phase": step.phase, "layer": step.layer,
                "by_layer": {k: {r: int(v) for r, v in roles.items()}
                             for k, roles in plan.by_layer(step).items()}}

    return {"convention": memory.convention, "batch": memory.batch, "dtype": memory.dtype,
            "optimizer": memory.optimizer, "training_peak_bytes": int(memory.total),
            "weights_bytes": int(memory.weights),
            "optimizer_bytes": int(memory.optimizer_slots), "batch_bytes": int(memory.data),
            "live_bytes": int(memory.live), "peak": step_json(memory.peak_step),
            "inference_peak_bytes": int(plan.inference_peak),
            "steps": [{"phase": s.phase, "layer": s.layer,
                       "bytes": int(plan.persistent) + int(plan.live_bytes(s))}
                      for s in plan.training_steps]}
