"""Normalizers for op attributes: each takes the raw value a user wrote and returns the
canonical form the IR stores (Keras's own normalization: an int kernel becomes a tuple per
spatial axis), or raises a SpecError naming the layer, the attribute and what was expected.
"""

from __future__ import annotations

from typing import Any

from convplan.errors import SpecError, UnsupportedError

# Keras activation names convplan models (their FLOPs: convplan.analysis.counts.ACTIVATION_FLOPS).
ACTIVATIONS: tuple[str, ...] = (
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish", "sigmoid",
    "hard_sigmoid", "hard_silu", "hard_swish", "tanh", "softplus", "softsign", "exponential",
    "mish", "softmax", "log_softmax", "celu", "hard_shrink", "hard_tanh", "log_sigmoid",
    "soft_shrink", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "tanh_shrink",
)

# Keras activation names convplan refuses, and why (measured on Keras 3.15 / TF 2.21).
UNMODELLED_ACTIVATIONS: dict[str, str] = {
    "glu": "it halves the last axis when run, while Keras's symbolic shape keeps it",
    "threshold": "keras.activations.threshold needs arguments an activation name cannot pass, "
                 "so the layer fails when run",
}



def _fail(owner: Any, attr: str, expected: str, value: Any) -> SpecError:
    return SpecError(
        f"attribute {attr!r} must be {expected}, received {value!r}",
        layer=owner.name,
        op=type(owner).__name__,
    )


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def as_int(owner: Any, attr: str, value: Any, minimum: int = 1) -> int:
    if not is_int(value) or value < minimum:
        raise _fail(owner, attr, f"an integer >= {minimum}", value)
    return int(value)


def as_float(owner: Any, attr: str, value: Any, low: float | None = None,
             high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise _fail(owner, attr, "a number", value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise _fail(owner, attr, f"a number in [{low}, {high}]", value)
    return float(value)


def as_bool(owner: Any, attr: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(owner, attr, "true or false", value)
    return value


def as_tuple(owner: Any, attr: str, value: Any, rank: int, minimum: int = 1) -> tuple[int, ...]:
    """An int, or a list of `rank` ints, each >= minimum -> tuple of `rank` ints."""
    if is_int(value):
        value = (value,) * rank
    if (
        not isinstance(value, (list, tuple))
        or len(value) != rank
        or not all(is_int(v) and v >= minimum for v in value)
    ):
        expected = f"an integer >= {minimum}" + (f" or a list of {rank} such integers" if rank > 1 else "")
        raise _fail(owner, attr, expected, value)
    return tuple(value)


def as_pairs(owner: Any, attr: str, value: Any, rank: int) -> tuple[tuple[int, int], ...]:
    """ZeroPadding/Cropping amounts: int, `rank` ints (symmetric), or `rank` pairs -> pairs."""
    if is_int(value):
        value = (value,) * rank
    if rank == 1 and isinstance(value, (list, tuple)) and len(value) == 2 and all(map(is_int, value)):
        value = (tuple(value),)
    pairs: list[tuple[int, int]] = []
    if isinstance(value, (list, tuple)) and len(value) == rank:
        for item in value:
            if is_int(item):
                item = (item, item)
            if not (isinstance(item, (list, tuple)) and len(item) == 2
                    and all(is_int(v) and v >= 0 for v in item)):
                break
            pairs.append((item[0], item[1]))
    if len(pairs) != rank:
        raise _fail(owner, attr, f"a non-negative integer, {rank} integers or {rank} pairs", value)
    return tuple(pairs)


Padding = str | tuple[tuple[int, int], ...]  # a Keras word, or (before, after) per spatial axis


def as_padding(owner: Any, attr: str, value: Any, choices: tuple[str, ...], rank: int) -> Padding:
    """A window's padding: one of Keras's words (`choices`), or explicit per-side amounts as
    PyTorch and ONNX give them (an int, one per axis, or a (before, after) pair per axis, as
    ZeroPadding's `padding`) -> the word, or a tuple of (before, after) pairs."""
    if isinstance(value, str):
        return as_choice(owner, attr, value, choices)
    if isinstance(value, (int, list, tuple)) and not isinstance(value, bool):
        try:
            return as_pairs(owner, attr, value, rank)
        except SpecError:
            pass
    words = ", ".join(repr(c) for c in choices)
    raise _fail(owner, attr, f"one of {words}, or explicit (before, after) amounts per "
                f"spatial axis ({rank} pairs of non-negative integers)", value)


def is_explicit(padding: Padding) -> bool:
    """Explicit per-side amounts (PyTorch/ONNX semantics), not a Keras word."""
    return not isinstance(padding, str)


def as_choice(owner: Any, attr: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value.lower() not in choices:
        raise _fail(owner, attr, "one of " + ", ".join(repr(c) for c in choices), value)
    return value.lower()


def as_activation(owner: Any, attr: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value in UNMODELLED_ACTIVATIONS:
        raise UnsupportedError(f"activation {value!r} is not modelled: "
                               f"{UNMODELLED_ACTIVATIONS[value]}", layer=owner.name,
                               op=type(owner).__name__)
    if not isinstance(value, str) or value not in ACTIVATIONS:
        raise _fail(owner, attr, "a Keras activation name (" + ", ".join(ACTIVATIONS) + ")", value)
    return None if value == "linear" else value


def as_data_format(owner: Any, attr: str, value: Any) -> str | None:
    """channels_last (or null) -> None, Keras's default; channels_first is refused."""
    if value in (None, "channels_last"):
        return None
    if value == "channels_first":
        raise UnsupportedError(
            "data_format 'channels_first' is not supported; convplan plans channels_last models "
            "(TensorFlow's CPU kernels need channels_last too)",
            layer=owner.name, op=type(owner).__name__, hint="data_format: channels_last",
        )
    raise _fail(owner, attr, "'channels_last'", value)


def as_axis(owner: Any, attr: str, value: Any) -> int:
    if not is_int(value) or value == 0:
        raise _fail(owner, attr, "a non-batch axis (a non-zero integer, -1 for channels)", value)
    return int(value)
