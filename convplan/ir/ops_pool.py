"""Pooling: the MaxPooling/AveragePooling families and global pooling (1D/2D/3D)."""

from __future__ import annotations

from typing import Any, ClassVar

from convplan.errors import SpecError
from convplan.ir import attrs as A
from convplan.ir.op_base import Op, Window, _set, dataclass

# ---------------------------------------------------------------- pooling


@dataclass(frozen=True, kw_only=True)
class Pooling(Op):
    """Max or average pooling over windows; Keras: strides=None means strides = pool_size.

    `padding` is a Keras word or explicit (before, after) amounts per spatial axis (PyTorch's
    and ONNX's `pads`). `ceil_mode` (PyTorch, ONNX; not Keras) rounds the output length up
    instead of down, but drops a last window that would start in the right padding (PyTorch's
    rule, which onnxruntime follows): with padding before b and after e,
    out = min(ceil((n + b + e - k) / s), floor((n + b - 1) / s)) + 1. Keras's 'same' already
    covers every input row, so ceil_mode goes with 'valid' or explicit padding only."""

    channelwise: ClassVar[bool] = True
    pool_size: Any = 2
    strides: Any = None
    padding: Any = "valid"
    data_format: str | None = None
    ceil_mode: bool = False
    sweepable: ClassVar[tuple[str, ...]] = ("pool_size", "strides")
    paddings: ClassVar[tuple[str, ...]] = ("valid", "same")

    def normalize(self) -> None:
        r = self.rank()
        _set(self, "pool_size", A.as_tuple(self, "pool_size", self.pool_size, r))
        strides = self.pool_size if self.strides is None else self.strides
        _set(self, "strides", A.as_tuple(self, "strides", strides, r))
        _set(self, "padding", A.as_padding(self, "padding", self.padding, self.paddings, r))
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))
        A.as_bool(self, "ceil_mode", self.ceil_mode)
        if self.ceil_mode and self.padding == "same":
            raise SpecError("ceil_mode applies to padding 'valid' or explicit amounts; 'same' "
                            "already pads to cover every input row", layer=self.name,
                            op=self.op_type, hint="ceil_mode: false, or explicit padding")

    @property
    def explicit_padding(self) -> bool:
        """Padding given as per-side amounts (PyTorch/ONNX), not a Keras word."""
        return A.is_explicit(self.padding)

    @property
    def window(self) -> Window | None:
        return Window(self.pool_size, self.strides, (1,) * len(self.pool_size), self.padding)


@dataclass(frozen=True, kw_only=True)
class MaxPooling(Pooling):
    """The largest value in each window."""


@dataclass(frozen=True, kw_only=True)
class AveragePooling(Pooling):
    """The mean of each window; under 'same' the divisor counts only cells inside the input
    (Keras, and `count_include_pad: false`); `count_include_pad: true` divides by the whole
    window, padding included (PyTorch's default; ONNX's attribute). It changes values only:
    shapes, counts and fields are the same either way.
    Keras 3's AveragePooling1D/2D/3D have no default pool_size (MaxPooling's is 2)."""

    pool_size: Any = None
    count_include_pad: bool = False
    required: ClassVar[tuple[str, ...]] = ("pool_size",)

    def normalize(self) -> None:
        super().normalize()
        A.as_bool(self, "count_include_pad", self.count_include_pad)


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

    channelwise: ClassVar[bool] = True
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
