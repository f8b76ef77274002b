"""The body of the generated `build_model()`: one Keras functional call per layer.

Each layer is written as `var = layers.<Op>(name=..., <attributes that differ from Keras's
defaults>)(inputs)`, wrapped to the line length, with every value a Python literal from
`literals.py`. Output layers also get `dtype="float32"`: under a mixed-precision policy the
output (and so the loss) stays float32, and under float32 it changes nothing, so the layer list
stays identical to the plan's.
"""

from __future__ import annotations

from dataclasses import dataclass

from convplan.codegen.literals import identifiers, py_literal
from convplan.ir import ops as O
from convplan.ir.graph import Graph
from convplan.ir.keras_arguments import keras_arguments

LINE = 100
INDENT = "    "


@dataclass(frozen=True)
class LayerCode:
    name: str
    op: str
    var: str
    lines: tuple[str, ...]  # indented once, ready to print inside build_model()


def layer_arguments(op: O.Op, output: bool, shape: tuple | None = None) -> list[tuple[str, str]]:
    """(keyword, literal) pairs: the name, every non-default attribute, float32 on outputs;
    an input's shape is the plan's (concrete, --input-size applied)."""
    if isinstance(op, O.InputLayer):
        shape = tuple(op.shape) if shape is None else tuple(shape)
        pairs = [("shape", py_literal(shape)), ("name", py_literal(op.name))]
        if op.dtype != "float32":
            pairs.append(("dtype", py_literal(op.dtype)))
        return pairs
    given = op.non_default_attributes()
    arguments = keras_arguments(op)
    # Required attributes first (filters, kernel_size), then Keras's order.
    keys = [k for k in op.required if k in arguments]
    keys += [k for k in arguments if k in given and k not in keys]
    pairs = [("name", py_literal(op.name))]
    pairs += [(key, py_literal(arguments[key])) for key in keys]
    if output:
        pairs.append(("dtype", py_literal("float32")))
    return pairs


def wrap_call(head: str, pairs: list[tuple[str, str]], tail: str, indent: str = INDENT) -> list[str]:
    """`head(k=v, ...)tail` on one line if it fits, else one argument group per line; a single
    literal longer than the line keeps its line with `# noqa: E501`."""
    args = [f"{k}={v}" for k, v in pairs]
    one = f"{indent}{head}({', '.join(args)}){tail}"
    if len(one) <= LINE:
        return [one]
    lines, current = [f"{indent}{head}("], ""
    inner = indent + INDENT
    for arg in args:
        candidate = f"{current} {arg}," if current else f"{arg},"
        if current and len(inner + candidate) > LINE:
            lines.append(inner + current)
            current = f"{arg},"
        else:
            current = candidate
    if current:
        lines.append(inner + current)
    lines.append(f"{indent}){tail}")
    return [line + "  # noqa: E501" if len(line) > LINE else line for line in lines]


def model_lines(graph: Graph, order: list[str], input_shapes: dict[str, tuple[int, ...]]
                ) -> list[LayerCode]:
    """Code for every layer, in topological order; variables are the layer names made into
    distinct identifiers; inputs get the plan's shapes."""
    names = identifiers(order)
    outputs = set(graph.outputs)
    code = []
    for name in order:
        node = graph[name]
        op = node.op
        var = names[name]
        if isinstance(op, O.InputLayer):
            lines = wrap_call(f"{var} = keras.Input",
                              layer_arguments(op, False, input_shapes.get(name)), "")
        elif isinstance(op, O.KerasOperation):
            pairs = [("x", names[node.inputs[0]])]
            pairs += [(k, py_literal(v)) for k, v in keras_arguments(op).items()]
            tail = f"[{op.index}]" if isinstance(op, O.Split) else ""
            lines = wrap_call(f"{var} = keras.ops.{op.keras_function}", pairs, tail)
        else:
            ins = [names[i] for i in node.inputs]
            call = f"([{', '.join(ins)}])" if isinstance(op, O.Merge) else f"({ins[0]})"
            lines = wrap_call(f"{var} = layers.{op.op_type}", layer_arguments(op, name in outputs),
                              call)
        code.append(LayerCode(name, op.op_type, var, tuple(lines)))
    return code


def model_io(graph: Graph, code: list[LayerCode]) -> tuple[str, str]:
    """The `inputs=` and `outputs=` expressions of `keras.Model(...)`."""
    var = {c.name: c.var for c in code}
    ins = [var[n] for n in graph.inputs]
    outs = [var[n] for n in graph.outputs]
    pick = lambda vs: vs[0] if len(vs) == 1 else "[" + ", ".join(vs) + "]"  # noqa: E731
    return pick(ins), pick(outs)
