"""The bulk CSV/JSON row formatter of `convplan sweep` (report/sweep_report.py: byte matrices,
no Python per row) against the per-row formatting it replaced, kept here as the reference:
`json.dumps(row, separators=(", ", ": "))` for JSON and `",".join(str(...))` for CSV.
Hypothesis draws the columns: large and zero counts, negative values, float receptive fields
with fractions, invalid rows, labels and messages with quotes, commas and non-ASCII text,
several outputs of any rank, choices that are ints, words, tuples and None."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convplan.explore.choices import format_value
from convplan.explore.sweep import Chunk
from convplan.report import sweep_report as R


@dataclass(frozen=True)
class FakeVary:
    label: str
    values: tuple[Any, ...]

    def text(self, index: int) -> str:
        return format_value(self.values[index])


@dataclass
class FakeSweep:
    varies: tuple[FakeVary, ...]
    output_ranks: tuple[int, ...]
    output_names: tuple[str, ...]
    has_rf: bool
    messages: list[str]
    has_time: bool = False  # sweep --device's time columns (tests/explore/test_sweep_time.py)


# --- the per-row reference (the formatter before the bulk one) ---------------------------

def _metric_values(chunk: Chunk, name: str) -> list[int | float]:
    values = chunk.columns[name].tolist()
    if chunk.columns[name].dtype.kind != "f":
        return values
    return [int(v) if v.is_integer() else v for v in values]


def reference_csv(sweep: FakeSweep, chunk: Chunk) -> str:
    if not len(chunk):
        return ""
    columns = [[v.text(d) for d in chunk.columns[f"vary:{i}"].tolist()]
               for i, v in enumerate(sweep.varies)]
    columns += [["x".join(map(str, dims)) for dims in chunk.columns[f"output:{k}"].tolist()]
                for k in range(len(sweep.output_ranks))]
    valid = chunk.columns["valid"]
    every = bool(valid.all())
    for name in (["rf"] if sweep.has_rf else []) + list(R.COUNTS):
        values = list(map(str, _metric_values(chunk, name)))
        if not every:
            values = [v if ok else "" for v, ok in zip(values, valid.tolist())]
        columns.append(values)
    columns.append(["true" if ok else "false" for ok in valid.tolist()])
    messages = [R._csv_cell(m) for m in sweep.messages]
    columns.append([messages[c] for c in chunk.columns["error"].tolist()])
    return "".join(",".join(r) + "\n" for r in zip(*columns))


def reference_json(sweep: FakeSweep, chunk: Chunk, first: bool) -> str:
    if not len(chunk):
        return ""
    choices = [[R._json_value(v.values[d]) for d in chunk.columns[f"vary:{i}"].tolist()]
               for i, v in enumerate(sweep.varies)]
    metrics = (["rf"] if sweep.has_rf else []) + list(R.COUNTS)
    values = {m: _metric_values(chunk, m) for m in metrics}
    shapes = [chunk.columns[f"output:{k}"].tolist() for k in range(len(sweep.output_ranks))]
    valid = chunk.columns["valid"].tolist()
    errors = [sweep.messages[c] for c in chunk.columns["error"].tolist()]
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


# --- drawing ------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
CHOICE = st.one_of(st.integers(-5, 10**6), st.sampled_from(["same", "valid", "relu"]),
                   st.tuples(st.integers(1, 512), st.integers(1, 512)), st.none(), st.booleans())
COUNT = st.one_of(st.integers(0, 9), st.integers(0, 2**53), st.integers(-(2**40), -1))


@st.composite
def sweeps_and_chunks(draw):
    varies = tuple(FakeVary(draw(st.sampled_from(["conv1.strides", "input.size", "a,b", 'q"x',
                                                   "é.kernel"]) | TEXT),
                            tuple(draw(st.lists(CHOICE, min_size=1, max_size=4))))
                   for _ in range(draw(st.integers(1, 4))))
    ranks = tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=3)))
    messages = ["", *draw(st.lists(TEXT, max_size=3))]
    sweep = FakeSweep(varies, ranks, tuple(f"out{k}" for k in range(len(ranks))),
                      draw(st.booleans()), messages)
    n = draw(st.integers(0, 40))
    cols: dict[str, np.ndarray] = {"index": np.arange(n, dtype=np.int64)}
    for i, vary in enumerate(varies):
        cols[f"vary:{i}"] = np.array(draw(st.lists(st.integers(0, len(vary.values) - 1),
                                                   min_size=n, max_size=n)), dtype=np.int64)
    for name in R.COUNTS:
        cols[name] = np.array(draw(st.lists(COUNT, min_size=n, max_size=n)), dtype=np.int64)
    if sweep.has_rf:
        if draw(st.booleans()):  # an rf column with fractions (an envelope of strides)
            cols["rf"] = np.array(draw(st.lists(st.sampled_from([3.0, 339.0, 10.5, 0.25, 7.0,
                                                                 1e6 + 0.5]),
                                                min_size=n, max_size=n)), dtype=np.float64)
        else:
            cols["rf"] = np.array(draw(st.lists(COUNT, min_size=n, max_size=n)), dtype=np.int64)
    for k, rank in enumerate(ranks):
        cols[f"output:{k}"] = np.array(
            draw(st.lists(st.lists(st.integers(0, 10**5), min_size=rank, max_size=rank),
                          min_size=n, max_size=n)), dtype=np.int64).reshape(n, rank)
    error = np.array(draw(st.lists(st.integers(0, len(messages) - 1), min_size=n, max_size=n)),
                     dtype=np.int32)
    cols["valid"] = error == 0
    cols["error"] = error
    return sweep, Chunk(cols)


@settings(max_examples=300, deadline=None,  # slow drawing on a loaded machine is no failure
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(sweeps_and_chunks(), st.booleans())
def test_bulk_rows_equal_the_per_row_formatting(drawn, first):
    sweep, chunk = drawn
    assert R.csv_rows(sweep, chunk) == reference_csv(sweep, chunk)
    assert R.json_rows(sweep, chunk, first) == reference_json(sweep, chunk, first)


def test_a_long_message_elsewhere_pads_no_row():
    """Only the messages a chunk uses take room (none here: every row is valid)."""
    sweep = FakeSweep((FakeVary("k", (1, 2)),), (1,), ("out",), False,
                      ["", "x" * 10_000])
    n = 1000
    cols = {"index": np.arange(n), "vary:0": np.arange(n) % 2,
            **{name: np.arange(n, dtype=np.int64) for name in R.COUNTS},
            "output:0": np.ones((n, 1), dtype=np.int64), "valid": np.ones(n, dtype=bool),
            "error": np.zeros(n, dtype=np.int32)}
    chunk = Chunk(cols)
    rows = R._Rows(n)
    rows.pick(sweep.messages, cols["error"])
    assert rows.offset == 0  # no bytes laid out for the unused long message
    assert R.csv_rows(sweep, chunk) == reference_csv(sweep, chunk)
