"""Inverse questions: which input sizes build, the largest size or batch within a budget, and
the cheapest settings that reach a receptive field.

Valid input sizes: the analysis in symbolic sizes (H, W, ...) gives every layer's output dims
and the merge conditions; each must hold (`derive.shape_checks`), and each involves one spatial
size, so every axis gets its own closed form (`periodic.SizeRule`): a minimum and, where strided
paths meet again (a U-Net's skip connections), a divisibility condition.

Budgets: MACs and the training-memory peak (convplan.analysis.memory) never decrease as the input
or the batch grows (every output length is a nondecreasing function of the input length, every
buffer a nondecreasing function of both), so the largest square size or batch within a budget is
found by exponential then binary search on the exact formula, a size then moved down to the
nearest valid one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy

from convplan.analysis import arith
from convplan.analysis.analyze import Analysis, analyze
from convplan.errors import UsageError, parameter_name
from convplan.explore.derive import keras_checks, shape_checks
from convplan.explore.periodic import NotPeriodic, SizeRule, solve_checks
from convplan.explore.run import SweepResult, run_sweep
from convplan.explore.sweep import Sweep
from convplan.explore.where import Condition
from convplan.ir.graph import Graph

MAX_SIZE = 1 << 24
SIDE = "side__"


@dataclass(frozen=True)
class Requirement:
    """One layer's condition on the input size, and the sizes it allows (None: not solved
    per axis, because it ties several sizes together or is not floor-linear)."""

    layer: str
    message: str
    formula: str
    kind: str  # "positive": formula >= 1; "zero": formula == 0
    rule: SizeRule | None


@dataclass(frozen=True)
class AxisSizes:
    symbol: str
    rule: SizeRule
    requirements: tuple[Requirement, ...]  # the binding ones


@dataclass(frozen=True)
class InputSizes:
    graph: str
    axes: tuple[AxisSizes, ...]
    other: tuple[Requirement, ...]  # conditions on several sizes at once
    formulas: tuple[tuple[sympy.Expr, str], ...]  # the checks on several sizes at once

    def accepts(self, sizes: Mapping[str, int]) -> bool:
        """Whether the network builds at these sizes (symbol name -> size)."""
        if any(not a.rule.contains(sizes[a.symbol]) for a in self.axes):
            return False
        for expr, kind in self.formulas:
            value = sympy.nsimplify(arith.substitute(expr, dict(sizes)))
            if not value.is_number:
                continue
            if (kind == "zero" and value != 0) or (kind == "positive" and not (
                    value.is_integer and value >= 1)):
                return False
        return True


def _formula(expr: sympy.Expr, kind: str) -> str:
    return f"{sympy.sstr(expr)} {'>= 1' if kind == 'positive' else '== 0'}"


def solve_input_sizes(graph: Graph) -> InputSizes:
    """Closed forms of the input sizes at which every layer builds."""
    analysis = analyze(graph, generalize=True)
    checks = keras_checks(graph, analysis) + shape_checks(graph, analysis)
    names = _spatial_symbols(graph, analysis)
    symbols = {name: arith.symbol(name) for name in names}
    per_axis: dict[str, list] = {name: [] for name in names}
    other: list[Requirement] = []
    for check in checks:
        free = [n for n in names if symbols[n] in sympy.sympify(check.formula).free_symbols]
        if len(free) == 1:
            per_axis[free[0]].append(check)
        elif free:
            other.append(Requirement(check.layer, check.message,
                                     _formula(check.formula, check.kind), check.kind, None))
    axes = []
    for name in names:
        sym, mine = symbols[name], per_axis[name]
        try:
            rule = solve_checks([(c.formula, c.kind) for c in mine], sym)
        except NotPeriodic as exc:
            raise UsageError(f"cannot solve for {name} in closed form: {exc}") from None
        requirements = []
        for c in mine:
            single = solve_checks([(c.formula, c.kind)], sym)
            if single != SizeRule(1, 1, (0,)):
                requirements.append(Requirement(c.layer, c.message, _formula(c.formula, c.kind),
                                                c.kind, single))
        axes.append(AxisSizes(name, rule, tuple(requirements)))
    coupled = tuple((sympy.sympify(c.formula), c.kind) for c in checks
                    if len([n for n in names if symbols[n] in
                            sympy.sympify(c.formula).free_symbols]) > 1)
    return InputSizes(graph.name, tuple(axes), tuple(other), coupled)


def _spatial_symbols(graph: Graph, analysis: Analysis) -> list[str]:
    """Names of the symbols standing for the inputs' spatial sizes, in input order."""
    names: list[str] = []
    for name in graph.inputs:
        shape = analysis.layer(name).output_shape
        if 1 <= len(shape) - 1 <= 3:
            for dim in shape[:-1]:
                for sym in sorted(getattr(dim, "free_symbols", ()), key=str):
                    if str(sym) not in names:
                        names.append(str(sym))
    return names


@dataclass(frozen=True)
class BudgetAnswer:
    """The largest input side (square) or batch whose metric fits the budget."""

    unknown: str  # "input size" | "batch"
    metric: str  # "macs" | "memory"
    budget: int
    answer: int | None  # None: nothing fits
    value: int | None  # the metric at the answer
    next_answer: int | None  # the next valid size or batch, which exceeds the budget
    next_value: int | None
    formula: str  # the metric as a formula in the unknown
    unbounded: bool = False  # the metric does not grow with the unknown
    # input size: each spatial axis is scale[i] * answer (the aspect ratio, (1, 1) square)
    scale: tuple[int, ...] = ()

    def sizes(self, side: int | None) -> tuple[int, ...] | None:
        """The spatial sizes at a side (answer or next_answer)."""
        return None if side is None else tuple(p * side for p in self.scale)


def _metric(analysis: Analysis, metric: str, batch: object, dtype: str, optimizer: str):
    if metric == "macs":
        return analysis.totals.macs * batch
    return analysis.training_memory(batch, dtype, optimizer).total


def default_aspect(graph: Graph) -> tuple[int, ...] | None:
    """The ratio of a single input's declared spatial sizes, reduced (384x640 -> (3, 5));
    None where it declares none (a (None, None, 3) input) or there are several inputs."""
    if len(graph.inputs) != 1:
        return None
    dims = graph[graph.inputs[0]].op.shape[:-1]
    if not dims or not all(isinstance(d, int) and d > 0 for d in dims):
        return None
    g = math.gcd(*dims)
    return tuple(d // g for d in dims)


def largest_input_size(graph: Graph, metric: str, budget: int, batch: int = 1,
                       dtype: str = "float32", optimizer: str = "adam",
                       aspect: Sequence[int] | None = None) -> BudgetAnswer:
    """The largest input that builds with the metric (MACs for the batch, or training memory)
    within `budget`, its spatial sizes in a fixed ratio: axis i is aspect[i] * S (`aspect`
    reduced by its gcd; default the input's declared ratio, else square), S a whole number,
    so the ratio is kept exactly."""
    sizes = solve_input_sizes(graph)
    if not sizes.axes:
        raise UsageError("the network has no spatial input size to solve for")
    given = aspect
    aspect = tuple(aspect) if aspect is not None else default_aspect(graph)
    if aspect is None or len(aspect) != len(sizes.axes):
        if given is not None:
            raise UsageError(f"--aspect {'x'.join(map(str, given))} has {len(given)} sizes, "
                             f"but the network's inputs have {len(sizes.axes)} spatial axes ("
                             + ", ".join(a.symbol for a in sizes.axes) + ")")
        aspect = (1,) * len(sizes.axes)
    g = math.gcd(*aspect)
    scale = tuple(p // g for p in aspect)
    analysis = analyze(graph, generalize=True)
    side = arith.symbol(SIDE)
    square = {arith.symbol(a.symbol): p * side for a, p in zip(sizes.axes, scale)}
    with sympy.evaluate(False):  # a memory peak is a max that sympy would compare term by term
        formula = sympy.sympify(_metric(analysis, metric, batch, dtype, optimizer)).xreplace(square)
    if formula.free_symbols - {side}:
        raise UsageError("the budget depends on sizes other than the input's spatial axes: "
                         + ", ".join(sorted(map(str, formula.free_symbols - {side}))))

    def value(s: int) -> int:
        return int(arith.substitute(formula, {SIDE: s}))

    def valid(s: int) -> bool:
        return sizes.accepts({a.symbol: p * s for a, p in zip(sizes.axes, scale)})

    def next_valid(s: int) -> int | None:
        for candidate in range(s + 1, MAX_SIZE):
            if valid(candidate):
                return candidate
        return None

    text = sympy.sstr(formula).replace(SIDE, "S")
    if any(p != 1 for p in scale):  # say what S is
        text += "  with " + ", ".join(f"{a.symbol} = {p}*S" for a, p in zip(sizes.axes, scale))
    first = next_valid(0)
    if first is None:
        return BudgetAnswer("input size", metric, budget, None, None, None, None, text,
                            scale=scale)
    if value(first) > budget:
        return BudgetAnswer("input size", metric, budget, None, None, first, value(first), text,
                            scale=scale)
    low, high = first, max(2 * first, 2)
    while value(high) <= budget:
        if high >= MAX_SIZE:
            return BudgetAnswer("input size", metric, budget, None, None, None, None, text,
                                unbounded=True, scale=scale)
        low, high = high, min(2 * high, MAX_SIZE)
    while high - low > 1:  # value(low) <= budget < value(high)
        middle = (low + high) // 2
        low, high = (middle, high) if value(middle) <= budget else (low, middle)
    best = low
    while not valid(best):
        best -= 1
    after = next_valid(best)
    return BudgetAnswer("input size", metric, budget, best, value(best), after,
                        None if after is None else value(after), text, scale=scale)


def largest_batch(graph: Graph, input_size: Sequence[int] | None, metric: str, budget: int,
                  dtype: str = "float32", optimizer: str = "adam") -> BudgetAnswer:
    """The largest batch B whose MACs (B x per example) or training-memory peak (persistent +
    the largest live set, a max of steps each fixed + B x per example) fit the budget at a given
    input size: exponential then binary search on the exact formula, which never decreases in
    B."""
    analysis = analyze(graph, input_size=input_size)
    if not analysis.is_concrete:
        raise UsageError("the input size is symbolic (" + ", ".join(analysis.symbols) + "); "
                         f"give {parameter_name('input_size')} to solve for the batch")
    b = arith.symbol("B")
    formula = _metric(analysis, metric, b, dtype, optimizer)
    text = sympy.sstr(formula)

    def value(n: int) -> int:
        return int(arith.substitute(formula, {"B": n}))

    if value(2) == value(1):
        return BudgetAnswer("batch", metric, budget, None, None, None, None, text,
                            unbounded=value(1) <= budget)
    if value(1) > budget:
        return BudgetAnswer("batch", metric, budget, None, None, 1, value(1), text)
    low, high = 1, 2
    while value(high) <= budget:
        low, high = high, 2 * high
    while high - low > 1:  # value(low) <= budget < value(high)
        middle = (low + high) // 2
        low, high = (middle, high) if value(middle) <= budget else (low, middle)
    return BudgetAnswer("batch", metric, budget, low, value(low), low + 1, value(low + 1), text)


def cheapest_for_field(sweep: Sweep, target: int, top: int = 5,
                       progress=None) -> SweepResult:
    """The `top` combinations with the fewest MACs whose receptive field is >= target."""
    if not sweep.has_rf:
        raise UsageError(f"{parameter_name('target_rf')}: no layer of this network has a "
                         "receptive field")
    return run_sweep(sweep, (Condition("rf", ">=", target),), sort=("macs", 1), limit=top,
                     progress=progress)
