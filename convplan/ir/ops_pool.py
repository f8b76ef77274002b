"""Pooling: the MaxPooling/AveragePooling families and global pooling (1D/2D/3D)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from convplan.ir import attrs as A
from convplan.ir.op_base import Op, Window, _set

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
    """The mean of each window; under 'same' the divisor counts only cells inside the input.
    Keras 3's AveragePooling1D/2D/3D have no default pool_size (MaxPooling's is 2)."""

    pool_size: Any = None
    required: ClassVar[tuple[str, ...]] = ("pool_size",)


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
