"""Portability (CP5xx): layers whose meaning changes between TF/Keras and PyTorch/ONNX.

Keras pads 'same' windows TF's way: total = max((ceil(n / s) - 1) * s + k_eff - n, 0), total // 2
before and the rest after (bottom/right), so the split depends on n mod s; PyTorch's integer
`padding` is symmetric, ONNX's `pads` explicit per side (`auto_pad=SAME_UPPER` is TF's rule).
PyTorch and ONNX pool with `ceil_mode` and average with `count_include_pad`, which Keras lacks;
Keras's 'same' average pooling divides by the valid cells. Keras flattens NHWC, PyTorch NCHW.

Each finding states the explicit padding or setting that makes the port exact. The rules that
start from a Keras design (CP501, Keras's 'same' average pooling in CP504, CP505) run when the
check is asked about a port (`checks: {port: torch}` or `--port torch|onnx`); those that start
from PyTorch/ONNX attributes (explicit pads, ceil_mode, count_include_pad) always run, since
only an imported model or a spec written in those terms has them.
"""

from __future__ import annotations

from collections.abc import Iterator

from convplan.analysis.shapes import UNIT_WORDS
from convplan.analysis.windows import same_padding
from convplan.checks.config import CheckConfig
from convplan.checks.registry import Finding, layer_finding
from convplan.checks.subject import Analyses, consumers, windows
from convplan.ir import ops as O
from convplan.ir.graph import Graph
from convplan.ir.sign import nonnegative as _nonnegative

Pads = tuple[tuple[int, int], ...]


def tf_same_pads(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    before, after = same_padding(n, k, s, d)
    return int(before), int(after)


def _input_lengths(graph: Graph, analyses: Analyses, name: str) -> list[int] | None:
    """The concrete spatial lengths of the layer's input (None: the sizes are symbolic)."""
    layers = analyses.concrete_layers
    if layers is None:
        return None
    shape = layers[graph[name].inputs[0]].output_shape
    return [int(n) for n in shape[:-1]]


def _keras_padding(pads: Pads) -> str:
    rank = len(pads)
    layer = f"ZeroPadding{rank}D"
    if rank == 1:
        return f"{layer}({pads[0]})"
    return f"{layer}(({', '.join(str(p) for p in pads)}))"


def _torch_pad(pads: Pads) -> str:
    """F.pad / nn.ZeroPad2d take the last axis first: (left, right, top, bottom)."""
    return "(" + ", ".join(str(v) for pair in reversed(pads) for v in pair) + ")"


def _onnx_pads(pads: Pads) -> str:
    """ONNX pads: every axis's begin, then every axis's end."""
    return "[" + ", ".join(str(v) for v in [b for b, _ in pads] + [e for _, e in pads]) + "]"


def _pads_text(pads: Pads, lengths: list[int] | None, rank: int) -> str:
    words = UNIT_WORDS[rank]
    parts = []
    for axis, (b, e) in enumerate(pads):
        at = f" of {lengths[axis]}" if lengths else ""
        parts.append(f"{b} before and {e} after the {words[axis]}{at}")
    return ", ".join(parts)


def _residue_pads(k: int, s: int, d: int) -> str:
    """TF's split for each n mod s (n >= the window), for symbolic sizes."""
    k_eff = (k - 1) * d + 1
    cases = []
    for r in range(s):
        total = max((s - r) % s + k_eff - s, 0)
        cases.append(f"n % {s} == {r}: ({total // 2}, {total - total // 2})" if s > 1 else
                     f"({total // 2}, {total - total // 2})")
    return "; ".join(cases)


def _same_upper(per_axis: list[tuple[int, int, int]]) -> str:
    """ONNX's auto_pad='SAME_UPPER' is TF's rule where k_eff >= s; below, onnxruntime computes
    a negative total for some sizes (TF clamps it to 0) and refuses to run."""
    if all((k - 1) * d + 1 >= s for k, s, d in per_axis):
        return " (or auto_pad='SAME_UPPER')"
    return ""


def check_same_padding_port(graph: Graph, analyses: Analyses,
                            config: CheckConfig) -> Iterator[Finding]:
    """Keras 'same' padding that PyTorch's symmetric integer padding cannot express (port).

    TF pads total = max((ceil(n / s) - 1) * s + k_eff - n, 0), total // 2 before and the extra
    row after (bottom/right): at stride 1 an even kernel (total k_eff - 1 odd), at stride s
    every size whose total is odd (a 3x3 stride-2 convolution on 224 rows: 0 before, 1 after;
    on 225 rows: 1 and 1). PyTorch's `padding=k // 2` pads both sides alike, so the port
    computes on inputs shifted by a pixel and, where the total differs, gives another size.
    The finding gives the exact split at the checked size (per n mod s where the size is
    symbolic) and the port that reproduces it: `nn.ZeroPad2d((left, right, top, bottom))` (or
    `F.pad`) then `padding=0` in PyTorch, `pads=[top, left, bottom, right]` or
    `auto_pad='SAME_UPPER'` in ONNX, and in Keras `ZeroPadding2D(((top, bottom), (left,
    right)))` + 'valid' for a convolution (exact, checked against TF). Max pooling pads -inf:
    ONNX's pads do; in PyTorch `F.pad(x, pads, value=-inf)`. Average pooling: CP504. Runs with
    `port: torch` or `port: onnx`."""
    if config.port is None:
        return
    for node in graph:
        op = node.op
        per_axis = windows(op)
        if per_axis is None or getattr(op, "padding", None) != "same" or \
                isinstance(op, O.AveragePooling):
            continue
        lengths = _input_lengths(graph, analyses, node.name)
        rank = len(per_axis)
        if lengths is not None:
            pads = tuple(tf_same_pads(n, k, s, d) for n, (k, s, d) in zip(lengths, per_axis))
            if all(b == e for b, e in pads):
                continue
            text = f"TF pads {_pads_text(pads, lengths, rank)}"
            fixes = [f"PyTorch nn.ZeroPad2d({_torch_pad(pads)}) (F.pad) then padding=0"
                     if rank == 2 else f"PyTorch F.pad(x, {_torch_pad(pads)}) then padding=0",
                     f"ONNX pads={_onnx_pads(pads)}" + _same_upper(per_axis)]
            if isinstance(op, O.MaxPooling):
                fixes[0] = f"PyTorch F.pad(x, {_torch_pad(pads)}, value=-inf) then padding=0"
            else:
                fixes.append(f"Keras {_keras_padding(pads)} + padding='valid'")
            symmetric = [max(k - 1, 0) * d // 2 for k, _, d in per_axis]
            yield layer_finding("CP501", graph, node.name,
                                f"{text}; PyTorch's padding={tuple(symmetric)} would pad "
                                "evenly and shift the result. Exact port: " + "; ".join(fixes))
            continue
        uneven = []
        for axis, (k, s, d) in enumerate(per_axis):
            k_eff = (k - 1) * d + 1
            if any((max((s - r) % s + k_eff - s, 0)) % 2 for r in range(s)):
                uneven.append(f"{UNIT_WORDS[rank][axis]}: {_residue_pads(k, s, d)}")
        if uneven:
            strided = any(s > 1 for _, s, _ in per_axis)
            value = ", value=-inf" if isinstance(op, O.MaxPooling) else ""
            yield layer_finding("CP501", graph, node.name,
                                ("TF's (before, after) split depends on the input length n: "
                                 if strided else "TF pads (before, after): ")
                                + "; ".join(uneven) + ". Exact port: pad that split explicitly "
                                f"(PyTorch F.pad(x, pads{value}) then padding=0; ONNX pads or "
                                "auto_pad='SAME_UPPER'); PyTorch's symmetric padding shifts it")


def check_explicit_padding_port(graph: Graph, analyses: Analyses,
                                config: CheckConfig) -> Iterator[Finding]:
    """PyTorch/ONNX per-side padding that Keras's 'same' or 'valid' does not compute.

    A convolution or pooling with explicit `pads` (an imported ONNX model, or a spec written
    with PyTorch's padding) ports to Keras exactly as `ZeroPadding2D(((top, bottom), (left,
    right)))` then 'valid'; Keras's 'same' computes the same only where TF's split equals the
    pads at that size (PyTorch's padding=3 on ResNet's 7x7 stride-2 stem at 224 is (3, 3);
    'same' pads (2, 3): every output moves by a pixel). Max pooling pads -inf in ONNX and
    PyTorch, so zeros are exact only after a ReLU-like activation; otherwise 'same' (which
    ignores the padding) where it matches. Average pooling: CP504. Not reported: pads that
    are 0 or that equal 'same' at the checked size."""
    for node in graph:
        op = node.op
        per_axis = windows(op)
        padding = getattr(op, "padding", None)
        if per_axis is None or isinstance(padding, str) or padding is None or \
                isinstance(op, O.AveragePooling):
            continue
        pads: Pads = tuple((int(b), int(e)) for b, e in padding)
        if all(b == 0 and e == 0 for b, e in pads):
            continue
        lengths = _input_lengths(graph, analyses, node.name)
        rank = len(per_axis)
        if lengths is not None:
            same = tuple(tf_same_pads(n, k, s, d) for n, (k, s, d) in zip(lengths, per_axis))
            if same == pads:
                continue
            where = f"Keras's 'same' would pad {_pads_text(same, lengths, rank)}"
        else:
            where = "Keras's 'same' pads by TF's rule, which depends on the size"
        if isinstance(op, O.MaxPooling) and not _nonnegative(graph, node.inputs[0]):
            fix = ("no single Keras layer: zeros padded before MaxPooling can win where ONNX "
                   "pads -inf (exact after a ReLU: " + _keras_padding(pads) + " + 'valid')")
        else:
            fix = f"{_keras_padding(pads)} then padding='valid'"
        yield layer_finding("CP502", graph, node.name,
                            f"pads {_pads_text(pads, lengths, rank)}; {where}. "
                            f"Exact Keras port: {fix}")


def _ceil_extra(n: int, k: int, s: int, b: int, e: int) -> int:
    """Rows ceil_mode adds past the right padding: the last window's end minus n + b + e."""
    floor_out = (n + b + e - k) // s + 1
    ceil_out = min(-(-(n + b + e - k) // s), (n + b - 1) // s) + 1
    if ceil_out <= floor_out:
        return 0
    return (ceil_out - 1) * s + k - (n + b + e)


def check_ceil_mode_pooling(graph: Graph, analyses: Analyses,
                            config: CheckConfig) -> Iterator[Finding]:
    """Pooling with ceil_mode (PyTorch/ONNX), which Keras has no setting for.

    With padding b before and e after, ceil_mode gives min(ceil((n + b + e - k) / s),
    floor((n + b - 1) / s)) + 1 windows instead of floor(...) + 1: a last window that
    hangs over the end (PyTorch's and onnxruntime's rule; one starting in the right padding is
    dropped). Reported where that adds a window at the checked size (or may, for symbolic
    sizes). Exact Keras port: the extra rows as padding after, then 'valid': for max pooling
    padding='same' where TF's split equals (b, e + extra) (it ignores the padding, as -inf
    does), else ZeroPadding after a ReLU-like activation; for average pooling the last
    windows divide by the cells inside the padded input only, which no single Keras layer
    does unless 'same' matches and count_include_pad is false."""
    for node in graph:
        op = node.op
        if not isinstance(op, O.Pooling) or not op.ceil_mode:
            continue
        padding = op.padding if isinstance(op.padding, tuple) else \
            tuple((0, 0) for _ in op.pool_size)
        lengths = _input_lengths(graph, analyses, node.name)
        rank = len(op.pool_size)
        if lengths is None:
            yield layer_finding("CP503", graph, node.name,
                                "ceil_mode adds a last window wherever (n + pads - k) is not a "
                                "multiple of the stride; check at a concrete size (--input-size)"
                                " for the exact padding")
            continue
        extra = [_ceil_extra(n, k, s, b, e) for n, k, s, (b, e) in
                 zip(lengths, op.pool_size, op.strides, padding)]
        if not any(extra):
            continue
        pads: Pads = tuple((b, e + x) for (b, e), x in zip(padding, extra))
        same = tuple(tf_same_pads(n, k, s, 1) for n, k, s in
                     zip(lengths, op.pool_size, op.strides))
        if isinstance(op, O.MaxPooling):
            if same == pads:
                fix = "padding='same' (TF's split is the same here)"
            elif _nonnegative(graph, node.inputs[0]):
                fix = f"{_keras_padding(pads)} + padding='valid' (the input is >= 0)"
            else:
                fix = (f"pad {_pads_text(pads, lengths, rank)} with -inf, then 'valid': no "
                       "Keras padding layer pads -inf")
        elif same == pads and not op.count_include_pad:
            fix = "padding='same' (TF's split is the same here and it divides by valid cells)"
        else:
            fix = ("no single Keras layer: the last windows divide by their cells inside the "
                   "padded input")
        yield layer_finding("CP503", graph, node.name,
                            "ceil_mode adds " + ", ".join(
                                f"{x} {UNIT_WORDS[rank][i]}" for i, x in enumerate(extra) if x)
                            + " past the input (a last window that floor would drop). "
                            f"Exact Keras port: {fix}")


def check_average_pool_padding(graph: Graph, analyses: Analyses,
                               config: CheckConfig) -> Iterator[Finding]:
    """Average pooling whose border windows are divided differently across frameworks.

    PyTorch's AvgPool counts padded zeros in the divisor by default (`count_include_pad=True`;
    ONNX's attribute, default 0); Keras's 'same' average pooling divides by the valid cells
    only (tensorflow#45579). An explicit `count_include_pad=True` pooling ports to Keras
    exactly as `ZeroPadding2D(((top, bottom), (left, right)))` + 'valid' AveragePooling2D (the
    zeros are then cells; checked against onnxruntime). One with `count_include_pad=False`
    and explicit pads is Keras's 'same' only where TF's split equals the pads. Keras's 'same'
    (with `port: torch|onnx`) needs `count_include_pad=False` and TF's split: ONNX
    `AveragePool(pads=..., count_include_pad=0)` or auto_pad='SAME_UPPER'; PyTorch's
    `AvgPool2d(padding=p, count_include_pad=False)` where the split is symmetric."""
    for node in graph:
        op = node.op
        if not isinstance(op, O.AveragePooling):
            continue
        lengths = _input_lengths(graph, analyses, node.name)
        per_axis = windows(op) or []
        rank = len(per_axis)
        same = None if lengths is None else tuple(
            tf_same_pads(n, k, s, d) for n, (k, s, d) in zip(lengths, per_axis))
        if op.padding == "same":
            if config.port is None or (same is not None and not any(b or e for b, e in same)):
                continue
            if same is None:
                split = "TF's split for the size"
            else:
                split = f"pads={_onnx_pads(same)}"
            torch_fix = ""
            if same is not None and all(b == e for b, e in same):
                torch_fix = (f"; PyTorch AvgPool{rank}d(padding={tuple(b for b, _ in same)}, "
                             "count_include_pad=False)")
            elif same is not None:
                torch_fix = "; PyTorch's AvgPool pads evenly only: not one PyTorch layer"
            yield layer_finding("CP504", graph, node.name,
                                "Keras's 'same' average divides border windows by their valid "
                                "cells, PyTorch's AvgPool (count_include_pad=True by default) "
                                f"by the whole window. Exact port: ONNX AveragePool({split}, "
                                f"count_include_pad=0){torch_fix}")
            continue
        if not isinstance(op.padding, tuple):
            continue
        pads: Pads = tuple((int(b), int(e)) for b, e in op.padding)
        if not any(b or e for b, e in pads):
            continue
        if op.count_include_pad:
            yield layer_finding("CP504", graph, node.name,
                                "count_include_pad divides border windows by the whole window, "
                                "padded zeros included; Keras's 'same' would divide by the "
                                f"valid cells. Exact Keras port: {_keras_padding(pads)} + "
                                "AveragePooling 'valid'")
        elif same != pads:
            yield layer_finding("CP504", graph, node.name,
                                "count_include_pad=False divides by the valid cells, as Keras's "
                                "'same' does, but " + (
                                    f"TF's split there is {_onnx_pads(same)}, not "
                                    f"{_onnx_pads(pads)}" if same is not None else
                                    "TF's split depends on the size") +
                                ": no single Keras layer is exact")


def _reaches_dense(graph: Graph, users: dict[str, list[str]], name: str) -> str | None:
    """The Dense layer the flattened vector feeds, through elementwise layers and Dropout."""
    for user in users[name]:
        op = graph[user].op
        if isinstance(op, O.Dense):
            return user
        if op.elementwise or isinstance(op, O.Dropout):
            found = _reaches_dense(graph, users, user)
            if found:
                return found
    return None


def check_flatten_order(graph: Graph, analyses: Analyses,
                        config: CheckConfig) -> Iterator[Finding]:
    """Flatten of a feature map into a Dense layer: Keras flattens NHWC, PyTorch NCHW.

    Keras's Flatten orders (row, column, channel), PyTorch's `x.flatten(1)` and ONNX's
    Flatten after NCHW layers (channel, row, column), so the Dense/Linear/Gemm weights of
    one do not load into the other as they are. Exact port: `Permute((3, 1, 2))` before
    Flatten in Keras (it flattens channels first: PyTorch's weights load unchanged), or
    reorder the kernel's rows: `kernel.reshape(H, W, C, units).transpose(2, 0, 1, 3)
    .reshape(-1, units)`. Not reported where the orders coincide (a 1x1 map or one channel)
    or a Permute already puts channels first. Runs with `port: torch` or `port: onnx`."""
    if config.port is None:
        return
    users = consumers(graph)
    layers = analyses.concrete_layers or analyses.symbolic_layers
    if layers is None:
        return
    for node in graph:
        if not isinstance(node.op, O.Flatten):
            continue
        source = node.inputs[0]
        shape = layers[source].output_shape
        rank = len(shape) - 1
        if rank < 1 or rank > 3:
            continue
        spatial, channels = shape[:-1], shape[-1]
        if channels == 1 or all(n == 1 for n in spatial):
            continue
        producer = graph[source].op
        if isinstance(producer, O.Permute) and producer.dims[0] == rank + 1:
            continue
        dense = _reaches_dense(graph, users, node.name)
        if dense is None:
            continue
        dims = "x".join(str(n) if isinstance(n, int) else f"({n})" for n in (*spatial, channels))
        order = ", ".join(str(i) for i in (rank + 1, *range(1, rank + 1)))
        yield layer_finding("CP505", graph, node.name,
                            f"flattens a {dims} map (NHWC order) into Dense {dense!r}; PyTorch "
                            f"and ONNX flatten channels first. Exact port: Permute(({order})) "
                            "before Flatten, or reorder the kernel's rows (channels first)")
