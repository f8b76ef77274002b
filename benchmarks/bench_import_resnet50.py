"""`convplan analyze resnet50.json` as a whole process, against the obvious alternative: a
process that builds ResNet50 in TensorFlow and counts its FLOPs with the profiler
(benchmarks/tf_profile.py). Prints both wall and CPU times (median of the runs) and the
ratios, side by side in one run; issue 19 asks for at least 30x, and for under 0.3 s of CPU
for `convplan analyze resnet50.json --no-symbolic` (printed too).

Child processes get a bytecode cache (PYTHONPYCACHEPREFIX in a temporary folder, filled by a
first untimed run), as an installed package has: with PYTHONDONTWRITEBYTECODE set, as in
this project's shells, every run would compile convplan's sources again (0.4 s).

    TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 .venv/bin/python \
        benchmarks/bench_import_resnet50.py [--runs 3] [--tf-runs 2]

The model JSON is written first, by TensorFlow, outside the timings (a repository would keep
the JSON, or the .keras file, beside its code).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
       "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
WRITE_JSON = ("import keras, sys; from pathlib import Path; "
              "Path(sys.argv[1]).write_text(keras.applications.ResNet50(weights=None).to_json())")


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the child process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, env=ENV, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def convplan_command() -> list[str]:
    script = Path(sys.executable).with_name("convplan")
    return [str(script)] if script.exists() else [sys.executable, "-m", "convplan"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="convplan runs (median)")
    parser.add_argument("--tf-runs", type=int, default=2, help="TensorFlow runs (median)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_import_"))
    ENV["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    try:
        model = folder / "resnet50.json"
        subprocess.run([sys.executable, "-c", WRITE_JSON, str(model)], check=True, env=ENV,
                       stderr=subprocess.DEVNULL)
        timed([*convplan_command(), "analyze", str(model)])  # fills the bytecode cache
        ours = medians([timed([*convplan_command(), "analyze", str(model)])
                        for _ in range(args.runs)])
        concrete = medians([timed([*convplan_command(), "analyze", str(model), "--no-symbolic"])
                            for _ in range(args.runs)])
        theirs = medians([timed([sys.executable, str(HERE / "tf_profile.py"), "resnet50"])
                          for _ in range(args.tf_runs)])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times "
          "suffer when the machine is shared; CPU times less so)")
    print(f"convplan analyze resnet50.json (whole process, median of {args.runs}): "
          f"{ours[0]:.2f} s wall, {ours[1]:.2f} s CPU")
    print(f"build ResNet50 in TensorFlow and profile it (whole process, median of "
          f"{args.tf_runs}): {theirs[0]:.2f} s wall, {theirs[1]:.2f} s CPU")
    print(f"convplan analyze resnet50.json --no-symbolic: {concrete[0]:.2f} s wall, "
          f"{concrete[1]:.2f} s CPU (target: < 0.3 s CPU)")
    print(f"ratio: {theirs[0] / ours[0]:.1f}x faster in wall time (target: >= 30x), "
          f"{theirs[1] / ours[1]:.1f}x in CPU time; --no-symbolic {theirs[1] / concrete[1]:.0f}x "
          "in CPU time")


if __name__ == "__main__":
    main()
