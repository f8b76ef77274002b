"""What each op keeps for its backward pass: the saved-for-backward rule table.

`SAVED_RULES` maps an op class (a family where one rule fits its members) to a function
`(op, input shapes, output shape) -> Saved`, shapes per example (no batch axis). The memory
model (convplan.analysis.memory) keeps every saved tensor alive from the forward step that makes
it until the backward step of the last op that reads it. The rules are the gradients' needs, as
TensorFlow's and JAX's autodiff keep them:

- convolutions (all kinds) and Dense keep their input (the weight gradient is input x output
  gradient); a separable convolution also its depthwise result (the pointwise kernel's input);
- ReLU, sigmoid, tanh, softmax and the like keep their output (the derivative is a function of
  it); GELU, swish, softplus, ELU, leaky ReLU and other activations keep their input; linear
  keeps nothing. A layer with an `activation` argument adds its activation's need;
- normalizations keep their input and their statistics (per channel for BatchNormalization, per
  example and group for the others);
- max pooling keeps its input and output (where the maximum was); average pooling, upsampling,
  padding, cropping and reshapes keep nothing (their gradients are linear maps of the output
  gradient alone);
- dropout keeps its mask (one byte per element; per channel for SpatialDropout);
- Add, Subtract, Average and Concatenate keep nothing; Multiply, Maximum and Minimum keep their
  inputs;
- Flatten, Reshape and the other views keep nothing and allocate nothing (their output is
  their input's buffer).

`Saved.workspace` is scratch memory an op's backward step holds besides its gradients; a
buffer marked `backend="xla-cpu"` counts only under that convention (how XLA:CPU lowers the
gradients of convolutions and max pooling, measured in its buffer assignment).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from convplan.analysis import arith
from convplan.analysis.arith import Value
from convplan.analysis.shapes import Shape
from convplan.ir import ops as O

# bytes per element of a buffer kind; "compute" is the dtype policy's compute dtype
KIND_BYTES = {"bool": 1, "int32": 4, "float32": 4}


@dataclass(frozen=True)
class Buffer:
    """`elements` per example (x batch) of `kind` ("compute", "bool", "int32", "float32");
    `per_example=False` for a buffer that does not grow with the batch (statistics)."""

    label: str
    elements: Value
    kind: str = "compute"
    per_example: bool = True
    backend: str | None = None  # only under this convention ("xla-cpu": its lowering)


@dataclass(frozen=True)
class Saved:
    inputs: tuple[int, ...] = ()  # indices of the inputs kept
    output: bool = False
    extra: tuple[Buffer, ...] = ()  # kept besides inputs and output (masks, statistics)
    workspace: tuple[Buffer, ...] = ()  # scratch held during the backward step only
    view: bool = False  # the output is the first input's buffer (no allocation)
    reason: str = ""  # one line for reports: what it keeps and why


Rule = Callable[[O.Op, Sequence[Shape], Shape], Saved]

# activations whose derivative is a function of their output (so the output is kept)
KEEPS_OUTPUT = {"relu", "relu6", "sigmoid", "tanh", "softmax", "log_softmax", "hard_sigmoid",
                "exponential", "elu"}
KEEPS_NOTHING = {"linear", None}


def _elements(shape: Shape) -> Value:
    return arith.product(shape)


def activation_saved(activation: str | None, out: Shape) -> Saved:
    """What a named activation keeps: its output (relu, sigmoid, tanh, softmax, ...), its
    input (gelu, swish, softplus, selu, mish, leaky_relu, ...), or nothing (linear)."""
    if activation in KEEPS_NOTHING:
        return Saved(reason="linear: keeps nothing")
    if activation in KEEPS_OUTPUT:
        return Saved(output=True, reason=f"{activation} keeps its output")
    return Saved(extra=(Buffer(f"{activation} input", _elements(out)),),
                 reason=f"{activation} keeps its input")


def _with_activation(op: O.Op, out: Shape, saved: Saved) -> Saved:
    act = getattr(op, "activation", None)
    if act in KEEPS_NOTHING:
        return saved
    a = activation_saved(act, out)
    return Saved(saved.inputs, saved.output or a.output, saved.extra + a.extra, saved.workspace,
                 saved.view, f"{saved.reason}; {a.reason}")


def keep_input(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """Dense: the input (weight gradient = input x output gradient), plus the activation's
    need."""
    return _with_activation(op, out, Saved(inputs=(0,), reason="keeps its input (weight gradient)"))


def _conv_workspace(op: O.Op, ins: Sequence[Shape], out: Shape) -> tuple[Buffer, ...]:
    """XLA:CPU's weight-gradient convolution reads its input and the output gradient
    transposed (batch as the contracted axis): a copy of each (measured in its buffer
    assignment; benchmarks/memory_vs_xla.py)."""
    return (Buffer("transposed input", _elements(ins[0]), backend="xla-cpu"),
            Buffer("transposed output gradient", _elements(out), backend="xla-cpu"))


def keep_conv_input(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """Convolutions (all kinds): the input (weight gradient = input x output gradient), plus
    the activation's need; under xla-cpu, the transposed copies of `_conv_workspace`."""
    return _with_activation(op, out, Saved(inputs=(0,), workspace=_conv_workspace(op, ins, out),
                                           reason="keeps its input (weight gradient)"))


def _depthwise_workspace(op: O.Op, ins: Sequence[Shape], out: Shape) -> tuple[Buffer, ...]:
    """XLA:CPU computes a depthwise kernel's gradient as a dense convolution over every pair
    of channels and keeps the diagonal: two kernel x C_in x C_in x multiplier float32 buffers
    (the result and its transpose), whatever the batch (f32[3,3,64,64] and f32[64,3,3,64] for
    a 64-channel depthwise layer, in its buffer assignment)."""
    assert isinstance(op, O.Depthwise)
    dense = arith.product(op.kernel_size) * ins[0][-1] * ins[0][-1] * op.depth_multiplier
    return (Buffer("dense depthwise kernel gradient", dense, "float32", per_example=False,
                   backend="xla-cpu"),
            Buffer("its transpose", dense, "float32", per_example=False, backend="xla-cpu"))


def keep_depthwise(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """DepthwiseConv: its input, plus the activation's need; under xla-cpu the transposed
    copies and the dense kernel gradient (`_depthwise_workspace`)."""
    return _with_activation(op, out, Saved(
        inputs=(0,), workspace=_conv_workspace(op, ins, out) + _depthwise_workspace(op, ins, out),
        reason="keeps its input (weight gradient)"))


def keep_separable(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """SeparableConv: the input and the depthwise result (out positions x C_in x multiplier),
    which the pointwise kernel's gradient reads."""
    assert isinstance(op, O.Separable)
    inner = arith.product(out[:-1]) * ins[0][-1] * op.depth_multiplier
    return _with_activation(op, out, Saved(
        inputs=(0,), extra=(Buffer("depthwise result", inner),),
        workspace=_conv_workspace(op, ins, out) + _depthwise_workspace(op, ins, out),
        reason="keeps its input and its depthwise result"))


def keep_output(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """ReLU, Softmax, ELU: the output (the derivative is a function of it)."""
    return Saved(output=True, reason="keeps its output")


def keep_activation(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """Activation: as its named activation (`activation_saved`)."""
    return activation_saved(getattr(op, "activation", None), out)


def keep_input_only(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """LeakyReLU, PReLU, Embedding: the input (the derivative or the gradient's rows depend
    on it)."""
    return Saved(inputs=(0,), reason="keeps its input")


def keep_batch_statistics(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """BatchNormalization: the input and per-channel mean and variance (2 x C, any batch)."""
    return Saved(inputs=(0,), extra=(Buffer("mean and variance", 2 * out[-1], "float32",
                                            per_example=False),),
                 reason="keeps its input and per-channel statistics")


def keep_example_statistics(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """LayerNormalization, GroupNormalization, RMSNormalization, UnitNormalization: the input
    and a mean and variance per normalized group of each example (at most 2 per position,
    counted as 2 per position along the kept axes: out elements / C x 2 is an upper bound
    where the groups span the channels)."""
    return Saved(inputs=(0,), extra=(Buffer("statistics", 2 * _elements(out[:-1]), "float32"),),
                 reason="keeps its input and per-example statistics")


def keep_mask(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """Dropout (and noise layers that drop): a one-byte mask per element."""
    return Saved(extra=(Buffer("dropout mask", _elements(out), "bool"),),
                 reason="keeps its mask (1 byte per element)")


def keep_channel_mask(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """SpatialDropout: a one-byte mask per channel (whole feature maps are dropped)."""
    return Saved(extra=(Buffer("dropout mask", out[-1], "bool"),),
                 reason="keeps its per-channel mask")


def keep_input_and_output(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """Global and adaptive max pooling, Max, Min: the input and the output, which locate each
    maximum for the gradient."""
    return Saved(inputs=(0,), output=True, reason="keeps its input and output (argmax)")


def keep_max_pool(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """MaxPooling: the input and the output. Under xla-cpu, XLA:CPU expands the gradient
    (select-and-scatter) into one int32 iota per axis of the batched input (rank + 2 of the
    input's size), a variadic reduce-window giving the value and those indices per output, and
    the indices concatenated for a scatter: (rank + 2) x 4 bytes per input element and
    (1 + 2 (rank + 2)) x 4 per output element (its buffer assignment on the seed CNN)."""
    axes = len(out) + 1
    return Saved(inputs=(0,), output=True, reason="keeps its input and output (argmax)",
                 workspace=(Buffer("select-and-scatter iotas", axes * _elements(ins[0]), "int32",
                                   backend="xla-cpu"),
                            Buffer("window argmax", (1 + 2 * axes) * _elements(out), "int32",
                                   backend="xla-cpu")))


def keep_all_inputs(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """Multiply, Maximum, Minimum: every input (each input's gradient reads the others)."""
    return Saved(inputs=tuple(range(len(ins))), reason="keeps its inputs")


def keep_nothing(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """Linear maps of their input (average pooling, upsampling, padding, cropping, resizing,
    Add, Subtract, Average, Concatenate, Rescaling, Normalization, augmentation at training
    time is input data): the gradient needs only the output gradient."""
    return Saved(reason="keeps nothing (linear)")


def view(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """Flatten, Reshape, ExpandDims, Squeeze, InputLayer: the output is the input's buffer."""
    return Saved(view=True, reason="a view of its input (no buffer)")


def keep_custom(op: O.Op, ins: Sequence[Shape], out: Shape) -> Saved:
    """A declared layer: its input (what a convolution-like block keeps; an assumption)."""
    return Saved(inputs=(0,), reason="declared layer: assumed to keep its input")


SAVED_RULES: dict[type, Rule] = {
    O.InputLayer: view,
    O.Windowed: keep_conv_input,
    O.Depthwise: keep_depthwise,
    O.Separable: keep_separable,
    O.Dense: keep_input,
    O.BatchNormalization: keep_batch_statistics,
    O.LayerNormalization: keep_example_statistics,
    O.Activation: keep_activation,
    O.ReLU: keep_output,
    O.LeakyReLU: keep_input_only,
    O.Softmax: keep_output,
    O.Dropout: keep_mask,
    O.SpatialDropout: keep_channel_mask,
    O.Flatten: view,
    O.Reshape: view,
    O.Rescaling: keep_nothing,
    O.Normalization: keep_nothing,
    O.MaxPooling: keep_max_pool,
    O.AveragePooling: keep_nothing,
    O.GlobalMaxPooling: keep_input_and_output,
    O.GlobalAveragePooling: keep_nothing,
    O.Merge: keep_nothing,
    O.Multiply: keep_all_inputs,
    O.Maximum: keep_all_inputs,
    O.Minimum: keep_all_inputs,
    O.UpSampling: keep_nothing,
    O.ZeroPadding: keep_nothing,
    O.Cropping: keep_nothing,
    O.Custom: keep_custom,
}

# Ops other sessions add (by class name, so this table imports wherever they are defined)
_BY_NAME: dict[str, Rule] = {
    "GroupNormalization": keep_example_statistics,
    "RMSNormalization": keep_example_statistics,
    "UnitNormalization": keep_example_statistics,
    "ELU": keep_output,
    "PReLU": keep_input_only,
    "GaussianNoise": keep_nothing,
    "GaussianDropout": keep_mask,
    "AlphaDropout": keep_mask,
    "ActivityRegularization": keep_nothing,
    "Augmentation": keep_nothing,
    "Resizing": keep_nothing,
    "CenterCrop": keep_nothing,
    "RandomCrop": keep_nothing,
    "Permute": keep_nothing,
    "RepeatVector": keep_nothing,
    "Masking": keep_nothing,
    "Embedding": keep_input_only,
    "EinsumDense": keep_input,
    "Dot": keep_all_inputs,
    "Pad": keep_nothing,
    "Split": keep_nothing,
    "Sum": keep_nothing,
    "Mean": keep_nothing,
    "Max": keep_input_and_output,
    "Min": keep_input_and_output,
    "ExpandDims": view,
    "Squeeze": view,
    "AdaptivePooling": keep_nothing,
    "AdaptiveMaxPooling1D": keep_input_and_output,
    "AdaptiveMaxPooling2D": keep_input_and_output,
    "AdaptiveMaxPooling3D": keep_input_and_output,
}


def _named_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    for cls in O.OPS.values():
        for base in cls.__mro__:
            found.setdefault(base.__name__, base)
    return found


_CLASSES = _named_classes()
SAVED_RULES.update({_CLASSES[name]: rule for name, rule in _BY_NAME.items()
                    if name in _CLASSES})
