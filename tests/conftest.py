"""Shared fixtures. TensorFlow-backed tests are marked `tf` and import it lazily."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TF 2.21's oneDNN CPU path crashed on some dilated backprops here (see REFERENCE.md).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

# Hypothesis profiles: "ci" (default) keeps property tests to a few dozen examples per test;
# "long" (CONVPLAN_HYPOTHESIS_PROFILE=long) runs many more. No example database: tests never
# write into the source tree; a failure prints its reproduction blob instead.
settings.register_profile("ci", max_examples=30, deadline=None, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=1000, deadline=None, database=None,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("CONVPLAN_HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def keras():
    """Real Keras (TensorFlow backend): the oracle."""
    keras = pytest.importorskip("keras") if os.environ.get("CONVPLAN_ALLOW_NO_TF") else None
    if keras is None:
        import keras  # noqa: F811 - CI installs TensorFlow; a missing one must fail loudly
    return keras
