"""One converter per ONNX op type: (builder, node) -> the node's output values.

Windows keep ONNX's exact semantics in the IR: `pads` become explicit per-side padding,
auto_pad SAME_UPPER is TensorFlow's 'same' (the extra row after), SAME_LOWER explicit amounts
where they do not depend on the input size, ceil_mode and count_include_pad as given. Shape
ops on constants (Shape, Gather, Unsqueeze, Concat, Slice, Cast, arithmetic) are folded, sizes
as sympy expressions; the same ops on the network's data are refused with one line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from convplan.analysis import arith
from convplan.analysis.windows import effective_kernel
from convplan.frontends.onnx_graph import Builder
from convplan.frontends.onnx_values import (
    BATCH,
    MAX_CONSTANT_VALUES,
    Const,
    Tensor,
    channels_first_axes,
    identity_axes,
)
from convplan.ir import ops as O

Converter = Callable[[Builder, Any], list[Tensor | Const]]
CONVERTERS: dict[str, Converter] = {}


def converts(*op_types: str) -> Callable[[Converter], Converter]:
    def register(function: Converter) -> Converter:
        for op_type in op_types:
            CONVERTERS[op_type] = function
        return function
    return register


def attributes(node: Any) -> dict[str, Any]:
    from onnx import helper

    out = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        out[attr.name] = value.decode() if isinstance(value, bytes) else value
    return out


def _inputs(node: Any) -> list[str]:
    return list(node.input)


def _optional(node: Any, index: int) -> str | None:
    return node.input[index] if len(node.input) > index and node.input[index] else None


def _ints(b: Builder, value: Any, what: str) -> list[int]:
    values = [int(v) for v in np.asarray(value).reshape(-1)]
    return values


# ---------------------------------------------------------------- windows


def _window_pads(b: Builder, a: dict[str, Any], rank: int, sizes: list[Any],
                 kernel: list[int], strides: list[int], dilations: list[int]) -> Any:
    """ONNX pads/auto_pad -> the IR's padding: 'same' (SAME_UPPER: TF's split), explicit
    pairs (pads, VALID, SAME_LOWER where its amounts do not depend on the size)."""
    auto = a.get("auto_pad", "NOTSET")
    if auto == "VALID":
        return tuple((0, 0) for _ in range(rank))
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        # total = max((ceil(n / s) - 1) s + k_eff - n, 0), the extra one after (UPPER, TF's
        # 'same') or before (LOWER); explicit amounts where they do not depend on the size
        sized = all(s == 1 or arith.is_concrete(n) for n, s in zip(sizes, strides))
        if not sized and auto == "SAME_UPPER":
            return "same"
        if not sized:
            raise b.error("auto_pad SAME_LOWER with stride > 1 pads by an amount that "
                          "depends on the input size modulo the stride; give the input a "
                          "fixed size or export with explicit pads")
        pairs = []
        for n, k, s, d in zip(sizes, kernel, strides, dilations):
            k_eff = effective_kernel(k, d)
            out = arith.floordiv(n - 1, s) + 1 if s != 1 else n
            total = max(int(arith.simplify_int((out - 1) * s + k_eff - n)), 0)
            first = total // 2 if auto == "SAME_UPPER" else total - total // 2
            pairs.append((first, total - first))
        return tuple(pairs)
    if auto != "NOTSET":
        raise b.error(f"auto_pad {auto!r} is not an ONNX value")
    pads = list(a.get("pads", [0] * (2 * rank)))
    if len(pads) != 2 * rank or any(p < 0 for p in pads):
        raise b.error(f"pads {pads} must hold {2 * rank} non-negative amounts (begins, then "
                      "ends)")
    return tuple((pads[i], pads[i + rank]) for i in range(rank))


def _per_axis(b: Builder, a: dict[str, Any], key: str, rank: int, default: int) -> list[int]:
    values = list(a.get(key, [default] * rank))
    if len(values) != rank or any(v < 1 for v in values):
        raise b.error(f"{key} {values} must hold {rank} positive integers")
    return [int(v) for v in values]


CONV_CLASSES = {1: O.Conv1D, 2: O.Conv2D, 3: O.Conv3D}
DEPTHWISE_CLASSES = {1: O.DepthwiseConv1D, 2: O.DepthwiseConv2D}
TRANSPOSE_CLASSES = {1: O.Conv1DTranspose, 2: O.Conv2DTranspose, 3: O.Conv3DTranspose}


@converts("Conv")
def conv(b: Builder, node: Any) -> list[Tensor | Const]:
    """Conv: W (M, C/group, k...) -> Conv with filters M; group == C > 1 on 1 or 2 spatial
    axes -> Depthwise (multiplier M / C), otherwise Conv's groups."""
    a = attributes(node)
    x = b.channels_last(b.tensor(node.input[0]))
    w = b.const(node.input[1], "weight", need_values=False)
    rank = len(w.dims) - 2
    if rank not in CONV_CLASSES or x.rank != rank + 2:
        raise b.error(f"weight dims {list(w.dims)} do not fit an input of rank {x.rank}")
    kernel = list(a.get("kernel_shape", w.dims[2:]))
    if kernel != list(w.dims[2:]):
        raise b.error(f"kernel_shape {kernel} differs from the weight's {list(w.dims[2:])}")
    strides = _per_axis(b, a, "strides", rank, 1)
    dilations = _per_axis(b, a, "dilations", rank, 1)
    group = int(a.get("group", 1))
    shape = b.shape_of(x)
    channels = shape[-1]
    if group < 1 or not arith.is_concrete(channels) or w.dims[1] * group != int(channels):
        raise b.error(f"weight dims {list(w.dims)} with group {group} need "
                      f"{w.dims[1] * group} input channels, received {channels}")
    padding = _window_pads(b, a, rank, list(shape[:-1]), kernel, strides, dilations)
    bias = _optional(node, 2) is not None
    common = dict(kernel_size=tuple(kernel), strides=tuple(strides),
                  dilation_rate=tuple(dilations), padding=padding, use_bias=bias)
    filters = w.dims[0]
    if group > 1 and group == int(channels) and rank in DEPTHWISE_CLASSES \
            and filters % group == 0:
        return [b.make(DEPTHWISE_CLASSES[rank], [x], depth_multiplier=filters // group,
                       **common)]
    return [b.make(CONV_CLASSES[rank], [x], filters=filters, groups=group, **common)]


@converts("ConvTranspose")
def conv_transpose(b: Builder, node: Any) -> list[Tensor | Const]:
    """ConvTranspose: W (C, M/group, k...); out = s (n - 1) + output_padding + k_eff - pads;
    output_shape sets the pads (total = s (n - 1) + output_padding + k_eff - output_shape,
    the extra one at the end unless SAME_UPPER puts it first, as onnxruntime does); auto_pad
    SAME_* makes out = n * s."""
    a = attributes(node)
    x = b.channels_last(b.tensor(node.input[0]))
    w = b.const(node.input[1], "weight", need_values=False)
    rank = len(w.dims) - 2
    if rank not in TRANSPOSE_CLASSES or x.rank != rank + 2:
        raise b.error(f"weight dims {list(w.dims)} do not fit an input of rank {x.rank}")
    group = int(a.get("group", 1))
    if group != 1:
        raise b.error(f"group {group}: grouped transposed convolutions are not modelled")
    kernel = list(a.get("kernel_shape", w.dims[2:]))
    strides = _per_axis(b, a, "strides", rank, 1)
    dilations = _per_axis(b, a, "dilations", rank, 1)
    output_padding = [int(p) for p in a.get("output_padding", [0] * rank)]
    if any(p >= s for p, s in zip(output_padding, strides)):
        # onnxruntime: the extra rows would make the matching convolution one output longer
        raise b.error(f"output_padding {output_padding} must be smaller than the strides "
                      f"{strides} (onnxruntime refuses it: the output no longer convolves back "
                      "to the input's size)")
    shape = b.shape_of(x)
    if w.dims[0] != shape[-1]:
        raise b.error(f"weight dims {list(w.dims)} need {w.dims[0]} input channels, received "
                      f"{shape[-1]}")
    auto = a.get("auto_pad", "NOTSET")
    pairs = []
    wanted = a.get("output_shape")
    for i, (n, k, s, d, p) in enumerate(zip(shape[:-1], kernel, strides, dilations,
                                            output_padding)):
        full = (n - 1) * s + p + effective_kernel(k, d)
        if wanted is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
            target = wanted[len(wanted) - rank + i] if wanted is not None else n * s
            total = arith.simplify_int(full - target)
            if not arith.is_concrete(total):
                raise b.error("output_shape with an input of symbolic size sets pads that "
                              "depend on it; give the input a fixed size")
            total = int(total)
            if total < 0 and wanted is None:
                total = 0  # onnxruntime: SAME pads at least 0, the output stays the full one
            if total < 0:
                raise b.error(f"output_shape {list(wanted or [])} is larger than the "
                              f"{full} positions the kernel scatters into")
            first = total - total // 2 if auto == "SAME_UPPER" else total // 2
            pairs.append((first, total - first))
        elif auto == "VALID":
            pairs.append((0, 0))
        else:
            pads = list(a.get("pads", [0] * (2 * rank)))
            pairs.append((int(pads[i]), int(pads[i + rank])))
    return [b.make(TRANSPOSE_CLASSES[rank], [x], filters=w.dims[1], kernel_size=tuple(kernel),
                   strides=tuple(strides), dilation_rate=tuple(dilations),
                   padding=tuple(pairs), use_bias=_optional(node, 2) is not None,
                   output_padding=tuple(output_padding) if any(output_padding) else None)]


MAX_POOL = {1: O.MaxPooling1D, 2: O.MaxPooling2D, 3: O.MaxPooling3D}
AVERAGE_POOL = {1: O.AveragePooling1D, 2: O.AveragePooling2D, 3: O.AveragePooling3D}


@converts("MaxPool", "AveragePool")
def pool(b: Builder, node: Any) -> list[Tensor | Const]:
    """MaxPool/AveragePool: ONNX's strides default to 1 (Keras's to the pool size)."""
    if len(node.output) > 1 and node.output[1]:
        raise b.error("MaxPool's Indices output is not modelled")
    a = attributes(node)
    x = b.channels_last(b.tensor(node.input[0]))
    rank = x.rank - 2
    kernel = _per_axis(b, a, "kernel_shape", rank, 0)
    strides = _per_axis(b, a, "strides", rank, 1)
    dilations = _per_axis(b, a, "dilations", rank, 1)
    if any(d != 1 for d in dilations):
        raise b.error(f"dilations {dilations}: dilated pooling is not modelled")
    shape = b.shape_of(x)
    padding = _window_pads(b, a, rank, list(shape[:-1]), kernel, strides, dilations)
    # under auto_pad SAME_* the output is ceil(n / s) whatever ceil_mode says (onnxruntime)
    ceil_mode = bool(a.get("ceil_mode", 0)) and a.get("auto_pad", "NOTSET") in ("NOTSET",
                                                                              "VALID")
    extra = {}
    if node.op_type == "AveragePool":
        extra["count_include_pad"] = bool(a.get("count_include_pad", 0))
    table = MAX_POOL if node.op_type == "MaxPool" else AVERAGE_POOL
    return [b.make(table[rank], [x], pool_size=tuple(kernel), strides=tuple(strides),
                   padding=padding, ceil_mode=ceil_mode, **extra)]


GLOBAL_MAX = {1: O.GlobalMaxPooling1D, 2: O.GlobalMaxPooling2D, 3: O.GlobalMaxPooling3D}
GLOBAL_AVERAGE = {1: O.GlobalAveragePooling1D, 2: O.GlobalAveragePooling2D,
                  3: O.GlobalAveragePooling3D}


@converts("GlobalAveragePool", "GlobalMaxPool")
def global_pool(b: Builder, node: Any) -> list[Tensor | Const]:
    """(N, C, spatial...) -> (N, C, 1, ...): global pooling with keepdims."""
    x = b.channels_last(b.tensor(node.input[0]))
    table = GLOBAL_AVERAGE if node.op_type == "GlobalAveragePool" else GLOBAL_MAX
    return [b.make(table[x.rank - 2], [x], keepdims=True)]


# ---------------------------------------------------------------- normalizations


def _channel_tensor(b: Builder, node: Any) -> Tensor:
    """The input with ONNX's axis 1 as convplan's last (rank 2: already so)."""
    x = b.tensor(node.input[0])
    return x if x.rank == 2 else b.channels_last(x)


@converts("BatchNormalization")
def batch_norm(b: Builder, node: Any) -> list[Tensor | Const]:
    """Scale, B, mean, var over axis 1: Keras's BatchNormalization (4 C params, 2 C of them
    the moving statistics)."""
    a = attributes(node)
    if a.get("training_mode", 0) or (len(node.output) > 1 and any(node.output[1:])):
        raise b.error("training_mode (running statistics as outputs) is not modelled")
    x = _channel_tensor(b, node)
    return [b.make(O.BatchNormalization, [x], epsilon=float(a.get("epsilon", 1e-5)),
                   momentum=float(a.get("momentum", 0.9)))]


@converts("InstanceNormalization")
def instance_norm(b: Builder, node: Any) -> list[Tensor | Const]:
    """Per sample and channel over the spatial axes: GroupNormalization with one channel
    per group (scale and B: 2 C params)."""
    a = attributes(node)
    x = b.channels_last(b.tensor(node.input[0]))
    return [b.make(O.GroupNormalization, [x], groups=-1,
                   epsilon=float(a.get("epsilon", 1e-5)))]


@converts("GroupNormalization")
def group_norm(b: Builder, node: Any) -> list[Tensor | Const]:
    """num_groups groups of channels (opset 18's scale of one per group is counted per
    channel, as opset 21 and PyTorch hold it)."""
    a = attributes(node)
    x = b.channels_last(b.tensor(node.input[0]))
    return [b.make(O.GroupNormalization, [x], groups=int(a["num_groups"]),
                   epsilon=float(a.get("epsilon", 1e-5)))]


@converts("LayerNormalization")
def layer_norm(b: Builder, node: Any) -> list[Tensor | Const]:
    """Over ONNX axes axis..last; modelled where that is one axis (the last), as PyTorch's
    LayerNorm over the channels of an NHWC tensor (ConvNeXt) or of features."""
    a = attributes(node)
    x = b.tensor(node.input[0])
    axis = int(a.get("axis", -1))
    if axis < 0:
        axis += x.rank
    if axis != x.rank - 1:
        raise b.error(f"axis {a.get('axis', -1)} normalizes over several axes; only the last "
                      "one is modelled")
    last = x.axes[-1]
    use_bias = _optional(node, 2) is not None
    return [b.make(O.LayerNormalization, [x], axis=last + 1 if last < x.rank - 2 else -1,
                   epsilon=float(a.get("epsilon", 1e-5)), center=use_bias)]


# ---------------------------------------------------------------- elementwise

ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hard_swish",
               "HardSigmoid": "hard_sigmoid", "Softplus": "softplus", "Softsign": "softsign",
               "Selu": "selu", "Gelu": "gelu", "Mish": "mish", "Exp": "exponential",
               "Celu": "celu"}


@converts(*ACTIVATIONS)
def activation(b: Builder, node: Any) -> list[Tensor | Const]:
    return [b.make(O.Activation, [b.tensor(node.input[0])],
                   activation=ACTIVATIONS[node.op_type])]


@converts("Erf")
def erf(b: Builder, node: Any) -> list[Tensor | Const]:
    """erf, elementwise (GELU's exact form x * 0.5 * (1 + erf(x / sqrt 2)) as exported): no
    params, no MACs (as PyTorch's FlopCounterMode, which counts only matmul and convolution),
    1 FLOP per element, as the Add/Mul around it."""
    return [b.make(O.Custom, [b.tensor(node.input[0])], class_name="ONNX Erf",
                   flops_per_element=1)]


@converts("Relu")
def relu(b: Builder, node: Any) -> list[Tensor | Const]:
    return [b.make(O.ReLU, [b.tensor(node.input[0])])]


@converts("LeakyRelu")
def leaky_relu(b: Builder, node: Any) -> list[Tensor | Const]:
    alpha = float(attributes(node).get("alpha", 0.01))
    return [b.make(O.LeakyReLU, [b.tensor(node.input[0])], negative_slope=alpha)]


@converts("Elu")
def elu(b: Builder, node: Any) -> list[Tensor | Const]:
    alpha = float(attributes(node).get("alpha", 1.0))
    return [b.make(O.ELU, [b.tensor(node.input[0])], alpha=alpha)]


def _scalar(b: Builder, name: str | None, what: str) -> float | None:
    if name is None:
        return None
    values = b.const(name, what).values
    if np.asarray(values).size != 1:
        raise b.error(f"its {what} must be a single number")
    return float(np.asarray(values).reshape(-1)[0])


@converts("Clip")
def clip(b: Builder, node: Any) -> list[Tensor | Const]:
    """Clip(0, max): ReLU with max_value (ReLU6: max 6); other lower bounds are not modelled."""
    a = attributes(node)
    if b.opset < 11:
        low, high = a.get("min"), a.get("max")
    else:
        low, high = _scalar(b, _optional(node, 1), "min"), _scalar(b, _optional(node, 2), "max")
    if low != 0.0:
        raise b.error(f"Clip with min {low} is not modelled (min 0 is a ReLU)")
    max_value = None if high is None or high == float("inf") else float(high)
    return [b.make(O.ReLU, [b.tensor(node.input[0])], max_value=max_value)]


@converts("Softmax")
def softmax(b: Builder, node: Any) -> list[Tensor | Const]:
    x = b.tensor(node.input[0])
    axis = int(attributes(node).get("axis", -1 if b.opset >= 13 else 1))
    axis = axis + x.rank if axis < 0 else axis
    if axis == 0:
        raise b.error("softmax over the batch axis is not modelled")
    if b.opset < 13 and axis != x.rank - 1:
        raise b.error(f"opset {b.opset} softmax flattens axes {axis}.. first; not modelled")
    return [b.make(O.Softmax, [x], axis=x.axes[axis - 1] + 1)]


@converts("Identity", "Dropout")
def identity(b: Builder, node: Any) -> list[Tensor | Const]:
    """The identity at inference (Dropout's mask output is refused)."""
    if node.op_type == "Dropout" and len(node.output) > 1 and node.output[1]:
        raise b.error("Dropout's mask output is not modelled")
    return [b.value(node.input[0])]


MERGES = {"Add": O.Add, "Sub": O.Subtract, "Mul": O.Multiply, "Max": O.Maximum,
          "Min": O.Minimum, "Sum": O.Add, "Mean": O.Average}


@converts("Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean")
def binary(b: Builder, node: Any) -> list[Tensor | Const]:
    """Two tensors: a Keras merge (numpy broadcasting, same rank); a tensor and a scalar
    constant: Rescaling; a tensor and a constant that broadcasts into it: a bias folded into
    the MatMul/Conv before it where it is one, else an elementwise layer whose params are the
    constant's values (a learned scale, as ConvNeXt's layer scale); constants: folded."""
    values = [b.value(n) for n in node.input]
    if all(isinstance(v, Const) for v in values):
        return [fold_arithmetic(b, node, values)]  # type: ignore[arg-type]
    tensors = [v for v in values if isinstance(v, Tensor)]
    if len(tensors) == len(values):
        if node.op_type == "Div":
            raise b.error("dividing one computed tensor by another is not modelled")
        first = tensors[0]
        ranks = {t.rank for t in tensors}
        if len(ranks) > 1:
            raise b.error("inputs of different ranks: broadcasting across ranks is not "
                          "modelled")
        aligned = [first] + [b.relaid(t, first.axes) for t in tensors[1:]]
        return [b.make(MERGES[node.op_type], aligned)]
    if len(values) != 2:
        raise b.error("constants among more than two inputs are not modelled")
    x = tensors[0]
    const = next(v for v in values if isinstance(v, Const))
    const_first = isinstance(values[0], Const)
    if const.size == 1 and const.values is not None and node.op_type in ("Add", "Sub", "Mul",
                                                                           "Div"):
        v = float(np.asarray(const.values).reshape(-1)[0])
        if node.op_type == "Add":
            scale, offset = 1.0, v
        elif node.op_type == "Sub":
            scale, offset = (-1.0, v) if const_first else (1.0, -v)
        elif node.op_type == "Mul":
            scale, offset = v, 0.0
        else:
            if const_first:
                raise b.error("a constant divided by the data is not modelled")
            if v == 0:
                raise b.error("division by the constant 0")
            scale, offset = 1.0 / v, 0.0
        return [b.make(O.Rescaling, [x], scale=scale, offset=offset)]
    dims = _broadcast_into(b, x, const)
    if node.op_type == "Add" and const.learned and _fold_bias(b, x, node, dims):
        return [x]
    return [b.make(O.Custom, [x], class_name=f"ONNX {node.op_type}",
                   params=const.size if const.learned else 0, flops_per_element=1)]


def _broadcast_into(b: Builder, x: Tensor, const: Const) -> list[Any]:
    """The constant's dims aligned on the right with x's ONNX dims; it must not grow x."""
    full = [BATCH, *b.onnx_dims(x)]
    dims = list(const.dims)
    if len(dims) > len(full):
        raise b.error(f"a constant of dims {dims} would grow the rank-{len(full)} data")
    aligned = [1] * (len(full) - len(dims)) + dims
    for d, n in zip(aligned, full):
        if d != 1 and (n is BATCH or arith.equal(d, n) is not True):
            raise b.error(f"a constant of dims {dims} does not broadcast into the data's "
                          f"shape {['N', *full[1:]]} without growing it")
    return aligned


def _fold_bias(b: Builder, x: Tensor, node: Any, aligned: list[Any]) -> bool:
    """An Add of one value per channel after a MatMul (Dense) or Conv without bias is its
    bias: fold it when nothing else reads the layer's output."""
    op = b.graph[x.layer].op
    if not isinstance(op, (O.Dense, O.Conv)) or op.use_bias:
        return False
    producer_outputs = [n for n, v in b.values.items() if isinstance(v, Tensor)
                        and v.layer == x.layer]
    if any(b.uses.get(n, 0) != 1 for n in producer_outputs):
        return False
    channel = 1 if isinstance(op, O.Conv) else len(aligned) - 1
    if any(d != 1 for i, d in enumerate(aligned) if i != channel):
        return False
    b.replace_op(x.layer, use_bias=True)
    return True


def fold_arithmetic(b: Builder, node: Any, values: list[Const]) -> Const:
    arrays = [np.asarray(b.const(v.name).values, dtype=object) for v in values]
    result = arrays[0]
    for other in arrays[1:]:
        if node.op_type == "Add" or node.op_type == "Sum":
            result = result + other
        elif node.op_type == "Sub":
            result = result - other
        elif node.op_type == "Mul":
            result = result * other
        elif node.op_type == "Div":
            result = _divide(result, other)
        elif node.op_type == "Max":
            result = np.maximum(result, other)
        elif node.op_type == "Min":
            result = np.minimum(result, other)
        else:
            raise b.error("folding this op on constants is not modelled")
    return _const(node, result)


def _divide(a: Any, b_: Any) -> Any:
    def one(x: Any, y: Any) -> Any:
        if x is BATCH or y is BATCH:
            raise TypeError("batch")
        if isinstance(x, float) or isinstance(y, float):
            return x / y
        return arith.floordiv(x, y) if not (arith.is_concrete(x) and arith.is_concrete(y)) \
            else int(x) // int(y)
    return np.vectorize(one, otypes=[object])(a, b_)


def _const(node: Any, values: Any) -> Const:
    array = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    return Const(node.output[0], tuple(int(d) for d in array.shape), array, False)


# ---------------------------------------------------------------- reshaping


@converts("Flatten")
def flatten(b: Builder, node: Any) -> list[Tensor | Const]:
    """Flatten(axis 1): convplan's Flatten of the tensor in ONNX's element order (a Permute
    to channels-first first where more than one axis is longer than 1)."""
    axis = int(attributes(node).get("axis", 1))
    value = b.value(node.input[0])
    if isinstance(value, Const):
        raise b.error("Flatten of a constant is not modelled")
    if axis != 1:
        raise b.error(f"axis {axis}: only Flatten(axis=1), which keeps the batch, is modelled")
    x = value if b.flat_order_same(value) else b.relaid(value, identity_axes(value.rank))
    if x.rank == 2:
        return [x]
    return [b.make(O.Flatten, [x], axes=(0,))]


@converts("Reshape")
def reshape(b: Builder, node: Any) -> list[Tensor | Const]:
    """Reshape to a constant shape (0 copies a dim, -1 takes the rest; the first entry must
    keep the batch: 0, the batch from Shape, or the literal batch every graph input fixes),
    in ONNX's element order."""
    value = b.value(node.input[0])
    target = list(np.asarray(b.const(node.input[1], "shape").values, dtype=object).reshape(-1))
    if isinstance(value, Const):
        raise b.error("Reshape of a constant is not modelled")
    x = value
    dims = b.onnx_dims(x)
    if not target or not (target[0] is BATCH or target[0] == 0 or _is_fixed_batch(b, target[0])):
        fixed = f", or the inputs' batch {b.fixed_batch}" if b.fixed_batch is not None else ""
        raise b.error(f"shape {target} must keep the batch first (0, or the batch from "
                      f"Shape{fixed})")
    allowzero = int(attributes(node).get("allowzero", 0))
    out: list[int] = []
    for i, t in enumerate(target[1:], start=1):
        if t is BATCH:
            raise b.error(f"shape {target} moves the batch")
        if not allowzero and arith.is_concrete(t) and int(t) == 0:
            if i - 1 >= len(dims) or not arith.is_concrete(dims[i - 1]):
                out.append(-1)
                continue
            out.append(int(dims[i - 1]))
        elif arith.is_concrete(t):
            out.append(int(t))
        else:
            out.append(-1)  # a size expression (from Shape): the one the others leave
    if out.count(-1) > 1:
        raise b.error(f"shape {target} leaves more than one size to infer (data-dependent "
                      "sizes are not modelled)")
    if len(out) == len(dims) and all(arith.equal(o, d) is True for o, d in zip(out, dims)):
        return [x]
    if not b.flat_order_same(x):
        x = b.relaid(x, identity_axes(x.rank))
    return [b.make(O.Reshape, [x], axes=identity_axes(len(out) + 1), target_shape=tuple(out))]


def _is_fixed_batch(b: Builder, first: Any) -> bool:
    """A literal first entry equal to the batch every graph input fixes keeps the batch."""
    return (b.fixed_batch is not None and first is not BATCH and arith.is_concrete(first)
            and int(first) == b.fixed_batch)


@converts("Transpose")
def transpose(b: Builder, node: Any) -> list[Tensor | Const]:
    """A new axis map, no layer: ONNX axis j of the output is axis perm[j] of the input. Of a
    constant (a weight transposed for a MatMul, exported without constant folding): folded,
    dims permuted (values too where they are read), still a learned weight where it was one."""
    value = b.value(node.input[0])
    if isinstance(value, Const):
        rank = len(value.dims)
        perm = [int(p) for p in attributes(node).get("perm", reversed(range(rank)))]
        if sorted(perm) != list(range(rank)):
            raise b.error(f"perm {perm} is not a permutation of the constant's {rank} axes")
        values = None if value.values is None else np.transpose(np.asarray(value.values), perm)
        return [Const(node.output[0], tuple(value.dims[p] for p in perm), values, value.learned)]
    x = value
    perm = list(attributes(node).get("perm", reversed(range(x.rank))))
    if sorted(perm) != list(range(x.rank)) or perm[0] != 0:
        raise b.error(f"perm {perm} moves the batch axis (or is not a permutation)")
    return [Tensor(x.layer, tuple(x.axes[p - 1] for p in perm[1:]))]


@converts("Concat")
def concat(b: Builder, node: Any) -> list[Tensor | Const]:
    """Tensors: Concatenate on the axis's convplan position; constants: folded."""
    axis = int(attributes(node)["axis"])
    values = [b.value(n) for n in node.input]
    if all(isinstance(v, Const) for v in values):
        arrays = [np.asarray(b.const(v.name).values, dtype=object) for v in values]  # type: ignore[union-attr]
        return [_const(node, np.concatenate(arrays, axis=axis))]
    if not all(isinstance(v, Tensor) for v in values):
        raise b.error("concatenating constants with computed tensors is not modelled")
    tensors: list[Tensor] = values  # type: ignore[assignment]
    first = tensors[0]
    axis = axis + first.rank if axis < 0 else axis
    if axis == 0:
        raise b.error("concatenation along the batch axis is not modelled")
    aligned = [first] + [b.relaid(t, first.axes) for t in tensors[1:]]
    if len(aligned) == 1:
        return [first]
    return [b.make(O.Concatenate, aligned, axis=first.axes[axis - 1] + 1)]


@converts("Gemm")
def gemm(b: Builder, node: Any) -> list[Tensor | Const]:
    """Y = A B (+ C): Dense with units from B (transB: B's first dim)."""
    a = attributes(node)
    x = b.tensor(node.input[0])
    if a.get("transA", 0):
        raise b.error("transA: a transposed data input is not modelled")
    w = b.const(node.input[1], "B", need_values=False)
    if x.rank != 2 or len(w.dims) != 2:
        raise b.error(f"expects a (N, K) input and a 2-D B, received ranks {x.rank} and "
                      f"{len(w.dims)}")
    k, units = (w.dims[1], w.dims[0]) if a.get("transB", 0) else w.dims
    features = b.shape_of(x)[-1]
    if arith.equal(features, k) is False:
        raise b.error(f"B of dims {list(w.dims)} needs {k} input features, received {features}")
    return [b.make(O.Dense, [x], units=units, use_bias=_optional(node, 2) is not None)]


@converts("MatMul")
def matmul(b: Builder, node: Any) -> list[Tensor | Const]:
    """Data times a 2-D weight (K, M): Dense over the last axis, no bias (an Add after it is
    folded in)."""
    x = b.tensor(node.input[0])
    w = b.value(node.input[1])
    if not isinstance(w, Const) or len(w.dims) != 2:
        raise b.error("MatMul of two computed tensors (or by a weight of rank other than 2) is "
                      "not modelled")
    if x.axes[-1] != len(x.axes) - 1:
        x = b.onnx_order(x)
    features = b.shape_of(x)[-1]
    if arith.equal(features, w.dims[0]) is False:
        raise b.error(f"weight dims {list(w.dims)} need {w.dims[0]} input features, received "
                      f"{features}")
    return [b.make(O.Dense, [x], units=w.dims[1], use_bias=False)]


# ---------------------------------------------------------------- resampling, padding, reductions

UPSAMPLING = {1: O.UpSampling1D, 2: O.UpSampling2D, 3: O.UpSampling3D}
# ONNX mode -> UpSampling2D/Resizing interpolation (TF's half-pixel centres)
INTERPOLATIONS = {"nearest": "nearest", "linear": "bilinear", "cubic": "bicubic"}


@converts("Resize", "Upsample")
def resize(b: Builder, node: Any) -> list[Tensor | Const]:
    """Resize/Upsample by constant scales or sizes (initializers, Constant nodes, or folded
    from Shape): a whole-number factor per spatial axis is UpSampling (nearest: output o reads
    o // u in every coordinate mode but align_corners; linear and cubic: half_pixel, as TF),
    other sizes a Resizing to the sizes. N and C must keep their length."""
    a = attributes(node)
    x = b.channels_last(b.tensor(node.input[0]))
    rank = x.rank - 2
    mode = a.get("mode", "nearest")
    coordinates = a.get("coordinate_transformation_mode", "half_pixel")
    if mode not in INTERPOLATIONS:
        raise b.error(f"mode {mode!r} is not an ONNX resize mode")
    if coordinates in ("align_corners", "tf_crop_and_resize") or (
            mode != "nearest" and coordinates not in ("half_pixel", "pytorch_half_pixel")):
        raise b.error(f"coordinate_transformation_mode {coordinates!r} with mode {mode!r} "
                      "reads other pixels than TF's half-pixel resize; not modelled")
    if a.get("antialias", 0) or "axes" in a:
        raise b.error("antialias and axes are not modelled")
    dims = [BATCH, *b.onnx_dims(x)]
    if node.op_type == "Upsample" or b.opset < 11:
        scales_name = node.input[1] if len(node.input) > 1 else None
        scales = list(a["scales"]) if "scales" in a else \
            list(np.asarray(b.const(scales_name, "scales").values).reshape(-1))
        sizes = None
    else:
        scales_name, sizes_name = _optional(node, 2), _optional(node, 3)
        scales_const = b.const(scales_name, "scales") if scales_name else None
        scales = (list(np.asarray(scales_const.values).reshape(-1))
                  if scales_const is not None and scales_const.size else None)
        sizes = (list(np.asarray(b.const(sizes_name, "sizes").values, dtype=object).reshape(-1))
                 if sizes_name else None)
    if sizes is not None:
        if len(sizes) != len(dims):
            raise b.error(f"sizes {sizes} must give all {len(dims)} axes")
        outs = sizes[2:]
        lead = sizes[:2]
        if not (lead[0] is BATCH or arith.equal(lead[0], 1) is True) or \
                arith.equal(lead[1], dims[1]) is not True:
            raise b.error(f"sizes {sizes} change the batch or the channels")
    elif scales is not None:
        if len(scales) != len(dims) or float(scales[0]) != 1 or float(scales[1]) != 1:
            raise b.error(f"scales {scales} must be 1 on the batch and the channels")
        outs = None
    else:
        raise b.error("neither scales nor sizes is given")
    spatial = dims[2:]
    factors = [_factor(n, None if outs is None else outs[i],
                       None if scales is None else float(scales[i + 2]))
               for i, n in enumerate(spatial)]
    interpolation = INTERPOLATIONS[mode]
    if all(f is not None for f in factors):
        if rank != 2 and interpolation != "nearest":
            raise b.error(f"{mode} resampling of {rank} spatial axes is not modelled")
        extra = {"interpolation": interpolation} if rank == 2 else {}
        return [b.make(UPSAMPLING[rank], [x], size=tuple(factors), **extra)]
    if rank != 2:
        raise b.error("resizing other than by whole factors is modelled on 2 spatial axes")
    if outs is None:
        if not all(arith.is_concrete(n) for n in spatial):
            raise b.error(f"scales {scales} are not whole numbers: the output sizes depend on "
                          "the input size; give the input a fixed size")
        outs = [int(np.floor(int(n) * float(sc))) for n, sc in zip(spatial, scales[2:])]
    if not all(arith.is_concrete(o) for o in outs):
        raise b.error(f"output sizes {outs} depend on the input size by a non-whole factor "
                      "(convplan's Resizing takes fixed sizes; a resize to another tensor's "
                      "size is not modelled); give the input a fixed size")
    return [b.make(O.Resizing, [x], height=int(outs[0]), width=int(outs[1]),
                   interpolation=interpolation)]


def _factor(n: Any, out: Any, scale: float | None) -> int | None:
    """The whole factor u with out = n * u (from sizes) or u = scale, else None."""
    if out is None:
        return int(scale) if scale is not None and scale.is_integer() and scale >= 1 else None
    if arith.is_concrete(n) and arith.is_concrete(out):
        return int(out) // int(n) if int(out) % int(n) == 0 and int(out) >= int(n) else None
    ratio = arith.simplify_int(out / n)
    return int(ratio) if arith.is_concrete(ratio) and int(ratio) >= 1 else None


ZERO_PADDING = {1: O.ZeroPadding1D, 2: O.ZeroPadding2D, 3: O.ZeroPadding3D}


@converts("Pad")
def pad(b: Builder, node: Any) -> list[Tensor | Const]:
    """Constant pads [begins..., ends...] over the ONNX axes: zeros on the spatial axes of an
    image are ZeroPadding; otherwise keras.ops.pad (mode constant or reflect; 'edge' has no
    Keras mode)."""
    a = attributes(node)
    x = b.tensor(node.input[0])
    if b.opset < 11:
        pads, value = list(a["pads"]), float(a.get("value", 0.0))
    else:
        pads = _ints(b, b.const(node.input[1], "pads").values, "pads")
        value = _scalar(b, _optional(node, 2), "constant_value") or 0.0
        if _optional(node, 3):
            raise b.error("Pad's axes input is not modelled")
    mode = a.get("mode", "constant")
    r = x.rank
    if len(pads) != 2 * r or any(p < 0 for p in pads):
        raise b.error(f"pads {pads} must hold {2 * r} non-negative amounts (negative ones crop; "
                      "not modelled)")
    pairs = [(pads[i], pads[i + r]) for i in range(r)]
    if pairs[0] != (0, 0):
        raise b.error("padding the batch axis is not modelled")
    if mode == "constant" and value == 0.0 and r >= 3 and pairs[1] == (0, 0) and r - 2 <= 3:
        x = b.channels_last(x)
        return [b.make(ZERO_PADDING[r - 2], [x], padding=tuple(pairs[2:]))]
    if mode not in ("constant", "reflect"):
        raise b.error(f"mode {mode!r} has no Keras equivalent; not modelled")
    width = [(0, 0)] * r
    for i, pair in enumerate(pairs[1:]):
        width[x.axes[i] + 1] = pair
    extra = {"constant_values": value} if mode == "constant" and value != 0.0 else {}
    return [b.make(O.Pad, [x], pad_width=tuple(width), mode=mode, **extra)]


REDUCTIONS = {"ReduceMean": O.Mean, "ReduceMax": O.Max, "ReduceSum": O.Sum, "ReduceMin": O.Min}
GLOBAL_REDUCTIONS = {"ReduceMean": GLOBAL_AVERAGE, "ReduceMax": GLOBAL_MAX}


@converts(*REDUCTIONS)
def reduce(b: Builder, node: Any) -> list[Tensor | Const]:
    """Over every spatial axis of an image with keepdims (torchvision's squeeze-and-excitation
    as a newer exporter writes it): global pooling with keepdims; otherwise keras.ops's
    reduction over the axes' convplan positions."""
    a = attributes(node)
    x = b.tensor(node.input[0])
    if "axes" in a:
        axes = [int(v) for v in a["axes"]]
    else:
        name = _optional(node, 1)
        axes = _ints(b, b.const(name, "axes").values, "axes") if name else None
    if axes is None or not axes:
        if a.get("noop_with_empty_axes", 0):
            return [x]
        raise b.error("reducing every axis, the batch's included, is not modelled")
    axes = sorted(v + x.rank if v < 0 else v for v in axes)
    if 0 in axes:
        raise b.error("reducing over the batch axis is not modelled")
    keepdims = bool(a.get("keepdims", 1))
    if keepdims and x.rank >= 3 and axes == list(range(2, x.rank)) and \
            node.op_type in GLOBAL_REDUCTIONS:
        x = b.channels_last(x)
        return [b.make(GLOBAL_REDUCTIONS[node.op_type][x.rank - 2], [x], keepdims=True)]
    cp_axes = tuple(sorted(x.axes[v - 1] + 1 for v in axes))
    if keepdims:
        return [b.make(REDUCTIONS[node.op_type], [x], axis=cp_axes, keepdims=True)]
    kept = [x.axes[i] for i in range(len(x.axes)) if i + 1 not in axes]
    order = sorted(kept)
    return [b.make(REDUCTIONS[node.op_type], [x], axes=tuple(order.index(k) for k in kept),
                   axis=cp_axes, keepdims=False)]


@converts("PRelu")
def prelu(b: Builder, node: Any) -> list[Tensor | Const]:
    """A slope per channel ((C, 1, 1) or (C,)) or one for all: PReLU sharing the other axes."""
    x = b.tensor(node.input[0])
    slope = b.const(node.input[1], "slope", need_values=False)
    if slope.size == 1:
        shared = tuple(range(1, x.rank))
    else:
        if x.rank >= 3:
            x = b.channels_last(x)
        if slope.size != b.shape_of(x)[-1]:
            raise b.error(f"a slope of dims {list(slope.dims)} is not one per channel")
        shared = tuple(range(1, x.rank - 1))
    return [b.make(O.PReLU, [x], shared_axes=shared or None)]


@converts("Split")
def split(b: Builder, node: Any) -> list[Tensor | Const]:
    """Along one axis, in parts given by `split` (an input from opset 13) or equal ones."""
    a = attributes(node)
    x = b.tensor(node.input[0])
    axis = int(a.get("axis", 0))
    axis = axis + x.rank if axis < 0 else axis
    if axis == 0:
        raise b.error("splitting the batch axis is not modelled")
    if "split" in a:
        parts = [int(v) for v in a["split"]]
    elif _optional(node, 1):
        parts = _ints(b, b.const(node.input[1], "split").values, "split")
    else:
        parts = None
    count = len(node.output)
    cp_axis = x.axes[axis - 1] + 1
    if parts is None:
        sections: Any = count
    else:
        cuts, at = [], 0
        for p in parts[:-1]:
            at += p
            cuts.append(at)
        sections = tuple(cuts)
    return [b.make(O.Split, [x], f"/{i}", indices_or_sections=sections, axis=cp_axis, index=i)
            for i in range(count)]


# ---------------------------------------------------------------- constants and folding


@converts("Constant")
def constant(b: Builder, node: Any) -> list[Tensor | Const]:
    from onnx import numpy_helper

    a = attributes(node)
    if "value" in a:
        tensor = a["value"]
        dims = tuple(int(d) for d in tensor.dims)
        size = int(np.prod(dims)) if dims else 1
        values = numpy_helper.to_array(tensor) if size <= MAX_CONSTANT_VALUES else None
        return [Const(node.output[0], dims, values, False)]
    for key in ("value_float", "value_int"):
        if key in a:
            return [Const(node.output[0], (), np.asarray(a[key]), False)]
    for key in ("value_floats", "value_ints"):
        if key in a:
            return [Const(node.output[0], (len(a[key]),), np.asarray(a[key]), False)]
    raise b.error(f"Constant with {', '.join(a)} is not modelled")


@converts("Shape")
def shape(b: Builder, node: Any) -> list[Tensor | Const]:
    """The ONNX shape of a tensor: the batch, then its sizes (sympy where symbolic)."""
    value = b.value(node.input[0])
    if isinstance(value, Const):
        dims: list[Any] = list(value.dims)
    else:
        dims = [BATCH, *b.onnx_dims(value)]
    a = attributes(node)
    start, end = int(a.get("start", 0)), a.get("end")
    dims = dims[start:None if end is None else int(end)]
    return [_const(node, np.asarray(dims, dtype=object))]


@converts("Gather")
def gather(b: Builder, node: Any) -> list[Tensor | Const]:
    data = b.const(node.input[0], "data")
    indices = b.const(node.input[1], "indices")
    axis = int(attributes(node).get("axis", 0))
    array = np.asarray(data.values, dtype=object)
    return [_const(node, np.take(array, np.asarray(indices.values, dtype=np.int64), axis=axis))]


def _axes(b: Builder, node: Any, a: dict[str, Any]) -> list[int] | None:
    if "axes" in a:
        return [int(v) for v in a["axes"]]
    name = _optional(node, 1)
    return None if name is None else _ints(b, b.const(name, "axes").values, "axes")


@converts("Unsqueeze")
def unsqueeze(b: Builder, node: Any) -> list[Tensor | Const]:
    value = b.value(node.input[0])
    axes = _axes(b, node, attributes(node)) or []
    if isinstance(value, Const):
        array = np.asarray(b.const(value.name).values, dtype=object)
        rank = array.ndim + len(axes)
        for axis in sorted(a + rank if a < 0 else a for a in axes):
            array = np.expand_dims(array, axis)
        return [_const(node, array)]
    x = b.onnx_order(value)
    rank = x.rank + len(axes)
    out = x
    for axis in sorted(a + rank if a < 0 else a for a in axes):
        if axis == 0:
            raise b.error("a new batch axis is not modelled")
        out = b.make(O.ExpandDims, [out], f"/{axis}", axes=identity_axes(out.rank + 1),
                     axis=axis)
    return [out]


@converts("Squeeze")
def squeeze(b: Builder, node: Any) -> list[Tensor | Const]:
    value = b.value(node.input[0])
    axes = _axes(b, node, attributes(node))
    if isinstance(value, Const):
        array = np.asarray(b.const(value.name).values, dtype=object)
        return [_const(node, np.squeeze(array, axis=None if axes is None else tuple(axes)))]
    x = b.onnx_order(value)
    if axes is None:
        dims = b.onnx_dims(x)
        axes = [i + 1 for i, d in enumerate(dims) if arith.equal(d, 1) is True]
    axes = [a + x.rank if a < 0 else a for a in axes]
    if 0 in axes:
        raise b.error("squeezing the batch axis is not modelled")
    return [b.make(O.Squeeze, [x], axes=identity_axes(x.rank - len(axes)), axis=tuple(axes))]


@converts("Cast")
def cast(b: Builder, node: Any) -> list[Tensor | Const]:
    """Constants keep their (exact) values; data passes through (the dtype is not planned)."""
    return [b.value(node.input[0])]


@converts("Slice")
def slice_(b: Builder, node: Any) -> list[Tensor | Const]:
    """Slices of constants (a Shape's spatial sizes); of the data, not modelled."""
    value = b.value(node.input[0])
    if not isinstance(value, Const):
        raise b.error("slicing the data is not modelled")
    array = np.asarray(b.const(value.name).values, dtype=object)
    a = attributes(node)
    if b.opset < 10:
        starts, ends = list(a["starts"]), list(a["ends"])
        axes = list(a.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts = _ints(b, b.const(node.input[1], "starts").values, "starts")
        ends = _ints(b, b.const(node.input[2], "ends").values, "ends")
        axes_name, steps_name = _optional(node, 3), _optional(node, 4)
        axes = (_ints(b, b.const(axes_name).values, "axes") if axes_name
                else list(range(len(starts))))
        steps = _ints(b, b.const(steps_name).values, "steps") if steps_name else [1] * len(starts)
    index = [slice(None)] * array.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        index[axis] = slice(start, end, step)
    return [_const(node, array[tuple(index)])]


__all__ = ["CONVERTERS", "channels_first_axes"]
