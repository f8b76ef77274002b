"""The keyword arguments of the Keras layer of each op's class, without importing Keras.

Op attributes already carry Keras's names, so a layer is `getattr(keras.layers, op_type)(name=...,
**keras_arguments(op))`: verify builds real layers with it and codegen writes them out. One rule
per op family (a table keyed by op class, like every pass) maps back the few places where
convplan's normalized form differs from what the Keras constructor accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from convplan.errors import UnsupportedError
from convplan.ir import ops as O
from convplan.ir.attrs import is_explicit
from convplan.ir.rules import rule_for

Arguments = dict[str, Any]


def plain_arguments(op: O.Op) -> Arguments:
    """`op.attributes()`, with a `None` data_format left to Keras's default."""
    args = op.attributes()
    if args.get("data_format", "x") is None:
        del args["data_format"]
    return args


# PyTorch/ONNX settings no Keras layer takes, and their Keras-equivalent values.
NOT_KERAS = {"ceil_mode": False, "count_include_pad": False}


def window_arguments(op: O.Op) -> Arguments:
    """Convolutions and pooling: `plain_arguments`, without the PyTorch/ONNX settings at their
    Keras values; explicit padding, ceil_mode or count_include_pad have no Keras argument (an
    UnsupportedError: `convplan import` writes ZeroPadding and 'valid' windows instead)."""
    args = plain_arguments(op)
    if is_explicit(args["padding"]):
        raise UnsupportedError(
            f"explicit padding {[list(p) for p in args['padding']]} has no Keras argument",
            layer=op.name, op=op.op_type,
            hint="a ZeroPadding layer before a 'valid' window computes the same (convplan "
                 "import writes that)")
    for key, keras_value in NOT_KERAS.items():
        if key in args:
            if args[key] != keras_value:
                raise UnsupportedError(f"{key} {args[key]} has no Keras argument",
                                       layer=op.name, op=op.op_type)
            del args[key]
    return args


def one_pair(key: str) -> Callable[[O.Op], Arguments]:
    """ZeroPadding1D/Cropping1D take one (before, after) pair, not a tuple of pairs."""
    def rule(op: O.Op) -> Arguments:
        args = plain_arguments(op)
        args[key] = tuple(args[key][0])
        return args
    rule.__doc__ = f"`{key}` as one (before, after) pair."
    return rule


def upsampling1d_arguments(op: O.Op) -> Arguments:
    """UpSampling1D takes an int size only."""
    args = plain_arguments(op)
    args["size"] = args["size"][0]
    return args


def normalization_arguments(op: O.Op) -> Arguments:
    """Normalization statistics are lists (or numbers), not tuples."""
    args = plain_arguments(op)
    for key in ("mean", "variance"):
        if isinstance(args[key], tuple):
            args[key] = list(args[key])
    return args


def no_keras_class(op: O.Op) -> Arguments:
    """A declared (Custom) layer or an input has no Keras layer constructor to call."""
    raise TypeError(f"{op.op_type} {op.name!r} has no Keras layer class to build")


def operation_arguments(op: O.Op) -> Arguments:
    """A keras.ops call's keyword arguments after the tensor (`keras.ops.<keras_function>(x,
    **arguments)`): lists where Keras writes lists; no `trainable` (an operation has no
    weights); a split's `index` picks its output and is no argument."""
    args = op.attributes()
    args.pop("trainable", None)
    args.pop("index", None)
    return {k: [list(v) if isinstance(v, tuple) else v for v in value]
            if isinstance(value, tuple) else value for k, value in args.items()}


KERAS_ARGUMENT_RULES: dict[type[O.Op], Callable[[O.Op], Arguments]] = {
    O.InputLayer: no_keras_class,  # keras.Input(shape=..., dtype=...) instead
    O.Custom: no_keras_class,
    O.Windowed: window_arguments,
    O.Pooling: window_arguments,
    O.GlobalPooling: plain_arguments,
    O.BatchNormalization: plain_arguments,
    O.LayerNormalization: plain_arguments,
    O.Normalization: normalization_arguments,
    O.Activation: plain_arguments,
    O.ReLU: plain_arguments,
    O.LeakyReLU: plain_arguments,
    O.Softmax: plain_arguments,
    O.Dropout: plain_arguments,
    O.Dense: plain_arguments,
    O.Flatten: plain_arguments,
    O.Reshape: plain_arguments,
    O.Rescaling: plain_arguments,
    O.GroupNormalization: plain_arguments,
    O.UnitNormalization: plain_arguments,
    O.RMSNormalization: plain_arguments,
    O.ELU: plain_arguments,
    O.PReLU: plain_arguments,
    O.GaussianNoise: plain_arguments,
    O.ActivityRegularization: plain_arguments,
    O.Augmentation: plain_arguments,
    O.Merge: plain_arguments,
    O.UpSampling: plain_arguments,
    O.UpSampling1D: upsampling1d_arguments,
    O.ZeroPadding: plain_arguments,
    O.ZeroPadding1D: one_pair("padding"),
    O.Cropping: plain_arguments,
    O.Cropping1D: one_pair("cropping"),
    O.Resizing: plain_arguments,
    O.CenterCrop: plain_arguments,
    O.RandomCrop: plain_arguments,
    O.AdaptivePooling: plain_arguments,
    O.Permute: plain_arguments,
    O.RepeatVector: plain_arguments,
    O.Embedding: plain_arguments,
    O.Masking: plain_arguments,
    O.Dot: plain_arguments,
    O.EinsumDense: plain_arguments,
    O.KerasOperation: operation_arguments,  # Pad, Split, Mean, ...: keras.ops calls
}


def keras_arguments(op: O.Op) -> Arguments:
    """The keyword arguments of the op's Keras layer (its name excluded)."""
    return rule_for(KERAS_ARGUMENT_RULES, op, "keras_arguments")(op)
