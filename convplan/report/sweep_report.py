"""Sweep results as a table, CSV or JSON. Formatters return text and never print; CSV and
JSON come in pieces (`*_start`, `*_rows`, `*_end`) so a huge sweep can stream through them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from convplan.explore.run import SweepResult
from convplan.explore.sweep import Chunk, Sweep
from convplan.report.formatting import human, human_bytes

COUNTS = ("params", "trainable_params", "macs", "flops", "activations", "memory")
TABLE_METRICS = (("rf", "RF"), ("params", "params"), ("macs", "MACs"), ("flops", "FLOPs"),
                 ("memory", "train mem"))


def _output_label(sweep: Sweep, k: int) -> str:
    return "output" if len(sweep.output_names) == 1 else f"output:{sweep.output_names[k]}"


def _choice_texts(sweep: Sweep, chunk: Chunk) -> list[list[str]]:
    out = []
    for i, vary in enumerate(sweep.varies):
        texts = [vary.text(j) for j in range(len(vary.values))]
        out.append([texts[d] for d in chunk.columns[f"vary:{i}"].tolist()])
    return out


def _shape_texts(chunk: Chunk, k: int) -> list[str]:
    return ["x".join(map(str, dims)) for dims in chunk.columns[f"output:{k}"].tolist()]


def _metric_values(chunk: Chunk, name: str) -> list[int | float]:
    """A metric column as Python numbers, whole floats as ints: a column that holds one
    fractional rf (or concatenates chunks that do) is float64, and its 339.0 is 339."""
    values = chunk.columns[name].tolist()
    if chunk.columns[name].dtype.kind != "f":
        return values
    return [int(v) if v.is_integer() else v for v in values]


def _invalid_text(sweep: Sweep, chunk: Chunk) -> list[str]:
    return [sweep.messages[c] for c in chunk.columns["error"].tolist()]


# -- table ------------------------------------------------------------------------------

def _table_rows(sweep: Sweep, chunk: Chunk) -> tuple[list[str], list[list[str]]]:
    headers = [v.label for v in sweep.varies]
    headers += [_output_label(sweep, k) for k in range(len(sweep.output_ranks))]
    metrics = [(c, h) for c, h in TABLE_METRICS if c != "rf" or sweep.has_rf]
    headers += [h for _, h in metrics]
    columns = _choice_texts(sweep, chunk)
    valid = chunk.columns["valid"].tolist()
    columns += [_shape_texts(chunk, k) for k in range(len(sweep.output_ranks))]
    for name, _ in metrics:
        fmt = human_bytes if name == "memory" else human
        columns.append([fmt(v) for v in _metric_values(chunk, name)])
    rows = [list(r) for r in zip(*columns)] if columns else []
    errors = _invalid_text(sweep, chunk)
    first_metric = len(sweep.varies)
    for r, ok, error in zip(rows, valid, errors):
        if not ok:
            r[first_metric:] = ["-"] * (len(r) - first_metric)
            r[-1] = f"invalid: {error}"
    return headers, rows


def _align(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows if not r[i].startswith("invalid")])
              for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i < left or c.startswith("invalid") else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(headers), "  ".join("-" * w for w in widths)]
                     + [line(r) for r in rows])


def summary_lines(sweep: Sweep, result: SweepResult, mode: str, shown: int) -> list[str]:
    """What was swept, how much was valid, why the rest was not, and what is shown."""
    o = sweep.options
    rate = result.total / result.seconds if result.seconds > 0 else float("inf")
    speed = f" ({human(int(rate))} per s)" if result.total >= 10_000 else ""
    lines = [
        f"{result.total:,} combinations: {sweep.numeric_count:,} numeric (evaluated from the "
        f"formulas) x {sweep.categorical_count:,} categorical ({result.derivations} "
        f"derivation{'s' if result.derivations != 1 else ''}), in {result.seconds:.2f} s{speed}",
        f"valid: {result.valid:,}; passed the filters: {result.matched:,}",
    ]
    for message, count in result.invalid[:5]:
        lines.append(f"invalid: {count:,} x {message}")
    if len(result.invalid) > 5:
        lines.append(f"invalid: {sum(n for _, n in result.invalid[5:]):,} for "
                     f"{len(result.invalid) - 5} other reasons")
    lines.append(f"showing {shown:,} {mode}")
    lines.append(f"per example; train mem: training-memory estimate at batch {o.batch}, {o.dtype}, "
                 f"{o.optimizer}" + ("; RF: receptive field of the deepest spatial layer "
                                     "(smallest axis)" if sweep.has_rf else ""))
    return lines


def render_sweep_table(sweep: Sweep, result: SweepResult, rows: Chunk | None, mode: str) -> str:
    headers, body = _table_rows(sweep, rows) if rows is not None and len(rows) else (None, [])
    parts = [sweep.graph.name]
    if headers is not None:
        parts.append(_align(headers, body, len(sweep.varies) + len(sweep.output_ranks)))
    else:
        parts.append("(no rows)")
    parts.append("")
    parts += summary_lines(sweep, result, mode, len(body))
    return "\n".join(parts) + "\n"


# -- CSV --------------------------------------------------------------------------------

def _csv_cell(text: str) -> str:
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_header(sweep: Sweep) -> str:
    names = [v.label for v in sweep.varies]
    names += [_output_label(sweep, k) for k in range(len(sweep.output_ranks))]
    names += ["rf"] if sweep.has_rf else []
    names += [*COUNTS, "valid", "error"]
    return ",".join(_csv_cell(n) for n in names) + "\n"


def csv_rows(sweep: Sweep, chunk: Chunk) -> str:
    if not len(chunk):
        return ""
    columns = _choice_texts(sweep, chunk)
    columns += [_shape_texts(chunk, k) for k in range(len(sweep.output_ranks))]
    valid = chunk.columns["valid"]
    numeric = (["rf"] if sweep.has_rf else []) + list(COUNTS)
    every = bool(valid.all())
    for name in numeric:
        values = list(map(str, _metric_values(chunk, name)))
        if not every:
            values = [v if ok else "" for v, ok in zip(values, valid.tolist())]
        columns.append(values)
    columns.append(["true" if ok else "false" for ok in valid.tolist()])
    messages = [_csv_cell(m) for m in sweep.messages]
    columns.append([messages[c] for c in chunk.columns["error"].tolist()])
    return "".join(",".join(r) + "\n" for r in zip(*columns))


# -- JSON -------------------------------------------------------------------------------

def json_start(sweep: Sweep) -> str:
    o = sweep.options
    head = {
        "spec": sweep.graph.name,
        "varies": [{"name": v.label, "layers": list(v.layers), "attribute": v.attribute,
                    "values": [_json_value(x) for x in v.values],
                    "evaluation": "formula" if v.numeric else "enumerated"} for v in sweep.varies],
        "combinations": sweep.total,
        "conventions": {"per": "example", "memory": f"training-memory estimate in bytes at batch "
                        f"{o.batch}, {o.dtype}, {o.optimizer}", "rf": "receptive field of the "
                        "deepest spatial layer, the smallest over the spatial axes"},
    }
    text = json.dumps(head, indent=2)
    return text[:-2] + ',\n  "rows": ['


def _json_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def json_rows(sweep: Sweep, chunk: Chunk, first: bool) -> str:
    if not len(chunk):
        return ""
    choices = [[_json_value(v.values[d]) for d in chunk.columns[f"vary:{i}"].tolist()]
               for i, v in enumerate(sweep.varies)]
    metrics = (["rf"] if sweep.has_rf else []) + list(COUNTS)
    values = {m: _metric_values(chunk, m) for m in metrics}
    shapes = [chunk.columns[f"output:{k}"].tolist() for k in range(len(sweep.output_ranks))]
    valid = chunk.columns["valid"].tolist()
    errors = _invalid_text(sweep, chunk)
    pieces = []
    for j in range(len(chunk)):
        row: dict[str, Any] = {v.label: choices[i][j] for i, v in enumerate(sweep.varies)}
        row["valid"] = valid[j]
        if valid[j]:
            row["output_shapes"] = [[None, *s[j]] for s in shapes]
            row.update({m: values[m][j] for m in metrics})
        else:
            row["error"] = errors[j]
        pieces.append(json.dumps(row, separators=(", ", ": ")))
    return ("\n    " if first else ",\n    ") + ",\n    ".join(pieces)


def json_end(sweep: Sweep, result: SweepResult, pareto: Sequence[tuple[str, int]] | None) -> str:
    tail = {"valid": result.valid, "matched": result.matched,
            "invalid": {m: n for m, n in result.invalid},
            "pareto": [("-" if s < 0 else "") + n for n, s in pareto] if pareto else None,
            "seconds": round(result.seconds, 3), "derivations": result.derivations}
    body = json.dumps(tail, indent=2)[2:-2]
    return "\n  ],\n" + body + "\n}\n"
