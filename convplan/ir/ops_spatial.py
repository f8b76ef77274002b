"""Merges, resampling, padding, cropping, and declared (Custom) layers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from convplan.errors import SpecError
from convplan.ir import attrs as A
from convplan.ir.op_base import Op, _set

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
