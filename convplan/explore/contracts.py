"""Shape contracts for deployment tools, from `solve`'s closed-form valid input sizes.

`solve_input_sizes` gives each spatial axis as {n >= start : n mod P in residues} (plus a few
smaller exceptions). Deployment tools take a range, sometimes with a multiple:

- torch.export: `Dim("H_k", min=a, max=b)` and the axis `P * H_k + r`, exactly one residue class;
- ONNX Runtime / TensorRT optimization profiles: min/opt/max shapes (a range only: the
  divisibility is stated beside them, and every size in the range that is not `r mod P` fails);
- TF `input_signature`: `tf.TensorSpec` with None dims (no range at all), so the divisibility is
  documented and asserted by a helper.

A contract admits, per axis, the sizes `minimum <= n <= maximum` with `n % multiple == offset`:
one residue class of the closed form (the declared size's, else the smallest one's), clipped
to a maximum. Every admitted size is valid; valid sizes it leaves out (other residues, the
exceptions below `start`) are listed in `left_out`. The channel axis and fixed dims stay fixed.
Layouts: NCHW for torch/ONNX, NHWC for TF (convplan's IR is channels-last).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import sympy

from convplan.analysis import arith
from convplan.analysis.analyze import Analysis, analyze
from convplan.errors import UsageError
from convplan.explore.periodic import SizeRule
from convplan.explore.solve import InputSizes
from convplan.ir.graph import Graph

DEFAULT_MAX_SIZE = 1024
DEFAULT_MAX_BATCH = 32
PREFERRED_OPT = 224  # the opt size where the input declares none
FILES = ("torch_export.py", "onnx_profile.json", "trtexec.txt", "tf_signature.py")


@dataclass(frozen=True)
class AxisContract:
    """Sizes n with minimum <= n <= maximum and n % multiple == offset (all valid)."""

    symbol: str
    multiple: int
    offset: int
    minimum: int
    maximum: int
    optimum: int
    rule: str  # the closed form of every valid size, as solve prints it
    left_out: str  # valid sizes the contract does not admit ("" if none below maximum)
    # torch.export assumes no intermediate size is 1 (its 0/1 specialization: the traced
    # program guards `size != 1`), so its Dim starts at the first size where none is
    torch_minimum: int = 0

    def admits(self, n: int) -> bool:
        return self.minimum <= n <= self.maximum and n % self.multiple == self.offset

    @property
    def steps(self) -> tuple[int, int]:
        """(k_min, k_max) with n = multiple * k + offset, k_min from torch_minimum."""
        return ((max(self.minimum, self.torch_minimum) - self.offset) // self.multiple,
                (self.maximum - self.offset) // self.multiple)

    def first_rejected(self) -> tuple[int, ...]:
        """The sizes just outside the contract: below the minimum, the next non-multiple, and
        past the maximum."""
        out = [self.minimum - 1] if self.minimum > 1 else []
        if self.multiple > 1:
            out.append(self.minimum + 1)
        return tuple(out + [self.maximum + self.multiple])

    def text(self) -> str:
        if self.multiple == 1:
            what = f"{self.symbol} in {self.minimum}..{self.maximum}"
        else:
            form = f"{self.multiple}*k" + (f" + {self.offset}" if self.offset else "")
            what = (f"{self.symbol} = {form}: {self.minimum}, {self.minimum + self.multiple}, ..., "
                    f"{self.maximum}")
        return what + (f" (also valid, not admitted: {self.left_out})" if self.left_out else "")


@dataclass(frozen=True)
class InputContract:
    name: str
    dims: tuple[int | str, ...]  # channels-last, without the batch: ints fixed, symbols dynamic
    dtype: str

    def nchw(self) -> tuple[int | str, ...]:
        return (self.dims[-1], *self.dims[:-1]) if len(self.dims) >= 2 else self.dims


@dataclass(frozen=True)
class ShapeContract:
    graph: str
    inputs: tuple[InputContract, ...]
    axes: tuple[AxisContract, ...]
    batch: tuple[int, int, int]  # min, opt, max
    coupled: tuple[str, ...]  # conditions tying several sizes together, not in the contract

    def axis(self, symbol: str) -> AxisContract:
        return next(a for a in self.axes if a.symbol == symbol)

    def admits(self, sizes: Mapping[str, int]) -> bool:
        return all(a.admits(sizes[a.symbol]) for a in self.axes)

    def shape(self, contract_input: InputContract, which: str, layout: str) -> list[int]:
        """The input's shape at 'min', 'opt' or 'max' in 'NCHW' or 'NHWC'."""
        index = {"min": 0, "opt": 1, "max": 2}[which]
        dims = contract_input.nchw() if layout == "NCHW" else contract_input.dims
        out = [self.batch[index]]
        for d in dims:
            a = self.axis(d) if isinstance(d, str) else None
            out.append(d if a is None else (a.minimum, a.optimum, a.maximum)[index])
        return out  # type: ignore[return-value]


def _residue_class(rule: SizeRule, declared: int | None) -> int:
    if declared is not None and rule.contains(declared) and declared >= rule.start:
        return declared % rule.period
    first = rule.above(rule.start - 1)
    assert first is not None
    return first % rule.period


def axis_contract(symbol: str, rule: SizeRule, declared: int | None, max_size: int,
                  opt: int | None = None) -> AxisContract:
    """One residue class of `rule`, from its first member >= start up to max_size."""
    if not rule.residues:
        raise UsageError(f"no {symbol} is valid past the smallest sizes ({rule.text(symbol)}): "
                         "there is no range to export")
    period = rule.period
    offset = _residue_class(rule, declared)
    minimum = rule.start + (offset - rule.start) % period
    maximum = max_size - (max_size - offset) % period
    if maximum < minimum:
        raise UsageError(f"the largest size for {symbol}, {max_size}, is below the smallest valid "
                         f"one, {minimum} ({rule.text(symbol)})")
    others = [r for r in rule.residues if r != offset]
    left_out = []
    if others:
        left_out.append(f"{symbol} % {period} in {{{', '.join(map(str, others))}}}")
    if rule.extra:
        left_out.append(f"{symbol} in {{{', '.join(map(str, rule.extra))}}}")
    target = opt if opt is not None else (declared if declared is not None else PREFERRED_OPT)
    target = min(max(target, minimum), maximum)
    optimum = minimum + round((target - minimum) / period) * period
    optimum = min(optimum, maximum)
    return AxisContract(symbol, period, offset, minimum, maximum, optimum, rule.text(symbol),
                        "; ".join(left_out))


def derive_contract(graph: Graph, sizes: InputSizes, max_size: Mapping[str, int] | int | None
                    = None, batch: tuple[int, int] = (1, DEFAULT_MAX_BATCH)) -> ShapeContract:
    """The contract of `graph`'s inputs: every spatial axis from its closed form (up to
    max_size, per symbol or for all), batch from 1 to batch[1] with opt batch[0]."""
    analysis = analyze(graph, generalize=True)
    inputs, declared = [], {}
    for name in graph.inputs:
        op = graph[name].op
        dims: list[int | str] = []
        for position, (given, dim) in enumerate(zip(op.shape, analysis.layer(name).output_shape)):
            text = str(dim)
            if text.isidentifier() and any(a.symbol == text for a in sizes.axes):
                dims.append(text)
                if isinstance(given, int):
                    declared.setdefault(text, given)
            elif isinstance(dim, int) or text.isdigit():
                dims.append(int(text))
            elif position == len(op.shape) - 1:
                raise UsageError(f"input '{name}': the channel dimension {text} must be a number "
                                 "to export a shape contract")
            else:
                raise UsageError(f"input '{name}': dimension {position + 1} is {text}, which is "
                                 "not a spatial size solve can bound")
        inputs.append(InputContract(name, tuple(dims), op.dtype))
    if not sizes.axes:
        raise UsageError("the network has no spatial input size to export a contract for")
    axes = []
    for a in sizes.axes:
        cap = (max_size.get(a.symbol) if isinstance(max_size, Mapping) else max_size)
        axis = axis_contract(a.symbol, a.rule, declared.get(a.symbol), cap or DEFAULT_MAX_SIZE)
        axes.append(replace(axis, torch_minimum=_no_unit_dims_from(analysis, axis)))
    opt_batch, max_batch = batch
    if not 1 <= opt_batch <= max_batch:
        raise UsageError(f"the export batch must be 1 <= opt ({opt_batch}) <= max ({max_batch})")
    coupled = tuple(f"{r.layer}: {r.formula} ({r.message})" for r in sizes.other)
    return ShapeContract(graph.name, tuple(inputs), tuple(axes), (1, opt_batch, max_batch),
                         coupled)


def _no_unit_dims_from(analysis: Analysis, axis: AxisContract) -> int:
    """The smallest admitted size at which every layer's dims in this axis's symbol are >= 2
    (each is nondecreasing in the size, so the first such size holds for every larger one);
    the maximum + multiple where none is."""
    symbol = arith.symbol(axis.symbol)
    dims = {dim for layer in analysis.layers for dim in layer.output_shape
            if isinstance(dim, sympy.Expr) and dim.free_symbols == {symbol}}
    for n in range(axis.minimum, axis.maximum + 1, axis.multiple):
        if all(arith.substitute(dim, {axis.symbol: n}) >= 2 for dim in dims):
            return n
    return axis.maximum + axis.multiple


# ---------------------------------------------------------------- writers (text, never print)


def _rules_comment(contract: ShapeContract, prefix: str = "# ") -> list[str]:
    lines = [f"{prefix}Valid sizes (convplan solve, closed form):"]
    lines += [f"{prefix}  {a.symbol}: {a.rule}" for a in contract.axes]
    lines += [f"{prefix}Admitted here: " + "; ".join(a.text() for a in contract.axes)]
    lines += [f"{prefix}Not expressible here, check it yourself: {c}" for c in contract.coupled]
    return lines


def _py_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in text)


def torch_export_source(contract: ShapeContract) -> str:
    """Python source: torch.export dynamic shapes (NCHW), positional, one dict per input."""
    lines = [f'"""torch.export dynamic shapes for {contract.graph} (written by convplan solve '
             '--export).', "", "Layout NCHW. Pass them positionally:",
             "    torch.export.export(model, example_inputs, dynamic_shapes=dynamic_shapes)",
             "    torch.onnx.export(model, example_inputs, 'model.onnx', "
             "dynamic_shapes=dynamic_shapes)", '"""', ""]
    lines += _rules_comment(contract)
    lines += ["", "import torch", "from torch.export import Dim", ""]
    b = contract.batch
    lines.append(f'batch = Dim("batch", min={b[0]}, max={b[2]})')
    exprs = {}
    for a in contract.axes:
        if a.multiple == 1:
            lines.append(f'{_py_name(a.symbol)} = Dim("{a.symbol}", '
                         f'min={max(a.minimum, a.torch_minimum)}, max={a.maximum})')
            exprs[a.symbol] = _py_name(a.symbol)
        else:
            k = _py_name(a.symbol) + "_k"
            low, high = a.steps
            lines.append(f'{k} = Dim("{k}", min={low}, max={high})  # {a.text()}')
            if a.torch_minimum > a.minimum:
                lines.append(f"# {a.symbol} starts at {a.torch_minimum} here, not "
                             f"{a.minimum}: below it a layer's {a.symbol} is 1, and "
                             "torch.export's program assumes no size is 1")
            exprs[a.symbol] = f"{a.multiple} * {k}" + (f" + {a.offset}" if a.offset else "")
    shapes, examples = [], []
    for inp in contract.inputs:
        dims = inp.nchw()
        spec = {0: "batch"} | {i + 1: exprs[d] for i, d in enumerate(dims) if isinstance(d, str)}
        shapes.append("{" + ", ".join(f"{i}: {e}" for i, e in spec.items()) + "}")
        example = contract.shape(inp, "opt", "NCHW")
        # torch.export specializes a dim whose example is 0 or 1, so the example batch is 2
        example[0] = min(max(example[0], 2), b[2])
        examples.append(f"torch.randn({', '.join(map(str, example))})")
    lines += ["", f"dynamic_shapes = ({', '.join(shapes)},)",
              f"example_inputs = ({', '.join(examples)},)",
              "# The legacy exporter (torch.onnx.export(..., dynamo=False)) takes names instead:",
              "onnx_dynamic_axes = " + repr({
                  inp.name: {0: "batch"} | {i + 1: d for i, d in enumerate(inp.nchw())
                                            if isinstance(d, str)}
                  for inp in contract.inputs}), ""]
    return "\n".join(lines)


def onnx_profile(contract: ShapeContract) -> dict:
    """min/opt/max shapes per input (NCHW) for ONNX Runtime's TensorRT provider and trtexec."""
    shapes = {inp.name: {w: contract.shape(inp, w, "NCHW") for w in ("min", "opt", "max")}
              for inp in contract.inputs}
    return {
        "graph": contract.graph, "layout": "NCHW", "inputs": shapes,
        "trtexec": trtexec_flags(contract),
        "axes": {a.symbol: {"rule": a.rule, "multiple": a.multiple, "offset": a.offset,
                            "min": a.minimum, "opt": a.optimum, "max": a.maximum,
                            "admitted": a.text(), "left_out": a.left_out or None,
                            "torch_export_min": max(a.minimum, a.torch_minimum)}
                 for a in contract.axes},
        "batch": dict(zip(("min", "opt", "max"), contract.batch)),
        "coupled": list(contract.coupled),
        "note": "A profile is a range: only the sizes with size % multiple == offset inside it "
                "run; TensorRT cannot state the multiple.",
        # onnxruntime's TensorRT provider options take the same shapes as trtexec
        "onnxruntime_tensorrt": {f"trt_profile_{w}_shapes": _shape_list(contract, w)
                                 for w in ("min", "opt", "max")},
    }


def _shape_list(contract: ShapeContract, which: str) -> str:
    return ",".join(f"{inp.name}:" + "x".join(map(str, contract.shape(inp, which, "NCHW")))
                    for inp in contract.inputs)


def trtexec_flags(contract: ShapeContract) -> str:
    return " ".join(f"--{w}Shapes={_shape_list(contract, w)}" for w in ("min", "opt", "max"))


def tf_signature_source(contract: ShapeContract) -> str:
    """Python source: the TF input_signature (None spatial dims, NHWC) and a size check."""
    lines = [f'"""TF input signature for {contract.graph} (written by convplan solve --export).',
             "",
             "tf.TensorSpec cannot state a range or a multiple, so the spatial dims are None and",
             "`assert_valid_input` (graph-safe) and `valid_input_size` (Python) check them:",
             "    @tf.function(input_signature=INPUT_SIGNATURE)",
             "    def serve(x):",
             "        assert_valid_input(x)",
             "        return model(x)",
             '"""', ""]
    lines += _rules_comment(contract)
    lines += ["", "import tensorflow as tf", ""]
    specs = []
    for inp in contract.inputs:
        dims = ", ".join("None" if isinstance(d, str) else str(d) for d in inp.dims)
        specs.append(f'tf.TensorSpec(shape=(None, {dims}), dtype=tf.{inp.dtype}, '
                     f'name="{inp.name}")')
    lines.append("INPUT_SIGNATURE = [" + ", ".join(specs) + "]")
    lines.append("# symbol: (minimum, maximum, multiple, offset); admitted: size % multiple == "
                 "offset")
    lines.append("ADMITTED = " + repr({a.symbol: (a.minimum, a.maximum, a.multiple, a.offset)
                                       for a in contract.axes}))
    lines.append("# input name: the symbol of each spatial axis (NHWC positions 1..)")
    lines.append("AXES = " + repr({inp.name: [d for d in inp.dims[:-1]]
                                   for inp in contract.inputs}))
    lines += ["", "", "def valid_input_size(**sizes):",
              '    """valid_input_size(H=224, W=224) -> whether the contract admits the sizes."""',
              "    return all(low <= sizes[s] <= high and sizes[s] % m == r",
              "               for s, (low, high, m, r) in ADMITTED.items())", "", "",
              "def assert_valid_input(*tensors):",
              '    """tf.debugging assertions that each input\'s spatial sizes are admitted."""',
              "    for name, tensor in zip(AXES, tensors):",
              "        shape = tf.shape(tensor)",
              "        for position, symbol in enumerate(AXES[name], start=1):",
              "            if not isinstance(symbol, str):",
              "                continue",
              "            low, high, m, r = ADMITTED[symbol]",
              "            size = shape[position]",
              "            message = (f\"input {name}: {symbol} must be {m}*k + {r} in \"",
              "                       f\"{low}..{high}\")",
              "            tf.debugging.assert_equal(size % m, r, message=message)",
              "            tf.debugging.assert_greater_equal(size, low, message=message)",
              "            tf.debugging.assert_less_equal(size, high, message=message)", ""]
    return "\n".join(lines)


def summary_text(contract: ShapeContract, folder: Path | None = None) -> list[str]:
    lines = [f"shape contract ({contract.graph}): batch {contract.batch[0]}..{contract.batch[2]} "
             f"(opt {contract.batch[1]})"]
    lines += [f"  {a.text()}; opt {a.optimum}"
              + (f"; torch.export from {a.torch_minimum} (a layer's {a.symbol} is 1 below it)"
                 if a.torch_minimum > a.minimum else "") for a in contract.axes]
    lines += [f"  not in the contract: {c}" for c in contract.coupled]
    lines.append(f"  trtexec {trtexec_flags(contract)}")
    if folder is not None:
        lines.append(f"  wrote {', '.join(str(folder / f) for f in FILES)}")
    return lines


def write_contract(contract: ShapeContract, folder: Path) -> list[Path]:
    """The four files, written whole (each to a temporary name, then renamed)."""
    texts = {
        "torch_export.py": torch_export_source(contract),
        "onnx_profile.json": json.dumps(onnx_profile(contract), indent=2) + "\n",
        "trtexec.txt": trtexec_flags(contract) + "\n",
        "tf_signature.py": tf_signature_source(contract),
    }
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in texts.items():
        path = folder / name
        temporary = folder / f".{name}.tmp"
        temporary.write_text(text)
        temporary.replace(path)
        written.append(path)
    return written


def parse_max_size(text: str | None, symbols: Sequence[str]) -> dict[str, int] | int | None:
    """'1024' (every axis) or '512x768' (per axis, in the inputs' axis order)."""
    if text is None:
        return None
    parts = text.lower().split("x")
    if not all(p.isdigit() and int(p) >= 1 for p in parts) or len(parts) not in (1, len(symbols)):
        raise UsageError(f"--export-max-size must be N or {'x'.join(['N'] * len(symbols))} "
                         f"(one per axis: {', '.join(symbols)}), received {text!r}")
    if len(parts) == 1:
        return int(parts[0])
    return {s: int(p) for s, p in zip(symbols, parts)}
