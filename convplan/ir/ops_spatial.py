"""Merges, resampling, padding, cropping, and declared (Custom) layers."""

from __future__ import annotations

from typing import Any, ClassVar

from convplan.errors import SpecError
from convplan.ir import attrs as A
from convplan.ir.op_base import Op, _set, dataclass

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


# the merges that combine their inputs element by element (broadcasting), not Concatenate or Dot
ELEMENTWISE_MERGES = (Add, Subtract, Multiply, Average, Maximum, Minimum)


# ---------------------------------------------------------------- resampling, padding, cropping


@dataclass(frozen=True, kw_only=True)
class UpSampling(Op):
    """Repeats (or interpolates) each position `size` times per spatial axis."""

    channelwise: ClassVar[bool] = True
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

    channelwise: ClassVar[bool] = True
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

    channelwise: ClassVar[bool] = True
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
    helper layer of keras.applications). ``class_name`` is the Keras class.

    Shape: the first input's, unless a geometry is declared: then each spatial axis is a
    convolution window's (``kernel_size``, 1 where not declared, ``strides``,
    ``dilation_rate``, ``padding`` 'valid' or 'same', TF's lengths) and the channels are
    ``filters`` (the input's where not declared). Counts: params = ``params`` (an integer or
    a formula in C_in and C_out, `convplan.ir.formula`) + ``params_per_channel`` x C_in,
    trainable; MACs = ``macs_per_position`` (the same kind of formula) x output positions;
    FLOPs = 2 x MACs + ``flops_per_element`` x output elements. Receptive field: the first
    input's for a shape-preserving layer, the declared window's where ``kernel_size`` is
    declared, none (not declared) where only strides or channels are."""
    has_weights: ClassVar[bool] = True  # it may declare params

    class_name: str = None  # type: ignore[assignment]
    params: int | str = 0
    params_per_channel: int = 0
    flops_per_element: int = 0
    macs_per_position: int | str = 0
    filters: int | None = None
    kernel_size: Any = None
    strides: Any = 1
    dilation_rate: Any = 1
    padding: str = "valid"
    paddings: ClassVar[tuple[str, ...]] = ("valid", "same")
    max_inputs: ClassVar[int | None] = None
    required: ClassVar[tuple[str, ...]] = ("class_name",)
    GEOMETRY: ClassVar[tuple[str, ...]] = ("kernel_size", "strides", "dilation_rate")
    FORMULAS: ClassVar[tuple[str, ...]] = ("params", "macs_per_position")

    def normalize(self) -> None:
        from convplan.ir import formula

        if not isinstance(self.class_name, str) or not self.class_name.strip():
            raise SpecError(f"attribute 'class_name' must be the layer's class name, received "
                            f"{self.class_name!r}", layer=self.name, op="Custom")
        for attr in ("params_per_channel", "flops_per_element"):
            A.as_int(self, attr, getattr(self, attr), 0)
        for attr in self.FORMULAS:
            value = getattr(self, attr)
            if A.is_int(value):
                A.as_int(self, attr, value, 0)
                continue
            if not isinstance(value, str):
                raise SpecError(f"attribute {attr!r} must be a non-negative integer or a formula "
                                f"in C_in and C_out, received {value!r}", layer=self.name,
                                op="Custom")
            try:
                stored = formula.canonical(value)
                lowest = formula.evaluate(stored, 1, 1)
            except formula.FormulaError as exc:
                raise SpecError(f"attribute {attr!r}: {exc}", layer=self.name,
                                op="Custom") from None
            if isinstance(stored, int):
                A.as_int(self, attr, stored, 0)
            elif lowest < 0:
                raise SpecError(f"attribute {attr!r} = {value} is {lowest} at C_in = C_out = 1; "
                                "a count is never negative", layer=self.name, op="Custom")
            _set(self, attr, stored)
        if self.filters is not None:
            A.as_int(self, "filters", self.filters)
        _set(self, "padding", A.as_choice(self, "padding", self.padding, self.paddings))
        ranks = set()
        for attr in self.GEOMETRY:
            value = getattr(self, attr)
            if value is None and attr == "kernel_size":
                continue
            if isinstance(value, (list, tuple)) and 1 <= len(value) <= 3:
                value = A.as_tuple(self, attr, value, len(value))
                ranks.add(len(value))
            else:
                A.as_int(self, attr, value)
            _set(self, attr, value)
        if len(ranks) > 1:
            raise SpecError("kernel_size, strides and dilation_rate must give the same number "
                            "of spatial axes, received " + ", ".join(
                                f"{a} {list(getattr(self, a))}" for a in self.GEOMETRY
                                if isinstance(getattr(self, a), tuple)),
                            layer=self.name, op="Custom")

    @property
    def changes_shape(self) -> bool:
        """Whether a geometry (window or channels) is declared: else it keeps its input's shape."""
        return self.filters is not None or self.window_declared

    @property
    def window_declared(self) -> bool:
        """Whether a kernel, strides or dilation is declared (more than the channels)."""
        return self.kernel_size is not None or self.strides != 1 or self.dilation_rate != 1

    def geometry(self, rank: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """(kernel, strides, dilation) per spatial axis for an input of `rank` spatial axes
        (an integer applies to every axis; an undeclared kernel is 1); SpecError where a
        declared list has another length."""
        per_axis = []
        for attr in self.GEOMETRY:
            value = getattr(self, attr)
            value = 1 if value is None else value
            if isinstance(value, tuple) and len(value) != rank:
                raise SpecError(f"{attr} {list(value)} has {len(value)} axes, but the input has "
                                f"{rank} spatial axes", layer=self.name, op="Custom")
            per_axis.append(value if isinstance(value, tuple) else (value,) * rank)
        return per_axis[0], per_axis[1], per_axis[2]
