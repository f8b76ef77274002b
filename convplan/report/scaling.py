"""MACs and training memory as functions of the input size, evaluated from the formulas.

The symbolic totals are lambdified once (numpy) and evaluated over input sizes scaled from the
concrete one (every spatial symbol by the same factor, so a 28x56 input stays 1:2). A size is
kept only where every layer's output dimensions are positive and every merge's shape condition
holds, i.e. where TensorFlow would build the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from convplan.analysis import Analysis
from convplan.analysis.arith import Value, symbol
from convplan.errors import UsageError, parameter_name


@dataclass(frozen=True)
class Sweep:
    symbol: str  # the symbol on the x axis (the first spatial one)
    sizes: tuple[int, ...]
    macs: tuple[float, ...]  # for the batch
    memory: tuple[float, ...]  # training-memory peak in bytes for the batch (memory.py)
    reference: int  # the analysed size of `symbol`
    batch: int


def reference_sizes(concrete: Analysis, symbolic: Analysis) -> dict[str, int]:
    """{symbol: size} read off the inputs: where the symbolic analysis has a symbol, the
    concrete one has the size it was analysed at."""
    sizes: dict[str, int] = {}
    for sym_layer, layer in zip(symbolic.layers, concrete.layers):
        if sym_layer.op != "InputLayer":
            continue
        for sym_dim, dim in zip(sym_layer.output_shape, layer.output_shape):
            if not isinstance(sym_dim, int) and isinstance(dim, int):
                sizes[str(sym_dim)] = dim
    missing = [s for s in symbolic.symbols if s not in sizes]
    if missing:
        raise UsageError(f"the input size is symbolic ({', '.join(missing)}); give a size to "
                         "scale from", hint=f"{parameter_name('input_size')} 224x224")
    return sizes


def _lambdify(names: list[str], exprs: list[Value]):
    import sympy

    return sympy.lambdify([symbol(n) for n in names], exprs, modules="numpy")


def sweep_input_size(symbolic: Analysis, reference: dict[str, int], *, batch: int = 1,
                     dtype: str = "float32", optimizer: str = "adam", largest: float = 4.0,
                     points: int = 96) -> Sweep:
    """MACs and memory at sizes from 1 to `largest` x the reference, where the model is valid."""
    import numpy as np

    names = sorted(reference)
    if not names:
        raise UsageError("no input of this network has a spatial size; nothing scales with it")
    lead = names[0] if not any(n in ("H", "L") for n in names) else \
        next(n for n in names if n in ("H", "L"))
    ref = reference[lead]
    grid = np.linspace(1, max(2, round(largest * ref)), points).round()
    lead_sizes = np.unique(np.append(grid, ref))
    factors = lead_sizes / ref
    args = [np.maximum(1, np.round(reference[n] * factors)) for n in names]
    args[names.index(lead)] = lead_sizes

    memory = symbolic.training_memory(batch, dtype, optimizer).total
    dims = sorted({d for layer in symbolic.layers for d in layer.output_shape
                   if not isinstance(d, int)}, key=str)
    sides = [c.left - c.right for c in symbolic.conditions]
    funcs = _lambdify(names, [symbolic.totals.macs * batch, memory, *dims, *sides])
    values = [np.broadcast_to(np.asarray(v, dtype=float), lead_sizes.shape)
              for v in funcs(*args)]
    valid = np.ones(lead_sizes.shape, dtype=bool)
    for v in values[2:2 + len(dims)]:
        valid &= v > 0
    for v in values[2 + len(dims):]:
        valid &= v == 0
    if not valid.any():
        raise UsageError("no input size up to "
                         f"{int(lead_sizes[-1])} gives a valid model; nothing to plot")
    return Sweep(symbol=lead, sizes=tuple(int(s) for s in lead_sizes[valid]),
                 macs=tuple(float(v) for v in values[0][valid]),
                 memory=tuple(float(v) for v in values[1][valid]), reference=ref, batch=batch)
