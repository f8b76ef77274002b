"""convplan's memory peaks against XLA's buffer assignment (issue 14), on the CPU.

For each model, dtype policy, input size and batch: the bytes XLA allocates for one training
step (Keras's `train_step`, Adam, the state donated) and one predict step (argument + output +
temp - alias, `Compiled.memory_analysis()`), convplan's training and inference peaks
(convplan.analysis.memory, the fused convention unless --convention), their ratios, and the
ratio of the estimate convplan used before (weights + gradients + Adam slots + batch x every
layer output, no lifetimes) for comparison.

    .venv/bin/python benchmarks/memory_vs_xla.py                     # measure (slow: compiles)
    .venv/bin/python benchmarks/memory_vs_xla.py --record rows.jsonl # ... and keep the rows
    .venv/bin/python benchmarks/memory_vs_xla.py --from rows.jsonl   # reprint from kept rows
    .venv/bin/python benchmarks/memory_vs_xla.py --models seed_cnn,VGG16 --sizes 64

XLA runs in a subprocess with KERAS_BACKEND=jax (convplan.verify.xla_memory); the subprocess
returns the Keras model's JSON, which convplan reads here, so both sides see the same model.
Compiling a ResNet50 training step takes 2-5 minutes on a loaded 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from convplan import load  # noqa: E402
from convplan.analysis.analyze import analyze  # noqa: E402
from convplan.options import dtype_bytes, format_bytes, optimizer_slots  # noqa: E402
from convplan.verify.xla_memory import environment  # noqa: E402

APPLICATIONS = ("VGG16", "MobileNetV2", "ResNet50", "EfficientNetB0", "DenseNet121")
SPECS = {"seed_cnn": "examples/seed_cnn.yaml", "unet_small": "examples/unet_small.yaml"}
MODELS = ("seed_cnn", "unet_small", *APPLICATIONS)
SEED_SIZES = {64: 28, 96: 56}  # the seed CNN is a 28x28 network: half and the same ratio up


def request(model: str, size: int, dtype: str, batches: list[int]) -> dict:
    if model in SPECS:
        import yaml

        spec = yaml.safe_load((ROOT / SPECS[model]).read_text())
        size = SEED_SIZES.get(size, size) if model == "seed_cnn" else size
        return {"name": model, "spec": spec, "sizes": [size], "dtypes": [dtype],
                "batches": batches}
    return {"name": model, "application": model, "sizes": [size], "dtypes": [dtype],
            "batches": batches}


def measure(job: dict) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "convplan.verify.xla_memory"],
                          input=json.dumps(job), capture_output=True, text=True,
                          env=environment(), cwd=ROOT)
    if done.returncode:
        print(f"{job['name']}: {done.stderr.strip().splitlines()[-1]}", file=sys.stderr)
        return []
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def old_estimate(analysis, batch: int, dtype: str, optimizer: str = "adam") -> int:
    """What convplan printed before issue 14: weights + gradients + slots + batch x every
    layer output (inputs included) x compute bytes."""
    compute, variable = dtype_bytes(dtype)
    t = analysis.totals
    return int(t.params * variable + t.trainable_params * variable * (1 + optimizer_slots(
        optimizer)) + batch * t.activations * compute)


def predict(row: dict, convention: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(row["model_json"])
    graph = load(f.name)
    Path(f.name).unlink()
    analysis = analyze(graph)
    memory = analysis.training_memory(row["batch"], row["dtype"], row["optimizer"], convention)
    return {"train": int(memory.total),
            "predict": int(memory.plan.inference_peak),
            "old": old_estimate(analysis, row["batch"], row["dtype"], row["optimizer"])}


def table(rows: list[dict], convention: str) -> list[str]:
    head = (f"{'model':<15}{'dtype':<15}{'size':>5}{'batch':>6} | {'XLA train':>10}"
            f"{'convplan':>10}{'ratio':>7}{'old':>7} | {'XLA infer':>10}{'convplan':>10}"
            f"{'ratio':>7}")
    lines = [head, "-" * len(head)]
    ratios: dict[str, list[float]] = {"train": [], "predict": [], "old": []}
    for row in rows:
        ours = predict(row, convention)
        xla = row["xla"]
        train, infer, old = (ours["train"] / xla["train"], ours["predict"] / xla["predict"],
                             ours["old"] / xla["train"])
        ratios["train"].append(train)
        ratios["predict"].append(infer)
        ratios["old"].append(old)
        lines.append(f"{row['name']:<15}{row['dtype']:<15}{row['size']:>5}{row['batch']:>6} | "
                     f"{format_bytes(xla['train']):>10}{format_bytes(ours['train']):>10}"
                     f"{train:>7.3f}{old:>7.2f} | {format_bytes(xla['predict']):>10}"
                     f"{format_bytes(ours['predict']):>10}{infer:>7.3f}")
    if rows:
        lines.append("")
        for key, what in (("train", "training"), ("predict", "inference"),
                          ("old", "old estimate / XLA training")):
            values = ratios[key]
            inside = sum(0.9 <= v <= 1.1 for v in values)
            lines.append(f"{what}: ratio {min(values):.3f} .. {max(values):.3f}, "
                         f"{inside}/{len(values)} within 0.90-1.10")
    lines.append(f"convention: {convention}; ratio = convplan / XLA; old = the estimate before "
                 "issue 14 (weights + gradients + slots + batch x every output) / XLA")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--sizes", default="64,96")
    parser.add_argument("--batches", default="2,8")
    parser.add_argument("--dtypes", default="float32,mixed_bfloat16")
    parser.add_argument("--convention", default="xla-cpu", choices=("fused", "eager", "xla-cpu"))
    parser.add_argument("--record", help="append the measured rows to this JSONL file")
    parser.add_argument("--from", dest="source", help="read measured rows from this JSONL file")
    args = parser.parse_args()
    if args.source:
        rows = [json.loads(line) for line in Path(args.source).read_text().splitlines() if line]
    else:
        rows = []
        batches = [int(b) for b in args.batches.split(",")]
        for dtype in args.dtypes.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                for model in args.models.split(","):
                    got = measure(request(model, size, dtype, batches))
                    rows += got
                    if args.record:
                        with open(args.record, "a") as out:
                            out.writelines(json.dumps(r) + "\n" for r in got)
    print("\n".join(table(rows, args.convention)))


if __name__ == "__main__":
    main()
