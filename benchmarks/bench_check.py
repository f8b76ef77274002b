"""`convplan check` speed (issue 6): 100 spec files checked as one whole process.

Writes 100 specs of five kinds (the seed CNN at several sizes with budgets, residual stacks of
blocks, symbolic U-Nets, dilated stacks, mixed-precision/TPU configurations) to a temporary
folder, then times `convplan check FOLDER` as a whole process (best of 3), which is what a CI
job or pre-commit hook pays. With --tf it also times the obvious alternative, building the
same 100 models in Keras, and prints the ratio.

    .venv/bin/python benchmarks/bench_check.py [--tf] [--zoo FOLDER]
    .venv/bin/python benchmarks/bench_check.py --trees BEFORE AFTER [--runs 3] [--zoo FOLDER]

It also prints the rate in one process once started (1,000 specs: the 100 written ten times,
specs per second of CPU; the issue asks for >= 300), and with --zoo FOLDER (a folder of
keras.applications model JSONs, e.g. from benchmarks/zoo_import_check.py's models) the time
of `convplan check FOLDER` as a whole process (the issue asks for < 10 s for the 40 models).
With --trees BEFORE AFTER (two checkouts, e.g. from `git archive`) it prints only the
in-process rate of each, measured alternately in fresh processes (best of --runs), side by
side, and with --zoo the whole-process check of the zoo in each.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEED = """\
checks: {{batch: 64, budgets: {{max_params: 500K, max_macs: {macs}}}}}
inputs: {{image: [{size}, {size}, 1]}}
layers:
  - {{name: conv1, op: Conv2D, filters: 32, kernel_size: 3, padding: same, activation: relu}}
  - {{name: pool1, op: MaxPooling2D, pool_size: 2}}
  - {{name: conv2, op: Conv2D, filters: 64, kernel_size: 3, padding: same, activation: relu}}
  - {{name: pool2, op: MaxPooling2D, pool_size: 2}}
  - {{name: flatten, op: Flatten}}
  - {{name: dense1, op: Dense, units: 128, activation: relu}}
  - {{name: dense2, op: Dense, units: 10, activation: softmax}}
"""

RESIDUAL = """\
checks: {{dtype: mixed_float16, batch: {batch}, budgets: {{max_training_memory: 2GiB}}}}
inputs: {{image: [{size}, {size}, 3]}}
blocks:
  res:
    params: {{filters: null}}
    layers:
      - {{name: a, op: Conv2D, filters: $filters, kernel_size: 3, padding: same}}
      - {{name: bn, op: BatchNormalization}}
      - {{name: relu, op: ReLU}}
      - {{name: b, op: Conv2D, filters: $filters, kernel_size: 3, padding: same}}
      - {{name: sum, op: Add, inputs: [b, $input]}}
layers:
  - {{name: stem, op: Conv2D, filters: 32, kernel_size: 7, strides: 2, padding: same}}
  - {{name: stage1, block: res, repeat: {depth}, with: {{filters: 32}}}}
  - {{name: down, op: Conv2D, filters: 64, kernel_size: 3, strides: 2, padding: same}}
  - {{name: stage2, block: res, repeat: {depth}, with: {{filters: 64}}}}
  - {{name: gap, op: GlobalAveragePooling2D}}
  - {{name: head, op: Dense, units: 10}}
"""

UNET = """\
inputs: {{image: [H, W, 3]}}
blocks:
  down:
    params: {{filters: null}}
    layers:
      - {{name: conv, op: Conv2D, filters: $filters, kernel_size: 3, padding: same}}
      - {{name: pool, op: MaxPooling2D, pool_size: 2}}
layers:
  - {{name: enc, op: Conv2D, filters: {filters}, kernel_size: 3, padding: same}}
  - {{name: d1, block: down, with: {{filters: {filters}}}}}
  - {{name: d2, block: down, with: {{filters: {filters}}}}}
  - {{name: up, op: UpSampling2D, size: 4}}
  - {{name: skip, op: Concatenate, inputs: [enc, up]}}
  - {{name: out, op: Conv2D, filters: 2, kernel_size: 1}}
"""

DILATED = """\
inputs: {{features: [64, 64, 32]}}
layers:
  - {{name: d1, op: Conv2D, filters: 32, kernel_size: 3, dilation_rate: {r1}, padding: same}}
  - {{name: bn1, op: BatchNormalization}}
  - {{name: d2, op: Conv2D, filters: 32, kernel_size: 3, dilation_rate: {r2}, padding: same}}
  - {{name: bn2, op: BatchNormalization}}
  - {{name: d3, op: Conv2D, filters: 32, kernel_size: 3, dilation_rate: {r3}, padding: same}}
  - {{name: up, op: Conv2DTranspose, filters: 16, kernel_size: {k}, strides: 2, padding: same}}
"""

TPU = """\
checks: {{target: tpu, batch: {batch}}}
inputs: {{image: [{size}, {size}, 3]}}
layers:
  - {{name: stem, op: Conv2D, filters: 128, kernel_size: 3, strides: 2, padding: same}}
  - {{name: sep, op: SeparableConv2D, filters: {filters}, kernel_size: 3, padding: same}}
  - {{name: gap, op: GlobalAveragePooling2D}}
  - {{name: out, op: Dense, units: 1000}}
"""


def write_specs(folder: Path) -> list[Path]:
    specs = []
    for i in range(20):
        specs.append((f"seed_{i}.yaml", SEED.format(size=28 + 4 * (i % 10), macs="5M")))
        specs.append((f"res_{i}.yaml", RESIDUAL.format(size=64 + 32 * (i % 5), batch=32 + 4 * i,
                                                       depth=1 + i % 4)))
        specs.append((f"unet_{i}.yaml", UNET.format(filters=16 + 8 * (i % 4))))
        specs.append((f"dilated_{i}.yaml", DILATED.format(r1=1 + i % 3, r2=2, r3=2 + i % 4,
                                                          k=3 + i % 2)))
        specs.append((f"tpu_{i}.yaml", TPU.format(size=96 + 32 * (i % 4), batch=8 * (1 + i % 4) + i % 2,
                                                  filters=96 + 32 * (i % 3))))
    paths = []
    for name, text in specs:
        path = folder / name
        path.write_text(text)
        paths.append(path)
    return paths


def check_seconds(folder: Path) -> tuple[float, list[dict]]:
    """Best of 3 wall times of `convplan check FOLDER --format json`, and its findings."""
    args = [sys.executable, "-m", "convplan", "check", "--isolated", "--format", "json",
            str(folder)]
    best, findings = float("inf"), []
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT)
        best = min(best, time.perf_counter() - start)
        if done.returncode not in (0, 1):
            raise SystemExit(f"convplan check failed: {done.stderr}")
        findings = json.loads(done.stdout)
    return best, findings


def keras_seconds(paths: list[Path]) -> float:
    """Building the same models in Keras (one process: TF import + 100 models), the check a
    team would otherwise write; symbolic sizes are built at 128x128."""
    script = (
        "import os, sys, time\n"
        "os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')\n"
        "from convplan import load\n"
        "from convplan.verify.keras_build import build_keras_model\n"
        "for path in sys.argv[1:]:\n"
        "    graph = load(path)\n"
        "    try:\n"
        "        build_keras_model(graph, input_size=None if 'unet' not in path else (128, 128))\n"
        "    except ValueError:\n"
        "        pass\n")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", script, *map(str, paths)], check=True, cwd=ROOT,
                   env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                        "TF_ENABLE_ONEDNN_OPTS": "0"})
    return time.perf_counter() - start


def in_process_rate(folder: Path, copies: int = 10) -> float:
    """Specs per CPU second of check_paths in this process after a warm-up run (imports and
    sympy's caches paid once), over `copies` copies of the folder's specs. CONVPLAN_JOBS=1:
    with worker processes this process's CPU time would leave out the workers' (the rate
    printed before that was fixed counted only the parent's share)."""
    import os

    from convplan.checks import check_paths

    paths = sorted(folder.glob("*.yaml"))
    jobs = os.environ.get("CONVPLAN_JOBS")
    os.environ["CONVPLAN_JOBS"] = "1"
    try:
        check_paths(paths, isolated=True)  # warm-up
        start = time.process_time()
        for _ in range(copies):
            check_paths(paths, isolated=True)
        seconds = time.process_time() - start
    finally:
        if jobs is None:
            del os.environ["CONVPLAN_JOBS"]
        else:
            os.environ["CONVPLAN_JOBS"] = jobs
    return copies * len(paths) / seconds


RATE_SCRIPT = """
import os, sys, time
from pathlib import Path
os.environ["CONVPLAN_JOBS"] = "1"
from convplan.checks import check_paths
paths = sorted(Path(sys.argv[1]).glob("*.yaml"))
check_paths(paths, isolated=True)
start = time.process_time()
for _ in range(int(sys.argv[2])):
    check_paths(paths, isolated=True)
print(int(sys.argv[2]) * len(paths) / (time.process_time() - start))
"""


def side_by_side_rates(trees: list[Path], folder: Path, runs: int, copies: int = 10
                       ) -> dict[Path, float]:
    """The in-process rate (as `in_process_rate`) of each checkout, in a fresh process with
    that checkout first on sys.path, alternating, best of `runs`."""
    import os

    best = dict.fromkeys(trees, 0.0)
    for _ in range(runs):
        for tree in trees:
            env = {**os.environ, "PYTHONPATH": str(tree)}
            done = subprocess.run([sys.executable, "-c", RATE_SCRIPT, str(folder), str(copies)],
                                  capture_output=True, text=True, check=True, cwd=tree, env=env)
            best[tree] = max(best[tree], float(done.stdout.split()[-1]))
    return best


def zoo_seconds(folder: Path, tree: Path = ROOT) -> tuple[float, float, int]:
    """(wall, CPU) seconds of `convplan check FOLDER` as a whole process run in the checkout
    `tree` (its workers' CPU included), and its files."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "convplan", "check", "--isolated", "--format", "json",
                    str(folder)], capture_output=True, cwd=tree)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, len(list(folder.glob("*.json")))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_specs(folder)
        if "--trees" in sys.argv[1:]:
            at = sys.argv.index("--trees")
            trees = [Path(t).resolve() for t in sys.argv[at + 1:at + 3]]
            runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
            for tree, rate in side_by_side_rates(trees, folder, runs).items():
                print(f"{tree}: {rate:,.0f} specs per CPU second in one process "
                      f"(CONVPLAN_JOBS=1, best of {runs}, alternating)")
            if "--zoo" in sys.argv[1:]:
                zoo = Path(sys.argv[sys.argv.index("--zoo") + 1])
                cpu = dict.fromkeys(trees, float("inf"))
                wall = dict.fromkeys(trees, float("inf"))
                for _ in range(runs):
                    for tree in trees:
                        w, c, count = zoo_seconds(zoo, tree)
                        wall[tree], cpu[tree] = min(wall[tree], w), min(cpu[tree], c)
                for tree in trees:
                    print(f"{tree}: convplan check on {count} keras.applications JSONs "
                          f"{wall[tree]:.2f} s wall, {cpu[tree]:.2f} s CPU as one process "
                          f"(best of {runs}, alternating)")
            return
        seconds, findings = check_seconds(folder)
        by_code: dict[str, int] = {}
        for item in findings:
            by_code[item["code"]] = by_code.get(item["code"], 0) + 1
        print(f"convplan check: {len(paths)} spec files in {seconds:.2f} s as a whole process "
              f"({1000 * seconds / len(paths):.0f} ms per file, start-up included)")
        print(f"  {len(findings)} findings: " + ", ".join(f"{c} x{n}" for c, n in sorted(by_code.items())))
        rate = in_process_rate(folder)
        print(f"in one process, once started: {rate:,.0f} specs per CPU second (target >= 300; "
              f"{rate / (len(paths) / seconds):.1f}x the whole-process rate)")
        if "--zoo" in sys.argv[1:]:
            wall, cpu, count = zoo_seconds(Path(sys.argv[sys.argv.index("--zoo") + 1]))
            print(f"convplan check on {count} keras.applications JSONs: {wall:.2f} s wall, "
                  f"{cpu:.2f} s CPU as one process (target < 10 s)")
        if "--tf" in sys.argv[1:]:
            tf = keras_seconds(paths)
            print(f"building the same {len(paths)} models in Keras: {tf:.2f} s "
                  f"({tf / seconds:.1f}x the check, which also reports findings)")


if __name__ == "__main__":
    main()
