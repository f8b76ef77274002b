"""Inputs and convolutions: InputLayer and the Conv, ConvTranspose, Depthwise and Separable
families (1D/2D/3D)."""

from __future__ import annotations

from typing import Any, ClassVar

from convplan.errors import SpecError
from convplan.ir import attrs as A
from convplan.ir.op_base import Dim, Op, Window, _set, dataclass

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
    """A convolution of any kind: a kernel slid over the spatial axes. `padding` is a Keras
    word, or explicit (before, after) amounts per spatial axis (PyTorch's and ONNX's `pads`,
    asymmetric ones included): zeros added on each side, then a 'valid' window. Keras's own
    refusals (strides with dilation, unequal depthwise strides) are TensorFlow's limits and do
    not apply to explicit padding, which no Keras layer takes."""

    kernel_size: Any = None
    strides: Any = 1
    padding: Any = "valid"
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
        _set(self, "padding", A.as_padding(self, "padding", self.padding, self.paddings, r))
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))
        _set(self, "activation", A.as_activation(self, "activation", self.activation))
        A.as_bool(self, "use_bias", self.use_bias)
        if (self.rejects_stride_with_dilation and not self.explicit_padding
                and max(self.strides) > 1 and max(self.dilation_rate) > 1):
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
    def explicit_padding(self) -> bool:
        """Padding given as per-side amounts (PyTorch/ONNX), not a Keras word."""
        return A.is_explicit(self.padding)

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
            for p, s, d in zip(pads, self.strides, self.dilation_rate):
                if self.explicit_padding and p >= max(s, d):
                    # PyTorch's ConvTranspose: output_padding below the stride or the dilation
                    raise SpecError(
                        f"output_padding {list(pads)} must be smaller than the strides "
                        f"{list(self.strides)} or the dilation_rate {list(self.dilation_rate)}",
                        layer=self.name, op=self.op_type)
                if not self.explicit_padding and p >= s:
                    # Keras: output_padding must be strictly less than the stride
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
        if self.padding != "same":  # explicit padding: no TensorFlow gradient shape to match
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
                and max(self.dilation_rate) == 1 and not self.explicit_padding):
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
