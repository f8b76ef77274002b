"""What a built Keras layer says about itself: output shape, params and MACs.

This module imports nothing but the standard library and works on any built Keras 3 layer, so
`convplan generate` copies it verbatim into every generated project's tests (as
`tests/keras_measure.py`): the project's own tests and `convplan verify` measure the same way.

MACs are read off the layer's real kernels, independently of convplan's formulas:
kernel volume (prod of the shape of every weight named `kernel`, `depthwise_kernel` or
`pointwise_kernel`) x the positions where that kernel is applied: the output positions for
convolutions (plain, grouped, depthwise and separable), the input positions for transposed
convolutions (each input scatters one whole kernel) and every position but the last axis for
Dense. Bias, normalization, pooling and activations count no MACs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

KERNELS = ("kernel", "depthwise_kernel", "pointwise_kernel")


def volume(shape: Sequence[Any]) -> int:
    """Number of elements of a fully known shape."""
    return math.prod(int(d) for d in shape)


def layer_params(layer: Any) -> tuple[int, int]:
    """(trainable, non-trainable) weights, as `model.summary()` counts them."""
    trainable = sum(volume(w.shape) for w in layer.trainable_weights)
    non_trainable = sum(volume(w.shape) for w in layer.non_trainable_weights)
    return trainable, non_trainable


def layer_macs(layer: Any, input_shape: Sequence[Any], output_shape: Sequence[Any]) -> int:
    """Kernel volume x positions (see the module docstring); shapes exclude the batch axis."""
    kernels = [w for w in layer.weights if w.name in KERNELS]
    if not kernels:
        return 0
    kind = type(layer).__name__
    if kind.endswith("Transpose") or kind == "Dense":
        positions = volume(input_shape[:-1])
    else:
        positions = volume(output_shape[:-1])
    return positions * sum(volume(w.shape) for w in kernels)


def shape_of(tensor: Any) -> tuple[int | None, ...]:
    """A symbolic or eager tensor's shape without the batch axis, None where unknown."""
    return tuple(None if d is None else int(d) for d in tuple(tensor.shape)[1:])


def measure_layer(layer: Any) -> dict[str, Any]:
    """Output shape (batch excluded), trainable and non-trainable params and MACs of one layer
    of a functional model (a layer called once)."""
    inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
    out_shape = shape_of(layer.output)
    trainable, non_trainable = layer_params(layer)
    return {
        "output_shape": out_shape,
        "trainable_params": trainable,
        "non_trainable_params": non_trainable,
        "macs": layer_macs(layer, shape_of(inputs[0]), out_shape),
    }
