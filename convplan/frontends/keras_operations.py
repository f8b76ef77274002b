"""keras.ops calls in a Functional model's config -> convplan ops.

Keras 3 records each keras.ops call on a KerasTensor as a node of its own: an entry whose
`module` is `keras.src.ops.<numpy|nn|image|core>`, whose `config` holds the operation's
constructor arguments (axes counting the batch as 0) and whose inbound node holds the call's
arguments (`keras.ops.pad`'s `constant_values` is one, written `-Infinity` for keras-hub's
ResNet v2). Each call becomes the op that computes the same thing: a keras.layers op where one
exists (concatenate -> Concatenate, transpose -> Permute, image.resize -> Resizing, relu ->
Activation), else a `KerasOperation` (Pad, Split, Mean, ...). A call with several outputs
(split) becomes one op per output, each with its `index`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from convplan.errors import UnsupportedError
from convplan.frontends import keras_layers as K

Attributes = dict[str, Any]
Outputs = list[tuple[str, Attributes]]  # one (op class name, attributes) per output tensor


def _refuse(class_name: str, layer: str, why: str) -> UnsupportedError:
    return UnsupportedError(f"keras.ops operation {class_name!r}: {why}", layer=layer,
                            op=class_name)


def _json_number(value: Any) -> Any:
    """Python's json writes -inf as `-Infinity`, which a YAML reader keeps as text."""
    if isinstance(value, str):
        try:
            return float(value)  # '-Infinity', 'inf', '1e-05'
        except ValueError:
            return value
    return value


def _pad(config: dict, args: list, kwargs: dict, layer: str) -> Outputs:
    constant = _json_number(kwargs.get("constant_values", args[1] if len(args) > 1 else None))
    return [("Pad", {"pad_width": config.get("pad_width"), "mode": config.get("mode", "constant"),
                     "constant_values": constant})]


def _split(config: dict, args: list, kwargs: dict, layer: str) -> Outputs:
    value = config.get("indices_or_sections")
    parts = value if isinstance(value, int) and not isinstance(value, bool) else (
        len(value) + 1 if isinstance(value, list) else 1)
    return [("Split", {"indices_or_sections": value, "axis": config.get("axis", 0), "index": i})
            for i in range(max(parts, 1))]


def _concatenate(config: dict, args: list, kwargs: dict, layer: str) -> Outputs:
    return [("Concatenate", {"axis": config.get("axis", 0)})]


def _reshape(config: dict, args: list, kwargs: dict, layer: str) -> Outputs:
    """newshape counts the batch: [-1 or None, *rest] keeps it, anything else mixes
    examples."""
    shape = K.plain(config.get("newshape"))
    if not isinstance(shape, list) or not shape or shape[0] not in (-1, None):
        raise _refuse("Reshape", layer, f"newshape {shape!r} does not keep the batch axis "
                      "first (-1 or None); convplan plans layers that work within one example")
    if -1 in shape[1:] and shape[0] == -1:
        raise _refuse("Reshape", layer, f"newshape {shape!r} leaves two axes to infer")
    return [("Reshape", {"target_shape": shape[1:]})]


def _transpose(config: dict, args: list, kwargs: dict, layer: str) -> Outputs:
    axes = K.plain(config.get("axes"))
    if not isinstance(axes, list) or not axes or axes[0] != 0:
        raise _refuse("Transpose", layer, f"axes {axes!r} move the batch axis; convplan plans "
                      "layers that work within one example")
    return [("Permute", {"dims": axes[1:]})]


def _reduction(op_name: str) -> Callable[[dict, list, dict, str], Outputs]:
    def rule(config: dict, args: list, kwargs: dict, layer: str) -> Outputs:
        if config.get("axis") is None:
            raise _refuse(op_name, layer, "axis None reduces every axis, the batch axis too; "
                          "convplan plans layers that work within one example")
        if config.get("initial") is not None:
            raise _refuse(op_name, layer, f"initial={config['initial']!r} is not modelled")
        return [(op_name, {"axis": K.plain(config.get("axis")),
                           "keepdims": config.get("keepdims", False)})]
    return rule


def _axis_op(op_name: str) -> Callable[[dict, list, dict, str], Outputs]:
    def rule(config: dict, args: list, kwargs: dict, layer: str) -> Outputs:
        if config.get("axis") is None:
            raise _refuse(op_name, layer, "axis None takes in the batch axis; convplan plans "
                          "layers that work within one example")
        return [(op_name, {"axis": K.plain(config.get("axis"))})]
    return rule


def _resize(config: dict, args: list, kwargs: dict, layer: str) -> Outputs:
    size = K.plain(config.get("size"))
    if not isinstance(size, list) or len(size) != 2:
        raise _refuse("Resize", layer, f"size must be [height, width], received {size!r}")
    keys = ("interpolation", "antialias", "crop_to_aspect_ratio", "pad_to_aspect_ratio",
            "fill_mode", "fill_value", "data_format")
    return [("Resizing", {"height": size[0], "width": size[1],
                          **{k: config[k] for k in keys if k in config}})]


# keras.ops activation class -> Keras activation name (the Activation layer computes the same).
ACTIVATIONS = {
    "Relu": "relu", "Relu6": "relu6", "Sigmoid": "sigmoid", "Tanh": "tanh", "Silu": "silu",
    "HardSigmoid": "hard_sigmoid", "HardSilu": "hard_silu", "Selu": "selu",
    "Softplus": "softplus", "Softsign": "softsign", "Exp": "exponential",
    "LogSigmoid": "log_sigmoid",
}


def _activation(class_name: str) -> Callable[[dict, list, dict, str], Outputs]:
    def rule(config: dict, args: list, kwargs: dict, layer: str) -> Outputs:
        return [("Activation", {"activation": ACTIVATIONS[class_name]})]
    return rule


def _gelu(config: dict, args: list, kwargs: dict, layer: str) -> Outputs:
    if config.get("approximate", True):
        raise _refuse("Gelu", layer, "approximate=True (keras.ops.gelu's default) is not the "
                      "gelu of an Activation layer (exact); convplan models the exact one")
    return [("Activation", {"activation": "gelu"})]


def _elu(config: dict, args: list, kwargs: dict, layer: str) -> Outputs:
    if config.get("alpha", 1.0) != 1.0:
        raise _refuse("Elu", layer, f"alpha={config['alpha']!r} is not modelled (alpha 1 is)")
    return [("Activation", {"activation": "elu"})]


def _leaky_relu(config: dict, args: list, kwargs: dict, layer: str) -> Outputs:
    return [("LeakyReLU", {"negative_slope": config.get("negative_slope", 0.2)})]


def _softmax(config: dict, args: list, kwargs: dict, layer: str) -> Outputs:
    axis = K.plain(config.get("axis", -1))
    return [("Softmax", {"axis": K._axis(axis, layer, "Softmax")})]


OPERATIONS: dict[str, Callable[[dict, list, dict, str], Outputs]] = {
    "Pad": _pad, "Split": _split, "Concatenate": _concatenate, "Reshape": _reshape,
    "Transpose": _transpose, "Mean": _reduction("Mean"), "Sum": _reduction("Sum"),
    "Max": _reduction("Max"), "Min": _reduction("Min"), "ExpandDims": _axis_op("ExpandDims"),
    "Squeeze": _axis_op("Squeeze"), "Resize": _resize, "Gelu": _gelu, "Elu": _elu,
    "LeakyRelu": _leaky_relu, "Softmax": _softmax,
    **{name: _activation(name) for name in ACTIVATIONS},
}
ARITHMETIC = ("Add", "Subtract", "Multiply", "Maximum", "Minimum", "Divide", "TrueDivide")


def operation_outputs(class_name: str, config: dict, args: list[Any], kwargs: dict,
                      layer: str) -> Outputs:
    """(op class name, attributes) for each output of one keras.ops call; `args` holds
    K.TENSOR for each tensor argument, constants as written."""
    if class_name in ARITHMETIC:
        return [K.operation_attributes(class_name, args, layer)]
    rule = OPERATIONS.get(class_name)
    if rule is None:
        shown = ", ".join("tensor" if a is K.TENSOR else repr(a) for a in args)
        raise UnsupportedError(
            f"keras.ops operation {class_name!r}({shown}) is not modelled; convplan reads "
            + ", ".join(sorted({*OPERATIONS, *ARITHMETIC})), layer=layer, op=class_name,
            hint=f"use Keras layers for the rest, or declare it with {K.CUSTOM_LAYERS}")
    tensors = [a for a in args if a is K.TENSOR]
    if class_name != "Concatenate" and len(tensors) != 1:
        raise _refuse(class_name, layer, f"called with {len(tensors)} tensor arguments, "
                      "convplan reads one")
    return rule(config, args, kwargs or {}, layer)
