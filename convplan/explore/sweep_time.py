"""A sweep's time column: the training step's time bounds on a device
(convplan.analysis.timing) as formulas in the sweep's numeric choices, evaluated on numpy.

    time       = lower bound = sum over layers of max(compute_s, memory_s) + optimizer_s
    time_upper = upper bound = sum over layers of (compute_s + memory_s) + optimizer_s

Times are seconds, so unlike the exact integer counts they are evaluated in float64
(`sympy.lambdify`): FLOPs and bytes below 2^53 are exact there, and a relative error of 1e-16
in a time bound is far below what the bound itself claims.

On a GPU or TPU the time model pads concrete channel and row counts to tiles and waves
(`timing.matrix_quantization`), which it does not do for symbolic ones; there the sweep
analyses each valid combination on its own (`concrete_time`), so at most
`MAX_CONCRETE_ROWS` combinations. A CPU entry pays no quantization and uses the formulas.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from convplan.analysis.analyze import Analysis
from convplan.analysis.timing import time_plan
from convplan.devices import Device
from convplan.ir.graph import Graph

# sympy's Max/Min of any number of arguments, elementwise over broadcast arrays (numpy's
# maximum takes two: a third would be its output array)
_NUMPY = [{"Max": lambda *a: functools.reduce(np.maximum, a),
           "Min": lambda *a: functools.reduce(np.minimum, a)}, "numpy"]


MAX_CONCRETE_ROWS = 20_000


def quantizes(device: Device) -> bool:
    """Whether the time model pads this device's matrix dimensions (GPU tiles and waves, TPU
    lanes), which only concrete sizes get."""
    return device.kind != "cpu"


def concrete_time(graph: Graph, input_size: tuple[int, ...] | None, device: Device,
                  dtype: str, batch: int, optimizer: str) -> tuple[float, float]:
    """(lower, upper) of one concrete combination's training step."""
    from convplan.analysis.analyze import analyze

    plan = time_plan(graph, analyze(graph, input_size=input_size), device, dtype, batch,
                     training=True, optimizer=optimizer)
    return float(plan.lower_s), float(plan.upper_s)


@dataclass(frozen=True)
class TimeFormula:
    """The training step's lower and upper bound as functions of the sweep's symbols."""

    symbols: tuple[sympy.Symbol, ...]
    lower: Any  # callable(*arrays) -> array or float
    upper: Any

    def evaluate(self, env: dict[sympy.Symbol, np.ndarray], n: int
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) seconds per row, float64, broadcast to `n` rows."""
        args = [np.asarray(env[s], dtype=np.float64) for s in self.symbols]
        return (np.broadcast_to(np.asarray(self.lower(*args), dtype=np.float64), (n,)).copy(),
                np.broadcast_to(np.asarray(self.upper(*args), dtype=np.float64), (n,)).copy())


def compile_time(graph: Graph, analysis: Analysis, device: Device, dtype: str, batch: int,
                 optimizer: str) -> TimeFormula:
    """The time bounds of one derivation's symbolic analysis, compiled for numpy."""
    plan = time_plan(graph, analysis, device, dtype, batch, training=True, optimizer=optimizer)
    lower, upper = sympy.sympify(plan.lower_s), sympy.sympify(plan.upper_s)
    symbols = tuple(sorted(lower.free_symbols | upper.free_symbols, key=str))
    return TimeFormula(symbols, sympy.lambdify(symbols, lower, _NUMPY),
                       sympy.lambdify(symbols, upper, _NUMPY))
