"""Memory by tensor lifetimes: the peak bytes of a training step and of inference.

A step is simulated buffer by buffer, in the graph's topological order (the order `analyze`
lists the layers in), and every buffer is freed as soon as nothing later reads it:

- *persistent*: the variables (params x variable bytes), the optimizer's slots (slots per
  trainable param x variable bytes: Adam 2, momentum 1, convplan.options.OPTIMIZER_SLOTS) and
  the batch itself (inputs in their dtype, and for training float32 targets of the outputs'
  shape); mixed policies keep float32 variables and compute in 16 bits;
- *forward*: each layer's output is allocated when it runs and kept while a later layer reads
  it or while some layer keeps it for its backward pass (`memory_rules.SAVED_RULES`: a
  convolution keeps its input, ReLU its output, BatchNormalization its input, ...), plus what
  the rules keep besides (masks, statistics, a separable convolution's depthwise result);
- *backward*, in reverse order: a layer's step holds the gradient of its output, the gradients
  of its inputs it produces (a second buffer where an input already has a gradient from another
  consumer, added in), its weight gradient (in the compute dtype and the variable dtype under
  a mixed policy), its cast weights under a mixed policy (made at its forward step and kept
  until this one where it computes an input gradient, which reads the same kernel), and
  everything still kept for the layers before it; then its output gradient and what only it
  kept are freed;
- *inference*: the forward pass with nothing kept; the peak live set when buffers are freed
  after their last consumer, as a compiler's buffer assignment does.

    training peak  = persistent + max over steps of the live bytes
    inference peak = variables + inputs + max over forward steps of the live bytes

Two conventions, stated in every report (`CONVENTIONS`):

- "fused" (a compiler, XLA): chains of elementwise layers (activations, normalizations'
  affine part, elementwise merges, dropout, rescaling) are fused into one kernel, so only a
  chain's last output is a buffer; what a fused layer keeps is recomputed from the chain's
  inputs in the backward kernel; each weight gradient is applied by the optimizer as soon as
  it is computed (then freed);
- "eager" (layer by layer, TensorFlow or PyTorch without a compiler): every layer output is
  a buffer, a layer with an `activation` holds its pre-activation output while it runs, and
  every weight gradient is kept until the optimizer applies them all at the end.

Every quantity is a formula in the batch and the input size where they are symbols; the peak is
then a max over the steps whose live sets are not contained in another step's.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from convplan.analysis import arith, xla_cpu
from convplan.analysis.arith import Value
from convplan.analysis.gradient_flow import output_gradients, trains
from convplan.analysis.memory_rules import KIND_BYTES, SAVED_RULES, Buffer, Saved
from convplan.errors import UsageError
from convplan.ir import ops as O
from convplan.ir.rules import rule_for
from convplan.options import MEMORY_CONVENTIONS, dtype_bytes, optimizer_slots

if TYPE_CHECKING:
    from convplan.analysis.analyze import Analysis
    from convplan.ir.graph import Graph

CONVENTIONS = MEMORY_CONVENTIONS
# identity at inference (Keras skips them when training=False): no buffer of their own then
_INFERENCE_IDENTITY = ("Dropout", "GaussianNoise", "ActivityRegularization", "Augmentation")
_INPUT_BYTES = {"float16": 2, "bfloat16": 2, "float64": 8, "int64": 8, "uint8": 1, "int8": 1,
                "bool": 1, "int16": 2, "uint16": 2}


@dataclass(frozen=True)
class Tensor:
    """One buffer: `per_example` bytes x batch + `fixed` bytes."""

    key: str
    layer: str
    role: str  # activation, kept, gradient, weight gradient, cast weights, workspace
    per_example: Value
    fixed: Value = 0
    why: str = ""


@dataclass(frozen=True)
class Step:
    phase: str  # forward, loss, backward, update
    layer: str
    live: frozenset[str]


@dataclass(frozen=True)
class Peak:
    """The largest live set of a pass: its bytes (a max over `candidates` where symbolic) and,
    where the sizes are concrete, the step that reaches it."""

    bytes: Value
    step: Step | None
    candidates: tuple[Step, ...]


@dataclass(frozen=True)
class MemoryPlan:
    convention: str
    dtype: str
    optimizer: str
    batch: Value
    variables: Value  # params x variable bytes
    optimizer_slots: Value
    data: Value  # the training batch: inputs and targets
    input_bytes: Value  # the inference batch: inputs
    tensors: dict[str, Tensor]
    training_steps: tuple[Step, ...]
    inference_steps: tuple[Step, ...]
    training: Peak
    inference: Peak

    @property
    def persistent(self) -> Value:
        return self.variables + self.optimizer_slots + self.data

    @property
    def training_peak(self) -> Value:
        return arith.simplify_int(self.persistent + self.training.bytes)

    @property
    def inference_peak(self) -> Value:
        return arith.simplify_int(self.variables + self.input_bytes + self.inference.bytes)

    def size(self, key: str) -> Value:
        t = self.tensors[key]
        return arith.simplify_int(t.fixed + self.batch * t.per_example)

    def live_bytes(self, step: Step) -> Value:
        return arith.total(self.size(k) for k in step.live)

    def by_layer(self, step: Step) -> dict[str, dict[str, Value]]:
        """Bytes live at `step` per layer and role."""
        out: dict[str, dict[str, Value]] = {}
        for key in sorted(step.live):
            t = self.tensors[key]
            roles = out.setdefault(t.layer, {})
            roles[t.role] = arith.simplify_int(roles.get(t.role, 0) + self.size(key))
        return out


@dataclass(frozen=True)
class TrainingMemory:
    """The training peak and its parts: persistent (variables, optimizer slots, the batch) and
    the live tensors at the peak step (activations kept or in flight, and gradients)."""

    batch: Value
    dtype: str
    optimizer: str
    convention: str
    weights: Value
    optimizer_slots: Value
    data: Value
    live: Value  # tensors live at the peak step
    plan: MemoryPlan = field(repr=False, compare=False)

    @property
    def total(self) -> Value:
        return arith.simplify_int(self.weights + self.optimizer_slots + self.data + self.live)

    @property
    def peak_step(self) -> Step | None:
        """The step that reaches the peak (None where it depends on symbolic sizes)."""
        return self.plan.training.step

    def _roles(self, roles: tuple[str, ...]) -> Value | None:
        step = self.peak_step
        if step is None:
            return None
        return arith.total(self.plan.size(k) for k in step.live
                           if self.plan.tensors[k].role in roles)

    @property
    def gradients(self) -> Value | None:
        """Gradient buffers live at the peak (output and weight gradients)."""
        return self._roles(("gradient", "weight gradient"))

    @property
    def activations(self) -> Value | None:
        """Everything else live at the peak: outputs kept or in flight, masks, statistics,
        cast weights and workspace."""
        return self._roles(("activation", "kept", "cast weights", "workspace"))


def check_convention(convention: str) -> str:
    if convention not in CONVENTIONS:
        raise UsageError(f"unknown memory convention {convention!r}; expected one of "
                         + ", ".join(CONVENTIONS))
    return convention


def _named(op: O.Op, names: Iterable[str]) -> bool:
    return any(base.__name__ in names for base in type(op).__mro__)


# layers that only move elements (a compiler fuses them into the kernel that reads them, as
# XLA's loop and input fusions do with slices, pads and transposes)
_MOVES = ("Cropping", "ZeroPadding", "Permute", "Split", "CenterCrop", "RepeatVector")


def _pointwise(op: O.Op) -> bool:
    """Fusable into a neighbour's kernel: elementwise layers, elementwise merges, and layers
    that only move elements."""
    return (op.elementwise or (isinstance(op, O.Merge) and not isinstance(op, O.Concatenate))
            or _named(op, _MOVES))


def _absorbs(op: O.Op) -> bool:
    """A consumer a fused chain can feed: another fusable layer or a global reduction."""
    return _pointwise(op) or isinstance(op, O.GlobalPooling)


class _Builder:
    """Works out the buffers and steps of one graph (see the module docstring)."""

    def __init__(self, graph: Graph, analysis: Analysis, dtype: str, optimizer: str,
                 convention: str) -> None:
        self.graph, self.analysis = graph, analysis
        self.compute, self.variable = dtype_bytes(dtype)
        self.slots = optimizer_slots(optimizer)
        self.convention = check_convention(convention)
        self.fused = convention != "eager"
        # XLA:CPU widens a 16-bit training step to float32: its per-example buffers are the
        # float32 step's (measured in its buffer assignment; see `_activation_bytes`)
        self.wide_training = convention == "xla-cpu" and self.compute != self.variable
        self.order = [layer.name for layer in analysis.layers]
        self.layer = {layer.name: layer for layer in analysis.layers}
        self.index = {name: i for i, name in enumerate(self.order)}
        self.consumers: dict[str, list[str]] = {name: [] for name in self.order}
        for name in self.order:
            for i in dict.fromkeys(graph[name].inputs):
                self.consumers[i].append(name)
        self.outputs = list(graph.outputs)
        self.tensors: dict[str, Tensor] = {}
        self.saved = {name: self._rule(name) for name in self.order}
        self._sources_memo: dict[int, tuple[dict[str, str | None], dict[str, list[str]]]] = {}

    def _rule(self, name: str) -> Saved:
        node = self.graph[name]
        ins = [self.layer[i].output_shape for i in node.inputs]
        rule = rule_for(SAVED_RULES, node.op, "plan_memory")
        return rule(node.op, ins, self.layer[name].output_shape)

    def bytes_of(self, kind: str) -> int:
        """Bytes per element of a kept or workspace buffer (training only)."""
        return self._activation_bytes(True) if kind == "compute" else KIND_BYTES[kind]

    def _activation_bytes(self, training: bool) -> int:
        """Bytes per element of an output: the compute dtype's, but 4 in a training step
        under xla-cpu with a 16-bit policy. XLA:CPU runs 16-bit convolutions and dots in
        float32 and its backward fusions keep the widened type: the seed CNN's bf16 train step
        holds every per-example float32 buffer of its float32 step (5 f32[8,14,14,64], 4
        f32[8,28,28,32], ...) and bf16 copies besides; its bytes per example are 0.75-1.24x
        the float32 step's on every measured model."""
        return 4 if training and self.wide_training else self.compute

    def add(self, key: str, layer: str, role: str, per_example: Value, fixed: Value = 0,
            why: str = "") -> str:
        if key not in self.tensors:
            self.tensors[key] = Tensor(key, layer, role, arith.simplify_int(per_example),
                                       arith.simplify_int(fixed), why)
        return key

    # -- which layer outputs are buffers ------------------------------------------------
    def buffers(self, training: bool) -> dict[str, str | None]:
        """Layer name -> the key of the buffer holding its output (an input's is 'input:...'),
        or None where the output lives only inside a fused kernel."""
        held: dict[str, str | None] = {}
        for name in self.order:
            node = self.graph[name]
            op = node.op
            if isinstance(op, O.InputLayer):
                held[name] = f"input:{name}"
            elif self.saved[name].view or (not training and _named(op, _INFERENCE_IDENTITY)):
                held[name] = held[node.inputs[0]]
            elif self.fused and self._fused_away(name):
                held[name] = None
            else:
                # inference keeps 16 bits: its buffers are apart from the widened training ones
                prefix = "out" if training or not self.wide_training else "infer"
                held[name] = self.add(f"{prefix}:{name}", name, "activation",
                                      self.layer[name].activations
                                      * self._activation_bytes(training), why="output")
        return held

    def _fused_away(self, name: str) -> bool:
        consumers = self.consumers[name]
        return (_pointwise(self.graph[name].op) and name not in self.outputs
                and len(consumers) == 1 and _absorbs(self.graph[consumers[0]].op)
                and not self.saved[consumers[0]].view)

    def sources(self, name: str, held: dict[str, str | None]) -> list[str]:
        """The buffers a layer's output is computed from: its own, or for a fused-away output,
        the buffers its kernel reads (what a fused backward kernel recomputes it from)."""
        # Memoized per `held` and resolved without recursion: a chain of fused-away layers may
        # be thousands long (a recursion overflows Python's stack; a walk per call is quadratic).
        memo = self._sources_memo.setdefault(id(held), (held, {}))[1]  # `held` kept: ids stay
        pending = [name]
        while pending:
            current = pending[-1]
            if current in memo:
                pending.pop()
                continue
            buffer = held[current]
            if buffer is not None:
                memo[current] = [buffer]
                pending.pop()
                continue
            missing = [i for i in self.graph[current].inputs if i not in memo]
            if missing:
                pending.extend(missing)
                continue
            found: list[str] = []
            for i in self.graph[current].inputs:
                found += [s for s in memo[i] if s not in found]
            memo[current] = found
            pending.pop()
        return memo[name]

    def kept(self, name: str, held: dict[str, str | None]) -> list[str]:
        """Buffers layer `name` keeps for its backward pass (extra ones are made here)."""
        saved, node = self.saved[name], self.graph[name]
        keys: list[str] = []
        for i in saved.inputs:
            keys += self.sources(node.inputs[i], held)
        if saved.output:
            keys += self.sources(name, held)
        for buf in saved.extra:
            keys.append(self._extra(name, buf))
        return [k for k in dict.fromkeys(keys) if not k.startswith("input:")]

    def _extra(self, name: str, buf: Buffer) -> str:
        size = buf.elements * self.bytes_of(buf.kind)
        return self.add(f"kept:{name}:{buf.label}", name, "kept",
                        size if buf.per_example else 0, 0 if buf.per_example else size,
                        why=buf.label)

    def weight_bytes(self, name: str) -> tuple[Value, Value]:
        layer = self.layer[name]
        return layer.params, layer.trainable_params

    # -- the passes ----------------------------------------------------------------------
    def inference(self) -> list[Step]:
        held = self.buffers(training=False)
        last_use = self._last_use(held)
        outputs = self._output_keys(held)
        runs = [name for name in self.order if not isinstance(self.graph[name].op, O.InputLayer)
                and held[name] is not None and held[name] != held[self.graph[name].inputs[0]]]
        live: set[str] = self._early_casts(runs) | self._reversed_kernels(runs)
        steps = []
        for name in runs:
            key = held[name]
            assert key is not None
            now = set(live) | {key} | self._forward_transients(name)
            if self.fused:  # a compiler's results are allocated apart (plan_memory's input_bytes)
                now -= outputs
            steps.append(Step("forward", name, frozenset(now)))
            live.add(key)
            live.discard(f"cast:{name}")
            live.discard(f"reversed:{name}")
            live -= {k for k in live if last_use.get(k, len(self.order)) <= self.index[name]
                     and k not in self._output_keys(held)}
        return steps

    def _output_keys(self, held: dict[str, str | None]) -> set[str]:
        return {k for n in self.outputs for k in self.sources(n, held)}

    def _last_use(self, held: dict[str, str | None]) -> dict[str, int]:
        last: dict[str, int] = {}
        for name in self.order:
            for i in self.graph[name].inputs:
                for k in self.sources(i, held):
                    last[k] = max(last.get(k, -1), self.index[name])
        return last

    def _reversed_kernels(self, runs: list[str]) -> set[str]:
        """xla-cpu, float32 inference: a convolution whose operands XLA swaps
        (`xla_cpu.swaps_operands`: one group, more kernel taps than map positions) convolves
        over a reversed float32 copy of the kernel made at the program's start and live
        until the layer has run (ResNet50's predict step at input 64: three
        f32[3,3,512,512] copies for its 2 x 2 stage-5 maps, 27 MiB; none on 3 x 3 maps).
        Under a 16-bit policy the widened kernel (`_early_casts`) is that copy."""
        if self.convention != "xla-cpu" or self.compute != self.variable:
            return set()
        out = set()
        for name in runs:
            op = self.graph[name].op
            if not isinstance(op, O.Conv):
                continue
            *sizes, channels = self.layer[self.graph[name].inputs[0]].output_shape
            if xla_cpu.swaps_operands(op, [arith.simplify_int(n) for n in sizes]):
                kernel = arith.product(op.kernel_size) * channels * op.filters
                out.add(self.add(f"reversed:{name}", name, "workspace", 0, kernel * 4,
                                 why="reversed float32 kernel (XLA:CPU swaps a convolution "
                                     "whose kernel has more taps than its map positions)"))
        return out

    def _early_casts(self, runs: list[str]) -> set[str]:
        """xla-cpu under a 16-bit policy, inference: every weighted layer's widened kernel,
        live from the program's start until its layer has run. The converts read only the
        parameters, so XLA's scheduler runs them all first (the seed CNN's bf16 predict step
        widens all four kernels before the first convolution; VGG16, MobileNetV2 and ResNet50
        predict steps hold about a float32 copy of every kernel more than in float32)."""
        if self.convention != "xla-cpu" or self.compute == self.variable:
            return set()
        return {k for name in runs for k in self._forward_transients(name)
                if k == f"cast:{name}"}

    def _forward_transients(self, name: str) -> set[str]:
        """A mixed policy's cast weights; eager: the pre-activation output of a layer with an
        activation argument."""
        out: set[str] = set()
        params, _ = self.weight_bytes(name)
        if self.compute != self.variable and arith.is_positive(params):
            # XLA:CPU runs 16-bit dots and convolutions in float32: the rounded kernel is
            # widened back to a float32 copy and the result is made in float32, then narrowed
            # (f32[3136,128] and f32[8,28,28,32] temporaries in the seed CNN's bf16 predict step)
            widened = self.convention == "xla-cpu"
            out.add(self.add(f"cast:{name}", name, "cast weights", 0,
                             params * (4 if widened else self.compute),
                             why="weights cast to the compute dtype"
                             + (" and widened to float32 (XLA:CPU)" if widened else "")))
            if widened:
                out.add(self.add(f"wide:{name}", name, "workspace",
                                 self.layer[name].activations * 4,
                                 why="float32 result before narrowing (XLA:CPU)"))
        if not self.fused and getattr(self.graph[name].op, "activation", None) not in (
                None, "linear"):
            out.add(self.add(f"preact:{name}", name, "activation",
                             self.layer[name].activations * self.compute,
                             why="pre-activation output"))
        return out

    def roots(self, held: dict[str, str | None]) -> dict[str, str]:
        """Layer -> the layer whose kernel computes it: itself, or for a fused-away output the
        first layer downstream that writes a buffer."""
        root: dict[str, str] = {}
        for name in reversed(self.order):
            root[name] = name if held[name] is not None else root[self.consumers[name][0]]
        return root

    def training(self) -> list[Step]:
        held = self.buffers(training=True)
        root = self.roots(held)
        members: dict[str, list[str]] = {}
        for name in self.order:
            members.setdefault(root[name], []).append(name)
        last_use = self._last_use(held)
        keeps = {name: self.kept(name, held) for name in self.order}
        # a buffer kept by several layers lives until the earliest of their kernels has run
        # backward
        kept_until: dict[str, int] = {}
        for name in self.order:
            for k in keeps[name]:
                kept_until[k] = min(kept_until.get(k, len(self.order)), self.index[root[name]])
        outputs = self._output_keys(held)
        needs = self._needs_gradient()
        live: set[str] = set()
        casts: set[str] = set()
        steps: list[Step] = []
        for name in self.order:
            if isinstance(self.graph[name].op, O.InputLayer):
                continue
            new = {k for k in keeps[name] if k.startswith("kept:")}
            if held[name] is not None and held[name] != held[self.graph[name].inputs[0]]:
                new.add(held[name])  # type: ignore[arg-type]
            transients = self._forward_transients(name)
            if not new and not transients:
                continue  # a view, or fused into its consumer's kernel
            steps.append(Step("forward", name, frozenset(live | new | transients)))
            live |= new
            live -= {k for k in live if last_use.get(k, -1) <= self.index[name]
                     and k not in kept_until and k not in outputs and k not in casts}
            # the cast weights are the residual of the input gradient (input gradient = output
            # gradient convolved with the same kernel): kept until the layer's backward step,
            # which frees them (`_backward_transients`), where that gradient is computed
            if any(needs[i] for i in self.graph[name].inputs):
                kept_cast = {k for k in transients if k == f"cast:{name}"}
                casts |= kept_cast
                live |= kept_cast
        grads = {k: self.add(f"grad:{k}", self.tensors[k].layer, "gradient",
                             self.tensors[k].per_example, why="gradient")
                 for k in list(self.tensors) if k.startswith("out:")}
        live |= {grads[k] for k in outputs if k in grads}
        steps.append(Step("loss", "loss", frozenset(live)))
        live -= {k for k in outputs if k not in kept_until}
        kept_weights: set[str] = set()
        for name in reversed(self.order):
            node = self.graph[name]
            key = held[name]
            if (isinstance(node.op, O.InputLayer) or root[name] != name or not needs[name]
                    or key == held[node.inputs[0]]):
                continue  # an input, a view, fused into a later kernel, or nothing to train
            now = set(live)
            partials = set()
            for k in self._reads(name, held):
                if k in grads and needs[self.tensors[k].layer]:
                    if grads[k] in live:  # another consumer's gradient is there: add it in
                        partials.add(self.add(f"partial:{name}:{k}", name, "gradient",
                                              self.tensors[k].per_example,
                                              why="gradient to add in"))
                    now.add(grads[k])
            wgrad = set().union(*(self._weight_gradient(m) for m in members[name]))
            work = set().union(*(self._backward_transients(m) for m in members[name]))
            now |= partials | wgrad | work
            steps.append(Step("backward", name, frozenset(now)))
            live = now - partials - wgrad - work
            if self.convention != "fused":  # applied all at once after the last one
                kept_weights |= {k for k in wgrad if k.startswith("wgrad:")}
                live |= kept_weights
            if key in grads:
                live.discard(grads[key])
            live -= {k for k in live if kept_until.get(k, -1) >= self.index[name]}
        if kept_weights:
            steps.append(Step("update", "optimizer", frozenset(live)))
        return steps

    def _reads(self, name: str, held: dict[str, str | None]) -> list[str]:
        """The buffers a layer's kernel reads (its inputs', through fused-away layers)."""
        found: list[str] = []
        for i in self.graph[name].inputs:
            found += [s for s in self.sources(i, held) if s not in found]
        return found

    def _trainable(self, name: str) -> bool:
        return trains(self.layer[name])

    def _needs_gradient(self) -> dict[str, bool]:
        """Whether a layer's output gradient is computed: some layer up to it trains."""
        return output_gradients(self.graph, self.analysis)

    def _weight_gradient(self, name: str) -> set[str]:
        if not self._trainable(name):
            return set()
        _, trainable = self.weight_bytes(name)
        keys = {self.add(f"wgrad:{name}", name, "weight gradient", 0, trainable * self.variable,
                         why="weight gradient")}
        if self.compute != self.variable:
            keys.add(self.add(f"wgrad16:{name}", name, "weight gradient", 0,
                              trainable * self.compute,
                              why="weight gradient in the compute dtype"))
        return keys

    def _backward_transients(self, name: str) -> set[str]:
        out = {self.add(f"work:{name}:{b.label}", name, "workspace",
                        b.elements * self.bytes_of(b.kind) if b.per_example else 0,
                        0 if b.per_example else b.elements * self.bytes_of(b.kind),
                        why=b.label) for b in self.saved[name].workspace
               if b.backend in (None, self.convention)}
        params, _ = self.weight_bytes(name)
        if self.compute != self.variable and arith.is_positive(params):
            out.add(f"cast:{name}")
        return out


def _peak(steps: Sequence[Step], tensors: dict[str, Tensor], batch: Value) -> Peak:
    """The max over steps of the live bytes. Steps whose live set lies inside another's are
    dropped first (sizes are never negative), and where the sizes are numbers, steps beaten
    in both their fixed and their per-example bytes, so a max in a symbolic batch or size keeps
    only steps that can be the peak."""
    unique = list(dict.fromkeys(s.live for s in steps))
    keep = [a for a in unique if not any(a < b for b in unique)]
    candidates = [next(s for s in steps if s.live == live) for live in keep]
    if not candidates:
        return Peak(0, None, ())
    used = set().union(*(s.live for s in candidates))
    if all(isinstance(arith.simplify_int(tensors[k].fixed), int) and
           isinstance(arith.simplify_int(tensors[k].per_example), int) for k in used):
        parts = [_step_bytes(s, tensors) for s in candidates]
        beaten = [any((g >= f and q >= p) and (g, q) != (f, p) or (g, q) == (f, p) and j < i
                      for j, (g, q) in enumerate(parts)) for i, (f, p) in enumerate(parts)]
        candidates = [c for c, out in zip(candidates, beaten) if not out]
        parts = [p for p, out in zip(parts, beaten) if not out]
    else:
        kept = _undominated_forms(_step_forms(candidates, tensors, used))
        candidates = [candidates[i] for i in kept]
        # only the steps that can be the peak are summed as formulas
        parts = [_step_bytes(s, tensors) for s in candidates]
    values = [arith.simplify_int(f + batch * p) for f, p in parts]
    if all(isinstance(v, int) for v in values):
        best = max(range(len(values)), key=values.__getitem__)
        return Peak(values[best], candidates[best], tuple(candidates))
    if len(values) == 1:
        return Peak(values[0], candidates[0], tuple(candidates))
    sympy = arith.sympy_module()
    # unevaluated: sympy would compare every pair of symbolic terms (minutes on a U-Net)
    return Peak(sympy.Max(*values, evaluate=False), None, tuple(candidates))


def _step_bytes(step: Step, tensors: dict[str, Tensor]) -> tuple[Value, Value]:
    """(fixed, per-example) bytes live at a step."""
    return (arith.total(tensors[k].fixed for k in step.live),
            arith.total(tensors[k].per_example for k in step.live))


def _monomials(value: Value) -> dict[Any, Any] | None:
    """A polynomial in sizes as {monomial: coefficient} (expanded; the constant under 1), or
    None where a monomial is not a product of sizes (which could be negative)."""
    value = arith.simplify_int(value)
    if isinstance(value, int):
        return {1: value}
    return _expanded(value)


@functools.lru_cache(maxsize=4096)
def _expanded(value: Any) -> dict[Any, Any] | None:
    """_monomials of a formula, remembered: many tensors share a size (a stage's maps), and
    sympy expressions are immutable and hash by structure, so the cache is exact. The dict
    returned is shared: read it, never change it."""
    sympy = arith.sympy_module()
    terms = sympy.expand(value).as_coefficients_dict()
    sizes = (sympy.Symbol, sympy.floor, sympy.ceiling, sympy.Max, sympy.Min)
    for monomial in terms:
        factors = sympy.Mul.make_args(monomial)
        if not all(f == 1 or isinstance(f, sizes) or isinstance(f, sympy.Pow)
                   and isinstance(f.base, sizes) and f.exp.is_Integer and f.exp > 0
                   for f in factors):
            return None
    return dict(terms)


def _step_forms(candidates: Sequence[Step], tensors: dict[str, Tensor],
                used: set[str]) -> list[dict[Any, Any] | None]:
    """Each step's live bytes as {("f" or "p", monomial): coefficient}, the sum of its
    tensors' expansions (expanding is linear, so this is the expansion of the step's sum;
    each tensor is expanded once, not once per step it is live in), or None where a tensor's
    size is not a polynomial in sizes. Keys are interned as small ints and integer
    coefficients made Python ints: the sums and comparisons below then never hash a sympy
    expression or add sympy numbers (most of a ResNet50's symbolic peak before)."""
    ids: dict[Any, int] = {}

    def interned(form: dict[Any, Any] | None) -> dict[int, Any] | None:
        if form is None:
            return None
        return {ids.setdefault(m, len(ids)): int(v) if getattr(v, "is_Integer", False) else v
                for m, v in form.items()}

    per_tensor = {k: interned(_form(tensors[k].fixed, tensors[k].per_example)) for k in used}
    forms: list[dict[Any, Any] | None] = []
    for step in candidates:
        form: dict[Any, Any] = {}
        for k in step.live:
            terms = per_tensor[k]
            if terms is None:
                break
            for m, v in terms.items():
                form[m] = form.get(m, 0) + v
        else:
            forms.append(form)
            continue
        forms.append(None)
    return forms


def _form(fixed: Value, per_example: Value) -> dict[Any, Any] | None:
    f, p = _monomials(fixed), _monomials(per_example)
    if f is None or p is None:
        return None
    return {**{("f", m): v for m, v in f.items()}, **{("p", m): v for m, v in p.items()}}


def _undominated(parts: Sequence[tuple[Value, Value]]) -> list[int]:
    """Indices of the (fixed, per-example) pairs that no other pair beats at every size."""
    return _undominated_forms([_form(f, p) for f, p in parts])


def _undominated_forms(forms: Sequence[dict[Any, Any] | None]) -> list[int]:
    """Indices of the steps' forms ({("f" or "p", monomial): coefficient}) that no other
    beats at every size: a form whose every monomial's coefficient is at most another's is
    never the larger, since each monomial (a product of sizes and their floors, ceilings) is
    >= 0. A symbolic peak's Max keeps only the rest (a U-Net's 35 steps: 5), so printing and
    substituting it stay fast."""

    def beats(b: dict[Any, Any], a: dict[Any, Any]) -> bool:
        return all(b.get(k, 0) >= v for k, v in a.items()) and all(
            v >= 0 for k, v in b.items() if k not in a)

    kept = []
    for i, a in enumerate(forms):
        if a is not None and any(
                b is not None and j != i and beats(b, a) and (not beats(a, b) or j < i)
                for j, b in enumerate(forms)):
            continue
        kept.append(i)
    return kept


def plan_memory(graph: Graph, analysis: Analysis, batch: Value = 1, dtype: str = "float32",
                optimizer: str = "adam", convention: str = "fused") -> MemoryPlan:
    """Buffers, steps and peaks of a training step and of inference (the module docstring)."""
    sympy = sys.modules.get("sympy")
    if sympy is not None and not sympy.core.parameters.global_parameters.evaluate:
        # A caller that builds formulas unevaluated (solve, before it substitutes a side) would
        # leave every sum of buffer sizes uncombined: a U-Net's peak became a tree of 158,000
        # nodes that each substitution walks (19 s for `solve --max-size`). The sums are
        # combined here; the peak's Max is unevaluated anyway (`_peak`).
        with sympy.evaluate(True):
            return plan_memory(graph, analysis, batch, dtype, optimizer, convention)
    b = _Builder(graph, analysis, dtype, optimizer, convention)
    training, inference = b.training(), b.inference()
    compute, variable = b.compute, b.variable

    inputs = arith.total(
        b.layer[n].activations * _INPUT_BYTES.get(getattr(graph[n].op, "dtype", ""), 4)
        for n in graph.inputs)
    targets = arith.total(b.layer[n].activations * 4 for n in graph.outputs)
    outputs = arith.total(b.layer[n].activations * b.compute for n in graph.outputs)
    t = analysis.totals
    del compute
    return MemoryPlan(
        convention=convention, dtype=dtype, optimizer=optimizer, batch=batch,
        variables=arith.simplify_int(t.params * variable),
        optimizer_slots=arith.simplify_int(b.slots * t.trainable_params * variable),
        data=arith.simplify_int(batch * (inputs + targets)),
        # a compiler allocates the results beside the temporaries for the whole step
        input_bytes=arith.simplify_int(batch * (inputs + (outputs if b.fused else 0))),
        tensors=b.tensors, training_steps=tuple(training), inference_steps=tuple(inference),
        training=_peak(training, b.tensors, batch),
        inference=_peak(inference, b.tensors, batch))


def training_memory(graph: Graph, analysis: Analysis, batch: Value = 1, dtype: str = "float32",
                    optimizer: str = "adam", convention: str = "fused") -> TrainingMemory:
    plan = plan_memory(graph, analysis, batch, dtype, optimizer, convention)
    return TrainingMemory(batch, dtype, optimizer, convention, plan.variables,
                          plan.optimizer_slots, plan.data, plan.training.bytes, plan)
