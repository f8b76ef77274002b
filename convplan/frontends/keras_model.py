"""A Keras model config -> Graph, without TensorFlow or Keras: the JSON `model.to_json()` writes,
or a .keras archive's `config.json` (read by `keras_archive`; weights never are).

Functional models are read from `layers[*].inbound_nodes` (Keras 3: `args` holding
`__keras_tensor__` entries whose `keras_history` is `[layer, node index, tensor index]`; Keras 2:
lists of `[layer, node index, tensor index, kwargs]`); Sequential models chain their layers.
A model nested inside another (a Sequential used as a layer) is flattened into the graph: its
layers are named `<nested model>.<layer>` (`convnext_tiny_stem.convnext_tiny_stem_conv`; deeper
nesting `outer.inner.layer`, as Keras's weight paths read), so every table shows which nested
model, as `model.summary()` lists it, each layer belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from convplan.errors import GraphError, SpecError, UnsupportedError, UsageError
from convplan.frontends import keras_layers as K
from convplan.frontends import keras_operations as KO
from convplan.frontends.spec import NAME
from convplan.ir import ops as O
from convplan.ir.graph import Graph
from convplan.ir.validate import MAX_LAYERS

MODEL_CLASSES = ("Functional", "Model", "Sequential")
MAX_NESTING = 32
INPUT_DTYPES = ("float32", "float16", "bfloat16", "float64", "int32", "int64", "uint8")

Ref = tuple[str, int, int]  # keras_history: layer name, node index, tensor index
# Where a graph node came from: the names of the models it is nested in (outermost first), the
# Keras layer or operation name, the call's index among the layer's inbound nodes.
Origin = tuple[tuple[str, ...], str, int]


def _fail(message: str, layer: str | None = None, op: str | None = None,
          hint: str | None = None) -> SpecError:
    return SpecError(message, layer=layer, op=op, hint=hint)


def _mapping(value: Any, what: str, layer: str | None = None) -> dict:
    if not isinstance(value, dict):
        raise _fail(f"{what} must be a JSON object, received {type(value).__name__}", layer)
    return value


def _list(value: Any, what: str, layer: str | None = None) -> list:
    if not isinstance(value, list):
        raise _fail(f"{what} must be a JSON list, received {type(value).__name__}", layer)
    return value


def sanitize_name(name: Any) -> str:
    """A Keras layer name as a convplan name: Keras allows any string without '/', specs
    allow letters, digits, '_', '.' and '-'; other characters become '_'."""
    if not isinstance(name, str) or not name:
        raise _fail(f"every layer needs a non-empty string name, received {name!r}")
    if NAME.match(name):
        return name
    clean = re.sub(r"[^A-Za-z0-9_.\-]", "_", name)
    if not re.match(r"[A-Za-z_]", clean):
        clean = "_" + clean
    return clean[:200]


def _refs(value: Any, what: str) -> list[Ref]:
    """input_layers/output_layers: one [name, node, tensor] triple, a list of them, or a dict."""
    if isinstance(value, dict):
        value = list(value.values())
    value = _list(value, what)
    if len(value) == 3 and isinstance(value[0], str):
        value = [value]
    refs = []
    for item in value:
        if (not isinstance(item, list) or len(item) < 3 or not isinstance(item[0], str)
                or not all(isinstance(i, int) for i in item[1:3])):
            raise _fail(f"{what} must hold [layer name, node index, tensor index] triples, "
                        f"received {item!r}")
        refs.append((item[0], item[1], item[2]))
    return refs


def _tensors(value: Any, layer: str) -> Iterator[Ref]:
    """Every `__keras_tensor__` in a call's args, in order (merges pass a list of them)."""
    for ref, _ in _tensor_entries(value, layer):
        yield ref


def _tensor_entries(value: Any, layer: str) -> Iterator[tuple[Ref, Any]]:
    """Every `__keras_tensor__` with the shape Keras recorded for it (batch first), in order."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            history = (value.get("config") or {}).get("keras_history")
            if (not isinstance(history, list) or len(history) != 3
                    or not isinstance(history[0], str)
                    or not all(isinstance(i, int) for i in history[1:])):
                raise _fail(f"malformed keras_history {history!r}", layer)
            yield (history[0], history[1], history[2]), (value.get("config") or {}).get("shape")
        else:
            for item in value.values():
                yield from _tensor_entries(item, layer)
    elif isinstance(value, list):
        for item in value:
            yield from _tensor_entries(item, layer)


def recorded_input_shapes(entry: dict, node: Any, count: int, layer: str) -> list[Any]:
    """The input shapes (batch first) Keras recorded for one call: each tensor's own in a
    Keras 3 inbound node, else the layer's build_config for a one-input layer; None where
    nothing was recorded."""
    if isinstance(node, dict):
        shapes = [shape for _, shape in _tensor_entries(node.get("args") or [], layer)]
        if len(shapes) == count:
            return shapes
    built = (entry.get("build_config") or {}).get("input_shape") \
        if isinstance(entry.get("build_config"), dict) else None
    return [built] if count == 1 else [None] * count


def node_inputs(node: Any, layer: str) -> list[Ref]:
    """The tensors one call of a layer consumes (Keras 3 or Keras 2 inbound node)."""
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        kwargs = list(_tensors(node.get("kwargs") or {}, layer))
        if kwargs:
            raise UnsupportedError(f"a call passes tensors as keyword arguments "
                                   f"({', '.join(r[0] for r in kwargs)}); convplan reads "
                                   "positional inputs only", layer=layer)
        return list(_tensors(node.get("args") or [], layer))
    if isinstance(node, list):  # Keras 2: [[layer, node, tensor, kwargs], ...]
        refs = []
        for item in node:
            if (not isinstance(item, list) or len(item) < 3 or not isinstance(item[0], str)
                    or not all(isinstance(i, int) for i in item[1:3])):
                raise _fail(f"malformed inbound node entry {item!r}", layer)
            refs.append((item[0], item[1], item[2]))
        return refs
    raise _fail(f"malformed inbound node {node!r}", layer)


def _layer_name(entry: dict) -> Any:
    config = entry.get("config")
    return entry.get("name", config.get("name") if isinstance(config, dict) else None)


def call_arguments(node: Any, layer: str) -> list[Any]:
    """A Keras 3 call's positional arguments: TENSOR for each tensor, constants as they are."""
    if not isinstance(node, dict):
        return [K.TENSOR for _ in node_inputs(node, layer)]
    args = node.get("args") or []
    return [K.TENSOR if list(_tensors(a, layer)) else a for a in args]


def _input_shape(entry: dict, layer: str) -> list:
    config = entry.get("config") or {}
    shape = config.get("batch_shape", config.get("batch_input_shape"))
    if shape is None and config.get("shape") is not None:
        shape = [None, *config["shape"]]
    if not isinstance(shape, list) or len(shape) < 2:
        raise _fail(f"an InputLayer needs batch_shape (batch first), received {shape!r}", layer,
                    "InputLayer")
    return shape[1:]  # convplan counts per example: the batch axis is left out


def _check_config_names(model: str, entries: list[tuple[str, dict]]) -> None:
    """Keras names a deserialized layer by its config's `name` (the entry's `name` only keys
    the wiring), and refuses a model where two layers end up with one name; so does this."""
    owner: dict[str, str] = {}
    for layer, entry in entries:
        config = entry.get("config")
        keras_name = config.get("name", layer) if isinstance(config, dict) else layer
        if not isinstance(keras_name, str):
            continue
        if keras_name in owner and owner[keras_name] != layer:
            first, second = owner[keras_name], layer
            said = [f"{n!r}'s config names it {keras_name!r}" for n in (first, second)
                    if n != keras_name]
            raise GraphError(f"layers {first!r} and {second!r} of model {model!r} would both be "
                             f"named {keras_name!r} ({'; '.join(said)}); Keras refuses two "
                             "layers of one name", layer=second)
        owner.setdefault(keras_name, layer)


def _input_dtype(config: dict) -> str:
    dtype = config.get("dtype", "float32")
    if isinstance(dtype, dict):  # a DTypePolicy
        dtype = (dtype.get("config") or {}).get("name", "float32")
    return dtype if dtype in INPUT_DTYPES else "float32"


class _Importer:
    """Walks a model config (recursively through nested models) and fills a Graph."""

    def __init__(self, graph: Graph, custom: dict[str, K.CustomLayer]) -> None:
        self.graph = graph
        self.custom = custom
        self.used_custom: set[str] = set()
        self.reserved: set[str] = set()  # names of the top-level model's own layers
        self.origins: dict[str, Origin] = {}  # graph node -> the Keras call it stands for
        self.scope: tuple[str, ...] = ()  # the nested models being walked
        # declared (Custom) nodes -> (op, the input shape Keras recorded), checked where read
        self.declared_inputs: dict[str, tuple[O.Custom, Any]] = {}

    # -- names ------------------------------------------------------------------------
    def claim(self, wanted: str, prefix: str | None = None) -> str:
        """A free node name: the layer's own at the top level, `<prefix>.<layer>` inside nested
        models (prefix: their names, outermost first, joined by '.'); `_2`, ... where taken."""
        taken = lambda n: n in self.graph.nodes or (prefix is not None and n in self.reserved)  # noqa: E731
        name = sanitize_name(wanted if prefix is None else f"{prefix}.{wanted}")
        base, n = name, 1
        while taken(name):
            n += 1
            name = f"{base}_{n}"
        return name

    # -- models -----------------------------------------------------------------------
    def model(self, entry: dict, feeds: list[str] | None, trainable: bool, depth: int,
              prefix: str | None) -> list[str]:
        class_name = entry.get("class_name")
        config = _mapping(entry.get("config"), f"model {class_name!r}: 'config'")
        name = str(config.get("name", class_name))
        if depth > MAX_NESTING:
            raise _fail(f"models nest deeper than {MAX_NESTING} levels", name)
        if "layers" not in config:
            raise UnsupportedError(
                f"model class {class_name!r} has no layer list in its config (a subclassed "
                "model); convplan reads Functional and Sequential models", layer=name,
                hint="rebuild it with the Functional API, or write a convplan spec")
        trainable = trainable and config.get("trainable", True) is not False
        layers = _list(config["layers"], f"model {name!r}: 'layers'")
        if depth == 0:  # the outer model's own layer names win over nested models' names
            self.reserved = {sanitize_name(_layer_name(e)) for e in layers if isinstance(e, dict)
                             and e.get("class_name") not in MODEL_CLASSES
                             and isinstance(_layer_name(e), str)}
        if class_name == "Sequential":
            return self.sequential(name, config, layers, feeds, trainable, depth, prefix)
        return self.functional(name, config, layers, feeds, trainable, depth, prefix)

    def sequential(self, name: str, config: dict, layers: list, feeds: list[str] | None,
                   trainable: bool, depth: int, prefix: str | None) -> list[str]:
        entries = [_mapping(e, f"model {name!r}: each layer") for e in layers]
        first_input = entries[0] if entries and entries[0].get("class_name") == "InputLayer" \
            else None
        if first_input is not None:
            entries = entries[1:]
        if feeds is None:
            current = self.sequential_input(name, config, first_input, entries)
        elif len(feeds) != 1:
            raise _fail(f"a Sequential model takes one input, received {len(feeds)}", name)
        else:
            current = feeds[0]
        if not entries:
            raise _fail("the Sequential model has no layers", name)
        for entry in entries:
            layer = str(_layer_name(entry) or entry.get("class_name"))
            if entry.get("class_name") == "InputLayer":
                raise _fail("an InputLayer can only come first in a Sequential model", layer)
            current = self.call(entry, layer, 0, [current], trainable, depth, prefix)[0]
        return [current]

    def sequential_input(self, name: str, config: dict, first_input: dict | None,
                         entries: list[dict]) -> str:
        """A top-level Sequential's input: its InputLayer, else the shape it was built with."""
        if first_input is not None:
            layer = (first_input.get("config") or {}).get("name", "input_layer")
            shape, dtype = _input_shape(first_input, layer), _input_dtype(
                first_input.get("config") or {})
        else:
            built = config.get("build_input_shape") or (
                (entries[0].get("build_config") or {}).get("input_shape") if entries else None)
            if not isinstance(built, list) or len(built) < 2:
                raise _fail("the Sequential model has no input shape (it was never built); "
                            "give it one", name,
                            hint="start it with keras.Input(shape=...) or call "
                            "model.build((None, ...)) before saving")
            layer, shape, dtype = "input_layer", built[1:], "float32"
        node = self.claim(layer)
        self.add(O.InputLayer(name=node, shape=shape, dtype=dtype), [], layer)
        return node

    def functional(self, name: str, config: dict, layers: list, feeds: list[str] | None,
                   trainable: bool, depth: int, prefix: str | None) -> list[str]:
        entries = []
        for entry in layers:
            entry = _mapping(entry, f"model {name!r}: each layer")
            layer = _layer_name(entry)
            if not isinstance(layer, str):
                raise _fail(f"every layer needs a string name, received {layer!r}", name)
            entries.append((layer, entry))
        names = [layer for layer, _ in entries]
        _check_config_names(name, entries)
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise GraphError(f"the name is used by {names.count(dup)} layers of model {name!r}; "
                             "Keras requires unique names", layer=dup)
        tensors: dict[Ref, str] = {}
        inputs = _refs(config.get("input_layers", []), f"model {name!r}: 'input_layers'")
        by_name = dict(entries)
        for layer, _, _ in inputs:
            entry = by_name.get(layer)
            if entry is None or entry.get("class_name") != "InputLayer":
                raise _fail(f"input {layer!r} of model {name!r} is not one of its InputLayers")
            if feeds is None:
                node = self.claim(layer, prefix)
                self.add(O.InputLayer(name=node, shape=_input_shape(entry, layer),
                                      dtype=_input_dtype(entry.get("config") or {})), [], layer)
                tensors[(layer, 0, 0)] = node
        if feeds is not None:
            if len(feeds) != len(inputs):
                raise _fail(f"model {name!r} takes {len(inputs)} input(s), received "
                            f"{len(feeds)}", name)
            tensors.update({(ref[0], 0, 0): feed for ref, feed in zip(inputs, feeds)})
        pending = [(layer, entry) for layer, entry in entries
                   if entry.get("class_name") != "InputLayer"]
        # Keras lists layers in topological order; tolerate any order, but never loop forever.
        while pending:
            waiting = []
            for layer, entry in pending:
                if not self.functional_layer(layer, entry, tensors, trainable, depth, prefix):
                    waiting.append((layer, entry))
            if len(waiting) == len(pending):
                layer, entry = waiting[0]
                missing = [r for n in entry.get("inbound_nodes") or []
                           for r in node_inputs(n, layer) if r not in tensors]
                raise GraphError(f"input {missing[0][0]!r} (node {missing[0][1]}, tensor "
                                 f"{missing[0][2]}) is not produced by any layer of model "
                                 f"{name!r}", layer=layer)
            pending = waiting
        outputs = _refs(config.get("output_layers", []), f"model {name!r}: 'output_layers'")
        if not outputs:
            raise _fail(f"model {name!r} has no output_layers")
        for ref in outputs:
            if ref not in tensors:
                raise GraphError(f"output {ref[0]!r} (node {ref[1]}, tensor {ref[2]}) of model "
                                 f"{name!r} is not produced by any layer")
        return [tensors[ref] for ref in outputs]

    def functional_layer(self, layer: str, entry: dict, tensors: dict[Ref, str],
                         trainable: bool, depth: int, prefix: str | None) -> bool:
        """Add every call of one layer; False while one of its inputs is not made yet."""
        calls = _list(entry.get("inbound_nodes", []), "'inbound_nodes'", layer)
        if not calls:
            raise _fail("the layer is never called (no inbound_nodes); it is not part of the "
                        "model's graph", layer, str(entry.get("class_name")))
        resolved = []
        for node in calls:
            refs = node_inputs(node, layer)
            if not all(ref in tensors for ref in refs):
                return False
            resolved.append([tensors[ref] for ref in refs])
        # A nested Functional's node 0 links its own inputs to its outputs; Keras numbers the
        # calls that follow from 1 (Functional.get_config's node_reindexing_map).
        first = 1 if entry.get("class_name") in MODEL_CLASSES else 0
        for index, (ins, node) in enumerate(zip(resolved, calls)):
            outs = self.call(entry, layer, index, ins, trainable, depth, prefix, node)
            for t, out in enumerate(outs):
                tensors[(layer, index, t)] = out
                tensors.setdefault((layer, index + first, t), out)
        return True

    # -- one call of one layer ----------------------------------------------------------
    def call(self, entry: dict, layer: str, index: int, ins: list[str], trainable: bool,
             depth: int, prefix: str | None, node: Any = None) -> list[str]:
        class_name = entry.get("class_name")
        if class_name in MODEL_CLASSES:
            if index > 0:
                raise UnsupportedError(
                    "the nested model is called more than once (shared weights); convplan "
                    "would count its weights once per call", layer=layer, op=class_name)
            self.scope = (*self.scope, layer)
            try:
                return self.model(entry, ins, trainable, depth + 1,
                                  layer if prefix is None else f"{prefix}.{layer}")
            finally:
                self.scope = self.scope[:-1]
        if not ins:
            raise _fail("the layer is called without tensor inputs", layer, str(class_name))
        config = _mapping(entry.get("config", {}), "'config'", layer)
        inbound = node  # `node` names the graph node below
        if K.is_operation(entry) and not self.declared(entry, layer):
            # one op per output tensor: keras.ops.split has several (`.0`, `.1`, ... below)
            outputs = KO.operation_outputs(
                str(class_name), config, call_arguments(node, layer) if node is not None
                else [K.TENSOR] * len(ins), node.get("kwargs") or {}
                if isinstance(node, dict) else {}, layer)
        else:
            outputs = [self.translate(entry, class_name, config, layer)]
        names = []
        for tensor, (op_name, attributes) in enumerate(outputs):
            attributes["trainable"] = trainable and config.get("trainable", True) is not False
            wanted = layer if index == 0 else f"{layer}_call{index}"
            node = self.claim(wanted if len(outputs) == 1 else f"{wanted}.{tensor}", prefix)
            op = O.make_op(op_name, node, attributes)
            if index > 0 and op.has_weights:
                raise UnsupportedError(
                    f"the layer is called {index + 1} or more times and shares its weights "
                    "between calls; convplan models one set of weights per layer node",
                    layer=layer, op=op_name,
                    hint="give each call its own layer, or write a convplan spec")
            self.check_declarations(entry, inbound, ins, op)
            self.add(op, ins, layer)
            self.origins[node] = (self.scope, layer, index)
            names.append(node)
        return names

    def check_declarations(self, entry: dict, call: Any, ins: list[str], op: O.Op) -> None:
        """A declared layer's output must have the shape its readers were saved with."""
        recorded = recorded_input_shapes(entry, call, len(ins), op.name)
        for source, shape in zip(ins, recorded):
            if source in self.declared_inputs:
                K.check_declared_shape(*self.declared_inputs[source], op.name, shape)
        if isinstance(op, O.Custom):
            self.declared_inputs[op.name] = (op, recorded[0])

    def declared(self, entry: dict, layer: str) -> str | None:
        """The key under which the user declared this layer's behaviour, if any."""
        for key in (layer, entry.get("class_name"), entry.get("registered_name")):
            if isinstance(key, str) and key in self.custom:
                return key
        return None

    def translate(self, entry: dict, class_name: Any, config: dict,
                  layer: str) -> tuple[str, dict[str, Any]]:
        key = self.declared(entry, layer)
        if key is not None:
            self.used_custom.add(key)
            return "Custom", self.custom[key].attributes(str(class_name))
        if not isinstance(class_name, str):
            raise _fail(f"'class_name' must be a string, received {class_name!r}", layer)
        helper = K.application_layer(entry)
        if helper is not None:
            return "Custom", helper.attributes(class_name)
        if O.OPS.get(O.ALIASES.get(class_name, class_name)) is None \
                and class_name not in K.RENAMED:
            raise K.describe_unknown(entry, layer)
        return K.layer_attributes(class_name, config, layer)

    def add(self, op: O.Op, ins: list[str], layer: str) -> None:
        if len(self.graph) >= MAX_LAYERS:
            raise _fail(f"the model has more than {MAX_LAYERS} layers")
        self.graph.add(op, ins)


def _drop_unused_parts(graph: Graph, origins: dict[str, Origin]) -> None:
    """A split's parts nothing reads (`_, x = keras.ops.split(...)`) are not in Keras's
    graph of the model either: dropped."""
    used = {i for node in graph for i in node.inputs} | set(graph.outputs)
    for name in [n for n, node in graph.nodes.items()
                 if isinstance(node.op, O.Split) and n not in used]:
        del graph.nodes[name]
        origins.pop(name, None)


def dtype_policy(config: Mapping[str, Any]) -> str | None:
    """The dtype policy most of the model's layers were saved with ('mixed_float16'), where it
    is one convplan knows (convplan.options.DTYPES); None for a model without policies."""
    from collections import Counter

    from convplan.options import DTYPES

    names: Counter[str] = Counter()
    for layer in config.get("layers") or ():
        dtype = ((layer or {}).get("config") or {}).get("dtype") if isinstance(layer, dict) else None
        if isinstance(dtype, dict):
            dtype = (dtype.get("config") or {}).get("name")
        if isinstance(dtype, str) and dtype in DTYPES and layer.get("class_name") != "InputLayer":
            names[dtype] += 1
    return names.most_common(1)[0][0] if names else None


def graph_from_keras_config(data: Any, source: str = "<keras>",
                            custom_layers: Mapping[str, Any] | None = None) -> Graph:
    """A Keras model config (as `model.to_json()` or a .keras archive's config.json holds it)
    -> Graph. `custom_layers` declares layer classes (or layer names) convplan does not model:
    {'MyLayer': 'identity,params=10'}."""
    return traced_graph_from_keras_config(data, source, custom_layers)[0]


def traced_graph_from_keras_config(data: Any, source: str = "<keras>",
                                   custom_layers: Mapping[str, Any] | None = None
                                   ) -> tuple[Graph, dict[str, Origin]]:
    """The Graph and, for every node but the inputs, the Keras call it stands for (`Origin`),
    so `verify` can find each node in the built model whatever name the walker gave it."""
    from convplan.frontends.keras_live import readable_config

    # A config without a layer graph (keras-hub's, a subclassed model's) is read through Keras
    # where it can be (keras-hub installed), else refused saying how to save the graph.
    data = readable_config(_mapping(data, "a Keras model config"), source)
    class_name = data.get("class_name")
    if class_name not in MODEL_CLASSES:
        class_name = "Functional"  # a registered subclass of Functional keeps its graph
    custom = K.normalize_custom_layers(custom_layers)
    config = _mapping(data.get("config"), "the model's 'config'")
    graph = Graph(sanitize_name(config.get("name") or Path(source).stem or "model"))
    graph.source = source
    importer = _Importer(graph, custom)
    try:
        outputs = importer.model({**data, "class_name": class_name}, None, True, 0, None)
    except RecursionError:
        raise _fail(f"{source}: the model config nests too deeply") from None
    graph.set_outputs(list(dict.fromkeys(outputs)))
    graph.dtype_policy = dtype_policy(config)
    _drop_unused_parts(graph, importer.origins)
    unused = sorted(set(custom) - importer.used_custom)
    if unused:
        raise UsageError(f"custom layer declaration(s) {', '.join(unused)} match no layer class "
                         f"or layer name in {source}")
    return graph, importer.origins
