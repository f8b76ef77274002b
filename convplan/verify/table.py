"""Text and JSON renderings of a Verification; they return text and never print."""

from __future__ import annotations

import json
from typing import Any

from convplan.options import format_bytes
from convplan.verify.compare import Check, LayerCheck, Verification

HEADERS = ("layer", "op", "shape (plan)", "shape (TF)", "params (plan)", "params (TF)",
           "MACs (plan)", "MACs (TF)", "RF (plan)", "RF (TF)", "")


def _shape(value: Any) -> str:
    return "(None, " + ", ".join(str(d) for d in value) + ")" if value != "-" else "-"


def _pair(layer: LayerCheck, quantity: str) -> tuple[str, str]:
    check = layer.check(quantity)
    if check is None:
        return "-", "-"
    return str(check.plan), str(check.measured)


def _params(layer: LayerCheck) -> tuple[str, str]:
    t, n = layer.check("trainable_params"), layer.check("non_trainable_params")
    if t is None or n is None:
        return "0", "0"
    return str(t.plan + n.plan), str(t.measured + n.measured)


def row(layer: LayerCheck) -> tuple[str, ...]:
    shape = layer.check("output_shape")
    return (layer.name, layer.op, _shape(shape.plan), _shape(shape.measured), *_params(layer),
            *_pair(layer, "macs"), *_pair(layer, "receptive_field"),
            "ok" if layer.ok else "MISMATCH")


def render_text(result: Verification) -> str:
    rows = [HEADERS, *(row(layer) for layer in result.layers)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    mismatches = result.mismatches
    lines.append("")
    for name, check in mismatches:
        lines.append(f"mismatch: {name}: {check.quantity}: plan {check.plan}, TensorFlow "
                     f"{check.measured}" + (f" ({check.detail})" if check.detail else ""))
    lines.extend(f"note: {note}" for note in result.notes)
    checked = sum(len(layer.checks) for layer in result.layers)
    lines.append(f"{result.name}: {len(result.layers)} layers, {checked} checks, "
                 f"{len(mismatches)} mismatch(es)"
                 + ("" if mismatches else "; the plan matches TensorFlow"))
    lines.append(f"took {result.seconds:.1f} s; peak memory {format_bytes(result.peak_memory)} "
                 "(the process's, TensorFlow included)")
    lines.append("RF (TF): the widest field measured by forward impulses through a linearized "
                 "copy (equivalent to the gradient's support), clipped to the input")
    return "\n".join(lines) + "\n"


def _check_dict(check: Check) -> dict[str, Any]:
    plain = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731
    return {"quantity": check.quantity, "plan": plain(check.plan),
            "tensorflow": plain(check.measured), "ok": check.ok, "detail": check.detail}


def render_json(result: Verification) -> str:
    doc = {
        "name": result.name,
        "ok": result.ok,
        "mismatches": len(result.mismatches),
        "notes": list(result.notes),
        "seconds": round(result.seconds, 3),
        "peak_memory_bytes": result.peak_memory,
        "layers": [{"name": layer.name, "op": layer.op, "ok": layer.ok,
                    "checks": [_check_dict(c) for c in layer.checks]} for layer in result.layers],
    }
    return json.dumps(doc, indent=2) + "\n"
