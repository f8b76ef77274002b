"""Measure every fuzz regression spec in TensorFlow and record the numbers beside it.

    python scripts/record_fuzz_expectations.py            # (re)write tests/data/fuzz/*.expected.json
    python scripts/record_fuzz_expectations.py --check    # exit 1 where a record is stale
    python scripts/record_fuzz_expectations.py tests/data/fuzz/verify_3d_pooling.yaml

Each record is `tests/fuzz_oracle.py::measure_tensorflow` with receptive fields: per layer the
output shape (symbolic and eager), trainable and non-trainable params and MACs as
`convplan verify` measures them, and every field TensorFlow measures; or TensorFlow's verdict
when it rejects the network. tests/test_fuzz_networks.py replays the records without
TensorFlow (`make test-fast`) and, with TensorFlow, fails when one is stale.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import fuzz_oracle as F  # noqa: E402
import yaml  # noqa: E402

SPECS = ROOT / "tests" / "data" / "fuzz"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("specs", nargs="*", type=Path, help="default: every tests/data/fuzz/*.yaml")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a record is missing or stale")
    return parser.parse_args(argv)


def record(path: Path) -> dict:
    """TensorFlow's numbers for one spec (as the live regression test measures them)."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    return F.jsonable(F.measure_tensorflow(spec, F.plan_spec(spec), fields=True))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    versions = F.tensorflow_versions()
    stale = 0
    for path in args.specs or sorted(SPECS.glob("*.yaml")):
        target = F.expected_path(path)
        measured = record(path)
        if args.check:
            same = target.exists() and F.read_record(target) == measured
            stale += not same
            print(f"{'ok   ' if same else 'STALE'} {target}")
        else:
            target.write_text(F.record_text(measured, versions), encoding="utf-8")
            verdict = "accepted" if measured["accepted"] else "rejected"
            print(f"wrote {target} (TensorFlow: {verdict})")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
