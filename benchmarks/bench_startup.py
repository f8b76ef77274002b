"""`convplan --help` start-up (moved here from a timed unit test: timings are measured, not
asserted). Prints the best of N wall times of the installed console script beside the two
obvious references, a bare interpreter (`python -c pass`) and `python -c "import sympy"` (what
a command that needs formulas pays), as ratios; and a concrete analysis of ResNet50
(`analyze examples/resnet50.yaml --no-symbolic`), which imports no sympy (issue 19). The CI
guards are import counts instead: tests/cli/test_cli_main.py::test_help_imports_nothing_heavy
and tests/analysis/test_lazy_sympy.py.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

CONSOLE_SCRIPT = Path(sys.executable).with_name("convplan")


def best_of(command: list[str], repeat: int) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, env=env, timeout=120, check=True)
        timings.append(time.perf_counter() - start)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    repeat = parser.parse_args().repeat
    bare = best_of([sys.executable, "-c", "pass"], repeat)
    sympy = best_of([sys.executable, "-c", "import sympy"], repeat)
    rows = [("python -c pass", bare), ("python -c 'import sympy'", sympy)]
    resnet = str(Path(__file__).resolve().parents[1] / "examples" / "resnet50.yaml")
    for args in (["--help"], ["analyze", "--help"], ["check", "--help"],
                 ["analyze", resnet, "--no-symbolic", "--format", "json"]):
        label = " ".join(a if a != resnet else "resnet50.yaml" for a in args)
        rows.append((f"convplan {label}", best_of([str(CONSOLE_SCRIPT), *args], repeat)))
    print(f"best of {repeat} wall times; load average {os.getloadavg()[0]:.2f}")
    for label, seconds in rows:
        print(f"  {label:50s} {seconds:6.3f} s  {seconds / bare:5.1f}x a bare interpreter  "
              f"{seconds / sympy:5.2f}x importing sympy")


if __name__ == "__main__":
    main()
