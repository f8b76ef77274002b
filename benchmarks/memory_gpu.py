"""convplan's memory peaks against a GPU's measured peak (issue 14, part 4): for a session that
has a GPU (the device tool's machines have JAX with CUDA and no TensorFlow, so Keras 3 runs on
JAX). Nothing here runs in the test suite; without a GPU the script says so and exits 2.

Each measurement runs in a fresh subprocess (a process's peak counter only grows, and an
out-of-memory error can leave the runtime unusable):

    measured peak = jax.devices()[0].memory_stats()["peak_bytes_in_use"] after one jitted
                    step on zeros (Keras's train_step, Adam, the state donated as Keras's JAX
                    trainer does; or predict_step with --step inference), less the bytes in
                    use before it (nothing: the process allocates nothing earlier)
    XLA's plan    = Compiled.memory_analysis() of the same program (argument + output + temp
                    - alias), as benchmarks/memory_vs_xla.py reads on the CPU

beside convplan's peak for the same Keras model (read from its JSON) under --convention
(default `fused`: a GPU compiler, no XLA:CPU workspace) and the ratios.

--max-batch: the largest batch whose training step runs under a memory cap, found by doubling
and then bisecting over subprocesses (XLA_PYTHON_CLIENT_MEM_FRACTION caps JAX's allocator at
--fraction of the card, 0.04 by default, 5.6 GiB of an H200's 141 GB, so a search takes a
few compiles), against the largest batch convplan predicts fits the same cap (its training
peak at most the cap: `bytes_limit` of memory_stats()).

    python benchmarks/memory_gpu.py --models seed_cnn,ResNet50,MobileNetV2 --size 224 \\
        --batches 8,32 --dtypes float32,mixed_bfloat16
    python benchmarks/memory_gpu.py --max-batch --models ResNet50 --size 224 --fraction 0.04
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memory_vs_xla import request  # noqa: E402

from convplan import load  # noqa: E402
from convplan.analysis.analyze import analyze  # noqa: E402
from convplan.options import format_bytes  # noqa: E402

CHILD = """\
import json, sys
import jax, jax.numpy as jnp, keras
from convplan.verify.xla_memory import _build, _total, step_arguments
job = json.load(sys.stdin)
keras.config.set_dtype_policy(job["dtype"])
model = _build(job, job["size"])
model_json = model.to_json()  # before the step: donating the state deletes what it reads
args = step_arguments(model, job["batch"], "adam", lambda s, d, _: jnp.zeros(s, d))
device = jax.devices()[0]
try:
    if job["step"] == "training":
        step = jax.jit(model.train_step, donate_argnums=0)
        # distinct buffers: a donated buffer passed twice is deleted before its second use
        state = jax.tree_util.tree_map(lambda a: jnp.array(a, copy=True), args["state"])
        call = (state, (args["x"], args["y"]))
    else:
        step = jax.jit(model.predict_step)
        call = (args["weights"], (args["x"],))
    compiled = step.lower(*call).compile()
    jax.block_until_ready(compiled(*call))
    stats = device.memory_stats() or {}
    out = {"ok": True, "peak": stats.get("peak_bytes_in_use"), "limit": stats.get("bytes_limit"),
           "plan": _total(compiled.memory_analysis())}
except Exception as exc:  # RESOURCE_EXHAUSTED: out of memory
    out = {"ok": False, "error": str(exc).splitlines()[0][:300],
           "limit": (device.memory_stats() or {}).get("bytes_limit")}
out["model_json"] = model_json
print(json.dumps(out))
"""


def environment(fraction: float | None) -> dict[str, str]:
    env = dict(os.environ, KERAS_BACKEND="jax")
    env.pop("JAX_PLATFORMS", None)
    if fraction is not None:
        env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = str(fraction)
    return env


def has_gpu() -> bool:
    """Whether JAX sees a GPU (asked in a subprocess, so this process never imports JAX)."""
    done = subprocess.run([sys.executable, "-c", "import jax; print(jax.devices()[0].platform)"],
                          capture_output=True, text=True, env=environment(None))
    return done.returncode == 0 and done.stdout.strip() == "gpu"


def step_job(model: str, size: int, dtype: str, batch: int, step: str) -> dict:
    """What the child builds and runs: memory_vs_xla's request (the seed CNN at its own
    scale of the size), one dtype, size, batch and step."""
    job = request(model, size, dtype, [batch])
    return {**job, "dtype": dtype, "size": job["sizes"][0], "batch": batch, "step": step}


def run_step(job: dict, fraction: float | None) -> dict:
    """One step of one model in a fresh process: its measured peak, XLA's plan, the model."""
    done = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps(job),
                          capture_output=True, text=True, env=environment(fraction), cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"ok": False, "error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def convplan_peak(model_json: str, batch: int, dtype: str, step: str, convention: str) -> int:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(model_json)
    graph = load(f.name)
    Path(f.name).unlink()
    memory = analyze(graph).training_memory(batch, dtype, "adam", convention)
    return int(memory.total if step == "training" else memory.plan.inference_peak)


def compare(models: list[str], size: int, batches: list[int], dtypes: list[str], step: str,
            convention: str) -> list[str]:
    lines = [f"{'model':14} {'dtype':15} {'size':>4} {'batch':>5} | {'GPU peak':>10} "
             f"{'XLA plan':>10} {'convplan':>10} {'/peak':>6} {'/plan':>6}", "-" * 86]
    for model in models:
        for dtype in dtypes:
            for batch in batches:
                job = step_job(model, size, dtype, batch, step)
                got = run_step(job, None)
                if not got.get("ok"):
                    lines.append(f"{model:14} {dtype:15} {size:>4} {batch:>5} | "
                                 f"failed: {got.get('error')}")
                    continue
                ours = convplan_peak(got["model_json"], batch, dtype, step, convention)
                lines.append(f"{model:14} {dtype:15} {size:>4} {batch:>5} | "
                             f"{format_bytes(got['peak']):>10} {format_bytes(got['plan']):>10} "
                             f"{format_bytes(ours):>10} {ours / got['peak']:6.3f} "
                             f"{ours / got['plan']:6.3f}")
    lines.append(f"{step} step; convention {convention}; /peak = convplan / measured peak, "
                 "/plan = convplan / XLA's plan")
    return lines


def largest(fits, start: int = 1, ceiling: int = 1 << 16) -> int:
    """The largest n in [0, ceiling] with fits(n) true, for a `fits` that holds up to some n
    and fails above it: doubling from `start`, then bisection (fits(0) is taken as true)."""
    low, high = 0, start
    while high <= ceiling and fits(high):
        low, high = high, high * 2
    high = min(high, ceiling + 1)
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return low


def max_batch(models: list[str], size: int, dtypes: list[str], fraction: float,
              convention: str) -> list[str]:
    lines = []
    for model in models:
        for dtype in dtypes:
            seen: dict[int, dict] = {}

            def runs(batch: int, model: str = model, dtype: str = dtype,
                     seen: dict[int, dict] = seen) -> bool:
                seen[batch] = run_step(step_job(model, size, dtype, batch, "training"),
                                       fraction)
                return bool(seen[batch].get("ok"))

            measured = largest(runs)
            sample = next(iter(seen.values()))
            cap = sample.get("limit")
            if not cap or "model_json" not in sample:
                lines.append(f"{model} {dtype}: no memory limit or model reported: {sample}")
                continue
            def fits(batch: int, model_json: str = sample["model_json"], dtype: str = dtype,
                     cap: int = cap) -> bool:
                return convplan_peak(model_json, batch, dtype, "training", convention) <= cap

            predicted = largest(fits)
            lines.append(f"{model:14} {dtype:15} size {size}: cap {format_bytes(cap)}; largest "
                         f"batch that runs {measured}, convplan predicts {predicted} "
                         f"({predicted / measured if measured else float('nan'):.2f}x)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="seed_cnn,ResNet50,MobileNetV2")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batches", default="8,32")
    parser.add_argument("--dtypes", default="float32,mixed_bfloat16")
    parser.add_argument("--step", choices=("training", "inference"), default="training")
    parser.add_argument("--convention", default="fused", choices=("fused", "eager", "xla-cpu"))
    parser.add_argument("--max-batch", action="store_true")
    parser.add_argument("--fraction", type=float, default=0.04,
                        help="with --max-batch: the share of the card JAX may allocate")
    args = parser.parse_args()
    if not has_gpu():
        print("memory_gpu: JAX sees no GPU here; run it on a machine with one", file=sys.stderr)
        sys.exit(2)
    models, dtypes = args.models.split(","), args.dtypes.split(",")
    if args.max_batch:
        lines = max_batch(models, args.size, dtypes, args.fraction, args.convention)
    else:
        lines = compare(models, args.size, [int(b) for b in args.batches.split(",")], dtypes,
                        args.step, args.convention)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
