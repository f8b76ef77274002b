"""The live report's time model: what the page needs to compute `analyze --device`'s "time"
entry (convplan.analysis.timing.time_plan, convplan.report.time_report.time_json) at any size.

Per layer the formulas (per example, compiled like every other, convplan.report.jsformula) of
its matrix FLOPs, output positions, contraction channels and bytes, and which quantization it
pays; per device its rates, kind, units and lanes. The bytes are `batch x per_example + fixed`
(convplan.analysis.traffic.Moves), so each is sent as the pair (fixed, per example), found as
the traffic at batch 0 and the difference at batch 1, for every itemsize a device can run.
The page (convplan.report.live_script: `timeAt`) does timing.py's arithmetic on them.
"""

from __future__ import annotations

from typing import Any

from convplan.analysis import Analysis, arith
from convplan.analysis.gradient_flow import output_gradients
from convplan.analysis.timing import (
    MATRIX_OPS,
    STEM_KEYS,
    SWAPPED_KEY,
    TENSOR_CORE_DTYPES,
    WIDE_KEYS,
    _channels,
    itemsize,
    step_passes,
)
from convplan.analysis.traffic import layer_traffic
from convplan.devices import DEVICES, Device, user_devices
from convplan.errors import UsageError, cli_message
from convplan.ir import ops as O
from convplan.ir.graph import Graph
from convplan.options import DTYPES
from convplan.report.time_report import MODEL

# calibrated rates timing.time_plan reads that the page's planAt does not compute: an entry
# with any of them (as `convplan calibrate` writes cpu-local) would show other times than the
# CLI's, so the page leaves it out
UNMIRRORED = ("depthwise_filter_flops", "depthwise_strided_input_flops",
              "max_pool_backward_flops", "kernel_s", "xla_conv_flops", "xla_conv_backward_flops",
              "xla_pointwise_filter_flops", *STEM_KEYS, *WIDE_KEYS)
UNMIRRORED_SWEEPS = ("stream_", SWAPPED_KEY)


def mirrored(chip: Device) -> bool:
    """Whether the page computes every rate of the entry that time_plan reads (the datasheet
    entries; a calibrated one with only depthwise and two-level cache rates)."""
    return not any(key in UNMIRRORED or key.startswith(UNMIRRORED_SWEEPS) for key in chip.extra)


def page_devices() -> list[Device]:
    """Every built-in device, then the devices file's own entries whose rates the page
    computes (`mirrored`), as `convplan.devices.device` finds them."""
    try:
        local = user_devices()
    except UsageError:
        local = {}
    return [*DEVICES.values(), *(d for k, d in local.items()
                                 if k not in DEVICES and mirrored(d))]


def _refusal(chip: Device, dtype: str) -> str | None:
    """The CLI's line for a dtype the device has no rate for (None where it has one)."""
    from convplan.cli.main import PARAMETER_FLAGS

    try:
        chip.peak_flops(dtype)
    except UsageError as exc:
        return "convplan: error: " + " ".join(cli_message(str(exc), PARAMETER_FLAGS).split())
    return None


def _variable_bytes(dtype: str) -> int:
    from convplan.analysis.timing import _variable_bytes as variable

    return variable(dtype)


def time_model(graph: Graph, symbolic: Analysis, add) -> dict[str, Any] | None:
    """Devices (rates per page dtype or the CLI's refusal), per-layer formulas, per-dtype
    itemsizes and variable bytes; None where an op has no traffic rule or a byte formula no
    exact JavaScript (the page then offers no device)."""
    from convplan.ir.rules import MissingRule
    from convplan.report.jsformula import UnsupportedFormula

    try:
        return _time_model(graph, symbolic, add)
    except (MissingRule, UnsupportedFormula):
        return None


def _time_model(graph: Graph, symbolic: Analysis, add) -> dict[str, Any]:
    chips = page_devices()
    devices = []
    runnable: set[str] = set()
    for chip in chips:
        peaks: dict[str, float] = {}
        refused: dict[str, str] = {}
        for dtype in DTYPES:
            line = _refusal(chip, dtype)
            if line is None:
                peaks[dtype] = chip.peak_flops(dtype)
                runnable.add(dtype)
            else:
                refused[dtype] = line
        devices.append({"name": chip.name, "kind": chip.kind, "units": chip.units,
                        "lanes": chip.lanes, "vector": chip.flops["float32"], "peak": peaks,
                        "refused": refused, "bandwidth": chip.bandwidth,
                        # timing.depthwise_rate and layer_bandwidth's two-level roofline
                        "depthwise": chip.extra.get("depthwise_flops", chip.flops["float32"]),
                        "cache_bytes": chip.extra.get("cache_bytes"),
                        "cache_bandwidth": chip.extra.get("cache_bandwidth"),
                        "measured": chip.measured})
    sizes = sorted({itemsize(d) for d in runnable})
    traffic = {}
    for size in sizes:
        at0 = layer_traffic(graph, symbolic, 0, size)
        at1 = layer_traffic(graph, symbolic, 1, size)
        traffic[size] = [[add(a.forward), add(arith.simplify_int(b.forward - a.forward)),
                          add(a.training), add(arith.simplify_int(b.training - a.training))]
                         for a, b in zip(at0, at1)]
    shapes = {layer.name: layer.output_shape for layer in symbolic.layers}
    flows = output_gradients(graph, symbolic)
    layers = []
    for i, layer in enumerate(symbolic.layers):
        node = graph[layer.name]
        op = node.op
        matrix: Any = 2 * layer.macs if isinstance(op, MATRIX_OPS) else 0
        if isinstance(op, O.Dot):
            matrix = layer.flops
        if isinstance(op, O.Separable):
            cin = shapes[node.inputs[0]][-1]
            matrix = 2 * arith.product(layer.output_shape[:-1]) * cin * \
                op.depth_multiplier * op.filters
        entry: dict[str, Any] = {"mx": add(arith.simplify_int(matrix)),
                                 "pos": add(arith.product(layer.output_shape[:-1])),
                                 "cout": add(layer.output_shape[-1]),
                                 "bytes": {str(s): traffic[s][i] for s in sizes}}
        if node.inputs:
            cin, _ = _channels(op, shapes[node.inputs[0]][-1], layer.output_shape[-1])
            entry["cin"] = add(arith.simplify_int(cin))
        # timing.matrix_quantization pads only these; Depthwise pays the TPU's vector lanes
        entry["q"] = (isinstance(op, MATRIX_OPS)
                      and not isinstance(op, (O.Dot, O.Custom, O.EinsumDense)))
        entry["dw"] = isinstance(op, O.Depthwise)
        entry["sep"] = isinstance(op, O.Separable)  # its depthwise half at the depthwise rate
        step = step_passes(node, layer, flows, True)
        entry["tp"] = [1 + step.gradients, step.other]  # a training step's passes
        layers.append(entry)
    return {"model": MODEL, "devices": devices, "layers": layers,
            "itemsize": {d: itemsize(d) for d in DTYPES},
            "variable": {d: _variable_bytes(d) for d in DTYPES},
            "tensor_core": {d: 16 // b for d, b in TENSOR_CORE_DTYPES.items()},
            "trainable": add(symbolic.totals.trainable_params)}
