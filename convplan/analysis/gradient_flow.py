"""Which gradients a training step computes: autodiff computes no others.

A step differentiates the loss with respect to the trainable weights only (Keras under JAX:
`jax.value_and_grad` over the trainable variables; TensorFlow's tape watches the same), so a
tensor's gradient is computed iff the tensor depends on a trainable weight:

    output_gradient(layer) = trains(layer) or any(output_gradient(i) for i in its inputs)
    input i's gradient     = output_gradient(i)
    backward runs          = output_gradient(layer)

The layers before the first trainable one (the graph's inputs, Rescaling, Normalization,
ZeroPadding, a frozen backbone) run no backward at all, and the first trainable layer computes
its weights' gradient but not its input's.
"""

from __future__ import annotations

from typing import Any

from convplan.analysis import arith


def trains(layer: Any) -> bool:
    """Whether an analysed layer has trainable weights (a symbolic count: unless provably 0)."""
    count = layer.trainable_params
    return arith.is_positive(count) is not False and count != 0


def output_gradients(graph: Any, analysis: Any) -> dict[str, bool]:
    """Per layer (analysis.layers, in graph order), whether a training step computes the
    gradient of its output."""
    flows: dict[str, bool] = {}
    for layer in analysis.layers:
        flows[layer.name] = trains(layer) or any(flows[i] for i in graph[layer.name].inputs)
    return flows
