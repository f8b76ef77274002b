"""Normalizations, activations, dropout and noise, Dense and reshaping (Flatten, Reshape,
Rescaling, Normalization)."""

from __future__ import annotations

from typing import Any, ClassVar

from convplan.errors import SpecError
from convplan.ir import attrs as A
from convplan.ir.op_base import Op, _set, dataclass

# ---------------------------------------------------------------- normalization & activations


@dataclass(frozen=True, kw_only=True)
class BatchNormalization(Op):
    """Normalizes each channel with batch statistics (moving ones at inference), then scales and shifts."""

    keeps_mask: ClassVar[bool] = True
    has_weights: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    channelwise: ClassVar[bool] = True
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

    keeps_mask: ClassVar[bool] = True
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
class GroupNormalization(Op):
    """Normalizes each example over its spatial axes and `groups` groups of channels (`axis`),
    then scales and shifts each channel; groups -1 means one group per channel (instance
    normalization). Keras's build: the axis's size must be a multiple of groups, and >= it."""

    keeps_mask: ClassVar[bool] = True
    has_weights: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    groups: int = 32
    axis: int = -1
    epsilon: float = 0.001
    center: bool = True
    scale: bool = True

    def normalize(self) -> None:
        if self.groups != -1:
            A.as_int(self, "groups", self.groups)
        A.as_axis(self, "axis", self.axis)
        A.as_float(self, "epsilon", self.epsilon, 0.0)
        A.as_bool(self, "center", self.center)
        A.as_bool(self, "scale", self.scale)


@dataclass(frozen=True, kw_only=True)
class UnitNormalization(Op):
    """x / sqrt(sum(x ** 2)) along `axis` (Keras adds epsilon 1e-12); no weights."""

    keeps_mask: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    axis: int = -1

    def normalize(self) -> None:
        A.as_axis(self, "axis", self.axis)


@dataclass(frozen=True, kw_only=True)
class RMSNormalization(Op):
    """x * rsqrt(mean(x ** 2 along `axis`) + epsilon) * scale, one trainable scale per
    feature of `axis`."""

    has_weights: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    axis: int = -1
    epsilon: float = 1e-06

    def normalize(self) -> None:
        A.as_axis(self, "axis", self.axis)
        A.as_float(self, "epsilon", self.epsilon, 0.0)


@dataclass(frozen=True, kw_only=True)
class Activation(Op):
    """Applies a named activation elementwise."""

    keeps_mask: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    channelwise: ClassVar[bool] = True
    activation: str = None  # type: ignore[assignment]
    required: ClassVar[tuple[str, ...]] = ("activation",)

    def normalize(self) -> None:
        act = A.as_activation(self, "activation", self.activation)
        _set(self, "activation", act or "linear")


@dataclass(frozen=True, kw_only=True)
class ReLU(Op):
    """max(x, 0), with an optional negative slope, threshold and cap (ReLU6)."""

    keeps_mask: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    channelwise: ClassVar[bool] = True
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

    keeps_mask: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    channelwise: ClassVar[bool] = True
    negative_slope: float = 0.3

    def normalize(self) -> None:
        A.as_float(self, "negative_slope", self.negative_slope, 0.0)


@dataclass(frozen=True, kw_only=True)
class ELU(Op):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    keeps_mask: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    channelwise: ClassVar[bool] = True
    alpha: float = 1.0

    def normalize(self) -> None:
        A.as_float(self, "alpha", self.alpha)


@dataclass(frozen=True, kw_only=True)
class PReLU(Op):
    """max(x, 0) + alpha * min(x, 0) with a learned alpha of the input's shape (batch
    excluded), of size 1 along each of `shared_axes` (Keras axes: 1 is the first after the
    batch; Keras indexes the shape with axis - 1, so 0 and negative axes count from the end)."""

    keeps_mask: ClassVar[bool] = True
    has_weights: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    channelwise: ClassVar[bool] = True
    shared_axes: tuple[int, ...] | None = None

    def normalize(self) -> None:
        axes: Any = self.shared_axes
        if axes is None:
            return
        if A.is_int(axes):
            axes = (axes,)
        if not isinstance(axes, (list, tuple)) or not all(A.is_int(a) for a in axes):
            raise SpecError(f"attribute 'shared_axes' must be null, an integer or a list of "
                            f"integers, received {self.shared_axes!r}", layer=self.name,
                            op="PReLU")
        _set(self, "shared_axes", tuple(int(a) for a in axes))


@dataclass(frozen=True, kw_only=True)
class Softmax(Op):
    """exp(x) / sum(exp(x)) along `axis`."""

    keeps_mask: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    axis: int = -1

    def normalize(self) -> None:
        A.as_axis(self, "axis", self.axis)


@dataclass(frozen=True, kw_only=True)
class Dropout(Op):
    """Zeroes a `rate` fraction of the elements in training; the identity at inference."""

    keeps_mask: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    channelwise: ClassVar[bool] = True
    rate: float = None  # type: ignore[assignment]
    required: ClassVar[tuple[str, ...]] = ("rate",)

    def normalize(self) -> None:
        A.as_float(self, "rate", self.rate, 0.0, 1.0)


@dataclass(frozen=True, kw_only=True)
class GaussianDropout(Dropout):
    """Multiplies by noise of mean 1 and stddev sqrt(rate / (1 - rate)) in training; the
    identity at inference."""


@dataclass(frozen=True, kw_only=True)
class AlphaDropout(Dropout):
    """Dropout that keeps SELU's mean and variance in training; the identity at inference."""


@dataclass(frozen=True, kw_only=True)
class GaussianNoise(Op):
    """Adds noise of stddev `stddev` (Keras: 0 to 1) in training; the identity at inference."""

    keeps_mask: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    channelwise: ClassVar[bool] = True
    stddev: float = None  # type: ignore[assignment]
    required: ClassVar[tuple[str, ...]] = ("stddev",)

    def normalize(self) -> None:
        A.as_float(self, "stddev", self.stddev, 0.0, 1.0)


@dataclass(frozen=True, kw_only=True)
class ActivityRegularization(Op):
    """The identity; in training it adds l1 * sum|x| + l2 * sum(x ** 2) to the loss."""

    keeps_mask: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    channelwise: ClassVar[bool] = True
    l1: float = 0.0
    l2: float = 0.0

    def normalize(self) -> None:
        A.as_float(self, "l1", self.l1, 0.0)
        A.as_float(self, "l2", self.l2, 0.0)


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
    data_format: str | None = None

    def normalize(self) -> None:
        super().normalize()
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))


@dataclass(frozen=True, kw_only=True)
class SpatialDropout3D(SpatialDropout):
    """Keras SpatialDropout3D."""

    spatial_rank: ClassVar[int] = 3
    data_format: str | None = None

    def normalize(self) -> None:
        super().normalize()
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))


# ---------------------------------------------------------------- dense & reshaping


@dataclass(frozen=True, kw_only=True)
class Dense(Op):
    """A matrix product over the last axis (each leading position separately), plus bias."""

    keeps_mask: ClassVar[bool] = True
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

    keeps_mask: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    channelwise: ClassVar[bool] = True
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

    keeps_mask: ClassVar[bool] = True
    has_weights: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    channelwise: ClassVar[bool] = True
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
