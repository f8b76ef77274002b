"""Where a compiled training step's time goes, per layer, on this CPU (issue 15's misses).

Compiles a model's Keras 3 + JAX training step (Adam, mse, as benchmarks/time_vs_jax.py does),
traces a few steps with jax.profiler (XLA:CPU records one event per thunk) and charges each
thunk to the layer and pass its HLO metadata names (`jvp(conv1)` forward, `transpose(jvp(conv1))`
backward, `adam` the update); a kernel gradient's convolution, which XLA leaves unnamed, goes to
the layer whose kernel has its dimensions (ties: by its window, then by its input; see
`thunk_owners`); other unnamed thunks (the iotas and broadcasts XLA's
select-and-scatter expansion adds for a max pool's gradient) go to the layer that consumes them.
Prints each layer's share of the traced step and, with --rows (benchmarks/time_vs_jax.py's
recorded rows of the same model), the layer's forward + backward timed alone / its time inside the
step: the ratio below 1 is the cross-layer cost a per-layer model misses. Shares and ratios, not
seconds: this machine is shared and noisy.

    .venv/bin/python benchmarks/profile_step.py seed_cnn --size 28
    .venv/bin/python benchmarks/profile_step.py DenseNet121 --size 64 \
        --rows benchmarks/data/time_vs_jax_swap.jsonl
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = ")
CALLS = re.compile(r"calls=%?([\w.\-]+)")
WINDOW = re.compile(r"window=\{size=([0-9x]+)")
OP_NAME = re.compile(r'op_name="jit\(train_step\)/([^"]*)"')


def owner(op_name: str) -> str:
    """'transpose(jvp(conv1))/conv_general_dilated' -> 'conv1 backward'; 'adam/mul' -> 'adam'."""
    head = op_name.split("/")[0]
    backward = head.startswith("transpose(")
    layer = re.sub(r"^(?:transpose\()?(?:jvp\()?([^()]*)\)*$", r"\1", head)
    if layer == head and "(" not in head and "/" not in op_name:
        return "step"  # a bare op of the train step itself (metrics, counters)
    return f"{layer} {'backward' if backward else 'forward'}" if layer != "adam" else "adam"


def thunk_owners(hlo: str, kernels: dict[str, tuple[int, ...]] | None = None,
                 maps: dict[str, tuple[int, ...]] | None = None,
                 upstream: dict[str, set[str]] | None = None) -> dict[str, str]:
    """{entry instruction: owner} from the optimized HLO's op_name metadata (of the instruction
    or of the fused computation it calls). XLA leaves a kernel gradient's convolution unnamed:
    it goes to the layer in `kernels` ({layer: kernel shape}) whose kernel has its dimensions
    (in any order); where several do, to those whose output map (`maps`: {layer: spatial
    dims}) is the convolution's window (a kernel gradient's window is the output gradient's
    map), and then to the one with the layer that made an operand among its near inputs
    (`upstream`: {layer: layers a few hops before it}; the operand is its input, recomputed
    or transposed by a fusion named after that layer). Other unnamed thunks inherit a
    consumer's owner, else a producer's."""
    by_dims: dict[tuple[int, ...], list[str]] = collections.defaultdict(list)
    for layer, shape in (kernels or {}).items():
        by_dims[tuple(sorted(shape))].append(layer)
    computations: dict[str, list[str]] = {}
    current = None
    for line in hlo.splitlines():
        if line and not line.startswith(" ") and "{" in line:
            current = line.split()[1 if line.startswith("ENTRY") else 0].lstrip("%")
            computations[current] = []
        elif current is not None:
            computations[current].append(line)
    entry = next(name for name in computations if hlo.find(f"ENTRY %{name}") >= 0
                 or hlo.find(f"ENTRY {name}") >= 0)
    owners: dict[str, str] = {}
    operands: dict[str, list[str]] = {}
    for line in computations[entry]:
        match = INSTRUCTION.match(line)
        if not match:
            continue
        name = match.group(1)
        used = re.findall(r"%([\w.\-]+)", line.split("=", 1)[1])
        calls = CALLS.search(line)
        called = calls.group(1) if calls else ""
        body = "\n".join(computations.get(called, []))
        names = OP_NAME.findall(line) + OP_NAME.findall(body)
        if names:
            owners[name] = collections.Counter(owner(n) for n in names).most_common(1)[0][0]
        elif " convolution(" in body or " convolution(" in line:
            dims = re.match(r"\s*(?:ROOT )?%?[\w.\-]+ = \w+\[([0-9,]*)\]", line)
            layers = by_dims.get(tuple(sorted(int(d) for d in dims.group(1).split(",") if d)),
                                 []) if dims else []
            window = WINDOW.search(body or line)
            if len(layers) > 1 and window and maps:
                size = tuple(int(n) for n in window.group(1).split("x"))
                layers = [layer for layer in layers if tuple(maps.get(layer, ())) == size]
            makers = {owners[o].partition(" ")[0] for o in used if o in owners}
            if len(layers) > 1 and upstream:
                layers = [layer for layer in layers if makers & upstream.get(layer, set())]
            if len(layers) == 1:
                owners[name] = f"{layers[0]} backward"
        operands[name] = used
    # an unnamed thunk (an expander's iota, a kernel gradient's convolution) belongs to the
    # layer it feeds, or else to the layer that feeds it: not to the optimizer it feeds
    for name, used in reversed(list(operands.items())):
        for operand in used:
            if operand in operands and operand not in owners and owners.get(name, "adam") != "adam":
                owners[operand] = owners[name]
    for name, used in operands.items():
        named = [owners[o] for o in used if owners.get(o, "adam") != "adam"]
        if name not in owners and named:
            owners[name] = named[0]
    return owners


def near_inputs(model, hops: int) -> dict[str, set[str]]:
    """{layer: the layers up to `hops` edges before it} in a Keras functional model."""
    parents = {layer.name: {tensor._keras_history.operation.name
                            for node in layer._inbound_nodes for tensor in node.input_tensors}
               for layer in model.layers}
    near = {}
    for name in parents:
        seen, frontier = set(), {name}
        for _ in range(hops):
            frontier = set().union(*(parents.get(n, set()) for n in frontier)) - seen
            seen |= frontier
        near[name] = seen
    return near


def profile(model, batch: int, steps: int) -> tuple[dict[str, float], float]:
    """{owner: microseconds per step} and the traced thunks' total per step."""
    import jax

    from convplan.verify.xla_memory import step_arguments
    from convplan.verify.xla_time import _random

    args = step_arguments(model, batch, "adam", _random)
    train = jax.jit(model.train_step, donate_argnums=0).lower(
        args["state"], (args["x"], args["y"])).compile()
    kernels = {layer.name: tuple(layer.kernel.shape) for layer in model.layers
               if getattr(layer, "kernel", None) is not None}
    maps = {name: tuple(model.get_layer(name).output.shape[1:-1]) for name in kernels}
    owners = thunk_owners(train.as_text(), kernels, maps, near_inputs(model, 3))
    state = args["state"]
    for _ in range(3):
        logs, state = train(state, (args["x"], args["y"]))
        jax.block_until_ready(logs)
    with tempfile.TemporaryDirectory() as folder:
        jax.profiler.start_trace(folder, create_perfetto_trace=True)
        for _ in range(steps):
            logs, state = train(state, (args["x"], args["y"]))
            jax.block_until_ready(logs)
        jax.profiler.stop_trace()
        trace = json.load(gzip.open(glob.glob(f"{folder}/**/*.trace.json.gz", recursive=True)[0]))
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    spent: dict[str, float] = collections.defaultdict(float)
    for event in events:
        if event.get("ph") == "X" and event["name"] in owners:
            spent[owners[event["name"]]] += event["dur"] / steps
    return spent, sum(spent.values())


def recorded(rows_path: str, name: str, size: int) -> dict | None:
    """The first recorded time_vs_jax.py row of a model at a size."""
    for line in Path(rows_path).read_text().splitlines():
        row = json.loads(line)
        if row["name"] == name and row["size"] == size:
            return row
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="seed_cnn or a keras.applications name")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rows", help="time_vs_jax.py rows: compare each layer timed alone")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    # here, not at import: a test that imports this module must not switch the Keras backend
    # of its whole process (Keras reads KERAS_BACKEND at its first import)
    os.environ.setdefault("KERAS_BACKEND", "jax")
    from memory_vs_xla import request
    from time_vs_jax import _layer_times

    from convplan.verify.xla_memory import _build

    model = _build(request(args.model, args.size, "float32", [args.batch]), args.size)
    spent, total = profile(model, args.batch, args.steps)
    layers: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
    for who, us in spent.items():
        layer, _, direction = who.partition(" ")
        layers[layer][direction == "backward"] += us
    row = recorded(args.rows, args.model, args.size) if args.rows else None
    # each layer's forward + backward timed alone, less an empty call's dispatch, as
    # time_vs_jax.py scores it
    measured = _layer_times([(m["name"], m["train"]) for m in row.get("layers", [])
                             if "train" in m], "min_s", True) if row else {}
    step_s = row["steps"]["train"]["min_s"] if row else None
    print(f"{args.model} {args.size}x{args.size} batch {args.batch}: each layer's share of the "
          "traced step (forward, backward, both)" + (
              "; alone = its forward + backward timed alone (recorded) / its share of the "
              "recorded step" if measured else ""))
    print(f"  {'layer':<34}{'fwd':>7}{'bwd':>7}{'both':>7}" + (f"{'alone':>8}" if measured else ""))
    for who, (fwd, bwd) in sorted(layers.items(), key=lambda item: -sum(item[1]))[:args.top]:
        share = (fwd + bwd) / total
        ratio = f"{measured[who] / (share * step_s):8.2f}" if step_s and who in measured else ""
        print(f"  {who:<34}{fwd / total:7.3f}{bwd / total:7.3f}{share:7.3f}{ratio}")
    if measured:
        # per op class: its share of the traced step and its layers' summed alone / in step
        kinds: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0.0])
        for who, (fwd, bwd) in layers.items():
            if who in measured:
                kind = kinds[type(model.get_layer(who)).__name__]
                kind[0] += fwd / total
                kind[1] += bwd / total
                kind[2] += measured[who]
        print(f"  {'op class':<34}{'fwd':>7}{'bwd':>7}{'both':>7}{'alone':>8}")
        for kind_name, (fwd, bwd, alone) in sorted(kinds.items(), key=lambda i: -i[1][0] - i[1][1]):
            print(f"  {kind_name:<34}{fwd:7.3f}{bwd:7.3f}{fwd + bwd:7.3f}"
                  f"{alone / ((fwd + bwd) * step_s):8.2f}")
        inside = sum(sum(layers[who]) for who in measured if who in layers) / total
        print(f"  layers timed alone: {sum(measured.values()) / step_s:.2f} of the recorded "
              f"step; the same layers inside it: {inside:.2f} of the traced step")


if __name__ == "__main__":
    main()
