"""sympy formulas compiled to JavaScript that computes them exactly, in BigInt.

Every value is computed as an integer numerator over a denominator fixed at compile time:
`compile_value(expr)` returns JavaScript for the numerator N and the positive integer D with
expr = N / D for every value of the symbols. Integers, symbols, sums, products and integer
powers keep that form (denominators multiply, or meet at their least common multiple);
floor and ceiling end a fraction with TensorFlow's floor division (`⌊N / D⌋`, rounding towards
minus infinity, as `tf.math.floordiv` and Python's `//` do, not JavaScript's truncation);
Max and Min, Mod (sympy's: the sign of the divisor) and Piecewise compare fractions by
cross-multiplying. Nothing rounds and nothing overflows: BigInt has no 2**53 limit.

The generated code names the symbols only as `v[i]` (their position in `symbols`), so no text
from a spec ever becomes JavaScript; a formula with anything else (a float, an unknown
function) is refused with UnsupportedFormula rather than approximated.

`RUNTIME` holds the helpers the code calls (`fd`, `cd`, `md`, `mx`, `mn`, `q`): include it once
in a page, before the compiled functions. A value that is no integer (a stride of 1/2 after an
upsampling) comes out as a `Ratio`, reduced: `String(r)` is sympy's '1/2', `Number(r)` the
float `analyze --format json` prints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

RUNTIME = """\
const fd=(a,b)=>{const q=a/b;return(a%b!==0n&&((a<0n)!==(b<0n)))?q-1n:q;};
const cd=(a,b)=>-fd(-a,b);
const md=(a,b)=>a-b*fd(a,b);
const mx=(...a)=>a.reduce((x,y)=>y>x?y:x);
const mn=(...a)=>a.reduce((x,y)=>y<x?y:x);
const gcd=(a,b)=>{a=a<0n?-a:a;while(b){[a,b]=[b,a%b];}return a;};
class Ratio{constructor(n,d){const g=gcd(n,d);this.n=n/g;this.d=d/g;}
  toString(){return this.n+'/'+this.d;} valueOf(){return Number(this.n)/Number(this.d);}}
const q=(n,d)=>n%d===0n?n/d:new Ratio(n,d);
"""


class UnsupportedFormula(ValueError):
    """A formula holds something this compiler does not turn into exact integer code."""


@dataclass(frozen=True)
class Fraction:
    """JavaScript for a BigInt numerator `code`, over the positive integer `den`."""

    code: str
    den: int


def _big(n: int) -> str:
    return f"{n}n" if n >= 0 else f"({n}n)"


def _scaled(part: Fraction, den: int) -> str:
    """`part`'s numerator over `den` (a multiple of part.den)."""
    factor = den // part.den
    return part.code if factor == 1 else f"{part.code}*{_big(factor)}"


def _common(parts: Sequence[Fraction]) -> tuple[list[str], int]:
    den = math.lcm(*(p.den for p in parts))
    return [_scaled(p, den) for p in parts], den


class _Compiler:
    def __init__(self, symbols: Sequence[str]) -> None:
        self.index = {name: i for i, name in enumerate(symbols)}

    def value(self, expr: Any) -> Fraction:
        import sympy

        if isinstance(expr, bool) or expr is sympy.true or expr is sympy.false:
            raise UnsupportedFormula(f"a truth value where a number was expected: {expr}")
        if isinstance(expr, int):
            return Fraction(_big(expr), 1)
        if expr.is_Integer:
            return Fraction(_big(int(expr)), 1)
        if expr.is_Rational:
            return Fraction(_big(int(expr.p)), int(expr.q))
        if expr.is_Symbol:
            if str(expr) not in self.index:
                raise UnsupportedFormula(f"symbol {expr} is not an input of the page")
            return Fraction(f"v[{self.index[str(expr)]}]", 1)
        if isinstance(expr, sympy.Add):
            codes, den = _common([self.value(a) for a in expr.args])
            return Fraction("(" + "+".join(codes) + ")", den)
        if isinstance(expr, sympy.Mul):
            parts = [self.value(a) for a in expr.args]
            return Fraction("(" + "*".join(p.code for p in parts) + ")",
                            math.prod(p.den for p in parts))
        if isinstance(expr, sympy.Pow):
            base, exponent = expr.args
            if not (exponent.is_Integer and int(exponent) >= 0):
                raise UnsupportedFormula(f"power {expr} (only non-negative integer exponents)")
            part = self.value(base)
            return Fraction(f"({part.code})**{_big(int(exponent))}", part.den ** int(exponent))
        if isinstance(expr, (sympy.floor, sympy.ceiling)):
            part = self.value(expr.args[0])
            if part.den == 1:
                return part
            fn = "fd" if isinstance(expr, sympy.floor) else "cd"
            return Fraction(f"{fn}({part.code},{_big(part.den)})", 1)
        if isinstance(expr, (sympy.Max, sympy.Min)):
            codes, den = _common([self.value(a) for a in expr.args])
            fn = "mx" if isinstance(expr, sympy.Max) else "mn"
            return Fraction(f"{fn}({','.join(codes)})", den)
        if isinstance(expr, sympy.Mod):
            (a, b), den = _common([self.value(x) for x in expr.args])
            return Fraction(f"md({a},{b})", den)
        if isinstance(expr, sympy.Abs):
            part = self.value(expr.args[0])
            return Fraction(f"((x)=>x<0n?-x:x)({part.code})", part.den)
        if isinstance(expr, sympy.Piecewise):
            branches = [(self.value(e), self.condition(c)) for e, c in expr.args]
            codes, den = _common([b for b, _ in branches])
            text = "(" + "".join(f"{cond}?{code}:" for code, (_, cond) in zip(codes, branches))
            # sympy leaves a Piecewise with no true branch undefined (nan): no number to show
            return Fraction(text + "(()=>{throw new RangeError('undefined')})())", den)
        raise UnsupportedFormula(f"cannot compile {type(expr).__name__}: {expr}")

    def condition(self, cond: Any) -> str:
        import sympy

        if cond is sympy.true or cond is True:
            return "true"
        if cond is sympy.false or cond is False:
            return "false"
        if isinstance(cond, sympy.And):
            return "(" + "&&".join(self.condition(c) for c in cond.args) + ")"
        if isinstance(cond, sympy.Or):
            return "(" + "||".join(self.condition(c) for c in cond.args) + ")"
        if isinstance(cond, sympy.Not):
            return f"!{self.condition(cond.args[0])}"
        if isinstance(cond, sympy.ITE):  # sympy writes some Piecewise conditions so
            test, then, otherwise = (self.condition(c) for c in cond.args)
            return f"({test}?{then}:{otherwise})"
        operators = {sympy.StrictLessThan: "<", sympy.LessThan: "<=",
                     sympy.StrictGreaterThan: ">", sympy.GreaterThan: ">=",
                     sympy.Equality: "===", sympy.Unequality: "!=="}
        for kind, operator in operators.items():
            if isinstance(cond, kind):
                (left, right), _ = _common([self.value(cond.lhs), self.value(cond.rhs)])
                return f"({left}{operator}{right})"
        raise UnsupportedFormula(f"cannot compile the condition {cond}")


def compile_value(expr: Any, symbols: Sequence[str]) -> Fraction:
    """expr = N / D exactly: JavaScript for the BigInt N over the array `v` of the symbols'
    BigInt values (in the order of `symbols`), and D."""
    return _Compiler(symbols).value(expr)


def compile_function(expr: Any, symbols: Sequence[str]) -> str:
    """A JavaScript arrow function `(v) => value`: a BigInt where the value is an integer, a
    reduced Ratio where it is a fraction."""
    part = compile_value(expr, symbols)
    body = part.code if part.den == 1 else f"q({part.code},{_big(part.den)})"
    return f"(v)=>{body}"


class FormulaTable:
    """Distinct formulas, each compiled once: `add(expr)` returns its index in `functions`.
    A network repeats a few shape formulas across its layers, and a page ships each once."""

    def __init__(self, symbols: Sequence[str]) -> None:
        self.symbols = list(symbols)
        self._compiler = _Compiler(symbols)
        self._index: dict[Any, int] = {}
        self.functions: list[str] = []

    def add(self, expr: Any) -> int:
        key = expr if not isinstance(expr, int) else ("int", expr)
        found = self._index.get(key)
        if found is None:
            part = self._compiler.value(expr)
            body = part.code if part.den == 1 else f"q({part.code},{_big(part.den)})"
            found = self._index[key] = len(self.functions)
            self.functions.append(f"(v)=>{body}")
        return found

    def javascript(self) -> str:
        """`const F=[...]`: the compiled functions in index order."""
        return "const F=[\n" + ",\n".join(self.functions) + "];\n"
