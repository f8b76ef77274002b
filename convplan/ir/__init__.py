"""The graph IR: ops as frozen dataclasses, a Graph over networkx, and `validate()`."""

from convplan.ir.graph import Graph, Node
from convplan.ir.ops import OPS, Op, make_op, op_class
from convplan.ir.validate import validate

__all__ = ["Graph", "Node", "OPS", "Op", "make_op", "op_class", "validate"]
