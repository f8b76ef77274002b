"""Parameter substitution inside blocks: `$name` and `${expression}`.

A string value that is exactly `$name` becomes the parameter's value (any type); `${...}`
evaluates a small arithmetic expression over the parameters: numbers, names, + - * / // % **,
comparisons, `and`/`or`/`not` and `a if cond else b`. Nothing else is evaluated: no calls,
attributes or subscripts, so a spec can never run code.
"""

from __future__ import annotations

import ast
import operator
import re
from typing import Any

from convplan.errors import SpecError

_WHOLE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
_EXPR = re.compile(r"^\$\{(.{1,200})\}$", re.S)

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
            ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}


def _evaluate(node: ast.AST, params: dict[str, Any], text: str) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, params, text)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in params:
            raise SpecError(f"expression {text!r} uses {node.id!r}, which is not a parameter "
                            f"of this block (parameters: {', '.join(params) or 'none'})")
        return params[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left, params, text), _evaluate(node.right, params, text)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 2**20):
            raise SpecError(f"expression {text!r}: exponent too large")
        try:
            result = _BINARY[type(node.op)](left, right)
        except (ZeroDivisionError, TypeError) as exc:
            raise SpecError(f"expression {text!r} cannot be evaluated: {exc}") from None
        if isinstance(result, float) and result.is_integer() and not isinstance(node.op, ast.Div):
            result = int(result)
        return result
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
        value = _evaluate(node.operand, params, text)
        return -value if isinstance(node.op, ast.USub) else (
            not value if isinstance(node.op, ast.Not) else value)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        return _COMPARE[type(node.ops[0])](_evaluate(node.left, params, text),
                                           _evaluate(node.comparators[0], params, text))
    if isinstance(node, ast.BoolOp):
        values = [_evaluate(v, params, text) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.IfExp):
        branch = node.body if _evaluate(node.test, params, text) else node.orelse
        return _evaluate(branch, params, text)
    raise SpecError(f"expression {text!r}: only arithmetic, comparisons and 'a if c else b' "
                    "over block parameters are allowed")


def substitute(value: Any, params: dict[str, Any]) -> Any:
    """Replace `$name` / `${expr}` strings (recursively in lists and dicts)."""
    if isinstance(value, str):
        whole = _WHOLE.match(value)
        if whole:
            name = whole.group(1)
            if name == "input":  # the block's input, resolved by the expander
                return value
            if name not in params:
                raise SpecError(f"{value!r} is not a parameter of this block (parameters: "
                                f"{', '.join(params) or 'none'})")
            return params[name]
        expr = _EXPR.match(value)
        if expr:
            try:
                tree = ast.parse(expr.group(1).strip(), mode="eval")
            except SyntaxError:
                raise SpecError(f"expression {value!r} is not valid arithmetic") from None
            return _evaluate(tree, params, value)
        return value
    if isinstance(value, list):
        return [substitute(v, params) for v in value]
    if isinstance(value, dict):
        out = type(value)((k, substitute(v, params)) for k, v in value.items())
        if hasattr(value, "line"):
            out.line = value.line
        return out
    return value
