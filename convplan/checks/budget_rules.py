"""Budgets (CP2xx): limits a team sets in `checks.budgets` and CI enforces.

Counts are per example (MACs and FLOPs as in docs/counting.md); memory is per replica at
`batch` (default 1), `dtype` and `optimizer`, by tensor lifetimes (convplan.analysis.memory,
the fused convention, docs/memory.md): activation memory = the largest set of tensors live at
one step of a training step (outputs kept for the backward pass, gradients, workspace);
training memory = that + weights + optimizer slots + the batch, the step's peak.
Receptive-field and output-stride budgets apply to the last spatial feature maps: the graph's
spatial outputs and the layers feeding Flatten, global pooling or Reshape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from convplan.analysis import Analysis, arith
from convplan.analysis.memory import TrainingMemory
from convplan.checks.config import CheckConfig
from convplan.checks.registry import Finding, finding, layer_finding
from convplan.checks.subject import Analyses, spatial_heads
from convplan.ir.graph import Graph
from convplan.options import format_bytes, format_count


def _memory(analysis: Analysis, config: CheckConfig) -> TrainingMemory:
    return analysis.training_memory(config.batch or 1, config.dtype, config.optimizer)


def _activation_bytes(analysis: Analysis, config: CheckConfig):
    return _memory(analysis, config).live


def _training_bytes(analysis: Analysis, config: CheckConfig):
    return _memory(analysis, config).total


def _peak_share(analysis: Analysis, config: CheckConfig) -> str:
    """The layer holding the most bytes at the peak step, and what it holds."""
    m = _memory(analysis, config)
    step = m.peak_step
    if step is None or not isinstance(m.live, int) or m.live <= 0:
        return ""
    held = {layer: sum(roles.values()) for layer, roles in m.plan.by_layer(step).items()}
    layer = max(held, key=held.__getitem__)
    return (f"; the peak is at the {step.phase} step of {step.layer!r}, where layer {layer!r} "
            f"holds {100 * held[layer] / m.live:.0f}% of the live tensors")


# budget name -> (what, how to measure the whole network, how to format, per-layer share)
TOTALS: dict[str, tuple[str, Callable, Callable, Callable | None]] = {
    "max_params": ("parameters", lambda a, c: a.totals.params, format_count,
                   lambda layer: layer.params),
    "max_macs": ("MACs per example", lambda a, c: a.totals.macs, format_count,
                 lambda layer: layer.macs),
    "max_flops": ("FLOPs per example", lambda a, c: a.totals.flops, format_count,
                  lambda layer: layer.flops),
    "max_activation_memory": ("activation memory", _activation_bytes, format_bytes,
                              _peak_share),
    "max_training_memory": ("training memory per replica", _training_bytes, format_bytes,
                            _peak_share),
}


def _largest_share(analysis: Analysis, share: Callable | None, config: CheckConfig) -> str:
    if share is None:
        return ""
    if share is _peak_share:
        return _peak_share(analysis, config)
    values = [(share(layer), layer.name) for layer in analysis.layers]
    values = [(v, n) for v, n in values if isinstance(v, int)]
    total = sum(v for v, _ in values)
    if not values or total <= 0:
        return ""
    value, name = max(values)
    return f"; the largest share is layer {name!r} with {100 * value / total:.0f}%"


def _check_total(budget: str, code: str, analyses: Analyses,
                 config: CheckConfig) -> Iterator[Finding]:
    limit = getattr(config.budgets, budget)
    if limit is None:
        return
    what, measure, fmt, share = TOTALS[budget]
    analysis = analyses.best
    value = arith.simplify_int(measure(analysis, config))
    if not isinstance(value, int) or value <= limit:
        return  # symbolic values are CP200's to report
    where = f" at batch {config.batch or 1} in {config.dtype}" if "memory" in what else ""
    yield finding(code, f"{what}{where}: {fmt(value)} ({value:,}) is over {budget} = "
                  f"{fmt(limit)} ({limit:,}){_largest_share(analysis, share, config)}")


def check_budget_needs_size(graph: Graph, analyses: Analyses,
                            config: CheckConfig) -> Iterator[Finding]:
    """A budget is set but the quantity depends on an input size the spec leaves symbolic.

    With `inputs: {image: [H, W, 3]}` the MACs are a formula in H and W, which no number can
    be compared with. Set `checks.input_size: [224, 224]` (or declare the size) so the budget
    is checked at the size you train at."""
    analysis = analyses.best
    for budget, (what, measure, _, _) in TOTALS.items():
        if getattr(config.budgets, budget) is None:
            continue
        value = arith.simplify_int(measure(analysis, config))
        if not isinstance(value, int):
            yield finding("CP200", f"{budget} is set, but the {what} depend on the input size "
                          f"({arith.to_json(value)}); set checks.input_size to check it")
    for budget in ("min_receptive_field", "max_receptive_field", "output_stride",
                   "max_output_stride"):
        if getattr(config.budgets, budget) is None:
            continue
        for layer, field in _head_fields(graph, analysis):
            if any(not isinstance(arith.simplify_int(v), int)
                   for axis in field for v in (axis.size, axis.stride)):
                yield finding("CP200", f"{budget} is set, but the receptive field of layer "
                              f"{layer!r} depends on the input size; set checks.input_size "
                              "to check it")
                break


def check_max_params(graph: Graph, analyses: Analyses, config: CheckConfig) -> Iterator[Finding]:
    """More parameters than `budgets.max_params` (trainable and non-trainable, as Keras counts).

    Example: `budgets: {max_params: 25M}`. Fix: fewer filters or units, a global pooling
    instead of Flatten before Dense (Flatten -> Dense is usually where parameters pile up),
    separable convolutions."""
    yield from _check_total("max_params", "CP201", analyses, config)


def check_max_macs(graph: Graph, analyses: Analyses, config: CheckConfig) -> Iterator[Finding]:
    """More multiply-accumulates per example than `budgets.max_macs`.

    MACs count convolutions (every kind) and Dense, bias excluded: the figure papers call
    FLOPs. Fix: downsample earlier, fewer filters, depthwise-separable or bottleneck
    convolutions (see CP406)."""
    yield from _check_total("max_macs", "CP202", analyses, config)


def check_max_flops(graph: Graph, analyses: Analyses, config: CheckConfig) -> Iterator[Finding]:
    """More FLOPs per example than `budgets.max_flops`.

    FLOPs = 2 x MACs plus every other arithmetic operation (bias, normalization, activations,
    pooling, merges), each op's count documented in docs/counting.md. Fix: as for max_macs;
    cheaper activations and fewer elementwise layers matter at the margin."""
    yield from _check_total("max_flops", "CP203", analyses, config)


def check_max_activation_memory(graph: Graph, analyses: Analyses,
                                config: CheckConfig) -> Iterator[Finding]:
    """More activation memory than `budgets.max_activation_memory` at `batch` and `dtype`.

    Activation memory = the largest set of tensors live at one step of a training step: the
    outputs kept for the backward pass (each op's rule, docs/memory.md), the gradients in
    flight and workspace, by tensor lifetimes. Fix: a smaller batch, mixed precision
    (`dtype: mixed_float16`), or downsample earlier."""
    yield from _check_total("max_activation_memory", "CP204", analyses, config)


def check_max_training_memory(graph: Graph, analyses: Analyses,
                              config: CheckConfig) -> Iterator[Finding]:
    """More training memory per replica than `budgets.max_training_memory`.

    The peak of a training step by tensor lifetimes: weights + optimizer slots (Adam: 2 per
    trainable parameter) + the batch + the largest live set (activation memory) at `batch`,
    `dtype` and `optimizer` (docs/memory.md has its measured error against XLA's buffer
    assignment, model by model; framework reserve not included). Fix: a smaller batch per replica (more
    replicas), mixed precision, an optimizer with fewer slots."""
    yield from _check_total("max_training_memory", "CP205", analyses, config)


def _head_fields(graph: Graph, analysis: Analysis):
    seen = set()
    for layer, _ in spatial_heads(graph, analysis):
        if layer not in seen:
            seen.add(layer)
            yield layer, analysis.layer(layer).receptive_field


def _axis_limits(limit: tuple[int, ...], rank: int) -> tuple[int, ...] | None:
    if len(limit) == 1:
        return limit * rank
    return limit if len(limit) == rank else None


def _field_budget(code: str, budget: str, attribute: str, fails: Callable[[object, int], bool],
                  words: str, relation: str, graph: Graph, analyses: Analyses,
                  config: CheckConfig) -> Iterator[Finding]:
    limit = getattr(config.budgets, budget)
    if limit is None:
        return
    for layer, field in _head_fields(graph, analyses.best):
        limits = _axis_limits(limit, len(field))
        if limits is None:
            continue
        values = [arith.simplify_int(getattr(f, attribute)) for f in field]
        if any(not getattr(v, "free_symbols", None) and fails(v, bound)
               for v, bound in zip(values, limits)):
            yield layer_finding(code, graph, layer, f"{words} {'x'.join(map(str, values))} "
                                f"{relation} {budget} {'x'.join(map(str, limit))}")


def check_min_receptive_field(graph: Graph, analyses: Analyses,
                              config: CheckConfig) -> Iterator[Finding]:
    """The last feature maps see fewer input pixels than `budgets.min_receptive_field`.

    A detector whose features see 60 pixels cannot recognize 200-pixel objects from one
    location. Fix: more or larger-stride downsampling, dilated convolutions, more layers."""
    yield from _field_budget("CP206", "min_receptive_field", "size", lambda v, b: v < b,
                             "receptive field", "is smaller than", graph, analyses, config)


def check_max_receptive_field(graph: Graph, analyses: Analyses,
                              config: CheckConfig) -> Iterator[Finding]:
    """The last feature maps see more input pixels than `budgets.max_receptive_field`.

    For local tasks (denoising, super-resolution, patch classifiers) a field larger than the
    patch mixes in unrelated context and wastes compute. Fix: fewer or smaller layers."""
    yield from _field_budget("CP207", "max_receptive_field", "size", lambda v, b: v > b,
                             "receptive field", "is larger than", graph, analyses, config)


def check_output_stride(graph: Graph, analyses: Analyses,
                        config: CheckConfig) -> Iterator[Finding]:
    """The output stride differs from `budgets.output_stride` or exceeds `max_output_stride`.

    Output stride = input pixels between neighbouring output positions (the product of the
    strides on the way). Segmentation and detection heads are designed for one (8, 16, 32).
    Fix: add or remove a downsampling stage, or trade strides for dilation."""
    yield from _field_budget("CP208", "output_stride", "stride", lambda v, b: v != b,
                             "output stride", "differs from", graph, analyses, config)
    yield from _field_budget("CP208", "max_output_stride", "stride", lambda v, b: v > b,
                             "output stride", "is larger than", graph, analyses, config)
