"""Time bounds per layer and per step on a device, from FLOPs and bytes (docs/time.md).

Per layer, with F its FLOPs and B its bytes (convplan.analysis.traffic) at the batch:

    compute_s = F_matrix x q / peak(dtype) + F_other / vector_peak
    memory_s  = B / bandwidth(B)
    lower_s   = max(compute_s, memory_s)   (compute and memory traffic overlap perfectly)
    upper_s   = compute_s + memory_s       (they do not overlap at all)
    bound     = "compute" where compute_s > memory_s, else "memory" ("depends" where
                symbolic sizes decide)

F_matrix is 2 x MACs of the ops that run on tensor cores or MXUs (convolutions but depthwise,
Dense, EinsumDense, Dot, declared layers, a separable convolution's pointwise half); F_other
is every other FLOP (bias, activations, normalizations, depthwise, pooling, merges), run on
the vector units at the plain float32 rate, except a depthwise convolution's (Depthwise, a
separable convolution's depthwise half), which run at `extra["depthwise_flops"]` where the
device has it (`convplan calibrate` measures what XLA:CPU attains; no GPU or TPU entry has
one, so they keep the float32 peak). bandwidth(B) is a two-level roofline where the entry
has `extra["cache_bytes"]` and `extra["cache_bandwidth"]` (calibrated CPUs): a layer moving
B <= cache_bytes at the cache bandwidth, a larger (or symbolic) B at `bandwidth`, or at the
rate of calibrate's `stream_` sweep at B; elsewhere `bandwidth` alone. B there is, in a
training step, the whole step's bytes (the sum over its layers), not the layer's own: the
activations the forward half saves come back in the backward after the rest of the step's
traffic, from as far as its working set reaches. At inference B is the layer's own bytes: a
forward pass's tensors are read by the next layer right after they are written, where a
layer repeated alone finds them too (measured: a forward step's layers timed alone sum to
0.82-1.08 of it). `alone=True` prices a training step's layers by their own bytes too,
as a layer compiled and repeated alone runs. In a
training step a depthwise convolution's FLOPs run three times
(`depthwise_training_s`): the forward at the depthwise rate; the input gradient at it too,
or for a strided one at `extra["depthwise_strided_input_flops"]` where the device has it;
the kernel's gradient at `extra["depthwise_filter_flops"]` (of the forward's FLOPs, measured
at C = `extra["depthwise_channels"]`) scaled by C_in / that C: XLA:CPU computes that gradient
as a dense C x C convolution of 2 x B x H_out x W_out x k x k x C x C FLOPs (calibrate
measures both). A max pooling's backward (training) runs its forward's FLOPs at
`extra["max_pool_backward_flops"]` where the device has it (XLA:CPU's argmax and scatter,
18-170x the forward's time here) instead of twice them at the vector rate. Each kernel a
layer runs costs `extra["kernel_s"]` seconds on top, in both bounds (`layer_kernels`; 0 where the entry has
none: no GPU or TPU entry was measured). A convolution's matrix FLOPs (Conv, ConvTranspose,
a separable convolution's pointwise half) run at `extra["xla_conv_flops"]` forward and
`extra["xla_conv_backward_flops"]` backward where the entry has them (calibrate measures what
XLA:CPU attains on a 3x3 convolution) instead of `peak(dtype)`; a pass whose operands
XLA swaps (`xla_cpu`: a one-group convolution with more kernel taps than map positions, the
forward on the input map, the input gradient on the output map) runs XLA:CPU's loop
emitter instead, priced by the kernel it sweeps: B x out positions x touched taps x C_in x
C_out x 4 bytes at `swapped_conv_bandwidth` of the touched kernel's bytes (calibrate's
`swapped_conv_<bytes>` sweep; no GPU or TPU entry has one). In a training step a one-group
1x1 convolution's kernel gradient runs at `extra["xla_pointwise_filter_flops"]` where the
entry has it (XLA:CPU: a convolution whose window is the whole map), its input gradient at
the backward rate. An image stem (a one-group convolution with at most 4 input channels
and 9 kernel taps, `_stem`) runs its forward, input gradient and kernel gradient at
calibrate's stem rates (`STEM_KEYS`, a 3x3 3 -> 32 convolution) where the entry has them:
XLA:CPU runs such convolutions at 0.07-0.4 of the 64-channel rates here. Any other
one-group convolution whose kernel has more than one tap, where the entry has calibrate's
wide rates (`WIDE_KEYS`, a 3x3 256 -> 256 convolution), runs the passes XLA:CPU gives its
wide kernels at those (`wide_passes`: the forward where C_out >= 128 and C_in x C_out >=
128^2, the gradients where C_in and C_out are >= 128). q >= 1 is the
quantization real kernels pay
(`matrix_quantization`). A training step is the forward pass plus a backward pass of twice
the forward FLOPs and the backward bytes where every gradient is computed; autodiff computes
only those that lead to a trainable weight (convplan.analysis.gradient_flow), so a layer
before any trainable one runs its forward alone, and a contraction whose input has no
gradient (a network's first convolution) runs its forward and its weights' gradient, 2
passes of its matrix FLOPs (a frozen one after trainable layers: forward and input
gradient); then the optimizer's update (bytes only:
each trainable weight, its gradient and the optimizer's slots read, the weight and the slots
written, in the variable dtype). A step's bounds are the sums of its layers' bounds (each
layer one kernel after another).

At concrete sizes every value is a float and sympy is never imported; symbolic sizes give
sympy expressions (and `bound` "depends" where the comparison does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeGuard

from convplan.analysis import arith, xla_cpu
from convplan.analysis.arith import Value
from convplan.analysis.gradient_flow import output_gradients, trains
from convplan.analysis.traffic import layer_traffic
from convplan.devices import Device
from convplan.ir import ops as O
from convplan.options import dtype_bytes, optimizer_slots

# what the matrix units run (the rest of the FLOPs run on the vector units)
MATRIX_OPS: tuple[type, ...] = (O.Conv, O.ConvTranspose, O.Dense, O.EinsumDense, O.Dot,
                                O.Custom, O.Separable)
CONV_OPS: tuple[type, ...] = (O.Conv, O.ConvTranspose, O.Separable)  # at calibrated conv rates
POINTWISE_CONVS = (O.Conv1D, O.Conv2D, O.Conv3D)  # a 1x1 kernel gradient at its own rate
TENSOR_CORE_DTYPES = {"tf32": 4, "bfloat16": 2, "float16": 2, "int8": 1,
                      "mixed_bfloat16": 2, "mixed_float16": 2}  # -> bytes per element
GPU_TILE_M = 128  # rows (batch x positions) of a GEMM tile
GPU_TILES_N = (32, 64, 128)  # the narrowest tile that holds the padded channel count
TPU_SUBLANES = 8
SWAPPED_KEY = "swapped_conv_"  # calibrate's sweep: kernel bytes -> bytes swept per second
# calibrate's image stem (3x3, 3 -> 32): forward, input gradient, kernel gradient FLOP/s;
# they price convolutions with at most 4 input channels and 9 taps (a 7x7 stem keeps the
# general rates: measured at 0.3-0.5 of them, against 0.07-0.2 for the 3x3 stems)
STEM_KEYS = ("xla_stem_conv_flops", "xla_stem_input_flops", "xla_stem_filter_flops")
STEM_CHANNELS = 4
STEM_TAPS = 9
# calibrate's wide convolution (3x3, 256 -> 256): forward, input gradient, kernel gradient
# FLOP/s; they price the passes of convolutions that XLA:CPU runs with its wide kernels,
# from WIDE_CHANNELS channels (`wide_passes`)
WIDE_KEYS = ("xla_wide_conv_flops", "xla_wide_input_flops", "xla_wide_filter_flops")
WIDE_CHANNELS = 128


@dataclass(frozen=True)
class LayerTime:
    name: str
    op: str
    flops: Value | float  # counted FLOPs at the batch (forward, or forward + backward)
    bytes: Value  # traffic at the batch
    intensity: Value | float  # FLOPs per byte (0 where nothing moves)
    lower_s: Value | float
    upper_s: Value | float
    bound: str  # "compute", "memory" ("depends" where symbolic sizes decide)
    compute_s: Value | float = 0.0
    memory_s: Value | float = 0.0
    quantization: float = 1.0  # q: the matrix FLOPs a kernel pays per counted FLOP
    kernel_s: float = 0.0  # the fixed cost of its kernels (in both bounds)


@dataclass(frozen=True)
class TimePlan:
    device: str
    dtype: str
    batch: Value
    training: bool
    layers: tuple[LayerTime, ...]
    lower_s: Value | float
    upper_s: Value | float
    optimizer_s: Value | float = 0.0  # the update's memory time (in both bounds)

    @property
    def images_per_s(self) -> tuple[Value | float, Value | float]:
        """(from the lower bound, from the upper bound): the most and the fewest images per
        second the bounds allow."""
        return (_ratio(self.batch, self.lower_s), _ratio(self.batch, self.upper_s))

    @property
    def memory_bound_share(self) -> Value | float:
        """The share of the lower bound spent in memory-bound layers."""
        spent = _sum(t.lower_s for t in self.layers if t.bound == "memory")
        return _ratio(spent, self.lower_s)


def _sum(values: Any) -> Any:
    """Floats summed as floats (arith.total would build a sympy sum of them)."""
    values = list(values)
    if all(isinstance(v, (int, float)) for v in values):
        return float(sum(values))
    return arith.sympy_module().Add(*values)


def _ratio(a: Any, b: Any) -> Any:
    if isinstance(b, (int, float)) and b == 0:
        return 0.0
    return a / b


def _ceil_to(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _concrete(*values: Any) -> bool:
    return all(isinstance(v, int) for v in values)


def _channels(op: O.Op, cin: Value, cout: Value) -> tuple[Value, Value]:
    """The contraction's input channels (per group) and output channels."""
    if isinstance(op, O.Separable):
        return cin * op.depth_multiplier, cout
    groups = getattr(op, "groups", 1)
    return (cin // groups if isinstance(cin, int) else cin / groups), cout


def matrix_quantization(device: Device, dtype: str, op: O.Op, rows: Value, cin: Value,
                        cout: Value) -> float:
    """q for one matrix op with `rows` = batch x output positions, channels cin -> cout.

    - GPU: under a tensor-core dtype, cin and cout padded to 16 bytes of elements (8 for
      16-bit, 4 for tf32, 16 for int8), as cuDNN and cuBLAS need for tensor cores; then the
      GEMM runs in 128 x n tiles (n the narrowest of 32, 64, 128 that holds the padded cout),
      whole waves of one tile per SM: q = waves x SMs x 128 x n / (rows x cout) x cin_pad/cin.
    - TPU: cin and cout padded to the MXU width (128 lanes; 256 on v6e), rows to 8 sublanes
      (the 8 x 128 tiles of its memory layout).
    - CPU: 1.
    Only concrete dimensions are padded (a symbolic one counts as unpadded)."""
    if device.kind == "cpu" or not isinstance(op, MATRIX_OPS) or isinstance(op, (O.Dot,
                                                                                  O.Custom,
                                                                                  O.EinsumDense)):
        return 1.0
    q = 1.0
    if device.kind == "tpu":
        for n, multiple in ((cin, device.lanes), (cout, device.lanes), (rows, TPU_SUBLANES)):
            if _concrete(n) and n > 0:
                q *= _ceil_to(n, multiple) / n
        return q
    multiple = 16 // TENSOR_CORE_DTYPES[dtype] if dtype in TENSOR_CORE_DTYPES else 1
    cout_pad = _ceil_to(cout, multiple) if _concrete(cout) else cout
    if _concrete(cin) and cin > 0:
        q *= _ceil_to(cin, multiple) / cin
    if _concrete(rows, cout_pad) and rows > 0 and cout > 0:
        tile_n = next((n for n in GPU_TILES_N if n >= cout_pad), GPU_TILES_N[-1])
        tiles = -(-rows // GPU_TILE_M) * -(-cout_pad // tile_n)
        waves = -(-tiles // device.units)
        q *= waves * device.units * GPU_TILE_M * tile_n / (rows * cout)
    elif _concrete(cout) and cout > 0:
        q *= cout_pad / cout
    return q


def _vector_quantization(device: Device, op: O.Op, channels: Value) -> float:
    """TPU: a depthwise convolution's channels fill the 128 lanes of the vector unit."""
    if device.kind == "tpu" and isinstance(op, O.Depthwise) and _concrete(channels):
        return _ceil_to(channels, 128) / channels
    return 1.0


def _max(a: Any, b: Any) -> Any:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return max(a, b)
    if isinstance(a, (int, float)) and a == 0:
        return b
    if isinstance(b, (int, float)) and b == 0:
        return a
    # unevaluated: sympy would compare every pair of terms (seconds on a ResNet)
    return arith.sympy_module().Max(a, b, evaluate=False)


def _bound(compute: Any, memory: Any) -> str:
    if isinstance(compute, (int, float)) and isinstance(memory, (int, float)):
        return "compute" if compute > memory else "memory"
    # symbolic: decided only where one side is 0 (proving the sign of a difference of
    # floor sums costs sympy seconds per network; the sizes decide, so say so)
    if isinstance(compute, (int, float)) and compute == 0:
        return "memory"
    if isinstance(memory, (int, float)) and memory == 0:
        return "compute"
    return "depends"


def depthwise_rate(device: Device) -> float:
    """The FLOP/s a depthwise convolution runs at: calibrated, else the float32 peak."""
    return device.extra.get("depthwise_flops", device.flops["float32"])


def depthwise_filter_rate(device: Device) -> float:
    """The FLOP/s (of the forward's FLOPs) a depthwise convolution's kernel gradient runs
    at: calibrated, else the depthwise rate."""
    return device.extra.get("depthwise_filter_flops", depthwise_rate(device))


def depthwise_training_s(device: Device, strided: bool, channels: Value,
                         input_gradient: bool = True, kernel_gradient: bool = True) -> Any:
    """Seconds per FLOP of a depthwise convolution's forward, over a training step's passes
    (each gradient only where computed, convplan.analysis.gradient_flow):

        forward          1 / depthwise_rate
        input gradient   1 / depthwise_rate; strided (stride > 1) where the entry has
                         extra["depthwise_strided_input_flops"], 1 / that (XLA:CPU runs it as
                         an input-dilated grouped convolution, ~15x slower here)
        kernel gradient  channels / (filter_rate x extra["depthwise_channels"]) where the
                         entry has depthwise_channels, else 1 / filter_rate

    XLA:CPU lowers the kernel gradient as a dense convolution over C x C channels: its FLOPs
    are the forward's x C (2 x B x H_out x W_out x k x k x C x C x multiplier), so at the
    dense rate calibrate measured at C = depthwise_channels (filter_rate x that C) it costs
    C / depthwise_channels of the calibrated per-forward-FLOP time."""
    forward = 1 / depthwise_rate(device)
    strided_rate = device.extra.get("depthwise_strided_input_flops")
    input_s = 1 / strided_rate if strided and strided_rate else forward
    calibrated_channels = device.extra.get("depthwise_channels")
    kernel = 1 / depthwise_filter_rate(device)
    if calibrated_channels:
        kernel = channels * kernel / calibrated_channels
    return forward + (input_s if input_gradient else 0) + (kernel if kernel_gradient else 0)


def layer_kernels(op: O.Op, training: bool, gradients: int = 2) -> int:
    """The kernels one layer runs: forward 1 (a separable convolution 2, depthwise then
    pointwise); a training step adds the backward's: per contraction one kernel for each
    gradient it computes (`gradients`: its input's and its weights', 2 where both are; 3 per
    forward kernel in all), one gradient kernel for any other op whose backward runs
    (`gradients` > 0)."""
    forward = 2 if isinstance(op, O.Separable) else 1
    if not training:
        return forward
    if isinstance(op, (*MATRIX_OPS, O.Depthwise)):
        return forward * (1 + gradients)
    return forward * (2 if gradients else 1)


def layer_bandwidth(device: Device, nbytes: Any) -> float:
    """Bytes per second for a layer moving `nbytes`: where the entry has calibrate's sweep
    (`stream_<bytes moved>` rates) and `nbytes` is concrete, the rate of the smallest pass
    moving at least `nbytes` (beyond the largest, the memory bandwidth); else the cache
    bandwidth where the entry has one and concrete `nbytes` fit in its cache_bytes; else the
    memory bandwidth."""
    if isinstance(nbytes, (int, float)):
        sweep = extra_sweep(device, "stream_")
        if sweep:
            return next((max(rate, device.bandwidth) for moved, rate in sweep
                         if moved >= nbytes), device.bandwidth)
    cache = device.extra.get("cache_bytes")
    rate = device.extra.get("cache_bandwidth")
    if cache and rate and isinstance(nbytes, (int, float)) and nbytes <= cache:
        return max(rate, device.bandwidth)
    return device.bandwidth


def extra_sweep(device: Device, prefix: str) -> list[tuple[float, float]]:
    """A calibrated sweep: sorted (size, rate) of the entry's `<prefix><size>` keys."""
    return sorted((float(key[len(prefix):]), rate) for key, rate in device.extra.items()
                  if key.startswith(prefix))


def swapped_conv_bandwidth(device: Device, kernel_bytes: float) -> float | None:
    """Bytes per second XLA:CPU's loop emitter sweeps a swapped convolution's kernel of
    `kernel_bytes` at (convplan.analysis.xla_cpu): calibrate's `swapped_conv_<kernel bytes>`
    sweep, interpolated linearly in log-log between its points and held at its ends; None
    where the entry has no sweep (no GPU or TPU entry: they never run XLA:CPU)."""
    sweep = extra_sweep(device, SWAPPED_KEY)
    if not sweep:
        return None
    if kernel_bytes <= sweep[0][0]:
        return sweep[0][1]
    for (low, low_rate), (high, high_rate) in zip(sweep, sweep[1:]):
        if kernel_bytes <= high:
            share = math.log(kernel_bytes / low) / math.log(high / low)
            return float(low_rate * (high_rate / low_rate) ** share)
    return sweep[-1][1]


def swapped_conv_s(device: Device, op: object, input_shape: Any, input_gradient: bool
                   ) -> tuple[float, bool, bool]:
    """(seconds per example of a convolution's passes that XLA swaps, whether the forward is
    one, whether the input gradient is one): the forward where `xla_cpu.swaps_operands`, the
    input gradient (where one is computed: a training step, the layer not fed by a graph
    input, which autodiff prunes) where `xla_cpu.swaps_input_gradient`, each sweeping
    `xla_cpu.swept_bytes` at `swapped_conv_bandwidth` of the touched kernel's bytes; nothing
    where the entry has no sweep."""
    if not isinstance(op, O.Conv):
        return 0.0, False, False
    *sizes, channels = input_shape
    forward = xla_cpu.swaps_operands(op, sizes)
    gradient = input_gradient and xla_cpu.swaps_input_gradient(op, sizes)
    if not (forward or gradient) or not isinstance(channels, int):
        return 0.0, False, False
    rate = swapped_conv_bandwidth(device, xla_cpu.kernel_bytes(op, sizes, channels))
    if rate is None:
        return 0.0, False, False
    passes = int(forward) + int(gradient)
    return passes * xla_cpu.swept_bytes(op, sizes, channels, 1) / rate, forward, gradient


def itemsize(dtype: str) -> int:
    """Bytes of a computed value: 4 for float32 and tf32, 2 for 16-bit types and the mixed
    policies, 1 for int8."""
    if dtype == "tf32":
        return 4
    if dtype == "int8":
        return 1
    return dtype_bytes(dtype)[0]


def _variable_bytes(dtype: str) -> int:
    return 4 if dtype in ("tf32", "int8") else dtype_bytes(dtype)[1]


def time_plan(graph: Any, analysis: Any, device: Device, dtype: str = "float32",
              batch: Value = 1, training: bool = False, optimizer: str = "adam",
              alone: bool = False) -> TimePlan:
    """Per-layer and whole-step time bounds of `analysis` (per-example counts) at `batch` on
    `device` computing in `dtype` (the module docstring has the formulas). In a training
    step each layer's bytes move at the rate of the whole step's traffic (`layer_bandwidth`
    of the sum of the layers' bytes: the saved activations come back from as far as the
    step's working set reaches); at inference, or with `alone`, at the rate of its own bytes
    (a forward pass's tensors are read right after they are written; a layer compiled and
    repeated on its own, as benchmarks/time_vs_jax.py times layers). An unknown dtype or
    one the device has no rate for is a UsageError."""
    peak = device.peak_flops(dtype)
    vector_peak = device.flops["float32"]
    depthwise_peak = depthwise_rate(device)
    max_pool_backward = device.extra.get("max_pool_backward_flops")
    kernel_s = device.extra.get("kernel_s", 0.0)
    size = itemsize(dtype)
    traffic = {t.name: t for t in layer_traffic(graph, analysis, batch, size)}
    shapes = {layer.name: layer.output_shape for layer in analysis.layers}
    flows = output_gradients(graph, analysis)  # which gradients the step computes
    moved_bytes = [t.training if training else t.forward for t in traffic.values()]
    # symbolic bytes move at the memory bandwidth whatever their sum: not built
    step_bytes = sum(moved_bytes) if _concrete(*moved_bytes) else None
    own_bytes = alone or not training  # else every layer at the step's working set's rate
    rows: list[LayerTime] = []
    for layer in analysis.layers:
        node = graph[layer.name]
        op = node.op
        moved = traffic[layer.name]
        nbytes = moved.training if training else moved.forward
        flops: Any = layer.flops  # 0 for the layers that are the identity at inference
        matrix = 2 * layer.macs if isinstance(op, MATRIX_OPS) else 0
        if isinstance(op, O.Dot):  # no weights, so no MACs: its FLOPs are the product's
            matrix = flops
        if isinstance(op, O.Separable):  # the depthwise half runs on the vector units
            cin = shapes[node.inputs[0]][-1]
            matrix = 2 * arith.product(layer.output_shape[:-1]) * cin * op.depth_multiplier * \
                op.filters
        matrix = min(matrix, flops) if _concrete(matrix, flops) else matrix
        q = 1.0
        qv = 1.0
        if node.inputs and matrix != 0:
            cin, cout = _channels(op, shapes[node.inputs[0]][-1], layer.output_shape[-1])
            positions = arith.product(layer.output_shape[:-1])
            q = matrix_quantization(device, dtype, op, arith.simplify_int(batch * positions),
                                    cin, cout)
        elif isinstance(op, O.Depthwise):
            qv = _vector_quantization(device, op, layer.output_shape[-1])
        step = step_passes(node, layer, flows, training)
        backward, input_gradient, weight_gradient = step.backward, step.input, step.weights
        gradients, other_passes = step.gradients, step.other
        depthwise = isinstance(op, (O.Depthwise, O.Separable))
        # seconds per FLOP of the vector part over the passes: forward (and the input
        # gradient) at the vector or depthwise rate, a depthwise kernel gradient at its own
        other_s = other_passes / (depthwise_peak if depthwise else vector_peak)
        if backward and depthwise:
            other_s = depthwise_training_s(device, max(op.strides) > 1,
                                           shapes[node.inputs[0]][-1], input_gradient,
                                           weight_gradient)
        elif backward and isinstance(op, O.MaxPooling) and max_pool_backward:
            # the backward is XLA:CPU's argmax reduce-window and scatter: its own rate
            other_s = 1 / vector_peak + 1 / max_pool_backward
        matrix_s = (1 + gradients) / peak
        swapped_s = 0.0
        if isinstance(op, CONV_OPS):
            # a pass XLA:CPU swaps is priced by the kernel bytes it sweeps instead
            swapped_s, forward, gradient = swapped_conv_s(
                device, op, shapes[node.inputs[0]], input_gradient)
            rate_forward, rate_input, rate_kernel = conv_pass_rates(
                device, op, shapes[node.inputs[0]][-1], peak, forward or gradient)
            pointwise_input = isinstance(op, O.Separable) and backward
            matrix_s = (0 if forward else 1 / rate_forward) + (
                1 / rate_input if (input_gradient and not gradient) or pointwise_input
                else 0) + (1 / rate_kernel if weight_gradient else 0)
        compute = batch * (matrix * q * matrix_s + (flops - matrix) * qv * other_s + swapped_s)
        memory = nbytes / layer_bandwidth(device, nbytes if own_bytes else step_bytes)
        fixed = kernel_s * layer_kernels(op, training, gradients) \
            if kernel_s and _runs(flops, nbytes) else 0.0
        counted = batch * (matrix * (1 + gradients) + (flops - matrix) * other_passes)
        rows.append(LayerTime(
            layer.name, layer.op, _number(counted), nbytes,
            _number(_ratio(counted, nbytes)), _number(_max(compute, memory) + fixed),
            _number(compute + memory + fixed), _bound(compute, memory), _number(compute),
            _number(memory), q, fixed))
    optimizer_s: Any = 0.0
    if training:
        update = (3 + 2 * optimizer_slots(optimizer)) * _variable_bytes(dtype)
        optimizer_s = _number(analysis.totals.trainable_params * update / device.bandwidth)
    lower = _number(_sum(t.lower_s for t in rows) + optimizer_s)
    upper = _number(_sum(t.upper_s for t in rows) + optimizer_s)
    return TimePlan(device.name, dtype, batch, training, tuple(rows), lower, upper, optimizer_s)


@dataclass(frozen=True)
class StepPasses:
    """What a layer's backward computes in a step (none at inference)."""

    backward: bool  # it runs at all
    input: bool  # its (first) input's gradient
    weights: bool  # its trainable weights' gradient
    gradients: int  # matrix passes of the forward's FLOPs beyond the forward: one per gradient
    other: int  # passes of the other FLOPs, the forward's included


def step_passes(node: Any, layer: Any, flows: dict[str, bool], training: bool) -> StepPasses:
    """A layer's passes in a step, `flows` being gradient_flow.output_gradients: the backward
    runs only where a gradient leads to a trainable weight. A contraction runs one matrix
    pass per gradient it computes (a separable convolution's pointwise half always computes
    its input's, which the depthwise half's kernel gradient needs); other FLOPs run 3 passes
    with a backward (~ twice the forward's), a depthwise convolution's 1 + one per gradient."""
    backward = training and flows[layer.name]
    if not backward:
        return StepPasses(False, False, False, 0, 1)
    input_gradient = bool(node.inputs) and flows[node.inputs[0]]
    weight_gradient = trains(layer)
    op = node.op
    gradients = (1 if isinstance(op, O.Separable) else sum(
        flows[i] for i in node.inputs)) + weight_gradient
    other = 1 + input_gradient + weight_gradient if isinstance(
        op, (O.Depthwise, O.Separable)) else 3
    return StepPasses(True, input_gradient, weight_gradient, gradients, other)


def conv_pass_rates(device: Device, op: object, channels: Any, peak: float,
                    swapped: bool = False) -> tuple[float, float, float]:
    """(forward, input gradient, kernel gradient) FLOP/s at which a convolution's matrix
    FLOPs run on `device` (each pass of the forward's FLOPs): `xla_conv_flops` forward and
    `xla_conv_backward_flops` for both gradients where the entry has them (else `peak`); a
    one-group 1x1 kernel's gradient at `xla_pointwise_filter_flops` (XLA:CPU runs it as a
    convolution whose window is the whole map); an image stem (`_stem`, of `channels` input
    channels, none of whose passes XLA `swapped`) at calibrate's three stem rates where the
    entry has all three (XLA:CPU's kernels for so few channels run far under the 64-channel
    rates, benchmarks/conv_rates.py); any other one-group convolution whose kernel has more
    than one tap runs the passes `wide_passes` says at calibrate's wide rates (`WIDE_KEYS`)
    where the entry has all three."""
    extra = device.extra
    if not swapped and all(extra.get(key) for key in STEM_KEYS) and _stem(op, channels):
        forward_key, input_key, kernel_key = STEM_KEYS
        return extra[forward_key], extra[input_key], extra[kernel_key]
    forward = extra.get("xla_conv_flops", peak)
    backward = extra.get("xla_conv_backward_flops", forward)
    pointwise = extra.get("xla_pointwise_filter_flops")
    if _pointwise(op):
        return forward, backward, pointwise or backward
    if all(extra.get(key) for key in WIDE_KEYS) and _one_group_conv(op) and \
            isinstance(channels, int) and isinstance(op.filters, int):
        wide_forward, wide_gradients = wide_passes(channels, op.filters)
        wide_rates = [extra[key] for key in WIDE_KEYS]
        return (wide_rates[0] if wide_forward else forward,
                wide_rates[1] if wide_gradients else backward,
                wide_rates[2] if wide_gradients else backward)
    return forward, backward, backward


def wide_passes(cin: int, cout: int) -> tuple[bool, bool]:
    """(forward, gradients): whether XLA:CPU runs a C_in -> C_out convolution's forward and
    its two gradients with its wide kernels, at up to twice the 64-channel rates. Measured
    here (docs/time.md, "A wide convolution"): the forward where C_out >= 128 and C_in x C_out
    >= 128^2 (64 -> 256 and 128 -> 128 fast, 64 -> 128 and 256 -> 64 not), the gradients where
    both C_in and C_out are >= 128."""
    w = WIDE_CHANNELS
    return cout >= w and cin * cout >= w * w, min(cin, cout) >= w


def _one_group_conv(op: object) -> TypeGuard[O.Conv]:
    """A one-group Conv1D/2D/3D."""
    return isinstance(op, O.Conv) and type(op) in POINTWISE_CONVS and op.groups == 1


def _pointwise(op: object) -> bool:
    """A one-group convolution with a 1 x ... x 1 kernel."""
    return _one_group_conv(op) and all(k == 1 for k in op.kernel_size)


def _stem(op: object, channels: Any) -> bool:
    """An image stem as the calibrated stem rates price it: a one-group convolution
    (Conv1D/2D/3D) with at most STEM_CHANNELS input channels and STEM_TAPS kernel taps."""
    return _one_group_conv(op) and isinstance(channels, int) and \
        channels <= STEM_CHANNELS and math.prod(op.kernel_size) <= STEM_TAPS


def _runs(flops: Any, nbytes: Any) -> bool:
    """Whether a layer runs a kernel: it computes or moves something (a view, or a layer
    that is the identity at inference, runs none); symbolic counts are taken to."""
    return not (isinstance(flops, (int, float)) and isinstance(nbytes, (int, float))
                and flops == 0 and nbytes == 0)


def _number(value: Any) -> Any:
    """Python floats at concrete sizes; sympy expressions stay as they are."""
    if isinstance(value, (int, float)):
        return float(value)
    number = arith.simplify_int(value)
    if isinstance(number, int):
        return float(number)
    if getattr(number, "is_number", False):
        return float(number)
    return number
