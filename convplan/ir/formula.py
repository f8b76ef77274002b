"""Integer formulas a user declares for a layer convplan does not know (`Custom`'s ``params``
and ``macs_per_position``): ``9*C_in*64 + 64``, ``C_in*C_out``, ``(C_in // 2)**2``.

The text is parsed with Python's `ast` and only a whitelist of nodes is turned into a sympy
expression: integer literals, the symbols `SYMBOLS`, + - * //, ** to a small constant power,
unary minus and parentheses. Nothing is ever evaluated as code (sympy's own `parse_expr` calls
`eval`, which a hostile `__import__('os')` would reach), and size limits keep a formula from
exhausting memory or time (``9**9**9``).
"""

from __future__ import annotations

import ast
import functools
from typing import Any

SYMBOLS = ("C_in", "C_out")
MAX_LENGTH = 200
MAX_CONSTANT = 10**15
MAX_POWER = 4
MAX_NODES = 100


class FormulaError(ValueError):
    """The text is not a formula convplan accepts; the message says why."""


def _fail(text: str, why: str) -> FormulaError:
    return FormulaError(f"{why}; a formula uses integers, {' and '.join(SYMBOLS)}, "
                        f"+ - * // and ** (up to {MAX_POWER}), received {text!r}")


@functools.lru_cache(maxsize=512)
def parse_formula(text: str) -> Any:
    """The sympy expression of an integer formula in C_in and C_out, or FormulaError."""
    import sympy

    if not isinstance(text, str) or not text.strip():
        raise _fail(str(text), "empty formula")
    if len(text) > MAX_LENGTH:
        raise _fail(text[:40] + "...", f"longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise _fail(text, "not a formula") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise _fail(text, f"more than {MAX_NODES} terms")
    symbols = {name: sympy.Symbol(name, integer=True, positive=True) for name in SYMBOLS}

    def build(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            if type(node.value) is not int:
                raise _fail(text, f"constant {node.value!r} is not an integer")
            if node.value > MAX_CONSTANT:
                raise _fail(text, f"constant {node.value} is above {MAX_CONSTANT}")
            return sympy.Integer(node.value)
        if isinstance(node, ast.Name) and node.id in symbols:
            return symbols[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = build(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            left = build(node.left)
            if isinstance(node.op, ast.Pow):
                power = node.right
                if not (isinstance(power, ast.Constant) and type(power.value) is int
                        and 0 <= power.value <= MAX_POWER):
                    raise _fail(text, f"a power must be a constant from 0 to {MAX_POWER}")
                return left ** power.value
            right = build(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.FloorDiv):
                if not (right.is_Integer and right > 0):
                    raise _fail(text, "// must divide by a positive integer constant")
                return sympy.floor(left / right)
            if isinstance(node.op, ast.Div):
                raise _fail(text, "'/' can give a fraction; use //")
        if isinstance(node, ast.Name):
            raise _fail(text, f"unknown name {node.id!r}")
        raise _fail(text, f"{type(node).__name__.lower()} is not allowed")

    expr = build(tree.body)
    if abs(sympy.Integer(expr.subs({s: 1 for s in symbols.values()}))) > MAX_CONSTANT ** 2:
        raise _fail(text, "the value is too large")
    return expr


def canonical(value: Any) -> int | str:
    """A declared count as stored: an int where the formula is constant, else the formula's
    text with its spaces removed (what a spec writes back, and parses again)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    expr = parse_formula(value)
    return int(expr) if expr.is_Integer else "".join(str(value).split())


def evaluate(value: int | str, c_in: Any, c_out: Any) -> Any:
    """The count for these channel numbers: an int, or a sympy expression where they are."""
    if isinstance(value, int):
        return value
    expr = parse_formula(value)
    names = {str(s): s for s in expr.free_symbols}
    return expr.subs({names[n]: v for n, v in (("C_in", c_in), ("C_out", c_out)) if n in names})
