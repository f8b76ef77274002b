"""Each committed project in generated/ passes its own tests on every Keras backend (model vs
plan.json, training with the accelerator paths on the CPU, two CPU devices standing in for two
GPUs, the data pipelines; the multi-worker project also trains two workers on loopback, kills
one and resumes, on TensorFlow). Run on a copy, so nothing is written into the source tree.
PyTorch runs in `make test-backends`, where the torch extra is installed."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

GENERATED = ROOT / "generated"
PROJECTS = sorted(p.name for p in GENERATED.iterdir() if p.is_dir())
BACKENDS = ("tensorflow", "jax", "torch")


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("project", PROJECTS)
def test_the_generated_project_passes_its_own_tests(project, backend, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (make test-backends installs torch)")
    copy = tmp_path / project
    shutil.copytree(GENERATED / project, copy,
                    ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0",
           "PYTHONDONTWRITEBYTECODE": "1", "CUDA_VISIBLE_DEVICES": "", "KERAS_BACKEND": backend}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"],
                            cwd=copy, env=env,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert " passed" in result.stdout.splitlines()[-1]
