"""An imported PyTorch/ONNX graph -> the same computation in Keras's terms, for `convplan
import model.onnx -o spec.yaml` and `convplan generate`.

Explicit per-side padding on a convolution becomes `ZeroPaddingND(((top, bottom), ...))` then
padding='valid' (exact: the zeros are what ONNX pads with); on a max pooling the same after a
ReLU-like activation (zeros then never win where ONNX pads -inf); on an average pooling with
count_include_pad the same (the zeros are counted, as ONNX counts them). What Keras has no
layer for is refused in one line naming the layer (the portability rules CP502-CP504 explain
each): max pooling padding a signed input, average pooling that pads but does not count the
padding, ceil_mode, and transposed convolutions with explicit pads. Layer names become spec
names ('/layer1/layer1.0/conv1/Conv' -> 'layer1_layer1.0_conv1_Conv').
"""

from __future__ import annotations

import dataclasses
import re

from convplan.errors import UnsupportedError
from convplan.ir import ops as O
from convplan.ir.graph import Graph
from convplan.ir.sign import nonnegative

ZERO_PADDING = {1: O.ZeroPadding1D, 2: O.ZeroPadding2D, 3: O.ZeroPadding3D}


def spec_name(name: str, taken: set[str]) -> str:
    """A spec-safe, unique name: invalid characters as '_', a leading letter."""
    text = re.sub(r"[^A-Za-z0-9_.\-]+", "_", name).strip("_") or "layer"
    if not re.match(r"[A-Za-z_]", text):
        text = "l_" + text
    text = text[:190]
    candidate, n = text, 1
    while candidate in taken:
        n += 1
        candidate = f"{text}_{n}"
    taken.add(candidate)
    return candidate


def needs_port(graph: Graph) -> bool:
    """Whether any layer uses PyTorch/ONNX-only attributes or names a spec cannot hold."""
    from convplan.frontends.spec import NAME

    for node in graph:
        op = node.op
        if not NAME.match(node.name) or getattr(op, "ceil_mode", False) or \
                getattr(op, "count_include_pad", False) or \
                not isinstance(getattr(op, "padding", "valid"), str):
            return True
    return False


def _refuse(node_name: str, op: O.Op, why: str) -> UnsupportedError:
    return UnsupportedError(f"layer {node_name!r} ({op.op_type}): {why}; Keras has no layer "
                            "that computes it (see `convplan check`)")


def to_keras_semantics(graph: Graph) -> Graph:
    """The same network with Keras's padding words only (ZeroPadding where ONNX pads)."""
    out = Graph(spec_name(graph.name, set()))
    out.description = graph.description
    taken: set[str] = set()
    names: dict[str, str] = {}
    for node in graph:
        op = node.op
        name = spec_name(node.name, taken)
        names[node.name] = name
        inputs = [names[i] for i in node.inputs]
        if getattr(op, "ceil_mode", False):
            raise _refuse(node.name, op, "ceil_mode (the last window hangs over the input by an "
                          "amount that depends on the input size)")
        padding = getattr(op, "padding", None)
        changes: dict = {"name": name}
        if padding is not None and not isinstance(padding, str):
            pads = tuple((int(b), int(e)) for b, e in padding)
            if isinstance(op, O.ConvTranspose):
                raise _refuse(node.name, op, f"explicit pads {pads} on a transposed convolution")
            changes["padding"] = "valid"
            if any(b or e for b, e in pads):
                if isinstance(op, O.MaxPooling) and not nonnegative(graph, node.inputs[0]):
                    raise _refuse(node.name, op, f"pads {pads} with -inf before a max pooling "
                                  "of a signed input")
                if isinstance(op, O.AveragePooling) and not op.count_include_pad:
                    raise _refuse(node.name, op, f"pads {pads} left out of the average's "
                                  "divisor (count_include_pad=False)")
                pad = spec_name(f"{name}_pad", taken)
                out.add(ZERO_PADDING[len(pads)](name=pad, padding=pads), inputs,
                        line=node.line)
                inputs = [pad]
        if isinstance(op, O.AveragePooling) and op.count_include_pad:
            changes["count_include_pad"] = False  # the zeros are cells now
        out.add(dataclasses.replace(op, **changes), inputs, line=node.line)
    out.set_outputs(names[o] for o in graph.outputs)
    return out
