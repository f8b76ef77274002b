"""Design-space sweeps: every combination of the `--vary` choices, evaluated in chunks.

Combinations are numbered in mixed radix: categorical settings vary slowest (one derivation
each, cached), numeric choices fastest. For a chunk of combination numbers the numeric values
are gathered into numpy arrays and the compiled formulas of the chunk's categorical setting run
on them (`derive.Derivation.program`), so the cost per combination is a few dozen integer
vector operations, and memory stays bounded by the chunk size however large the sweep: nothing
per layer is kept, only each combination's totals, receptive field, output shapes and validity.

Columns of a `Chunk` (one row per combination):
    index         combination number (int64)
    vary:<i>      index into the i-th vary's values
    valid, error  whether Keras would build it; else the code of the first failing check
                  (`Sweep.messages[code]`)
    params, trainable_params, macs, flops, activations   per example
    memory        training-memory peak at the sweep's batch, dtype and optimizer (bytes; tensor
                  lifetimes, the fused convention: convplan.analysis.memory)
    rf            receptive field of the network's deepest spatial layer, the smallest over the
                  spatial axes (absent when no layer has a field)
    output:<k>    the k-th network output's shape without the batch axis, shape (rows, rank)
    time, time_upper   with a device: the training step's lower and upper time bound in seconds
                  at the sweep's batch and dtype (float64; convplan.explore.sweep_time)
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from convplan.analysis.analyze import analyze
from convplan.analysis.receptive import NeedsConcreteValue
from convplan.errors import UsageError, parameter_name
from convplan.explore.choices import Vary, apply_categorical
from convplan.explore.derive import (
    TOTALS,
    Derivation,
    NeedsConcreteVary,
    derive,
    input_size_for,
    is_geometry,
    plain_number,
    receptive_field_value,
    vary_symbols,
)
from convplan.explore.vectorize import float_values, integer_values, is_integral
from convplan.ir.graph import Graph
from convplan.options import OPTIMIZER_SLOTS, dtype_bytes


def geometry_enumerated(vary: Vary) -> Vary:
    """The vary as a categorical one if it sets a window's geometry (kernel size, strides,
    dilation, pool size), which a rule needed as a number: the sweep derives each value."""
    if not is_geometry(vary):
        return vary
    return dataclasses.replace(vary, numeric=False)


METRICS = ("params", "trainable_params", "macs", "flops", "activations", "memory", "rf",
           "time", "time_upper")
CHUNK = 65_536
MAX_COMBINATIONS = 10**12
CACHE_SIZE = 256


@dataclass(frozen=True)
class SweepOptions:
    batch: int = 1
    dtype: str = "float32"
    optimizer: str = "adam"
    input_size: tuple[int, ...] | None = None
    chunk_size: int = CHUNK
    device: str | None = None  # a convplan.devices name: adds the time columns


@dataclass(frozen=True)
class Chunk:
    """Rows of the sweep as numpy columns (see the module docstring)."""

    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.columns["index"])

    def take(self, selector: np.ndarray) -> Chunk:
        return Chunk({k: v[selector] for k, v in self.columns.items()})

    @staticmethod
    def concat(chunks: Sequence[Chunk]) -> Chunk:
        chunks = [c for c in chunks if c is not None]
        keys = chunks[0].columns.keys()
        return Chunk({k: np.concatenate([c.columns[k] for c in chunks]) for k in keys})


class Sweep:
    """Every combination of `varies` on `graph`; iterate with `chunks()`."""

    def __init__(self, graph: Graph, varies: Sequence[Vary],
                 options: SweepOptions = SweepOptions()) -> None:
        if not varies:
            raise UsageError(f"nothing to sweep: give at least one {parameter_name('vary')} "
                             "LAYER.ATTRIBUTE=V1,V2")
        dtype_bytes(options.dtype)
        if options.optimizer not in OPTIMIZER_SLOTS:
            raise UsageError(f"unknown optimizer {options.optimizer!r}")
        self.graph = graph
        self.options = options
        self.device = None
        if options.device is not None:
            from convplan.devices import device

            self.device = device(options.device)
            self.device.peak_flops(options.dtype)  # a dtype the device lacks: one line, now
        self._setup_enumerating(tuple(varies))

    def _setup_enumerating(self, varies: tuple[Vary, ...]) -> None:
        """_setup, with the varies a rule needs as numbers made categorical (each value
        derived on its own): the window attributes where a receptive-field rule asks
        (NeedsConcreteValue), the varies a refusal names (NeedsConcreteVary). Each retry
        makes one vary or more categorical, so this ends."""
        geometry_done = False
        while True:
            try:
                self._setup(varies)
                return
            except NeedsConcreteValue:
                if geometry_done:
                    raise
                geometry_done = True
                varies = tuple(geometry_enumerated(v) for v in varies)
            except NeedsConcreteVary as exc:
                if not any(varies[i].numeric for i in exc.indices):
                    raise
                varies = tuple(dataclasses.replace(v, numeric=False) if i in exc.indices
                               else v for i, v in enumerate(varies))

    def _setup(self, varies: tuple[Vary, ...]) -> None:
        graph, options = self.graph, self.options
        self.varies = varies
        self.symbols = vary_symbols(self.varies)
        self.numeric = [i for i, v in enumerate(self.varies) if v.numeric]
        self.categorical = [i for i, v in enumerate(self.varies) if not v.numeric]
        self.numeric_count = math.prod(len(self.varies[i].values) for i in self.numeric)
        self.categorical_count = math.prod(len(self.varies[i].values) for i in self.categorical)
        self.total = self.numeric_count * self.categorical_count
        if self.total > MAX_COMBINATIONS:
            raise UsageError(f"{self.total:,} combinations; at most {MAX_COMBINATIONS:,} are "
                             "supported")
        self._check_time_rows()
        self.input_size = input_size_for(graph, self.varies, self.symbols, options.input_size)
        self.bounds = self._bounds()
        self.tables = {i: np.asarray(self.varies[i].components(), dtype=np.int64)
                       for i in self.numeric}
        self.messages: list[str] = [""]
        self._codes: dict[str, int] = {"": 0}
        self._cache: dict[tuple[int, ...], Derivation] = {}
        self.derivations = 0
        self.output_names = tuple(graph.outputs)
        self.output_ranks, self.has_rf = self._schema()

    def _bounds(self) -> dict[sympy.Symbol, tuple[int, int]]:
        bounds = {}
        for i in self.numeric:
            table = self.varies[i].components()
            for c, sym in enumerate(self.symbols[i]):
                column = [row[c] for row in table]
                bounds[sym] = (min(column), max(column))
        return bounds

    @property
    def has_time(self) -> bool:
        return self.device is not None

    def code(self, message: str) -> int:
        if message not in self._codes:
            self._codes[message] = len(self.messages)
            self.messages.append(message)
        return self._codes[message]

    # -- derivations ------------------------------------------------------------------
    def setting(self, digits: tuple[int, ...]) -> dict[tuple[str, str], Any]:
        assignment = {}
        for i, d in zip(self.categorical, digits):
            vary = self.varies[i]
            for layer in vary.layers:
                assignment[(layer, vary.attribute)] = vary.values[d]
        return assignment

    def derivation(self, digits: tuple[int, ...]) -> Derivation:
        """The compiled formulas of one categorical setting (cached)."""
        if digits not in self._cache:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[digits] = derive(self.graph, self.varies, self.symbols,
                                         self.setting(digits), self.input_size, self.bounds,
                                         (self.options.batch, self.options.dtype,
                                          self.options.optimizer), self.device)
            self.derivations += 1
        return self._cache[digits]

    def _schema(self) -> tuple[tuple[int, ...], bool]:
        """Output ranks and whether there is a receptive field: the same for every setting
        (no categorical choice changes a rank), read from the first setting that derives.
        The settings the cache holds are derived now, so a rule that needs a symbol as an
        integer in any of them (NeedsConcreteValue) is met before the first row."""
        ranges = [range(len(self.varies[i].values)) for i in self.categorical]
        schema = None
        for digits in itertools.islice(itertools.product(*ranges), CACHE_SIZE):
            deriv = self.derivation(tuple(digits))
            if deriv.error is None and schema is None:
                schema = deriv.output_ranks, deriv.has_rf
        return schema or ((), False)

    # -- evaluation -------------------------------------------------------------------
    def chunks(self, progress: Callable[[int], None] | None = None) -> Iterator[Chunk]:
        """All combinations, `options.chunk_size` at a time, in combination order."""
        size = self.options.chunk_size
        ranges = [range(len(self.varies[i].values)) for i in self.categorical]
        for c, digits in enumerate(itertools.product(*ranges)):
            deriv = self.derivation(tuple(digits))
            for start in range(0, self.numeric_count, size):
                stop = min(start + size, self.numeric_count)
                yield self._evaluate(deriv, digits, c * self.numeric_count, start, stop)
                if progress is not None:
                    progress(stop - start)

    def _numeric_digits(self, start: int, stop: int) -> dict[int, np.ndarray]:
        rest = np.arange(start, stop, dtype=np.int64)
        digits = {}
        for i in reversed(self.numeric):  # the last --vary changes fastest
            n = len(self.varies[i].values)
            digits[i] = rest % n
            rest = rest // n
        return digits

    def _evaluate(self, deriv: Derivation, cat_digits: Sequence[int], offset: int, start: int,
                  stop: int) -> Chunk:
        n = stop - start
        digits = self._numeric_digits(start, stop)
        cols: dict[str, np.ndarray] = {"index": np.arange(offset + start, offset + stop,
                                                          dtype=np.int64)}
        for i, d in zip(self.categorical, cat_digits):
            digits[i] = np.full(n, d, dtype=np.int64)
        for i in range(len(self.varies)):
            cols[f"vary:{i}"] = digits[i]
        if deriv.error is not None:
            return self._invalid(cols, n, deriv.error)
        env = {}
        for i in self.numeric:
            for c, sym in enumerate(self.symbols[i]):
                env[sym] = self.tables[i][:, c][digits[i]]
        results = deriv.program.run(env)
        pos = 0
        for name in TOTALS:
            cols[name] = integer_values(results[pos], n)
            pos += 1
        cols["memory"] = integer_values(results[pos], n)  # the training peak (memory.py)
        pos += 1
        if deriv.time is not None:
            cols["time"], cols["time_upper"] = deriv.time.evaluate(env, n)
        elif self.has_time:
            cols["time"], cols["time_upper"] = np.zeros(n), np.zeros(n)
        axes = []
        for count in deriv.field_counts:
            axes.append(self._field_axis(results[pos:pos + count], n))
            pos += count
        if deriv.rf_by_size is not None:
            size_vary = next(i for i, v in enumerate(self.varies) if v.is_input_size)
            cols["rf"] = np.asarray(deriv.rf_by_size)[digits[size_vary]]
        elif self.has_rf:
            cols["rf"] = np.minimum.reduce(axes) if len(axes) > 1 else axes[0]
        for k, rank in enumerate(deriv.output_ranks):
            dims = [integer_values(r, n) for r in results[pos:pos + rank]]
            cols[f"output:{k}"] = np.stack(dims, axis=1)
            pos += rank
        valid = np.ones(n, dtype=bool)
        error = np.zeros(n, dtype=np.int32)
        for check, result in zip(deriv.checks, results[pos:]):
            ok = self._holds(check.kind, result, n)
            error = np.where(valid & ~ok, self.code(f"{check.layer}: {check.message}"), error)
            valid &= ok
        cols["valid"], cols["error"] = valid, error
        if deriv.broadcasts:
            stretched = np.zeros(n, dtype=bool)
            for result in results[pos + len(deriv.checks):]:
                stretched |= integer_values(result, n) == 1
            rows = np.flatnonzero(stretched & valid)
            if len(rows):
                cols["rf"] = cols["rf"].astype(np.float64)
            for row in rows:
                cols["rf"][row] = self._concrete_rf(int(cols["index"][row]))
        if "rf" in cols:
            cols["rf"] = self._whole_fields(cols["rf"], valid)
        if self.has_time and deriv.time is None:
            for row in np.flatnonzero(valid):
                cols["time"][row], cols["time_upper"][row] = self._concrete_time(
                    int(cols["index"][row]))
        return Chunk(cols)

    def _check_time_rows(self) -> None:
        from convplan.explore.sweep_time import MAX_CONCRETE_ROWS, quantizes

        if self.device is not None and quantizes(self.device) and self.total > MAX_CONCRETE_ROWS:
            raise UsageError(
                f"{parameter_name('device')} {self.device.name}: the time model pads channel "
                f"and row counts to its tiles, which needs each combination analysed on its "
                f"own: at most {MAX_CONCRETE_ROWS:,} combinations, this sweep has "
                f"{self.total:,}", hint="fewer choices, or a cpu device (formulas)")

    def _concrete_time(self, index: int) -> tuple[float, float]:
        """The time bounds of one combination from a concrete analysis (a quantizing device)."""
        from convplan.explore.sweep_time import concrete_time

        assignment, size = self.combination(index)
        o = self.options
        return concrete_time(apply_categorical(self.graph, assignment), size, self.device,
                             o.dtype, o.batch, o.optimizer)

    def _concrete_rf(self, index: int) -> int | float:
        """The rf of one combination from a concrete analysis (where a merge broadcasts)."""
        assignment, size = self.combination(index)
        graph = apply_categorical(self.graph, assignment)
        return plain_number(receptive_field_value(graph, analyze(graph, input_size=size)))

    @staticmethod
    def _holds(kind: str, result: tuple[Any, Any], n: int) -> np.ndarray:
        num, den = result
        if kind == "zero":
            return np.broadcast_to(np.asarray(num) == 0, (n,)).copy()
        at_least_one = np.asarray(num >= (1 if den is None else den))
        return np.broadcast_to(at_least_one, (n,)) & is_integral(result, n)

    @staticmethod
    def _field_axis(results: Sequence[tuple[Any, Any]], n: int) -> np.ndarray:
        """The largest field size per row (float64 where a formula holds a fraction; see
        `_whole_fields`)."""
        if all(den is None for _, den in results):
            return np.maximum.reduce([integer_values(r, n) for r in results])
        return np.maximum.reduce([float_values(r, n) for r in results])

    @staticmethod
    def _whole_fields(rf: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """The rf column as int64 where every valid row's field is a whole number of pixels:
        a formula's fraction usually cancels (a stride s / 2 after an upsampling), and a
        float column printed 339.0. A fraction stays only where analyze's field is one too
        (an envelope of paths at different strides, periodic_field.union); the reports
        print whole floats as ints."""
        if rf.dtype.kind != "f" or not np.all(np.mod(rf[valid], 1) == 0):
            return rf
        return np.where(valid, rf, 0).astype(np.int64)

    def _invalid(self, cols: dict[str, np.ndarray], n: int, message: str) -> Chunk:
        for name in (*TOTALS, "memory"):
            cols[name] = np.zeros(n, dtype=np.int64)
        if self.has_time:
            cols["time"], cols["time_upper"] = np.zeros(n), np.zeros(n)
        if self.has_rf:
            cols["rf"] = np.zeros(n, dtype=np.int64)
        for k, rank in enumerate(self.output_ranks):
            cols[f"output:{k}"] = np.zeros((n, rank), dtype=np.int64)
        cols["valid"] = np.zeros(n, dtype=bool)
        cols["error"] = np.full(n, self.code(message), dtype=np.int32)
        return Chunk(cols)

    def combination(self, index: int) -> tuple[dict[tuple[str, str], Any],
                                               tuple[int, ...] | None]:
        """Combination `index` as concrete values: {(layer, attribute): value} and the input
        size (None: the spec's or --input-size), e.g. to rebuild it with `apply_categorical`."""
        digits: dict[int, int] = {}
        cat, num = divmod(index, self.numeric_count)
        for i in reversed(self.numeric):
            num, digits[i] = divmod(num, len(self.varies[i].values))
        for i in reversed(self.categorical):
            cat, digits[i] = divmod(cat, len(self.varies[i].values))
        assignment: dict[tuple[str, str], Any] = {}
        size = self.options.input_size
        for i, vary in enumerate(self.varies):
            value = vary.values[digits[i]]
            if vary.is_input_size:
                size = value if isinstance(value, tuple) else (value,) * len(self.input_size)
                continue
            for layer in vary.layers:
                assignment[(layer, vary.attribute)] = value
        return assignment, size

    def value(self, vary_index: int, digits: np.ndarray) -> np.ndarray:
        """The values of a vary with scalar values at the given indices."""
        vary = self.varies[vary_index]
        return np.asarray(vary.values, dtype=object)[digits]
