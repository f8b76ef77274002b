"""Design smells (CP4xx): networks that build and run, but train or port worse than they could.

Several come from the seed article's "Common Challenges" (vanishing gradients in deep plain
stacks; the cost of convolutions and the separable alternative); the others are well-known
pitfalls: gridding of stacked dilations (Wang et al., 2018), checkerboard artifacts of
transposed convolutions (Odena et al., 2016), TensorFlow's asymmetric 'same' padding.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from convplan.analysis import arith
from convplan.analysis.shapes import AXIS_WORDS, UNIT_WORDS
from convplan.analysis.windows import same_padding
from convplan.checks import residues
from convplan.checks.config import CheckConfig
from convplan.checks.registry import Finding, layer_finding
from convplan.checks.subject import (
    Analyses,
    consumers,
    declared_sizes,
    length_condition,
    results_by_name,
    upstream,
    upstream_inputs,
    windows,
)
from convplan.ir import ops as O
from convplan.ir.graph import Graph
from convplan.options import format_count


def check_field_smaller_than_input(graph: Graph, analyses: Analyses,
                                   config: CheckConfig) -> Iterator[Finding]:
    """Features pooled globally whose receptive field is smaller than the input.

    Global pooling averages (or maxes) features that each saw only their receptive field,
    so the network cannot relate things farther apart than that: a classifier whose last
    features see 5x5 pixels of a 64x64 image is a bag of 5x5 patches. Features flattened
    into Dense are exempt (the Dense sees every position); so is global pooling used as
    context, whose result only comes back into the map it pooled: squeeze-and-excitation
    (pool, two small layers, Multiply with the map) and ASPP's image pooling (pool, 1x1
    convolution, upsampling, Concatenate with the branches), where each output position
    gets the whole map's summary besides its own field. For spatial outputs (segmentation,
    detection) set `budgets.min_receptive_field` instead (CP206). Checked at the declared
    input size. Fix: more downsampling, larger or dilated kernels, more layers."""
    if analyses.concrete is None:
        return
    results = results_by_name(analyses.concrete)
    users = consumers(graph)
    reported = set()
    for node in graph:
        if not isinstance(node.op, O.GlobalPooling):
            continue
        layer = node.inputs[0]
        field = results[layer].receptive_field
        if field is None or layer in reported or _is_context(graph, users, node.name, layer):
            continue
        inputs = [name for name in upstream_inputs(graph, layer)
                  if len(results[name].output_shape) - 1 == len(field)]
        if not inputs:
            continue
        extent = results[inputs[0]].output_shape[:-1]
        sizes = [f.size for f in field]
        if any(size < n for size, n in zip(sizes, extent)):
            reported.add(layer)
            yield layer_finding("CP401", graph, layer,
                                f"each position feeding global pooling {node.name!r} sees "
                                f"{'x'.join(map(str, sizes))} pixels of the "
                                f"{'x'.join(map(str, extent))} input {inputs[0]!r}")


def _is_context(graph: Graph, users: dict[str, list[str]], pooling: str, pooled: str) -> bool:
    """Whether every path from `pooling` ends at a merge whose other inputs come from the map
    `pooled` (that map or a layer after it): the pooled summary gates or joins the map it
    summarises, and reaches no output on its own."""
    stack, seen = [pooling], set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in graph.outputs or not users[name]:
            return False
        for user in users[name]:
            node = graph[user]
            others = [i for i in node.inputs if i != name]
            if isinstance(node.op, O.Merge) and others and all(
                    pooled == i or pooled in upstream(graph, i) for i in others):
                continue
            stack.append(user)
    return True


# ---------------------------------------------------------------- gridding


def _is_transparent(op: O.Op) -> bool:
    """Single-input layers that keep positions where they are (a window run continues)."""
    return op.elementwise


def _coverage(members: list[tuple[int, int]]) -> tuple[int, int]:
    """(positions seen, positions spanned) by a stack of stride-1 windows (kernel, dilation):
    the offsets seen are the sums of one tap m * d from each layer."""
    offsets = {0}
    for k, d in members:
        offsets = {o + m * d for o in offsets for m in range(k)}
    return len(offsets), max(offsets) + 1


def check_gridding(graph: Graph, analyses: Analyses, config: CheckConfig) -> Iterator[Finding]:
    """Stacked dilated convolutions whose rates share a common factor leave holes (gridding).

    Two 3-tap convolutions with dilation 2 see offsets 0, 2, 4, 6, 8: the odd pixels never
    reach the output, so neighbouring outputs are computed from disjoint pixel sets (Wang et
    al., "Understanding Convolution for Semantic Segmentation", 2018). The rule follows runs
    of stride-1 windows (through normalization and activations), and reports a run with two
    or more dilated layers whose combined taps leave holes, with the rates' common factor.
    Fix: hybrid dilation rates without a common factor, such as 1, 2, 5 (or 1, 2, 3)."""
    runs: dict[str, list[str]] = {}
    extended: set[str] = set()
    for name in graph.topological_order():
        node = graph[name]
        per_axis = windows(node.op)
        if per_axis is not None and all(s == 1 for _, s, _ in per_axis):
            runs[name] = [*runs.get(node.inputs[0], []), name]
            extended.update(runs[name][:-1])
        elif len(node.inputs) == 1 and _is_transparent(node.op):
            runs[name] = runs.get(node.inputs[0], [])
    for name, run in runs.items():
        if not run or run[-1] != name or name in extended:
            continue
        dilated = [m for m in run if max(d for _, _, d in windows(graph[m].op)) > 1]
        if len(dilated) < 2:
            continue
        rank = graph[name].op.spatial_rank
        for axis in range(rank):
            members = [(k, d) for m in run for k, _, d in [windows(graph[m].op)[axis]]]
            seen, span = _coverage(members)
            if seen < span:
                rates = [d for _, d in members if d > 1]
                factor = math.gcd(*rates)
                common = f" (common factor {factor})" if factor > 1 else ""
                yield layer_finding(
                    "CP402", graph, name,
                    f"the stacked dilated layers {', '.join(map(repr, run))} with dilation "
                    f"rates {', '.join(map(str, rates))}{common} see only {seen} of the {span} "
                    f"{UNIT_WORDS[rank][axis]} their field spans along the "
                    f"{AXIS_WORDS[rank][axis]}; use rates without a common factor, such as "
                    "1, 2, 5")
                break


# ---------------------------------------------------------------- checkerboard


def check_checkerboard(graph: Graph, analyses: Analyses,
                       config: CheckConfig) -> Iterator[Finding]:
    """A transposed convolution whose kernel size is not divisible by its stride.

    With kernel 3 and stride 2, output pixels alternately receive 2 and 1 kernel taps: the
    uneven overlap paints a checkerboard on generated images (Odena et al., "Deconvolution
    and Checkerboard Artifacts", 2016). Fix: a kernel that is a multiple of the stride (4 for
    stride 2), or UpSampling2D followed by a stride-1 Conv2D."""
    for node in graph:
        op = node.op
        if not isinstance(op, O.ConvTranspose):
            continue
        bad = [(k, s) for k, s in zip(op.kernel_size, op.strides) if s > 1 and k % s]
        if bad:
            k, s = bad[0]
            yield layer_finding("CP403", graph, node.name,
                                f"kernel {k} is not divisible by stride {s}: output pixels get "
                                f"{k // s} or {k // s + 1} kernel taps in turn (checkerboard "
                                f"artifacts); use kernel {(k // s + 1) * s} or upsampling "
                                "followed by a stride-1 convolution")


# ---------------------------------------------------------------- asymmetric 'same'


def _pads(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    before, after = same_padding(n, k, s, d)
    return int(before), int(after)


def uneven_by_choice(n: int, k: int, s: int, d: int) -> bool:
    """TF's 'same' split is uneven (total odd) where a design could have it even: not for a
    stride that divides n, whose total is k_eff - s whatever the size (no split centres an
    even stride's windows; every framework picks a side)."""
    return sum(_pads(n, k, s, d)) % 2 == 1 and not (s > 1 and n % s == 0)


def check_asymmetric_same(graph: Graph, analyses: Analyses,
                          config: CheckConfig) -> Iterator[Finding]:
    """'same' padding that TensorFlow splits unevenly (the extra row goes at the bottom/right).

    TF pads total = max((ceil(n / s) - 1) * s + k_eff - n, 0), with total // 2 before and the
    rest after. At stride 1 the total is k_eff - 1, odd for an even kernel: 'same' then moves
    every output half a pixel off its input position, and stacked layers drift. At stride s
    it is odd for some input sizes the stride does not divide (a 2x2 stride-2 convolution on
    7 rows pads 0 above and 1 below), and a port with symmetric padding (PyTorch's
    padding=k // 2) computes on inputs shifted by one pixel. Not reported: a stride that
    divides its input, whose uneven total k_eff - s (a 3x3 stride-2 convolution on 224 rows
    pads 0 above and 1 below) no size or framework avoids: it is how every TF network
    downsamples, the convention its weights were trained with (a PyTorch port pads it
    explicitly, as timm's Conv2dSame does). Fix: odd kernels, input sizes the strides
    divide, or explicit ZeroPadding2D + 'valid'."""
    sizes = declared_sizes(graph, config)
    for node in graph:
        per_axis = windows(node.op)
        if per_axis is None or getattr(node.op, "padding", None) != "same":
            continue
        all_parts = [_asymmetry(node.inputs[0], axis, window, node.op.spatial_rank, analyses,
                                sizes) for axis, window in enumerate(per_axis)]
        parts = [p for p in all_parts if p]
        if not parts:
            continue
        window = (f"kernel {'x'.join(str(k) for k, _, _ in per_axis)}, stride "
                  f"{'x'.join(str(s) for _, s, _ in per_axis)}")
        text = "TF pads " + " and ".join(pad for pad, _ in parts) + f" ({window})"
        whens = list(dict.fromkeys(when for _, when in parts if when))
        if whens:
            text += ", which happens " + " and ".join(whens)
        strides = {s for (_, s, _), part in zip(per_axis, all_parts) if part}
        consequences = []
        if 1 in strides:
            consequences.append("an even kernel has no centre: each output sits half a pixel "
                                "after its input position, and stacked layers drift")
        if strides - {1}:
            consequences.append("a port with symmetric padding (PyTorch's padding=k // 2) "
                                "would shift the result by one pixel")
        yield layer_finding("CP404", graph, node.name, text + "; " + "; ".join(consequences))


def _asymmetry(source: str, axis: int, window: tuple[int, int, int], rank: int,
               analyses: Analyses, sizes: dict[str, int]) -> tuple[str, str | None] | None:
    """(how TF pads this axis unevenly, for which input sizes) or None when it pads evenly
    or the stride divides the input (uneven_by_choice)."""
    k, s, d = window
    units = UNIT_WORDS[rank][axis]
    concrete = analyses.concrete_layers
    if concrete is not None:
        n = concrete[source].output_shape[axis]
        if not uneven_by_choice(n, k, s, d):
            return None
        before, after = _pads(n, k, s, d)
    condition = length_condition(analyses, source, axis,
                                 lambda length: uneven_by_choice(length, k, s, d), s)
    when = residues.when_clause(condition, sizes)
    if concrete is not None:
        return f"{before} before and {after} after the {n} {units}", when
    if condition is None or condition.never:
        return None
    return f"one more of the {units} after than before", when or "for every size"


# ---------------------------------------------------------------- deep plain stacks


def check_plain_deep_stack(graph: Graph, analyses: Analyses,
                           config: CheckConfig) -> Iterator[Finding]:
    """More than `max_plain_depth` weight layers in a row without normalization or skips.

    The seed article's "Vanishing Gradients": the gradient reaching a layer has passed
    through every layer between it and the loss, and shrinks at each one of a plain stack, so
    the first layers stop learning. For every layer the rule counts the convolutions and
    Dense layers on the shortest path to an output, starting over after each
    BatchNormalization/LayerNormalization; a skip connection is such a short path (a ResNet
    block's Add, a U-Net's skip Concatenate). Reported once, at the layer farthest from the
    output, with how many layers are beyond the limit. Fix: BatchNormalization after the
    convolutions, or residual connections."""
    limit = config.max_plain_depth
    outputs = set(graph.outputs)
    users = consumers(graph)
    depth: dict[str, tuple[int, str]] = {}  # layer -> (plain weight layers to an output, output)
    for name in reversed(graph.topological_order()):
        op = graph[name].op
        ahead = [depth[user] for user in users[name]]
        if name in outputs:
            ahead.append((0, name))
        if not ahead:  # a dead end feeds no output: no gradient reaches it
            depth[name] = (0, name)
            continue
        steps, output = min(ahead)
        if isinstance(op, (O.BatchNormalization, O.LayerNormalization)):
            steps = 0
        depth[name] = (steps + int(op.has_kernel), output)
    deep = [name for name in depth if graph[name].op.has_kernel and depth[name][0] > limit]
    if deep:
        worst = max(deep, key=lambda name: depth[name][0])
        steps, output = depth[worst]
        yield layer_finding(
            "CP405", graph, worst,
            f"the gradient from output {output!r} reaches this layer through {steps} weight "
            f"layers with neither normalization nor a skip connection (max_plain_depth {limit}; "
            f"{len(deep)} layer{'s' if len(deep) > 1 else ''} beyond it); gradients may vanish: "
            "add BatchNormalization or residual connections")


# ---------------------------------------------------------------- costly convolutions


def _alternatives(op: O.Conv, cin: int, p_in, p_out) -> list[tuple[str, object]]:
    """MACs of cheaper replacements of a k x k convolution (cin -> filters):
    separable: p_out * (K * cin + cin * filters), K = prod(kernel);
    1x1 bottleneck to b = min(cin, filters) // 4 (where that is at least 16):
    p_in * cin * b + p_out * (K * b * b + b * filters).
    """
    kernel = math.prod(op.kernel_size)
    out = []
    if op.spatial_rank in (1, 2):
        out.append((f"SeparableConv{op.spatial_rank}D", p_out * (kernel * cin + cin * op.filters)))
    if min(cin, op.filters) >= 64:  # ResNet's bottleneck: 256 -> 64 -> 256, never below 16
        b = min(cin, op.filters) // 4
        out.append((f"a 1x1 bottleneck to {b} channels",
                    p_in * cin * b + p_out * (kernel * b * b + b * op.filters)))
    return out


def check_costly_convolution(graph: Graph, analyses: Analyses,
                             config: CheckConfig) -> Iterator[Finding]:
    """A costly standard convolution that a separable or bottleneck one would make far cheaper.

    Reported when the replacement cuts its MACs by at least `costly_min_saving` (half). The
    seed article's "Computational Cost": a k x k convolution costs positions x k^2 x
    C_in x C_out; a depthwise-separable one costs positions x (k^2 x C_in + C_in x C_out),
    a fraction 1/C_out + 1/k^2 of it, and a ResNet-style 1x1 bottleneck (C -> C/4 -> k x k ->
    C_out) cuts it too. Reported for convolutions with at least 16 input channels holding at
    least `costly_min_share` (10%) of the network's MACs (symbolic sizes are taken as 256),
    with the computed saving. Fix: the suggested replacement, if accuracy allows."""
    analysis, where = analyses.best, ""
    if analysis.symbols:
        where = f" at {' = '.join(analysis.symbols)} = 256"
        analysis = analysis.at({s: 256 for s in analysis.symbols})
    results = results_by_name(analysis)
    total = analysis.totals.macs
    if not isinstance(total, int) or total <= 0:
        return
    for node in graph:
        op = node.op
        if type(op) not in (O.Conv1D, O.Conv2D, O.Conv3D) or op.groups != 1:
            continue
        cin = results[node.inputs[0]].output_shape[-1]
        macs = results[node.name].macs
        if (not isinstance(cin, int) or cin < 16 or math.prod(op.kernel_size) == 1
                or not isinstance(macs, int) or macs < config.costly_min_share * total):
            continue
        p_in = arith.product(results[node.inputs[0]].output_shape[:-1])
        p_out = arith.product(results[node.name].output_shape[:-1])
        options = [(name, cost) for name, cost in _alternatives(op, cin, p_in, p_out)
                   if cost <= (1 - config.costly_min_saving) * macs]
        if options:
            described = ", ".join(f"{name} would need {format_count(cost)} "
                                  f"({100 * (1 - cost / macs):.0f}% less)"
                                  for name, cost in options)
            yield layer_finding("CP406", graph, node.name,
                                f"{format_count(macs)} MACs{where} ({100 * macs / total:.0f}% "
                                f"of the network); {described}")
