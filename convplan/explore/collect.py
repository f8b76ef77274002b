"""Bounded-memory collectors over the chunks of a sweep: the Pareto front, the best N by a
metric, the first N, and a uniform sample (the background of a plot).

Pareto: a row dominates another when it is at least as good on every objective and better on
one; the front is every row no other row dominates (rows with identical objective values are
all kept). Objectives are compared as float64, exact for integers below 2^53.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from convplan.explore.sweep import Chunk

BLOCK = 512


def _front_of_unique(unique: np.ndarray) -> np.ndarray:
    """Which of these distinct, lexicographically sorted rows no other row dominates
    (all objectives minimized). A dominating row sorts before the row it dominates."""
    count, k = unique.shape
    if k == 1:
        return np.arange(count) == 0
    if k == 2:
        # sorted by the first objective: row i is dominated iff an earlier row has a second
        # objective <= its own (earlier rows are <= on the first, and rows are distinct)
        earlier = np.minimum.accumulate(unique[:, 1])
        keep = np.ones(count, dtype=bool)
        keep[1:] = unique[1:, 1] < earlier[:-1]
        return keep
    keep = np.zeros(count, dtype=bool)
    kept = unique[:0]
    for start in range(0, count, BLOCK):
        block = unique[start:start + BLOCK]
        dominated = np.zeros(len(block), dtype=bool)
        for k0 in range(0, len(kept), BLOCK):
            other = kept[k0:k0 + BLOCK]
            dominated |= np.all(other[None, :, :] <= block[:, None, :], axis=2).any(axis=1)
        inside = np.all(block[None, :, :] <= block[:, None, :], axis=2)
        np.fill_diagonal(inside, False)
        dominated |= inside.any(axis=1)
        keep[start:start + len(block)] = ~dominated
        kept = np.concatenate([kept, block[~dominated]])
    return keep


def nondominated(matrix: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows on the Pareto front of `matrix` (every column minimized)."""
    count = len(matrix)
    if count == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort(matrix.T[::-1])  # by the first column, then the next, ...
    ranked = matrix[order]
    first = np.ones(count, dtype=bool)  # first row of each run of identical rows
    first[1:] = np.any(ranked[1:] != ranked[:-1], axis=1)
    keep = _front_of_unique(ranked[first])[np.cumsum(first) - 1]
    mask = np.empty(count, dtype=bool)
    mask[order] = keep
    return mask


class ParetoFront:
    """The front over `objectives` [(column, +1 minimize | -1 maximize)], chunk by chunk."""

    def __init__(self, objectives: Sequence[tuple[str, int]]) -> None:
        self.objectives = tuple(objectives)
        self.rows: Chunk | None = None

    def matrix(self, chunk: Chunk) -> np.ndarray:
        return np.stack([sign * chunk.columns[name].astype(np.float64)
                         for name, sign in self.objectives], axis=1)

    def add(self, chunk: Chunk) -> None:
        if len(chunk) == 0:
            return
        chunk = chunk.take(nondominated(self.matrix(chunk)))
        merged = chunk if self.rows is None else Chunk.concat([self.rows, chunk])
        self.rows = merged.take(nondominated(self.matrix(merged)))

    def result(self) -> Chunk | None:
        """The front, sorted by the objectives in order."""
        if self.rows is None:
            return None
        m = self.matrix(self.rows)
        order = np.lexsort([self.rows.columns["index"], *[m[:, i] for i in
                                                           reversed(range(m.shape[1]))]])
        return self.rows.take(order)


class BestRows:
    """The `limit` best rows by one column (ties: lower combination number first)."""

    def __init__(self, name: str, sign: int, limit: int) -> None:
        self.name, self.sign, self.limit = name, sign, limit
        self.rows: Chunk | None = None

    def _order(self, chunk: Chunk) -> np.ndarray:
        key = self.sign * chunk.columns[self.name].astype(np.float64)
        return np.lexsort([chunk.columns["index"], key])

    def add(self, chunk: Chunk) -> None:
        if len(chunk) == 0:
            return
        if len(chunk) > self.limit:
            key = self.sign * chunk.columns[self.name].astype(np.float64)
            cut = np.partition(key, self.limit - 1)[self.limit - 1]
            chunk = chunk.take(key <= cut)
        merged = chunk if self.rows is None else Chunk.concat([self.rows, chunk])
        self.rows = merged.take(self._order(merged)[:self.limit])

    def result(self) -> Chunk | None:
        return self.rows


class FirstRows:
    """The first `limit` rows in combination order."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[Chunk] = []
        self.count = 0

    def add(self, chunk: Chunk) -> None:
        if self.count < self.limit and len(chunk):
            part = chunk.take(slice(0, self.limit - self.count))
            self.parts.append(part)
            self.count += len(part)

    def result(self) -> Chunk | None:
        return Chunk.concat(self.parts) if self.parts else None


class Sample:
    """A uniform random sample of at most `size` rows (bottom-k of random keys), seeded."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.rows: Chunk | None = None
        self.keys = np.zeros(0)

    def add(self, chunk: Chunk) -> None:
        if len(chunk) == 0 or self.size == 0:
            return
        keys = self.rng.random(len(chunk))
        merged = chunk if self.rows is None else Chunk.concat([self.rows, chunk])
        keys = np.concatenate([self.keys, keys])
        keep = np.argsort(keys, kind="stable")[:self.size]
        self.rows, self.keys = merged.take(keep), keys[keep]

    def result(self) -> Chunk | None:
        return self.rows
