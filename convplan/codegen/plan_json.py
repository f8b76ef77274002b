"""The project's plan.json: `convplan analyze --format json` plus what the project's tests
need to prove that model.py builds the plan.

Every layer of `layers` keeps the analysis's keys (its inputs in call order, op class, output
shape, params, MACs, receptive field with phases) and gains:

- `attributes`: the keyword arguments of its Keras layer, every one (defaults too) under
  Keras's names, as `layer.get_config()` reports them (`activation` 'linear' for none); for an
  input, its `batch_shape` and `dtype`;
- `activation`: what the layer applies ('linear' for a fused none, 'relu' for a ReLU layer,
  null for a layer that is no activation and has none);
- `dtype_policy`: the policy the layer is pinned to ('float32' on outputs), null where it
  follows the global policy;
- `field_check`: 'per_output' where the measured receptive field is compared with the plan's
  output by output, 'envelope' where paths at different strides merge (the plan gives an
  envelope, nothing per output to compare), null where there is no spatial field.
"""

from __future__ import annotations

from typing import Any

from convplan.analysis import Analysis
from convplan.ir import ops as O
from convplan.ir.graph import Graph
from convplan.ir.keras_arguments import keras_arguments

# the generated project's model_facts.ACTIVATION_CLASSES names the same
OWN_ACTIVATION: dict[type[O.Op], str] = {O.ReLU: "relu", O.LeakyReLU: "leaky_relu",
                                         O.Softmax: "softmax", O.ELU: "elu", O.PReLU: "prelu"}


def layer_attributes(op: O.Op, output_shape: list) -> dict[str, Any]:
    """The Keras layer's arguments as its config holds them."""
    if isinstance(op, O.InputLayer):
        return {"batch_shape": output_shape, "dtype": op.dtype}
    args = keras_arguments(op)
    if "activation" in args and args["activation"] is None:
        args["activation"] = "linear"  # Keras's name for no activation
    return args


def layer_activation(op: O.Op, attributes: dict[str, Any]) -> str | None:
    if "activation" in attributes and not isinstance(op, O.InputLayer):
        return attributes["activation"]
    return next((name for cls, name in OWN_ACTIVATION.items() if isinstance(op, cls)), None)


def field_checks(graph: Graph, plan: Analysis) -> dict[str, str | None]:
    from convplan.verify.compare import envelope_layers

    envelope = envelope_layers(graph, plan)
    return {r.name: None if r.receptive_field is None
            else "envelope" if r.name in envelope else "per_output" for r in plan.layers}


def plan_document(graph: Graph, plan: Analysis, symbolic: Analysis | None,
                  **report: Any) -> dict[str, Any]:
    """The analysis document with each layer's Keras facts added (module docstring)."""
    from convplan.report.json_report import analysis_document

    doc = analysis_document(plan, symbolic, **report)
    checks = field_checks(graph, plan)
    outputs = set(graph.outputs)
    for layer in doc["layers"]:
        op = graph[layer["name"]].op
        attributes = layer_attributes(op, layer["output_shape"])
        layer["attributes"] = attributes
        layer["activation"] = layer_activation(op, attributes)
        layer["dtype_policy"] = "float32" if layer["name"] in outputs else None
        layer["field_check"] = checks[layer["name"]]
    return doc


def render_plan_json(graph: Graph, plan: Analysis, symbolic: Analysis | None,
                     **report: Any) -> str:
    from convplan.report.json_report import render_json

    return render_json(plan_document(graph, plan, symbolic, **report))
