"""The `analyze --format json` document: a stable contract.

Top level: `output_shape` (batch axis null unless --batch), `totals` (params,
trainable_params, non_trainable_params, macs, flops, activations), `layers` in topological
order, `memory`, `diagnostics`, and `symbolic` (formulas in the input size and batch).
Numbers are per example unless a batch is given; values that stay symbolic are strings.
"""

from __future__ import annotations

import json
from typing import Any

from convplan import __version__
from convplan.analysis import Analysis
from convplan.analysis.analyze import BATCH
from convplan.analysis.arith import Value, symbol, to_json
from convplan.options import dtype_bytes

CONVENTIONS = {
    "macs": "multiply-accumulates of convolutions (all kinds) and Dense layers, bias excluded",
    "flops": "2 x MACs plus every other arithmetic operation (bias, normalization, "
             "activations, pooling, merges); per-op counts in docs/counting.md",
    "params": "trainable and non-trainable (BatchNormalization moving statistics), as Keras "
              "counts them",
    "receptive_field": "per spatial axis: size, stride (jump between outputs) and start (input "
                       "coordinate seen first by output 0) in input pixels",
    "memory": "training peak by tensor lifetimes (docs/memory.md): weights + optimizer slots + "
              "the batch + the largest set of tensors live at one step (kept for the backward "
              "pass, gradients, workspace), in the stated convention",
}


def _shape(shape, batch: Value | None) -> list:
    return [to_json(batch)] + [to_json(d) for d in shape]


def _field(field) -> dict | None:
    """size, stride and start per axis; `phases` per axis: null where output i sees
    [start + i * stride, start + i * stride + size - 1], else one [first, last] offset from
    start per output of a period (null for an output that sees nothing; docs/receptive-field.md)."""
    if field is None:
        return None
    result = {key: [to_json(getattr(axis, key)) for axis in field]
              for key in ("size", "stride", "start")}
    result["phases"] = [[None if ph is None else [to_json(ph[0]), to_json(ph[1])]
                         for ph in axis.phases] or None for axis in field]
    return result


def _scaled(value: Value, batch: Value | None) -> Any:
    return to_json(value if batch is None else value * batch)


def layer_dict(layer, batch: Value | None) -> dict[str, Any]:
    return {
        "name": layer.name,
        "op": layer.op,
        "inputs": list(layer.inputs),
        "output_shape": _shape(layer.output_shape, batch),
        "params": to_json(layer.params),
        "trainable_params": to_json(layer.trainable_params),
        "non_trainable_params": to_json(layer.non_trainable_params),
        "macs": _scaled(layer.macs, batch),
        "flops": _scaled(layer.flops, batch),
        "activations": _scaled(layer.activations, batch),
        "receptive_field": _field(layer.receptive_field),
    }


def totals_dict(analysis: Analysis, batch: Value | None) -> dict[str, Any]:
    t = analysis.totals
    return {
        "params": to_json(t.params),
        "trainable_params": to_json(t.trainable_params),
        "non_trainable_params": to_json(t.non_trainable_params),
        "macs": _scaled(t.macs, batch),
        "flops": _scaled(t.flops, batch),
        "activations": _scaled(t.activations, batch),
    }


def memory_dict(analysis: Analysis, batch: Value, dtype: str, optimizer: str) -> dict[str, Any]:
    m = analysis.training_memory(batch, dtype, optimizer)
    compute, _ = dtype_bytes(dtype)
    return {
        "batch": to_json(batch), "dtype": dtype, "optimizer": optimizer,
        "activation_bytes_per_example": to_json(analysis.totals.activations * compute),
        "convention": m.convention,
        "weights_bytes": to_json(m.weights), "gradients_bytes": to_json(m.gradients),
        "optimizer_bytes": to_json(m.optimizer_slots), "batch_bytes": to_json(m.data),
        "activations_bytes": to_json(m.activations), "live_bytes": to_json(m.live),
        "total_bytes": to_json(m.total),
        "inference_bytes": to_json(m.plan.inference_peak),
        "peak_step": None if m.peak_step is None else
        {"phase": m.peak_step.phase, "layer": m.peak_step.layer},
    }


def symbolic_dict(symbolic: Analysis, dtype: str, optimizer: str) -> dict[str, Any]:
    b = symbol(BATCH)
    t = symbolic.totals
    memory = symbolic.training_memory(b, dtype, optimizer)
    return {
        "symbols": [*symbolic.symbols, BATCH],
        "output_shape": _shape(symbolic.output_shapes[0], b),
        "totals": {
            "params": to_json(t.params),
            "trainable_params": to_json(t.trainable_params),
            "non_trainable_params": to_json(t.non_trainable_params),
            "macs": to_json(t.macs * b),
            "flops": to_json(t.flops * b),
            "activations": to_json(t.activations * b),
            "training_memory_bytes": to_json(memory.total),
        },
        "layers": {
            layer.name: {
                "output_shape": _shape(layer.output_shape, b),
                "params": to_json(layer.params),
                "macs": to_json(layer.macs),
                "flops": to_json(layer.flops),
            }
            for layer in symbolic.layers
        },
    }


def diagnostics_dict(analysis: Analysis) -> dict[str, Any]:
    return {
        "shape_conditions": [
            {"layer": c.layer, "axis": c.axis + 1, "condition": f"{to_json(c.left)} == "
             f"{to_json(c.right)}"} for c in analysis.conditions],
        "misaligned_paths": [
            {"layer": m.layer, "axis": m.axis + 1, "message": m.message}
            for m in analysis.misalignments],
    }


def analysis_document(analysis: Analysis, symbolic: Analysis | None, *, batch: int | None = None,
                      dtype: str = "float32", optimizer: str = "adam",
                      input_size: tuple[int, ...] | None = None) -> dict[str, Any]:
    outputs = {name: _shape(shape, batch)
               for name, shape in zip(analysis.outputs, analysis.output_shapes)}
    doc: dict[str, Any] = {
        "convplan_version": __version__,
        "name": analysis.name,
        "input_size": list(input_size) if input_size else None,
        "batch": batch,
        "conventions": CONVENTIONS,
        "output_shape": next(iter(outputs.values())),
        "output_shapes": outputs,
        "totals": totals_dict(analysis, batch),
        "memory": memory_dict(analysis, batch or 1, dtype, optimizer),
        "layers": [layer_dict(layer, batch) for layer in analysis.layers],
        "diagnostics": diagnostics_dict(analysis),
    }
    if symbolic is not None:
        doc["symbolic"] = symbolic_dict(symbolic, dtype, optimizer)
    return doc


def render_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"
