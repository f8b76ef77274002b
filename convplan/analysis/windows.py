"""Per-axis window arithmetic, one free function per formula (as in Keras's operation_utils).

All take ints or sympy expressions for the input length ``n``; kernel, stride and dilation are
ints, or positive integer symbols where `convplan sweep` varies them (conv and pooling windows
only: the transposed-convolution formulas need ints). Formulas follow TF's kernel_shape_util.cc and Keras's
ops/operation_utils.py and backend/common/backend_utils.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from convplan.analysis.arith import Value, ceildiv, floordiv, maximum, minimum

# One axis's padding: a Keras word, or explicit (before, after) amounts (PyTorch, ONNX).
AxisPadding = str | tuple[int, int]


def axis_paddings(padding: str | Sequence[tuple[int, int]], rank: int) -> list[AxisPadding]:
    """An op's `padding` per spatial axis: the word on every axis, or each axis's pair."""
    if isinstance(padding, str):
        return [padding] * rank
    return [(int(a), int(b)) for a, b in padding]


def describe_padding(padding: AxisPadding) -> str:
    """For messages: 'valid', or 'pads 1 + 2' (before + after)."""
    return repr(padding) if isinstance(padding, str) else f"pads {padding[0]} + {padding[1]}"


def effective_kernel(k: int, d: int) -> int:
    """k_eff = (k - 1) * d + 1: the span of a dilated kernel."""
    return (k - 1) * d + 1


def conv_output_length(n: Value, k: int, s: int, d: int, padding: AxisPadding,
                       ceil_mode: bool = False) -> Value:
    """valid: floor((n - k_eff) / s) + 1; same and causal: floor((n - 1) / s) + 1 = ceil(n / s);
    explicit (b, e): floor((n + b + e - k_eff) / s) + 1 (ONNX's and PyTorch's formula).
    ceil_mode (valid or explicit): see `ceil_output_length`."""
    if padding == "valid":
        padding = (0, 0)
    if isinstance(padding, tuple):
        before, after = padding
        if ceil_mode:
            return ceil_output_length(n, k, s, d, before, after)
        return floordiv(n + before + after - effective_kernel(k, d), s) + 1
    return floordiv(n - 1, s) + 1


def ceil_output_length(n: Value, k: int, s: int, d: int, before: int, after: int) -> Value:
    """PyTorch's and onnxruntime's ceil_mode: q = ceil((n + b + e - k_eff) / s), out = q + 1,
    less one where that last window would start in the right padding (q * s >= n + b).
    With f = floor((n + b - 1) / s) and c = e - k_eff + s, q = floor((n + b - 1 + c) / s):
    c <= 0 gives q <= f (out = q + 1); c >= s gives q > f (out = q); in between q is f or
    f + 1 by n modulo s, and out = min(q, f) + 1 (so also for a sweep's symbolic kernel,
    where pads below the kernel, as PyTorch and onnxruntime require, keep c <= s)."""
    k_eff = effective_kernel(k, d)
    rounded_up = ceildiv(n + before + after - k_eff, s)
    starts_inside = floordiv(n + before - 1, s)
    if all(isinstance(v, int) for v in (k, s, d)):
        c = after - k_eff + s
        if c <= 0:
            return rounded_up + 1
        if c >= s:
            return rounded_up
    return minimum(rounded_up, starts_inside) + 1


def pool_output_length(n: Value, k: int, s: int, padding: AxisPadding,
                       ceil_mode: bool = False) -> Value:
    """Pooling is a window with dilation 1: valid floor((n - k) / s) + 1, same ceil(n / s),
    explicit (b, e) floor((n + b + e - k) / s) + 1; ceil_mode: `ceil_output_length`."""
    return conv_output_length(n, k, s, 1, padding, ceil_mode)


def same_padding(n: Value, k: int, s: int, d: int) -> tuple[Value, Value]:
    """TF 'same': pad_total = max((out - 1) * s + k_eff - n, 0); before = total // 2, and the
    extra pixel, if any, goes after (bottom/right). Where k_eff >= s the max is dropped: out - 1
    = floor((n - 1) / s) >= (n - s) / s, so the total is at least k_eff - s >= 0 for every n;
    a symbolic Max(0, .) there made every later merge of such paths (RegNet's strided blocks)
    compare Max terms sympy cannot simplify (RegNetX002's symbolic analysis: tens of seconds)."""
    out = conv_output_length(n, k, s, d, "same")
    total = (out - 1) * s + effective_kernel(k, d) - n
    always = isinstance(k, int) and isinstance(s, int) and isinstance(d, int) \
        and effective_kernel(k, d) >= s
    pad_total = total if always else maximum(total, 0)
    before = floordiv(pad_total, 2)
    return before, pad_total - before


def paddings(n: Value, k: int, s: int, d: int, padding: AxisPadding) -> tuple[Value, Value]:
    """Rows or columns of zeros added (before, after) the input: (0, 0) valid, (d * (k - 1), 0)
    causal, (b, e) explicit, TF's 'same' split otherwise."""
    if isinstance(padding, tuple):
        return padding
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return d * (k - 1), 0
    return same_padding(n, k, s, d)


def padding_before(n: Value, k: int, s: int, d: int, padding: AxisPadding) -> Value:
    """Rows or columns of zeros added before the input (`paddings`' first)."""
    return paddings(n, k, s, d, padding)[0]


def transpose_output_length(n: Value, k: int, s: int, d: int, padding: AxisPadding,
                            output_padding: int | None) -> Value:
    """Keras conv-transpose length. Without output_padding: valid (n - 1) * s + max(k_eff, s),
    same n * s. With output_padding p: valid (n - 1) * s + k_eff + p,
    same (n - 1) * s + k_eff % 2 + p (Keras pads k_eff // 2 on each side).
    Explicit (b, e), ONNX's and PyTorch's: (n - 1) * s + k_eff + p - b - e (p = 0 if None)."""
    k_eff = effective_kernel(k, d)
    if isinstance(padding, tuple):
        return (n - 1) * s + k_eff + (output_padding or 0) - padding[0] - padding[1]
    if output_padding is None:
        if padding == "valid":
            return (n - 1) * s + max(k_eff, s)
        return n * s
    pad = k_eff // 2 if padding == "same" else 0
    return (n - 1) * s + k_eff - 2 * pad + output_padding


def transpose_padding_before(n_in: Value, n_out: Value, k: int, s: int, d: int,
                             padding: AxisPadding) -> Value:
    """The forward-convolution padding TF uses for a transposed conv: 0 for valid; for same,
    half of max((n_in - 1) * s + k_eff - n_out, 0), rounded down; explicit (b, e): the b
    positions cropped before the full output."""
    if isinstance(padding, tuple):
        return padding[0]
    if padding == "valid":
        return 0
    return floordiv(maximum((n_in - 1) * s + effective_kernel(k, d) - n_out, 0), 2)
