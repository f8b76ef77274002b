"""Sweep results as a table, CSV or JSON. Formatters return text and never print; CSV and
JSON come in pieces (`*_start`, `*_rows`, `*_end`) so a huge sweep can stream through them.

CSV and JSON rows are formatted a chunk at a time without Python per row (`_Rows`): every
field becomes a byte matrix, one row per combination, padded with NUL bytes (decimal digits
of an integer column computed with vectorized division; one of a few strings, such as a
choice or an error message, picked from a table by index), the fields are laid side by side,
and dropping the NULs leaves the text, byte for byte what `json.dumps` and `str` print.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from convplan.explore.run import SweepResult
from convplan.explore.sweep import Chunk, Sweep
from convplan.report.formatting import human, human_bytes

COUNTS = ("params", "trainable_params", "macs", "flops", "activations", "memory")
TABLE_METRICS = (("rf", "RF"), ("params", "params"), ("macs", "MACs"), ("flops", "FLOPs"),
                 ("memory", "train mem"), ("time", "step time"))
TIMES = ("time", "time_upper")  # seconds, with a --device


def format_seconds(value: float) -> str:
    """0.01234 -> '12.3 ms': three significant digits in s, ms, us or ns."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns" if value else "0 s"


def _time_text(sweep: Sweep, chunk: Chunk) -> list[str]:
    """'lower - upper' of the training step per row."""
    return [f"{format_seconds(lo)} - {format_seconds(hi)}" for lo, hi in
            zip(chunk.columns["time"].tolist(), chunk.columns["time_upper"].tolist())]


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
    metrics = [(c, h) for c, h in TABLE_METRICS
               if (c != "rf" or sweep.has_rf) and (c != "time" or sweep.has_time)]
    headers += [h for _, h in metrics]
    columns = _choice_texts(sweep, chunk)
    valid = chunk.columns["valid"].tolist()
    columns += [_shape_texts(chunk, k) for k in range(len(sweep.output_ranks))]
    for name, _ in metrics:
        if name == "time":
            columns.append(_time_text(sweep, chunk))
            continue
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
    lines.append(f"per example; train mem: training-memory peak (tensor lifetimes, fused "
                 f"convention) at batch {o.batch}, {o.dtype}, {o.optimizer}"
                 + ("; RF: receptive field of the deepest spatial layer (smallest axis)"
                    if sweep.has_rf else ""))
    if sweep.has_time:
        lines.append(f"step time: training step's lower - upper bound on {sweep.device.name} at "
                     f"batch {o.batch}, {o.dtype} (max / sum of each layer's compute and memory "
                     "time; docs/time.md); time = the lower bound")
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
    names += [*COUNTS, *(TIMES if sweep.has_time else ()), "valid", "error"]
    return ",".join(_csv_cell(n) for n in names) + "\n"


def csv_rows(sweep: Sweep, chunk: Chunk) -> str:
    return csv_rows_data(sweep, chunk).decode()


def csv_rows_data(sweep: Sweep, chunk: Chunk) -> bytes:
    """The chunk's CSV rows as UTF-8 bytes (what `csv_rows` decodes)."""
    return b"".join(csv_row_pieces(sweep, chunk))


def csv_row_pieces(sweep: Sweep, chunk: Chunk) -> Iterator[bytes]:
    """The chunk's CSV rows as UTF-8 bytes, a slice of rows at a time (written as they come:
    no copy to join them)."""
    choices = _choice_tables(sweep, "csv")
    messages = [_csv_cell(m) for m in sweep.messages]
    for part in _slices(chunk):
        yield _csv_slice(sweep, part, choices, messages)


def _choice_tables(sweep: Sweep, fmt: str) -> list[list[str]]:
    """Each vary's values as CSV cells or JSON texts, made once per sweep (the last sweep's
    kept: a sweep's chunks all ask)."""
    if _CHOICES and _CHOICES[0] is sweep and fmt in _CHOICES[1]:
        return _CHOICES[1][fmt]
    if fmt == "csv":
        tables = [[vary.text(j) for j in range(len(vary.values))] for vary in sweep.varies]
    else:
        tables = [[_dump(_json_value(x)) for x in vary.values] for vary in sweep.varies]
    if not _CHOICES or _CHOICES[0] is not sweep:
        _CHOICES[:] = [sweep, {}]
    _CHOICES[1][fmt] = tables
    return tables


_CHOICES: list[Any] = []  # [sweep, {format: tables}]: one sweep kept alive, the last one


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "))


def _slices(chunk: Chunk) -> list[Chunk]:
    """The chunk in slices of SLICE_ROWS rows, formatted one at a time: a slice's word matrix
    (a few MB) stays in the cache through the field-by-field passes over it (JSON rows 10%
    faster quiet than 65,536 rows at a time, more with other jobs contending for memory)."""
    n = len(chunk)
    if n <= SLICE_ROWS:
        return [chunk]
    return [Chunk({k: v[a:a + SLICE_ROWS] for k, v in chunk.columns.items()})
            for a in range(0, n, SLICE_ROWS)]


def _csv_slice(sweep: Sweep, chunk: Chunk, choices: list[list[str]], messages: list[str]
               ) -> bytes:
    if not len(chunk):
        return b""
    cols = chunk.columns
    rows = _Rows(len(chunk))
    for i in range(len(sweep.varies)):
        rows.pick(choices[i], cols[f"vary:{i}"])
        rows.literal(",")
    for k in range(len(sweep.output_ranks)):
        dims = cols[f"output:{k}"]
        for axis in range(dims.shape[1]):
            if axis:
                rows.literal("x")
            rows.integers(dims[:, axis])
        rows.literal(",")
    valid = cols["valid"]
    shown = None if valid.all() else valid  # an invalid row's metrics are empty cells
    for name in (["rf"] if sweep.has_rf else []) + list(COUNTS):
        rows.metric(cols[name], shown, str)
        rows.literal(",")
    for name in TIMES if sweep.has_time else ():
        rows.pick_texts(cols[name], cols["valid"], repr)
        rows.literal(",")
    rows.pick(["false", "true"], valid)
    rows.literal(",")
    rows.pick(messages, cols["error"])
    rows.literal("\n")
    return rows.data()


# -- JSON -------------------------------------------------------------------------------

def json_start(sweep: Sweep) -> str:
    o = sweep.options
    head = {
        "spec": sweep.graph.name,
        "varies": [{"name": v.label, "layers": list(v.layers), "attribute": v.attribute,
                    "values": [_json_value(x) for x in v.values],
                    "evaluation": "formula" if v.numeric else "enumerated"} for v in sweep.varies],
        "combinations": sweep.total,
        "conventions": {"per": "example", "memory": "training-memory peak in bytes (tensor "
                        f"lifetimes, fused convention) at batch {o.batch}, {o.dtype}, "
                        f"{o.optimizer}", "rf": "receptive field of the deepest spatial layer, "
                        "the smallest over the spatial axes"},
    }
    if sweep.has_time:
        head["conventions"]["time"] = (f"training step's lower and upper time bound in seconds "
                                       f"(time, time_upper) on {sweep.device.name} at batch "
                                       f"{o.batch}, {o.dtype}")
    text = json.dumps(head, indent=2)
    return text[:-2] + ',\n  "rows": ['


def _json_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def json_rows(sweep: Sweep, chunk: Chunk, first: bool) -> str:
    """The rows as `json.dumps(row, separators=(", ", ": "))` prints each, joined by
    ',\n    ' (a first chunk starts with '\n    ', a later one with ',\n    ')."""
    return json_rows_data(sweep, chunk, first).decode()


def json_rows_data(sweep: Sweep, chunk: Chunk, first: bool) -> bytes:
    """The chunk's JSON rows as UTF-8 bytes (what `json_rows` decodes; ASCII, as json.dumps
    escapes the rest)."""
    return b"".join(json_row_pieces(sweep, chunk, first))


def json_row_pieces(sweep: Sweep, chunk: Chunk, first: bool) -> Iterator[bytes]:
    """The chunk's JSON rows as bytes, a slice of rows at a time (see csv_row_pieces)."""
    choices = _choice_tables(sweep, "json")
    messages = [_dump(m) for m in sweep.messages]
    for k, part in enumerate(_slices(chunk)):
        yield _json_slice(sweep, part, first and not k, choices, messages)


def _json_slice(sweep: Sweep, chunk: Chunk, first: bool, choices: list[list[str]],
                messages: list[str]) -> bytes:
    if not len(chunk):
        return b""
    cols = chunk.columns
    dump = _dump
    rows = _Rows(len(chunk))
    rows.literal(",\n    {")
    # as a dict would hold them: one key per label, in first-seen order, the last value
    last = {v.label: i for i, v in enumerate(sweep.varies)}
    for n, (label, i) in enumerate(last.items()):
        rows.literal((", " if n else "") + dump(label) + ": ")
        rows.pick(choices[i], cols[f"vary:{i}"])
    valid = cols["valid"]
    invalid = ~valid
    rows.literal(", " if last else "")
    rows.pick(['"valid": false, "error": ', '"valid": true'], valid)
    rows.pick(messages, cols["error"], invalid)
    rows.literal(', "output_shapes": [', valid)
    for k in range(len(sweep.output_ranks)):
        dims = cols[f"output:{k}"]
        rows.literal((", " if k else "") + "[null", valid)
        for axis in range(dims.shape[1]):
            rows.literal(", ", valid)
            rows.integers(dims[:, axis], valid)
        rows.literal("]", valid)
    rows.literal("]", valid)
    for name in (["rf"] if sweep.has_rf else []) + list(COUNTS):
        rows.literal(f", {dump(name)}: ", valid)
        rows.metric(cols[name], valid, repr)
    for name in TIMES if sweep.has_time else ():
        rows.literal(f", {dump(name)}: ", valid)
        rows.pick_texts(cols[name], valid, repr)
    rows.literal("}")
    data = rows.data()
    return data[1:] if first else data  # the first row of all starts without a comma


def json_end(sweep: Sweep, result: SweepResult, pareto: Sequence[tuple[str, int]] | None) -> str:
    tail = {"valid": result.valid, "matched": result.matched,
            "invalid": {m: n for m, n in result.invalid},
            "pareto": [("-" if s < 0 else "") + n for n, s in pareto] if pareto else None,
            "seconds": round(result.seconds, 3), "derivations": result.derivations}
    body = json.dumps(tail, indent=2)[2:-2]
    return "\n  ],\n" + body + "\n}\n"


# -- bulk formatting ----------------------------------------------------------------------
# A row is laid out as little-endian 64-bit words, one numpy vector per word over the chunk's
# rows (so every operation is a vectorized one over contiguous memory): a field of width w
# bytes at byte offset a is OR-ed into the words that hold bytes a .. a + w - 1. The vectors
# are the rows of one (words, rows) matrix, OR-ed in place; bytes that are the same in every
# row (literals) are kept as one Python int per word until the end. One transpose of the
# matrix puts each row's bytes together, and deleting the NUL bytes that pad the fields
# leaves the text.

WORD = np.dtype("<u8")
SLICE_ROWS = 16_384
LOW_BYTES = 0xFFFF_FFFF_FFFF_FFFF


def _group_tables() -> tuple[np.ndarray, np.ndarray]:
    """Four decimal digits as four bytes, indexed by value + 10,000 x (nothing above it): for
    the lowest group, zero-padded ('0042') below 10,000 and NUL-padded ('\\0\\042'; 0 is
    '\\0\\0\\00') from 10,000 on; for a group above the lowest, the same but with 0 above it
    all NULs (no digits)."""
    padded = [int.from_bytes(f"{i:04d}".encode(), "little") for i in range(10_000)]
    leading = [int.from_bytes(str(i).rjust(4, "\0").encode(), "little") for i in range(10_000)]
    above = [0, *leading[1:]]
    return (np.array(padded + leading, dtype=WORD), np.array(padded + above, dtype=WORD))


_GROUPS: list[tuple[np.ndarray, np.ndarray]] = []
_SPARE: list[np.ndarray] = []  # one (words, rows) matrix kept for the next chunk


def _digit_groups(values: np.ndarray, count: int) -> list[np.ndarray]:
    """The `count` four-digit groups of non-negative int64 values as 4-byte words, the most
    significant first; a group looked up in one table by low + 10,000 x (rest == 0), where
    low = rest mod 10,000 (a floor division by a constant and a multiply-subtract: numpy's %
    on int64 is a hardware division per element, several times slower)."""
    if not _GROUPS:
        _GROUPS.append(_group_tables())
    lowest, higher = _GROUPS[0]
    groups: list[np.ndarray] = [values] * count
    rest = values
    for g in range(count - 1, -1, -1):
        quotient = rest // 10_000
        index = rest - quotient * 10_000
        index += (quotient == 0) * 10_000
        groups[g] = (lowest if g == count - 1 else higher)[index]
        rest = quotient
    return groups


def _pieces_of_table(texts: Sequence[str]) -> tuple[list[np.ndarray], int]:
    """Strings as 8-byte pieces: piece p of text i is table[p][i]; and the widest's width."""
    encoded = [t.encode() for t in texts]
    width = max(map(len, encoded), default=0)
    padded = -(-max(width, 1) // 8) * 8
    table = np.array(encoded, dtype=f"S{padded}").view(WORD).reshape(len(encoded), -1)
    return list(np.ascontiguousarray(table.T)), width


class _Rows:
    """One text line per row, built field by field (see the comment above)."""

    def __init__(self, n: int) -> None:
        self.n = n
        # row j: word j of every row, where used; the last chunk's matrix when it fits (its
        # pages are mapped already: a fresh one costs a page fault per 4 KiB touched)
        spare = _SPARE.pop() if _SPARE and _SPARE[-1].shape[1] >= n else None
        self.matrix = spare[:, :n] if spare is not None else np.empty((0, n), dtype=WORD)
        self.used: list[bool] = []  # per word: whether matrix row j holds anything yet
        self.constants: list[int] = []  # per word: the bytes every row has there
        self.offset = 0  # bytes laid out so far

    def _reserve(self, words: int) -> None:
        if len(self.used) >= words:
            return
        if words > len(self.matrix):  # np.empty only reserves: untouched words cost nothing
            grown = np.empty((max(words, 2 * len(self.matrix), 64), self.n), dtype=WORD)
            grown[:len(self.used)] = self.matrix[:len(self.used)]
            self.matrix = grown
        self.used += [False] * (words - len(self.used))
        self.constants += [0] * (words - len(self.constants))

    def _or(self, j: int, vector: np.ndarray, shift: int, right: bool = False) -> None:
        """matrix[j] |= vector << shift (>> shift if `right`), in place."""
        row = self.matrix[j]
        op = np.right_shift if right else np.left_shift
        if not self.used[j]:
            if shift:
                op(vector, np.uint64(shift), out=row)
            else:
                row[:] = vector
            self.used[j] = True
        elif shift:
            np.bitwise_or(row, op(vector, np.uint64(shift)), out=row)
        else:
            np.bitwise_or(row, vector, out=row)

    def _place(self, piece: Any, width: int) -> None:
        """OR a piece of at most 8 bytes (a vector, or an int for a constant) in at the
        current offset."""
        j, r = divmod(self.offset, 8)
        spills = r + width > 8
        self._reserve(j + 1 + spills)
        if isinstance(piece, int):
            self.constants[j] |= (piece << 8 * r) & LOW_BYTES
            if spills:
                self.constants[j + 1] |= piece >> (64 - 8 * r)
        else:
            self._or(j, piece, 8 * r)
            if spills:
                self._or(j + 1, piece, 64 - 8 * r, right=True)
        self.offset += width

    def _field(self, pieces: Sequence[Any], width: int, mask: np.ndarray | None) -> None:
        if mask is not None and not mask.all():
            if not mask.any():
                return  # in no row: no bytes
            keep = mask.astype(WORD)
            pieces = [p * keep for p in pieces]
        start = self.offset
        for p, piece in enumerate(pieces):
            self.offset = start + 8 * p
            self._place(piece, min(8, width - 8 * p))
        self.offset = start + width

    def literal(self, text: str, mask: np.ndarray | None = None) -> None:
        """The same text in every row (where `mask` holds)."""
        data = text.encode()
        pieces = [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data), 8)]
        self._field(pieces, len(data), mask)

    def pick(self, texts: Sequence[str], index: np.ndarray, mask: np.ndarray | None = None
             ) -> None:
        """texts[index[row]] in each row: a choice, an error message, true or false."""
        index = index.astype(np.intp, copy=False)
        if mask is not None and not mask.any():
            return
        if len(texts) > 1:  # only the texts this chunk uses: a long one elsewhere pads no row
            used = np.flatnonzero(np.bincount(index, minlength=len(texts)))
            if len(used) < len(texts):
                renumber = np.zeros(len(texts), dtype=np.intp)
                renumber[used] = np.arange(len(used))
                index, texts = renumber[index], [texts[u] for u in used]
        table, width = _pieces_of_table(texts)
        if width:
            self._field([t[index] for t in table], width, mask)

    def integers(self, values: np.ndarray, mask: np.ndarray | None = None) -> None:
        """Decimal text of an integer column: four digits per vectorized step (a division by
        10,000 and a table look-up); negative values, rare here, through str()."""
        values = values.astype(np.int64, copy=False)
        negative = values < 0
        if negative.any():
            self.pick_texts(values, negative if mask is None else negative & mask, str)
            values = np.where(negative, 0, values)
            mask = ~negative if mask is None else mask & ~negative
        digits = len(str(int(values.max()))) if len(values) else 1
        count = -(-digits // 4)
        groups = _digit_groups(values, count)
        pieces = [groups[g] | (groups[g + 1] << np.uint64(32)) if g + 1 < count else groups[g]
                  for g in range(0, count, 2)]
        # the field's first 4 x count - digits bytes are NUL in every row: laid over the bytes
        # before it (OR-ing NULs changes nothing), so no column of NULs goes to translate()
        if mask is not None and not mask.any():
            return  # in no row: no bytes (and no overlap)
        self.offset -= min(4 * count - digits, self.offset)
        self._field(pieces, 4 * count, mask)

    def pick_texts(self, values: np.ndarray, rows: np.ndarray, text: Any) -> None:
        """text(value) in the given rows (a boolean mask), nothing elsewhere: Python per row,
        for the few values the vectorized paths leave out."""
        chosen = np.flatnonzero(rows)
        texts = ["", *(text(v) for v in values[chosen].tolist())]
        index = np.zeros(self.n, dtype=np.intp)
        index[chosen] = np.arange(1, len(chosen) + 1)
        self.pick(texts, index)

    def metric(self, values: np.ndarray, mask: np.ndarray | None, text: Any) -> None:
        """A metric column: integers; a float column (an rf with a fraction somewhere) prints
        whole values as integers and the rest with `text` (str for CSV, repr for JSON)."""
        if values.dtype.kind != "f":
            self.integers(values, mask)
            return
        whole = np.mod(values, 1) == 0
        self.integers(np.where(whole, values, 0).astype(np.int64),
                      whole if mask is None else whole & mask)
        fractional = ~whole if mask is None else ~whole & mask
        if fractional.any():
            self.pick_texts(values, fractional, text)

    def data(self) -> bytes:
        """The rows as UTF-8 bytes: the constants OR-ed in, one transpose, the NULs dropped."""
        count = -(-self.offset // 8)
        if not count:
            return b""
        self._reserve(count)
        matrix = self.matrix[:count]
        for j in range(count):
            if not self.used[j]:
                matrix[j] = self.constants[j]
            elif self.constants[j]:
                np.bitwise_or(matrix[j], np.uint64(self.constants[j]), out=matrix[j])
        data = matrix.T.tobytes().translate(None, b"\0")
        _SPARE[:] = [self.matrix if self.matrix.base is None else self.matrix.base]
        return data
