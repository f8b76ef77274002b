"""`convplan sweep` and `convplan solve` through the real entry point: formats, filters, the
Pareto front, the plot, exit codes and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import EXAMPLES, ROOT

from convplan import analyze, load
from convplan.cli.main import main
from convplan.explore.choices import apply_categorical

SEED = str(EXAMPLES / "seed_cnn.yaml")
UNET = str(EXAMPLES / "unet_4level.yaml")
CHOICES = ["--vary", "conv*.strides=1,2", "--vary", "conv*.padding=valid,same",
           "--vary", "conv*.dilation_rate=1..3"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def concrete(strides: int, padding: str, dilation: int):
    graph = load(SEED)
    assignment = {(layer, attr): value for layer in ("conv1", "conv2")
                  for attr, value in (("strides", strides), ("padding", padding),
                                      ("dilation_rate", dilation))}
    return analyze(apply_categorical(graph, assignment))


def test_csv_lists_every_valid_combination_with_exact_values(capsys):
    code, out, _ = run(capsys, "sweep", SEED, *CHOICES, "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 8  # 12 combinations, 4 with strides 2 and dilation > 1
    for row in rows:
        result = concrete(int(row["conv*.strides"]), row["conv*.padding"],
                          int(row["conv*.dilation_rate"]))
        assert int(row["macs"]) == result.totals.macs
        assert int(row["params"]) == result.totals.params
        assert int(row["memory"]) == result.training_memory().total
        assert row["output"] == "10" and row["valid"] == "true"


def test_table_shows_choices_metrics_and_why_combinations_are_invalid(capsys):
    code, out, _ = run(capsys, "sweep", SEED, *CHOICES, "--invalid", "--limit", "12")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split() == ["conv*.strides", "conv*.padding", "conv*.dilation_rate",
                                "output", "RF", "params", "MACs", "FLOPs", "train", "mem"]
    assert sum("invalid: conv1: strides > 1 together with dilation_rate > 1" in line
               for line in lines) == 4
    assert "invalid: 4 x conv1: strides > 1 together with dilation_rate > 1 is rejected by " \
        "Keras" in lines
    assert "12 combinations: 6 numeric (evaluated from the formulas) x 2 categorical (2 " \
        "derivations)" in out


def test_pareto_front_is_the_nondominated_set_of_all_rows(capsys):
    _, everything, _ = run(capsys, "sweep", SEED, *CHOICES, "--vary", "conv1.kernel_size=1..5",
                           "--format", "csv")
    _, front_text, _ = run(capsys, "sweep", SEED, *CHOICES, "--vary",
                           "conv1.kernel_size=1..5", "--format", "csv", "--pareto", "macs,-rf")
    rows = list(csv.DictReader(io.StringIO(everything)))
    front = {tuple(r.values()) for r in csv.DictReader(io.StringIO(front_text))}
    points = np.array([[int(r["macs"]), -int(r["rf"])] for r in rows])
    for row, p in zip(rows, points):
        dominated = np.any(np.all(points <= p, axis=1) & np.any(points < p, axis=1))
        assert (tuple(row.values()) in front) == (not dominated)


def test_where_and_sort(capsys):
    code, out, _ = run(capsys, "sweep", SEED, *CHOICES, "--format", "json", "--where",
                       "rf>=16,macs<3M", "--sort", "-rf", "--limit", "2")
    assert code == 0
    document = json.loads(out)
    assert [r["rf"] for r in document["rows"]] == [22, 21]
    assert all(r["macs"] < 3_000_000 for r in document["rows"])
    assert document["valid"] == 8 and document["matched"] == 4
    assert document["varies"][1]["evaluation"] == "enumerated"


def test_json_streams_every_row_and_counts_the_invalid(capsys):
    code, out, _ = run(capsys, "sweep", SEED, *CHOICES, "--format", "json", "--invalid")
    document = json.loads(out)
    assert code == 0 and document["combinations"] == 12 and len(document["rows"]) == 12
    bad = [r for r in document["rows"] if not r["valid"]]
    assert len(bad) == 4 and all("rejected by Keras" in r["error"] for r in bad)
    assert document["invalid"] == {"conv1: strides > 1 together with dilation_rate > 1 is "
                                   "rejected by Keras": 4}


@pytest.mark.parametrize("suffix, magic", [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_plot_of_the_front(capsys, tmp_path, suffix, magic):
    target = tmp_path / f"front.{suffix}"
    code, _, err = run(capsys, "sweep", SEED, *CHOICES, "--pareto", "macs,-rf", "-o",
                       str(target))
    assert code == 0 and f"wrote {target}" in err
    assert target.read_bytes().startswith(magic)


@pytest.mark.parametrize("argv, message", [
    (["--vary", "conv9.strides=1,2"], "no layer matches 'conv9'"),
    (["--vary", "conv1.strides=1,2", "-o", "x.png"], "give --pareto"),
    (["--vary", "conv1.strides=1,2", "--pareto", "macs,-rf", "-o", "x.pdf"], ".png or .svg"),
    (["--vary", "conv1.strides=1,2", "--pareto", "macs", "-o", "x.png"], "two metrics"),
    (["--vary", "conv1.strides=1,2", "--pareto", "latency"], "unknown metric"),
    (["--vary", "conv1.strides=1,2", "--pareto", "macs", "--sort", "rf"], "not both"),
])
def test_bad_sweeps_exit_2_with_one_line(capsys, tmp_path, argv, message):
    argv = [a.replace("x.p", str(tmp_path / "x.p")) for a in argv]
    code, out, err = run(capsys, "sweep", SEED, *argv)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and message in err


def test_solve_unet_sizes_and_budgets(capsys):
    code, out, _ = run(capsys, "solve", UNET, "--max-memory", "1GiB", "--batch", "8",
                       "--format", "json")
    assert code == 0
    document = json.loads(out)
    height = document["input_sizes"]["axes"]["H"]
    assert height["rule"] == "H divisible by 16" and height["minimum"] == 16
    assert "cat1" in [r["layer"] for r in height["requirements"]]
    answer = document["budgets"][0]
    size = answer["answer"]
    graph = load(UNET)
    fits = analyze(graph, input_size=(size, size)).training_memory(8).total
    assert fits == answer["value"] <= 2**30
    nxt = answer["next"]
    assert nxt == size + 16
    assert analyze(graph, input_size=(nxt, nxt)).training_memory(8).total > 2**30


def test_solve_batch_and_target_rf_in_text(capsys):
    code, out, _ = run(capsys, "solve", SEED, "--max-macs", "1e9", "--input-size", "112x112",
                       "--target-rf", "24", "--vary", "conv*.strides=1,2", "--vary",
                       "conv*.dilation_rate=1..4", "--top", "1")
    assert code == 0
    per_example = analyze(load(SEED), input_size=(112, 112)).totals.macs
    assert f"  {10**9 // per_example}: " in out
    assert "fewest MACs with a receptive field >= 24:" in out
    assert "showing 1 cheapest rows by MACs" in out


@pytest.mark.parametrize("argv, message", [
    (["--target-rf", "20"], "needs the choices to search"),
    (["--vary", "conv1.strides=1,2"], "used with --target-rf"),
    (["--max-macs", "lots"], "positive number"),
    (["--max-macs", "1e9", "--batch", "2", "--input-size", "28x28"], "not both"),
])
def test_bad_solves_exit_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, "solve", SEED, *argv)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and message in err


def test_sweep_through_the_console_entry_point():
    result = subprocess.run([sys.executable, "-m", "convplan", "sweep", SEED, "--vary",
                             "input.size=28..56:28", "--format", "csv"], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and result.stderr == ""
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["input.size"] for r in rows] == ["28", "56"]
    assert int(rows[1]["macs"]) == analyze(load(SEED), input_size=(56, 56)).totals.macs
