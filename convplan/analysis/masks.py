"""Keras masks: which layers' outputs carry one, and the layer that fails on it.

Masking and Embedding(mask_zero=True) attach a boolean mask of their output's shape without
its last axis, (batch, d0, ..., d_{k-2}). A layer that supports masking with Keras's default
compute_mask passes its input's on (`Op.keeps_mask`: activations, normalizations, dropout
and noise, Rescaling, Dense, Softmax); Add, Subtract, Multiply, Average, Maximum and Minimum
carry one where every input does (their OR), Concatenate where any does; every other layer,
and every keras.ops call, drops it. A kept mask keeps that shape: its layers change at most
the last axis. Measured on Keras 3.15 (tests/analysis/test_masks_tf.py).

Softmax is the one modelled layer that fails on such a mask: Keras 3 checks a mask
right-aligned against the whole input, each axis 1 or equal to the input's, so (batch, d0,
..., d_{k-2}) against (batch, d0, ..., d_{k-1}) needs every d_j in {1, d_{j+1}} and the batch
in {1, d0}; it runs at batch 1 (and d0) at most. convplan refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from convplan.analysis.shapes import Shape
from convplan.errors import ShapeError
from convplan.ir import ops as O
from convplan.ir.graph import Graph


def mask_sources(graph: Graph, order: Sequence[str]) -> dict[str, str | None]:
    """Per layer, the Masking or Embedding whose mask its output carries (the first, where
    several meet), or None."""
    sources: dict[str, str | None] = {}
    for name in order:
        node = graph[name]
        op = node.op
        inputs = [sources[i] for i in node.inputs]
        if isinstance(op, O.Masking) or (isinstance(op, O.Embedding) and op.mask_zero):
            sources[name] = name
        elif isinstance(op, O.Concatenate):
            sources[name] = next((s for s in inputs if s is not None), None)
        elif isinstance(op, O.ELEMENTWISE_MERGES):  # their masks' OR: one where every input has
            sources[name] = inputs[0] if inputs and None not in inputs else None
        elif op.keeps_mask and inputs:
            sources[name] = inputs[0]
        else:
            sources[name] = None
    return sources


def check_masks(graph: Graph, order: Sequence[str], shapes: Mapping[str, Shape]) -> None:
    """A ShapeError for the first Softmax that is given a mask (see the module docstring)."""
    sources = mask_sources(graph, order)
    for name in order:
        node = graph[name]
        made_by = sources[node.inputs[0]] if isinstance(node.op, O.Softmax) else None
        if made_by is None:
            continue
        source = graph[made_by]
        dims = list(shapes[node.inputs[0]])
        mask = ", ".join(["batch", *map(str, dims[:-1])])
        every = ", ".join(["batch", *map(str, dims)])
        clash = next(((a, b) for a, b in zip(dims, dims[1:])
                      if isinstance(a, int) and isinstance(b, int) and a not in (1, b)), None)
        when = (f"{clash[0]} meets {clash[1]}, so it fails at every batch size" if clash else
                f"the batch meets {dims[0]}, so it runs at batch {_batches(dims[0])} only")
        raise ShapeError(
            f"is given the mask of {type(source.op).__name__} {source.name!r}, of shape "
            f"({mask}); Keras 3's Softmax aligns a mask right against its whole input "
            f"({every}): {when} (drop the mask, or apply the Softmax before the "
            f"{type(source.op).__name__})", layer=name, op="Softmax")


def _batches(d0: object) -> str:
    return "1" if d0 == 1 else f"1 or {d0}"
