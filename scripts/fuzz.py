"""The long differential fuzz run: random networks through convplan and TensorFlow.

    python scripts/fuzz.py --count 10000 --seed 0          # `make fuzz`
    python scripts/fuzz.py --seed 0 --only 1234            # one network: its spec and outcome

Network `i` of seed `s` is `tests/strategies.py::random_spec(s, i)`, the same on every machine;
each is compared by `tests/fuzz_oracle.py::compare_network` (shapes, eager shapes, params, MACs,
the keras_build model, acceptance and rejection; receptive fields for every `--fields-every`-th
network). Progress goes to stderr; the summary (networks tried, both accepting, both rejecting,
mismatches, time, networks per op) to stdout and, as JSON, to OUT/summary.json. Every mismatch
is shrunk to a small spec that still shows it and saved under OUT (default
/tmp/convplan-fuzz) for a regression test. Exit code 1 when any mismatch was found.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import fuzz_oracle as F  # noqa: E402
from strategies import random_spec  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="networks to try")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="first network index")
    parser.add_argument("--fields-every", type=int, default=2,
                        help="measure receptive fields for every N-th network (1: all)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/convplan-fuzz"))
    parser.add_argument("--no-shrink", action="store_true")
    parser.add_argument("--only", type=int, default=None, help="run one network and print it")
    parser.add_argument("--progress-every", type=int, default=250)
    return parser.parse_args(argv)


def quiet_tensorflow() -> None:
    import logging
    import warnings

    import tensorflow as tf

    warnings.filterwarnings("ignore", module="keras")  # a softmax over an axis of size 1, ...

    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)


def run_one(seed: int, index: int) -> int:
    spec = random_spec(seed, index)
    print(F.spec_text(spec), end="")
    outcome = F.compare_network(spec, fields=True)
    print(f"# accepted by: {', '.join(outcome.accepted_by) or 'neither'}")
    for error in (outcome.convplan_error, outcome.keras_error):
        if error:
            print(f"# {error}")
    for mismatch in outcome.mismatches:
        print(f"# MISMATCH {mismatch.line()}")
    return 1 if outcome.mismatches else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_tensorflow()
    if args.only is not None:
        return run_one(args.seed, args.only)
    import keras

    tally: Counter[str] = Counter()
    per_op: Counter[str] = Counter()
    per_op_compared: Counter[str] = Counter()
    found: list[dict] = []
    started = time.perf_counter()
    for index in range(args.start, args.start + args.count):
        spec = random_spec(args.seed, index)
        fields = index % args.fields_every == 0
        outcome = F.compare_network(spec, fields=fields)
        tally["tried"] += 1
        tally["both accept" if len(outcome.accepted_by) == 2 else
              "both reject" if not outcome.accepted_by else "one side only"] += 1
        tally["executed"] += outcome.executed
        tally["networks with fields measured"] += outcome.fields_checked > 0
        tally["layer fields compared"] += outcome.fields_checked
        tally["fields skipped"] += outcome.fields_skipped is not None
        tally["layers"] += len(spec["layers"])
        per_op.update(outcome.ops)
        if len(outcome.accepted_by) == 2:
            per_op_compared.update(outcome.ops)
        if outcome.mismatches:
            found.append(report_mismatch(spec, outcome, args, index, fields))
        if index % 100 == 99:
            keras.backend.clear_session()  # Keras keeps every model's graph otherwise
        if tally["tried"] % args.progress_every == 0:
            print(f"[{time.perf_counter() - started:7.0f} s] {tally['tried']} networks, "
                  f"{tally['both accept']} compared, {len(found)} mismatching",
                  file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    summary = {"seed": args.seed, "start": args.start, "count": args.count,
               "fields_every": args.fields_every,
               "seconds": round(elapsed, 1),
               **{k.replace(" ", "_"): v for k, v in tally.items()},
               "mismatching_networks": len(found), "mismatches": found,
               "networks_per_op": dict(sorted(per_op.items())),
               "compared_networks_per_op": dict(sorted(per_op_compared.items()))}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"networks tried: {tally['tried']} (seed {args.seed}, indices {args.start}-"
          f"{args.start + args.count - 1}), {tally['layers']} layers")
    print(f"both accept: {tally['both accept']} (run eagerly: {tally['executed']}, receptive "
          f"fields compared: {tally['layer fields compared']} layers in "
          f"{tally['networks with fields measured']} networks, skipped in "
          f"{tally['fields skipped']} for TF's CPU 3D 'same' "
          f"shift); both reject: "
          f"{tally['both reject']}")
    print(f"mismatching networks: {len(found)}; time: {elapsed:.0f} s "
          f"({1000 * elapsed / max(1, tally['tried']):.0f} ms per network)")
    print("networks per op (compared by both): " + ", ".join(
        f"{op} {n} ({per_op_compared[op]})" for op, n in sorted(per_op.items())))
    return 1 if found else 0


def report_mismatch(spec: dict, outcome: F.Outcome, args: argparse.Namespace, index: int,
                    fields: bool) -> dict:
    stem = f"seed{args.seed}-{index}"
    for mismatch in outcome.mismatches:
        print(f"MISMATCH {stem}: {mismatch.line()}", file=sys.stderr, flush=True)
    if not args.no_shrink:
        signatures = {m.signature for m in outcome.mismatches[:1]}
        spec = F.shrink(spec, F.same_failure(signatures, fields))
        outcome = F.compare_network(spec, fields=fields)
    path = F.save_mismatch(spec, outcome, args.out, stem)
    print(f"  shrunk to {len(spec['layers'])} layer(s): {path}", file=sys.stderr, flush=True)
    return {"index": index, "spec": str(path),
            "mismatches": [m.line() for m in outcome.mismatches]}


if __name__ == "__main__":
    sys.exit(main())
