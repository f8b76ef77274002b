"""One symbolic derivation per categorical setting, compiled for vectorized evaluation.

The numeric choices of a sweep become sympy symbols in the ops (a Conv2D whose strides are
`(s, s)`), the ordinary analysis rules run once on that graph, and the formulas the sweep needs
(totals, receptive field, output shapes, and the conditions under which Keras builds the layer)
are compiled into one exact integer program (`vectorize.compile_formulas`).

Validity of a combination, as `Check`s:
- positive: every layer's output dims are whole numbers >= 1 (an empty 'valid' window, a crop
  that eats the input, a reshape that does not divide);
- zero: merges whose input shapes agree only for some values (Concatenate: equal; Add and the
  other elementwise merges: equal or one of them 1, as Keras broadcasts), and Keras's own
  rejections for the numeric attributes (Conv strides > 1 together with dilation > 1, filters or
  input channels not divisible by groups).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sympy

from convplan.analysis import arith
from convplan.analysis.analyze import Analysis, analyze
from convplan.analysis.counts import BILINEAR_FLOPS_PER_ELEMENT
from convplan.analysis.periodic_field import Field
from convplan.analysis.receptive import (
    NeedsConcreteValue,
    counted_inputs,
    mixes_spatial_axis,
    undecided_broadcast,
)
from convplan.analysis.shapes import AXIS_WORDS
from convplan.errors import ConvplanError, NeedsKnownSize, UsageError, parameter_name
from convplan.explore.choices import Vary, apply_categorical
from convplan.explore.vectorize import Program, compile_formulas
from convplan.ir import ops as O
from convplan.ir.graph import Graph

TOTALS = ("params", "trainable_params", "macs", "flops", "activations")


@dataclass(frozen=True)
class Check:
    """A combination is valid where `formula` is a whole number >= 1 (positive) or 0 (zero)."""

    layer: str
    message: str
    formula: Any
    kind: str  # "positive" | "zero"


@dataclass(frozen=True)
class Derivation:
    """The compiled formulas of one categorical setting, or why the setting cannot build."""

    error: str | None
    analysis: Analysis | None = None
    program: Program | None = None
    checks: tuple[Check, ...] = ()
    output_ranks: tuple[int, ...] = ()  # dims per network output, in program order
    field_counts: tuple[int, ...] = ()  # per spatial axis: how many receptive-field formulas
    # Where fields depend on the input size (Analysis.size_dependent_fields, no formula): the
    # receptive field per value of the input-size vary, from concrete analyses (0: invalid).
    rf_by_size: tuple[int | float, ...] | None = None
    broadcasts: int = 0  # formulas after the checks: 1 where a merge stretches an input
    time: Any = None  # sweep_time.TimeFormula where the sweep has a --device

    @property
    def has_rf(self) -> bool:
        return bool(self.field_counts) or self.rf_by_size is not None


# Channel counts never reach a receptive field; the other numeric attributes may.
CHANNEL_ATTRIBUTES = ("filters", "units", "depth_multiplier")


def is_geometry(vary: Vary) -> bool:
    """A numeric vary of a window's geometry (kernel size, strides, dilation, pool size)."""
    return vary.numeric and not vary.is_input_size and vary.attribute not in CHANNEL_ATTRIBUTES


def vary_symbols(varies: Sequence[Vary]) -> list[tuple[sympy.Symbol, ...]]:
    """One positive-integer symbol per component of each numeric vary (None for categorical)."""
    out: list[tuple[sympy.Symbol, ...]] = []
    for i, vary in enumerate(varies):
        out.append(tuple(arith.symbol(f"v{i}_{c}") for c in range(vary.width))
                   if vary.numeric else ())
    return out


def _axis_values(op: O.Op, attr: str, syms: tuple[sympy.Symbol, ...]) -> Any:
    if attr in ("filters", "units", "depth_multiplier"):
        return syms[0]
    return syms if len(syms) > 1 else syms * op.spatial_rank


def symbolize(graph: Graph, varies: Sequence[Vary],
              symbols: Sequence[tuple[sympy.Symbol, ...]]) -> Graph:
    """A copy of the graph whose numeric varied attributes are symbols.

    The ops are copied without re-running their validation (`Op.with_symbols`: it wants ints);
    the Keras rules that validation enforces for these attributes become `Check`s instead
    (`keras_checks`).
    A pooling layer whose strides equal its pool size follows a varied pool size, as Keras's
    default strides=None does."""
    per_layer: dict[str, dict[str, Any]] = {}
    for vary, syms in zip(varies, symbols):
        if not vary.numeric or vary.is_input_size:
            continue
        for name in vary.layers:
            per_layer.setdefault(name, {})[vary.attribute] = syms
    out = Graph(graph.name)
    out.source, out.checks = graph.source, graph.checks
    for name, node in graph.nodes.items():
        op = node.op
        if name in per_layer:
            changes = {attr: _axis_values(op, attr, syms) for attr, syms in per_layer[name].items()}
            if isinstance(op, O.Pooling) and "pool_size" in changes and "strides" not in changes \
                    and op.strides == op.pool_size:
                changes["strides"] = changes["pool_size"]
            op = op.with_symbols(**changes)
        out.add(op, node.inputs, line=node.line, suppress=node.suppress)
    out.set_outputs(graph.outputs)
    return out


def input_size_for(graph: Graph, varies: Sequence[Vary], symbols: Sequence[tuple],
                   given: tuple[int, ...] | None) -> tuple[Any, ...] | None:
    """The `input_size` argument of analyze: the input-size vary's symbols, or `given`."""
    for vary, syms in zip(varies, symbols):
        if vary.is_input_size:
            if len(syms) > 1:
                return syms
            ranks = {len(graph[n].op.shape) - 1 for n in graph.inputs} & {1, 2, 3}
            if len(ranks) != 1:
                raise UsageError(f"{parameter_name('vary')} {vary.label}: the inputs have "
                                 "different spatial ranks; give per-axis sizes such as 224x224")
            return syms * ranks.pop()
    return given


def _field_frontier(graph: Graph, analysis: Analysis) -> list[Field]:
    """Fields of layers none of whose consumers has a field. Receptive-field sizes never
    shrink along a path, so the network's largest field is among these."""
    fields = {r.name: r.receptive_field for r in analysis.layers}
    users: dict[str, list[str]] = {name: [] for name in fields}
    for r in analysis.layers:
        for i in r.inputs:
            users[i].append(r.name)
    frontier = []
    for name, field in fields.items():
        if field is None or isinstance(graph[name].op, O.InputLayer):
            continue
        if name in analysis.outputs or all(fields[u] is None for u in users[name]):
            frontier.append(field)
    return frontier


def keras_checks(graph: Graph, analysis: Analysis) -> list[Check]:
    """Keras's constructor and build rules for attributes that may be symbols here."""
    checks = []
    shapes = {r.name: r.output_shape for r in analysis.layers}
    for name, node in graph.nodes.items():
        op = node.op
        if isinstance(op, O.Depthwise):
            checks += _depthwise_checks(name, op)
        if not isinstance(op, O.Conv):
            continue
        strides, dilation = tuple(op.strides), tuple(op.dilation_rate)
        if not all(map(arith.is_concrete, strides + dilation)):
            checks.append(Check(name, "strides > 1 together with dilation_rate > 1 is rejected "
                                "by Keras", (sympy.Max(*strides) - 1) * (sympy.Max(*dilation) - 1),
                                "zero"))
        if op.groups > 1:
            if not arith.is_concrete(op.filters):
                checks.append(Check(name, f"filters must be divisible by groups {op.groups}",
                                    sympy.Mod(op.filters, op.groups), "zero"))
            cin = shapes[node.inputs[0]][-1]
            if not arith.is_concrete(cin):
                checks.append(Check(name, f"input channels must be divisible by groups "
                                    f"{op.groups}", sympy.Mod(cin, op.groups), "zero"))
    return checks


def _depthwise_checks(name: str, op: O.Depthwise) -> list[Check]:
    """TF's 2-D depthwise kernel (SeparableConv2D's too) refuses unequal row and column
    strides unless a dilation > 1 makes Keras run stride 1 and subsample (ops.Depthwise):
    zero where (s_rows - s_cols) * [max dilation == 1] is, with the bracket
    Max(0, 2 - max dilation) for dilations >= 1."""
    strides, dilation = tuple(op.strides), tuple(op.dilation_rate)
    if op.spatial_rank != 2 or all(map(arith.is_concrete, strides + dilation)):
        return []
    formula = (strides[0] - strides[1]) * sympy.Max(0, 2 - sympy.Max(*dilation))
    if sympy.sympify(formula) == 0:
        return []
    return [Check(name, "strides that differ between rows and columns need a dilation_rate > 1 "
                  "(TensorFlow's depthwise convolution cannot run them)", formula, "zero")]


def _dim_word(op: O.Op, shape: tuple, axis: int) -> str:
    rank = op.spatial_rank
    if rank and len(shape) == rank + 1:
        return AXIS_WORDS[rank][axis] if axis < rank else "channels"
    return f"dimension {axis + 1}"


def _implied(dim: Any, checked: set[Any]) -> bool:
    """Known to be a whole number >= 1: a positive integer by the symbols' assumptions, or a
    product of such factors and checked dims. Positive alone is not enough: a Reshape's
    v * (floor(12 / s) + 1) / 3 is positive and often a fraction."""
    if _whole_and_positive(dim):
        return True
    if isinstance(dim, sympy.Mul):
        return all(_whole_and_positive(f) or f in checked
                   or (isinstance(f, sympy.Pow) and f.base in checked and f.exp.is_positive)
                   for f in dim.args)
    return False


def _whole_and_positive(value: Any) -> bool:
    value = sympy.sympify(value)
    return bool(value.is_positive and value.is_integer)


def shape_checks(graph: Graph, analysis: Analysis) -> list[Check]:
    """Every symbolic output dim a whole number >= 1; merge conditions (see module doc)."""
    checks = []
    seen: set[Any] = set()
    for r in analysis.layers:
        op = graph[r.name].op
        if isinstance(op, O.InputLayer):
            continue
        for axis, dim in enumerate(r.output_shape):
            if arith.is_concrete(dim) or dim in seen or _implied(dim, seen):
                continue
            seen.add(dim)
            failure = "below 1" if sympy.sympify(dim).is_integer else "below 1 or a fraction"
            checks.append(Check(r.name, f"output {_dim_word(op, r.output_shape, axis)} would be "
                                + failure, dim, "positive"))
    for c in analysis.conditions:
        left, right = sympy.sympify(c.left), sympy.sympify(c.right)
        if isinstance(graph[c.layer].op, O.Concatenate):
            checks.append(Check(c.layer, f"inputs differ on axis {c.axis + 1}", left - right,
                                "zero"))
        else:
            checks.append(Check(c.layer, f"inputs differ on axis {c.axis + 1} (and neither is "
                                "1)", (left - right) * (left - 1) * (right - 1), "zero"))
    return checks


class NeedsConcreteVary(Exception):
    """A symbolic derivation was refused because of a swept value's symbol (GroupNormalization
    needs its channel count known, and the swept filters are a symbol): the sweep derives
    those varies value by value instead (`indices`, into the varies)."""

    def __init__(self, indices: Sequence[int], message: str) -> None:
        super().__init__(message)
        self.indices = tuple(indices)


def _varies_in(value: Any, symbols: Sequence[tuple[sympy.Symbol, ...]]) -> list[int]:
    """The varies whose symbols occur in a formula (none in a number)."""
    free = getattr(value, "free_symbols", set())
    return [i for i, syms in enumerate(symbols) if any(s in free for s in syms)]


def derive(graph: Graph, varies: Sequence[Vary], symbols: Sequence[tuple[sympy.Symbol, ...]],
           assignment: Mapping[tuple[str, str], Any], input_size: tuple[Any, ...] | None,
           bounds: Mapping[sympy.Symbol, tuple[int, int]],
           memory: tuple[int, str, str] = (1, "float32", "adam"),
           device: Any = None) -> Derivation:
    """Analyze the graph once for a categorical `assignment` with the numeric varies as
    symbols; compile totals, the training-memory peak at `memory` = (batch, dtype, optimizer),
    receptive fields, output shapes and checks. Raises
    NeedsConcreteValue where a receptive field needs the window attributes as numbers (the
    sweep then enumerates them)."""
    try:
        concrete = apply_categorical(graph, dict(assignment))
        symbolic = symbolize(concrete, varies, symbols)
        # the rows that do broadcast are found by broadcast_indicators, analyzed concretely
        analysis = analyze(symbolic, input_size=input_size, assume_no_broadcast=True)
    except ConvplanError as exc:
        if isinstance(exc, UsageError):
            raise
        if isinstance(exc, NeedsKnownSize):  # a rule needs a swept value as a number
            named = _varies_in(exc.value, symbols)
            if named and not any(varies[i].is_input_size for i in named):
                raise NeedsConcreteVary(named, str(exc)) from None
        return Derivation(error=str(exc))
    checks = tuple(keras_checks(symbolic, analysis) + shape_checks(symbolic, analysis))
    unknown = {str(s) for s in analysis.symbols} - {str(s) for syms in symbols for s in syms}
    if unknown:
        raise UsageError("the input size is symbolic (" + ", ".join(sorted(unknown)) + "); give "
                         f"{parameter_name('input_size')} or {parameter_name('vary')} "
                         "input.size=...")
    if any(is_geometry(v) for v in varies) and stride_dependent_merges(symbolic, analysis):
        raise NeedsConcreteValue("a merge's inputs see the input at strides that are equal for "
                                 "some values only")
    rf_by_size = None
    if analysis.size_dependent_fields:
        if any(is_geometry(v) for v in varies):  # the field may depend on them: enumerate
            raise NeedsConcreteValue("receptive fields after resampling need window attributes "
                                     "as numbers")
        rf_by_size, fields = _fields_by_size(symbolic, varies, len(input_size)), []
    else:
        fields = _frontier_sizes(symbolic, analysis)
    outputs = [analysis.layer(n).output_shape for n in analysis.outputs]
    resizes = _center_crop_resizes(symbolic, analysis)
    # rows where a merge stretches an input or a CenterCrop resizes: their field is analyzed
    # concretely
    stretched = (broadcast_indicators(symbolic, analysis) + [short for short, _ in resizes]
                 if fields else [])
    resize_flops = sum((BILINEAR_FLOPS_PER_ELEMENT * elements * short
                        for short, elements in resizes), sympy.Integer(0))
    formulas = ([getattr(analysis.totals, t) + (resize_flops if t == "flops" else 0)
                 for t in TOTALS]
                + [analysis.training_memory(*memory).total]
                + [size for axis in fields for size in axis]
                + [d for shape in outputs for d in shape]
                + [c.formula for c in checks] + stretched)
    program = compile_formulas(formulas, bounds)
    time = None
    if device is not None:  # the training step's time bounds at `memory`'s batch and dtype
        from convplan.explore.sweep_time import compile_time, quantizes

        if not quantizes(device):  # else the sweep times each combination concretely
            time = compile_time(symbolic, analysis, device, memory[1], memory[0], memory[2])
    return Derivation(None, analysis, program, checks, tuple(len(s) for s in outputs),
                      tuple(len(a) for a in fields), rf_by_size, len(stretched), time)


def _center_crop_resizes(graph: Graph, analysis: Analysis) -> list[tuple[Any, Any]]:
    """Where a row's input is smaller than a CenterCrop's target Keras resizes (7 FLOPs per
    output element, counts.crop_counts, and a resize's field) while a symbolic analysis
    counts the crop of Keras's dynamic shapes. Per CenterCrop with a symbolic input: (1 where
    either axis is short, else 0: Min(1, Max(0, height - H) + Max(0, width - W)); its
    output elements)."""
    out = []
    for r in analysis.layers:
        op = graph[r.name].op
        if not isinstance(op, O.CenterCrop):
            continue
        sizes = analysis.layer(r.inputs[0]).output_shape[:2]
        if all(arith.is_concrete(n) for n in sizes):
            continue  # crop_counts decided it
        short = sympy.Add(*(sympy.Max(0, t - n) for n, t in zip(sizes, (op.height, op.width))))
        out.append((sympy.Min(1, short), arith.product(r.output_shape)))
    return out


def stride_dependent_merges(graph: Graph, analysis: Analysis) -> list[str]:
    """Merges whose counted inputs' fields have strides that differ as formulas but not as
    numbers (s / 2 after a strided conv and an upsampling, 1 on the skip: equal at s = 2),
    where one of them has phases. periodic_field.union merges paths at one stride exactly,
    period by period, and others by an envelope; on uniform fields the two agree, but after
    resampling the symbolic derivation's envelope would be smaller or larger than a concrete
    analysis's union where the strides meet (issue #13: 13 against 15). The sweep then
    enumerates the window attributes instead."""
    found = []
    for r in analysis.layers:
        op = graph[r.name].op
        if not isinstance(op, O.Merge) or r.receptive_field is None:
            continue
        ins = [analysis.layer(i) for i in r.inputs]
        if isinstance(op, O.Concatenate) and mixes_spatial_axis(op, len(ins[0].output_shape)):
            continue
        fields = [i.receptive_field for i in ins]
        counted = counted_inputs(op, fields, [i.output_shape for i in ins], r.output_shape,
                                 assume_no_broadcast=True)
        known = [f for f, c in zip(fields, counted) if c and f is not None]
        for axis in range(len(r.receptive_field)):
            axes = [f[axis] for f in known if len(f) == len(r.receptive_field)]
            strides = [a.stride for a in axes]
            if any(a.phases for a in axes) and any(
                    not arith.is_concrete(s) for s in strides) and any(
                    sympy.sympify(s - strides[0]) != 0 for s in strides[1:]):
                found.append(r.name)
                break
    return found


def broadcast_indicators(graph: Graph, analysis: Analysis) -> list[Any]:
    """Per elementwise merge input with a field and spatial axis whose stretching depends on
    the values: a formula that is 1 where the merge stretches it (its length 1, the output's
    not) and 0 elsewhere, for whole numbers >= 1: Max(0, 2 - length) * Min(1, out - 1). The
    derivation's fields assumed 0 (analyze's assume_no_broadcast); rows with a 1 are analyzed
    concretely."""
    result = []
    for r in analysis.layers:
        op = graph[r.name].op
        if not isinstance(op, O.Merge) or isinstance(op, O.Concatenate):
            continue
        for source in r.inputs:
            shape = analysis.layer(source).output_shape
            if analysis.layer(source).receptive_field is None or len(shape) != len(r.output_shape):
                continue
            for length, out in zip(shape[:-1], r.output_shape[:-1]):
                if undecided_broadcast(length, out):
                    result.append(sympy.Max(0, 2 - length) * sympy.Min(1, out - 1))
    return result


def _frontier_sizes(graph: Graph, analysis: Analysis) -> list[list[Any]]:
    """Per spatial axis, the field sizes of the frontier layers (the largest is among them)."""
    frontier = _field_frontier(graph, analysis)
    axes = len(frontier[0]) if frontier else 0
    return [[f[a].size for f in frontier if len(f) == axes] for a in range(axes)]


def receptive_field_value(graph: Graph, analysis: Analysis) -> Any:
    """The sweep's `rf`: the largest field size per axis, the smallest over the axes."""
    sizes = _frontier_sizes(graph, analysis)
    return min(max(axis) for axis in sizes) if sizes else 0


def plain_number(value: Any) -> int | float:
    """A concrete analysis's field size as an int, or a float where it is a fraction (an
    envelope of paths at different strides)."""
    value = sympy.sympify(value)
    return int(value) if value.is_integer else float(value)


def _fields_by_size(graph: Graph, varies: Sequence[Vary], rank: int
                    ) -> tuple[int | float, ...]:
    """The `rf` at each value of the input-size vary (a scalar size is every one of the `rank`
    spatial axes), from a concrete analysis of the same graph (its other symbols, channel
    counts, do not reach a field); 0 where it does not build (the checks then mark those rows
    invalid)."""
    vary = next(v for v in varies if v.is_input_size)
    values = []
    for size in vary.components():
        try:
            concrete = analyze(graph, input_size=size if len(size) > 1 else size * rank)
        except ConvplanError:
            values.append(0)
            continue
        values.append(plain_number(receptive_field_value(graph, concrete)))
    return tuple(values)
