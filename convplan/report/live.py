"""The live HTML report: one self-contained page that recomputes every number from the formulas.

`live_html(graph)` analyses the graph symbolically once (every input size a symbol, the batch
a number typed in the page) and writes a page holding:

- the formulas of every layer's shape, params, MACs, FLOPs, activations and receptive field,
  and of every buffer of the memory model (per dtype), compiled to exact BigInt JavaScript
  (convplan.report.jsformula), each distinct formula once;
- the checks the CLI makes of the sizes (convplan.analysis.shapes and analyze: windows too
  large for their input, merges of unequal shapes, empty outputs, int64 limits) with the
  CLI's messages as templates, so a size that makes a layer invalid shows the CLI's one line
  on that layer;
- the memory model's candidate peak steps (convplan.analysis.memory: which buffers are live
  at each step), so the page finds the peak and its step as `analyze` does;
- the diagram's layout (convplan.report.diagram);
- the time model's formulas and devices (convplan.report.live_time), so a device picked in
  the page shows `analyze --device`'s time table and totals.

Everything from the spec (names, ops) travels as JSON data in a `<script type=
"application/json">` element, escaped so that no `</script>` can end it, and reaches the page
through `textContent`; the only code is convplan's (convplan.report.live_script) and the
compiled formulas, which name sizes only as `v[i]`. A Content-Security-Policy forbids every
network request. At the analysed size the table is written in the HTML too, so the page reads
without JavaScript.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from convplan.analysis import Analysis
from convplan.ir.graph import Graph
from convplan.options import DTYPES, OPTIMIZER_SLOTS, dtype_bytes
from convplan.report.jsformula import RUNTIME, FormulaTable

INT64_LIMIT = 2**63
GRADIENT_ROLES = ("gradient", "weight gradient")
ACTIVATION_ROLES = ("activation", "kept", "cast weights", "workspace")
DEFAULT_SIZE = 224  # for an input size the spec leaves unknown and the caller does not give


def live_html(source: Graph | Any, *, input_size: Sequence[int] | None = None,
              batch: int | None = None, dtype: str = "float32", optimizer: str = "adam",
              custom_layers: Any = None) -> str:
    """The live report of `source` (a Graph, or a spec or Keras model path for convplan.load)
    as one HTML document; `input_size`, `batch`, `dtype` and `optimizer` are where the page
    opens (the page changes them). Raises convplan's errors for sizes the CLI refuses."""
    import convplan
    from convplan.analysis import analyze

    graph = source if isinstance(source, Graph) else convplan.load(source, custom_layers)
    dtype_bytes(dtype)
    if optimizer not in OPTIMIZER_SLOTS:
        from convplan.options import optimizer_slots

        optimizer_slots(optimizer)  # raises the one-line error
    symbolic = analyze(graph, generalize=True)
    concrete = analyze(graph, input_size=input_size)
    return render_live(concrete, symbolic, graph, batch=batch, dtype=dtype, optimizer=optimizer)


def start_sizes(concrete: Analysis, symbolic: Analysis) -> dict[str, int]:
    """Each symbol's value in the concrete analysis (DEFAULT_SIZE where it has none)."""
    sizes: dict[str, int] = {}
    for sym_layer, layer in zip(symbolic.layers, concrete.layers):
        if sym_layer.op == "InputLayer":
            for sym_dim, dim in zip(sym_layer.output_shape, layer.output_shape):
                if not isinstance(sym_dim, int) and isinstance(dim, int):
                    sizes[str(sym_dim)] = dim
    return {s: sizes.get(s, DEFAULT_SIZE) for s in symbolic.symbols}


def render_live(concrete: Analysis, symbolic: Analysis, graph: Graph, *, batch: int | None,
                dtype: str, optimizer: str) -> str:
    """The page (module docstring) from an analysis at the opening size and the symbolic one."""
    from convplan.report.live_page import page

    model, table = live_model(concrete, symbolic, graph, batch=batch, dtype=dtype,
                              optimizer=optimizer)
    return page(concrete, symbolic, model_json(model), RUNTIME + table.javascript(),
                batch=batch, dtype=dtype, optimizer=optimizer)


def model_json(model: dict[str, Any]) -> str:
    """JSON safe inside a script element: no '<', '>' or '&' survives unescaped, so neither
    `</script>` nor `<!--` can appear in it (JSON's \\u escapes read back the same)."""
    text = json.dumps(model, separators=(",", ":"), ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def live_model(concrete: Analysis, symbolic: Analysis, graph: Graph, *, batch: int | None,
               dtype: str, optimizer: str) -> tuple[dict[str, Any], FormulaTable]:
    """The page's data: names, formula indices into the returned table, checks, memory."""
    from convplan.report.diagram import plan_diagram
    from convplan.report.live_fields import field_tables
    from convplan.report.live_time import time_model

    symbols = list(symbolic.symbols)
    table = FormulaTable(symbols)
    add = table.add
    index = {layer.name: i for i, layer in enumerate(symbolic.layers)}
    layers = []
    tables = field_tables(graph, symbolic, start_sizes(concrete, symbolic))
    for layer in symbolic.layers:
        field = layer.receptive_field
        layers.append({
            "name": layer.name, "op": layer.op, "where": _where(layer.name, layer.op),
            "inputs": [index[i] for i in layer.inputs],
            "shape": [add(d) for d in layer.output_shape],
            "tp": add(layer.trainable_params), "ntp": add(layer.non_trainable_params),
            "macs": add(layer.macs), "flops": add(layer.flops), "act": add(layer.activations),
            "rf": None if field is None else [{
                "size": add(a.size), "stride": add(a.stride), "start": add(a.start),
                "phases": [None if ph is None else [add(ph[0]), add(ph[1])]
                           for ph in a.phases] or None} for a in field],
            # no field formula: it follows the size modulo the strides after resampling
            # (periodic_field.SIZE_DEPENDENT); a table by size (live_fields) where one holds,
            # else the page says "size-dependent" rather than guess
            "rft": tables.get(layer.name),
            "rfdep": layer.name in symbolic.size_dependent_fields and layer.name not in tables,
            "checks": layer_checks(graph, symbolic, layer.name, add),
        })
    t = symbolic.totals
    places = plan_diagram(symbolic.layers).places
    model = {
        "name": symbolic.name,
        "symbols": symbols,
        "start": {"sizes": start_sizes(concrete, symbolic), "batch": batch, "dtype": dtype,
                  "optimizer": optimizer},
        "inputs": [index[n] for n in graph.inputs],
        "outputs": [index[n] for n in symbolic.outputs],
        "layers": layers,
        "totals": {k: add(getattr(t, k)) for k in ("params", "trainable_params",
                                                   "non_trainable_params", "macs", "flops",
                                                   "activations")},
        "dtypes": {name: list(b) for name, b in DTYPES.items()},
        "optimizers": dict(OPTIMIZER_SLOTS),
        "memory": memory_models(symbolic, add),
        "places": [[places[layer.name].x, places[layer.name].depth]
                   for layer in symbolic.layers],
        "limit": str(INT64_LIMIT),
        "time": time_model(graph, symbolic, add),  # None: no time table (a network the
        # time model or the compiler cannot take); the rest of the page stays live
    }
    return model, table


def memory_models(symbolic: Analysis, add) -> dict[str, Any]:
    """memory_model per dtype; dtypes of the same bytes (float16 and bfloat16) share one."""
    by_bytes: dict[tuple[int, int], dict[str, Any]] = {}
    return {name: by_bytes.setdefault(b, memory_model(symbolic, name, add))
            if b not in by_bytes else by_bytes[b] for name, b in DTYPES.items()}


def memory_model(symbolic: Analysis, dtype: str, add) -> dict[str, Any]:
    """Buffers (fixed and per-example bytes, role group) and the candidate peak steps of the
    training step and of inference, per example (the page scales by its batch).

    convplan.analysis.memory's own builder makes the buffers and steps; the candidates are
    chosen as its `_peak` chooses them before it sums anything (distinct live sets not inside
    another, the first step of each), which does not depend on the sizes. The sums themselves,
    a sympy Max over every candidate (seconds on ResNet50), are what the page computes."""
    from convplan.analysis import arith
    from convplan.analysis import memory as mem
    from convplan.ir import ops as O

    graph = symbolic.graph
    assert graph is not None
    builder = mem._Builder(graph, symbolic, dtype, "sgd", "fused")
    training, inference = builder.training(), builder.inference()
    keys = list(builder.tensors)
    where = {k: i for i, k in enumerate(keys)}
    _, variable = dtype_bytes(dtype)
    layer = {result.name: result for result in symbolic.layers}
    inputs = arith.total(layer[n].activations * mem._INPUT_BYTES.get(
        getattr(graph[n].op, "dtype", ""), 4) for n in graph.inputs)
    targets = arith.total(layer[n].activations * 4 for n in graph.outputs)
    outputs = arith.total(layer[n].activations * builder.compute for n in graph.outputs)
    assert all(isinstance(graph[n].op, O.InputLayer) for n in graph.inputs)

    def group(role: str) -> int:
        return 1 if role in GRADIENT_ROLES else 0 if role in ACTIVATION_ROLES else 2

    def candidates(steps) -> list[list[Any]]:
        unique = list(dict.fromkeys(s.live for s in steps))
        keep = [a for a in unique if not any(a < b for b in unique)]
        firsts = [next(s for s in steps if s.live == live) for live in keep]
        return [[s.phase, s.layer, sorted(where[k] for k in s.live)] for s in firsts]

    tensors = builder.tensors
    return {
        "tensors": [[add(tensors[k].fixed), add(tensors[k].per_example),
                     group(tensors[k].role)] for k in keys],
        "training": candidates(training),
        "inference": candidates(inference),
        "variables": add(arith.simplify_int(symbolic.totals.params * variable)),
        "data": add(arith.simplify_int(inputs + targets)),  # per example: inputs, targets
        "input_bytes": add(arith.simplify_int(inputs + outputs)),  # inputs, results (fused)
    }


def _where(name: str, op: str) -> str:
    """convplan.errors.SpecError's prefix."""
    return f"layer {name!r} ({op}): "


def _with_hint(message: str, hint: str | None) -> str:
    return message.rstrip(".") + f". Hint: {hint}" if hint else message


def layer_checks(graph: Graph, symbolic: Analysis, name: str, add) -> list[dict[str, Any]]:
    """The size checks convplan.analysis.shapes makes of this layer, in its order, each with
    the CLI's message as a template: strings and {"f": formula} values ("shapes": the inputs'
    shapes as the message prints them)."""
    from convplan.analysis import shapes as S
    from convplan.analysis.windows import effective_kernel
    from convplan.ir import ops as O
    from convplan.ir.rules import rule_for

    node = graph[name]
    op = node.op
    if isinstance(op, O.InputLayer):
        return []
    layer = symbolic.layer(name)
    ins = [symbolic.layer(i).output_shape for i in node.inputs]
    rule = rule_for(S.SHAPE_RULES, op, "infer_shapes")
    where = _where(name, layer.op)
    checks: list[dict[str, Any]] = []
    if rule in (S.conv_shape, S.depthwise_shape, S.separable_shape, S.pooling_shape):
        rank = op.rank()
        pooling = rule is S.pooling_shape
        kernels = op.pool_size if pooling else op.kernel_size
        dilations = (1,) * rank if pooling else op.dilation_rate
        for axis, (k, d) in enumerate(zip(kernels, dilations)):
            what = f"pool size {k}" if pooling else f"kernel {k} with dilation {d}"
            need = k if pooling else effective_kernel(k, d)
            hint = "padding: same" if op.padding == "valid" else None
            tail = _with_hint(f"; {what} needs an input of at least {need} "
                              f"{S.UNIT_WORDS[rank][axis]} under padding {op.padding!r}, "
                              "received ", None)
            checks.append({"le0": add(layer.output_shape[axis]), "msg": [
                where + f"output {S.AXIS_WORDS[rank][axis]} would be ",
                {"f": add(layer.output_shape[axis])}, tail, {"f": add(ins[0][axis])},
                _with_hint("", hint)]})
    elif rule is S.cropping_shape:
        rank = op.rank()
        for axis, (a, b) in enumerate(op.cropping):
            checks.append({"le0": add(layer.output_shape[axis]), "msg": [
                where + f"cropping {a} + {b} {S.UNIT_WORDS[rank][axis]} leaves ",
                {"f": add(layer.output_shape[axis])},
                f" of an input {S.AXIS_WORDS[rank][axis]} of ", {"f": add(ins[0][axis])}]})
    elif isinstance(rule, S.MergeShapeRule) and rule.infer in (S.broadcast_shape,
                                                                S.concatenate_shape):
        concat = rule.infer is S.concatenate_shape
        skip = None
        if concat:
            rank = len(ins[0])
            skip = op.axis - 1 if op.axis > 0 else rank + op.axis  # shapes._normalize_axis
            text = ("input shapes must match except on the concatenation axis "
                    f"{op.axis}, received ")
        else:
            text = "input shapes must match, received "
        checks.append({"merge": {"shapes": [[add(d) for d in s] for s in ins],
                                 "broadcast": not concat, "skip": skip},
                       "msg": [where + text, {"shapes": True}]})
    return checks
