"""`sweep --device`: the time columns evaluated from the formulas equal convplan's time plan of
each combination analysed on its own, the Pareto front on time is the nondominated set of all
rows, and the CSV/JSON/table outputs and errors."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from conftest import EXAMPLES

from convplan import analyze, load
from convplan.analysis.timing import time_plan
from convplan.cli.main import main
from convplan.devices import device
from convplan.explore.choices import apply_categorical, parse_varies
from convplan.explore.collect import nondominated
from convplan.explore.run import parse_objectives, run_sweep
from convplan.explore.sweep import Chunk, Sweep, SweepOptions

SEED = str(EXAMPLES / "seed_cnn.yaml")
VARIES = ["conv1.filters=8..64:8", "conv2.kernel_size=1,3,5", "conv*.padding=valid,same",
          "input.size=28..84:14"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(autouse=True)
def cpu_entry(tmp_path, monkeypatch):
    """A measured-style cpu entry (what `convplan calibrate` writes) in a devices file of the
    test's own."""
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"devices": [{
        "name": "cpu-test", "description": "a test CPU", "memory": 2**34,
        "flops": {"float32": 5e10}, "bandwidth": 1e10, "source": "test", "kind": "cpu",
        "units": 2}]}))
    monkeypatch.setenv("CONVPLAN_DEVICES", str(path))


def _all_rows(sweep: Sweep) -> Chunk:
    return Chunk.concat(list(sweep.chunks()))


@pytest.mark.parametrize("chip, dtype, batch", [("cpu-test", "float32", 16), ("h100", "mixed_bfloat16", 64),
                                                ("tpu-v5e", "bfloat16", 8), ("t4", "float32", 1)])
def test_time_columns_equal_the_plan_of_each_combination(chip, dtype, batch):
    graph = load(SEED)
    sweep = Sweep(graph, parse_varies(graph, VARIES),
                  SweepOptions(batch=batch, dtype=dtype, device=chip, chunk_size=50))
    rows = _all_rows(sweep)
    valid = np.flatnonzero(rows.columns["valid"])
    assert len(valid) > 20
    rng = np.random.default_rng(0)
    for row in rng.choice(valid, size=12, replace=False):
        assignment, size = sweep.combination(int(rows.columns["index"][row]))
        concrete = apply_categorical(graph, assignment)
        plan = time_plan(concrete, analyze(concrete, input_size=size), device(chip), dtype,
                         batch, training=True)
        assert rows.columns["time"][row] == pytest.approx(plan.lower_s, rel=1e-9)
        assert rows.columns["time_upper"][row] == pytest.approx(plan.upper_s, rel=1e-9)
    assert np.all(rows.columns["time"][valid] <= rows.columns["time_upper"][valid])
    assert np.all(rows.columns["time"][valid] > 0)


@pytest.mark.parametrize("chip", ["cpu-test", "h100"])
def test_pareto_front_on_time_is_the_nondominated_set(chip):
    graph = load(SEED)
    sweep = Sweep(graph, parse_varies(graph, VARIES),
                  SweepOptions(batch=32, device=chip, chunk_size=40))
    objectives = parse_objectives(sweep, "time,-rf,macs")
    front = run_sweep(sweep, pareto=objectives).rows
    rows = _all_rows(sweep)
    rows = rows.take(rows.columns["valid"])
    matrix = np.stack([rows.columns["time"], -rows.columns["rf"].astype(float),
                       rows.columns["macs"].astype(float)], axis=1)
    expected = set(rows.columns["index"][nondominated(matrix)].tolist())
    assert set(front.columns["index"].tolist()) == expected
    assert 1 < len(expected) < len(rows)


def test_csv_json_and_table_carry_the_time(capsys):
    argv = ["sweep", SEED, "--vary", "conv1.filters=8,16", "--vary", "input.size=28,56",
            "--device", "h100", "--batch", "16"]
    code, out, _ = run(capsys, *argv, "--format", "csv")
    assert code == 0
    table = list(csv.DictReader(io.StringIO(out)))
    assert len(table) == 4
    assert all(0 < float(r["time"]) <= float(r["time_upper"]) for r in table)
    code, out, _ = run(capsys, *argv, "--format", "json")
    document = json.loads(out)
    assert "time" in document["conventions"]
    assert [r["time"] for r in document["rows"]] == [float(r["time"]) for r in table]
    code, out, _ = run(capsys, *argv, "--sort", "-time")
    assert code == 0 and "step time" in out and "h100" in out
    assert " ms" in out or " us" in out
    code, out, _ = run(capsys, *argv[:6], "--format", "csv")
    assert "time" not in out.splitlines()[0]  # no device: no time columns


@pytest.mark.parametrize("extra, message", [
    (["--pareto", "time,-rf"], "need --device"),
    (["--where", "time<1"], "need --device"),
    (["--device", "h900"], "unknown device 'h900'"),
    (["--device", "tpu-v5e", "--dtype", "float16"], "has no float16 rate"),
    (["--device", "h100", "--vary", "conv2.filters=1..30000"], "at most 20,000 combinations"),
])
def test_bad_time_sweeps_exit_2_with_one_line(capsys, extra, message):
    code, out, err = run(capsys, "sweep", SEED, "--vary", "conv1.filters=8,16", *extra)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and message in err
