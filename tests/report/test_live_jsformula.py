"""convplan.report.jsformula: the compiled JavaScript, run in node, equals sympy's own exact
evaluation of the same formula, on random formulas and on every formula of the example
networks, at random sizes including zero and negative ones (where a formula is no size, the
arithmetic must still be sympy's: floor towards minus infinity, Mod with the divisor's sign)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from convplan.report.jsformula import (
    RUNTIME,
    FormulaTable,
    UnsupportedFormula,
    compile_function,
    compile_value,
)

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")
H, W = (sympy.Symbol(n, integer=True, positive=True) for n in ("H", "W"))
SYMBOLS = ("H", "W")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# One node process answers every case: a line of JSON in ({"code", "args"}), one out.
SERVER = RUNTIME + r"""
const rl = require('readline').createInterface({input: process.stdin});
rl.on('line', (line) => {
  const {code, args} = JSON.parse(line);
  const f = new Function('v', 'return (' + code + ');');
  const out = args.map((a) => { try { const r = f(a.map(BigInt));
      return typeof r === 'bigint' ? r.toString() : 'r:' + String(r) + ':' + Number(r); }
    catch (e) { return 'error:' + e.name; } });
  process.stdout.write(JSON.stringify(out) + '\n');
});
"""


@pytest.fixture(scope="module")
def node():
    proc = subprocess.Popen([NODE, "-e", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)

    def run(code: str, args: list[list[int]]) -> list[str]:
        proc.stdin.write(json.dumps({"code": code, "args": args}) + "\n")
        proc.stdin.flush()
        return json.loads(proc.stdout.readline())

    yield run
    proc.stdin.close()
    proc.wait(timeout=10)


def sympy_value(expr, values: list[int]):
    return sympy.sympify(expr).xreplace({H: sympy.Integer(values[0]),
                                         W: sympy.Integer(values[1])})


def check(node, expr, args: list[list[int]]) -> None:
    part = compile_value(expr, SYMBOLS)
    numerators = node(part.code, args)
    for values, numerator in zip(args, numerators):
        expected = sympy_value(expr, values)
        assert expected.is_Rational, (expr, values, expected)
        assert sympy.Rational(int(numerator), part.den) == expected, (expr, values, part)


leaves = st.one_of(st.sampled_from([H, W]), st.integers(-40, 40).map(sympy.Integer),
                   st.tuples(st.integers(-9, 9), st.integers(1, 7)).map(
                       lambda t: sympy.Rational(*t)))
divisors = st.integers(-9, 9).filter(bool).map(sympy.Integer)


def _extend(children):
    return st.one_of(
        st.tuples(children, children).map(lambda t: t[0] + t[1]),
        st.tuples(children, children).map(lambda t: t[0] * t[1]),
        st.tuples(children, divisors).map(lambda t: sympy.floor(t[0] / t[1])),
        st.tuples(children, divisors).map(lambda t: sympy.ceiling(t[0] / t[1])),
        st.tuples(children, children).map(lambda t: sympy.Max(*t)),
        st.tuples(children, children).map(lambda t: sympy.Min(*t)),
        st.tuples(children, divisors).map(lambda t: sympy.Mod(*t)),
        st.tuples(children, children, children, children).map(
            lambda t: sympy.Piecewise((t[0], t[2] < t[3]), (t[1], True))),
        children.map(lambda c: c ** 2),
    )


formulas = st.recursive(leaves, _extend, max_leaves=8)
sizes = st.lists(st.tuples(st.integers(-300, 10**6), st.integers(-300, 10**6)).map(list),
                 min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(formulas, sizes)
def test_random_formulas_equal_sympy(node, expr, args):
    check(node, expr, args)


def test_a_condition_sympy_writes_as_if_then_else(node):
    """hypothesis found sympy turning a Piecewise's condition into ITE(H < W, False, H < W)
    (which is False): compiled as JavaScript's ?: and evaluated like sympy's."""
    expr = sympy.Piecewise((H**4, sympy.ITE(H < W, False, H < W)), (W**4, True))
    check(node, expr, [[0, 0], [2, 3], [3, 2], [-5, 4]])
    check(node, sympy.Piecewise((H, sympy.ITE(H < W, W < 9, H > 5)), (W, True)),
          [[1, 8], [1, 9], [6, 2], [4, 2]])


@settings(max_examples=20, deadline=None)
@given(st.integers(-10**30, 10**30), st.integers(1, 10**6), st.integers(-10**30, 10**30))
def test_beyond_2_53_exactly(node, a, b, c):
    """Products far beyond 2**53 (a Number would round them) stay exact."""
    expr = sympy.floor((a * H * W + c) / b) + sympy.Mod(a * H - c, b) * W
    check(node, expr, [[2**40 + 3, 2**33 - 1], [-(2**45), 7]])


def test_fraction_values_are_numbers_like_the_json(node):
    """A fractional value (a stride 1/2 after upsampling) is a reduced Ratio: sympy's text,
    and as a Number to_json's float."""
    code = compile_function(H / 6 + W / 3, SYMBOLS).removeprefix("(v)=>")
    assert node(code, [[3, 1], [4, 1], [-3, 1]]) == ["r:5/6:0.8333333333333334", "1",
                                                     "r:-1/6:-0.16666666666666666"]


def test_spec_text_never_becomes_code():
    """Symbols are written as v[i]; a symbol the page has no input for is refused."""
    code = compile_value(sympy.Symbol("x');alert(1)//", integer=True) + H,
                         ("x');alert(1)//", "H")).code
    assert "alert" not in code and "v[0]" in code
    with pytest.raises(UnsupportedFormula):
        compile_value(sympy.Symbol("Z") + 1, SYMBOLS)
    with pytest.raises(UnsupportedFormula):
        compile_value(sympy.Float(0.5) * H, SYMBOLS)
    with pytest.raises(UnsupportedFormula):
        compile_value(1 / H, SYMBOLS)


@pytest.mark.parametrize("spec", ["seed_cnn.yaml", "resnet50.yaml", "unet_small.yaml",
                                  "mobilenet_small.yaml"])
def test_every_formula_of_an_example(node, spec):
    """Shapes, counts, fields and memory tensors of an example, at sizes valid and not."""
    import random

    import convplan
    from convplan.analysis import analyze
    from convplan.analysis.arith import symbol

    graph = convplan.load(EXAMPLES / spec)
    symbolic = analyze(graph, generalize=True)
    b = symbol("batch")
    exprs = set()
    for layer in symbolic.layers:
        exprs |= {*layer.output_shape, layer.params, layer.macs * b, layer.flops,
                  layer.activations}
        for axis in layer.receptive_field or ():
            exprs |= {axis.size, axis.stride, axis.start}
    plan = symbolic.training_memory(b).plan
    exprs |= {plan.size(k) for k in plan.tensors}
    exprs = sorted((e for e in exprs if not isinstance(e, int)), key=str)
    assert exprs
    names = [*symbolic.symbols, "batch"]
    table = FormulaTable(names)
    rng = random.Random(spec)
    args = [[rng.randint(-50, 600) for _ in names] for _ in range(8)]
    for expr in exprs:
        i = table.add(expr)
        assert table.add(expr) == i  # each distinct formula once
        part = compile_value(expr, names)
        for values, got in zip(args, node(part.code, args)):
            expected = sympy.sympify(expr).xreplace(
                {symbol(n): sympy.Integer(v) for n, v in zip(names, values)})
            assert sympy.Rational(int(got), part.den) == expected, (expr, values)
