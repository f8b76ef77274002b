"""Shared fixtures. TensorFlow-backed tests are marked `tf` and import it lazily."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TF 2.21's oneDNN CPU path crashed on some dilated backprops here (see REFERENCE.md).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def keras():
    """Real Keras (TensorFlow backend): the oracle."""
    keras = pytest.importorskip("keras") if os.environ.get("CONVPLAN_ALLOW_NO_TF") else None
    if keras is None:
        import keras  # noqa: F811 - CI installs TensorFlow; a missing one must fail loudly
    return keras
