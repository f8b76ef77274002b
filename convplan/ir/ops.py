"""The closed set of ops convplan models, as frozen dataclasses with Keras's attribute names.

Each op normalizes its attributes once, on construction (``kernel_size=3`` becomes ``(3, 3)``
for Conv2D), exactly as the Keras layer of the same class name does, so the spec, the IR and the
generated code read alike. The arithmetic lives in ``convplan.analysis``, not here.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from convplan.errors import SpecError, UnsupportedError
from convplan.ir import attrs as A

Dim = Any  # int, or a symbol name (str), or None in an Input shape before symbols are made


def _set(op: Op, attr: str, value: Any) -> None:
    object.__setattr__(op, attr, value)


@dataclass(frozen=True, kw_only=True)
class Op:
    """Base op. ``name`` is the Keras layer name; the rest are Keras attributes."""

    name: str
    trainable: bool = True  # Keras: a frozen layer's weights count as non-trainable
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1
    spatial_rank: ClassVar[int | None] = None  # number of spatial axes the op needs, if any
    required: ClassVar[tuple[str, ...]] = ()  # attributes without a Keras default
    # Traits the passes ask about, so no pass keeps its own list of classes:
    has_weights: ClassVar[bool] = False  # holds Keras variables (trainable or not)
    has_kernel: ClassVar[bool] = False  # multiplies by a learned kernel: a convolution or Dense
    # one input, same shape, every position kept where it is (a window run passes through)
    elementwise: ClassVar[bool] = False
    # integer attributes a sweep may turn into symbols (the symbolic rules accept them)
    sweepable: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"every layer needs a non-empty string name, received {self.name!r}")
        for attr in self.required:
            if getattr(self, attr) is None:
                raise SpecError(f"missing required attribute {attr!r}", layer=self.name,
                                op=self.op_type)
        A.as_bool(self, "trainable", self.trainable)
        self.normalize()

    def normalize(self) -> None:
        """Validate and canonicalize attributes (overridden per op)."""

    def rank(self) -> int:
        """The number of spatial axes, for an op that needs them (windows, resampling, ...)."""
        assert self.spatial_rank is not None, f"{self.op_type} has no spatial rank"
        return self.spatial_rank

    @property
    def op_type(self) -> str:
        return type(self).__name__

    @property
    def window(self) -> Window | None:
        """The window the op slides over its input's spatial axes, if it slides one."""
        return None

    @property
    def feature_width(self) -> tuple[str, int] | None:
        """The matrix dimension the op produces, ('filters', n) or ('units', n), where it runs
        as a matrix product (depthwise convolutions do not)."""
        return None

    def attributes(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "name"}

    def non_default_attributes(self) -> dict[str, Any]:
        """Attributes whose value differs from the Keras default (what a spec needs to say)."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "name":
                continue
            value = getattr(self, f.name)
            if (f.name in self.required or f.default is dataclasses.MISSING
                    or _canonical_default(self, f) != value):
                out[f.name] = value
        return out

    def with_symbols(self, **values: Any) -> Op:
        """A copy whose `sweepable` attributes in `values` are sympy symbols (a sweep's varied
        integers, as normalized tuples), built without `normalize`, whose checks want ints: the
        sweep states the Keras rules they enforce as conditions of its own."""
        unknown = sorted(set(values) - set(self.sweepable))
        if unknown:
            raise ValueError(f"{self.op_type} cannot take symbols for {', '.join(unknown)}")
        op = object.__new__(type(self))
        for f in dataclasses.fields(self):
            _set(op, f.name, values.get(f.name, getattr(self, f.name)))
        return op


@dataclass(frozen=True)
class Window:
    """A sliding window per spatial axis: kernel (pool) size, stride, dilation, padding."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: str


_NO_DEFAULT = object()


def _canonical_default(op: Op, f: dataclasses.Field[Any]) -> Any:
    """The attribute's value had it been left out; _NO_DEFAULT where leaving it out is invalid
    (output_padding 1 needs strides > 1, so strides cannot fall back to 1)."""
    try:
        probe = dataclasses.replace(op, **cast(dict[str, Any], {f.name: f.default}))
    except SpecError:
        return _NO_DEFAULT
    return getattr(probe, f.name)


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True, kw_only=True)
class InputLayer(Op):
    """A graph input; ``shape`` excludes the batch axis; dims are ints or symbol names."""

    shape: tuple[Dim, ...] = ()
    dtype: str = "float32"
    min_inputs: ClassVar[int] = 0
    max_inputs: ClassVar[int | None] = 0
    dtypes: ClassVar[tuple[str, ...]] = ("float32", "float16", "bfloat16", "float64", "int32",
                                         "int64", "uint8")

    def normalize(self) -> None:
        if not isinstance(self.shape, (list, tuple)) or not self.shape:
            raise SpecError(f"input shape must be a non-empty list of dimensions, received {self.shape!r}",
                            layer=self.name, op="InputLayer")
        dims = []
        for dim in self.shape:
            if dim is None or (isinstance(dim, str) and dim.isidentifier() and dim.isascii()):
                dims.append(dim)
            elif A.is_int(dim) and dim >= 1:
                dims.append(dim)
            else:
                raise SpecError(
                    "each input dimension must be a positive integer, a symbol name such as 'H', or "
                    f"null, received {dim!r}", layer=self.name, op="InputLayer")
        _set(self, "shape", tuple(dims))
        A.as_choice(self, "dtype", self.dtype, self.dtypes)


# ---------------------------------------------------------------- convolutions


@dataclass(frozen=True, kw_only=True)
class Windowed(Op):
    """A convolution of any kind: a kernel slid over the spatial axes."""

    kernel_size: Any = None
    strides: Any = 1
    padding: str = "valid"
    data_format: str | None = None
    dilation_rate: Any = 1
    activation: str | None = None
    use_bias: bool = True
    paddings: ClassVar[tuple[str, ...]] = ("valid", "same")
    required: ClassVar[tuple[str, ...]] = ("kernel_size",)

    def normalize(self) -> None:
        r = self.rank()
        _set(self, "kernel_size", A.as_tuple(self, "kernel_size", self.kernel_size, r))
        _set(self, "strides", A.as_tuple(self, "strides", self.strides, r))
        _set(self, "dilation_rate", A.as_tuple(self, "dilation_rate", self.dilation_rate, r))
        _set(self, "padding", A.as_choice(self, "padding", self.padding, self.paddings))
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))
        _set(self, "activation", A.as_activation(self, "activation", self.activation))
        A.as_bool(self, "use_bias", self.use_bias)
        if self.rejects_stride_with_dilation and max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise SpecError(
                f"strides {list(self.strides)} > 1 together with dilation_rate "
                f"{list(self.dilation_rate)} > 1 is rejected by Keras for {self.op_type}",
                layer=self.name, op=self.op_type, hint="use strides 1 or dilation_rate 1",
                reason="strides_with_dilation")

    rejects_stride_with_dilation: ClassVar[bool] = False
    has_weights: ClassVar[bool] = True
    has_kernel: ClassVar[bool] = True
    sweepable: ClassVar[tuple[str, ...]] = ("kernel_size", "strides", "dilation_rate")

    @property
    def window(self) -> Window | None:
        return Window(self.kernel_size, self.strides, self.dilation_rate, self.padding)


@dataclass(frozen=True, kw_only=True)
class Conv(Windowed):
    """Conv1D/2D/3D: a dense kernel over groups of input channels."""

    filters: int = None  # type: ignore[assignment]
    groups: int = 1
    rejects_stride_with_dilation: ClassVar[bool] = True
    required: ClassVar[tuple[str, ...]] = ("filters", "kernel_size")
    sweepable: ClassVar[tuple[str, ...]] = ("kernel_size", "strides", "dilation_rate", "filters")

    @property
    def feature_width(self) -> tuple[str, int]:
        return "filters", self.filters

    def normalize(self) -> None:
        super().normalize()
        A.as_int(self, "filters", self.filters)
        A.as_int(self, "groups", self.groups)
        if self.filters % self.groups:
            raise SpecError(f"filters {self.filters} must be divisible by groups {self.groups}",
                            layer=self.name, op=self.op_type, reason="keras_rejects")


@dataclass(frozen=True, kw_only=True)
class Conv1D(Conv):
    """Keras Conv1D."""

    spatial_rank: ClassVar[int] = 1
    paddings: ClassVar[tuple[str, ...]] = ("valid", "same", "causal")


@dataclass(frozen=True, kw_only=True)
class Conv2D(Conv):
    """Keras Conv2D."""

    spatial_rank: ClassVar[int] = 2


@dataclass(frozen=True, kw_only=True)
class Conv3D(Conv):
    """Keras Conv3D."""

    spatial_rank: ClassVar[int] = 3


@dataclass(frozen=True, kw_only=True)
class ConvTranspose(Windowed):
    """Conv1D/2D/3DTranspose: each input position scatters a kernel into the output."""

    filters: int = None  # type: ignore[assignment]
    output_padding: Any = None
    required: ClassVar[tuple[str, ...]] = ("filters", "kernel_size")
    rejects_stride_with_dilation: ClassVar[bool] = True
    # a transposed convolution's strides change its shape rule's form: enumerated in sweeps
    sweepable: ClassVar[tuple[str, ...]] = ()

    @property
    def feature_width(self) -> tuple[str, int]:
        return "filters", self.filters

    @property
    def window(self) -> None:
        """It scatters a kernel from each input position rather than sliding a window."""
        return None

    def normalize(self) -> None:
        super().normalize()
        A.as_int(self, "filters", self.filters)
        if self.output_padding is not None:
            pads = A.as_tuple(self, "output_padding", self.output_padding, self.rank(), 0)
            for p, s in zip(pads, self.strides):
                if p >= s:  # Keras: output_padding must be strictly less than the stride
                    raise SpecError(
                        f"output_padding {list(pads)} must be smaller than the strides "
                        f"{list(self.strides)}", layer=self.name, op=self.op_type,
                        reason="keras_rejects")
            _set(self, "output_padding", pads)
            self._check_same_output_padding()

    def _check_same_output_padding(self) -> None:
        """TF runs a transposed convolution as the gradient of a convolution whose 'same'
        output is ceil(out / s); with output_padding 0 and an even effective kernel, Keras's
        out = (L - 1) * s gives L - 1, not L, and TF refuses to run the layer ("Size of
        out_backprop doesn't match computed"), although Keras's symbolic shape accepts it."""
        if self.padding != "same":
            return
        for axis, (k, d, p) in enumerate(zip(self.kernel_size, self.dilation_rate,
                                             self.output_padding)):
            if p == 0 and (d * (k - 1) + 1) % 2 == 0:
                raise SpecError(
                    f"padding 'same' with output_padding 0 and the even effective kernel "
                    f"{d * (k - 1) + 1} on axis {axis + 1} cannot run in TensorFlow (the "
                    "output would be one row short of what the input needs)",
                    layer=self.name, op=self.op_type, reason="keras_rejects",
                    hint="output_padding: null, an odd kernel_size, or output_padding 1 with "
                         "strides > 1")


@dataclass(frozen=True, kw_only=True)
class Conv1DTranspose(ConvTranspose):
    """Keras Conv1DTranspose."""

    spatial_rank: ClassVar[int] = 1


@dataclass(frozen=True, kw_only=True)
class Conv2DTranspose(ConvTranspose):
    """Keras Conv2DTranspose."""

    spatial_rank: ClassVar[int] = 2


@dataclass(frozen=True, kw_only=True)
class Conv3DTranspose(ConvTranspose):
    """Keras Conv3DTranspose."""

    spatial_rank: ClassVar[int] = 3


@dataclass(frozen=True, kw_only=True)
class Depthwise(Windowed):
    """DepthwiseConv1D/2D: one kernel per input channel (times depth_multiplier)."""

    depth_multiplier: int = 1
    sweepable: ClassVar[tuple[str, ...]] = ("kernel_size", "strides", "dilation_rate",
                                            "depth_multiplier")

    def normalize(self) -> None:
        super().normalize()
        A.as_int(self, "depth_multiplier", self.depth_multiplier)
        # TF's depthwise kernel (DepthwiseConv2dNative, also under SeparableConv2D) refuses
        # unequal row and column strides at run time; Keras's symbolic shape accepts them.
        # With a dilation > 1 Keras runs a stride-1 convolution and subsamples, which works.
        if (self.spatial_rank == 2 and len(set(self.strides)) > 1
                and max(self.dilation_rate) == 1):
            raise SpecError(
                f"strides {list(self.strides)} differ between rows and columns, which "
                f"TensorFlow's depthwise convolution cannot run", layer=self.name,
                op=self.op_type, reason="keras_rejects", hint="equal strides, such as "
                f"strides: {max(self.strides)}")


@dataclass(frozen=True, kw_only=True)
class DepthwiseConv1D(Depthwise):
    """Keras DepthwiseConv1D."""

    spatial_rank: ClassVar[int] = 1


@dataclass(frozen=True, kw_only=True)
class DepthwiseConv2D(Depthwise):
    """Keras DepthwiseConv2D."""

    spatial_rank: ClassVar[int] = 2


@dataclass(frozen=True, kw_only=True)
class Separable(Depthwise):
    """SeparableConv1D/2D: a depthwise convolution, then a pointwise (1x1) one."""

    filters: int = None  # type: ignore[assignment]
    required: ClassVar[tuple[str, ...]] = ("filters", "kernel_size")
    sweepable: ClassVar[tuple[str, ...]] = ("kernel_size", "strides", "dilation_rate", "filters",
                                            "depth_multiplier")

    @property
    def feature_width(self) -> tuple[str, int]:
        return "filters", self.filters

    def normalize(self) -> None:
        super().normalize()
        A.as_int(self, "filters", self.filters)


@dataclass(frozen=True, kw_only=True)
class SeparableConv1D(Separable):
    """Keras SeparableConv1D."""

    spatial_rank: ClassVar[int] = 1


@dataclass(frozen=True, kw_only=True)
class SeparableConv2D(Separable):
    """Keras SeparableConv2D."""

    spatial_rank: ClassVar[int] = 2


# ---------------------------------------------------------------- pooling


@dataclass(frozen=True, kw_only=True)
class Pooling(Op):
    """Max or average pooling over windows; Keras: strides=None means strides = pool_size."""

    pool_size: Any = 2
    strides: Any = None
    padding: str = "valid"
    data_format: str | None = None
    sweepable: ClassVar[tuple[str, ...]] = ("pool_size", "strides")
    paddings: ClassVar[tuple[str, ...]] = ("valid", "same")

    def normalize(self) -> None:
        r = self.rank()
        _set(self, "pool_size", A.as_tuple(self, "pool_size", self.pool_size, r))
        strides = self.pool_size if self.strides is None else self.strides
        _set(self, "strides", A.as_tuple(self, "strides", strides, r))
        _set(self, "padding", A.as_choice(self, "padding", self.padding, self.paddings))
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))

    @property
    def window(self) -> Window | None:
        return Window(self.pool_size, self.strides, (1,) * len(self.pool_size), self.padding)


@dataclass(frozen=True, kw_only=True)
class MaxPooling(Pooling):
    """The largest value in each window."""


@dataclass(frozen=True, kw_only=True)
class AveragePooling(Pooling):
    """The mean of each window; under 'same' the divisor counts only cells inside the input."""


@dataclass(frozen=True, kw_only=True)
class MaxPooling1D(MaxPooling):
    """Keras MaxPooling1D."""

    spatial_rank: ClassVar[int] = 1


@dataclass(frozen=True, kw_only=True)
class MaxPooling2D(MaxPooling):
    """Keras MaxPooling2D."""

    spatial_rank: ClassVar[int] = 2


@dataclass(frozen=True, kw_only=True)
class MaxPooling3D(MaxPooling):
    """Keras MaxPooling3D."""

    spatial_rank: ClassVar[int] = 3


@dataclass(frozen=True, kw_only=True)
class AveragePooling1D(AveragePooling):
    """Keras AveragePooling1D."""

    spatial_rank: ClassVar[int] = 1


@dataclass(frozen=True, kw_only=True)
class AveragePooling2D(AveragePooling):
    """Keras AveragePooling2D."""

    spatial_rank: ClassVar[int] = 2


@dataclass(frozen=True, kw_only=True)
class AveragePooling3D(AveragePooling):
    """Keras AveragePooling3D."""

    spatial_rank: ClassVar[int] = 3


@dataclass(frozen=True, kw_only=True)
class GlobalPooling(Op):
    """Max or average over every spatial position, per channel."""

    keepdims: bool = False
    data_format: str | None = None

    def normalize(self) -> None:
        A.as_bool(self, "keepdims", self.keepdims)
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))


@dataclass(frozen=True, kw_only=True)
class GlobalMaxPooling(GlobalPooling):
    """The largest value over the spatial axes."""


@dataclass(frozen=True, kw_only=True)
class GlobalAveragePooling(GlobalPooling):
    """The mean over the spatial axes."""


@dataclass(frozen=True, kw_only=True)
class GlobalMaxPooling1D(GlobalMaxPooling):
    """Keras GlobalMaxPooling1D."""

    spatial_rank: ClassVar[int] = 1


@dataclass(frozen=True, kw_only=True)
class GlobalMaxPooling2D(GlobalMaxPooling):
    """Keras GlobalMaxPooling2D."""

    spatial_rank: ClassVar[int] = 2


@dataclass(frozen=True, kw_only=True)
class GlobalMaxPooling3D(GlobalMaxPooling):
    """Keras GlobalMaxPooling3D."""

    spatial_rank: ClassVar[int] = 3


@dataclass(frozen=True, kw_only=True)
class GlobalAveragePooling1D(GlobalAveragePooling):
    """Keras GlobalAveragePooling1D."""

    spatial_rank: ClassVar[int] = 1


@dataclass(frozen=True, kw_only=True)
class GlobalAveragePooling2D(GlobalAveragePooling):
    """Keras GlobalAveragePooling2D."""

    spatial_rank: ClassVar[int] = 2


@dataclass(frozen=True, kw_only=True)
class GlobalAveragePooling3D(GlobalAveragePooling):
    """Keras GlobalAveragePooling3D."""

    spatial_rank: ClassVar[int] = 3


# ---------------------------------------------------------------- normalization & activations


@dataclass(frozen=True, kw_only=True)
class BatchNormalization(Op):
    """Normalizes each channel with batch statistics (moving ones at inference), then scales and shifts."""

    has_weights: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    axis: int = -1
    momentum: float = 0.99
    epsilon: float = 0.001
    center: bool = True
    scale: bool = True

    def normalize(self) -> None:
        A.as_axis(self, "axis", self.axis)
        A.as_float(self, "momentum", self.momentum, 0.0, 1.0)
        A.as_float(self, "epsilon", self.epsilon, 0.0)
        A.as_bool(self, "center", self.center)
        A.as_bool(self, "scale", self.scale)


@dataclass(frozen=True, kw_only=True)
class LayerNormalization(Op):
    """Normalizes over `axis` within each example, then scales and shifts."""

    has_weights: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    axis: int = -1
    epsilon: float = 0.001
    center: bool = True
    scale: bool = True

    def normalize(self) -> None:
        A.as_axis(self, "axis", self.axis)
        A.as_float(self, "epsilon", self.epsilon, 0.0)
        A.as_bool(self, "center", self.center)
        A.as_bool(self, "scale", self.scale)


@dataclass(frozen=True, kw_only=True)
class Activation(Op):
    """Applies a named activation elementwise."""

    elementwise: ClassVar[bool] = True
    activation: str = None  # type: ignore[assignment]
    required: ClassVar[tuple[str, ...]] = ("activation",)

    def normalize(self) -> None:
        act = A.as_activation(self, "activation", self.activation)
        _set(self, "activation", act or "linear")


@dataclass(frozen=True, kw_only=True)
class ReLU(Op):
    """max(x, 0), with an optional negative slope, threshold and cap (ReLU6)."""

    elementwise: ClassVar[bool] = True
    max_value: float | None = None
    negative_slope: float = 0.0
    threshold: float = 0.0

    def normalize(self) -> None:
        if self.max_value is not None:
            A.as_float(self, "max_value", self.max_value, 0.0)
        A.as_float(self, "negative_slope", self.negative_slope, 0.0)
        A.as_float(self, "threshold", self.threshold, 0.0)  # Keras rejects a negative one


@dataclass(frozen=True, kw_only=True)
class LeakyReLU(Op):
    """x for x > 0, negative_slope * x otherwise."""

    elementwise: ClassVar[bool] = True
    negative_slope: float = 0.3

    def normalize(self) -> None:
        A.as_float(self, "negative_slope", self.negative_slope, 0.0)


@dataclass(frozen=True, kw_only=True)
class Softmax(Op):
    """exp(x) / sum(exp(x)) along `axis`."""

    elementwise: ClassVar[bool] = True
    axis: int = -1

    def normalize(self) -> None:
        A.as_axis(self, "axis", self.axis)


@dataclass(frozen=True, kw_only=True)
class Dropout(Op):
    """Zeroes a `rate` fraction of the elements in training; the identity at inference."""

    elementwise: ClassVar[bool] = True
    rate: float = None  # type: ignore[assignment]
    required: ClassVar[tuple[str, ...]] = ("rate",)

    def normalize(self) -> None:
        A.as_float(self, "rate", self.rate, 0.0, 1.0)


@dataclass(frozen=True, kw_only=True)
class SpatialDropout(Dropout):
    """Drops whole channels (SpatialDropout1D/2D/3D); the identity at inference."""


@dataclass(frozen=True, kw_only=True)
class SpatialDropout1D(SpatialDropout):
    """Keras SpatialDropout1D."""

    spatial_rank: ClassVar[int] = 1


@dataclass(frozen=True, kw_only=True)
class SpatialDropout2D(SpatialDropout):
    """Keras SpatialDropout2D."""

    spatial_rank: ClassVar[int] = 2


@dataclass(frozen=True, kw_only=True)
class SpatialDropout3D(SpatialDropout):
    """Keras SpatialDropout3D."""

    spatial_rank: ClassVar[int] = 3


# ---------------------------------------------------------------- dense & reshaping


@dataclass(frozen=True, kw_only=True)
class Dense(Op):
    """A matrix product over the last axis (each leading position separately), plus bias."""

    units: int = None  # type: ignore[assignment]
    required: ClassVar[tuple[str, ...]] = ("units",)
    activation: str | None = None
    use_bias: bool = True
    has_weights: ClassVar[bool] = True
    has_kernel: ClassVar[bool] = True
    sweepable: ClassVar[tuple[str, ...]] = ("units",)

    @property
    def feature_width(self) -> tuple[str, int]:
        return "units", self.units

    def normalize(self) -> None:
        A.as_int(self, "units", self.units)
        _set(self, "activation", A.as_activation(self, "activation", self.activation))
        A.as_bool(self, "use_bias", self.use_bias)


@dataclass(frozen=True, kw_only=True)
class Flatten(Op):
    """All axes but the batch into one."""

    data_format: str | None = None

    def normalize(self) -> None:
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))


@dataclass(frozen=True, kw_only=True)
class Reshape(Op):
    """The same values in `target_shape` (one -1 is inferred)."""

    target_shape: tuple[int, ...] = None  # type: ignore[assignment]
    required: ClassVar[tuple[str, ...]] = ("target_shape",)

    def normalize(self) -> None:
        shape = self.target_shape
        if (not isinstance(shape, (list, tuple)) or not shape
                or not all(A.is_int(d) and (d >= 1 or d == -1) for d in shape)
                or list(shape).count(-1) > 1):
            raise SpecError("attribute 'target_shape' must be a list of positive integers with at "
                            f"most one -1, received {shape!r}", layer=self.name, op="Reshape")
        _set(self, "target_shape", tuple(shape))


@dataclass(frozen=True, kw_only=True)
class Rescaling(Op):
    """Keras Rescaling: ``x * scale + offset``; each is a number or, as Keras allows, a list
    broadcast against the input (one value per channel)."""
    elementwise: ClassVar[bool] = True

    scale: Any = None
    required: ClassVar[tuple[str, ...]] = ("scale",)
    offset: Any = 0.0

    def normalize(self) -> None:
        for attr in ("scale", "offset"):
            value = getattr(self, attr)
            if isinstance(value, (list, tuple)) and value:
                _set(self, attr, tuple(A.as_float(self, attr, v) for v in value))
            else:
                _set(self, attr, A.as_float(self, attr, value))


@dataclass(frozen=True, kw_only=True)
class Normalization(Op):
    """Keras Normalization. With mean and variance given it holds no weights; without them it
    holds non-trainable ``mean``, ``variance`` (one per feature) and ``count`` (a scalar)."""
    has_weights: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True

    axis: int = -1
    mean: Any = None
    variance: Any = None
    invert: bool = False

    def normalize(self) -> None:
        A.as_axis(self, "axis", self.axis)
        A.as_bool(self, "invert", self.invert)
        if (self.mean is None) != (self.variance is None):
            raise SpecError("give both 'mean' and 'variance', or neither", layer=self.name,
                            op="Normalization")
        for attr in ("mean", "variance"):
            value = getattr(self, attr)
            if isinstance(value, (list, tuple)):
                _set(self, attr, tuple(A.as_float(self, attr, v) for v in value))
            elif value is not None:
                _set(self, attr, A.as_float(self, attr, value))
        if _stat_shape(self.mean) != _stat_shape(self.variance):  # Keras: np.shape must match
            raise SpecError(f"'mean' {_stat_shape(self.mean)} and 'variance' "
                            f"{_stat_shape(self.variance)} must have the same shape (a number, "
                            "or lists of the same length)", layer=self.name, op="Normalization")


def _stat_shape(value: Any) -> tuple[int, ...]:
    return (len(value),) if isinstance(value, tuple) else ()


# ---------------------------------------------------------------- merges


@dataclass(frozen=True, kw_only=True)
class Merge(Op):
    """Combines two or more inputs: elementwise with broadcasting, or Concatenate."""

    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = None


@dataclass(frozen=True, kw_only=True)
class Add(Merge):
    """The elementwise sum of its inputs (broadcasting)."""

    pass


@dataclass(frozen=True, kw_only=True)
class Subtract(Merge):
    """The first input minus the second (broadcasting)."""

    max_inputs: ClassVar[int | None] = 2


@dataclass(frozen=True, kw_only=True)
class Multiply(Merge):
    """The elementwise product of its inputs (broadcasting)."""

    pass


@dataclass(frozen=True, kw_only=True)
class Average(Merge):
    """The elementwise mean of its inputs (broadcasting)."""

    pass


@dataclass(frozen=True, kw_only=True)
class Maximum(Merge):
    """The elementwise maximum of its inputs (broadcasting)."""

    pass


@dataclass(frozen=True, kw_only=True)
class Minimum(Merge):
    """The elementwise minimum of its inputs (broadcasting)."""

    pass


@dataclass(frozen=True, kw_only=True)
class Concatenate(Merge):
    """Its inputs joined along `axis`; other axes must match."""

    axis: int = -1

    def normalize(self) -> None:
        A.as_axis(self, "axis", self.axis)


# ---------------------------------------------------------------- resampling, padding, cropping


@dataclass(frozen=True, kw_only=True)
class UpSampling(Op):
    """Repeats (or interpolates) each position `size` times per spatial axis."""

    size: Any = 2
    data_format: str | None = None

    def normalize(self) -> None:
        _set(self, "size", A.as_tuple(self, "size", self.size, self.rank()))
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))


@dataclass(frozen=True, kw_only=True)
class UpSampling1D(UpSampling):
    """Keras UpSampling1D."""

    spatial_rank: ClassVar[int] = 1


@dataclass(frozen=True, kw_only=True)
class UpSampling2D(UpSampling):
    """Keras UpSampling2D."""

    interpolation: str = "nearest"
    spatial_rank: ClassVar[int] = 2
    interpolations: ClassVar[tuple[str, ...]] = ("nearest", "bilinear", "bicubic", "lanczos3",
                                                 "lanczos5", "area")

    def normalize(self) -> None:
        super().normalize()
        A.as_choice(self, "interpolation", self.interpolation, self.interpolations)


@dataclass(frozen=True, kw_only=True)
class UpSampling3D(UpSampling):
    """Keras UpSampling3D."""

    spatial_rank: ClassVar[int] = 3


@dataclass(frozen=True, kw_only=True)
class ZeroPadding(Op):
    """Adds zero rows/columns before and after each spatial axis."""

    padding: Any = 1
    data_format: str | None = None

    def normalize(self) -> None:
        _set(self, "padding", A.as_pairs(self, "padding", self.padding, self.rank()))
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))


@dataclass(frozen=True, kw_only=True)
class ZeroPadding1D(ZeroPadding):
    """Keras ZeroPadding1D."""

    spatial_rank: ClassVar[int] = 1


@dataclass(frozen=True, kw_only=True)
class ZeroPadding2D(ZeroPadding):
    """Keras ZeroPadding2D."""

    spatial_rank: ClassVar[int] = 2


@dataclass(frozen=True, kw_only=True)
class ZeroPadding3D(ZeroPadding):
    """Keras ZeroPadding3D."""

    spatial_rank: ClassVar[int] = 3


@dataclass(frozen=True, kw_only=True)
class Cropping(Op):
    """Removes rows/columns before and after each spatial axis."""

    cropping: Any = 1
    data_format: str | None = None

    def normalize(self) -> None:
        _set(self, "cropping", A.as_pairs(self, "cropping", self.cropping, self.rank()))
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))


@dataclass(frozen=True, kw_only=True)
class Cropping1D(Cropping):
    """Keras Cropping1D."""

    spatial_rank: ClassVar[int] = 1


@dataclass(frozen=True, kw_only=True)
class Cropping2D(Cropping):
    """Keras Cropping2D."""

    cropping: Any = 0  # Keras: Cropping2D crops nothing by default; 1D and 3D crop 1
    spatial_rank: ClassVar[int] = 2


@dataclass(frozen=True, kw_only=True)
class Cropping3D(Cropping):
    """Keras Cropping3D."""

    spatial_rank: ClassVar[int] = 3


# ---------------------------------------------------------------- declared layers


@dataclass(frozen=True, kw_only=True)
class Custom(Op):
    """A layer class convplan does not know, with its behaviour declared by the user (or a known
    helper layer of keras.applications): the output has the first input's shape;
    params = ``params`` + ``params_per_channel`` x input channels; FLOPs =
    ``flops_per_element`` x output elements; no MACs. ``class_name`` is the Keras class."""
    has_weights: ClassVar[bool] = True  # it may declare params

    class_name: str = None  # type: ignore[assignment]
    params: int = 0
    params_per_channel: int = 0
    flops_per_element: int = 0
    max_inputs: ClassVar[int | None] = None
    required: ClassVar[tuple[str, ...]] = ("class_name",)

    def normalize(self) -> None:
        if not isinstance(self.class_name, str) or not self.class_name.strip():
            raise SpecError(f"attribute 'class_name' must be the layer's class name, received "
                            f"{self.class_name!r}", layer=self.name, op="Custom")
        for attr in ("params", "params_per_channel", "flops_per_element"):
            A.as_int(self, attr, getattr(self, attr), 0)


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
    ]
}

# Keras accepts these class names too; they are the same layers.
ALIASES = {
    "Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
    "Convolution2DTranspose": "Conv2DTranspose", "Convolution3DTranspose": "Conv3DTranspose",
    "MaxPool1D": "MaxPooling1D", "MaxPool2D": "MaxPooling2D", "MaxPool3D": "MaxPooling3D",
    "AvgPool1D": "AveragePooling1D", "AvgPool2D": "AveragePooling2D",
    "AvgPool3D": "AveragePooling3D", "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D", "Input": "InputLayer",
}


def op_class(op_name: Any, layer: str | None = None) -> type[Op]:
    """Look up an op class by Keras class name, with a did-you-mean hint."""
    if isinstance(op_name, str):
        cls = OPS.get(ALIASES.get(op_name, op_name))
        if cls is not None:
            return cls
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
