"""Whether a layer's output is never negative: the one sign fact both the portability checks
and the Keras->PyTorch port need (zeros Keras pads before a max pooling never win where
PyTorch/ONNX pad -inf, so the two agree there)."""

from __future__ import annotations

from convplan.ir import ops as O
from convplan.ir.graph import Graph

NONNEGATIVE_ACTIVATIONS = ("relu", "relu6", "sigmoid", "softmax", "softplus", "exponential",
                           "hard_sigmoid", "elu_plus_one")


def nonnegative(graph: Graph, name: str) -> bool:
    """Whether layer `name`'s output is >= 0: a ReLU-like activation last, looking through
    max poolings and dropouts."""
    op = graph[name].op
    if isinstance(op, O.ReLU):
        return bool(op.negative_slope == 0)
    activation = getattr(op, "activation", None)
    if activation in NONNEGATIVE_ACTIVATIONS:
        return True
    if isinstance(op, (O.MaxPooling, O.Dropout)) and graph[name].inputs:
        return nonnegative(graph, graph[name].inputs[0])
    return False
