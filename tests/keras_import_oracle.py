"""What a built Keras model says about each of its layers, to compare with an imported plan.

Everything here is read off the real, built Keras layers, independently of convplan's rules:
output shapes from the layer's output tensor, params from its weights, and MACs from its
kernels: output positions x kernel size for convolutions (separable: depthwise + pointwise
kernel), input positions x kernel size for transposed convolutions, leading positions x kernel
size for Dense; every other layer has none.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

CONV_LIKE = ("Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D",
             "SeparableConv1D", "SeparableConv2D")
TRANSPOSED = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")


@dataclass(frozen=True)
class LayerFacts:
    output_shape: tuple
    trainable: int
    non_trainable: int
    macs: int


def _size(shape: Any) -> int:
    return math.prod(int(d) for d in shape)


def _is_model(layer: Any) -> bool:
    return hasattr(layer, "layers")


def leaf_layers(model: Any) -> Iterator[tuple[str, Any]]:
    """(name in the plan, layer) for every layer that is not a model or an InputLayer, nested
    models flattened. The convention: a nested layer keeps its name unless the outer model or
    an earlier layer has it; then it is `<nested model>.<name>`."""
    reserved = {layer.name for layer in model.layers if not _is_model(layer)}
    used: set[str] = set()

    def walk(current: Any, prefix: str | None) -> Iterator[tuple[str, Any]]:
        for layer in current.layers:
            if _is_model(layer):
                yield from walk(layer, layer.name)
            elif type(layer).__name__ != "InputLayer":
                name = layer.name
                if prefix is not None and (name in reserved or name in used):
                    name = f"{prefix}.{name}"
                used.add(name)
                yield name, layer

    yield from walk(model, None)


def kernel_volume(layer: Any) -> int:
    return sum(_size(w.shape) for w in layer.weights
               if w.path.rsplit("/", 1)[-1].endswith("kernel"))


def layer_macs(layer: Any) -> int:
    kind = type(layer).__name__
    if kind in CONV_LIKE:
        return _size(layer.output.shape[1:-1]) * kernel_volume(layer)
    if kind in TRANSPOSED:
        return _size(layer.input.shape[1:-1]) * kernel_volume(layer)
    if kind == "Dense":
        return _size(layer.input.shape[1:-1]) * kernel_volume(layer)
    return 0


def layer_facts(layer: Any) -> LayerFacts:
    return LayerFacts(
        output_shape=tuple(layer.output.shape[1:]),
        trainable=sum(_size(w.shape) for w in layer.trainable_weights),
        non_trainable=sum(_size(w.shape) for w in layer.non_trainable_weights),
        macs=layer_macs(layer))


def plan_facts(result: Any) -> LayerFacts:
    return LayerFacts(tuple(result.output_shape), result.trainable_params,
                      result.non_trainable_params, result.macs)


def model_totals(model: Any) -> tuple[int, int]:
    """(total params, trainable params) as Keras counts them."""
    return model.count_params(), sum(_size(w.shape) for w in model.trainable_weights)


def mismatches(model: Any, analysis: Any) -> list[str]:
    """Every layer where the plan and the built Keras layer disagree (empty when they agree),
    plus any Keras layer the plan lacks."""
    problems = []
    names = {layer.name for layer in analysis.layers}
    for name, layer in leaf_layers(model):
        if name not in names:
            problems.append(f"{name}: not in the plan")
            continue
        expected, got = layer_facts(layer), plan_facts(analysis.layer(name))
        if expected != got:
            problems.append(f"{name} ({type(layer).__name__}): keras {expected}, "
                            f"convplan {got}")
    return problems
