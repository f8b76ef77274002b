"""Regression guards for speed that CI can run cheaply: counts of imports and of sympy calls,
never wall-clock times (docs/performance.md has the timings).

- A concrete analysis (`analyze --no-symbolic`, a spec with whole sizes and no resampling)
  imports neither sympy nor numpy nor TensorFlow: plain ints all the way (arith.py).
- `arith.equal` answers a difference that provably takes two values without sympy.simplify,
  and agrees with simplify's answer on such differences.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import sympy
from cli_run import EXAMPLES, ROOT, clean_env
from hypothesis import given, settings
from hypothesis import strategies as st

from convplan.analysis import arith

PROBE = """
import contextlib, io, sys
from convplan.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
heavy = sorted(m for m in ("sympy", "numpy", "tensorflow", "keras", "networkx", "matplotlib",
                          "onnx", "onnxruntime", "torch") if m in sys.modules)
print(code, ",".join(heavy))
"""


@pytest.mark.parametrize("spec, fmt", [
    ("resnet50.yaml", "json"), ("resnet50.yaml", "table"), ("seed_cnn.yaml", "markdown"),
    ("mobilenet_small.yaml", "json"), ("seed_dilated.yaml", "table"),
])
def test_concrete_analysis_imports_no_sympy(spec, fmt):
    done = subprocess.run([sys.executable, "-c", PROBE, "analyze", str(EXAMPLES / spec),
                           "--no-symbolic", "--format", fmt], capture_output=True, text=True,
                          cwd=ROOT, env=clean_env(), timeout=120)
    code, heavy = done.stdout.split()[0], done.stdout.split()[1:]
    assert code == "0", done.stderr
    assert heavy == [], f"a concrete analysis imported {heavy}"


def test_check_of_a_concrete_spec_needs_no_tensorflow():
    done = subprocess.run([sys.executable, "-c", PROBE, "check", "--isolated",
                           str(EXAMPLES / "seed_cnn.yaml")], capture_output=True, text=True,
                          cwd=ROOT, env=clean_env(), timeout=120)
    assert "tensorflow" not in done.stdout and "keras" not in done.stdout, done.stdout


H, W = arith.symbol("H"), arith.symbol("W")
TERMS = st.sampled_from([H, W, sympy.floor(H / 2), sympy.floor((H - 1) / 2) + 1,
                         sympy.floor(W / 4 - sympy.Rational(3, 4)), sympy.Max(H, 2 * sympy.floor(H / 2)),
                         sympy.ceiling(H / 3), sympy.Integer(1)])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), TERMS), min_size=1, max_size=4),
       st.lists(st.tuples(st.integers(-3, 3), TERMS), min_size=1, max_size=4))
def test_equal_without_simplify_agrees_with_simplify(left, right):
    """Where `_varies` finds two values, `equal` says None; sympy.simplify on the difference
    never gives zero or a number there (the shortcut changes no answer)."""
    a = sum(c * t for c, t in left)
    b = sum(c * t for c, t in right)
    diff = sympy.sympify(a) - b
    if diff.is_Number or not arith._varies(diff):
        return
    assert arith.equal(a, b) is None
    simplified = sympy.simplify(diff)
    assert simplified != 0 and not simplified.is_number


def test_equal_on_a_parity_difference_calls_no_simplify(monkeypatch):
    calls = []
    monkeypatch.setattr(sympy, "simplify", lambda e, *a, **k: calls.append(e) or e)
    assert arith.equal(W, 2 * sympy.floor(W / 2) + 5) is None
    assert arith.equal(H, H) is True
    assert arith.equal(H + 1, H) is False
    assert calls == []
