"""A Python builder that produces the same IR as a spec:

    net = NetworkBuilder("seed_cnn")
    x = net.input("image", [28, 28, 1])
    x = net.Conv2D(x, filters=32, kernel_size=3, padding="same", activation="relu")
    y = net.add_layer("Dense", x, units=10, name="logits")
    graph = net.build()

Every call returns the new layer's name, which later calls take as input. Names default to
Keras's (snake_case class name, then `_1`, `_2`, ...).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from convplan.ir import ops as O
from convplan.ir.graph import Graph
from convplan.ir.validate import validate


def _snake(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class NetworkBuilder:
    def __init__(self, name: str = "model") -> None:
        self.graph = Graph(name)
        self._counts: dict[str, int] = {}

    def _auto_name(self, op_name: str) -> str:
        base = _snake(op_name)
        while True:
            n = self._counts.get(base, 0)
            self._counts[base] = n + 1
            candidate = base if n == 0 else f"{base}_{n}"
            if candidate not in self.graph.nodes:
                return candidate

    def input(self, name: str, shape: Sequence[Any], dtype: str = "float32") -> str:
        return self.graph.add(O.InputLayer(name=name, shape=tuple(shape), dtype=dtype))

    def add_layer(self, op: str, inputs: str | Sequence[str], name: str | None = None,
                  **attributes: Any) -> str:
        cls = O.op_class(op, layer=name)
        name = name or self._auto_name(cls.__name__)
        inputs = [inputs] if isinstance(inputs, str) else list(inputs)
        return self.graph.add(O.make_op(cls.__name__, name, attributes), inputs)

    def __getattr__(self, op: str):
        if op.startswith("_") or op not in O.OPS:
            raise AttributeError(op)
        return lambda inputs, name=None, **attributes: self.add_layer(op, inputs, name,
                                                                      **attributes)

    def build(self, outputs: str | Sequence[str] | None = None) -> Graph:
        if outputs is not None:
            self.graph.set_outputs([outputs] if isinstance(outputs, str) else outputs)
        validate(self.graph)
        return self.graph
