"""Time reports (`analyze --device`): per layer FLOPs, bytes, intensity, the bound that binds
and the time bounds, with the step's totals and images per second. Functions return text or
dicts; they never print."""

from __future__ import annotations

from typing import Any

from convplan.analysis.arith import to_json
from convplan.analysis.timing import TimePlan
from convplan.options import format_bytes, format_count

MODEL = ("lower = max(FLOPs / peak, bytes / bandwidth), upper = their sum, per layer as its "
         "own kernel; q = the tile and wave quantization its matrix FLOPs pay (docs/time.md)")


def format_seconds(value: float) -> str:
    """3 significant digits in s, ms, us or ns."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return "0 s" if value == 0 else f"{value / 1e-9:.3g} ns"


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def time_lines(plan: TimePlan, measured: bool = False, inference: TimePlan | None = None
               ) -> list[str]:
    """The per-layer table and the totals (`inference`: the forward pass's totals too, for a
    training plan)."""
    step = "training step" if plan.training else "forward pass"
    lines = [f"time on {plan.device} ({'measured' if measured else 'datasheet, never measured'})"
             f", {plan.dtype}, batch {plan.batch}, {step}", f"  {MODEL}"]
    header = (f"  {'layer':<26} {'op':<20} {'FLOPs':>8} {'bytes':>10} {'FLOP/B':>7} "
              f"{'bound':<7} {'lower':>9} {'upper':>9} {'q':>5}")
    lines += [header, "  " + "-" * (len(header) - 2)]
    for t in plan.layers:
        lines.append(
            f"  {t.name[:26]:<26} {t.op[:20]:<20} {format_count(t.flops):>8} "
            f"{format_bytes(t.bytes):>10} {t.intensity:>7.3g} {t.bound:<7} "
            f"{format_seconds(t.lower_s):>9} {format_seconds(t.upper_s):>9} "
            f"{t.quantization:>5.3g}")
    flops = sum(t.flops for t in plan.layers)
    nbytes = sum(t.bytes for t in plan.layers)
    lines.append("  " + "-" * (len(header) - 2))
    lines.append(f"  {'total':<47} {format_count(flops):>8} {format_bytes(nbytes):>10} "
                 f"{flops / nbytes if nbytes else 0:>7.3g} {'':<7} "
                 f"{format_seconds(plan.lower_s):>9} {format_seconds(plan.upper_s):>9}")
    if plan.training:
        lines.append(f"  optimizer update {format_seconds(plan.optimizer_s)} (memory-bound; in "
                     "both totals)")
    best, worst = plan.images_per_s
    lines.append(f"  {step}: {format_seconds(plan.lower_s)} to {format_seconds(plan.upper_s)}"
                 f", {_rate(worst)} to {_rate(best)} images/s; memory-bound layers "
                 f"{plan.memory_bound_share:.0%} of the lower bound")
    if inference is not None:
        best, worst = inference.images_per_s
        lines.append(f"  forward pass: {format_seconds(inference.lower_s)} to "
                     f"{format_seconds(inference.upper_s)}, {_rate(worst)} to {_rate(best)} "
                     "images/s")
    return lines


def _plan_json(plan: TimePlan) -> dict[str, Any]:
    best, worst = plan.images_per_s
    return {"lower_s": to_json(plan.lower_s), "upper_s": to_json(plan.upper_s),
            "images_per_s": {"from_lower": to_json(best), "from_upper": to_json(worst)},
            "optimizer_s": to_json(plan.optimizer_s),
            "memory_bound_share": to_json(plan.memory_bound_share)}


def time_json(plan: TimePlan, measured: bool = False, inference: TimePlan | None = None
              ) -> dict[str, Any]:
    """The document's "time" entry: the model, the device, per-layer rows and the totals."""
    doc: dict[str, Any] = {
        "model": MODEL, "device": plan.device, "measured": measured, "dtype": plan.dtype,
        "batch": to_json(plan.batch), "step": "training" if plan.training else "inference",
        "layers": [{"name": t.name, "op": t.op, "flops": to_json(t.flops),
                    "bytes": to_json(t.bytes), "intensity": to_json(t.intensity),
                    "bound": t.bound, "lower_s": to_json(t.lower_s),
                    "upper_s": to_json(t.upper_s), "compute_s": to_json(t.compute_s),
                    "memory_s": to_json(t.memory_s), "quantization": t.quantization}
                   for t in plan.layers],
        "totals": _plan_json(plan)}
    if inference is not None:
        doc["inference_totals"] = _plan_json(inference)
    return doc
