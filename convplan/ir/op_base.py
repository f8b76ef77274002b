"""The base of every op: `Op` (name, traits, attribute normalization) and `Window`."""

from __future__ import annotations

import dataclasses
import inspect
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from convplan.errors import SpecError
from convplan.ir import attrs as A

Dim = Any  # int, or a symbol name (str), or None in an Input shape before symbols are made

_C = TypeVar("_C", bound=type)

if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass
else:
    def dataclass(cls=None, /, **options):
        """`dataclasses.dataclass`, faster for the op classes' `frozen=True, kw_only=True`.

        dataclasses writes six methods per class as source text and compiles each (`exec`):
        for the op modules' 130 classes that was 0.25 s of every `convplan` start. Here the
        frozen ones share `Op`'s generic `__init__`, `__repr__`, `__eq__`, `__hash__`,
        `__setattr__` and `__delattr__` (below), which read each class's fields once, and
        nothing is compiled; dataclasses still collects the fields (so `dataclasses.fields`,
        `replace` and real dataclass subclasses work). Other options: dataclasses itself.
        tests/ir/test_op_dataclass.py compares every op class with the plain dataclass."""
        if options != {"frozen": True, "kw_only": True}:
            return dataclasses.dataclass(cls, **options) if cls else dataclasses.dataclass(**options)
        return _frozen_op_class(cls) if cls else _frozen_op_class


@dataclasses.dataclass(frozen=True)
class _Frozen:
    """Only its `__dataclass_params__` is used: what a frozen dataclass says it is."""


def _frozen_op_class(cls: _C) -> _C:
    """`Op` or a subclass as a frozen keyword-only dataclass with Op's generic methods.

    dataclasses collects the class's own fields from a stand-in class without bases (built
    unfrozen, so nothing is compiled, and with no frozen base to refuse that); the class gets
    its bases' fields and then its own, as dataclasses orders them, each field's default as
    its class attribute, and the parameters of a frozen dataclass, so a real dataclass may
    subclass it."""
    own = cls.__dict__.get("__annotations__", {})
    namespace = {name: cls.__dict__[name] for name in own if name in cls.__dict__}
    stand_in = type(cls.__name__, (), {"__annotations__": own, "__module__": cls.__module__,
                                       "__qualname__": cls.__qualname__,
                                       "__doc__": "stand-in", **namespace})
    dataclasses.dataclass(stand_in, init=False, repr=False, eq=False, kw_only=True,
                          match_args=False)
    fields: dict[str, dataclasses.Field[Any]] = {}
    for base in cls.__mro__[-1:0:-1]:
        fields.update(getattr(base, "__dataclass_fields__", {}))
    made: Any = cls  # dataclasses' attributes, which mypy does not know on a type
    for name, f in cast(Any, stand_in).__dataclass_fields__.items():
        fields[name] = f
        if name in stand_in.__dict__:
            setattr(made, name, stand_in.__dict__[name])  # a field(default=...) -> the default
        elif name in cls.__dict__:
            delattr(made, name)  # a field() without a default
    made.__dataclass_fields__ = fields
    made.__dataclass_params__ = cast(Any, _Frozen).__dataclass_params__
    if "__match_args__" not in cls.__dict__:
        type.__setattr__(cls, "__match_args__", ())  # every field keyword-only
    if not cls.__doc__:
        made.__doc__ = cls.__name__ + _init_signature(cls)
    return cls


def _init_signature(cls: type) -> str:
    """The text dataclasses puts in a class's missing docstring: its __init__'s signature."""
    parameters = [inspect.Parameter(
        f.name, inspect.Parameter.KEYWORD_ONLY, annotation=f.type,
        default=inspect.Parameter.empty if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING else (
            f.default if f.default is not dataclasses.MISSING else "<factory>"))
        for f in dataclasses.fields(cls) if f.init]
    return str(inspect.Signature(parameters))


def _set(op: Op, attr: str, value: Any) -> None:
    object.__setattr__(op, attr, value)


class _Layout:
    """What Op's generic methods need of one class, read from its dataclass fields once."""

    def __init__(self, cls: type) -> None:
        fields = dataclasses.fields(cls)
        self.init = [(f.name, f.default, f.default_factory) for f in fields if f.init]
        self.names = frozenset(name for name, _, _ in self.init)
        self.repr = [f.name for f in fields if f.repr]
        compare = [f.name for f in fields if f.compare]
        hashed = [f.name for f in fields if (f.compare if f.hash is None else f.hash)]
        self.compare = _tuple_getter(compare)
        self.hash = _tuple_getter(hashed)
        self.qualname = cls.__qualname__


def _tuple_getter(names: list[str]) -> Callable[[Any], tuple[Any, ...]]:
    if len(names) >= 2:
        return cast(Callable[[Any], tuple[Any, ...]], operator.attrgetter(*names))
    return lambda obj: tuple(getattr(obj, name) for name in names)


_LAYOUTS: dict[type, _Layout] = {}


def _layout(cls: type) -> _Layout:
    layout = _LAYOUTS.get(cls)
    if layout is None:
        layout = _LAYOUTS[cls] = _Layout(cls)
    return layout


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
    # output channel c is computed from input channel c alone (positions may move: pooling,
    # padding, resampling; an Activation's softmax-like functions do mix: receptive.keeps_channels)
    channelwise: ClassVar[bool] = False
    # its Keras layer passes its input's mask on (supports_masking, the default compute_mask):
    # convplan.analysis.masks
    keeps_mask: ClassVar[bool] = False
    # integer attributes a sweep may turn into symbols (the symbolic rules accept them)
    sweepable: ClassVar[tuple[str, ...]] = ()

    if not TYPE_CHECKING:
        # The methods dataclasses would write for each frozen op class, once for all of them
        # (see `dataclass` above): the same arguments, errors, text, equality and hash.
        def __init__(self, *args, **kwargs):
            layout = _layout(type(self))
            if args:
                raise TypeError(f"{layout.qualname}.__init__() takes 1 positional argument but "
                                f"{len(args) + 1} were given")
            given, missing = 0, []
            for name, default, factory in layout.init:
                if name in kwargs:
                    value = kwargs[name]
                    given += 1
                elif default is not dataclasses.MISSING:
                    value = default
                elif factory is not dataclasses.MISSING:
                    value = factory()
                else:
                    missing.append(name)
                    continue
                object.__setattr__(self, name, value)
            if given != len(kwargs) or missing:
                _init_error(layout, kwargs, missing)
            self.__post_init__()

        def __repr__(self):
            layout = _layout(type(self))
            inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in layout.repr)
            return f"{layout.qualname}({inner})"

        def __eq__(self, other):
            if other.__class__ is self.__class__:
                compare = _layout(type(self)).compare
                return compare(self) == compare(other)
            return NotImplemented

        def __hash__(self):
            return hash(_layout(type(self)).hash(self))

        def __setattr__(self, name, value):
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

        def __delattr__(self, name):
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

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


def _init_error(layout: _Layout, kwargs: dict[str, Any], missing: list[str]) -> None:
    """The TypeError Python raises for a dataclass __init__'s keyword arguments."""
    unexpected = [name for name in kwargs if name not in layout.names]
    if unexpected:
        raise TypeError(f"{layout.qualname}.__init__() got an unexpected keyword argument "
                        f"{unexpected[0]!r}")
    names = [repr(name) for name in missing]
    listed = names[0] if len(names) == 1 else (
        " and ".join(names) if len(names) == 2 else ", ".join(names[:-1]) + ", and " + names[-1])
    plural = "argument" if len(names) == 1 else "arguments"
    raise TypeError(f"{layout.qualname}.__init__() missing {len(names)} required keyword-only "
                    f"{plural}: {listed}")


@dataclasses.dataclass(frozen=True)
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
