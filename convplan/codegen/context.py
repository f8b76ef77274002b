"""Everything the templates print, computed here (the templates hold no arithmetic).

`build_context` returns a flat dict of strings, booleans and lists of strings: Python values
are already literals (`py_literal`), Markdown text is already escaped (`md_text`/`md_code`),
and every number is already formatted. Nothing in it depends on the clock, the machine or
the path the spec was read from (only its file name), so the same spec and convplan version
give byte-identical projects.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from convplan import __version__
from convplan.analysis import Analysis
from convplan.codegen.datasets import KERAS_DATASETS
from convplan.codegen.literals import md_code, md_text, py_assignment, py_literal
from convplan.codegen.model_code import model_io, model_lines
from convplan.codegen.plan_summary import plan_facts, precision_for
from convplan.codegen.targets import TARGETS, Target
from convplan.codegen.task import Task, choose_dataset, detect_task
from convplan.ir import ops as O
from convplan.ir.graph import Graph


def first_conv(graph: Graph, order: Sequence[str]) -> str | None:
    """The first convolution whose output keeps (height, width, channels): its feature maps are
    what visualize.py draws (the seed's visualization)."""
    for name in order:
        op = graph[name].op
        if isinstance(op, O.Windowed) and op.spatial_rank == 2:
            return name
    return None


def training_defaults(target: Target, task: Task, dataset: str) -> dict[str, Any]:
    return {
        "default_batch_size": str(target.batch_size),
        "default_steps_per_execution": str(target.steps_per_execution),
        "drop_remainder": py_literal(target.drop_remainder),
        "default_tpu": py_literal(target.tpu_default),
        "target_literal": py_literal(target.name),
        "gpu_target": py_literal(target.name in ("gpu", "multi-gpu")),
        "default_label_smoothing": py_literal(0.0 if task.kind == "segmentation" else 0.1),
        "requirements": list(target.requirements),
        "tensorflow_required": target.tensorflow_requirement is not None,
        "preferred_backend": target.backend,
        # The policy the target's accelerator gets; bfloat16 for CPU targets, so the tests run
        # a mixed policy on every target.
        "test_precision": py_literal({"float32": "mixed_bfloat16"}.get(precision_for(target),
                                                                      precision_for(target))),
        "default_dataset": py_literal(dataset),
        "default_dataset_md": md_code(dataset),
        "datasets": py_literal(task.datasets),
        "datasets_md": ", ".join(md_code(d) for d in task.datasets),
        "keras_datasets": [d for d in task.datasets if d in KERAS_DATASETS],
        "loss_class": task.loss_class,
        "metric_class": task.metric_class,
        "from_logits": py_literal(task.from_logits),
        "accuracy_threshold": py_literal(0.0 if task.from_logits else 0.5),
    }


def adds_operations(graph: Graph) -> bool:
    """Whether the built model holds keras.ops nodes Keras names itself: a keras.ops call's, or
    those that compute a mask (Masking, Embedding with mask_zero) for the layers after it.
    model.py then renames those that took a layer's name (keras.Model refuses a name twice)."""
    return any(isinstance(node.op, (O.Masking, O.KerasOperation))
               or isinstance(node.op, O.Embedding) and node.op.mask_zero for node in graph)


def build_context(graph: Graph, plan: Analysis, target: Target, dataset: str | None,
                  plan_json: str, plan_md: str) -> dict[str, Any]:
    order = graph.topological_order()
    task = detect_task(graph, plan)
    chosen = choose_dataset(task, dataset)
    code = model_lines(graph, order, {task.input_name: task.input_shape})
    inputs_expr, outputs_expr = model_io(graph, code)
    conv = first_conv(graph, order)
    spec_file = Path(graph.source or "spec").name
    description = getattr(graph, "description", None) or ""
    h, w, c = task.input_shape
    return {
        "convplan_version": __version__,
        "name": py_literal(graph.name),
        "name_assignment": py_assignment("NAME", graph.name),
        "description_assignment": py_assignment("DESCRIPTION", description),
        "name_md": md_code(graph.name),
        "description_md": md_text(description),
        "spec_file_md": md_code(spec_file),
        "target_name": target.name,
        "target_title": target.title,
        "target_summary": target.summary,
        "target_summary_wrapped": textwrap.fill(f"Defaults are those of the {target.name} "
                                                f"target: {target.summary}.", 96),
        "targets": [{"name": t.name, "title": t.title,
                     "sentence": t.summary[0].upper() + t.summary[1:] + ".",
                     "backend": t.backend, "backend_reason": t.backend_reason + "."}
                    for t in TARGETS.values()],
        "precision": precision_for(target),
        "task": task.kind,
        "task_literal": py_literal(task.kind),
        "segmentation": task.kind == "segmentation",
        "binary": task.binary,
        "input_shape": py_literal(task.input_shape),
        "input_shape_md": md_code((None, h, w, c)),
        "input_shape_text": str((None, h, w, c)),
        "augment_choices": py_literal(("none",) if task.kind == "segmentation"
                                      else ("none", "translate", "flip")),
        "multi_worker": target.name == "multi-worker",
        "image_size_md": f"{h}x{w}",
        "channels": str(c),
        "num_classes": str(task.num_classes),
        "color_mode": py_literal(task.color_mode),
        "layers": code,
        "layer_count": str(len(code)),
        "model_inputs": inputs_expr,
        "model_outputs": outputs_expr,
        "adds_operations": adds_operations(graph),
        "output_layer": py_literal(task.output_name),
        "first_conv": py_literal(conv),
        "plan_facts": plan_facts(graph, plan, target, task),
        "plan_json": plan_json,
        "plan_md": plan_md,
        **training_defaults(target, task, chosen),
    }
