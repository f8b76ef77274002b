"""Graph -> a readable spec (YAML), the inverse of `convplan.frontends.spec.build_graph`.

One flow-style line per layer with only the attributes that differ from Keras's defaults;
`inputs` is written only where a layer does not take the previous one, and `outputs` only where
the network does not end with its last layer. Loading the text back gives the same graph, so
the same analysis (the tests check exactly that).
"""

from __future__ import annotations

from typing import Any

import yaml

from convplan.errors import SpecError
from convplan.frontends.spec import NAME
from convplan.ir import ops as O
from convplan.ir.graph import Graph


class _Flow(dict):
    """A mapping written on one line."""


class _FlowList(list):
    """A list written on one line."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Flow, lambda d, v: d.represent_mapping(
    "tag:yaml.org,2002:map", v.items(), flow_style=True))
_Dumper.add_representer(_FlowList, lambda d, v: d.represent_sequence(
    "tag:yaml.org,2002:seq", v, flow_style=True))


# Per-axis attributes Keras (and the spec) accept as one int for every axis.
_PER_AXIS = frozenset({"kernel_size", "strides", "dilation_rate", "pool_size", "size",
                       "output_padding"})


def _value(value: Any, key: str | None = None) -> Any:
    """Tuples (kernel sizes, padding pairs) as one-line lists; (3, 3) as 3 where Keras would
    broadcast the int to every axis anyway."""
    if key in _PER_AXIS and isinstance(value, tuple) and value and len(set(value)) == 1:
        return value[0]
    if isinstance(value, (tuple, list)):
        return _FlowList(_value(v) for v in value)
    return value


def _check_name(name: str, what: str) -> str:
    if not NAME.match(name):
        raise SpecError(f"{what} {name!r} cannot be written in a spec (names are letters, "
                        "digits, '_', '.' and '-', starting with a letter or '_')")
    return name


def layer_entry(node_op: O.Op, inputs: tuple[str, ...], previous: str | None) -> _Flow:
    """One spec layer: name, op, inputs (unless the previous layer), then attributes, required
    ones first, only where they differ from Keras's defaults."""
    entry = _Flow(name=_check_name(node_op.name, "layer name"), op=node_op.op_type)
    if list(inputs) != ([previous] if previous is not None else None):
        entry["inputs"] = inputs[0] if len(inputs) == 1 else _FlowList(inputs)
    attributes = node_op.non_default_attributes()
    for key in (*node_op.required, *attributes):
        if key in attributes and key not in entry:
            entry[key] = _value(attributes[key], key)
    return entry


def spec_from_graph(graph: Graph) -> dict[str, Any]:
    """The spec data (plain dicts and lists) describing `graph`."""
    inputs: dict[str, Any] = {}
    for name in graph.inputs:
        op = graph[name].op
        shape = _FlowList(op.shape)
        inputs[_check_name(name, "input name")] = (
            shape if op.dtype == "float32" else _Flow(shape=shape, dtype=op.dtype))
    layers = []
    previous = graph.inputs[0] if len(graph.inputs) == 1 else None
    for node in graph:
        if isinstance(node.op, O.InputLayer):
            continue
        layers.append(layer_entry(node.op, node.inputs, previous))
        previous = node.name
    spec: dict[str, Any] = {"name": _check_name(graph.name, "model name"), "inputs": inputs,
                            "layers": layers}
    if graph.outputs != [previous]:
        spec["outputs"] = _FlowList(graph.outputs)
    return spec


def write_spec(graph: Graph, header: str | None = None) -> str:
    """The spec as YAML text, with `header` as leading comment lines."""
    text = yaml.dump(spec_from_graph(graph), Dumper=_Dumper, sort_keys=False, width=1000,
                     allow_unicode=True)
    if header:
        text = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines()) \
            + text
    return text
