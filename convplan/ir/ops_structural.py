"""Shape-changing and structural ops: resizing and cropping to a target size, adaptive pooling,
axis permutations and repeats, embeddings, masking, and the keras.ops calls a Functional model
records as nodes of its own (`KerasOperation`: pad, split, reductions, expand_dims, squeeze).

keras.ops axes count the batch as axis 0, as Keras does; convplan plans one example, so an op
that would touch the batch axis (padding it, splitting or reducing over it) is refused.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from convplan.errors import SpecError, UnsupportedError
from convplan.ir import attrs as A
from convplan.ir.op_base import Op, _set, dataclass
from convplan.ir.ops_spatial import Merge

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic", "area")


def _batch_error(owner: Op, what: str) -> UnsupportedError:
    return UnsupportedError(f"{what} the batch axis; convplan plans layers that work within one "
                            "example", layer=owner.name, op=owner.op_type,
                            hint="count axes from 1 (the first axis after the batch) or from -1")


# ---------------------------------------------------------------- resizing and cropping


@dataclass(frozen=True, kw_only=True)
class Resizing(Op):
    """Keras Resizing: every image resized to (height, width), after a centred crop
    (crop_to_aspect_ratio) or a centred pad (pad_to_aspect_ratio) to the target's aspect
    ratio."""

    channelwise: ClassVar[bool] = True
    height: int = None  # type: ignore[assignment]
    width: int = None  # type: ignore[assignment]
    interpolation: str = "bilinear"
    crop_to_aspect_ratio: bool = False
    pad_to_aspect_ratio: bool = False
    fill_mode: str = "constant"
    fill_value: float = 0.0
    antialias: bool = False
    data_format: str | None = None
    spatial_rank: ClassVar[int] = 2
    required: ClassVar[tuple[str, ...]] = ("height", "width")
    interpolations: ClassVar[tuple[str, ...]] = RESIZE_INTERPOLATIONS
    # Keras's TF backend resizes with fill_mode 'constant' only.
    fill_modes: ClassVar[tuple[str, ...]] = ("constant",)

    def normalize(self) -> None:
        A.as_int(self, "height", self.height)
        A.as_int(self, "width", self.width)
        _set(self, "interpolation", A.as_choice(self, "interpolation", self.interpolation,
                                                self.interpolations))
        for attr in ("crop_to_aspect_ratio", "pad_to_aspect_ratio", "antialias"):
            A.as_bool(self, attr, getattr(self, attr))
        if self.crop_to_aspect_ratio and self.pad_to_aspect_ratio:
            raise SpecError("only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be "
                            "true", layer=self.name, op=self.op_type)
        _set(self, "fill_mode", A.as_choice(self, "fill_mode", self.fill_mode, self.fill_modes))
        _set(self, "fill_value", A.as_float(self, "fill_value", self.fill_value))
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))


@dataclass(frozen=True, kw_only=True)
class CenterCrop(Op):
    """Keras CenterCrop: the central (height, width) window where the input is at least that
    large on both axes (top = floor((H - height) / 2)); otherwise Keras resizes instead (the
    largest centred crop of the target's aspect ratio, resized bilinearly)."""

    channelwise: ClassVar[bool] = True
    height: int = None  # type: ignore[assignment]
    width: int = None  # type: ignore[assignment]
    data_format: str | None = None
    spatial_rank: ClassVar[int] = 2
    required: ClassVar[tuple[str, ...]] = ("height", "width")

    def normalize(self) -> None:
        A.as_int(self, "height", self.height)
        A.as_int(self, "width", self.width)
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))


@dataclass(frozen=True, kw_only=True)
class RandomCrop(Op):
    """Keras RandomCrop: in training a random (height, width) window (resized where the input
    is smaller); at inference Keras 3.15 passes the input through unchanged, although its
    output shape says (height, width). Modelled where the two agree, an input of the target's
    size (an identity); refused otherwise."""

    height: int = None  # type: ignore[assignment]
    width: int = None  # type: ignore[assignment]
    seed: int | None = None
    data_format: str | None = None
    spatial_rank: ClassVar[int] = 2
    required: ClassVar[tuple[str, ...]] = ("height", "width")

    def normalize(self) -> None:
        A.as_int(self, "height", self.height)
        A.as_int(self, "width", self.width)
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))


# ---------------------------------------------------------------- adaptive pooling


@dataclass(frozen=True, kw_only=True)
class AdaptivePooling(Op):
    """Pools each spatial axis of length n into `output_size` bins; bin i covers input
    positions floor(i * n / o) to ceil((i + 1) * n / o) - 1 (PyTorch's adaptive pooling)."""

    channelwise: ClassVar[bool] = True
    output_size: Any = None
    data_format: str | None = None
    required: ClassVar[tuple[str, ...]] = ("output_size",)

    def normalize(self) -> None:
        _set(self, "output_size", A.as_tuple(self, "output_size", self.output_size, self.rank()))
        _set(self, "data_format", A.as_data_format(self, "data_format", self.data_format))


@dataclass(frozen=True, kw_only=True)
class AdaptiveAveragePooling1D(AdaptivePooling):
    """Keras AdaptiveAveragePooling1D: the mean of each bin."""

    spatial_rank: ClassVar[int] = 1


@dataclass(frozen=True, kw_only=True)
class AdaptiveAveragePooling2D(AdaptivePooling):
    """Keras AdaptiveAveragePooling2D: the mean of each bin."""

    spatial_rank: ClassVar[int] = 2


@dataclass(frozen=True, kw_only=True)
class AdaptiveAveragePooling3D(AdaptivePooling):
    """Keras AdaptiveAveragePooling3D: the mean of each bin."""

    spatial_rank: ClassVar[int] = 3


@dataclass(frozen=True, kw_only=True)
class AdaptiveMaxPooling1D(AdaptivePooling):
    """Keras AdaptiveMaxPooling1D: the maximum of each bin."""

    spatial_rank: ClassVar[int] = 1


@dataclass(frozen=True, kw_only=True)
class AdaptiveMaxPooling2D(AdaptivePooling):
    """Keras AdaptiveMaxPooling2D: the maximum of each bin."""

    spatial_rank: ClassVar[int] = 2


@dataclass(frozen=True, kw_only=True)
class AdaptiveMaxPooling3D(AdaptivePooling):
    """Keras AdaptiveMaxPooling3D: the maximum of each bin."""

    spatial_rank: ClassVar[int] = 3


# ---------------------------------------------------------------- axes, repeats, lookups


@dataclass(frozen=True, kw_only=True)
class Permute(Op):
    """Keras Permute: output axis i is input axis dims[i] (axes counted from 1, batch kept)."""

    dims: Any = None
    required: ClassVar[tuple[str, ...]] = ("dims",)

    def normalize(self) -> None:
        dims = self.dims
        if (not isinstance(dims, (list, tuple)) or not dims
                or not all(A.is_int(d) for d in dims)
                or sorted(dims) != list(range(1, len(dims) + 1))):
            raise SpecError(f"attribute 'dims' must be a permutation of 1..n (the non-batch "
                            f"axes), received {dims!r}", layer=self.name, op=self.op_type)
        _set(self, "dims", tuple(dims))


@dataclass(frozen=True, kw_only=True)
class RepeatVector(Op):
    """Keras RepeatVector: a (features,) vector repeated n times -> (n, features)."""

    n: int = None  # type: ignore[assignment]
    required: ClassVar[tuple[str, ...]] = ("n",)

    def normalize(self) -> None:
        A.as_int(self, "n", self.n)


@dataclass(frozen=True, kw_only=True)
class Embedding(Op):
    """Keras Embedding: each integer index of the input looked up in an (input_dim,
    output_dim) table; output shape = input shape + (output_dim,)."""

    input_dim: int = None  # type: ignore[assignment]
    output_dim: int = None  # type: ignore[assignment]
    mask_zero: bool = False
    has_weights: ClassVar[bool] = True
    required: ClassVar[tuple[str, ...]] = ("input_dim", "output_dim")

    def normalize(self) -> None:
        A.as_int(self, "input_dim", self.input_dim)
        A.as_int(self, "output_dim", self.output_dim)
        A.as_bool(self, "mask_zero", self.mask_zero)


@dataclass(frozen=True, kw_only=True)
class Masking(Op):
    """Keras Masking: the input, with positions whose every feature equals mask_value set to
    zero (and masked for the layers after it)."""

    mask_value: float = 0.0

    def normalize(self) -> None:
        _set(self, "mask_value", A.as_float(self, "mask_value", self.mask_value))


@dataclass(frozen=True, kw_only=True)
class EinsumDense(Op):
    """Keras EinsumDense: keras.ops.einsum(equation, x, kernel) (+ bias over `bias_axes`),
    the equation `in,kernel->out` with `...` before or after the input's letters (Keras's
    three forms); the kernel's lengths come from the input and `output_shape` (the output
    without the batch, None where the input gives it)."""

    equation: str = None  # type: ignore[assignment]
    output_shape: Any = None
    activation: str | None = None
    bias_axes: str | None = None
    has_weights: ClassVar[bool] = True
    has_kernel: ClassVar[bool] = True
    required: ClassVar[tuple[str, ...]] = ("equation", "output_shape")

    def normalize(self) -> None:
        if not isinstance(self.equation, str) or not EINSUM_FORMS.fullmatch(
                self.equation.replace("...", "0")):
            raise SpecError("attribute 'equation' must be an einsum equation of the form "
                            f"ab,bc->ac, ...b,bc->...c or ab...,bc->ac..., received "
                            f"{self.equation!r}", layer=self.name, op=self.op_type)
        shape = self.output_shape
        shape = [shape] if A.is_int(shape) else shape
        if (not isinstance(shape, (list, tuple))
                or not all(d is None or (A.is_int(d) and d >= 1) for d in shape)):
            raise SpecError(f"attribute 'output_shape' must be a length or a list of lengths "
                            f"(None where the input gives it), received {self.output_shape!r}",
                            layer=self.name, op=self.op_type)
        _set(self, "output_shape", tuple(shape))
        _set(self, "activation", A.as_activation(self, "activation", self.activation))
        if self.bias_axes is not None and not (isinstance(self.bias_axes, str)
                                               and self.bias_axes.isalpha()):
            raise SpecError(f"attribute 'bias_axes' must be letters of the output, received "
                            f"{self.bias_axes!r}", layer=self.name, op=self.op_type)


EINSUM_FORMS = re.compile(r"[a-zA-Z]+,[a-zA-Z]+->[a-zA-Z]+|0[a-zA-Z]+,[a-zA-Z]+->0[a-zA-Z]+"
                          r"|[a-zA-Z]{2,}0,[a-zA-Z]+->[a-zA-Z]+0")


@dataclass(frozen=True, kw_only=True)
class Dot(Merge):
    """Keras Dot: the dot product of two inputs along `axes` (one axis of each, counted with
    the batch as 0, as Keras does), as keras.ops batch_dot: output = the first input's axes
    without its contracted one, then the second's; (1,) where nothing is left. `normalize`
    divides each input by its L2 norm along the axis first (cosine similarity)."""

    axes: Any = None
    normalize: bool = False  # type: ignore[assignment]  # Keras's name; shadows Op.normalize()
    min_inputs: ClassVar[int] = 2
    max_inputs: ClassVar[int | None] = 2
    required: ClassVar[tuple[str, ...]] = ("axes",)

    def __post_init__(self) -> None:
        # `normalize` is a Keras attribute here, so Op.normalize() cannot run under that name
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"every layer needs a non-empty string name, received {self.name!r}")
        if self.axes is None:
            raise SpecError("missing required attribute 'axes'", layer=self.name, op="Dot")
        A.as_bool(self, "trainable", self.trainable)
        A.as_bool(self, "normalize", self.normalize)
        axes = self.axes
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2 or not all(A.is_int(a) for a in axes):
                raise SpecError(f"attribute 'axes' must be an integer or two, received "
                                f"{axes!r}", layer=self.name, op="Dot")
            axes = tuple(axes)
        elif not A.is_int(axes):
            raise SpecError(f"attribute 'axes' must be an integer or two, received {axes!r}",
                            layer=self.name, op="Dot")
        if 0 in (axes if isinstance(axes, tuple) else (axes,)):
            raise _batch_error(self, "axes 0 contracts")
        _set(self, "axes", axes)


# ---------------------------------------------------------------- keras.ops calls


@dataclass(frozen=True, kw_only=True)
class KerasOperation(Op):
    """A keras.ops call recorded in a Functional model (no keras.layers class): rebuilt as
    `keras.ops.<keras_function>(x, **arguments)`. Axes count the batch as 0, as in Keras."""

    keras_function: ClassVar[str] = ""


PAD_MODES = ("constant", "edge", "linear_ramp", "maximum", "mean", "median", "minimum",
             "reflect", "symmetric", "wrap", "empty", "circular")


@dataclass(frozen=True, kw_only=True)
class Pad(KerasOperation):
    """keras.ops.pad: pad_width[i] = (before, after) values added on axis i (the batch row
    first, which must be (0, 0)); mode 'constant' fills with constant_values (0 by default,
    -inf before a max pooling in keras-hub's ResNet v2)."""

    pad_width: Any = None
    mode: str = "constant"
    constant_values: float | None = None
    keras_function: ClassVar[str] = "pad"
    required: ClassVar[tuple[str, ...]] = ("pad_width",)
    modes: ClassVar[tuple[str, ...]] = PAD_MODES

    def normalize(self) -> None:
        rows = self.pad_width
        if (not isinstance(rows, (list, tuple)) or len(rows) < 2
                or not all(isinstance(r, (list, tuple)) and len(r) in (1, 2)
                           and all(A.is_int(v) and v >= 0 for v in r) for r in rows)):
            raise SpecError("attribute 'pad_width' must hold one [before, after] pair of "
                            "non-negative integers per axis, the batch axis first, received "
                            f"{rows!r}", layer=self.name, op=self.op_type)
        pairs = tuple((r[0], r[-1]) for r in rows)
        if pairs[0] != (0, 0):
            raise _batch_error(self, f"pad_width {list(pairs[0])} pads")
        _set(self, "pad_width", pairs)
        _set(self, "mode", A.as_choice(self, "mode", self.mode, self.modes))
        if self.constant_values is not None:
            if self.mode != "constant":
                raise SpecError("constant_values is only allowed with mode 'constant'",
                                layer=self.name, op=self.op_type)
            value = self.constant_values
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise SpecError(f"attribute 'constant_values' must be a number (or -inf/inf), "
                                f"received {value!r}", layer=self.name, op=self.op_type)
            _set(self, "constant_values", float(value))


@dataclass(frozen=True, kw_only=True)
class Split(KerasOperation):
    """One output of keras.ops.split: `indices_or_sections` n cuts `axis` into n equal parts,
    a list of indices cuts it before each; `index` says which part this node is (Keras's one
    node with several outputs becomes one convplan node per output)."""

    indices_or_sections: Any = None
    axis: int = None  # type: ignore[assignment]  # Keras's default 0, the batch, is refused
    index: int = 0
    keras_function: ClassVar[str] = "split"
    required: ClassVar[tuple[str, ...]] = ("indices_or_sections", "axis")

    def normalize(self) -> None:
        value = self.indices_or_sections
        if A.is_int(value):
            A.as_int(self, "indices_or_sections", value)
            parts = value
        elif isinstance(value, (list, tuple)) and all(A.is_int(v) and v >= 0 for v in value):
            _set(self, "indices_or_sections", tuple(value))
            parts = len(value) + 1
        else:
            raise SpecError("attribute 'indices_or_sections' must be a number of equal parts or "
                            f"a list of split indices, received {value!r}", layer=self.name,
                            op=self.op_type)
        if not A.is_int(self.axis):
            raise SpecError(f"attribute 'axis' must be an integer, received {self.axis!r}",
                            layer=self.name, op=self.op_type)
        if self.axis == 0:
            raise _batch_error(self, "axis 0 splits")
        A.as_int(self, "index", self.index, 0)
        if self.index >= parts:
            raise SpecError(f"attribute 'index' must be below the {parts} parts of the split, "
                            f"received {self.index}", layer=self.name, op=self.op_type)

    @property
    def parts(self) -> int:
        value = self.indices_or_sections
        return value if isinstance(value, int) else len(value) + 1


def _axes(owner: Op, value: Any, what: str) -> tuple[int, ...]:
    """An axis or a list of axes, none of them the batch axis 0."""
    axes = (value,) if A.is_int(value) else value
    if value is None:
        raise _batch_error(owner, f"axis None {what} every axis, including")
    if not isinstance(axes, (list, tuple)) or not axes or not all(A.is_int(a) for a in axes):
        raise SpecError(f"attribute 'axis' must be an integer or a list of integers, received "
                        f"{value!r}", layer=owner.name, op=owner.op_type)
    if 0 in axes:
        raise _batch_error(owner, f"axis 0 {what}")
    return tuple(axes)


@dataclass(frozen=True, kw_only=True)
class Reduction(KerasOperation):
    """keras.ops.mean / sum / max / min over `axis` (an int or a list), keeping the reduced
    axes as 1s with keepdims."""

    axis: Any = None  # Keras's default, every axis with the batch, is refused
    keepdims: bool = False
    required: ClassVar[tuple[str, ...]] = ("axis",)

    def normalize(self) -> None:
        _set(self, "axis", _axes(self, self.axis, "reduces"))
        A.as_bool(self, "keepdims", self.keepdims)


@dataclass(frozen=True, kw_only=True)
class Mean(Reduction):
    """keras.ops.mean: the mean over `axis`."""

    keras_function: ClassVar[str] = "mean"


@dataclass(frozen=True, kw_only=True)
class Sum(Reduction):
    """keras.ops.sum: the sum over `axis`."""

    keras_function: ClassVar[str] = "sum"


@dataclass(frozen=True, kw_only=True)
class Max(Reduction):
    """keras.ops.max: the maximum over `axis`."""

    keras_function: ClassVar[str] = "max"


@dataclass(frozen=True, kw_only=True)
class Min(Reduction):
    """keras.ops.min: the minimum over `axis`."""

    keras_function: ClassVar[str] = "min"


@dataclass(frozen=True, kw_only=True)
class ExpandDims(KerasOperation):
    """keras.ops.expand_dims: a new axis of length 1 at `axis` (of the output)."""

    axis: int = None  # type: ignore[assignment]
    keras_function: ClassVar[str] = "expand_dims"
    required: ClassVar[tuple[str, ...]] = ("axis",)

    def normalize(self) -> None:
        if not A.is_int(self.axis):
            raise SpecError(f"attribute 'axis' must be an integer, received {self.axis!r}",
                            layer=self.name, op=self.op_type)
        if self.axis == 0:
            raise _batch_error(self, "axis 0 adds an axis before")


@dataclass(frozen=True, kw_only=True)
class Squeeze(KerasOperation):
    """keras.ops.squeeze: the axes of length 1 in `axis` removed."""

    axis: Any = None  # Keras's default, every axis of length 1 with the batch, is refused
    keras_function: ClassVar[str] = "squeeze"
    required: ClassVar[tuple[str, ...]] = ("axis",)

    def normalize(self) -> None:
        _set(self, "axis", _axes(self, self.axis, "squeezes"))
