"""Per-layer table with totals, as plain text or Markdown, plus the formulas."""

from __future__ import annotations

import html as html_lib

from convplan.analysis import Analysis
from convplan.analysis.arith import Value, to_json
from convplan.analysis.memory import dtype_bytes
from convplan.report.json_report import CONVENTIONS

HEADERS = ("layer", "op", "output shape", "params", "MACs", "FLOPs", "act. mem", "RF size",
           "RF stride")


def human(value: Value, unit: str = "") -> str:
    """1234567 -> '1.23M'; symbolic values are printed as formulas."""
    value = to_json(value)
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    for factor, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}{unit}"
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def human_bytes(value: Value) -> str:
    value = to_json(value)
    if isinstance(value, str):
        return value + " B"
    for factor, suffix in ((2**40, "TiB"), (2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= factor:
            return f"{value / factor:.3g} {suffix}"
    return f"{value} B"


def shape_text(shape, batch: int | None = None) -> str:
    dims = ["None" if batch is None else str(batch)] + [str(to_json(d)) for d in shape]
    return "(" + ", ".join(dims) + ")"


def _axes(values) -> str:
    parts = [str(to_json(v)) for v in values]
    return "x".join(parts) if len(set(parts)) > 1 else parts[0]


def rows(analysis: Analysis, batch: int | None, dtype: str) -> list[tuple[str, ...]]:
    compute, _ = dtype_bytes(dtype)
    scale = batch or 1
    out = []
    for layer in analysis.layers:
        field = layer.receptive_field
        out.append((
            layer.name, layer.op, shape_text(layer.output_shape, batch), human(layer.params),
            human(layer.macs * scale), human(layer.flops * scale),
            human_bytes(layer.activations * compute * scale),
            _axes(a.size for a in field) if field else "-",
            _axes(a.stride for a in field) if field else "-",
        ))
    t = analysis.totals
    out.append(("total", "", "", human(t.params), human(t.macs * scale), human(t.flops * scale),
                human_bytes(t.activations * compute * scale), "", ""))
    return out


def _summary_lines(analysis: Analysis, symbolic: Analysis | None, batch: int | None,
                   dtype: str, optimizer: str) -> list[str]:
    t = analysis.totals
    m = analysis.training_memory(batch or 1, dtype, optimizer)
    lines = [
        f"params: {to_json(t.params):,} (trainable {to_json(t.trainable_params):,}, "
        f"non-trainable {to_json(t.non_trainable_params):,})" if analysis.is_concrete else
        f"params: {to_json(t.params)}",
        f"training memory at batch {batch or 1} ({dtype}, {optimizer}): {human_bytes(m.total)} "
        f"= weights {human_bytes(m.weights)} + gradients {human_bytes(m.gradients)} + optimizer "
        f"{human_bytes(m.optimizer_slots)} + activations {human_bytes(m.activations)}",
    ]
    for c in analysis.conditions:
        lines.append(f"note: {c.layer} needs {to_json(c.left)} == {to_json(c.right)} "
                     f"(axis {c.axis + 1})")
    for mis in analysis.misalignments:
        lines.append(f"note: {mis.layer} axis {mis.axis + 1}: {mis.message}")
    if symbolic is not None:
        s = symbolic.totals
        lines.append("formulas (per example, in " + ", ".join(symbolic.symbols or ["-"]) + "):")
        lines.append(f"  output shape = {shape_text(symbolic.output_shapes[0])}")
        lines.append(f"  params = {to_json(s.params)}")
        lines.append(f"  MACs = {to_json(s.macs)}")
        lines.append(f"  FLOPs = {to_json(s.flops)}")
        lines.append(f"  activations = {to_json(s.activations)} elements")
    lines.append("conventions: " + "; ".join(f"{k}: {v}" for k, v in CONVENTIONS.items()))
    return lines


def _plain(table: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [HEADERS, *table]) for i in range(len(HEADERS))]
    def fmt(r):
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    lines = [fmt(HEADERS), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in table[:-1]]
    lines += ["  ".join("-" * w for w in widths), fmt(table[-1])]
    return "\n".join(lines)


def _markdown(table: list[tuple[str, ...]]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")
    lines = ["| " + " | ".join(HEADERS) + " |",
             "|" + "|".join("---" if i < 3 else "---:" for i in range(len(HEADERS))) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in table]
    return "\n".join(lines)


def _html(table: list[tuple[str, ...]], summary: list[str], title: str) -> str:
    e = html_lib.escape
    head = "".join(f"<th>{e(h)}</th>" for h in HEADERS)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in table)
    notes = "".join(f"<li>{e(s)}</li>" for s in summary)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
            "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}"
            "td:nth-child(-n+3),th:nth-child(-n+3){text-align:left}</style></head><body>"
            f"<h1>{e(title)}</h1><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
            f"</table><ul>{notes}</ul></body></html>\n")


def render_table(analysis: Analysis, symbolic: Analysis | None, *, batch: int | None,
                 dtype: str, optimizer: str, markdown: bool = False, html: bool = False) -> str:
    table = rows(analysis, batch, dtype)
    summary = _summary_lines(analysis, symbolic, batch, dtype, optimizer)
    if html:
        return _html(table, summary, f"convplan: {analysis.name}")
    if markdown:
        return (f"## {analysis.name}\n\n" + _markdown(table) + "\n\n"
                + "\n".join(f"- {s}" for s in summary) + "\n")
    return f"{analysis.name}\n" + _plain(table) + "\n\n" + "\n".join(summary) + "\n"
