"""Sweep throughput (issue 7): configurations per second evaluated from the symbolic formulas,
a 1,000,000-point sweep end to end, and the ratio against the obvious alternatives: building
each configuration as a Keras model (timed on a sample, extrapolated), and a concrete
convplan analyze() per configuration.

    .venv/bin/python benchmarks/bench_sweep.py            # about a minute on 2 cores
    .venv/bin/python benchmarks/bench_sweep.py --keras-sample 10
    .venv/bin/python benchmarks/bench_sweep.py --streaming-only   # the CSV/JSON part (issue 19)
    .venv/bin/python benchmarks/bench_sweep.py --streaming-only --runs 2 --tree BEFORE --tree AFTER

Streaming (issue 19: >= 1,000,000 rows per second end to end, memory flat): rows per CPU
second of the bulk CSV/JSON formatter against the per-row formatting it replaced (a
json.dumps and a ",".join per row, the obvious way), and whole `convplan sweep --format
csv|json` processes on 1,000,000 and 4,000,000 rows with their CPU time and peak memory, and
the marginal rate between them (start-up and the derivation, about 0.6-0.8 s, left out); with
--tree (repeated) the whole processes run in each checkout, alternating, side by side.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "seed_cnn.yaml"

# 1,000,000 numeric combinations: filters of both convolutions, input size, conv1 stride
NUMERIC = ["conv1.filters=1..100", "conv2.filters=1..100", "input.size=8..57",
           "conv1.strides=1,2"]
# 623,616 combinations of kernels, strides, dilations (Keras rejects some), filters, input
# size and padding (categorical: two derivations)
MIXED = ["conv1.kernel_size=1..7", "conv2.kernel_size=1,3,5", "conv*.strides=1..4",
         "conv*.dilation_rate=1..4", "conv2.filters=8..256:8", "input.size=28..252:8",
         "conv*.padding=valid,same"]


def library_rate(varies: list[str]) -> tuple[int, float, float, int]:
    """(combinations, derivation seconds, evaluation seconds, valid) for Sweep.chunks()."""
    from convplan import load
    from convplan.explore.choices import parse_varies
    from convplan.explore.sweep import Sweep

    graph = load(SEED)
    start = time.perf_counter()
    sweep = Sweep(graph, parse_varies(graph, varies))
    for digits in [(i,) for i in range(sweep.categorical_count)] if sweep.categorical else [()]:
        sweep.derivation(digits)
    derived = time.perf_counter() - start
    start = time.perf_counter()
    valid = sum(int(chunk.columns["valid"].sum()) for chunk in sweep.chunks())
    return sweep.total, derived, time.perf_counter() - start, valid


def cli_seconds(varies: list[str], extra: list[str]) -> float:
    """A whole `convplan sweep` process (start-up, derivation, sweep, output), best of 2."""
    args = [sys.executable, "-m", "convplan", "sweep", str(SEED)]
    for v in varies:
        args += ["--vary", v]
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        subprocess.run(args + extra, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        best = min(best, time.perf_counter() - start)
    return best


def sampled_configs(varies: list[str], count: int):
    """`count` valid configurations of the sweep, spread over it, as (graph, input size)."""
    import numpy as np

    from convplan import analyze, load
    from convplan.errors import ConvplanError
    from convplan.explore.choices import apply_categorical, parse_varies
    from convplan.explore.sweep import Sweep

    graph = load(SEED)
    sweep = Sweep(graph, parse_varies(graph, varies))
    configs = []
    for index in np.random.default_rng(0).permutation(sweep.total)[:count * 20]:
        assignment, size = sweep.combination(int(index))
        try:
            config = apply_categorical(graph, assignment)
            analyze(config, input_size=size)
        except ConvplanError:  # skip what Keras would reject
            continue
        configs.append((config, size))
        if len(configs) == count:
            break
    return configs


def keras_seconds_per_config(configs) -> float:
    """Build each configuration as a Keras model and read its parameter count and output
    shape: what a sweep without convplan does (MACs would need a profiler on top)."""
    import keras

    from convplan.verify.keras_build import build_keras_model

    build_keras_model(*configs[0]).count_params()  # import and first-call costs not counted
    start = time.perf_counter()
    for graph, size in configs:
        model = build_keras_model(graph, size)
        model.count_params()
        _ = model.output_shape
    seconds = (time.perf_counter() - start) / len(configs)
    keras.backend.clear_session()
    return seconds


def analyze_seconds_per_config(configs) -> float:
    from convplan import analyze

    start = time.perf_counter()
    for graph, size in configs:
        analyze(graph, input_size=size)
    return (time.perf_counter() - start) / len(configs)


# 4,000,000 rows: NUMERIC with four times the input sizes
LARGE = ["conv1.filters=1..100", "conv2.filters=1..100", "input.size=8..207",
         "conv1.strides=1,2"]


def per_row_csv(sweep, chunk) -> str:
    """The obvious formatter: Python per row (what sweep_report did before issue 19)."""
    columns = [[v.text(d) for d in chunk.columns[f"vary:{i}"].tolist()]
               for i, v in enumerate(sweep.varies)]
    columns += [["x".join(map(str, dims)) for dims in chunk.columns[f"output:{k}"].tolist()]
                for k in range(len(sweep.output_ranks))]
    for name in (["rf"] if sweep.has_rf else []) + ["params", "trainable_params", "macs",
                                                    "flops", "activations", "memory"]:
        columns.append(list(map(str, chunk.columns[name].tolist())))
    columns.append(["true" if ok else "false" for ok in chunk.columns["valid"].tolist()])
    columns.append([sweep.messages[c] for c in chunk.columns["error"].tolist()])
    return "".join(",".join(r) + "\n" for r in zip(*columns))


def per_row_json(sweep, chunk) -> str:
    import json

    metrics = (["rf"] if sweep.has_rf else []) + ["params", "trainable_params", "macs",
                                                  "flops", "activations", "memory"]
    values = {m: chunk.columns[m].tolist() for m in metrics}
    shapes = [chunk.columns[f"output:{k}"].tolist() for k in range(len(sweep.output_ranks))]
    choices = [chunk.columns[f"vary:{i}"].tolist() for i in range(len(sweep.varies))]
    pieces = []
    for j in range(len(chunk)):
        row = {v.label: v.values[choices[i][j]] for i, v in enumerate(sweep.varies)}
        row["valid"] = True
        row["output_shapes"] = [[None, *s[j]] for s in shapes]
        row.update({m: values[m][j] for m in metrics})
        pieces.append(json.dumps(row, separators=(", ", ": ")))
    return ",\n    ".join(pieces)


def formatting_rates() -> None:
    from convplan import load
    from convplan.explore.choices import parse_varies
    from convplan.explore.sweep import Sweep
    from convplan.report import sweep_report as R

    graph = load(SEED)
    sweep = Sweep(graph, parse_varies(graph, NUMERIC))
    chunks = list(sweep.chunks())
    rows = sum(len(c) for c in chunks)
    # the bytes the CLI writes (older checkouts had only the str functions)
    csv_rows = getattr(R, "csv_rows_data", R.csv_rows)
    json_rows = getattr(R, "json_rows_data", R.json_rows)
    print(f"formatting {rows:,} evaluated rows (CPU seconds, this process):")
    for fmt, bulk, naive in (("csv", lambda c: csv_rows(sweep, c), per_row_csv),
                             ("json", lambda c: json_rows(sweep, c, False), per_row_json)):
        start = time.process_time()
        size = sum(len(bulk(c)) for c in chunks)
        ours = time.process_time() - start
        start = time.process_time()
        sum(len(naive(sweep, c)) for c in chunks[:4])  # a quarter of a million rows is enough
        theirs = (time.process_time() - start) * rows / sum(len(c) for c in chunks[:4])
        print(f"  {fmt:4s} bulk {rows / ours:>12,.0f} rows/s ({size / ours / 1e6:,.0f} MB/s)   "
              f"per row {rows / theirs:>10,.0f} rows/s   ratio {theirs / ours:5.1f}x")


def streamed_process(varies: list[str], fmt: str, tree: Path = ROOT
                     ) -> tuple[float, float, float]:
    """(wall s, CPU s, peak MiB) of a whole `convplan sweep --format fmt` to /dev/null, run in
    the checkout `tree` (python -m puts the working folder first on sys.path)."""
    args = [sys.executable, "-m", "convplan", "sweep", str(tree / "examples" / "seed_cnn.yaml"),
            "--format", fmt]
    for v in varies:
        args += ["--vary", v]
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, cwd=tree)
    _, _, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def streaming(trees: list[Path], runs: int) -> None:
    """Whole processes on 1M and 4M rows in each tree, alternating, best of `runs` by CPU, then
    the formatter's rates in this checkout; the marginal rate (3M rows over the CPU seconds
    the 4M run takes beyond the 1M one) leaves out start-up and the derivation."""
    # the whole processes first: a child's peak memory (ru_maxrss) counts what it shared with
    # this process when forked, and formatting_rates() imports numpy, sympy and a sweep
    print("whole `convplan sweep` processes streaming every row (start-up and derivation "
          f"included; CPU best of {runs}):")
    best: dict[tuple[Path, str, int], tuple[float, float, float]] = {}
    for _ in range(runs):
        for varies, rows in ((NUMERIC, 1_000_000), (LARGE, 4_000_000)):
            for fmt in ("csv", "json"):
                for tree in trees:
                    measured = streamed_process(varies, fmt, tree)
                    key = (tree, fmt, rows)
                    if key not in best or measured[1] < best[key][1]:
                        best[key] = measured
    for fmt in ("csv", "json"):
        for tree in trees:
            label = f" {tree}" if len(trees) > 1 or tree != ROOT else ""
            for rows in (1_000_000, 4_000_000):
                wall, cpu, peak = best[(tree, fmt, rows)]
                print(f"  {rows:>9,} rows --format {fmt:4s}{label}: {wall:6.2f} s wall, "
                      f"{cpu:6.2f} s CPU ({rows / cpu:>10,.0f} rows per CPU s), peak memory "
                      f"{peak:6.0f} MiB")
            extra = best[(tree, fmt, 4_000_000)][1] - best[(tree, fmt, 1_000_000)][1]
            print(f"  {'':>9} marginal {fmt:4s}{label}: {3_000_000 / extra:>10,.0f} rows per "
                  "CPU s (the 3M rows beyond the first 1M)")
    print()
    formatting_rates()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras-sample", type=int, default=30,
                        help="configurations built in Keras to time (default 30)")
    parser.add_argument("--streaming-only", action="store_true",
                        help="only the CSV/JSON streaming measurements")
    parser.add_argument("--tree", action="append", type=Path, default=None,
                        help="a checkout to run the whole processes in (repeat for a side by "
                             "side comparison, e.g. one from `git archive`); default this one")
    parser.add_argument("--runs", type=int, default=1, help="whole processes: best of N")
    args = parser.parse_args()
    trees = [t.resolve() for t in args.tree] if args.tree else [ROOT]
    if args.streaming_only:
        streaming(trees, args.runs)
        return

    print("convplan sweep benchmark (seed CNN, examples/seed_cnn.yaml)")
    print(f"{'sweep':<52}{'points':>11}{'derive s':>10}{'eval s':>9}{'points/s':>13}")
    rates = {}
    for name, varies in (("numeric: filters x filters x size x stride", NUMERIC),
                         ("mixed: kernel, strides, dilations, filters, size, padding",
                          MIXED)):
        total, derived, evaluated, valid = library_rate(varies)
        rates[name] = total / evaluated
        print(f"{name[:51]:<52}{total:>11,}{derived:>10.2f}{evaluated:>9.2f}"
              f"{total / evaluated:>13,.0f}   ({valid:,} valid)")

    print("\nwhole `convplan sweep` processes, 1,000,000 points (start-up included):")
    for label, extra in (("--pareto macs,-rf (table of the front)", ["--pareto", "macs,-rf"]),
                         ("--where 'rf>=10' --sort macs --limit 20", ["--where", "rf>=10",
                                                                      "--sort", "macs"]),
                         ("--format csv (every row written)", ["--format", "csv"])):
        print(f"  {label:<48}{cli_seconds(NUMERIC, extra):>7.2f} s")

    configs = sampled_configs(MIXED, args.keras_sample)
    keras_each = keras_seconds_per_config(configs)
    analyze_each = analyze_seconds_per_config(configs)
    sweep_rate = rates["mixed: kernel, strides, dilations, filters, size, padding"]
    print(f"\nper configuration (mixed sweep, {len(configs)} sampled configurations):")
    print(f"  build in Keras + count_params: {keras_each * 1e3:9.2f} ms  -> 1,000,000 points "
          f"~ {keras_each * 1e6 / 3600:,.1f} h")
    print(f"  convplan analyze() (concrete): {analyze_each * 1e3:9.2f} ms  -> 1,000,000 points "
          f"~ {analyze_each * 1e6 / 60:,.1f} min")
    print(f"  convplan sweep (vectorized):   {1e3 / sweep_rate:9.5f} ms  -> 1,000,000 points "
          f"~ {1e6 / sweep_rate:,.2f} s")
    print(f"  ratio: sweep is {keras_each * sweep_rate:,.0f}x faster than building in Keras, "
          f"{analyze_each * sweep_rate:,.0f}x faster than analyze() per configuration")
    print()
    streaming(trees, args.runs)


if __name__ == "__main__":
    main()
