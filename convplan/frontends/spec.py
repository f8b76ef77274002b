"""The spec format (YAML or JSON, one schema) -> Graph.

    name: seed_cnn
    inputs:
      image: [H, W, 1]              # ints, symbol names, or null; or {shape: [...], dtype: ...}
    layers:
      - {name: conv1, op: Conv2D, filters: 32, kernel_size: 3, padding: same, activation: relu}
      - {name: stage2, block: bottleneck, repeat: 3, with: {filters: 64}}
      - {name: add, op: Add, inputs: [conv1, stage2]}   # default input: the previous layer
    outputs: [add]                  # default: the last layer
    blocks:
      bottleneck:
        params: {filters: null, strides: 1}   # null: required
        layers:
          - {name: a, op: Conv2D, filters: $filters, kernel_size: 1, strides: $strides}
          - {name: sum, op: Add, inputs: [a, $input]}
    checks: {...}                   # read by `convplan check`

A block instance named `stage2` makes layers `stage2_a`, ...; with `repeat: 3` the instances
are `stage2_1`, `stage2_2`, `stage2_3`, each fed by the previous one, and `$index` (1-based, or
from `first_index`) is available to expressions. A name holding `{index}` (`conv2_block{index}`)
names each instance by its index instead, as keras.applications does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from convplan.errors import SpecError
from convplan.frontends.blocks import substitute
from convplan.frontends.loader import LineDict, parse_text, read_text
from convplan.ir import ops as O
from convplan.ir.graph import Graph

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,199}$")
LAYER_KEYS = {"name", "op", "inputs", "suppress"}
BLOCK_USE_KEYS = {"name", "block", "repeat", "first_index", "with", "inputs", "suppress"}
TOP_KEYS = {"name", "inputs", "layers", "outputs", "blocks", "checks", "description"}
MAX_REPEAT = 10_000
MAX_EXPANDED = 100_000


def check_name(name: Any, what: str, line: int | None = None, layer: str | None = None) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise SpecError(
            f"{what} must be 1-200 characters of letters, digits, '_', '.' or '-', starting with "
            f"a letter or '_', received {name!r}", line=line, layer=layer)
    return name


def _line(entry: Any) -> int | None:
    return getattr(entry, "line", None)


def _expect(value: Any, kind: type | tuple, what: str, line: int | None = None) -> Any:
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        names = names.replace("dict", "a mapping").replace("list", "a list").replace(
            "str", "a string").replace("int", "an integer")
        raise SpecError(f"{what} must be {names}, received {type(value).__name__} {value!r}",
                        line=line)
    return value


class _Expander:
    """Turns the layer list (with block uses) into graph nodes."""

    def __init__(self, graph: Graph, blocks: dict[str, Any]) -> None:
        self.graph = graph
        self.blocks = blocks
        self.previous: str | None = None
        self.stack: list[str] = []

    def layer(self, entry: Any, prefix: str = "", local: dict[str, str] | None = None,
              block_input: str | None = None, params: dict | None = None) -> None:
        line = _line(entry)
        _expect(entry, dict, "each layer", line)
        if params is not None:
            entry = substitute(entry, params)
        if "block" in entry:
            return self.block_use(entry, prefix, local, block_input, line)
        name = entry.get("name")
        if not isinstance(name, str):
            check_name(name, "layer 'name'", line)
        check_name(prefix + name, "layer 'name'", line)  # block-local names may start with a digit
        if "op" not in entry:
            raise SpecError("missing 'op' (a Keras layer class such as Conv2D) or 'block'",
                            layer=prefix + name, line=line)
        full = prefix + name
        inputs = self.resolve_inputs(entry.get("inputs"), full, line, local, block_input)
        attributes = {k: v for k, v in entry.items() if k not in LAYER_KEYS}
        try:
            op = O.make_op(entry["op"], full, attributes)
        except SpecError as exc:
            exc.line = exc.line or line
            raise
        self.graph.add(op, inputs, line=line, suppress=self.suppressions(entry, full, line))
        if local is not None:
            local[name] = full
        if len(self.graph) > MAX_EXPANDED:
            raise SpecError(f"the spec expands to more than {MAX_EXPANDED} layers", line=line)
        self.previous = full

    def suppressions(self, entry: dict, layer: str, line: int | None) -> list[str]:
        codes = entry.get("suppress", [])
        if isinstance(codes, str):
            codes = [codes]
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise SpecError("'suppress' must be a list of check codes", layer=layer, line=line)
        return codes

    def resolve_inputs(self, inputs: Any, layer: str, line: int | None,
                       local: dict[str, str] | None, block_input: str | None) -> list[str]:
        if inputs is None:
            if self.previous is None:
                raise SpecError("the first layer needs 'inputs' (there is no previous layer)",
                                layer=layer, line=line)
            return [self.previous]
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            raise SpecError(f"'inputs' must be a layer name or a list of names, received "
                            f"{inputs!r}", layer=layer, line=line)
        resolved = []
        for ref in inputs:
            if ref == "$input":
                if block_input is None:
                    raise SpecError("'$input' is only meaningful inside a block", layer=layer,
                                    line=line)
                resolved.append(block_input)
            elif local is not None and ref in local:
                resolved.append(local[ref])
            else:
                resolved.append(ref)
        return resolved

    def block_use(self, entry: dict, prefix: str, local: dict | None, block_input: str | None,
                  line: int | None) -> None:
        unknown = set(entry) - BLOCK_USE_KEYS
        name = entry.get("name")
        if not isinstance(name, str):
            check_name(name, "block instance 'name'", line)
        check_name(prefix + name.replace("{index}", "1"), "block instance 'name'", line)
        full = prefix + name
        if unknown:
            raise SpecError(f"unknown key(s) {sorted(unknown)} in a block use; expected "
                            f"{sorted(BLOCK_USE_KEYS)}", layer=full, line=line)
        block_name = entry["block"]
        if block_name not in self.blocks:
            raise SpecError(f"unknown block {block_name!r}; defined blocks: "
                            f"{', '.join(self.blocks) or 'none'}", layer=full, line=line)
        if block_name in self.stack:
            raise SpecError(f"block {block_name!r} uses itself (" + " -> ".join(
                [*self.stack, block_name]) + ")", layer=full, line=line)
        block = self.blocks[block_name]
        repeat = entry.get("repeat", 1)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= MAX_REPEAT:
            raise SpecError(f"'repeat' must be an integer from 1 to {MAX_REPEAT}, received "
                            f"{repeat!r}", layer=full, line=line)
        first = entry.get("first_index", 1)
        if not isinstance(first, int) or isinstance(first, bool) or first < 0:
            raise SpecError(f"'first_index' must be a non-negative integer, received {first!r}",
                            layer=full, line=line)
        given = _expect(entry.get("with", {}), dict, f"block use {full!r}: 'with'", line)
        declared = block.get("params", {}) or {}
        for key in given:
            if key not in declared:
                raise SpecError(f"block {block_name!r} has no parameter {key!r}; parameters: "
                                f"{', '.join(declared) or 'none'}", layer=full, line=line)
        source = self.resolve_inputs(entry.get("inputs"), full, line, local, block_input)
        if len(source) != 1:
            raise SpecError("a block use takes exactly one input", layer=full, line=line)
        current = source[0]
        self.stack.append(block_name)
        for index in range(first, first + repeat):
            params = {**declared, **given, "index": index}
            missing = [k for k, v in params.items() if v is None]
            if missing:
                raise SpecError(f"block {block_name!r} needs parameter(s) {missing} in 'with'",
                                layer=full, line=line)
            if "{index}" in full:  # e.g. conv2_block{index} -> conv2_block2, as Keras names them
                instance = full.replace("{index}", str(index)) + "_"
            else:
                instance = f"{full}_{index}_" if repeat > 1 else f"{full}_"
            self.previous = current
            inner: dict[str, str] = {}
            for layer in block["layers"]:
                self.layer(layer, instance, inner, current, params)
            current = self.previous
        self.stack.pop()
        if local is not None:
            local[name] = current


def _blocks(data: dict) -> dict[str, Any]:
    blocks = _expect(data.get("blocks", {}) or {}, dict, "'blocks'", _line(data))
    for name, block in blocks.items():
        check_name(name, "block name", _line(blocks))
        _expect(block, dict, f"block {name!r}", _line(blocks))
        unknown = set(block) - {"params", "layers", "description"}
        if unknown:
            raise SpecError(f"block {name!r}: unknown key(s) {sorted(unknown)}; expected params, "
                            "layers", line=_line(block))
        _expect(block.get("params", {}) or {}, dict, f"block {name!r}: 'params'", _line(block))
        layers = _expect(block.get("layers"), list, f"block {name!r}: 'layers'", _line(block))
        if not layers:
            raise SpecError(f"block {name!r} has no layers", line=_line(block))
    return blocks


def _inputs(graph: Graph, data: dict) -> None:
    inputs = data.get("inputs")
    if not isinstance(inputs, dict) or not inputs:
        raise SpecError("'inputs' must map each input name to its shape, e.g. "
                        "inputs: {image: [28, 28, 1]}", line=_line(data))
    for name, value in inputs.items():
        check_name(name, "input name", _line(inputs))
        dtype = "float32"
        if isinstance(value, dict):
            unknown = set(value) - {"shape", "dtype"}
            if unknown:
                raise SpecError(f"unknown key(s) {sorted(unknown)}; an input takes shape and "
                                "dtype", layer=name, line=_line(value))
            dtype = value.get("dtype", "float32")
            value = value.get("shape")
        graph.add(O.InputLayer(name=name, shape=value, dtype=dtype), line=_line(inputs))


def default_name(source: str) -> str:
    """A valid network name from the file name when the spec gives none ('my model.yaml' ->
    'my_model'): the user never wrote it, so it must not be rejected."""
    if source == "<spec>":
        return "model"
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", Path(source).stem)[:200]
    return name if NAME.match(name) else ("_" + name)[:200] if name else "model"


def build_graph(data: Any, source: str = "<spec>") -> Graph:
    """Spec data (as parsed) -> Graph (not yet validated)."""
    data = _expect(data, dict, "the spec", None)
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise SpecError(f"unknown top-level key(s) {sorted(map(str, unknown))}; expected "
                        + ", ".join(sorted(TOP_KEYS)), line=_line(data))
    name = check_name(data.get("name", default_name(source)), "the spec 'name'", _line(data))
    graph = Graph(name)
    graph.source = source
    graph.checks = data.get("checks") or {}
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise SpecError(f"'description' must be text, received {type(description).__name__}",
                        line=_line(data))
    graph.description = description
    _inputs(graph, data)
    layers = _expect(data.get("layers"), list, "'layers'", _line(data))
    if not layers:
        raise SpecError("'layers' is empty; a network needs at least one layer")
    expander = _Expander(graph, _blocks(data))
    expander.previous = graph.inputs[-1] if len(graph.inputs) == 1 else None
    for entry in layers:
        expander.layer(entry)
    outputs = data.get("outputs")
    if outputs is not None:
        if isinstance(outputs, str):
            outputs = [outputs]
        _expect(outputs, list, "'outputs'", _line(data))
        graph.set_outputs(outputs)
    return graph


def load_spec(path: str | Path) -> Graph:
    """Read a YAML/JSON spec file into a Graph."""
    text = read_text(path)
    return build_graph(parse_text(text, str(path)), str(path))


def loads_spec(text: str, source: str = "<spec>") -> Graph:
    return build_graph(parse_text(text, source), source)


def is_linedict(value: Any) -> bool:
    return isinstance(value, LineDict)
