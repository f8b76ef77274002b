"""convplan's time bands against measured times (issue 15), on this CPU under Keras 3 + JAX.

For each model at a batch and input size: each layer compiled and timed on its own (forward,
and its forward + backward as a training step runs them), the whole forward and training step
(Adam), all measured by convplan.verify.xla_time in a
subprocess; beside convplan's prediction for a device (`cpu-local`, written by `convplan
calibrate`; each layer priced alone, `time_plan(alone=True)`, as it was timed; each step
priced as a step): the fraction of layers whose measured time lies inside [lower, upper], the
Spearman rank correlation of the band midpoints against the measured layer times (forward,
and training against each layer's training band), each step's measured / predicted midpoint
and whether it lies in its band; with --detail, per op class which layers make up a training
step's excess over its band; and XLA's cost_analysis flops
and bytes of the compiled forward and training programs beside convplan's, as ratios.
Ratios, not seconds: this machine is shared and noisy.

    .venv/bin/python benchmarks/time_vs_jax.py                          # measure (slow)
    .venv/bin/python benchmarks/time_vs_jax.py --record rows.jsonl      # ... and keep the rows
    .venv/bin/python benchmarks/time_vs_jax.py --from rows.jsonl        # reprint from kept rows
    .venv/bin/python benchmarks/time_vs_jax.py --from rows.jsonl --detail  # per-op misses
    .venv/bin/python benchmarks/time_vs_jax.py --from rows.jsonl --cold    # all bytes at DRAM rate
    .venv/bin/python benchmarks/time_vs_jax.py --models seed_cnn,VGG16 --size 64
    .venv/bin/python benchmarks/time_vs_jax.py --calibrate-each --record rows.jsonl
    .venv/bin/python benchmarks/time_vs_jax.py --from rows.jsonl --own-calibration

With --calibrate-each, `convplan calibrate` runs right before each model is measured and its
entry is kept in the model's rows; --own-calibration scores each row against it (the
machine's drift over one model's minutes, not over the whole run's; rows without one use
--device).

The default input size is 96 (the seed CNN, a 28x28 network, at 56), not 224: 224 at batch 32
takes tens of minutes per model on two shared cores. Targets (issue 15): Spearman >= 0.8,
training step within 30% (ratio 0.7-1.3), the training step inside its band.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memory_vs_xla import APPLICATIONS, compact, request, with_models  # noqa: E402

from convplan import load  # noqa: E402
from convplan.analysis.analyze import analyze  # noqa: E402
from convplan.verify.time_accuracy import Accuracy, by_op, compare, midpoint  # noqa: E402
from convplan.verify.xla_time import environment  # noqa: E402

MODELS = ("seed_cnn", *APPLICATIONS)


def measure(job: dict) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "convplan.verify.xla_time"],
                          input=json.dumps(job), capture_output=True, text=True,
                          env=environment(), cwd=ROOT)
    if done.returncode:
        print(f"{job['name']}: {done.stderr.strip().splitlines()[-1]}", file=sys.stderr)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def calibration(quick: bool = False) -> dict:
    """This machine's `cpu-local` entry measured now (`convplan calibrate` in a subprocess,
    into a temporary devices file; `quick`: its --quick, for tests), as the devices file
    stores it."""
    from convplan.devices import LOCAL, device_to_json, user_devices

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "devices.json"
        subprocess.run([sys.executable, "-m", "convplan", "calibrate", "--output", str(path),
                        *(["--quick"] if quick else [])], check=True, capture_output=True,
                       cwd=ROOT)
        return device_to_json(user_devices(path)[LOCAL])


def scored_device(row: dict, device_name: str, own: bool) -> object:
    """The device a row is scored against: the calibration recorded with it (`own`, where
    the row has one), else the named entry."""
    from convplan.devices import device, device_from_json

    return device_from_json(row["calibration"]) if own and "calibration" in row \
        else device(device_name)


def plans(row: dict, chip: object, cold: bool = False) -> tuple:
    """convplan's analysis, its (forward, training) step plans of a measured row's model and
    the same plans with each layer priced alone (`time_plan(alone=True)`: its bytes at the
    rate of its own traffic, as a layer compiled and repeated alone runs), which the layers
    timed alone are scored against; with `cold`, the device's calibrated in-cache rates
    (stream_ sweep, cache_bandwidth) dropped, so every layer's bytes move at the memory
    bandwidth (a what-if)."""
    import dataclasses

    from convplan.analysis.timing import time_plan

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.json"
        path.write_text(row["model_json"])
        graph = load(str(path))
    analysis = analyze(graph)
    if cold:
        extra = {k: v for k, v in chip.extra.items()
                 if not k.startswith("stream_") and k != "cache_bandwidth"}
        chip = dataclasses.replace(chip, extra=extra)
    plan = lambda training, alone: time_plan(  # noqa: E731
        graph, analysis, chip, row["dtype"], row["batch"], training=training, alone=alone)
    return analysis, (plan(False, False), plan(True, False)), (plan(False, True), plan(True, True))


def _layer_times(timings: list[dict], key: str, overhead: bool) -> dict[str, float]:
    """{layer: seconds} of one kind of timing (forward rows, or their "train" parts)."""
    return {name: max(m[key] - (m[f"overhead_{key}"] if overhead else 0.0), 0.0)
            for name, m in timings}


def accuracy(row: dict, step_plans: tuple, alone_plans: tuple, statistic: str, overhead: bool
             ) -> tuple[Accuracy, Accuracy]:
    """Per-layer forward bands (each layer priced alone) with the forward step's band, and
    per-layer training bands (each layer's forward + backward timed alone, where the row has
    them) with the training step's. With `overhead`, each layer's time less the dispatch of
    a jitted call of the same arguments that computes nothing (which a layer inside a
    compiled step does not pay)."""
    (forward_step, training_step), (forward, training) = step_plans, alone_plans
    key = f"{statistic}_s"
    layers = row.get("layers", [])
    steps = row["steps"]
    fwd = compare(_layer_times([(m["name"], m) for m in layers], key, overhead),
                  {t.name: (t.lower_s, t.upper_s) for t in forward.layers},
                  {t.name: t.op for t in forward.layers}, steps["forward"][key],
                  (forward_step.lower_s, forward_step.upper_s))
    trained = [(m["name"], m["train"]) for m in layers if "train" in m]
    train = compare(_layer_times(trained, key, overhead),
                    {t.name: (t.lower_s, t.upper_s) for t in training.layers},
                    {t.name: t.op for t in training.layers}, steps["train"][key],
                    (training_step.lower_s, training_step.upper_s))
    return fwd, train


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def table(rows: list[dict], device_name: str, statistic: str, detail: bool,
          overhead: bool = True, cold: bool = False, own: bool = False) -> list[str]:
    head = (f"{'model':<15}{'size':>5}{'batch':>6}{'layers':>7}{'inside':>8}{'rho':>7} | "
            f"{'fwd':>6}{'band':>5} | {'inside':>7}{'rho':>6}{'sum':>6} | {'train':>6}"
            f"{'band':>5} | {'flops fwd':>10}{'train':>7}{'bytes fwd':>10}{'train':>7}")
    lines = [head, "-" * len(head)]
    misses: list[str] = []
    for row in rows:
        chip = scored_device(row, device_name, own)
        analysis, (forward, training), alone = plans(row, chip, cold)
        fwd, train = accuracy(row, (forward, training), alone, statistic, overhead)
        steps = row["steps"]
        ours_f = (sum(t.flops for t in forward.layers), sum(t.bytes for t in forward.layers))
        ours_t = (sum(t.flops for t in training.layers), sum(t.bytes for t in training.layers))
        lines.append(
            f"{row['name']:<15}{row['size']:>5}{row['batch']:>6}{len(fwd.layers):>7}"
            f"{fwd.inside_fraction:>8.2f}{fwd.spearman:>7.2f} | {fwd.step_ratio:>6.2f}"
            f"{'yes' if fwd.step_inside else 'no':>5} | {_training_layers(train)} | "
            f"{train.step_ratio:>6.2f}"
            f"{'yes' if train.step_inside else 'no':>5} | "
            f"{_ratio(steps['forward']['xla']['flops'], ours_f[0]):>10}"
            f"{_ratio(steps['train']['xla']['flops'], ours_t[0]):>7}"
            f"{_ratio(steps['forward']['xla']['bytes'], ours_f[1]):>10}"
            f"{_ratio(steps['train']['xla']['bytes'], ours_t[1]):>7}")
        if detail:
            misses += _detail(row, fwd, alone[0])
            if train.layers:
                misses += _training_detail(row["name"], train)
    scored = "each row's own calibration, else " + device_name if own else device_name
    lines += ["", f"device {scored}{' (cold: no in-cache rates)' if cold else ''}, float32, "
              f"{statistic} of repeats; inside = fraction "
              "of layers (forward, each compiled alone"
              + (", less the dispatch of an empty call" if overhead else "")
              + ") whose measured time is in [lower, upper];"
              " rho = Spearman of band midpoints vs measured layer times; the second inside, "
              "rho: the same for each layer's forward + backward (jax.vjp, compiled alone) "
              "against its training band, sum = those layers' measured times summed / the "
              "measured training step; fwd / train = "
              "measured step / band midpoint (target 0.7-1.3), band = measured step inside "
              "[lower, upper]; flops / bytes = XLA cost_analysis / convplan (forward program "
              "and training program)"]
    return lines + misses


def _training_layers(train: Accuracy) -> str:
    """inside, rho and (sum of the layers' training times / training step) of one row."""
    if not train.layers:
        return f"{'-':>7}{'-':>6}{'-':>6}"
    summed = sum(b.measured_s for b in train.layers) / train.step_measured_s
    return f"{train.inside_fraction:>7.2f}{train.spearman:>6.2f}{summed:>6.2f}"


def attribution(train: Accuracy) -> dict[str, tuple[int, float, float, float, float]]:
    """Per op class of the per-layer training timings: (layers, median measured / midpoint,
    summed measured / summed midpoints, share of all layers' measured time, share of the
    excess: (measured - midpoint) summed over the class / over all layers). The excess share
    says which layers make a training step slower than its band: it sums to 1."""
    middle = {b.name: midpoint(b.lower_s, b.upper_s) for b in train.layers}
    total = sum(b.measured_s for b in train.layers)
    excess = total - sum(middle.values())
    result = {}
    for op, (n, _, median) in by_op(train).items():
        bands = [b for b in train.layers if b.op == op]
        measured = sum(b.measured_s for b in bands)
        predicted = sum(middle[b.name] for b in bands)
        result[op] = (n, median, measured / predicted if predicted else math.inf,
                      measured / total if total else 0.0,
                      (measured - predicted) / excess if excess else 0.0)
    return result


def _training_detail(name: str, train: Accuracy) -> list[str]:
    """Per op class and the layers that add most to the training step's excess over its
    band (each layer's forward + backward timed alone)."""
    lines = ["", f"{name}: per op class (training: each layer's forward + backward alone)",
             f"  {'op':<26}{'n':>4}{'inside':>8}{'meas/mid':>10}{'sum/sum':>9}{'time':>7}"
             f"{'excess':>8}"]
    inside = {op: values[1] for op, values in by_op(train).items()}
    for op, (n, median, summed, share, excess) in sorted(
            attribution(train).items(), key=lambda item: -item[1][4]):
        lines.append(f"  {op:<26}{n:>4}{inside[op]:>8.2f}{median:>10.2f}{summed:>9.2f}"
                     f"{share:>7.2f}{excess:>8.2f}")
    total = sum(b.measured_s - midpoint(b.lower_s, b.upper_s) for b in train.layers)
    worst = sorted(train.layers, key=lambda b: b.measured_s - midpoint(b.lower_s, b.upper_s),
                   reverse=True)[:10]
    lines.append("  most excess (measured / midpoint, share of the excess, lower, upper in ms, "
                 "measured in ms):")
    for b in worst:
        extra = (b.measured_s - midpoint(b.lower_s, b.upper_s)) / total if total else 0.0
        lines.append(f"    {b.name:<32}{b.op:<22}{b.ratio:>7.2f}{extra:>6.2f}  "
                     f"[{b.lower_s * 1e3:.3f}, {b.upper_s * 1e3:.3f}] {b.measured_s * 1e3:.3f}")
    return lines


def _detail(row: dict, fwd: Accuracy, forward) -> list[str]:
    """Per op class of one model: layers, fraction inside, median measured / midpoint, and the
    XLA / convplan flops and bytes of those layers compiled alone (summed)."""
    xla = {m["name"]: m["xla"] for m in row.get("layers", [])}
    ours = {t.name: t for t in forward.layers}
    lines = ["", f"{row['name']}: per op class (forward layers alone)",
             f"  {'op':<26}{'n':>4}{'inside':>8}{'meas/mid':>10}{'xla flops':>10}"
             f"{'xla bytes':>10}"]
    for op, (n, inside, median) in by_op(fwd).items():
        names = [b.name for b in fwd.layers if b.op == op]
        flops = _ratio(sum(xla[n]["flops"] for n in names), sum(ours[n].flops for n in names))
        moved = _ratio(sum(xla[n]["bytes"] for n in names), sum(ours[n].bytes for n in names))
        lines.append(f"  {op:<26}{n:>4}{inside:>8.2f}{median:>10.2f}{flops:>10}{moved:>10}")
    worst = sorted(fwd.layers, key=lambda b: abs(_log(b.ratio)), reverse=True)[:8]
    lines.append("  worst layers (measured / midpoint, lower, upper in ms, measured in ms):")
    for b in worst:
        lines.append(f"    {b.name:<32}{b.op:<22}{b.ratio:>7.2f}  [{b.lower_s * 1e3:.3f}, "
                     f"{b.upper_s * 1e3:.3f}] {b.measured_s * 1e3:.3f}")
    return lines


def _log(x: float) -> float:
    import math

    return math.log(x) if x > 0 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="cpu-local")
    parser.add_argument("--statistic", default="median", choices=("median", "min"))
    parser.add_argument("--budget", type=float, default=0.3,
                        help="seconds of repeats per timing (at least 5 repeats)")
    parser.add_argument("--record", help="append the measured rows to this JSONL file")
    parser.add_argument("--from", dest="source", help="read measured rows from this JSONL file")
    parser.add_argument("--detail", action="store_true", help="per op class and worst layers")
    parser.add_argument("--keep-overhead", action="store_true",
                        help="do not subtract the dispatch of an empty jitted call from each "
                             "layer's time")
    parser.add_argument("--cold", action="store_true",
                        help="price every layer's bytes at the memory bandwidth (drop the "
                             "device's in-cache rates)")
    parser.add_argument("--calibrate-each", action="store_true",
                        help="run `convplan calibrate` right before each model and keep its "
                             "entry in the model's rows")
    parser.add_argument("--own-calibration", action="store_true",
                        help="score each row against the calibration kept in it")
    args = parser.parse_args()
    if args.source:
        # recorded rows name their Keras model by SHA-256; it is rebuilt (no measuring)
        rows = with_models([json.loads(line) for line in
                            Path(args.source).read_text().splitlines() if line])
    else:
        rows = []
        for model in args.models.split(","):
            job = request(model, args.size, "float32", [args.batch])
            job["budget_s"] = args.budget
            entry = calibration() if args.calibrate_each else None
            got = [{**r, "calibration": entry} if entry else r for r in measure(job)]
            rows += got
            if args.record:
                with open(args.record, "a") as out:
                    out.writelines(json.dumps(compact(r)) + "\n" for r in got)
    print("\n".join(table(rows, args.device, args.statistic, args.detail,
                           not args.keep_overhead, args.cold,
                           args.own_calibration or args.calibrate_each)))


if __name__ == "__main__":
    main()
