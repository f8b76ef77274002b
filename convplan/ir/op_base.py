"""The base of every op: `Op` (name, traits, attribute normalization) and `Window`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from convplan.errors import SpecError
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
    """A sliding window per spatial axis: kernel (pool) size, stride, dilation, padding (a
    Keras word, or explicit (before, after) amounts per axis)."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: A.Padding


_NO_DEFAULT = object()


def _canonical_default(op: Op, f: dataclasses.Field[Any]) -> Any:
    """The attribute's value had it been left out; _NO_DEFAULT where leaving it out is invalid
    (output_padding 1 needs strides > 1, so strides cannot fall back to 1)."""
    try:
        probe = dataclasses.replace(op, **cast(dict[str, Any], {f.name: f.default}))
    except SpecError:
        return _NO_DEFAULT
    return getattr(probe, f.name)
