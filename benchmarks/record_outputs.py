"""Record what the CLI prints on a fixed corpus, to prove a speed-up changed no byte of output.

    .venv/bin/python benchmarks/record_outputs.py record OUT [--zoo FOLDER] [--specs FOLDER]
    .venv/bin/python benchmarks/record_outputs.py compare BEFORE AFTER

`record` runs, in one process through `convplan.cli.main.main` (stdout and stderr captured),
`analyze` (table, json, markdown with --layer-formulas, html, json --no-symbolic) on every spec
in examples/ and tests/data/fuzz/, `check` (text and json) on each and on FOLDER of extra specs
(--specs: e.g. 100 random ones), analyze (json, table, --no-symbolic) and check on the Keras
JSONs in --zoo, and `sweep` (table, csv, json) on examples/seed_cnn.yaml. Each run is one file
OUT/<name>.txt holding the exit code, stdout and stderr. Sweep reports state their own run time
(`in 0.12 s`, `"seconds": 0.12`); those numbers are masked. `compare` prints the files that
differ and exits 1 if any does.

Run it with PYTHONPATH=<an older checkout> to record that version's outputs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMING = [(re.compile(r"in \d+\.\d+ s( \([^)]* per s\))?"), "in <time> s"),
          (re.compile(r'"seconds": [0-9.e+-]+'), '"seconds": <time>')]
SWEEPS = [
    ["--vary", "conv*.strides=1,2", "--vary", "conv*.padding=valid,same",
     "--vary", "conv*.dilation_rate=1..3"],
    ["--vary", "conv1.filters=8..128:8", "--vary", "input.size=28..224:28"],
    ["--vary", "conv1.kernel_size=1..7", "--vary", "conv2.filters=8..64:8",
     "--vary", "input.size=20..60:4", "--vary", "conv*.padding=valid,same",
     "--vary", "conv*.strides=1..3"],
]


def run(args: list[str]) -> str:
    from convplan.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    text = f"exit {code}\n--- stdout\n{out.getvalue()}--- stderr\n{err.getvalue()}"
    for pattern, replacement in TIMING:
        text = pattern.sub(replacement, text)
    return text


def commands(root: Path, zoo: Path | None, specs: Path | None) -> list[tuple[str, list[str]]]:
    files = sorted((root / "examples").glob("*.yaml")) + sorted(
        (root / "tests" / "data" / "fuzz").glob("*.yaml"))
    todo: list[tuple[str, list[str]]] = []
    for path in files:
        stem = f"{path.parent.name}-{path.stem}"
        todo += [
            (f"analyze-table-{stem}", ["analyze", str(path)]),
            (f"analyze-json-{stem}", ["analyze", str(path), "--format", "json"]),
            (f"analyze-md-{stem}", ["analyze", str(path), "--format", "markdown",
                                    "--layer-formulas", "--batch", "32"]),
            (f"analyze-html-{stem}", ["analyze", str(path), "--format", "html"]),
            (f"analyze-nosym-{stem}", ["analyze", str(path), "--format", "json",
                                       "--no-symbolic"]),
            (f"check-text-{stem}", ["check", "--isolated", str(path)]),
            (f"check-json-{stem}", ["check", "--isolated", "--format", "json", str(path)]),
        ]
    extra = sorted(specs.glob("*.yaml")) if specs else []
    for path in extra:
        todo.append((f"check-json-specs-{path.stem}", ["check", "--isolated", "--format",
                                                       "json", str(path)]))
    if extra:
        todo.append(("check-text-specs-all", ["check", "--isolated", str(specs)]))
    for path in sorted(zoo.glob("*.json")) if zoo else []:
        stem = f"zoo-{path.stem}"
        todo += [
            (f"analyze-json-{stem}", ["analyze", str(path), "--format", "json"]),
            (f"analyze-table-{stem}", ["analyze", str(path)]),
            (f"analyze-nosym-{stem}", ["analyze", str(path), "--format", "json",
                                       "--no-symbolic"]),
            (f"check-json-{stem}", ["check", "--isolated", "--format", "json", str(path)]),
        ]
    if zoo:
        todo.append(("check-text-zoo-all", ["check", "--isolated", str(zoo)]))
    seed = str(root / "examples" / "seed_cnn.yaml")
    for k, varies in enumerate(SWEEPS):
        for fmt in ("table", "csv", "json"):
            todo.append((f"sweep-{fmt}-{k}", ["sweep", seed, *varies, "--format", fmt]))
        todo.append((f"sweep-pareto-{k}", ["sweep", seed, *varies, "--pareto", "macs,-rf",
                                           "--format", "json"]))
    return todo


def record(out: Path, root: Path, zoo: Path | None, specs: Path | None,
           only: str | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, args in commands(root, zoo, specs):
        if only and only not in name:
            continue
        # reports name the files they read: record them relative to the corpus
        text = run(args).replace(str(root) + "/", "")
        (out / f"{name}.txt").write_text(text)
        print(name, flush=True, file=sys.stderr)


def compare(before: Path, after: Path) -> int:
    names = sorted({p.name for p in before.glob("*.txt")} | {p.name for p in after.glob("*.txt")})
    differ = [n for n in names if not (before / n).exists() or not (after / n).exists()
              or (before / n).read_bytes() != (after / n).read_bytes()]
    for name in differ:
        print(f"differs: {name}")
    print(f"{len(names) - len(differ)} of {len(names)} outputs identical")
    return 1 if differ else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--zoo", type=Path, default=None, help="folder of Keras model JSONs")
    rec.add_argument("--specs", type=Path, default=None, help="folder of extra specs to check")
    rec.add_argument("--only", default=None, help="only the runs whose name holds this")
    rec.add_argument("--root", type=Path, default=ROOT,
                     help="folder holding examples/ and tests/data/fuzz/ (a frozen copy)")
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.mode == "record":
        record(args.out, args.root, args.zoo, args.specs, args.only)
    else:
        sys.exit(compare(args.before, args.after))


if __name__ == "__main__":
    main()
