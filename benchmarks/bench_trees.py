"""Two checkouts of convplan side by side: the same commands as whole processes, alternating
between the trees (before, after, before, after, ...) so that a shared machine's load falls on
both alike, CPU seconds (user + system of the child) best of --runs, and the ratio.

    .venv/bin/python benchmarks/bench_trees.py BEFORE_DIR AFTER_DIR [--runs 3] [--zoo FOLDER]

BEFORE_DIR and AFTER_DIR hold a `convplan` package each (e.g. `git archive COMMIT | tar -x -C
DIR`); each child runs with PYTHONPATH=DIR from a neutral working folder (python -m puts the
working folder first on sys.path, so running from a checkout would import that checkout).
Children get a bytecode cache (PYTHONPYCACHEPREFIX, one per tree, filled by an untimed first
run), as an installed package has. The commands are docs/performance.md's rows: analyze on
ResNet50's Keras JSON (written by TensorFlow first, outside the timings, unless --zoo gives a
folder with ResNet50.json) with and without formulas, and analyze on examples/resnet50.yaml.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WRITE_JSON = ("import keras, sys; from pathlib import Path; "
              "Path(sys.argv[1]).write_text(keras.applications.ResNet50(weights=None).to_json())")


def cpu_seconds(tree: Path, cache: Path, args: list[str], cwd: Path) -> float:
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
           "PYTHONPATH": str(tree), "PYTHONPYCACHEPREFIX": str(cache)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "convplan", *args], check=False, env=env, cwd=cwd,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--zoo", type=Path, default=None)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = options.zoo / "ResNet50.json" if options.zoo else work / "resnet50.json"
        if not model.exists():
            subprocess.run([sys.executable, "-c", WRITE_JSON, str(model)], check=True,
                           env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        spec = str(ROOT / "examples" / "resnet50.yaml")
        rows = [
            ("analyze resnet50.json --no-symbolic", ["analyze", str(model), "--no-symbolic"]),
            ("analyze resnet50.json (formulas, table)", ["analyze", str(model)]),
            ("analyze resnet50.json --format json", ["analyze", str(model), "--format", "json"]),
            ("analyze examples/resnet50.yaml (table)", ["analyze", spec]),
            ("analyze examples/resnet50.yaml --format json",
             ["analyze", spec, "--format", "json"]),
        ]
        trees = {"before": options.before.resolve(), "after": options.after.resolve()}
        caches = {name: work / f"pyc-{name}" for name in trees}
        for name, tree in trees.items():  # fill the bytecode caches, untimed
            cpu_seconds(tree, caches[name], ["analyze", spec, "--no-symbolic"], work)
        print(f"CPU seconds, best of {options.runs}, alternating the trees "
              f"(before: {trees['before']}, after: {trees['after']})")
        for label, args in rows:
            best = {name: float("inf") for name in trees}
            for _ in range(options.runs):
                for name, tree in trees.items():
                    best[name] = min(best[name], cpu_seconds(tree, caches[name], args, work))
            print(f"  {label:46s} before {best['before']:6.2f}  after {best['after']:6.2f}  "
                  f"({best['before'] / best['after']:.1f}x)", flush=True)


if __name__ == "__main__":
    main()
