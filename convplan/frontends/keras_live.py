"""`from_keras(model)`: a live Keras model -> Graph, through the config Keras itself writes.

The model's weights are never read; only its functional config is (what `model.to_json()` writes
for a Functional or Sequential model), so the result is what `convplan analyze model.json` gives.

Whatever the model's class: a subclass of Functional that serializes only its constructor
arguments (a keras-hub Backbone, whose JSON and `.keras` file hold `stackwise_num_filters` and
the like, no layers) is read through the Functional it is, `Functional(model.inputs,
model.outputs)`: the same layers and calls, serialized as a graph. Inside it, a nested model of
such a class is read the same way, and a subclassed layer that convplan does not model but that
is made of layers it does (keras-hub's MobileNet blocks) is traced: its `call` applied to
symbolic inputs records its sublayers as a nested Functional (the sublayers' call records are
removed again afterwards, so the model is left as it was).

A keras-hub model in a file (JSON or `.keras`) is deserialized by Keras when keras-hub is
importable (`deserialize_keras_object`, safe mode, no weights) and read as a live model.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Collection, Mapping
from typing import Any

from convplan.errors import SpecError, UnsupportedError
from convplan.frontends import keras_layers as K
from convplan.frontends.keras_model import MODEL_CLASSES, graph_from_keras_config
from convplan.ir import ops as O
from convplan.ir.graph import Graph

HUB_PACKAGE = "keras_hub"
SAVE_HINT = ("save its layer graph: keras.Model(model.inputs, model.outputs).save('model.keras') "
             "(or .to_json()); a subclassed model needs the Functional API or a convplan spec")


def from_keras(model: Any, custom_layers: Mapping[str, Any] | None = None) -> Graph:
    """A built Keras model of any Functional or Sequential class -> Graph. `custom_layers`
    declares layer classes convplan does not model, e.g. {'MyLayer': 'identity,params=10'}."""
    config = keras_graph_config(model, declared=tuple(custom_layers or ()))
    name = getattr(model, "name", "model")
    return graph_from_keras_config(config, source=f"<keras model {name}>",
                                   custom_layers=custom_layers)


def _keras_class(obj: Any, name: str) -> type | None:
    """Keras's own class `name` among the ancestors of obj's class (no import of Keras)."""
    return next((c for c in type(obj).__mro__
                 if c.__name__ == name and c.__module__.startswith("keras.")), None)


def keras_graph_config(model: Any, declared: Collection[str] = ()) -> dict:
    """The `{"class_name", "config"}` of a live model with its layer graph in the config, as
    `Functional.get_config` writes it, whatever the model's class. `declared`: custom-layer
    keys, whose layers are left as they are (never traced)."""
    if getattr(model, "get_config", None) is None or not hasattr(model, "layers"):
        raise UnsupportedError(f"expected a Keras model, received {type(model).__name__}")
    functional = _keras_class(model, "Functional")
    if functional is None and _keras_class(model, "Sequential") is None:
        # A subclassed model: its graph exists only while it is called.
        raise UnsupportedError(
            f"the model {getattr(model, 'name', '?')!r} (class {type(model).__name__!r}) is a "
            "subclassed model, which has no layer graph; convplan reads Functional and "
            "Sequential models of any class",
            hint="build it with the Functional API, or write a convplan spec")
    if functional is None or type(model) is functional:
        source, data = model, _to_config(model)
    else:  # a subclass of Functional may serialize only its constructor arguments
        source = functional(model.inputs, model.outputs, name=model.name)
        data = _to_config(source)
        data["config"]["trainable"] = bool(model.trainable)
    _expand(data["config"], source, declared)
    return data


def _to_config(model: Any) -> dict:
    try:
        return json.loads(model.to_json())
    except NotImplementedError as exc:
        raise UnsupportedError(
            f"the model {getattr(model, 'name', '?')!r} cannot be serialized ({exc}); convplan "
            "reads Functional and Sequential models",
            hint="build it with the Functional API, or write a convplan spec") from None


def _operations(model: Any) -> dict[str, Any]:
    ops = getattr(model, "operations", None)
    return {op.name: op for op in (ops if ops is not None else model.layers)}


def _expand(config: dict, model: Any, declared: Collection[str]) -> None:
    """Replace, in a model config, each nested model without a layer graph by its graph, and
    each unmodelled composite layer by the graph its call traces (see the module docstring)."""
    live = _operations(model)
    for entry in config.get("layers") or []:
        name = (entry.get("config") or {}).get("name", entry.get("name"))
        op = live.get(name)
        if op is None or _is_declared(entry, declared):
            continue
        if _keras_class(op, "Functional") is not None or _keras_class(op, "Sequential") is not None:
            if entry.get("class_name") not in MODEL_CLASSES \
                    or "layers" not in (entry.get("config") or {}):
                _replace(entry, keras_graph_config(op, declared))
            else:
                _expand(entry["config"], op, declared)
        elif not _modelled(entry) and _composite(op):
            _replace(entry, _traced_config(op, declared))


def _replace(entry: dict, graph_config: dict) -> None:
    entry["class_name"] = graph_config["class_name"]
    entry["config"] = graph_config["config"]
    for key in ("module", "registered_name"):  # the graph's, not the replaced class's
        entry.pop(key, None)
        if key in graph_config:
            entry[key] = graph_config[key]


def _is_declared(entry: dict, declared: Collection[str]) -> bool:
    name = (entry.get("config") or {}).get("name", entry.get("name"))
    return any(k in declared for k in (name, entry.get("class_name"), entry.get("registered_name")))


def _modelled(entry: dict) -> bool:
    """Whether the importer reads this entry as it is: a layer class convplan models, a
    keras.applications helper, or a keras.ops call."""
    class_name = entry.get("class_name")
    return (K.is_operation(entry) or K.application_layer(entry) is not None
            or class_name in K.RENAMED
            or (isinstance(class_name, str)
                and O.OPS.get(O.ALIASES.get(class_name, class_name)) is not None))


def _composite(layer: Any) -> bool:
    """A layer class from outside Keras that holds sublayers (Keras's own, such as
    MultiHeadAttention, keep the importer's reasons for refusing them)."""
    flatten = getattr(layer, "_flatten_layers", None)  # Keras 3 Layer: the tracked sublayers
    return (not type(layer).__module__.startswith("keras.") and flatten is not None
            and any(True for _ in flatten(include_self=False, recursive=False)))


def _traced_config(layer: Any, declared: Collection[str]) -> dict:
    """A composite layer's call, applied to symbolic inputs shaped like its first call's, as a
    Functional config. Every layer in it gets back its own call records afterwards."""
    keras = importlib.import_module("keras")
    nodes = getattr(layer, "_inbound_nodes", None) or []
    if len(nodes) != 1:
        raise UnsupportedError(
            f"the layer (class {type(layer).__name__}) is called {len(nodes)} times; convplan "
            "traces a composite layer called once", layer=layer.name)
    node = nodes[0]
    fresh: dict[int, Any] = {}  # the call's tensors by identity (one may be passed twice)
    for t in node.input_tensors:
        fresh.setdefault(id(t), keras.Input(batch_shape=t.shape, dtype=t.dtype))
    inputs = list(fresh.values())
    args, kwargs = keras.tree.map_structure(
        lambda x: fresh[id(x)] if isinstance(x, keras.KerasTensor) else x,
        (node.arguments.args, node.arguments.kwargs))
    inner = list(layer._flatten_layers(include_self=False, recursive=True))
    saved = [(sub, len(sub._inbound_nodes), len(sub._outbound_nodes)) for sub in inner]
    try:
        outputs = layer.call(*args, **kwargs)
        data = keras_graph_config(keras.Model(inputs, outputs, name=layer.name), declared)
    except (ValueError, TypeError, AttributeError, NotImplementedError) as exc:
        raise UnsupportedError(
            f"layer class {type(layer).__name__!r} from module {type(layer).__module__!r} is "
            "not modelled by convplan, and tracing its call as a graph of Keras layers failed "
            f"({_first_line(exc)})", layer=layer.name,
            hint=f"declare it with {K.CUSTOM_LAYERS}") from None
    finally:  # the model is left as it was: no sublayer keeps a record of the traced call
        for sub, inbound, outbound in saved:
            del sub._inbound_nodes[inbound:]
            del sub._outbound_nodes[outbound:]
    data["config"]["trainable"] = bool(layer.trainable)
    return data


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def is_hub_config(data: Any) -> bool:
    """A serialized keras-hub object (its module or registered name says so)."""
    return isinstance(data, dict) and (
        str(data.get("module") or "").startswith(HUB_PACKAGE + ".")
        or str(data.get("registered_name") or "").startswith("keras_hub>"))


def serialized_graph_config(data: dict, source: str) -> dict:
    """A model config without a layer graph (only constructor arguments), or one holding such
    keras-hub objects -> one with the whole graph: a keras-hub model is deserialized by Keras
    (keras-hub must be importable) and read live; anything else is refused with the way to
    save its graph."""
    class_name = data.get("class_name")
    module = data.get("module")
    hub = _hub_class(data)
    if hub is None:
        raise UnsupportedError(
            f"{source} holds a {class_name!r}" + (f" from module {module!r}" if module else "")
            + ", which is not a Functional or Sequential model with a layer graph in its config "
            "(a single layer, a subclassed model, or a Functional subclass that saves only its "
            "constructor arguments)", hint=SAVE_HINT)
    if importlib.util.find_spec(HUB_PACKAGE) is None:
        raise UnsupportedError(
            f"{source} holds keras-hub's {hub!r}, whose config holds only constructor "
            "arguments; its layers are known only to keras-hub, which is not installed",
            hint="pip install keras-hub, or save the graph itself: "
            "keras.Model(backbone.inputs, backbone.outputs).save('model.keras')")
    keras = importlib.import_module("keras")
    importlib.import_module(HUB_PACKAGE)  # registers keras-hub's classes
    try:
        model = keras.saving.deserialize_keras_object(data, safe_mode=True)
    except (ValueError, TypeError, KeyError, AttributeError, ImportError) as exc:
        raise SpecError(f"{source}: keras-hub could not build {hub!r} from its config "
                        f"({_first_line(exc)})") from None
    result = keras_graph_config(model)
    # The file's name, not the one Keras made unique; where the file has none (VGGBackbone
    # saves none), the file's stem, as for any model config without a name.
    name = (data.get("config") or {}).get("name")
    if isinstance(name, str):
        result["config"]["name"] = name
    else:
        result["config"].pop("name", None)
    return result


def _hub_class(entry: Any) -> str | None:
    """The class name of the first keras-hub object in a config (itself, or a layer at any
    depth of nested models), or None."""
    if not isinstance(entry, dict):
        return None
    if is_hub_config(entry):
        return str(entry.get("class_name"))
    layers = (entry.get("config") or {}).get("layers") if isinstance(entry.get("config"),
                                                                     dict) else None
    return next((c for e in layers or [] if (c := _hub_class(e)) is not None), None)


def readable_config(data: dict, source: str) -> dict:
    """A model config the importer can walk: `data` itself, unless it lacks a layer graph or
    holds keras-hub objects (whose configs hold constructor arguments only); those go through
    `serialized_graph_config`."""
    config = data.get("config")
    if isinstance(config, dict) and "layers" in config and _hub_class(data) is None:
        return data
    return serialized_graph_config(data, source)
