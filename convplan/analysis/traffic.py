"""Memory traffic: the bytes each op reads and writes, forward and backward (docs/counting.md).

`TRAFFIC_RULES` maps an op class to `(op, input shapes, output shape, itemsize) -> OpTraffic`,
shapes per example (no batch axis), `itemsize` the compute dtype's bytes. Each op is taken to
run as its own kernel that reads its operands from memory once and writes its results once
(no cache reuse across kernels, no fusion): the traffic a roofline divides by the bandwidth.

Bytes come in two parts, so that a step's bytes are `batch x per_example + fixed`:
activations (inputs, outputs, their gradients, masks) grow with the batch; weights, their
gradients and batch statistics do not. Weights are read in the compute dtype (Keras casts
float32 variables to the compute dtype of a mixed policy before the op reads them).

The backward step of an op reads the output gradient and what the op saved for it
(convplan.analysis.memory_rules.SAVED_RULES: its input, its output, masks, statistics; the
same table the memory model keeps alive), and writes the gradient of each input
(`OpTraffic.input_gradients`, where the input's gradient is computed at all:
convplan.analysis.gradient_flow) and of its trainable weights. Intensity is FLOPs / bytes.

Values are ints at concrete sizes (no sympy imported) and sympy expressions otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from convplan.analysis import arith
from convplan.analysis.arith import Value, product, total
from convplan.analysis.counts import count
from convplan.analysis.gradient_flow import output_gradients
from convplan.analysis.memory_rules import KIND_BYTES, SAVED_RULES, Saved
from convplan.analysis.shapes import Shape
from convplan.ir import ops as O
from convplan.ir.rules import rule_for

INDEX_BYTES = 4  # integer inputs (Embedding's indices) are int32


@dataclass(frozen=True)
class Moves:
    """Bytes read and written: `read`/`written` per example (x batch), `fixed_read` and
    `fixed_written` once per step whatever the batch (weights, weight gradients, statistics)."""

    read: Value = 0
    written: Value = 0
    fixed_read: Value = 0
    fixed_written: Value = 0

    def bytes(self, batch: Value = 1) -> Value:
        """batch x (read + written) + fixed_read + fixed_written."""
        return arith.simplify_int(batch * (self.read + self.written)
                                  + self.fixed_read + self.fixed_written)

    def __add__(self, other: Moves) -> Moves:
        return Moves(self.read + other.read, self.written + other.written,
                     self.fixed_read + other.fixed_read,
                     self.fixed_written + other.fixed_written)


@dataclass(frozen=True)
class OpTraffic:
    forward: Moves
    backward: Moves  # everything the backward step moves except the input gradients
    input_gradients: tuple[Value, ...] = ()  # bytes per example written for each input's gradient
    identity_at_inference: bool = False  # Dropout, noise, augmentation: no kernel at inference

    def backward_bytes(self, batch: Value = 1, needs_gradient: Sequence[bool] | None = None
                       ) -> Value:
        """The backward step's bytes; `needs_gradient[i]` False drops input i's gradient."""
        grads = [g for i, g in enumerate(self.input_gradients)
                 if needs_gradient is None or needs_gradient[i]]
        return arith.simplify_int(self.backward.bytes(batch) + batch * total(grads))


# rule(op, input shapes, output shape, itemsize); the op is Any as in counts.CountRule
TrafficRule = Callable[[Any, list[Shape], Shape, int], OpTraffic]


def _saved_bytes(op: O.Op, ins: list[Shape], out: Shape, itemsize: int) -> Moves:
    """What the backward step re-reads: the saved inputs, output and extra buffers (masks,
    statistics) in their own dtypes; XLA:CPU's workspace copies are a memory convention, not
    counted here."""
    saved: Saved = rule_for(SAVED_RULES, op, "saved-for-backward")(op, ins, out)
    per_example = total(product(ins[i]) for i in saved.inputs) * itemsize
    if saved.output:
        per_example += product(out) * itemsize
    fixed: Value = 0
    for buf in saved.extra:
        size = buf.elements * (itemsize if buf.kind == "compute" else KIND_BYTES[buf.kind])
        if buf.per_example:
            per_example += size
        else:
            fixed += size
    return Moves(read=per_example, fixed_read=fixed)


def _gradients(ins: list[Shape], itemsize: int) -> tuple[Value, ...]:
    return tuple(arith.simplify_int(product(s) * itemsize) for s in ins)


def _weights(op: O.Op, ins: list[Shape], out: Shape) -> tuple[Value, Value]:
    """(every weight, the trainable ones) of the op in elements; a frozen layer has none
    trainable (Keras)."""
    c = count(op, ins, out)
    every = c.trainable + c.non_trainable
    return every, (c.trainable if op.trainable else 0)


def view_traffic(op: O.Op, ins: list[Shape], out: Shape, itemsize: int) -> OpTraffic:
    """InputLayer, Flatten, Reshape, ExpandDims, Squeeze: the output is the input's buffer
    with a new shape; nothing moves forward or backward (the gradient is reshaped too)."""
    return OpTraffic(Moves(), Moves(), tuple(0 for _ in ins))


def elementwise_traffic(op: O.Op, ins: list[Shape], out: Shape, itemsize: int) -> OpTraffic:
    """Ops without weights (activations, merges, pooling, padding, cropping, concatenation,
    resizing, reductions, Dot, ...): forward reads every input and writes the output,
    (sum of input elements + output elements) x itemsize; backward reads the output gradient
    and what the op saved (its input, output, masks), writes each input's gradient."""
    reads = total(product(s) for s in ins) * itemsize
    forward = Moves(read=reads, written=product(out) * itemsize)
    backward = Moves(read=product(out) * itemsize) + _saved_bytes(op, ins, out, itemsize)
    return OpTraffic(forward, backward, _gradients(ins, itemsize))


def identity_traffic(op: O.Op, ins: list[Shape], out: Shape, itemsize: int) -> OpTraffic:
    """Dropout, GaussianNoise, ActivityRegularization, augmentation: the identity at
    inference (no kernel, nothing moves); in training as `elementwise_traffic`, plus the mask
    Dropout writes forward (1 byte per element, per channel for SpatialDropout) and re-reads
    backward."""
    t = elementwise_traffic(op, ins, out, itemsize)
    mask = _saved_bytes(op, ins, out, itemsize)
    forward = t.forward + Moves(written=mask.read, fixed_written=mask.fixed_read)
    return OpTraffic(forward, t.backward, t.input_gradients, identity_at_inference=True)


def weighted_traffic(op: O.Op, ins: list[Shape], out: Shape, itemsize: int) -> OpTraffic:
    """Normalizations, PReLU and other ops with weights but no contraction: forward reads the
    inputs and every weight (BatchNormalization's moving statistics too), writes the output;
    backward (one kernel) reads the output gradient, what the op saved and the weights,
    writes the input gradient and the trainable weights' gradients."""
    every, trainable = _weights(op, ins, out)
    t = elementwise_traffic(op, ins, out, itemsize)
    forward = t.forward + Moves(fixed_read=every * itemsize)
    backward = t.backward + Moves(fixed_read=every * itemsize,
                                  fixed_written=trainable * itemsize)
    return OpTraffic(forward, backward, t.input_gradients)


def contraction_traffic(op: O.Op, ins: list[Shape], out: Shape, itemsize: int) -> OpTraffic:
    """Convolutions (all kinds but separable), Dense, EinsumDense, declared layers: forward
    reads input x and weights W, writes y (the bias and the activation fused into the same
    kernel); backward is two contractions, dx = dy * W (reads dy and W, writes dx) and
    dW = x^T dy (reads x, which the op saved, and dy again, writes dW): reads 2 x dy + saved +
    weights, writes dx + trainable weight gradients."""
    every, trainable = _weights(op, ins, out)
    forward = Moves(read=product(ins[0]) * itemsize, written=product(out) * itemsize,
                    fixed_read=every * itemsize)
    backward = (Moves(read=2 * product(out) * itemsize, fixed_read=every * itemsize,
                      fixed_written=trainable * itemsize)
                + _saved_bytes(op, ins, out, itemsize))
    return OpTraffic(forward, backward, _gradients(ins, itemsize))


def separable_traffic(op: O.Separable, ins: list[Shape], out: Shape,
                      itemsize: int) -> OpTraffic:
    """SeparableConv: two kernels, depthwise then pointwise, through an intermediate m of
    output positions x C_in x depth_multiplier elements: forward reads x and the weights,
    writes m, reads m, writes y; backward runs both kernels' two contractions: reads dy twice,
    m (saved) and dm twice, x (saved) and the weights, writes dm, dx and the weight
    gradients."""
    every, trainable = _weights(op, ins, out)
    mid = product(out[:-1]) * ins[0][-1] * op.depth_multiplier * itemsize
    forward = Moves(read=product(ins[0]) * itemsize + mid, written=mid + product(out) * itemsize,
                    fixed_read=every * itemsize)
    backward = (Moves(read=2 * product(out) * itemsize + 2 * mid, written=mid,
                      fixed_read=every * itemsize, fixed_written=trainable * itemsize)
                + _saved_bytes(op, ins, out, itemsize))
    return OpTraffic(forward, backward, _gradients(ins, itemsize))


def embedding_traffic(op: O.Embedding, ins: list[Shape], out: Shape,
                      itemsize: int) -> OpTraffic:
    """Embedding: forward reads the int32 indices and one table row per index (output
    elements), writes the output; backward reads the output gradient and the indices, and
    scatters the rows into the table's gradient (output elements written; the rest of the
    table's gradient is zeros, not counted). Indices have no gradient."""
    rows = product(out) * itemsize
    indices = product(ins[0]) * INDEX_BYTES
    forward = Moves(read=indices + rows, written=rows)
    backward = Moves(read=rows + indices, written=rows if op.trainable else 0)
    return OpTraffic(forward, backward, (0,))


TRAFFIC_RULES: dict[type, TrafficRule] = {
    O.InputLayer: view_traffic,
    O.Flatten: view_traffic,
    O.Reshape: view_traffic,
    O.ExpandDims: view_traffic,
    O.Squeeze: view_traffic,
    O.Conv: contraction_traffic,
    O.ConvTranspose: contraction_traffic,
    O.Depthwise: contraction_traffic,
    O.Dense: contraction_traffic,
    O.EinsumDense: contraction_traffic,
    O.Custom: contraction_traffic,
    O.Separable: separable_traffic,
    O.Embedding: embedding_traffic,
    O.BatchNormalization: weighted_traffic,
    O.LayerNormalization: weighted_traffic,
    O.GroupNormalization: weighted_traffic,
    O.RMSNormalization: weighted_traffic,
    O.Normalization: weighted_traffic,
    O.PReLU: weighted_traffic,
    O.Dropout: identity_traffic,
    O.GaussianNoise: identity_traffic,
    O.ActivityRegularization: identity_traffic,
    O.Augmentation: identity_traffic,
    O.Pooling: elementwise_traffic,
    O.GlobalPooling: elementwise_traffic,
    O.AdaptivePooling: elementwise_traffic,
    O.Activation: elementwise_traffic,
    O.ReLU: elementwise_traffic,
    O.LeakyReLU: elementwise_traffic,
    O.ELU: elementwise_traffic,
    O.Softmax: elementwise_traffic,
    O.Rescaling: elementwise_traffic,
    O.UnitNormalization: elementwise_traffic,
    O.Masking: elementwise_traffic,
    O.Merge: elementwise_traffic,
    O.Concatenate: elementwise_traffic,
    O.ZeroPadding: elementwise_traffic,
    O.Pad: elementwise_traffic,
    O.Cropping: elementwise_traffic,
    O.CenterCrop: elementwise_traffic,
    O.RandomCrop: elementwise_traffic,
    O.UpSampling: elementwise_traffic,
    O.Resizing: elementwise_traffic,
    O.Permute: elementwise_traffic,
    O.RepeatVector: elementwise_traffic,
    O.Split: elementwise_traffic,
    O.Reduction: elementwise_traffic,
    O.Dot: elementwise_traffic,
}


def op_traffic(op: O.Op, ins: list[Shape], out: Shape, itemsize: int) -> OpTraffic:
    return rule_for(TRAFFIC_RULES, op, "traffic")(op, ins, out, itemsize)


@dataclass(frozen=True)
class LayerTraffic:
    """One layer's bytes at a batch: forward (inference; 0 for a layer that is the identity
    there), forward as training runs it, and backward (input gradients only where needed)."""

    name: str
    op: str
    forward: Value
    training_forward: Value
    backward: Value

    @property
    def training(self) -> Value:
        return arith.simplify_int(self.training_forward + self.backward)


def layer_traffic(graph: Any, analysis: Any, batch: Value = 1, itemsize: int = 4
                  ) -> list[LayerTraffic]:
    """Every layer's bytes in graph order (analysis.layers). A training step computes only
    the gradients that lead to a trainable weight (convplan.analysis.gradient_flow): an
    input's gradient is written only where that input's output gradient exists, and a layer
    with none of its own (before any trainable layer: the graph's inputs, preprocessing, a
    frozen backbone) moves no backward bytes."""
    shapes = {layer.name: layer.output_shape for layer in analysis.layers}
    flows = output_gradients(graph, analysis)
    rows = []
    for layer in analysis.layers:
        node = graph[layer.name]
        ins = [shapes[i] for i in node.inputs]
        t = op_traffic(node.op, ins, layer.output_shape, itemsize)
        forward = t.forward.bytes(batch)
        backward = t.backward_bytes(batch, [flows[i] for i in node.inputs]) \
            if flows[layer.name] else 0
        rows.append(LayerTraffic(layer.name, layer.op, 0 if t.identity_at_inference else forward,
                                 forward, backward))
    return rows
