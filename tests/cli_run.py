"""Running the real `convplan` entry point in a subprocess, as a user's shell would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SEED = EXAMPLES / "seed_cnn.yaml"
CONSOLE_SCRIPT = Path(sys.executable).parent / "convplan"
HEAVY = ("tensorflow", "keras", "sympy", "matplotlib", "numpy", "onnx", "onnxruntime", "torch")


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without what changes convplan's output (colour, debug)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "CONVPLAN_DEBUG", "FORCE_COLOR", "COLUMNS")}
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT,
            timeout: float = 180) -> subprocess.CompletedProcess:
    """`python -m convplan ARGS` with captured text output (stdout and stderr are pipes)."""
    return subprocess.run([sys.executable, "-m", "convplan", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env=env if env is not None else clean_env())


def one_error_line(stderr: str) -> str:
    """The single line a failing command prints; fails the test if there are more."""
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    assert lines[0].startswith("convplan: error: "), lines[0]
    return lines[0]


def run_main(capsys, *args) -> tuple[int, str, str]:
    """The same entry point in-process (`convplan.cli.main.main`), much faster than a
    subprocess: (exit code, stdout, stderr)."""
    from convplan.cli.main import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err
