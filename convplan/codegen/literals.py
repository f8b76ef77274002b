"""Spec values as inert text: Python literals, Markdown text, identifiers.

Everything a spec carries reaches a generated file through one of these functions, never by
pasting: a string becomes a Python string literal (``repr`` escapes quotes, backslashes,
newlines and every non-printable character, bidirectional controls included), a number a
number literal, a tuple a tuple literal; Markdown text is flattened to one line with its
markup characters escaped. The Jinja templates print the results and never see raw values.
"""

from __future__ import annotations

import keyword
import math
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from convplan.errors import UsageError


def py_literal(value: Any) -> str:
    """The Python source of `value` (None, bool, int, float, str, tuple, list, dict of them).

    ``eval(py_literal(v)) == v`` for every accepted value, and the text is a single expression:
    no name lookup, call or attribute access except ``float('inf')``/``float('nan')``."""
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return repr(value)
        return f"float({repr(str(value))})"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, tuple):
        items = [py_literal(v) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    raise UsageError(f"cannot write a value of type {type(value).__name__} into Python code: "
                     f"{value!r}")


def py_assignment(target: str, value: str, width: int = 100) -> str:
    """`target = <literal of the string value>`, split into implicitly concatenated pieces in
    parentheses when longer than `width` (each piece a complete literal, so escapes are never
    cut)."""
    one = f"{target} = {py_literal(value)}"
    if len(one) <= width:
        return one
    pieces, current, used = [], "", 0
    for ch in value:
        cost = len(repr(ch)) - 2 + (1 if ch in "'\"" else 0)  # an escaped quote costs two
        if current and used + cost > width - 8:
            pieces.append(current)
            current, used = "", 0
        current += ch
        used += cost
    pieces.append(current)
    return f"{target} = (\n" + "".join(f"    {py_literal(p)}\n" for p in pieces) + ")"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#!|~&])")


def md_text(value: Any, limit: int = 2000) -> str:
    """`value` as one line of plain Markdown text: control and format characters dropped,
    whitespace collapsed, the characters that start markup backslash-escaped (so no link,
    image, HTML tag or entity, emphasis, code span, table cell or heading can be formed), at most
    `limit` characters. It is meant to follow other text on its line."""
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in str(value))
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[:limit] + "..."
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def md_code(value: Any) -> str:
    """`value` as inline Markdown code; backticks and control characters cannot occur in what
    this is given (layer names, op names, shapes), but are escaped anyway."""
    text = " ".join("".join(ch for ch in str(value) if unicodedata.category(ch)[0] != "C").split())
    return "`" + text.replace("`", "'") + "`"


RESERVED = frozenset({
    *keyword.kwlist, *keyword.softkwlist, "keras", "layers", "build_model", "model", "inputs",
    "outputs", "np", "tf", "math", "os", "sys", "json", "print", "input", "len", "range", "type",
    "id", "max", "min", "sum", "map", "filter", "list", "dict", "set", "tuple", "str", "int",
    "float", "bool", "object", "format", "open", "hash", "iter", "next", "vars", "dir", "super",
})


def identifiers(names: Iterable[str], prefix: str = "") -> dict[str, str]:
    """A distinct, valid, non-reserved Python identifier for each name (order kept):
    characters outside [A-Za-z0-9_] become '_', a leading digit or a reserved word gets a
    trailing '_', and collisions get '_2', '_3', ..."""
    taken: set[str] = set()
    result: dict[str, str] = {}
    for name in names:
        base = prefix + re.sub(r"[^A-Za-z0-9_]", "_", name)
        if not base or base[0].isdigit():
            base = "_" + base
        if base in RESERVED or base.startswith("__"):
            base = base.strip("_") + "_" if base.strip("_") else "layer_"
        candidate, n = base, 1
        while candidate in taken or candidate in RESERVED:
            n += 1
            candidate = f"{base}_{n}"
        taken.add(candidate)
        result[name] = candidate
    return result
