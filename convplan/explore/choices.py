"""`vary` (`--vary LAYER.ATTR=V1,V2,...`): parsing the choices of a design-space sweep.

A value list is comma-separated items; an item is an integer, a range `1..4` (inclusive) or
`16..512:16` (with a step), a per-axis tuple `3x5`, or a word (`same`, `relu`, `true`). The
layer part is a layer name or a glob (`conv*`): every matching layer takes the same value in a
combination (one axis of the sweep). `input.size` varies the spatial input size (`224`, meaning
224 on every spatial axis, or `224x160`).

A choice is *numeric* when convplan can evaluate it from the symbolic formulas (kernel sizes,
strides, dilations, filters, depth multipliers, pool sizes, Dense units, input sizes, all
integers): the sweep turns it into a sympy symbol. Anything else (padding, activation, groups,
a transposed convolution's strides, ...) is *categorical*: enumerated, one derivation each.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import re
from dataclasses import dataclass
from typing import Any

from convplan.errors import UsageError, parameter_name
from convplan.ir import ops as O
from convplan.ir.graph import Graph

INPUT = "input"
MAX_VALUES = 1_000_000

PER_AXIS = {"kernel_size", "strides", "dilation_rate", "pool_size", "size"}

_ITEM_RANGE = re.compile(r"^(\d{1,9})\.\.(\d{1,9})(?::(\d{1,9}))?$")
_ITEM_TUPLE = re.compile(r"^\d{1,9}(?:[xX]\d{1,9}){1,2}$")
_ITEM_INT = re.compile(r"^\d{1,9}$")
_ITEM_WORD = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")
_VARY = re.compile(r"^\s*([^=\s]+)\.([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+?)\s*$")


@dataclass(frozen=True)
class Vary:
    """One axis of the sweep: `attribute` of every layer in `layers` takes each of `values`."""

    label: str  # as the user wrote it, without the values: "conv*.padding"
    attribute: str
    layers: tuple[str, ...]  # matched layer names; (INPUT,) for the input size
    values: tuple[Any, ...]  # ints, tuples of ints, or words (str, bool, None)
    numeric: bool

    @property
    def is_input_size(self) -> bool:
        return self.layers == (INPUT,) and self.attribute == "size"

    @property
    def width(self) -> int:
        """1 when every value is a scalar (one symbol for every axis), else the tuple length."""
        return max((len(v) for v in self.values if isinstance(v, tuple)), default=1)

    def components(self) -> list[tuple[int, ...]]:
        """Each value as a tuple of `width` ints (scalars broadcast); numeric varies only."""
        return [v if isinstance(v, tuple) else (v,) * self.width for v in self.values]

    def text(self, index: int) -> str:
        return format_value(self.values[index])


def _vary_error(label: str, message: str) -> UsageError:
    """A bad `vary` argument, named by its label ('conv*.strides')."""
    return UsageError(f"{parameter_name('vary')} {label}: {message}")


def format_value(value: Any) -> str:
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_values(text: str, label: str) -> tuple[Any, ...]:
    """'1..4' -> (1, 2, 3, 4); '16..64:16' -> (16, 32, 48, 64); '3x5' -> ((3, 5),); words."""
    values: list[Any] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise _vary_error(label, f"empty value in {text!r}")
        match = _ITEM_RANGE.match(item)
        if match:
            low, high, step = int(match[1]), int(match[2]), int(match[3] or 1)
            if high < low or step < 1:
                raise _vary_error(label, f"range {item!r} must go up with a step >= 1")
            if (high - low) // step + 1 + len(values) > MAX_VALUES:
                raise _vary_error(label, f"more than {MAX_VALUES:,} values")
            values.extend(range(low, high + 1, step))
        elif _ITEM_TUPLE.match(item):
            values.append(tuple(int(v) for v in re.split("[xX]", item)))
        elif _ITEM_INT.match(item):
            values.append(int(item))
        elif _ITEM_WORD.match(item):
            lowered = item.lower()
            values.append({"true": True, "false": False, "null": None, "none": None}.get(
                lowered, item))
        else:
            raise _vary_error(label, f"cannot read value {item!r}; expected integers, "
                              "ranges such as 1..4 or 16..512:16, per-axis values such as 3x3, "
                              "or words such as same")
    if len(set(values)) != len(values):
        raise _vary_error(label, f"a value is listed twice in {text!r}")
    return tuple(values)


def _match_layers(graph: Graph, pattern: str, label: str) -> tuple[str, ...]:
    names = [n for n, node in graph.nodes.items() if not isinstance(node.op, O.InputLayer)]
    matched = tuple(n for n in names if fnmatch.fnmatchcase(n, pattern))
    if not matched:
        close = difflib.get_close_matches(pattern, names, n=3)
        more = ", ..." if len(names) > 12 else ""
        raise _vary_error(label, f"no layer matches {pattern!r}"
                          + (f"; did you mean {', '.join(close)}?" if close else
                             f"; layers: {', '.join(names[:12])}{more}"))
    return matched


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _all_integers(values: tuple[Any, ...]) -> bool:
    return all(_is_int(v) or (isinstance(v, tuple) and all(map(_is_int, v))) for v in values)


def _check_numeric(graph: Graph, vary: Vary) -> None:
    """Numeric values must be >= 1 and their tuples must fit every layer's spatial rank."""
    for value in vary.values:
        parts = value if isinstance(value, tuple) else (value,)
        if any(p < 1 for p in parts):
            raise _vary_error(vary.label, f"values must be >= 1, received "
                              f"{format_value(value)}")
    if not isinstance(next((v for v in vary.values if isinstance(v, tuple)), None), tuple):
        return
    for name in vary.layers:
        op = graph[name].op
        if vary.attribute not in PER_AXIS:
            raise _vary_error(vary.label, f"{vary.attribute} of layer {name!r} "
                              f"({op.op_type}) takes one integer, not a per-axis value")
        if op.spatial_rank != vary.width:
            raise _vary_error(vary.label, f"layer {name!r} ({op.op_type}) has "
                              f"{op.spatial_rank} spatial axes, received {vary.width}-axis values")


def _input_vary(graph: Graph, label: str, values: tuple[Any, ...]) -> Vary:
    if not _all_integers(values):
        raise _vary_error(label, "input sizes must be integers such as 224 or 224x160")
    vary = Vary(label, "size", (INPUT,), values, numeric=True)
    ranks = {len(graph[n].op.shape) - 1 for n in graph.inputs}
    for value in values:
        parts = value if isinstance(value, tuple) else (value,)
        if any(p < 1 for p in parts):
            raise _vary_error(label, "input sizes must be >= 1")
        if isinstance(value, tuple) and len(value) not in ranks:
            raise _vary_error(label, f"{format_value(value)} has {len(value)} axes, "
                              f"but the network's inputs have "
                              + " or ".join(str(r) for r in sorted(ranks)))
    if vary.width == 1 and not ranks & {1, 2, 3}:
        raise _vary_error(label, "the network has no input with spatial axes")
    return vary


def parse_vary(graph: Graph, text: str) -> Vary:
    """One `vary` argument, resolved against the graph's layers."""
    match = _VARY.match(text)
    if not match:
        raise UsageError(f"{parameter_name('vary')} must look like LAYER.ATTRIBUTE=V1,V2,... "
                         f"(for example conv1.strides=1,2 or input.size=32..224:32), received "
                         f"{text!r}")
    pattern, attribute, raw = match.groups()
    label = f"{pattern}.{attribute}"
    values = parse_values(raw, label)
    named_layer = INPUT in graph.nodes and not isinstance(graph[INPUT].op, O.InputLayer)
    if pattern == INPUT and attribute == "size" and not named_layer:
        return _input_vary(graph, label, values)
    layers = _match_layers(graph, pattern, label)
    for name in layers:
        op = graph[name].op
        if attribute not in O.attribute_names(type(op)) or attribute == "trainable":
            known = [a for a in O.attribute_names(type(op)) if a != "trainable"]
            close = difflib.get_close_matches(attribute, known, n=1)
            raise _vary_error(label, f"layer {name!r} ({op.op_type}) has no attribute "
                              f"{attribute!r}" + (f"; did you mean {close[0]}?" if close else
                                                  f"; it takes {', '.join(known) or 'none'}"))
    numeric = _all_integers(values) and all(
        attribute in graph[n].op.sweepable for n in layers)
    vary = Vary(label, attribute, layers, values, numeric)
    if numeric:
        _check_numeric(graph, vary)
    return vary


def parse_varies(graph: Graph, texts: list[str] | tuple[str, ...]) -> tuple[Vary, ...]:
    """Every `vary`, checking that no two set the same attribute of the same layer."""
    varies = tuple(parse_vary(graph, t) for t in texts)
    seen: dict[tuple[str, str], str] = {}
    for vary in varies:
        for layer in vary.layers:
            key = (layer, vary.attribute)
            if key in seen:
                raise UsageError(f"{parameter_name('vary')} {vary.label} and "
                                 f"{parameter_name('vary')} {seen[key]} both set "
                                 f"{vary.attribute} of layer {layer!r}")
            seen[key] = vary.label
    return varies


def apply_categorical(graph: Graph, assignments: dict[tuple[str, str], Any]) -> Graph:
    """A copy of the graph with concrete attribute values, each op re-validated as Keras would
    (a SpecError names the layer when a value is rejected)."""
    copy = Graph(graph.name)
    copy.source, copy.checks = graph.source, graph.checks
    for name, node in graph.nodes.items():
        changes = {attr: value for (layer, attr), value in assignments.items() if layer == name}
        op = node.op
        if changes:
            if isinstance(op, O.Pooling) and "pool_size" in changes and "strides" not in changes \
                    and op.strides == op.pool_size:
                changes["strides"] = None  # Keras's default: strides follow the pool size
            op = dataclasses.replace(op, **changes)
        copy.add(op, node.inputs, line=node.line, suppress=node.suppress)
    copy.set_outputs(graph.outputs)
    return copy
