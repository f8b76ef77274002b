"""What an ONNX value is while the reader walks the graph: a computed tensor (a convplan
layer, with how its ONNX axes map onto convplan's channels-last ones) or a constant (an
initializer or a folded Shape/Gather/Concat chain: dims always, values only where small).

ONNX is channels-first (N, C, H, W); convplan is channels-last with the batch left out
(H, W, C). A tensor keeps `axes`: axes[i] is convplan's index of ONNX axis i + 1, so an image
is (2, 0, 1) and a Transpose to NHWC only changes the map (0, 1, 2), no layer added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Constants with more elements than this keep their dims only (weights are never read).
MAX_CONSTANT_VALUES = 4096


class _Batch:
    """The batch length in a folded shape (Shape of a tensor gives it first)."""

    def __repr__(self) -> str:
        return "batch"


BATCH = _Batch()


@dataclass(frozen=True)
class Tensor:
    """A computed ONNX value: convplan layer `layer`, ONNX axis i + 1 at convplan axis axes[i]."""

    layer: str
    axes: tuple[int, ...]

    @property
    def rank(self) -> int:
        """ONNX rank, the batch included."""
        return len(self.axes) + 1


@dataclass(frozen=True)
class Const:
    """A constant: `dims` always; `values` (a numpy array, object dtype where it holds the
    batch or sympy sizes) where it is small enough to read; `learned`: an initializer (a
    weight, which counts as parameters where an op takes it as one)."""

    name: str
    dims: tuple[int, ...]
    values: Any = None
    learned: bool = False

    @property
    def size(self) -> int:
        n = 1
        for d in self.dims:
            n *= d
        return n


def channels_first_axes(rank: int) -> tuple[int, ...]:
    """The map of an ONNX (N, C, spatial...) tensor of ONNX rank `rank`: C is convplan's last."""
    return (rank - 2, *range(rank - 2))


def identity_axes(rank: int) -> tuple[int, ...]:
    return tuple(range(rank - 1))


def permute_dims(current: tuple[int, ...], target: tuple[int, ...]) -> tuple[int, ...]:
    """Keras Permute `dims` (1-based) taking a tensor laid out by `current` to `target`:
    output axis target[a] reads input axis current[a]."""
    dims = [0] * len(current)
    for now, wanted in zip(current, target):
        dims[wanted] = now + 1
    return tuple(dims)
