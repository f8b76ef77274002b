"""`validate()`: the one structural lint every pass may rely on (like torch.fx's `lint()`).

It checks what can be known without arithmetic: names, references, arity, cycles, outputs.
Shape-level problems (rank, channels, empty outputs) are found by
`convplan.analysis.infer_shapes`, which `analyze` runs right after this (`convplan.load`
runs `validate` on what it reads).
"""

from __future__ import annotations

import difflib

from convplan.errors import GraphError
from convplan.ir.graph import Graph

MAX_LAYERS = 100_000


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
