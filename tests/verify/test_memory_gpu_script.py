"""benchmarks/memory_gpu.py runs only where JAX sees a GPU (issue 14, part 4); what can be
checked without one: its batch search, and its refusal to run on a machine with no GPU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import memory_gpu  # noqa: E402


@given(limit=st.integers(0, 5000), start=st.integers(1, 64))
def test_largest_finds_the_last_batch_that_fits(limit, start):
    tried = []

    def fits(n):
        tried.append(n)
        return n <= limit

    assert memory_gpu.largest(fits, start=start, ceiling=4096) == min(limit, 4096)
    assert len(tried) <= 2 * 13 + 2  # doubling then bisection: logarithmic in the ceiling


def test_without_a_gpu_it_says_so_and_exits_2():
    pytest.importorskip("jax")
    if memory_gpu.has_gpu():
        pytest.skip("a GPU is present: the script would measure")
    done = subprocess.run([sys.executable, str(BENCHMARKS / "memory_gpu.py")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "no GPU" in done.stderr
