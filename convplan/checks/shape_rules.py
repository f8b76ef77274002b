"""Shape validity (CP1xx): networks Keras cannot build, and shapes that lose or misplace data.

CP100-CP102 are reported by the runner from the error that stops the network being built (the
IR and the analysis raise them with a `reason`); the rest are rules over the analyses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction

from convplan.analysis import arith
from convplan.analysis.arith import Value
from convplan.analysis.periodic_field import AxisField
from convplan.analysis.receptive import counted_inputs
from convplan.analysis.shapes import AXIS_WORDS, UNIT_WORDS, ShapeCondition
from convplan.analysis.windows import effective_kernel, same_padding
from convplan.checks import residues
from convplan.checks.config import CheckConfig
from convplan.checks.registry import Finding, layer_finding
from convplan.checks.subject import (
    Analyses,
    declared_sizes,
    length_condition,
    results_by_name,
    small_length_sizes,
    windows,
)
from convplan.ir import ops as O
from convplan.ir.graph import Graph

UNBUILDABLE_LAYER = """
    Keras rejects the layer or its inputs (shapes, channels, attribute combinations).

    Mismatched ranks, channels or merge shapes, filters not divisible by groups, an
    output_padding not smaller than the strides: the network cannot be built at all;
    convplan reports the first such error in the file (the analysis stops there). Reported
    from the error itself, so it cannot be suppressed on the layer; fix the layer."""

EMPTY_OUTPUT = """
    An output size of zero or less: a kernel, pool or cropping larger than its input.

    Under padding 'valid' a window of effective size k_eff = (k - 1) * d + 1 needs at least
    k_eff input rows; with fewer, Keras raises "Computed output size would be zero or
    negative". Use padding 'same', a smaller kernel or dilation, or a larger input."""

STRIDES_WITH_DILATION = """
    strides > 1 together with dilation_rate > 1 in a layer where Keras rejects it.

    Conv1D/2D/3D and Conv1D/2D/3DTranspose raise "`strides > 1` not supported in conjunction
    with `dilation_rate > 1`" at construction (the test is max(strides) > 1 and
    max(dilation_rate) > 1 over all axes). DepthwiseConv and SeparableConv accept the
    combination. Split the layer: a dilated stride-1 convolution, then a strided one (or
    pooling), or use DepthwiseConv2D/SeparableConv2D."""


def _axis_words(rank: int, axis: int) -> tuple[str, str]:
    return AXIS_WORDS[rank][axis], UNIT_WORDS[rank][axis]


def padding_only_outputs(n: int, k: int, s: int, d: int, padding: str) -> list[int]:
    """Outputs along one axis whose every tap reads padding. Output i reads i * s - p + j * d,
    j < k, of the n input positions. 'valid' (p = 0) and 'causal' (the last tap at i * s <= n - 1)
    always read data. Under 'same' the window's span always meets the input (i * s <= n - 1 and
    TF's p <= k_eff - 1), so an output reads only padding exactly when the input fits in a gap
    between two taps: only when n < d (gaps are d - 1 wide), and then the outputs are counted
    one by one."""
    if padding != "same" or n >= d:
        return []
    before = int(same_padding(n, k, s, d)[0])
    return [i for i in range(-(-n // s))
            if not any(0 <= i * s - before + j * d < n for j in range(k))]


def check_kernel_larger_than_input(graph: Graph, analyses: Analyses,
                                   config: CheckConfig) -> Iterator[Finding]:
    """A dilated window with outputs that read nothing but padding ('same' on a small input).

    Output i of a window reads input positions i * s - p + j * d (tap j < k, TF's 'same' pad
    p before). Its span always meets the input, so an output misses every input pixel only
    when the whole input fits in a gap between two taps: dilation d larger than the input
    length n, and even then only for some outputs (an odd kernel at stride 1 always has its
    centre tap on data). Such an output is a constant (the bias): its weights never see data.
    An ASPP branch with kernel 3 and dilation 8 on a 16-pixel map reads data at every output
    and is not reported. Checked at the declared input size; for a symbolic one, the rule
    states the input sizes at which it happens (always a finite set of small sizes, from the
    smallest at which the network builds). Fix: a dilation below the feature map's size, or
    an odd kernel at stride 1."""
    sizes = declared_sizes(graph, config)
    for node in graph:
        per_axis = windows(node.op)
        padding = getattr(node.op, "padding", "valid")
        if per_axis is None or padding != "same" or all(d == 1 for _, _, d in per_axis):
            continue  # without dilation the taps are contiguous: every output reads data
        rank = node.op.spatial_rank
        parts = [_padding_only(node.inputs[0], axis, window, rank, analyses, sizes)
                 for axis, window in enumerate(per_axis) if window[2] > 1]
        parts = [part for part in parts if part]
        if parts:
            text = "; ".join(what for what, _ in parts)
            whens = list(dict.fromkeys(when for _, when in parts if when))
            if whens:
                text += "; at the network input this happens " + " and ".join(whens)
            yield layer_finding("CP103", graph, node.name, text + "; those outputs are the bias "
                                "alone: use a dilation below the feature map's size")


def _padding_only(source: str, axis: int, window: tuple[int, int, int], rank: int,
                  analyses: Analyses, sizes: dict[str, int]) -> tuple[str, str | None] | None:
    """(which outputs read only padding on this axis, for which input sizes) or None."""
    k, s, d = window
    word, units = _axis_words(rank, axis)
    taps = f"taps {d} {units} apart (kernel {k}, dilation {d}, stride {s})"
    concrete = analyses.concrete_layers
    if concrete is not None:
        n = concrete[source].output_shape[axis]
        empty = padding_only_outputs(n, k, s, d, "same")
        if not empty:
            return None  # the size-free view is only worth computing to explain a finding
    condition = small_length_sizes(analyses, source, axis,
                                   lambda length: bool(padding_only_outputs(length, k, s, d,
                                                                            "same")), d)
    when = residues.when_clause(condition, sizes)
    if concrete is not None:
        listed = ", ".join(map(str, empty[:-1])) + (" and " if len(empty) > 1 else "") + \
            str(empty[-1])
        outputs = f"output{'s' if len(empty) > 1 else ''} {listed} of {-(-n // s)}"
        return (f"along the {word}, {outputs} read{'' if len(empty) > 1 else 's'} only zero "
                f"padding: its {taps} step over all {n} input {units}"), when
    if condition is None or condition.never:
        return None
    return (f"along the {word}, some outputs read only zero padding: its {taps} step over "
            f"an input of fewer than {d} {units}"), when


def dropped_rows(n: int, k: int, s: int, d: int, padding: str) -> int:
    """Input rows after the last window: valid (n - k_eff) mod s; causal (left pad k_eff - 1)
    (n - 1) mod s; 'same' pads up to cover every row when k_eff >= s, so 0."""
    k_eff = effective_kernel(k, d)
    if padding == "valid":
        return (n - k_eff) % s if n >= k_eff else 0
    if padding == "causal":
        return (n - 1) % s
    return 0


def check_floor_truncation(graph: Graph, analyses: Analyses,
                           config: CheckConfig) -> Iterator[Finding]:
    """Input rows or columns that no window ever covers, because the stride does not divide.

    Under 'valid' padding a window of k_eff = (k - 1) * d + 1 at stride s covers
    (out - 1) * s + k_eff rows, so (n - k_eff) mod s rows at the bottom (columns at the right)
    are silently dropped: a 2x2 pool on 7 rows reads 6. The rule names the layer and the
    count at the declared size, and, from the symbolic shapes, the input sizes for which it
    happens ("H mod 8 is 4, 5, 6 or 7"). Layers whose stride exceeds the window (k_eff < s)
    skip rows by design and are not reported, nor are rows that only a ZeroPadding layer just
    before added (Keras's ResNet50 pads 224 to 230 and its 7x7 stride-2 convolution leaves the
    last padded row), nor are ceil_mode poolings (PyTorch's, ONNX's), whose rounded-up last
    window reaches the last row. Fix: pick input sizes the strides divide, or padding 'same'."""
    sizes = declared_sizes(graph, config)
    for node in graph:
        per_axis = windows(node.op)
        padding = getattr(node.op, "padding", "valid")
        if per_axis is None or padding == "same":
            continue
        if getattr(node.op, "ceil_mode", False):
            # ceil_mode's last window starts at or before the last row (k_eff >= s here), so
            # it reaches every row: out = min(ceil((n - k) / s), floor((n - 1) / s)) + 1.
            continue
        rank = node.op.spatial_rank
        producer = graph[node.inputs[0]].op
        padded = producer.padding if isinstance(producer, O.ZeroPadding) else ((0, 0),) * rank
        parts = []
        for axis, (k, s, d) in enumerate(per_axis):
            if s == 1 or effective_kernel(k, d) < s:
                continue
            part = _truncation(node.inputs[0], axis, (k, s, d), padding, rank, analyses, sizes,
                               padded[axis][1])
            if part:
                parts.append(part)
        if not parts:
            continue
        window = (f"window {'x'.join(str(effective_kernel(k, d)) for k, _, d in per_axis)} at "
                  f"stride {'x'.join(str(s) for _, s, _ in per_axis)}, padding {padding!r}")
        text = " and ".join(lost for lost, _ in parts) + f" never reach a window ({window})"
        whens = list(dict.fromkeys(when for _, when in parts if when))
        if whens:
            text += "; at the network input this happens " + " and ".join(whens)
        yield layer_finding("CP104", graph, node.name, text)


def _truncation(source: str, axis: int, window: tuple[int, int, int], padding: str, rank: int,
                analyses: Analyses, sizes: dict[str, int],
                zeros_after: int) -> tuple[str, str | None] | None:
    """(what is lost on this axis, for which input sizes) or None when nothing is; the last
    `zeros_after` rows are zero padding, whose loss costs nothing."""
    k, s, d = window
    word, units = _axis_words(rank, axis)
    concrete = analyses.concrete_layers
    if concrete is not None:
        n = concrete[source].output_shape[axis]
        lost = dropped_rows(n, k, s, d, padding)
        if lost <= zeros_after:
            return None  # the size-free view is only worth computing to explain a loss
    amounts: list[int] = []

    def drops(length: int) -> bool:
        amounts.append(max(dropped_rows(length, k, s, d, padding) - zeros_after, 0))
        return amounts[-1] > 0

    condition = length_condition(analyses, source, axis, drops, s)
    when = residues.when_clause(condition, sizes)
    if concrete is not None:
        padding_note = f" ({zeros_after} of them zero padding)" if zeros_after else ""
        return f"the last {lost} of its {n} input {units}{padding_note}", when
    if condition is None or condition.never:
        return None
    least, most = min(a for a in amounts if a > 0), max(amounts)
    count = f"{most}" if least == most else f"{least} to {most}"
    return (f"the last {count} {units if most > 1 else units[:-1]} of its input {word}",
            when or "for every size")


def check_conditional_merge(graph: Graph, analyses: Analyses,
                            config: CheckConfig) -> Iterator[Finding]:
    """A merge (Add, Concatenate, Multiply, ...) whose inputs agree only for some input sizes.

    Paths with different downsampling (a U-Net's skip and its upsampled path) match only
    when the input size is a multiple of the total stride: the network builds at 224 and
    fails at 225. The rule derives the condition from the symbolic shapes ("H is divisible
    by 16") and reports it where the input size is left symbolic (at a declared size that
    fits there is nothing to report; one that does not fit is CP100, explained by this rule).
    Fix: declare the input size the network is built for (or set `checks.input_size`), or
    crop/pad the skip path to match; suppress it on the layer for a fully convolutional
    network that only ever sees valid sizes."""
    if analyses.concrete is not None or not any(isinstance(n.op, O.Merge) for n in graph):
        return  # the declared sizes fit every merge, or the concrete analysis would have failed
    if analyses.symbolic is None:
        return
    sizes = declared_sizes(graph, config)
    by_layer: dict[str, list[str]] = {}
    for cond in analyses.symbolic.conditions:
        rank = len(analyses.symbolic.layer(cond.layer).output_shape) - 1
        word = AXIS_WORDS[rank][cond.axis] if 1 <= rank <= 3 and cond.axis < rank else \
            f"axis {cond.axis + 1}"
        left, right = cond.left, cond.right
        solved = residues.solve(
            lambda v, a=left, b=right: residues.evaluate(a, v) == residues.evaluate(b, v),
            [left, right])
        if _agree_at_declared_size(left, right, sizes):
            continue  # the size is fixed and fits: nothing can go wrong
        if solved is None:
            text = f"their {word}s agree only when {left} = {right}"
        elif solved.never:
            text = f"their {word}s ({left} and {right}) agree for no large input size"
        else:
            text = f"their {word}s ({left} and {right}) agree only when {solved.phrase()}"
            if solved.symbol in sizes:
                text += f" (declared {solved.symbol} = {sizes[solved.symbol]} does not satisfy it)"
        by_layer.setdefault(cond.layer, []).append(text)
    for layer, texts in by_layer.items():
        yield layer_finding("CP105", graph, layer, "inputs of this merge: " + "; ".join(texts))


def _agree_at_declared_size(left, right, sizes: dict[str, int]) -> bool:
    symbols = {str(x) for e in (left, right) for x in getattr(e, "free_symbols", ())}
    if not symbols or not symbols <= set(sizes):
        return False
    values = {x: sizes[str(x)] for e in (left, right) for x in getattr(e, "free_symbols", ())}
    return residues.evaluate(left, values) == residues.evaluate(right, values)


def check_misaligned_paths(graph: Graph, analyses: Analyses,
                           config: CheckConfig) -> Iterator[Finding]:
    """Paths into a merge that see the input at different strides or different centres.

    Adding a feature computed around input pixel (10, 10) to one computed around (11, 11)
    mixes neighbouring locations; asymmetric 'same' padding on strided layers and
    differently padded branches cause it. Each finding names the two inputs it compares.
    Aligned by design, and not reported: a merge of an upsampled path (UpSampling, a
    transposed convolution) with one upsampled differently or not at all, as every FPN and
    U-Net merges a coarse map, upsampled, with a lateral fine one, whose pixels the coarse
    ones straddle; and, after a causal window (padding 'causal'), paths whose fields end at
    the same sample, as a WaveNet residual adds features of the same latest sample. Broadcast
    inputs (squeeze-and-excitation's 1 x 1 map) are left out. Checked at the declared size
    when there is one; on a symbolic one the finding says for which sizes ("when H is
    even"), among those at which the merge builds where that too depends on the size
    (CP105). Fix: make the branches' padding and strides match (odd kernels,
    sizes the strides divide), or crop one branch."""
    analysis = analyses.best
    results = results_by_name(analysis)
    causal = _after_causal(graph)
    conditional: dict[str, list[ShapeCondition]] = {}
    for cond in analysis.conditions:
        conditional.setdefault(cond.layer, []).append(cond)
    for node in graph:
        if not isinstance(node.op, O.Merge) or (results[node.name].receptive_field is None
                                                 and node.name not in conditional):
            continue  # no field: nothing is aligned (a Concatenate along a spatial axis, ...)
        names = list(dict.fromkeys(node.inputs))
        fields = [results[name].receptive_field for name in names]
        # a merge that builds only for some sizes (CP105) is compared where it does, where
        # its inputs' lengths are equal: none is broadcast
        counted = counted_inputs(node.op, fields, [results[n].output_shape for n in names],
                                 results[node.name].output_shape,
                                 assume_no_broadcast=node.name in conditional)
        if not isinstance(counted, list):
            continue  # whether an input is broadcast depends on the size
        known = [(name, f) for name, f, c in zip(names, fields, counted) if c and f is not None]
        if len(known) < 2 or any(len(f) != len(known[0][1]) for _, f in known):
            continue
        (base_name, base), rank = known[0], len(known[0][1])
        by_text: dict[str, list[str]] = {}
        for axis in range(rank):
            for name, field in known[1:]:
                builds = tuple((c.left, c.right) for c in conditional.get(node.name, ())
                               if c.axis == axis)
                text = _disagreement(base_name, base[axis], name, field[axis],
                                     node.name in causal, builds)
                if text:
                    by_text.setdefault(text, []).append(AXIS_WORDS[rank][axis]
                                                        if rank in AXIS_WORDS else
                                                        f"axis {axis + 1}")
        if by_text:
            yield layer_finding("CP106", graph, node.name, "; ".join(
                f"{' and '.join(words)}: {text}" for text, words in by_text.items()))


def _after_causal(graph: Graph) -> set[str]:
    """Layers at or after a causal window."""
    after: set[str] = set()
    for name in graph.topological_order():
        node = graph[name]
        if getattr(node.op, "padding", None) == "causal" or not after.isdisjoint(node.inputs):
            after.add(name)
    return after


def _end(f: AxisField) -> Value:
    """The last input position output 0's field reaches."""
    last = f.phases[0][1] if f.phases and f.phases[0] else f.size - 1
    return arith.simplify_int(f.start + last)


Pairs = tuple[tuple[Value, Value], ...]


def _builds_at(builds: Pairs) -> Callable[[Mapping], bool]:
    """Whether every pair of lengths in `builds` is equal at the given sizes."""
    return lambda v: all(residues.evaluate(a, v) == residues.evaluate(b, v) for a, b in builds)


def _positions_differ(pa: Value, pb: Value,
                      builds: Pairs = ()) -> bool | residues.Condition | None:
    """Whether two field positions differ: True or False where the formulas decide it, else
    the input sizes for which they do (None: undecided, such as several sizes at once).
    `builds`: lengths that must be equal for the merge to build (its shape conditions on
    this axis); sizes where it does not build are left out."""
    exprs = [pa, pb, *(e for pair in builds for e in pair)]
    fits = _builds_at(builds)
    where = residues.solve(fits, exprs) if builds else None
    if where is not None and where.never:
        return False  # the merge builds at no large size: CP105's finding, not this one
    same = arith.equal(pa, pb)
    if same is not None:
        return not same
    condition = residues.solve(
        lambda v: fits(v) and residues.evaluate(pa, v) != residues.evaluate(pb, v), exprs)
    if condition is None or condition.never or condition.always:
        return None if condition is None else condition.always
    if where is not None and all(condition.holds_at(r) == where.holds_at(r)
                                 for r in range(math.lcm(condition.period, where.period))):
        return True  # apart wherever the merge builds
    return condition


def _disagreement(a_name: str, a: AxisField, b_name: str, b: AxisField,
                  causal: bool, builds: Pairs = ()) -> str | None:
    """How two inputs' fields on one axis disagree, or None where they are aligned (equal
    strides and centres, or ends after a causal window) or resampled differently (the
    period of their phases differs: an upsampled path meets another, by design); `builds`
    as `_positions_differ`'s."""
    if len(a.phases) != len(b.phases):
        return None
    pair = f"inputs {a_name!r} and {b_name!r}"
    if arith.equal(a.stride, b.stride) is not True:
        return (f"{pair} see the input at different strides ({arith.to_json(a.stride)} and "
                f"{arith.to_json(b.stride)})")
    apart = _positions_differ(a.centre, b.centre, builds)
    if apart is False:
        return None
    verb, noun, pa, pb = "are centred", "centres", a.centre, b.centre
    if causal:
        apart = _positions_differ(_end(a), _end(b), builds)
        if apart is False:
            return None
        verb, noun, pa, pb = "end", "last positions", _end(a), _end(b)
    # the distance, where it is one number wherever the two are apart
    gaps = residues.large_values(pb - pa, [e for pair in builds for e in pair],
                                 _builds_at(builds)) if apart is not None else None
    gaps = None if gaps is None else {abs(g) for g in gaps} - {0}
    gap = f" {_pixels(next(iter(gaps)))}" if gaps is not None and len(gaps) == 1 else ""
    if apart is True and gap and not getattr(pb - pa, "free_symbols", None):
        return (f"{pair} {verb}{gap} apart ({noun} {arith.to_json(pa)} and "
                f"{arith.to_json(pb)})")
    if isinstance(apart, residues.Condition):
        return f"{pair} {verb}{gap} apart when {apart.phrase()}"
    return f"{pair} {verb}{gap} apart for {'every input size' if apart else 'some input sizes'}"


def _pixels(gap: Fraction) -> str:
    """'1 input pixel', '0.5 input pixels'."""
    value = int(gap) if gap.denominator == 1 else float(gap)
    return f"{value} input pixel{'' if value == 1 else 's'}"
