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
    .venv/bin/python benchmarks/memory_vs_xla.py --ops              # one-op networks (2 min)

XLA runs in a subprocess with KERAS_BACKEND=jax (convplan.verify.xla_memory); the subprocess
returns the Keras model's JSON, which convplan reads here, so both sides see the same model.
Compiling a ResNet50 training step takes 2-5 minutes on a loaded 2-core machine.

Recorded rows leave the model's JSON out (MobileNetV2's is 157 KB; a row without it is 0.4 KB)
and keep its SHA-256: `--from` rebuilds each model in a subprocess (no compiling, about a
minute for all) and says on stderr if a rebuilt model differs from the one measured.
benchmarks/data/memory_vs_xla.jsonl holds the rows docs/memory.md's table is printed from,
benchmarks/data/memory_ops.jsonl those of its per-op table:

    .venv/bin/python benchmarks/memory_vs_xla.py --from benchmarks/data/memory_vs_xla.jsonl
    .venv/bin/python benchmarks/memory_vs_xla.py --ops --from benchmarks/data/memory_ops.jsonl

`--ops` compiles tiny networks (OP_NETWORKS: a stem convolution, one or a few ops, a 1x1
head) and prints convplan / XLA for each and the difference from its base network in both
(what the added ops cost): a rule that is off shows as a difference ratio away from 1.
"""

from __future__ import annotations

import argparse
import hashlib
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


REBUILD = """\
import json, sys
import keras
from convplan.verify.xla_memory import _build
for request in json.load(sys.stdin):
    keras.backend.clear_session()
    keras.config.set_dtype_policy(request["dtype"])
    model = _build(request, request["size"])
    print(json.dumps({"key": request["key"], "model_json": model.to_json()}), flush=True)
"""


def digest(model_json: str) -> str:
    return hashlib.sha256(model_json.encode()).hexdigest()


def compact(row: dict) -> dict:
    """A row to record: the model's JSON replaced by its SHA-256 (rebuilt by `with_models`)."""
    kept = {k: v for k, v in row.items() if k != "model_json"}
    return {**kept, "model_sha256": digest(row["model_json"])}


def _key(row: dict) -> str:
    return json.dumps([row["name"], row["size"], row["dtype"], row.get("spec")])


def _source(row: dict) -> dict:
    """What xla_memory._build needs to rebuild a row's model: its spec (kept in the row for
    --ops networks, else the example file) or its keras.applications name."""
    if "spec" in row:
        return {"spec": row["spec"]}
    if row["name"] in SPECS:
        import yaml

        return {"spec": yaml.safe_load((ROOT / SPECS[row["name"]]).read_text())}
    return {"application": row["name"]}


def with_models(rows: list[dict]) -> list[dict]:
    """Rows with their model's JSON: recorded rows (no JSON) get it rebuilt in one
    Keras-on-JAX subprocess, once per model, dtype and size; a rebuilt model whose SHA-256
    differs from the measured one's is reported on stderr (the prediction is then not of
    the measured model)."""
    missing = {_key(r): r for r in rows if "model_json" not in r}
    if not missing:
        return rows
    jobs = [{"key": k, "dtype": r["dtype"], "size": r["size"], **_source(r)}
            for k, r in missing.items()]
    done = subprocess.run([sys.executable, "-c", REBUILD], input=json.dumps(jobs),
                          capture_output=True, text=True, env=environment(), cwd=ROOT)
    if done.returncode:
        sys.exit(f"rebuilding the recorded models failed: {done.stderr.strip()[-2000:]}")
    built = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            got = json.loads(line)
            built[got["key"]] = got["model_json"]
    out = []
    for row in rows:
        if "model_json" not in row:
            model_json = built[_key(row)]
            if digest(model_json) != row.get("model_sha256"):
                print(f"{row['name']} {row['dtype']} {row['size']}: the rebuilt Keras model "
                      "differs from the measured one (another Keras version?)", file=sys.stderr)
            row = {**row, "model_json": model_json}
        out.append(row)
    return out


def _order(row: dict) -> tuple:
    """Recorded rows by model (MODELS' order), dtype, input size and batch."""
    model = MODELS.index(row["name"]) if row["name"] in MODELS else len(MODELS)
    return (model, row["name"], row["dtype"] != "float32", row["size"] or 0, row["batch"])


def read_rows(path: str) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def record(path: str, rows: list[dict]) -> None:
    with open(path, "a") as out:
        out.writelines(json.dumps(compact(r)) + "\n" for r in rows)


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


def _conv(name: str, filters: int = 16, kernel: int = 3, activation: str = "relu",
          **more) -> dict:
    return {"name": name, "op": "Conv2D", "filters": filters, "kernel_size": kernel,
            "padding": "same", "activation": activation, **more}


def _bn_relu(name: str) -> list[dict]:
    return [{"name": f"{name}_bn", "op": "BatchNormalization"},
            {"name": f"{name}_relu", "op": "ReLU"}]


RELU = {"name": "r", "op": "ReLU"}
BN = {"name": "bn", "op": "BatchNormalization"}
ACT = {"name": "act", "op": "Activation", "activation": "relu"}


def _dense_layer(source: str, index: int) -> list[dict]:
    """DenseNet121's layer: BN-ReLU-1x1 conv (4k)-BN-ReLU-3x3 conv (k), concatenated to its
    input (k = 16 here)."""
    name = f"d{index}"
    return [{"name": f"{name}_bn1", "op": "BatchNormalization", "inputs": [source]},
            {"name": f"{name}_act1", "op": "Activation", "activation": "relu"},
            _conv(f"{name}_conv1", 64, 1, "linear", use_bias=False),
            {"name": f"{name}_bn2", "op": "BatchNormalization"},
            {"name": f"{name}_act2", "op": "Activation", "activation": "relu"},
            _conv(f"{name}_conv2", 16, 3, "linear", use_bias=False),
            {"name": f"cat{index}", "op": "Concatenate", "inputs": [source, f"{name}_conv2"]}]


# name: (base network or None, input shape per example, layers between a stem and a head).
# Every network is a stem convolution, its layers and a 1-filter 1x1 head (the output and its
# loss stay small), so its difference from its base is what its layers cost in the middle of
# a network. Inputs 64x64x16 at batch 8 (2 MiB a float32 map): feature maps, not the few
# weights, are what is measured, except conv512 (a ResNet50 stage-5 convolution, 3x3x512x512
# on 4x4 maps, where the kernel is the bytes).
MAP = [64, 64, 16]
OP_NETWORKS: dict[str, tuple[str | None, list[int], list[dict]]] = {
    "base": (None, MAP, []),
    "conv": ("base", MAP, [_conv("c1")]),
    "maxpool": ("base", MAP, [{"name": "pool", "op": "MaxPooling2D"}]),
    "avgpool": ("base", MAP, [{"name": "pool", "op": "AveragePooling2D",
                                "pool_size": 2}]),
    "transpose": ("base", MAP, [{"name": "up", "op": "Conv2DTranspose", "filters": 16,
                                 "kernel_size": 2, "strides": 2}]),
    "upsample": ("base", MAP, [{"name": "up", "op": "UpSampling2D"}]),
    "conv+concat": ("conv", MAP, [_conv("c1"), {"name": "cat", "op": "Concatenate",
                                                "inputs": ["stem", "c1"]}]),
    "conv+add": ("conv", MAP, [_conv("c1"), {"name": "add", "op": "Add",
                                             "inputs": ["stem", "c1"]}]),
    "linear_conv+relu": ("base", MAP, [_conv("c1", activation="linear"), RELU]),
    "linear_conv+bn+relu": ("linear_conv+relu", MAP, [_conv("c1", activation="linear"),
                                                      *_bn_relu("b")]),
    "linear_conv+act": ("base", MAP, [_conv("c1", activation="linear"), ACT]),
    "linear_conv+bn+act": ("linear_conv+act", MAP, [_conv("c1", activation="linear"), BN, ACT]),
    "bn+relu": ("base", MAP, _bn_relu("b")),
    "dense_layer": ("base", MAP, _dense_layer("stem", 1)),
    "dense_block3": ("dense_layer", MAP, [*_dense_layer("stem", 1), *_dense_layer("cat1", 2),
                                          *_dense_layer("cat2", 3)]),
    "transition": ("base", MAP, [BN, ACT, _conv("t", 16, 1, "linear", use_bias=False),
                                 {"name": "tp", "op": "AveragePooling2D", "pool_size": 2}]),
    # one U-Net level: down (max pooling), a convolution, up (2x2 stride-2 transposed), skip
    "unet_level": ("base", MAP, [
        {"name": "pool", "op": "MaxPooling2D"}, _conv("c1", 32), _conv("c2", 32),
        {"name": "up", "op": "Conv2DTranspose", "filters": 16, "kernel_size": 2, "strides": 2},
        {"name": "cat", "op": "Concatenate", "inputs": ["up", "stem"]}, _conv("c3")]),
    "depthwise": ("base", MAP, [{"name": "dw", "op": "DepthwiseConv2D", "kernel_size": 3,
                                 "padding": "same", "activation": "relu"}]),
    "conv512": (None, [4, 4, 512], [_conv("c1", 512, activation="linear"), RELU]),
    "conv512+bn+relu": ("conv512", [4, 4, 512], [_conv("c1", 512, activation="linear"),
                                                 *_bn_relu("b")]),
    # ResNet50's stage 5 at input 64 (2x2 maps) and 96 (3x3 maps)
    "conv512_on_2x2": ("conv512", [2, 2, 512], [_conv("c1", 512, activation="linear"), RELU]),
    "conv512_on_3x3": ("conv512", [3, 3, 512], [_conv("c1", 512, activation="linear"), RELU]),
}
OPS_BATCH = 8
RUN_ALL = ("import json, sys; from convplan.verify.xla_memory import run\n"
           "for request in json.load(sys.stdin):\n"
           "    try: run(request)\n"
           "    except Exception as exc: print(request['name'], repr(exc)[:300], file=sys.stderr)")


def op_spec(name: str) -> dict:
    _, shape, layers = OP_NETWORKS[name]
    stem = [] if shape[-1] == 512 else [_conv("stem")]  # the conv512 input is its own stem
    return {"name": name.replace("+", "_"), "inputs": {"x": shape},
            "layers": [*stem, *layers, _conv("head", 1, 1, "linear")]}


def measure_ops(dtypes: list[str], record_to: str | None) -> list[dict]:
    """Every OP_NETWORKS network in every dtype, in one Keras-on-JAX subprocess."""
    jobs = [{"name": name, "spec": op_spec(name), "sizes": [None], "dtypes": [dtype],
             "batches": [OPS_BATCH]} for dtype in dtypes for name in OP_NETWORKS]
    done = subprocess.run([sys.executable, "-c", RUN_ALL], input=json.dumps(jobs),
                          capture_output=True, text=True, env=environment(), cwd=ROOT)
    if done.returncode or done.stderr.strip():
        print(f"op networks not measured: {done.stderr.strip()[-2000:]}", file=sys.stderr)
    rows = [{**json.loads(line), "spec": op_spec(json.loads(line)["name"])}
            for line in done.stdout.splitlines() if line.startswith("{")]
    if record_to:
        record(record_to, rows)
    return rows


def _kib(n: float) -> str:
    return f"{n / 1024:>9.0f}"


def ops_table(rows: list[dict], convention: str) -> list[str]:
    """Per network and dtype: XLA's and convplan's bytes and ratio, and the difference from
    the base network in both (KiB) with its ratio (convplan's difference / XLA's)."""
    head = (f"{'network':<23}{'dtype':<15}| {'XLA train':>9}{'ratio':>7}{'d XLA':>9}"
            f"{'d ours':>9}{'d ratio':>8} | {'XLA inf':>9}{'ratio':>7}{'d XLA':>9}"
            f"{'d ours':>9}{'d ratio':>8}")
    lines = [head, "-" * len(head)]
    got = {(r["name"], r["dtype"]): (r["xla"], predict(r, convention)) for r in rows}
    for (name, dtype), (xla, ours) in got.items():
        base = got.get((OP_NETWORKS[name][0], dtype))
        cells = f"{name:<23}{dtype:<15}|"
        for ours_key, xla_key in (("train", "train"), ("predict", "predict")):
            cells += f" {_kib(xla[xla_key])}{ours[ours_key] / xla[xla_key]:>7.3f}"
            if base is None:
                cells += f"{'':>9}{'':>9}{'':>8} |"
                continue
            d_xla = xla[xla_key] - base[0][xla_key]
            d_ours = ours[ours_key] - base[1][ours_key]
            ratio = f"{d_ours / d_xla:>8.2f}" if d_xla else f"{'-':>8}"
            cells += f"{_kib(d_xla)}{_kib(d_ours)}{ratio} |"
        lines.append(cells.rstrip(" |"))
    lines.append(f"KiB; batch {OPS_BATCH}; convention {convention}; ratio = convplan / XLA; "
                 "d = the network minus its base network (what the added ops cost)")
    return lines


def _summary(values: list[float]) -> str:
    inside = sum(0.9 <= v <= 1.1 for v in values)
    return (f"ratio {min(values):.3f} .. {max(values):.3f}, {inside}/{len(values)} within "
            "0.90-1.10")


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
        dtypes = [r["dtype"] for r in rows]
        for key, what in (("train", "training"), ("predict", "inference"),
                          ("old", "old estimate / XLA training")):
            lines.append(f"{what}: {_summary(ratios[key])}")
            for dtype in dict.fromkeys(dtypes):
                values = [v for v, d in zip(ratios[key], dtypes) if d == dtype]
                lines.append(f"  {dtype}: {_summary(values)}")
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
    parser.add_argument("--ops", action="store_true",
                        help="one-op networks against their base networks (--dtypes, "
                             "--record and --from apply)")
    args = parser.parse_args()
    if args.ops:
        rows = (with_models(read_rows(args.source)) if args.source
                else measure_ops(args.dtypes.split(","), args.record))
        print("\n".join(ops_table(rows, args.convention)))
        return
    if args.source:
        rows = sorted(with_models(read_rows(args.source)), key=_order)
    else:
        rows = []
        batches = [int(b) for b in args.batches.split(",")]
        for dtype in args.dtypes.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                for model in args.models.split(","):
                    got = measure(request(model, size, dtype, batches))
                    rows += got
                    if args.record:
                        record(args.record, got)
    print("\n".join(table(rows, args.convention)))


if __name__ == "__main__":
    main()
