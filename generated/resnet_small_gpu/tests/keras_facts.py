"""What a built Keras model says about its own graph: each layer's inputs, activation and
dtype policy.

This module imports nothing but the standard library and works on any built Keras 3
functional model under any backend, so `convplan generate` copies it verbatim into every
generated project's tests (as `tests/keras_facts.py`), where they compare the model that
model.py builds with plan.json. The wiring is read from the model's own serialized graph
(`model.get_config()`, each layer's `inbound_nodes`), not from the code that built it.
"""

from __future__ import annotations

from typing import Any

# Layers that are an activation by their class (their config holds no `activation` key).
ACTIVATION_CLASSES = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "Softmax": "softmax",
                      "ELU": "elu", "PReLU": "prelu"}


def _history(value: Any) -> list[str]:
    """The layer names of every serialized Keras tensor inside `value`, in order."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            return [value["config"]["keras_history"][0]]
        return [name for item in value.values() for name in _history(item)]
    if isinstance(value, (list, tuple)):
        return [name for item in value for name in _history(item)]
    return []


def inbound_layers(model: Any) -> dict[str, list[list[str]]]:
    """{layer name: one list per call of the names of the layers it takes, in call order}."""
    return {entry["name"]: [_history(node.get("args", [])) + _history(node.get("kwargs", {}))
                            for node in entry["inbound_nodes"]]
            for entry in model.get_config()["layers"]}


def layer_activation(layer: Any) -> str | None:
    """The activation the layer applies: its fused `activation` ('linear' for none), the
    class's own for ReLU-like layers, None for a layer that applies none."""
    import keras

    if hasattr(layer, "activation"):
        name = keras.activations.serialize(layer.activation)
        return name if isinstance(name, str) else str(name)
    return ACTIVATION_CLASSES.get(type(layer).__name__)


def layer_dtype_policy(layer: Any) -> str:
    """The name of the layer's dtype policy ('float32', 'mixed_float16', ...)."""
    return layer.dtype_policy.name
