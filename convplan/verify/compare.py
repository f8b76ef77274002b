"""`verify`: the plan against the model built in TensorFlow, layer by layer.

For every layer: the output shape (symbolic, and from an eager call on a batch of two), the
trainable and non-trainable params and the MACs (`convplan.verify.measure`), and, for layers
that keep the input's spatial axes, the receptive field measured on a linearized copy
(`convplan.verify.field`). The plan gives every output position an interval of input pixels:
from (size, stride, start) where the geometry is uniform, from the field's `phases` downstream
of upsampling and transposed convolutions. Each measured interval must lie inside the plan's,
clipped to the input, and equal it where no border can cut it (`compare_axis`). A plan that
has no phases gives only an envelope after resampling; there the sizes are compared.

Layers are found in the built model by where the plan's graph came from (`keras_graph`), so
Sequential and nested models and keras.ops nodes compare by the plan's names. Everything that
can be checked without TensorFlow (the plan, the arguments) is checked before it is imported.
A field measurement over its budget probes a sample of input positions (`budget`); an output is
then compared where its plan's first or last pixel was probed, and no probed pixel may lie
outside the plan's field, so a sample can miss a mismatch but never invent one nor hide one
at the positions it probes.
"""

from __future__ import annotations

import json
import math
import re
import resource
import time
import zipfile
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from convplan.analysis import Analysis, analyze
from convplan.analysis.receptive import Field
from convplan.errors import UsageError, parameter_name
from convplan.ir.graph import Graph
from convplan.verify.budget import (
    FIELD_PROGRESS_LINES,
    FieldBudget,
    phase_width,
    plan_measurement,
    probe_order,
)
from convplan.verify.field import (
    Interval,
    measure_fields_within,
    resampled_layers,
    with_every_sink,
)
from convplan.verify.measure import shape_of

Step = Callable[[str], None]
EVERYWHERE = range(2**62)  # every position probed


@dataclass(frozen=True)
class Check:
    quantity: str
    plan: Any
    measured: Any
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class LayerCheck:
    name: str
    op: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def check(self, quantity: str) -> Check | None:
        return next((c for c in self.checks if c.quantity == quantity), None)


@dataclass(frozen=True)
class Verification:
    name: str
    layers: tuple[LayerCheck, ...]
    notes: tuple[str, ...]
    seconds: float = 0.0  # wall time of the verification
    peak_memory: int = 0  # the process's peak resident memory so far (bytes, ru_maxrss)

    @property
    def ok(self) -> bool:
        return all(layer.ok for layer in self.layers)

    @property
    def mismatches(self) -> list[tuple[str, Check]]:
        return [(layer.name, c) for layer in self.layers for c in layer.checks if not c.ok]


def concrete_plan(graph: Graph, input_size: Sequence[int] | None) -> Analysis:
    plan = analyze(graph, input_size=input_size)
    if not plan.is_concrete:
        raise UsageError(f"the network's size depends on {', '.join(plan.symbols)}; verify needs "
                         "concrete sizes", hint=f"{parameter_name('input_size')} 224x224")
    return plan


def _fraction(value: Any) -> Fraction:
    if isinstance(value, int):
        return Fraction(value)
    return Fraction(int(value.p), int(value.q))  # a sympy Rational once sizes are concrete


def plan_interval(plan_axis: Any, p: int) -> tuple[int, int] | None:
    """The first and last input pixel output p sees by the plan, unclipped: [start + p *
    stride, ... + size - 1] (rounded outward) on a uniform field; from `phases` where the
    plan has them (output k * q + r sees phases[r] + start + k * q * stride); None where the
    plan says output p sees nothing."""
    size, stride, start = (_fraction(plan_axis.size), _fraction(plan_axis.stride),
                           _fraction(plan_axis.start))
    phases = getattr(plan_axis, "phases", ())
    if phases:
        k, r = divmod(p, len(phases))
        if phases[r] is None:
            return None
        base = start + k * len(phases) * stride
        first, last = base + _fraction(phases[r][0]), base + _fraction(phases[r][1])
        return math.floor(first), math.ceil(last)
    lo = start + p * stride
    return math.floor(lo), math.ceil(lo + size - 1)


def clip(interval: tuple[int, int] | None, n: int) -> Interval:
    """The interval clipped to the input's pixels [0, n - 1]; None if nothing is left."""
    if interval is None:
        return None
    first, last = max(interval[0], 0), min(interval[1], n - 1)
    return (first, last) if first <= last else None


def compare_axis(plan_axis: Any, measured: Sequence[Interval], n: int, uniform: bool,
                 probed: Container[int] = EVERYWHERE) -> tuple[bool, str]:
    """Measured intervals of one axis against the plan's field, output by output.

    Every measured interval must lie inside the plan's, clipped to the input (a border only
    hides pixels). Where the plan's interval lies strictly inside the pixels the layer reaches
    at all, no border cuts it (neither the input's nor an inner map's: cropping, or 'valid'
    windows that leave the last pixels unread), so an output that sees anything must see
    exactly that; one that sees nothing lies in zero padding, where the plan extends its
    pattern (which after a dilated window over an upsampled map can land inside). Where only
    some input positions were `probed`, each end of the plan's interval is compared where it
    was probed. A field type without `phases` gives only an envelope downstream of
    resampling (`uniform` False): there the sizes are compared (`compare_extent`)."""
    if not uniform and not hasattr(plan_axis, "phases"):
        return compare_extent(_fraction(plan_axis.size), measured, n, probed is EVERYWHERE)
    seen_any = [s for s in measured if s is not None]
    reach = (min(s[0] for s in seen_any), max(s[1] for s in seen_any)) if seen_any else None
    for p, seen in enumerate(measured):
        plan = plan_interval(plan_axis, p)
        want = clip(plan, n)
        if seen is not None and (want is None or seen[0] < want[0] or seen[1] > want[1]):
            return False, f"output {p} sees {_text(seen)}, outside the plan's {_text(want)}"
        if (seen is not None and plan is not None and reach[0] < plan[0]
                and plan[1] < reach[1]
                and any(end in probed and got != end for end, got in zip(plan, seen))):
            return False, f"output {p} sees {_text(seen)}, plan says {_text(plan)}"
    return True, ""


def compare_extent(size: Fraction, measured: Sequence[Interval], n: int, complete: bool = True
                   ) -> tuple[bool, str]:
    """Downstream of resampling, neighbouring outputs see windows of different sizes and
    offsets; the plan's size is the largest, which the widest field clear of the border has.
    The border is that of the pixels the layer reaches at all, not the input's: 'valid'
    windows can leave the last input pixels unread, and a field ending just before them is
    cut by an inner map's edge, not whole. Measured on a sample (`complete` False), a field
    can only look smaller: it must not be wider than the plan's."""
    seen = list(filter(None, measured))
    first = min((lo for lo, _ in seen), default=0)
    last = max((hi for _, hi in seen), default=n - 1)
    clear = [hi - lo + 1 for lo, hi in seen if lo > first and hi < last]
    if not clear:
        return True, "every field reaches the border; size not measurable at this input size"
    if max(clear) > size or complete and max(clear) != size:
        return False, f"the widest field clear of the border spans {max(clear)} pixels, plan " \
                      f"says {size}"
    if not complete:
        return True, "non-uniform geometry after resampling, sampled: size bounded by the plan's"
    return True, "non-uniform geometry after resampling: size compared"


def _text(interval: Interval) -> str:
    return "nothing" if interval is None else f"[{interval[0]}, {interval[1]}]"


def envelope_layers(graph: Graph, plan: Analysis) -> set[str]:
    """Merges of paths at different strides, and every layer after one: the plan gives them
    an envelope (reported as misaligned), not an interval per output, so nothing per output
    can be compared."""
    from convplan.analysis.receptive import counted_inputs
    from convplan.ir import ops as O

    fields = {r.name: r.receptive_field for r in plan.layers}
    shapes = {r.name: r.output_shape for r in plan.layers}
    marked: set[str] = set()
    for name in graph.topological_order():
        node = graph[name]
        if any(i in marked for i in node.inputs):
            marked.add(name)
        elif isinstance(node.op, O.Merge):
            counted = counted_inputs(node.op, [fields[i] for i in node.inputs],
                                     [shapes[i] for i in node.inputs], shapes[name])
            known = [fields[i] for i, c in zip(node.inputs, counted) if c]
            if len({tuple(str(a.stride) for a in f) for f in known
                    if len(f) == len(known[0])}) > 1:
                marked.add(name)
    return marked


def compare_field(field: Field, measured: tuple[tuple[Interval, ...], ...] | None,
                  spatial: Sequence[int], uniform: bool, envelope: bool = False,
                  probed: Sequence[Container[int]] | None = None) -> Check:
    """`probed`: per axis, the input positions the measurement probed (None: all)."""
    plan_text = field_text(field)
    if measured is None:
        return Check("receptive_field", plan_text, "-", True, "not measured")
    if envelope:
        return Check("receptive_field", plan_text, "-", True,
                     "not compared: paths at different strides merge into an envelope")
    measured_text = "x".join(str(max((hi - lo + 1 for lo, hi in filter(None, axis)), default=0))
                             for axis in measured)
    probed = probed or [EVERYWHERE] * len(spatial)
    for axis, (plan_axis, seen, n, at) in enumerate(zip(field, measured, spatial, probed)):
        ok, detail = compare_axis(plan_axis, seen, n, uniform, at)
        if not ok:
            return Check("receptive_field", plan_text, measured_text, False,
                         f"axis {axis + 1}: {detail}")
    return Check("receptive_field", plan_text, measured_text, True,
                 "" if probed[0] is EVERYWHERE else "sampled input positions")


def field_text(field: Field) -> str:
    if field is None:
        return "-"
    return "x".join(str(_fraction(a.size)) for a in field)


def _value_check(quantity: str, plan: Any, measured: Any) -> Check:
    return Check(quantity, plan, measured, plan == measured)


def build_model(graph: Graph, model_path: str | None, input_size: Sequence[int] | None,
                plan: Analysis) -> Any:
    """The Keras model to check: the real one from a .keras/JSON file, else built from the IR.
    A saved model whose inputs have free sizes is rebuilt from its config with the plan's
    input shapes (its weights are not needed: params are counted from their shapes)."""
    if model_path is None:
        from convplan.verify.keras_build import build_keras_model

        return build_keras_model(with_every_sink(graph), input_size)
    import keras

    try:
        if input_size is not None:
            config = with_input_shapes(read_config(model_path),
                                       [plan.layer(name).output_shape for name in graph.inputs])
            return keras.models.model_from_json(json.dumps(config))
        if model_path.endswith(".keras"):
            return keras.saving.load_model(model_path, compile=False)
        with open(model_path, encoding="utf-8") as handle:
            return keras.models.model_from_json(handle.read())
    except TypeError as exc:  # Keras's words for a class nobody registered in this process
        if "Could not locate" not in str(exc):
            raise
        found = re.search(r"Could not locate \w+ '([^']+)'", str(exc))
        name = found.group(1) if found else "a custom class"
        raise UsageError(f"Keras cannot load {model_path}: it does not know the class {name!r}, "
                         "which the model's own layers use; verify compares the real layer, so "
                         "Keras must find it", hint="register it with keras.saving."
                         "register_keras_serializable in a module and pass "
                         f"{parameter_name('modules')} that module (or call verify_model after "
                         "importing it)") from None


def read_config(model_path: str) -> dict:
    """The model config of a .keras archive (its config.json) or of model JSON."""
    if model_path.endswith(".keras"):
        with zipfile.ZipFile(model_path) as archive:
            return json.loads(archive.read("config.json"))
    with open(model_path, encoding="utf-8") as handle:
        return json.load(handle)


def with_input_shapes(config: dict, shapes: Sequence[Sequence[Any]]) -> dict:
    """The config with its top-level inputs' batch_shape set to `shapes` (batch excluded), in
    the order of its input_layers (a Sequential: its first layer, or its build shape)."""
    inner = config["config"]
    batch_shapes = [[None, *(int(d) for d in shape)] for shape in shapes]
    entries = {entry["config"]["name"]: entry for entry in inner["layers"]
               if entry.get("class_name") == "InputLayer"}
    if config.get("class_name") == "Sequential":
        first = inner["layers"][0] if inner["layers"] else {}
        if first.get("class_name") == "InputLayer":
            first["config"]["batch_shape"] = batch_shapes[0]
        else:
            inner["build_input_shape"] = batch_shapes[0]
        return config
    refs = inner["input_layers"]
    refs = [refs] if refs and isinstance(refs[0], str) else refs
    for ref, shape in zip(refs, batch_shapes):
        entries[ref[0]]["config"]["batch_shape"] = shape
    return config


def check_arguments(graph: Graph, input_size: Sequence[int] | None, model_path: str | None
                    ) -> tuple[Analysis, Sequence[int] | None]:
    """Everything verify can check without TensorFlow: the plan it compares against, and the
    input size to build at. An input size applies to a spec, and to a saved model where its
    inputs have free sizes; one equal to a saved model's own sizes is accepted (and the model
    is loaded as saved), any other is refused."""
    if model_path is not None and input_size is not None:
        from convplan.analysis import arith
        from convplan.analysis.analyze import input_shapes

        fixed = input_shapes(graph, None)
        if all(arith.is_concrete(d) for shape in fixed.values() for d in shape):
            same = [tuple(int(d) for d in shape[:-1]) == tuple(input_size)
                    for shape in fixed.values() if len(shape) - 1 == len(input_size)]
            if same and all(same):
                return concrete_plan(graph, None), None
            shown = ", ".join("x".join(str(d) for d in s) for s in fixed.values())
            raise UsageError(f"{parameter_name('input_size')} applies to specs and to saved "
                             f"models with free input sizes; this one keeps its own ({shown}), "
                             f"received {'x'.join(map(str, input_size))}")
    return concrete_plan(graph, input_size), input_size


def verify_model(graph: Graph, input_size: Sequence[int] | None = None,
                 model_path: str | None = None, fields: bool = True,
                 origins: Mapping[str, Any] | None = None, budget: FieldBudget | None = None,
                 step: Step | None = None) -> Verification:
    """Build (or load) the model in TensorFlow and compare it with the plan, layer by layer.

    `origins`: where the walker found each node of a Keras model file's graph
    (frontends.keras_model.traced_graph_from_keras_config; a node missing from it is a
    top-level layer of its own name); `budget`: the receptive-field measurement's
    (`convplan.verify.budget`); `step(description)` is told as each stage starts."""
    from convplan.verify.keras_graph import eager_shapes, locate, measure_call, model_calls

    started = time.perf_counter()
    say = step or (lambda _: None)
    plan, input_size = check_arguments(graph, input_size, model_path)
    say("building the model in TensorFlow")
    model = build_model(graph, model_path, input_size, plan)
    say(f"finding the plan's {len(plan.layers)} layers in the model")
    calls = model_calls(model)
    origin_of = locate(graph, origins or {}, calls)
    say("output shapes from running the model on a batch of two")
    eager = eager_shapes(model, calls)
    say("output shapes, params and MACs of every layer")
    inputs = dict(zip(graph.inputs, model.inputs))
    measured = {name: measure_call(calls[origin]) for name, origin in origin_of.items()}
    notes: list[str] = []
    measured_fields, probed = None, None
    if fields:
        measured_fields, probed, note = _measure(graph, plan, input_size, budget or FieldBudget(),
                                                 say)
        notes.append(note)
    say("comparing")
    uniform_exempt = resampled_layers(graph)
    envelopes = envelope_layers(graph, plan)
    spatial = [int(d) for d in plan.layer(graph.inputs[0]).output_shape[:-1]]
    rows = []
    for result in plan.layers:
        plan_shape = tuple(int(d) for d in result.output_shape)
        if result.name in inputs:
            checks = [_value_check("output_shape", plan_shape, shape_of(inputs[result.name]))]
        else:
            facts, ran = measured[result.name], eager[origin_of[result.name]]
            checks = [
                _value_check("output_shape", plan_shape, facts["output_shape"]),
                Check("eager_shape", plan_shape, ran, plan_shape == ran,
                      "shape from running the model"),
                _value_check("trainable_params", result.trainable_params,
                             facts["trainable_params"]),
                _value_check("non_trainable_params", result.non_trainable_params,
                             facts["non_trainable_params"]),
                _value_check("macs", result.macs, facts["macs"]),
            ]
            if measured_fields is not None and result.receptive_field is not None:
                checks.append(compare_field(result.receptive_field,
                                            measured_fields.get(result.name), spatial,
                                            result.name not in uniform_exempt,
                                            result.name in envelopes, probed))
        rows.append(LayerCheck(result.name, result.op, tuple(checks)))
    return Verification(plan.name, tuple(rows), tuple(notes), time.perf_counter() - started,
                        peak_memory())


def peak_memory() -> int:
    """The process's peak resident set in bytes (ru_maxrss: KiB on Linux, bytes on macOS)."""
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _measure(graph: Graph, plan: Analysis, input_size: Sequence[int] | None,
             budget: FieldBudget, say: Step
             ) -> tuple[dict | None, Sequence[Container[int]] | None, str]:
    """Measured fields, the positions probed per axis (None: all), and a note on the cost."""
    if len(graph.inputs) != 1:
        return None, None, "receptive fields are measured for one-input networks only; skipped"
    shape = plan.layer(graph.inputs[0]).output_shape
    spatial = [int(d) for d in shape[:-1]]
    names = [r.name for r in plan.layers
             if r.receptive_field is not None and r.op != "InputLayer"
             and len(r.output_shape) == len(shape)]
    if not names:
        return {}, None, "no layer keeps the input's spatial axes: no receptive field measured"
    fields = [plan.layer(n).receptive_field for n in names]
    widths = [phase_width(fields, axis) for axis in range(len(spatial))]
    decision = plan_measurement(spatial, int(plan.totals.activations), float(plan.totals.flops),
                                widths, budget)
    if decision.positions is None:
        return None, None, decision.note
    say(f"receptive fields: {decision.passes} input positions, {decision.chunk} per pass")
    shown = [0]

    def on_chunk(done: int, total: int) -> None:
        line = done * FIELD_PROGRESS_LINES // total
        if line > shown[0] and done < total:
            shown[0] = line
            say(f"receptive fields: {done}/{total} input positions")

    started = time.perf_counter()
    order = probe_order(decision.positions, spatial, widths)
    measured, probed = measure_fields_within(graph, names, [int(d) for d in shape], order,
                                             decision.chunk, input_size, plan, budget.seconds,
                                             on_chunk)
    took = f"; measured in {time.perf_counter() - started:.1f} s"
    count = sum(map(len, probed))
    if count < decision.passes:
        took += (f"; stopped at the field budget's {budget.seconds:g} s after {count} of the "
                 f"{decision.passes} positions planned (the estimate was low on this machine), "
                 "compared where probed")
    elif not decision.sampled:
        return measured, None, decision.note + took
    return measured, probed, decision.note + took
