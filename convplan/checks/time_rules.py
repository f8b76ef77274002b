"""Device fit (CP305, CP306): on by `checks.device` (h100, a100-80gb, t4, tpu-v5e, ...,
cpu-local; convplan/devices.py), at `batch` (default 1), `dtype` and `optimizer`.

CP305 uses the time model (convplan.analysis.timing: per layer max(FLOPs / peak, bytes /
bandwidth), docs/time.md); CP306 the training-memory peak by tensor lifetimes
(convplan.analysis.memory, docs/memory.md). Both need concrete sizes; a spec with symbolic
ones is checked at `checks.input_size`.
"""

from __future__ import annotations

from collections.abc import Iterator

from convplan.checks.config import CheckConfig
from convplan.checks.registry import Finding, finding
from convplan.checks.subject import Analyses
from convplan.ir.graph import Graph
from convplan.options import format_bytes

MEMORY_BOUND_SHARE = 0.5  # CP305 fires above this share of the step's lower bound
SHOWN = 3  # layers named in a CP305 message


def _device(config: CheckConfig):
    from convplan.devices import device

    return device(config.device) if config.device else None


def check_memory_bound_time(graph: Graph, analyses: Analyses,
                            config: CheckConfig) -> Iterator[Finding]:
    """Most of a training step's time on `device` is spent in memory-bound layers.

    A layer is memory-bound where its bytes / bandwidth exceed its FLOPs / peak (its
    arithmetic intensity, FLOPs per byte, is below the device's peak / bandwidth). When those
    layers hold more than half of the step's lower bound, FLOPs mispredict the step's time:
    normalizations, activations, depthwise and 1x1 convolutions on small channel counts move
    many bytes for few FLOPs (ShuffleNet V2's point). Fix: fuse elementwise layers into the
    convolutions (XLA's `jit_compile=True`), fewer and wider layers, larger channel counts
    per depthwise block, a larger batch where weights dominate the bytes."""
    chip = _device(config)
    analysis = analyses.concrete
    if chip is None or analysis is None or not analysis.is_concrete:
        return
    from convplan.analysis.timing import time_plan

    plan = time_plan(graph, analysis, chip, config.dtype, config.batch or 1, training=True,
                     optimizer=config.optimizer)
    share = plan.memory_bound_share
    if not isinstance(share, float) or share <= MEMORY_BOUND_SHARE:
        return
    worst = sorted((t for t in plan.layers if t.bound == "memory"), key=lambda t: -t.lower_s)
    names = ", ".join(f"{t.name!r} ({t.op}, {t.intensity:.2g} FLOP/B)" for t in worst[:SHOWN])
    ridge = chip.peak_flops(config.dtype) / chip.bandwidth
    yield finding("CP305", f"on {chip.name} at batch {config.batch or 1} in {config.dtype}, "
                  f"memory-bound layers take {share:.0%} of the training step's lower bound "
                  f"(intensity below {ridge:.0f} FLOP/B); the largest: {names}")


def check_device_memory(graph: Graph, analyses: Analyses,
                        config: CheckConfig) -> Iterator[Finding]:
    """The training step does not fit `device`'s memory at `batch`, `dtype` and `optimizer`.

    The peak by tensor lifetimes: weights + optimizer slots + the batch + the largest set of
    tensors live at one step (docs/memory.md), against the device's capacity as sold
    (framework and driver reserve not subtracted: a design close to the limit fails sooner).
    Fix: a smaller batch per replica (`convplan solve --device ... --max-batch` finds the
    largest that fits), mixed precision, an optimizer with fewer slots, more replicas."""
    chip = _device(config)
    analysis = analyses.concrete
    if chip is None or analysis is None or not analysis.is_concrete:
        return
    memory = analysis.training_memory(config.batch or 1, config.dtype, config.optimizer)
    total = memory.total
    if not isinstance(total, int) or total <= chip.memory:
        return
    yield finding("CP306", f"training memory at batch {config.batch or 1} in {config.dtype} "
                  f"with {config.optimizer}: {format_bytes(total)} ({total:,}) is over "
                  f"{chip.name}'s {format_bytes(chip.memory)} ({chip.description})")
