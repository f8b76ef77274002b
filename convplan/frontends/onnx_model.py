"""Reading a .onnx model into a Graph with the `onnx` package only (no runtime), bounded.

What is read: the graph's nodes, inputs and initializers' dims (never their values, except
small integer/float constants that shape ops need: Reshape targets, Resize scales, Pad
amounts). Refused cleanly, one line each: files over `MAX_ONNX_BYTES`, damaged or truncated
protobuf, more than `MAX_NODES` nodes, external-data references outside the model's folder
(never opened either way: dims are in the file), cycles, values no node produces, and any op
`convplan.frontends.onnx_ops` does not model (naming the node and its op type).
Semantics are ONNX's (channels-first in, channels-last in the IR): see docs/onnx.md.
"""

from __future__ import annotations

import heapq
import os
from pathlib import Path
from typing import Any

from convplan.errors import GraphError, SpecError, UnsupportedError
from convplan.ir.graph import Graph

MAX_ONNX_BYTES = 2 * 1024 ** 3 - 1  # protobuf's own limit for one message
MAX_NODES = 100_000  # convplan.ir.validate.MAX_LAYERS


def _import_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise UnsupportedError("reading ONNX models needs the onnx package",
                               hint="pip install 'convplan[onnx]'") from None
    return onnx


def read_model(path: str | Path) -> Any:
    """The ModelProto, bounded: size checked before reading, no external data loaded."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror})") from None
    if path.is_dir():
        raise SpecError(f"{path} is a folder, expected a .onnx model file")
    if size > MAX_ONNX_BYTES:
        raise SpecError(f"{path} is {size} bytes; ONNX files over 2 GiB (protobuf's limit) are "
                        "refused")
    from convplan.frontends.onnx_wire import scan

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror})") from None
    scan(data, str(path), MAX_NODES)  # before parsing: counts, truncation, subgraphs
    onnx = _import_onnx()
    from google.protobuf.message import DecodeError

    try:
        model = onnx.ModelProto()
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise SpecError(f"{path} is not a readable ONNX model (truncated or damaged protobuf: "
                        f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                        ) from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror})") from None
    del data
    if not model.HasField("graph"):
        raise SpecError(f"{path} holds no ONNX graph (is it an ONNX model?)")
    check_external_data(model, path)
    return model


def check_external_data(model: Any, path: Path) -> None:
    """Refuse an initializer whose external data lies outside the model's folder (an absolute
    path, or one climbing out with '..'). The data is never opened: only dims are read."""
    folder = path.resolve().parent
    for tensor in model.graph.initializer:
        if tensor.data_location != 1:  # TensorProto.EXTERNAL
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        target = (folder / location).resolve()
        if (not location or os.path.isabs(location)
                or os.path.commonpath([folder, target]) != str(folder)):
            raise SpecError(f"{path}: initializer {tensor.name!r} refers to external data "
                            f"{location!r} outside the model's folder; refused")


def node_order(nodes: list[Any], known: set[str], source: str) -> list[int]:
    """Node indexes so every value is produced before it is read (the file's order where
    it already is, as ONNX requires); a cycle or a value nothing produces is a GraphError."""
    producer: dict[str, int] = {}
    for index, node in enumerate(nodes):
        for out in node.output:
            if out:
                if out in producer or out in known:
                    raise GraphError(f"{source}: value {out!r} is produced twice (node "
                                     f"{_label(node, index)!s})")
                producer[out] = index
    waiting = [0] * len(nodes)
    users: list[list[int]] = [[] for _ in nodes]
    for index, node in enumerate(nodes):
        for name in dict.fromkeys(node.input):
            if not name or name in known:
                continue
            if name not in producer:
                raise GraphError(f"{source}: node {_label(node, index)} reads {name!r}, which no "
                                 "node, graph input or initializer produces")
            waiting[index] += 1
            users[producer[name]].append(index)
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for user in users[index]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, user)
    if len(order) < len(nodes):
        stuck = next(i for i, count in enumerate(waiting) if count)
        raise GraphError(f"{source}: the nodes form a cycle (node {_label(nodes[stuck], stuck)} "
                         "depends on its own output); an ONNX graph must be acyclic")
    return order


def _label(node: Any, index: int) -> str:
    return f"{node.name or '#' + str(index)!r} ({node.op_type})"


def load_onnx(path: str | Path) -> Graph:
    """A .onnx file -> Graph (ONNX semantics: explicit pads, auto_pad, ceil_mode, ...)."""
    from convplan.frontends.onnx_graph import build_graph

    model = read_model(path)
    return build_graph(model, str(path))

