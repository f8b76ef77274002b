"""What every human-readable report shows, computed once: the table cells, the totals, the
formulas and the counting conventions. The text, Markdown and HTML formatters only lay it out.
"""

from __future__ import annotations

from dataclasses import dataclass

from convplan.analysis import Analysis
from convplan.analysis.analyze import BATCH
from convplan.analysis.arith import is_concrete, symbol
from convplan.options import BYTE_PREFIXES, NUMBER_PREFIXES, dtype_bytes
from convplan.report.formatting import (
    axes_text,
    exact,
    format_formula,
    human,
    human_bytes,
    shape_text,
)
from convplan.report.json_report import CONVENTIONS

HEADERS = ("layer", "op", "output shape", "params", "MACs", "FLOPs", "act. mem", "RF size",
           "RF stride")
LAYER_FORMULA_HEADERS = ("layer", "output shape", "params", "MACs", "RF size")
CONVENTION_LABELS = {"macs": "MACs", "flops": "FLOPs", "params": "params",
                     "receptive_field": "receptive field", "memory": "memory"}
AXIS_WORDS = {"L": "length", "D": "depth", "H": "height", "W": "width"}


@dataclass(frozen=True)
class Formula:
    label: str
    text: str
    unit: str = ""


@dataclass(frozen=True)
class Report:
    name: str
    setting: str  # input sizes, batch, dtype and optimizer, on one line
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    total: tuple[str, ...]
    facts: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]
    symbols: str  # what the formulas' symbols mean; empty without formulas
    formulas: tuple[Formula, ...]
    layer_formulas: tuple[tuple[str, ...], ...]
    conventions: tuple[tuple[str, str], ...]


def layer_rows(analysis: Analysis, batch: int | None, dtype: str) -> list[tuple[str, ...]]:
    """One row of HEADERS cells per layer, in topological order; numbers scaled by the batch."""
    compute, _ = dtype_bytes(dtype)
    scale = batch or 1
    out = []
    for layer in analysis.layers:
        field = layer.receptive_field
        out.append((
            layer.name, layer.op, shape_text(layer.output_shape, batch), human(layer.params),
            human(layer.macs * scale), human(layer.flops * scale),
            human_bytes(layer.activations * compute * scale),
            axes_text(a.size for a in field) if field else "-",
            axes_text(a.stride for a in field) if field else "-",
        ))
    return out


def total_row(analysis: Analysis, batch: int | None, dtype: str) -> tuple[str, ...]:
    compute, _ = dtype_bytes(dtype)
    scale = batch or 1
    t = analysis.totals
    return ("total", "", "", human(t.params), human(t.macs * scale), human(t.flops * scale),
            human_bytes(t.activations * compute * scale), "", "")


def describe_setting(analysis: Analysis, batch: int | None, dtype: str, optimizer: str) -> str:
    inputs = [f"{layer.name} {shape_text(layer.output_shape, batch)}"
              for layer in analysis.layers if layer.op == "InputLayer"]
    per = f"batch {batch}" if batch else "per example (batch 1)"
    return f"input {', '.join(inputs)}; {per}; {dtype}; {optimizer}"


def summary_facts(analysis: Analysis, batch: int | None, dtype: str,
                  optimizer: str) -> list[tuple[str, str]]:
    t = analysis.totals
    scale = batch or 1
    per = f"for batch {batch}" if batch else "per example"
    compute, _ = dtype_bytes(dtype)
    m = analysis.training_memory(scale, dtype, optimizer)
    def short(value) -> str:  # '(4.24M)' beside an exact count; nothing beside a formula
        return f" ({human(value)})" if is_concrete(value) else ""

    return [
        ("params", f"{exact(t.params)} (trainable {exact(t.trainable_params)}, "
                   f"non-trainable {exact(t.non_trainable_params)})"),
        ("MACs", f"{exact(t.macs * scale)} {per}{short(t.macs * scale)}"),
        ("FLOPs", f"{exact(t.flops * scale)} {per}{short(t.flops * scale)}"),
        ("activations", f"{exact(t.activations * scale)} elements {per} "
                        f"({human_bytes(t.activations * compute * scale)} in {dtype})"),
        ("training memory", f"{human_bytes(m.total)} peak at batch {scale} ({dtype}, "
                            f"{optimizer}, {m.convention} convention) = weights "
                            f"{human_bytes(m.weights)} + optimizer slots "
                            f"{human_bytes(m.optimizer_slots)} + batch {human_bytes(m.data)} + "
                            f"live tensors {human_bytes(m.live)}" + (
                                f" at {m.peak_step.phase} {m.peak_step.layer!r}"
                                if m.peak_step else "")),
    ]


def analysis_notes(analysis: Analysis) -> list[str]:
    notes = [f"{c.layer} needs {format_formula(c.left)} == {format_formula(c.right)} "
             f"(axis {c.axis + 1})" for c in analysis.conditions]
    notes += [f"{m.layer} axis {m.axis + 1}: {m.message}" for m in analysis.misalignments]
    return notes


def describe_symbols(symbolic: Analysis) -> str:
    """'H, W: input height and width; batch: examples per batch'."""
    names = list(symbolic.symbols)
    words = [AXIS_WORDS.get(n.split("_", 1)[0], "") for n in names]
    parts = []
    if names:
        known = [w for w in words if w]
        meaning = ("input " + " and ".join(known)) if len(known) == len(names) else "input sizes"
        parts.append(f"{', '.join(names)}: {meaning}")
    parts.append(f"{BATCH}: examples per batch")
    return "; ".join(parts)


def total_formulas(symbolic: Analysis, dtype: str, optimizer: str) -> list[Formula]:
    """Output shape, params, MACs, FLOPs, activations and training memory in the input size and
    the batch."""
    b = symbol(BATCH)
    t = symbolic.totals
    out = [Formula("output shape" + (f" ({name})" if len(symbolic.outputs) > 1 else ""),
                   shape_text(shape, BATCH))
           for name, shape in zip(symbolic.outputs, symbolic.output_shapes)]
    memory = symbolic.training_memory(b, dtype, optimizer)
    out += [
        Formula("params", format_formula(t.params)),
        Formula("MACs", format_formula(t.macs * b)),
        Formula("FLOPs", format_formula(t.flops * b)),
        Formula("activations", format_formula(t.activations * b), "elements"),
        Formula("training memory", format_formula(memory.total), f"bytes, {dtype}, {optimizer}"),
    ]
    return out


def layer_formula_rows(symbolic: Analysis) -> list[tuple[str, ...]]:
    rows = []
    for layer in symbolic.layers:
        field = layer.receptive_field
        rows.append((layer.name, shape_text(layer.output_shape, BATCH),
                     format_formula(layer.params), format_formula(layer.macs),
                     axes_text(a.size for a in field) if field else "-"))
    return rows


def conventions() -> list[tuple[str, str]]:
    out = [(CONVENTION_LABELS[key], text) for key, text in CONVENTIONS.items()]
    out.append(("numbers", f"{NUMBER_PREFIXES}; {BYTE_PREFIXES}"))
    return out


def build_report(analysis: Analysis, symbolic: Analysis | None, *, batch: int | None = None,
                 dtype: str = "float32", optimizer: str = "adam",
                 layer_formulas: bool = True) -> Report:
    """Everything a human-readable report shows, as text cells; `layer_formulas=False` leaves
    the per-layer formulas out (a report that does not print them: printing every layer's
    formulas is most of a formula report's time)."""
    return Report(
        name=analysis.name,
        setting=describe_setting(analysis, batch, dtype, optimizer),
        headers=HEADERS,
        rows=tuple(layer_rows(analysis, batch, dtype)),
        total=total_row(analysis, batch, dtype),
        facts=tuple(summary_facts(analysis, batch, dtype, optimizer)),
        notes=tuple(analysis_notes(analysis)),
        symbols=describe_symbols(symbolic) if symbolic is not None else "",
        formulas=tuple(total_formulas(symbolic, dtype, optimizer)) if symbolic is not None else (),
        layer_formulas=tuple(layer_formula_rows(symbolic))
        if symbolic is not None and layer_formulas else (),
        conventions=tuple(conventions()),
    )

