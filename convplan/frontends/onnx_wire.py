"""A bounded look at an ONNX file's protobuf wire format before `onnx` parses it.

Parsing a protobuf builds one object per message: a million tiny nodes (14 MB) took 9.5 s and
420 MiB to parse before the node count could be refused. This scan walks the field headers
of the ModelProto and of its graph only (the layout of onnx.proto: ModelProto.graph = 7,
GraphProto.node = 1, NodeProto.attribute = 5, AttributeProto.g = 6 and .graphs = 11), counting
nodes and stopping at the first over the limit, refusing subgraphs (control flow, which
convplan does not model, and where a hostile file could hide any number of nodes), and
bounding the bytes outside the graph (model-local functions, training info, metadata).
Initializer data is skipped over, never decoded.
"""

from __future__ import annotations

from convplan.errors import SpecError

MAX_OUTSIDE_GRAPH_BYTES = 16 * 1024 * 1024  # functions, metadata, training info: small


def _varint(data: memoryview, at: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= end or shift > 63:
            raise ValueError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _fields(data: memoryview, at: int, end: int):  # type: ignore[no-untyped-def]
    """(field number, wire type, payload start, payload end) of each field in [at, end)."""
    while at < end:
        key, at = _varint(data, at, end)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, after = _varint(data, at, end)
        elif wire == 1:
            after = at + 8
        elif wire == 5:
            after = at + 4
        elif wire == 2:
            length, at = _varint(data, at, end)
            after = at + length
        else:
            raise ValueError(f"wire type {wire}")
        if after > end:
            raise ValueError("a field runs past the end")
        yield number, wire, at, after
        at = after


def scan(data: bytes, source: str, max_nodes: int) -> int:
    """The graph's node count; SpecError where the bytes are truncated or damaged, there are
    more than `max_nodes` nodes, a node holds a subgraph, or too much lies outside the graph."""
    view = memoryview(data)
    nodes = 0
    outside = 0
    graphs = 0
    try:
        for number, wire, start, end in _fields(view, 0, len(view)):
            if number != 7 or wire != 2:
                outside += end - start
                continue
            graphs += 1
            for g_number, g_wire, g_start, g_end in _fields(view, start, end):
                if g_number != 1 or g_wire != 2:
                    continue
                nodes += 1
                if nodes > max_nodes:
                    raise SpecError(f"{source} has more than {max_nodes} nodes; at most "
                                    f"{max_nodes} are supported")
                _check_node(view, g_start, g_end, source, nodes)
    except ValueError as exc:
        raise SpecError(f"{source} is not a readable ONNX model (truncated or damaged "
                        f"protobuf: {exc})") from None
    if graphs == 0:
        raise SpecError(f"{source} holds no ONNX graph (is it an ONNX model?)")
    if outside > MAX_OUTSIDE_GRAPH_BYTES:
        raise SpecError(f"{source} holds {outside} bytes outside its graph (functions, "
                        f"metadata); more than {MAX_OUTSIDE_GRAPH_BYTES // (1024 * 1024)} MiB "
                        "is refused")
    return nodes


def _check_node(view: memoryview, start: int, end: int, source: str, index: int) -> None:
    for number, wire, a_start, a_end in _fields(view, start, end):
        if number != 5 or wire != 2:
            continue
        for a_number, _, _, _ in _fields(view, a_start, a_end):
            if a_number in (6, 11):
                raise SpecError(f"{source}: node #{index} holds a subgraph (If, Loop or Scan); "
                                "control flow is not modelled")
