"""What XLA:CPU does to a convolution on a small map, which its counts do not show.

XLA's operand swap (xla/service/conv_operand_swapper.cc, SwapConvolutionOperandsIfBeneficial)
rewrites a convolution with one group whose kernel has more taps than its input map has
positions: over the spatial axes that are not pure contractions (a 'valid' axis with k = n,
stride 1 and dilation 1 contracts the whole axis and is skipped),

    swaps  <=>  prod k_i > prod n_i     (k undilated; an n = 1 axis counts as k where it is
                                         padded by k - 1 on both sides, which no Keras
                                         padding is)

The kernel becomes the operand and the map the window, reversed: a reversed copy of the
kernel is made (docs/memory.md), and XLA:CPU's Eigen path does not take a reversed window,
so the convolution runs in the generic loop emitter, which for every output position sweeps
the kernel's touched taps (docs/time.md):

    swept bytes = B x prod out_i x taps x C_in x C_out x 4

taps = prod over axes of the kernel taps that read the input at some output position
(`touched_taps`: a 5x5 kernel on a 2 x 2 'same' map touches 3 x 3). Measured here (jax
0.10, XLA:CPU): ResNet50's 3x3 512 -> 512 convolutions on 2 x 2 maps run at 1.2 GFLOP/s
against 127 on 7 x 7 maps; a 3x3 on 3 x 2 (9 > 6) as slowly, on 2 x 8 or on 4 x 4 with
dilation 2 (9 <= 16) at full speed. The input gradient is the same swap on the output map
(prod k_i > prod out_i); the kernel's gradient never swaps (its window is the map).
"""

from __future__ import annotations

from collections.abc import Sequence

from convplan.analysis.windows import axis_paddings, conv_output_length, paddings
from convplan.ir import ops as O


def _axes(op: O.Conv, sizes: Sequence[int]) -> list[tuple[int, int, int, int, int, int, int]]:
    """(n, k, s, d, before, after, outputs) per spatial axis of `op` on a map of `sizes`."""
    out = []
    for n, k, s, d, padding in zip(sizes, op.kernel_size, op.strides, op.dilation_rate,
                                   axis_paddings(op.padding, len(sizes))):
        before, after = (int(p) for p in paddings(n, k, s, d, padding))
        outputs = int(conv_output_length(n, k, s, d, padding))
        out.append((n, k, s, d, before, after, outputs))
    return out


def _swaps(op: O.Op, sizes: Sequence[object], gradient: bool) -> bool:
    if not isinstance(op, O.Conv) or op.groups != 1 or len(sizes) != len(op.kernel_size) \
            or not all(isinstance(n, int) for n in sizes):
        return False
    kernel = swapped = 1
    for n, k, s, d, before, after, outputs in _axes(op, sizes):  # type: ignore[arg-type]
        if gradient:
            # the gradient's map is the output; a 'valid' axis with k = n (d = 1) has one
            # output, padded by k - 1 on both sides in the gradient: XLA counts it as k
            if before == after == 0 and k == n and d == 1:
                continue
            kernel *= k
            swapped *= outputs
            continue
        if before == after == 0 and k == n and s == 1 and d == 1:  # a pure contraction
            continue
        kernel *= k
        full = n == 1 and s == 1 and d == 1 and before == after == k - 1
        swapped *= k if full else n
    return kernel > swapped


def swaps_operands(op: O.Op, sizes: Sequence[object]) -> bool:
    """Whether XLA swaps the operands of `op` on an input map of `sizes` (the module
    docstring's rule); False for anything but a one-group Conv at concrete sizes."""
    return _swaps(op, sizes, gradient=False)


def swaps_input_gradient(op: O.Op, sizes: Sequence[object]) -> bool:
    """Whether the input gradient of `op` (on an input map of `sizes`) swaps: the same rule
    with the output map as the gradient's input, prod k_i > prod out_i (a strided 3x3 on a
    4 x 4 map runs its forward fast and its input gradient, on 2 x 2, swapped)."""
    return _swaps(op, sizes, gradient=True)


def touched_taps(op: O.Conv, sizes: Sequence[int]) -> int:
    """The kernel taps that read the input at some output position: per axis, the t < k
    with 0 <= o * s + t * d - before < n for some output o; their product."""
    taps = 1
    for n, k, s, d, before, _, outputs in _axes(op, sizes):
        touched = 0
        for t in range(k):
            offset = t * d - before
            first = max(0, -(offset // s))  # the first output o with o * s + offset >= 0
            touched += first < outputs and first * s + offset < n
        taps *= touched
    return taps


def swept_bytes(op: O.Conv, sizes: Sequence[int], channels: int, batch: int) -> int:
    """Bytes the loop emitter sweeps for a swapped convolution (or its input gradient):
    B x prod out_i x taps x C_in x C_out x 4 (the kernel in float32, as XLA:CPU computes)."""
    positions = 1
    for *_, outputs in _axes(op, sizes):
        positions *= outputs
    return batch * positions * kernel_bytes(op, sizes, channels)


def kernel_bytes(op: O.Conv, sizes: Sequence[int], channels: int) -> int:
    """The touched taps' float32 bytes: taps x C_in x C_out x 4."""
    return touched_taps(op, sizes) * channels * op.filters * 4
