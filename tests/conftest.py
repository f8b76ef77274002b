"""Shared fixtures. TensorFlow-backed tests are marked `tf` and import it lazily."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TF 2.21's oneDNN CPU path crashed on some dilated backprops here (see REFERENCE.md).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# torch's CUDA build ships triton, and torch.export / torch.onnx import it: loaded into a process
# that has loaded TensorFlow, triton segfaults (their LLVMs collide; `import tensorflow, torch,
# triton.runtime.autotuner` exits 139 here). The tests run on the CPU and never need triton, so it
# is made unimportable: torch then treats it as absent (importlib's find_spec gives None).
sys.modules.setdefault("triton", None)  # type: ignore[arg-type]

# Hypothesis profiles: "ci" (default) keeps property tests to a few dozen examples per test;
# "long" (CONVPLAN_HYPOTHESIS_PROFILE=long) runs many more. No example database: tests never
# write into the source tree; a failure prints its reproduction blob instead.
settings.register_profile("ci", max_examples=30, deadline=None, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=1000, deadline=None, database=None,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("CONVPLAN_HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]

# The tests mirror the package, a folder per subpackage (tests/analysis, tests/checks, ...); the
# shared helpers (cli_run, strategies, the oracles) live here, and a few test modules import
# another folder's cases (test_keras_import's model builders): every folder is importable.
TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS), *(str(p) for p in sorted(TESTS.iterdir())
                              if p.is_dir() and p.name not in ("data", "__pycache__"))]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def keras():
    """Real Keras (TensorFlow backend): the oracle."""
    keras = pytest.importorskip("keras") if os.environ.get("CONVPLAN_ALLOW_NO_TF") else None
    if keras is None:
        import keras  # noqa: F811 - CI installs TensorFlow; a missing one must fail loudly
    return keras
