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
    """{layer name: one list per call of the names of the layers it takes, in call order}.

    A mask is no input: Keras passes the mask Masking (or Embedding(mask_zero=True)) computes
    to the layers after it as their `mask` argument, through keras.ops nodes of its own
    (not_equal, any, ...) that join the graph; those nodes and that argument are left out."""
    config = model.get_config()
    entries = config["layers"]
    masks = _mask_nodes(entries, config.get("output_layers", []))
    return {entry["name"]: [_taken(node) for node in entry["inbound_nodes"]]
            for entry in entries if entry["name"] not in masks}


def _taken(node: dict) -> list[str]:
    """The names of the layers a call takes: its arguments' tensors but a `mask`."""
    kwargs = {k: v for k, v in node.get("kwargs", {}).items() if k != "mask"}
    return _history(node.get("args", [])) + _history(kwargs)


def _mask_nodes(entries: list[dict], outputs: Any) -> set[str]:
    """The keras.ops nodes that only compute masks: reached from no other node but through a
    `mask` argument or through nodes that only compute masks, and no output."""
    masks = {e["name"] for e in entries if str(e.get("module", "")).startswith("keras.src.ops")}
    # output_layers: [name, node, index] for one output, a list of those for several
    single = bool(outputs) and isinstance(outputs[0], str)
    masks -= {outputs[0]} if single else {o[0] for o in outputs if isinstance(o, list) and o}
    while True:
        used = {name for e in entries if e["name"] not in masks
                for node in e["inbound_nodes"] for name in _taken(node)}
        if not masks & used:
            return masks
        masks -= used


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
