"""`validate()`: the one structural lint every pass may rely on (like torch.fx's `lint()`).

It checks what can be known without arithmetic: names, references, arity, cycles, outputs.
Shape-level problems (rank, channels, empty outputs) are found by
`convplan.analysis.infer_shapes`, which `analyze` runs right after this (`convplan.load`
runs `validate` on what it reads).
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from convplan.errors import GraphError, SpecError
from convplan.ir.graph import Graph

MAX_LAYERS = 100_000
# TensorFlow stores dims, attributes and element counts as int64: 2**63 and beyond is no size
# it can represent (a Keras layer with filters=10**30 fails to build), so it is refused here.
INT64_LIMIT = 1 << 63


def _too_large(value: Any) -> int | None:
    """The first integer in an attribute (tuples searched) that int64 cannot hold, if any."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if not -INT64_LIMIT <= value < INT64_LIMIT else None
    if isinstance(value, (tuple, list)):
        return next((v for v in map(_too_large, value) if v is not None), None)
    return None


def magnitude(n: int) -> str:
    """1e+30 style, or 2**k for integers a float cannot hold."""
    return f"{n:.3g}" if n.bit_length() < 1000 else f"about 2**{n.bit_length() - 1}"


def check_int64(op: Any, line: int | None = None) -> None:
    """A SpecError naming the layer and attribute where an integer is beyond int64."""
    for field in dataclasses.fields(op):
        big = _too_large(getattr(op, field.name))
        if big is not None:
            raise SpecError(f"attribute {field.name!r} holds {magnitude(big)}, beyond what "
                            "TensorFlow can represent (int64: at most 2**63 - 1)",
                            layer=op.name, op=op.op_type, line=line)


def validate(graph: Graph) -> list[str]:
    """Raise GraphError on the first structural problem; return the topological order."""
    if not graph.nodes:
        raise GraphError("the network has no layers")
    if len(graph.nodes) > MAX_LAYERS:
        raise GraphError(f"the network has {len(graph.nodes)} layers; at most {MAX_LAYERS} are "
                         "supported")
    if not graph.inputs:
        raise GraphError("the network has no inputs; declare at least one under 'inputs'")
    names = list(graph.nodes)
    for node in graph:
        op = node.op
        check_int64(op, node.line)
        for src in node.inputs:
            if src == node.name:
                raise GraphError("a layer cannot take itself as input", layer=node.name,
                                 op=op.op_type, line=node.line)
            if src not in graph.nodes:
                close = difflib.get_close_matches(src, names, n=1)
                raise GraphError(f"input {src!r} is not a layer or input of this network",
                                 layer=node.name, op=op.op_type, line=node.line,
                                 hint=f"inputs: [{close[0]}]" if close else None)
        count = len(node.inputs)
        if count < op.min_inputs or (op.max_inputs is not None and count > op.max_inputs):
            if op.max_inputs == op.min_inputs:
                expected = f"exactly {op.min_inputs}"
            elif op.max_inputs is None:
                expected = f"at least {op.min_inputs}"
            else:
                expected = f"{op.min_inputs} to {op.max_inputs}"
            raise GraphError(f"takes {expected} input(s), received {count}", layer=node.name,
                             op=op.op_type, line=node.line)
    for out in graph.outputs:
        if out not in graph.nodes:
            raise GraphError(f"output {out!r} is not a layer of this network")
    return graph.topological_order()
