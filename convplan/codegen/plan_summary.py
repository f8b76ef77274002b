"""What the plan says, as README sentences: totals, memory, receptive field, hardware fit.

Every figure comes from the analysis; the sentences are plain Markdown whose only
spec-derived parts are layer names (restricted by the spec's name rule) set in code spans.
"""

from __future__ import annotations

from convplan.analysis import Analysis
from convplan.analysis.arith import to_json
from convplan.analysis.memory import TrainingMemory
from convplan.codegen.literals import md_code
from convplan.codegen.targets import Target
from convplan.codegen.task import Task
from convplan.ir.graph import Graph
from convplan.report.formatting import human, human_bytes

CHANNEL_ALIGNMENT = {"gpu": 8, "multi-gpu": 8, "tpu": 128}  # tensor-core / MXU friendly sizes
PRECISION = {"gpu": "mixed_float16", "multi-gpu": "mixed_float16", "tpu": "mixed_bfloat16"}


def precision_for(target: Target) -> str:
    return PRECISION.get(target.name, "float32")


def _field_text(plan: Analysis, task: Task) -> str:
    spatial = [r for r in plan.layers if r.receptive_field is not None and r.op != "InputLayer"]
    if not spatial:
        return "no layer keeps the spatial axes, so there is no receptive field to report"
    last = spatial[-1]
    sizes = "x".join(str(to_json(a.size)) for a in last.receptive_field)
    strides = "x".join(str(to_json(a.stride)) for a in last.receptive_field)
    h, w = task.input_shape[:2]
    return (f"the last spatial layer, {md_code(last.name)}, sees {sizes} input pixels per "
            f"output position (stride {strides}) of the {h}x{w} input")


def alignment_notes(graph: Graph, target: Target, task: Task) -> list[str]:
    """Layers whose channel count misses the target's preferred multiple (the network's
    output, whose size is the class count, is left out)."""
    multiple = CHANNEL_ALIGNMENT.get(target.name)
    if multiple is None:
        return []
    off = []
    for node in graph:
        op = node.op
        feature = op.feature_width
        if feature is not None and node.name not in graph.outputs and feature[1] % multiple:
            off.append(f"{md_code(node.name)} ({feature[1]})")
    if not off:
        return [f"every convolution and dense layer has a multiple of {multiple} channels, as "
                f"the {target.title} prefers"]
    return [f"{len(off)} layer(s) have a channel count that is not a multiple of {multiple}, "
            f"which the {target.title} prefers: " + ", ".join(off[:12])
            + (", ..." if len(off) > 12 else "")]


def _memory_text(memory: TrainingMemory, batch: int, precision: str) -> str:
    """The training-step peak by tensor lifetimes (convplan.analysis.memory): what persists
    (weights, Adam's slots, the batch) plus the tensors live at the peak step, and the
    inference peak."""
    step = memory.peak_step
    where = f" at the {step.phase} step of {md_code(step.layer)}" if step is not None else ""
    return (f"training memory at the default per-replica batch of {batch} ({precision}, Adam, "
            f"{memory.convention} convention): a peak of about {human_bytes(memory.total)} "
            f"(weights {human_bytes(memory.weights)}, optimizer slots "
            f"{human_bytes(memory.optimizer_slots)}, the batch {human_bytes(memory.data)}, and "
            f"{human_bytes(memory.live)} of activations and gradients live{where}); inference "
            f"peak {human_bytes(memory.plan.inference_peak)}")


def plan_facts(graph: Graph, plan: Analysis, target: Target, task: Task) -> list[str]:
    """Bullet points for the README."""
    t = plan.totals
    precision = precision_for(target)
    memory = plan.training_memory(target.batch_size, precision, "adam")
    facts = [
        f"{len(plan.layers)} layers, {to_json(t.params):,} parameters "
        f"({to_json(t.trainable_params):,} trainable, {to_json(t.non_trainable_params):,} "
        "non-trainable)",
        f"{human(t.macs)} MACs and {human(t.flops)} FLOPs per example (MACs: multiply-"
        "accumulates of convolutions and dense layers, bias excluded; FLOPs: 2 x MACs plus "
        "every other operation)",
        f"output shape {md_code((None, *task.output_shape))}: "
        + (f"{task.num_classes} class scores" if task.kind == "classification"
           else f"{task.num_classes} class scores per pixel"),
        f"{_field_text(plan, task)}",
        _memory_text(memory, target.batch_size, precision),
    ]
    facts += alignment_notes(graph, target, task)
    facts += [f"note: {md_code(m.layer)} axis {m.axis + 1}: the paths into this merge see the "
              "input differently (see PLAN.md)" for m in plan.misalignments]
    return facts
