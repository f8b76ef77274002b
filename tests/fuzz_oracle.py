"""Differential check of one whole network (a spec dict) against TensorFlow.

convplan reads the spec as a user's file would be read (dumped to YAML, parsed, built, analyzed).
TensorFlow gets the same layers argument for argument (`keras.layers.<op>(**attributes)`, not
convplan's normalized ops), applied to symbolic `keras.Input`s, then run eagerly on a batch of
two. Then:

- either both accept the network, and for every layer the output shape (symbolic and eager),
  trainable and non-trainable params and MACs agree (`convplan.verify.measure`); the model
  `convplan.verify.keras_build` builds from convplan's ops agrees with the raw one; and, where
  asked, every layer's receptive field agrees with the field measured in TensorFlow
  (`convplan.verify.field`, exact per output pixel: impulses through a linearized copy, the
  support of the gradient; compared as `convplan verify` compares it);
- or both reject it: convplan with a ConvplanError (any other exception is a convplan bug),
  Keras when building, with an empty output, or when running.

TensorFlow's CPU kernels cannot run dilated transposed convolutions (a platform limit, not
Keras's semantics: the symbolic layer accepts them); such networks are compared symbolically.

TensorFlow's side is plain JSON data (`measure_tensorflow`). A regression spec under
tests/data/fuzz/ keeps it beside itself, `<stem>.expected.json` (written by
scripts/record_fuzz_expectations.py), so `compare_recorded` replays the comparison without
TensorFlow; the live test asserts that the record still equals the measurement.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from convplan.errors import ConvplanError
from convplan.ir import ops as O

# TensorFlow CPU kernels refuse these; GPU kernels implement them (docs/keras-semantics.md §2).
CPU_LIMITS = re.compile(r"Current CPU implementations? do(es)? not")


@dataclass(frozen=True)
class Mismatch:
    quantity: str  # output_shape, eager_shape, params, macs, receptive_field, accepts, ...
    layer: str | None
    op: str | None
    plan: Any
    tensorflow: Any
    detail: str = ""

    @property
    def signature(self) -> tuple[str, str | None]:
        """What the shrinker keeps failing on: the quantity and the layer's op."""
        return self.quantity, self.op

    def line(self) -> str:
        where = f"{self.layer} ({self.op})" if self.layer else "network"
        text = f"{where}: {self.quantity}: convplan {self.plan!r}, TensorFlow {self.tensorflow!r}"
        return text + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class Outcome:
    accepted_by: tuple[str, ...]  # "convplan", "keras"
    mismatches: tuple[Mismatch, ...]
    convplan_error: str | None = None
    keras_error: str | None = None
    executed: bool = False
    fields_checked: int = 0
    ops: frozenset[str] = field(default_factory=frozenset)
    fields_skipped: str | None = None  # why the fields were not compared, when asked for
    # TensorFlow's numbers (`measure_tensorflow`), which a regression spec records
    tensorflow: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return not self.mismatches


# ---------------------------------------------------------------- the spec as text


def plain(value: Any) -> Any:
    """Tuples as lists, recursively (YAML and JSON data)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def spec_text(spec: dict[str, Any], comments: list[str] | None = None) -> str:
    """The spec as a YAML file: one flow-style line per layer."""
    head = "".join(f"# {line}\n" for line in comments or [])
    layers = "".join("  - " + yaml.safe_dump(plain(layer), default_flow_style=True,
                                             sort_keys=False, width=10_000).strip() + "\n"
                     for layer in spec["layers"])
    rest = {k: plain(v) for k, v in spec.items() if k not in ("layers", "name", "inputs")}
    inputs = yaml.safe_dump({"inputs": plain(spec["inputs"])}, default_flow_style=None,
                            sort_keys=False)
    tail = yaml.safe_dump(rest, default_flow_style=None, sort_keys=False) if rest else ""
    return f"{head}name: {spec['name']}\n{inputs}layers:\n{layers}{tail}"


def _first_line(exc: BaseException) -> str:
    """The exception's message on one line; for an error inside a Keras layer's call, TF's
    own message rather than Keras's "Exception encountered when calling ..." wrapper."""
    text = re.sub(r"\x1b\[[0-9;]*m|\{\{function_node [^}]*\}\}", "", str(exc)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Exception encountered when calling"):
        lines = lines[1:]
    return f"{type(exc).__name__}: {(lines[0] if lines else '')[:300]}"


# ---------------------------------------------------------------- convplan's side


def plan(spec: dict[str, Any]) -> tuple[Any, Any]:
    """(graph, analysis) as `convplan analyze` computes them from the spec file's text."""
    from convplan.analysis import analyze
    from convplan.frontends.loader import parse_text
    from convplan.frontends.spec import build_graph

    graph = build_graph(parse_text(spec_text(spec)), "fuzz.yaml")
    return graph, analyze(graph)


# ---------------------------------------------------------------- TensorFlow's side


def keras_arguments(layer: dict[str, Any]) -> dict[str, Any]:
    """The spec entry's attributes as Keras constructor arguments (lists as tuples)."""

    def tuples(value: Any) -> Any:
        if isinstance(value, list) and not all(isinstance(v, float) for v in value):
            return tuple(tuples(v) for v in value)
        return value

    return {k: tuples(v) for k, v in layer.items() if k not in ("name", "op", "inputs")}


class OperationView:
    """A keras.ops operation as convplan.verify.measure reads a layer: no weights, the one
    output the node stands for (a split's part)."""

    trainable_weights = non_trainable_weights = weights = ()

    def __init__(self, operation: Any, output: Any) -> None:
        self.input, self.output = operation.input, output


def keras_network(spec: dict[str, Any]) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Build the spec with keras.layers directly: (inputs, layer objects, output tensors)."""
    import keras

    tensors: dict[str, Any] = {}
    for name, shape in spec["inputs"].items():
        tensors[name] = keras.Input(shape=tuple(shape), name=name)
    layers = {}
    for entry in spec["layers"]:
        ins = [tensors[i] for i in entry["inputs"]]
        function = getattr(O.OPS.get(entry["op"]), "keras_function", None)
        if function:  # a keras.ops call (pad, split, mean, ...): no layer class
            args = keras_arguments(entry)
            index = args.pop("index", None)
            out = getattr(keras.ops, function)(ins[0], **args)
            out = out if index is None else out[index]
            tensors[entry["name"]] = out
            layers[entry["name"]] = OperationView(out._keras_history.operation, out)
            continue
        layer = getattr(keras.layers, entry["op"])(name=entry["name"], **keras_arguments(entry))
        merge = issubclass(O.op_class(entry["op"]), O.Merge)  # Dot too
        tensors[entry["name"]] = layer(ins if merge else ins[0])
        layers[entry["name"]] = layer
    return [tensors[n] for n in spec["inputs"]], layers, tensors


EAGER_BATCHES = (2, 3)  # two, so that a network Keras runs at one batch size only fails


def run_eagerly(inputs: list[Any], tensors: dict[str, Any], names: list[str]
                ) -> dict[str, tuple[int, ...]]:
    """Every named layer's output shape from running the network on batches of two and of
    three (ones): a Softmax given Masking's mask runs at batch 1 and its first axis's length
    only (convplan.analysis.masks)."""
    import keras
    import numpy as np

    from convplan.verify.measure import shape_of

    probe = keras.Model(inputs, [tensors[n] for n in names])
    for batch in EAGER_BATCHES:
        arrays = [np.ones((batch, *shape_of(t)), dtype="float32") for t in inputs]
        outputs = probe(arrays, training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return {n: shape_of(o) for n, o in zip(names, outputs)}


# ---------------------------------------------------------------- TensorFlow's numbers


@dataclass(frozen=True)
class Planned:
    """convplan's side of a spec: its graph and analysis, or the ConvplanError's first line."""

    graph: Any = None
    analysis: Any = None
    error: str | None = None


def _has_dilated_transpose(spec: dict[str, Any]) -> bool:
    def dilated(value: Any) -> bool:
        return max(value if isinstance(value, (list, tuple)) else [value]) > 1

    return any(e["op"].endswith("Transpose") and dilated(e.get("dilation_rate", 1))
               for e in spec["layers"])


def jsonable(value: Any) -> Any:
    """Tuples as lists, recursively: the value as JSON reads it back."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def measure_tensorflow(spec: dict[str, Any], planned: Planned, fields: bool = False
                       ) -> dict[str, Any]:
    """What TensorFlow says about the spec, as JSON data (what a regression spec records):
    `{"accepted": false, "error": ...}`, or `{"accepted": true, "executed": ..., "layers":
    {name: {output_shape, trainable_params, non_trainable_params, macs, eager_shape}}}` plus,
    where fields are asked for, the network ran and convplan accepted it, `"fields": {name:
    per spatial axis, per output position, [first, last] input pixel seen or null}` (the layers
    the plan gives a field, measured on the linearized copy of convplan's graph) or
    `"fields_error"`. The fields of networks hit by TF's CPU 'same' shift are not measured."""
    from convplan.verify.measure import measure_layer

    executed = False
    eager: dict[str, tuple[int, ...]] = {}
    try:
        inputs, layers, tensors = keras_network(spec)
        facts = {name: jsonable(measure_layer(layer)) for name, layer in layers.items()}
        empty = [n for n, f in facts.items() if any(d is not None and d <= 0
                                                    for d in f["output_shape"])]
        if empty:
            raise ValueError(f"layer {empty[0]} has an empty output {facts[empty[0]]}")
        try:
            eager = run_eagerly(inputs, tensors, list(layers))
            executed = True
        except Exception as exc:
            if not (CPU_LIMITS.search(str(exc)) and _has_dilated_transpose(spec)):
                raise
        disagreeing = _eager_disagreement(facts, eager)
        if disagreeing:  # Keras contradicts itself (RMSNormalization off the last axis)
            raise ValueError(disagreeing)
    except Exception as exc:
        return {"accepted": False, "error": _first_line(exc)}
    for name, shape in eager.items():
        facts[name]["eager_shape"] = list(shape)
    record: dict[str, Any] = {"accepted": True, "executed": executed, "layers": facts}
    if (fields and executed and planned.error is None
            and not cpu_3d_same_shift(planned.graph, planned.analysis)):
        try:
            record["fields"] = jsonable(measure_network_fields(planned.graph, planned.analysis))
        except Exception as exc:  # the measurement itself failed: a bug in convplan.verify
            record["fields_error"] = _first_line(exc)
    return record


def _eager_disagreement(facts: dict[str, Any], eager: dict[str, tuple[int, ...]]) -> str:
    """The first layer whose shape when run differs from its symbolic shape, as a message
    ('' for none): such a layer does not compute what its model declares, a model Keras
    builds but cannot be planned against, so it counts as refused."""
    for name, shape in eager.items():
        symbolic = facts[name]["output_shape"]
        if len(symbolic) != len(shape) or any(d is not None and d != e
                                              for d, e in zip(symbolic, shape)):
            return f"layer {name} runs to shape {list(shape)}, its symbolic shape is {symbolic}"
    return ""


def measure_network_fields(graph: Any, analysis: Any) -> dict[str, Any]:
    """The fields TensorFlow measures for `field_layers` (none for a network of two inputs)."""
    from convplan.verify.field import measure_fields

    names = field_layers(graph, analysis)
    if not names:
        return {}
    shape = [int(d) for d in analysis.layer(graph.inputs[0]).output_shape]
    return measure_fields(graph, names, shape)


def field_layers(graph: Any, analysis: Any) -> list[str]:
    """Layers of a one-input network that keep its spatial axes and have a field in the plan."""
    if len(graph.inputs) != 1:
        return []
    rank = len(analysis.layer(graph.inputs[0]).output_shape)
    return [r.name for r in analysis.layers if r.receptive_field is not None
            and r.op != "InputLayer" and len(r.output_shape) == rank]


# ---------------------------------------------------------------- the comparison


def plan_spec(spec: dict[str, Any]) -> Planned:
    """`plan`, with a ConvplanError as the rejection (any other exception propagates)."""
    try:
        graph, analysis = plan(spec)
    except ConvplanError as exc:
        return Planned(error=_first_line(exc))
    return Planned(graph, analysis)


def compare_network(spec: dict[str, Any], fields: bool = False) -> Outcome:
    """Run both sides on the spec and list every disagreement (see the module docstring); the
    outcome keeps TensorFlow's numbers (`Outcome.tensorflow`)."""
    ops = frozenset(e["op"] for e in spec["layers"])
    try:
        planned = plan_spec(spec)
    except Exception as exc:  # anything but a ConvplanError is a convplan bug
        return Outcome((), (Mismatch("crash", None, None, _first_line(exc), "-"),), ops=ops)
    measured = measure_tensorflow(spec, planned, fields)
    outcome = compare_measured(planned, measured, fields, ops)
    if outcome.accepted_by != ("convplan", "keras"):
        return outcome
    built = tuple(compare_keras_build(planned.graph, measured["layers"]))
    return dataclasses.replace(outcome, mismatches=outcome.mismatches + built)


def compare_recorded(spec: dict[str, Any], measured: dict[str, Any]) -> Outcome:
    """convplan's analysis against TensorFlow's recorded numbers (`measure_tensorflow` with
    fields), without TensorFlow."""
    ops = frozenset(e["op"] for e in spec["layers"])
    return compare_measured(plan_spec(spec), measured, True, ops)


def compare_measured(planned: Planned, measured: dict[str, Any], fields: bool,
                     ops: frozenset[str]) -> Outcome:
    """convplan's side against TensorFlow's numbers, live or recorded: both accept with equal
    numbers per layer (and fields, where asked), or both reject."""
    keras_error = None if measured["accepted"] else measured["error"]
    executed = measured.get("executed", False)
    accepted = tuple(side for side, error in (("convplan", planned.error),
                                              ("keras", keras_error)) if error is None)
    mismatches: list[Mismatch] = []
    if len(accepted) == 1:
        text = "accepts" if accepted == ("convplan",) else planned.error
        other = keras_error if accepted == ("convplan",) else "accepts"
        mismatches.append(Mismatch("accepts", None, None, text, other))
    if accepted != ("convplan", "keras"):
        return Outcome(accepted, tuple(mismatches), planned.error, keras_error, executed,
                       ops=ops, tensorflow=measured)
    graph, analysis = planned.graph, planned.analysis
    for result in analysis.layers:
        if result.op != "InputLayer":
            mismatches.extend(compare_layer(result, measured["layers"].get(result.name)))
    skipped = cpu_3d_same_shift(graph, analysis) if fields and executed else None
    checked = 0
    if fields and executed and not skipped:
        if "fields_error" in measured:
            mismatches.append(Mismatch("field_measurement", None, None, "-",
                                       measured["fields_error"]))
        else:
            try:
                found, checked = compare_fields(graph, analysis, measured.get("fields", {}))
            except Exception as exc:  # a bug in convplan.verify's comparison
                found = [Mismatch("field_measurement", None, None, "-", _first_line(exc))]
            mismatches.extend(found)
    return Outcome(accepted, tuple(mismatches), None, None, executed, checked, ops,
                   fields_skipped=skipped, tensorflow=measured)


def cpu_3d_same_shift(graph: Any, analysis: Any) -> str | None:
    """The first layer where TF's CPU kernels shift a 'same' window, or None.

    Measured (tests/test_fuzz_networks.py::test_tf_cpu_3d_same_padding_quirk): Conv3D and 3D
    pooling with padding 'same' where the padding needed, total = (out - 1) * s + (k - 1) * d
    + 1 - n, is -2 or less start their first window trunc(-total / 2) pixels into the input;
    1D and 2D layers start at 0 (TF's kernel_shape_util clamps the padding at 0). convplan
    follows TF's formula; the receptive fields of such networks are not compared."""
    from convplan.ir import ops as O

    for result in analysis.layers:
        op = graph[result.name].op
        if not (isinstance(op, (O.Conv3D, O.Pooling)) and op.spatial_rank == 3
                and op.padding == "same"):
            continue
        size = op.pool_size if isinstance(op, O.Pooling) else op.kernel_size
        dilation = (1,) * 3 if isinstance(op, O.Pooling) else op.dilation_rate
        n = analysis.layer(graph[result.name].inputs[0]).output_shape
        for axis in range(3):
            total = ((int(result.output_shape[axis]) - 1) * op.strides[axis]
                     + (size[axis] - 1) * dilation[axis] + 1 - int(n[axis]))
            if total <= -2:
                return f"{result.name}: TF's CPU kernel shifts the 'same' window on axis {axis + 1}"
    return None


def compare_layer(result: Any, facts: dict[str, Any] | None) -> Iterator[Mismatch]:
    """One layer of the plan against TensorFlow's numbers for it (JSON data, see
    `measure_tensorflow`)."""
    if facts is None:
        yield Mismatch("recorded", result.name, result.op, "a layer", "no numbers",
                       "record again: scripts/record_fuzz_expectations.py")
        return
    shape = tuple(int(d) for d in result.output_shape)
    pairs = [("output_shape", shape, tuple(facts["output_shape"])),
             ("trainable_params", result.trainable_params, facts["trainable_params"]),
             ("non_trainable_params", result.non_trainable_params,
              facts["non_trainable_params"]),
             ("macs", result.macs, facts["macs"])]
    if "eager_shape" in facts:
        pairs.append(("eager_shape", shape, tuple(facts["eager_shape"])))
    for quantity, ours, theirs in pairs:
        if ours != theirs:
            yield Mismatch(quantity, result.name, result.op, ours, theirs)


def compare_keras_build(graph: Any, facts: dict[str, dict[str, Any]]) -> Iterator[Mismatch]:
    """The model convplan builds from its own ops (verify, generated tests) equals the raw one."""
    from convplan.verify.field import with_every_sink
    from convplan.verify.keras_build import build_keras_model, node_output
    from convplan.verify.measure import measure_layer

    model = build_keras_model(with_every_sink(graph))
    for name, raw in facts.items():
        if isinstance(graph[name].op, O.KerasOperation):
            found = next(op for op in model.operations if op.name == name)
            layer: Any = OperationView(found, node_output(model, graph, name))
        else:
            layer = model.get_layer(name)
        ours = jsonable(measure_layer(layer))
        theirs = {k: raw[k] for k in ours}
        if ours != theirs:
            yield Mismatch("keras_build", name, graph[name].op.op_type, ours, theirs)


def _intervals(axes: Any) -> tuple[tuple[Any, ...], ...]:
    """A field measurement read back from JSON: intervals as tuples again."""
    return tuple(tuple(None if i is None else tuple(i) for i in axis) for axis in axes)


def compare_fields(graph: Any, analysis: Any, measured: dict[str, Any]
                   ) -> tuple[list[Mismatch], int]:
    """Every layer that keeps the input's spatial axes: the plan's receptive field against the
    field measured in TensorFlow (one-input networks; as `convplan verify` compares it)."""
    from convplan.verify.compare import compare_field, envelope_layers
    from convplan.verify.field import resampled_layers

    names = field_layers(graph, analysis)
    if not names:
        return [], 0
    shape = [int(d) for d in analysis.layer(graph.inputs[0]).output_shape]
    resampled, envelopes = resampled_layers(graph), envelope_layers(graph, analysis)
    names = [n for n in names if n not in envelopes]
    found = []
    for name in names:
        result = analysis.layer(name)
        if name not in measured:
            found.append(Mismatch("receptive_field", name, result.op, "a field", "not measured",
                                  "record again: scripts/record_fuzz_expectations.py"))
            continue
        check = compare_field(result.receptive_field, _intervals(measured[name]), shape[:-1],
                              name not in resampled)
        if not check.ok:
            found.append(Mismatch("receptive_field", name, result.op, check.plan,
                                  check.measured, check.detail))
    return found, len(names)


# ---------------------------------------------------------------- recorded numbers


def expected_path(spec_path: Path) -> Path:
    """Where a regression spec's recorded TensorFlow numbers live."""
    return spec_path.with_name(spec_path.stem + ".expected.json")


def tensorflow_versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__}


def record_text(measured: dict[str, Any], versions: dict[str, str]) -> str:
    """The record as JSON, one line per layer (and per layer's fields)."""
    def line(value: Any) -> str:
        return json.dumps(jsonable(value), sort_keys=False)

    data = {"measured_with": versions, **measured}
    parts = []
    for key, value in data.items():
        if key in ("layers", "fields") and value:
            rows = ",\n".join(f"    {json.dumps(name)}: {line(v)}" for name, v in value.items())
            parts.append(f"  {json.dumps(key)}: {{\n{rows}\n  }}")
        else:
            parts.append(f"  {json.dumps(key)}: {line(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def read_record(path: Path) -> dict[str, Any]:
    """TensorFlow's recorded numbers (without the versions they were measured with)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("measured_with", None)
    return data


# ---------------------------------------------------------------- shrinking


def _without_layer(spec: dict[str, Any], index: int) -> dict[str, Any] | None:
    """The spec without layer `index`; its users read its first input instead."""
    layer = spec["layers"][index]
    source = layer["inputs"][0]
    name = layer["name"]
    layers = [dict(e, inputs=[source if i == name else i for i in e["inputs"]])
              for j, e in enumerate(spec["layers"]) if j != index]
    if not layers:
        return None
    out = dict(spec, layers=layers)
    if "outputs" in spec:
        outputs = list(dict.fromkeys(source if o == name else o for o in spec["outputs"]))
        out["outputs"] = [o for o in outputs if o in {e["name"] for e in layers}] or [
            layers[-1]["name"]]
    return out


def _smaller_values(value: Any) -> Iterator[Any]:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        yield from dict.fromkeys(v for v in (0, 1, value // 2, value - 1) if 0 <= v < value)
    elif isinstance(value, (tuple, list)) and value:
        if len(set(map(repr, value))) == 1 and not isinstance(value[0], (tuple, list)):
            yield value[0]
        for i, item in enumerate(value):
            for smaller in _smaller_values(item):
                yield type(value)([*value[:i], smaller, *value[i + 1:]])


def candidates(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Simpler variants of the spec, simplest first: fewer layers, one output, fewer inputs,
    attributes left to their defaults or made smaller, smaller input sizes."""
    for index in reversed(range(len(spec["layers"]))):
        smaller = _without_layer(spec, index)
        if smaller is not None:
            yield smaller
    if "outputs" in spec:
        yield {k: v for k, v in spec.items() if k != "outputs"}
    for index, layer in enumerate(spec["layers"]):
        for key, value in layer.items():
            if key in ("name", "op", "inputs"):
                continue
            variants = [None, *_smaller_values(value)]
            for variant in variants:
                entry = {k: v for k, v in layer.items() if k != key}
                if variant is not None:
                    entry[key] = variant
                layers = list(spec["layers"])
                layers[index] = entry
                yield dict(spec, layers=layers)
    for name, shape in spec["inputs"].items():
        for axis, dim in enumerate(shape):
            for smaller in _smaller_values(dim):
                if smaller >= 1:
                    inputs = dict(spec["inputs"])
                    inputs[name] = [*shape[:axis], smaller, *shape[axis + 1:]]
                    yield dict(spec, inputs=inputs)


def shrink(spec: dict[str, Any], fails: Callable[[dict[str, Any]], bool],
           budget: int = 400) -> dict[str, Any]:
    """Greedy: take the first simpler variant that still fails, until none does (or the
    budget of tries is spent)."""
    tries = 0
    progress = True
    while progress and tries < budget:
        progress = False
        for candidate in candidates(spec):
            tries += 1
            if fails(candidate):
                spec, progress = candidate, True
                break
            if tries >= budget:
                break
    return spec


def same_failure(signatures: set[tuple[str, str | None]], fields: bool
                 ) -> Callable[[dict[str, Any]], bool]:
    """A predicate for `shrink`: the spec still shows one of these mismatches."""

    def fails(candidate: dict[str, Any]) -> bool:
        try:
            outcome = compare_network(candidate, fields=fields)
        except Exception:
            return False
        return any(m.signature in signatures for m in outcome.mismatches)

    return fails


def save_mismatch(spec: dict[str, Any], outcome: Outcome, folder: Path, stem: str) -> Path:
    """Write the spec with its mismatches as comments: ready to become a regression test."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.yaml"
    notes = ["fuzz mismatch (tests/fuzz_oracle.py): " + stem,
             *(m.line() for m in outcome.mismatches)]
    path.write_text(spec_text(spec, notes), encoding="utf-8")
    return path
