"""Per-layer metrics in the files two model viewers load, matched to the viewer's nodes by the
layer names.

- **Netron** (lutzroeder/netron, source/view.js `metadata.Attachment`): a JSON file with
  `"signature": "netron:attachment"` and two lists, `metadata` and `metrics`, of entries
  `{"kind": "node", "target": <node name>, "name": ..., "value": ...}`. Netron matches `target`
  to the node's name (a Keras node's name is its layer's name) and shows the entries in the
  node's sidebar under Metadata and Metrics. It is opened after the model, like a model file.
  An input layer is no node in Netron's Keras graph but the graph's input value, which Netron's
  Keras reader names `<layer>[0][0]`: its entries have `"kind": "value"` and that target.
- **Model Explorer** (google-ai-edge/model-explorer, node_data_builder.py `GraphNodeData`): one
  node-data file per metric, `{"name": ..., "results": {<node id>: {"value": ...}}}`, with a
  `gradient` (stops 0 to 1 from the smallest to the largest value, each with a `bgColor`) that
  colours the nodes; MACs carry one. Model Explorer reads no Keras file (its adapters read
  TFLite, SavedModel/GraphDef, MLIR, PyTorch programs and its JSON graphs), so the model's layer
  graph is written too, in its JSON graph format (graph_builder.py `Graph`/`GraphNode`: a list
  of graphs of nodes with `id`, `label`, `incomingEdges`, `outputsMetadata`, `attrs`), one node
  per layer, node id = layer name.

Values are concrete (the analysis at given sizes), scaled by the batch like the table: MACs,
FLOPs and activation memory per batch, params per model.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from convplan.analysis import Analysis
from convplan.errors import UsageError
from convplan.options import dtype_bytes
from convplan.report.formatting import axes_text, shape_text

NETRON_SIGNATURE = "netron:attachment"
# white to red through orange: a node's colour says its share of the largest layer's MACs
MACS_GRADIENT = ({"stop": 0, "bgColor": "#ffffff"}, {"stop": 0.5, "bgColor": "#fdae61"},
                 {"stop": 1, "bgColor": "#d7191c"})


@dataclasses.dataclass(frozen=True)
class LayerMetrics:
    name: str
    op: str
    output_shape: str
    params: int
    macs: int
    flops: int
    memory: int  # bytes of the output for the batch, in the compute dtype
    rf_size: str  # per spatial axis as the table prints it ('3', '3x5'); '-' without a field
    rf_stride: str
    rf_start: str


def layer_metrics(analysis: Analysis, batch: int | None = None,
                  dtype: str = "float32") -> list[LayerMetrics]:
    """Every layer's numbers at the analysed sizes; a symbolic analysis is refused (the viewers
    show numbers, and colouring needs them)."""
    if not analysis.is_concrete:
        raise UsageError("viewer files need concrete sizes; give --input-size (the network "
                         "leaves " + ", ".join(analysis.symbols) + " open)")
    compute, _ = dtype_bytes(dtype)
    scale = batch or 1
    out = []
    for layer in analysis.layers:
        field = layer.receptive_field
        out.append(LayerMetrics(
            name=layer.name, op=layer.op, output_shape=shape_text(layer.output_shape, batch),
            params=int(layer.params), macs=int(layer.macs) * scale,
            flops=int(layer.flops) * scale, memory=int(layer.activations) * compute * scale,
            rf_size=axes_text(a.size for a in field) if field else "-",
            rf_stride=axes_text(a.stride for a in field) if field else "-",
            rf_start=axes_text(a.start for a in field) if field else "-"))
    return out


METRICS = (("params", "params"), ("MACs", "macs"), ("FLOPs", "flops"),
           ("activation memory (bytes)", "memory"))
METADATA = (("output shape", "output_shape"), ("receptive field size", "rf_size"),
            ("receptive field stride", "rf_stride"), ("receptive field start", "rf_start"))


def netron_attachment(metrics: list[LayerMetrics]) -> dict[str, Any]:
    """Netron's attachment document (see the module docstring)."""
    def entries(fields, layer: LayerMetrics) -> list[dict[str, Any]]:
        # Netron's Keras reader names a layer's output tensors '<layer>[<call>][<output>]'
        # (source/keras.js); an input layer's is the graph's input value
        kind, target = (("value", f"{layer.name}[0][0]") if layer.op == "InputLayer"
                        else ("node", layer.name))
        return [{"kind": kind, "target": target, "name": label,
                 "value": getattr(layer, attr)} for label, attr in fields]

    return {"signature": NETRON_SIGNATURE,
            "metadata": [e for layer in metrics for e in entries(METADATA, layer)],
            "metrics": [e for layer in metrics for e in entries(METRICS, layer)]}


MODEL_EXPLORER_FILES = (  # file stem, node data name, LayerMetrics field
    ("macs", "MACs", "macs"), ("flops", "FLOPs", "flops"), ("params", "params", "params"),
    ("memory", "activation memory (bytes)", "memory"), ("shape", "output shape", "output_shape"),
    ("receptive_field", "receptive field size", "rf_size"),
    ("receptive_field_stride", "receptive field stride", "rf_stride"),
)


def model_explorer_node_data(metrics: list[LayerMetrics]) -> dict[str, dict[str, Any]]:
    """File stem -> one GraphNodeData document; MACs colour the nodes."""
    out = {}
    for stem, name, attr in MODEL_EXPLORER_FILES:
        document: dict[str, Any] = {
            "name": f"convplan {name}",
            "results": {layer.name: {"value": getattr(layer, attr)} for layer in metrics}}
        if stem == "macs":
            document["gradient"] = [dict(item) for item in MACS_GRADIENT]
        out[stem] = document
    return out


def _attr_text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, tuple, dict)) else str(value)


def model_explorer_graph(analysis: Analysis, metrics: list[LayerMetrics]) -> list[dict[str, Any]]:
    """The layer graph as Model Explorer's JSON graphs: one node per layer (id = layer name,
    label = the op), edges from the inputs in order, the output shape as output metadata and
    the op's Keras attributes as node attributes."""
    graph = analysis.graph
    by_name = {m.name: m for m in metrics}
    nodes = []
    for layer in analysis.layers:
        attrs = [{"key": "op", "value": layer.op}]
        if graph is not None:
            op = graph[layer.name].op
            attrs += [{"key": f.name, "value": _attr_text(getattr(op, f.name))}
                     for f in dataclasses.fields(op) if f.name != "name"]
        nodes.append({
            # the label is what the graph and the node-data tables show: the layer's name
            "id": layer.name, "label": layer.name, "namespace": "",
            "attrs": attrs,
            "incomingEdges": [{"sourceNodeId": src, "sourceNodeOutputId": "0",
                               "targetNodeInputId": str(i)}
                              for i, src in enumerate(layer.inputs)],
            "outputsMetadata": [{"id": "0", "attrs": [
                {"key": "tensor_name", "value": layer.name},
                {"key": "shape", "value": by_name[layer.name].output_shape}]}],
        })
    return [{"id": analysis.name, "nodes": nodes}]


def write_netron(path: str | Path, analysis: Analysis, batch: int | None, dtype: str) -> None:
    from convplan.report.files import write_text_atomic

    document = netron_attachment(layer_metrics(analysis, batch, dtype))
    write_text_atomic(str(path), json.dumps(document, indent=1) + "\n")


def write_model_explorer(folder: str | Path, analysis: Analysis, batch: int | None,
                         dtype: str) -> list[Path]:
    """graph.json and one node-data file per metric in `folder` (made if missing); returns the
    paths written, graph first."""
    from convplan.report.files import write_text_atomic

    metrics = layer_metrics(analysis, batch, dtype)
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--model-explorer {str(folder)!r} is a file; expected a folder")
    folder.mkdir(parents=True, exist_ok=True)
    files = {"graph": model_explorer_graph(analysis, metrics),
             **model_explorer_node_data(metrics)}
    written = []
    for stem, document in files.items():
        path = folder / f"{stem}.json"
        write_text_atomic(str(path), json.dumps(document, indent=1) + "\n")
        written.append(path)
    return written
