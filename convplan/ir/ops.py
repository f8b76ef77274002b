"""The closed set of ops convplan models, as frozen dataclasses with Keras's attribute names.

Each op normalizes its attributes once, on construction (``kernel_size=3`` becomes ``(3, 3)``
for Conv2D), exactly as the Keras layer of the same class name does, so the spec, the IR and the
generated code read alike. The arithmetic lives in ``convplan.analysis``, not here.

The classes live in one module per kind (op_base, ops_conv, ops_pool, ops_pointwise,
ops_spatial); this module gathers them, with the registry (`OPS`, `ALIASES`, `make_op`), so
every pass imports `convplan.ir.ops as O`.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from convplan.errors import SpecError, UnsupportedError
from convplan.ir.op_base import Dim, Op, Window
from convplan.ir.ops_augmentation import AUGMENTATIONS, Augmentation
from convplan.ir.ops_conv import (
    Conv,
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    ConvTranspose,
    Depthwise,
    DepthwiseConv1D,
    DepthwiseConv2D,
    InputLayer,
    Separable,
    SeparableConv1D,
    SeparableConv2D,
    Windowed,
)
from convplan.ir.ops_pointwise import (
    ELU,
    Activation,
    ActivityRegularization,
    AlphaDropout,
    BatchNormalization,
    Dense,
    Dropout,
    Flatten,
    GaussianDropout,
    GaussianNoise,
    GroupNormalization,
    LayerNormalization,
    LeakyReLU,
    Normalization,
    PReLU,
    ReLU,
    Rescaling,
    Reshape,
    RMSNormalization,
    Softmax,
    SpatialDropout,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
    UnitNormalization,
)
from convplan.ir.ops_pool import (
    AveragePooling,
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    GlobalPooling,
    MaxPooling,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
    Pooling,
)
from convplan.ir.ops_spatial import (
    ELEMENTWISE_MERGES,
    Add,
    Average,
    Concatenate,
    Cropping,
    Cropping1D,
    Cropping2D,
    Cropping3D,
    Custom,
    Maximum,
    Merge,
    Minimum,
    Multiply,
    Subtract,
    UpSampling,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from convplan.ir.ops_structural import (
    AdaptiveAveragePooling1D,
    AdaptiveAveragePooling2D,
    AdaptiveAveragePooling3D,
    AdaptiveMaxPooling1D,
    AdaptiveMaxPooling2D,
    AdaptiveMaxPooling3D,
    AdaptivePooling,
    CenterCrop,
    Dot,
    EinsumDense,
    Embedding,
    ExpandDims,
    KerasOperation,
    Masking,
    Max,
    Mean,
    Min,
    Pad,
    Permute,
    RandomCrop,
    Reduction,
    RepeatVector,
    Resizing,
    Split,
    Squeeze,
    Sum,
)

# ---------------------------------------------------------------- registry

OPS: dict[str, type[Op]] = {
    cls.__name__: cls
    for cls in [
        InputLayer, Conv1D, Conv2D, Conv3D, Conv1DTranspose, Conv2DTranspose, Conv3DTranspose,
        DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, SeparableConv2D,
        MaxPooling1D, MaxPooling2D, MaxPooling3D, AveragePooling1D, AveragePooling2D,
        AveragePooling3D, GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D,
        GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D,
        BatchNormalization, LayerNormalization, Activation, ReLU, LeakyReLU,
        Softmax, Dropout, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D, Dense, Flatten,
        Reshape, Rescaling, Normalization, Add, Subtract, Multiply, Average, Maximum, Minimum,
        Concatenate, UpSampling1D, UpSampling2D, UpSampling3D, ZeroPadding1D, ZeroPadding2D,
        ZeroPadding3D, Cropping1D, Cropping2D, Cropping3D, Custom,
        # shape-changing and structural layers, keras.ops calls (ops_structural)
        Resizing, CenterCrop, RandomCrop, AdaptiveAveragePooling1D, AdaptiveAveragePooling2D,
        AdaptiveAveragePooling3D, AdaptiveMaxPooling1D, AdaptiveMaxPooling2D,
        AdaptiveMaxPooling3D, Permute, RepeatVector, Embedding, Masking, Pad, Split, Mean, Sum,
        Max, Min, ExpandDims, Squeeze, Dot, EinsumDense,
    ]
}
# Normalizations, activations, noise and augmentation (identity at inference) layers.
OPS.update({cls.__name__: cls for cls in [
    GroupNormalization, UnitNormalization, RMSNormalization, ELU, PReLU, GaussianNoise,
    GaussianDropout, AlphaDropout, ActivityRegularization, *AUGMENTATIONS,
]})

# Keras accepts these class names too; they are the same layers.
ALIASES = {
    "Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
    "Convolution2DTranspose": "Conv2DTranspose", "Convolution3DTranspose": "Conv3DTranspose",
    "MaxPool1D": "MaxPooling1D", "MaxPool2D": "MaxPooling2D", "MaxPool3D": "MaxPooling3D",
    "AvgPool1D": "AveragePooling1D", "AvgPool2D": "AveragePooling2D",
    "AvgPool3D": "AveragePooling3D", "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D", "Input": "InputLayer",
    "Convolution1DTranspose": "Conv1DTranspose",
    "SeparableConvolution1D": "SeparableConv1D", "SeparableConvolution2D": "SeparableConv2D",
    "GlobalAvgPool1D": "GlobalAveragePooling1D", "GlobalAvgPool3D": "GlobalAveragePooling3D",
    "GlobalMaxPool1D": "GlobalMaxPooling1D", "GlobalMaxPool3D": "GlobalMaxPooling3D",
}


def op_class(op_name: Any, layer: str | None = None) -> type[Op]:
    """Look up an op class by Keras class name, with a did-you-mean hint."""
    if isinstance(op_name, str):
        cls = OPS.get(ALIASES.get(op_name, op_name))
        if cls is not None:
            return cls
        # imported here: the IR does not depend on the frontends, except for this message
        from convplan.frontends.keras_refusals import refused_op
        refused = refused_op(op_name, layer)
        if refused is not None:
            raise refused
    close = difflib.get_close_matches(str(op_name), list(OPS), n=1)
    raise UnsupportedError(
        f"unknown op {op_name!r}; expected a Keras layer class convplan models "
        f"(see `convplan schema`)", layer=layer, hint=f"op: {close[0]}" if close else None)


def attribute_names(cls: type[Op]) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name != "name"]


def make_op(op_name: Any, name: str, attributes: dict[str, Any]) -> Op:
    """Build an op from a spec entry, with clear errors for unknown or missing attributes."""
    cls = op_class(op_name, layer=name)
    known = attribute_names(cls)
    for key in attributes:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            raise SpecError(
                f"unknown attribute {key!r}; {cls.__name__} takes "
                + (", ".join(known) if known else "no attributes"),
                layer=name, op=cls.__name__, hint=f"{close[0]}: ..." if close else None)
    return cls(name=name, **attributes)

__all__ = [
    "Dim", "Op", "Window", "Conv", "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose",
    "Conv3D", "Conv3DTranspose", "ConvTranspose", "Depthwise", "DepthwiseConv1D",
    "DepthwiseConv2D", "InputLayer", "Separable", "SeparableConv1D", "SeparableConv2D", "Windowed",
    "Activation", "BatchNormalization", "Dense", "Dropout", "Flatten", "LayerNormalization",
    "LeakyReLU", "Normalization", "ReLU", "Rescaling", "Reshape", "Softmax", "SpatialDropout",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AveragePooling",
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
    "GlobalMaxPooling", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "GlobalPooling", "MaxPooling", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "Pooling",
    "Add", "Average", "Concatenate", "Cropping", "Cropping1D", "Cropping2D", "Cropping3D",
    "Custom", "Maximum", "Merge", "Minimum", "Multiply", "Subtract", "UpSampling", "UpSampling1D",
    "UpSampling2D", "UpSampling3D", "ZeroPadding", "ZeroPadding1D", "ZeroPadding2D",
    "ZeroPadding3D", "ELEMENTWISE_MERGES", "OPS", "ALIASES", "op_class", "attribute_names",
    "make_op",
    "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
    "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D", "AdaptivePooling",
    "CenterCrop", "Dot", "EinsumDense", "Embedding", "ExpandDims", "KerasOperation", "Masking",
    "Max", "Mean", "Min",
    "Pad", "Permute", "RandomCrop", "Reduction", "RepeatVector", "Resizing", "Split", "Squeeze",
    "Sum",
    "GroupNormalization", "UnitNormalization", "RMSNormalization", "ELU", "PReLU",
    "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Augmentation",
    "AUGMENTATIONS",
]
