"""`convplan calibrate`: this machine's attainable rates, measured with numpy in seconds.

- matmul: float32 `a @ b` of two n x n matrices (2 n^3 FLOPs), the best of repeated runs;
  what the BLAS numpy links attains on every core, the `float32` peak of the entry.
- convolution-like: the GEMM a 3x3 convolution of 56x56x64 -> 64 lowers to (im2col: 3136
  rows, 576 = 3*3*64 deep, 64 wide), tall and narrow as convolutions are; kept as
  `extra["conv_flops"]` (the time model uses the matmul rate).
- bandwidth: one elementwise pass (x * a + b, jitted: what an XLA:CPU kernel streaming
  memory attains, a fresh output each call) over a large float32 array (well beyond the
  caches), 2 x its bytes moved (read and written), the best of repeated runs; under
  `--quick` (no jax) `numpy.copyto`, which streams 1.5-4x faster than XLA's kernels here.
- cache bandwidth and size: the same pass over arrays of 1/2, 1, 2, ... MiB up to the largest
  cache level /sys/devices/system/cpu/cpu0/cache lists (else 32 MiB). `cache_bandwidth` is
  the fastest of them; `cache_bytes` is 2 x (read and written) the largest array still
  copied at half that rate or more: the cache this process attains (on a shared machine
  less than the sysfs size). Every size's rate is kept too, as `stream_<bytes moved>`. The
  time model moves a layer whose bytes are at most
  `cache_bytes` at `cache_bandwidth`, the others at `bandwidth` (a two-level roofline).
- depthwise: a 3x3 depthwise convolution (2 x 9 FLOPs per output element) as XLA:CPU runs
  it (`jax.lax.conv_general_dilated` with one group per channel, jitted) where jax imports,
  else as 9 shifted numpy multiply-adds; `extra["depthwise_flops"]`, the rate the time model
  runs depthwise convolutions at (XLA:CPU runs them far below the vector rate, docs/time.md).
  `--quick` takes the numpy form (importing jax alone costs seconds).
- depthwise filter gradient: the gradient of that convolution's kernel, as XLA:CPU runs it
  (`jax.grad`); `extra["depthwise_filter_flops"]` is the forward's FLOPs per second of it,
  at `extra["depthwise_channels"]` = 96 channels. XLA:CPU lowers it as a dense convolution
  of C x C channels (the HLO's output is f32[C,3,3,C], cost_analysis counts ~C x the
  forward's FLOPs), so it runs far slower than the forward, and the slower the more
  channels: the time model scales it by C / 96. numpy (`--quick`): nine shifted products
  summed over the batch.
- depthwise strided input gradient: the input's gradient of the same convolution at stride 2
  (valid on 8 x 29 x 29 x 96, 14 x 14 out; `jax.vjp`), which XLA:CPU runs as an
  input-dilated grouped convolution, an order of magnitude below the forward's rate here;
  `extra["depthwise_strided_input_flops"]`, that convolution's forward FLOPs per second of
  it. numpy (`--quick`): nine strided scatter-adds.
- max pooling's gradient: the input gradient of a 2x2 stride-2 max pooling of
  8 x 28 x 28 x 64 (1.6 MB, in cache), XLA:CPU's argmax reduce-window and scatter
  (`jax.vjp`; numpy's mask of the maxima under `--quick`); `extra["max_pool_backward_flops"]`, the forward's
  FLOPs (3 comparisons per output) per second of it: 18-21x the forward's time at 1.6-3.2
  MB here, 70-170x at 4-34 MB (not modelled: one rate).
- XLA convolution: a 3x3 'same' convolution of 8 x 28 x 28 x 64 -> 64 as XLA:CPU runs it
  (jitted), forward and its two gradients (2 x the forward's FLOPs):
  `extra["xla_conv_flops"]` and `extra["xla_conv_backward_flops"]`, the rates the time model
  runs convolutions' FLOPs at (forward, backward); not under `--quick` (no jax).
- 1x1 kernel gradient: the kernel's gradient of a 1x1 convolution of 8 x 28 x 28 x 64 -> 64
  (`jax.grad`, jitted), which XLA:CPU runs as a convolution whose window is the whole map
  after transposing both operands: `extra["xla_pointwise_filter_flops"]`, its FLOPs per
  second (here about 4x under the 3x3 gradients' rate); not under `--quick` (no jax).
- image stem: a 3x3 stride-2 'same' convolution of 8 x 64 x 64 x 3 -> 32 (jitted), its
  forward, input gradient and kernel gradient (`jax.vjp` against a random output gradient):
  `extra["xla_stem_conv_flops"]`, `["xla_stem_input_flops"]`, `["xla_stem_filter_flops"]`,
  each the forward's FLOPs per second of it, the rates of convolutions with at most 4 input
  channels and 9 kernel taps (here 0.12, 0.25 and 0.35 of the 64-channel 3x3 rates); not
  under `--quick` (no jax).
- wide convolution: the same three passes of a 3x3 'same' convolution of 8 x 14 x 14 x 256
  -> 256: `extra["xla_wide_conv_flops"]`, `["xla_wide_input_flops"]`,
  `["xla_wide_filter_flops"]`, the rates of XLA:CPU's wide kernels, at which the time model
  runs the passes of convolutions of 128 channels and more (timing.wide_passes; here 1.8x
  the 64-channel forward); not under `--quick`.
- swapped convolution: a 3x3 'same' convolution of C -> C channels on 2 x 2 maps (C = 128,
  256, 384, 512: kernels of 0.6-9.4 MB) as XLA:CPU runs it (jitted), whose operands XLA swaps
  (convplan.analysis.xla_cpu): `extra["swapped_conv_<kernel bytes>"]`, the bytes its loop
  sweeps per second (B x positions x the kernel's bytes). Here 14-15 GB/s while the kernel
  fits the core's cache, 2.3 GB/s at 9.4 MB (ResNet50's stage 5 at 1.2 GFLOP/s); not under
  `--quick` (no jax).
- kernel: the fixed cost of one kernel inside a compiled program: a jitted chain of 64
  against one of 16 tiny 3x3 convolutions (1 x 8 x 8 x 8), the difference / 48
  (`extra["kernel_s"]`, seconds); numpy (`--quick`): a chain of tiny matrix products.

The measurements run in rounds (3, or 1 under `--quick`), every measurement once per round
with its share of `seconds`, each repeating (at least 3 runs) and keeping the fastest; across
rounds the fastest is kept too, so a burst of load from other processes slows one round of
every measurement rather than all of one. Noise on a shared machine only ever slows a run
down. The 1-minute load average before measuring is kept as `extra["load_average"]`. numpy
is imported only here.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from convplan.devices import LOCAL, Device, device_to_json, devices_file, user_devices


@dataclass(frozen=True)
class Sizes:
    matmul_n: int = 1024
    copy_bytes: int = 64 * 2**20
    conv_rows: int = 56 * 56
    depthwise_hw: int = 28  # a batch of 8 28 x 28 x 96 maps
    use_jax: bool = True

    @staticmethod
    def quick() -> Sizes:
        """Small enough for a test (well under a second), too small to be accurate."""
        return Sizes(256, 8 * 2**20, 28 * 28, 14, use_jax=False)


def largest_cache() -> int:
    """The largest cache level sysfs lists for cpu0 (e.g. "32768K"), else 32 MiB."""
    sizes = []
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (index / "size").read_text().strip().upper()
            scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
            sizes.append(int(text.rstrip("KMG")) * scale)
        except (OSError, ValueError):
            continue
    return max(sizes, default=32 * 2**20)


def cache_level(rates: dict[int, float]) -> tuple[float, float]:
    """(cache_bandwidth, cache_bytes) from {array bytes: copy bytes per second}: the fastest
    rate, and 2 x the largest array copied at half of it or more."""
    best = max(rates.values())
    fits = max(size for size, rate in rates.items() if rate >= best / 2)
    return best, 2.0 * fits


DEPTHWISE_CHANNELS = 96  # the channels of calibrate's depthwise convolutions


def _depthwise_run(hw: int, use_jax: bool) -> tuple[Callable[[], object], Callable[[], object],
                                                    Callable[[], object], float, str]:
    """(run the forward once, run the kernel's gradient once, run a stride-2 one's input
    gradient once, FLOPs of the forward, how) for a 3x3 stride-1 depthwise convolution of a
    batch of 8 hw x hw x 96 maps (valid on an input padded by one): 2 x 9 x 8 x hw x hw x 96
    FLOPs. The stride-2 convolution (valid on hw + 1, hw / 2 out) has a quarter of them; its
    run is timed against that quarter (`_STRIDED_SHARE`)."""
    import numpy as np

    channels = DEPTHWISE_CHANNELS
    flops = 2.0 * 9 * 8 * hw * hw * channels
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, hw + 2, hw + 2, channels), dtype=np.float32)
    k = rng.standard_normal((3, 3, 1, channels), dtype=np.float32)
    half = hw // 2
    dy = rng.standard_normal((8, half, half, channels), dtype=np.float32)
    if use_jax:
        try:
            import jax
            from jax import lax
        except ImportError:
            pass
        else:
            def depthwise(a: Any, b: Any, stride: int = 1) -> Any:
                return lax.conv_general_dilated(
                    a, b, (stride, stride), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                    feature_group_count=channels)

            conv = jax.jit(depthwise)
            grad = jax.jit(jax.grad(lambda b, a: depthwise(a, b).sum()))
            xj, kj = jax.device_put(x), jax.device_put(k)
            xs, dys = jax.device_put(x[:, :hw + 1, :hw + 1]), jax.device_put(dy)
            # jax.vjp, not grad of a sum: a sum's gradient is ones, which XLA could fold
            strided = jax.jit(lambda a, b, g: jax.vjp(lambda v: depthwise(v, b, 2), a)[1](g)[0])
            return (lambda: conv(xj, kj).block_until_ready(),
                    lambda: grad(kj, xj).block_until_ready(),
                    lambda: strided(xs, kj, dys).block_until_ready(), flops,
                    f"XLA:{jax.default_backend()} (jax {jax.__version__})")
    out = np.empty((8, hw, hw, channels), dtype=np.float32)
    tmp = np.empty_like(out)
    dk = np.empty((3, 3, channels), dtype=np.float32)
    dx = np.empty((8, hw + 1, hw + 1, channels), dtype=np.float32)

    def strided_input_gradient() -> None:  # dx[n, 2h + i, 2w + j, c] += dy[n, h, w, c] k[i, j, c]
        dx.fill(0.0)
        for i in range(3):
            for j in range(3):
                dx[:, i:i + 2 * half:2, j:j + 2 * half:2] += dy * k[i, j, 0]

    def shifted_sums() -> None:
        np.multiply(x[:, :hw, :hw], k[0, 0, 0], out=out)
        for i in range(3):
            for j in range(3):
                if i or j:
                    np.multiply(x[:, i:i + hw, j:j + hw], k[i, j, 0], out=tmp)
                    out.__iadd__(tmp)

    def filter_gradient() -> None:  # dk[i, j, c] = sum over n, h, w of x shifted x dy
        for i in range(3):
            for j in range(3):
                np.multiply(x[:, i:i + hw, j:j + hw], out, out=tmp)
                dk[i, j] = tmp.sum(axis=(0, 1, 2))
    return (shifted_sums, filter_gradient, strided_input_gradient, flops,
            f"numpy {np.__version__} shifted sums")


_STRIDED_SHARE = 0.25  # a stride-2 convolution's FLOPs / the stride-1 one's (a quarter of outputs)


def _stream_run(nbytes: int, use_jax: bool) -> Callable[[], object]:
    """One pass over `nbytes` of float32, read once and written once (2 x nbytes moved): an
    elementwise x * a + b as XLA:CPU runs it (jitted, a fresh output buffer each call, as
    each layer's kernel writes one) where jax imports, else numpy.copyto."""
    import numpy as np

    src = np.ones(nbytes // 4, dtype=np.float32)
    if use_jax:
        try:
            import jax
        except ImportError:
            pass
        else:
            scale = jax.jit(lambda v: v * 1.0001 + 0.5)
            on_device = jax.device_put(src)
            return lambda: scale(on_device).block_until_ready()
    dst = np.empty_like(src)
    return functools.partial(np.copyto, dst, src)


def _max_pool_gradient_run(use_jax: bool) -> tuple[Callable[[], object], float]:
    """(run once, FLOPs of the forward: 3 comparisons per output) of the input gradient of a
    2x2 stride-2 max pooling of 8 x 28 x 28 x 64 (1.6 MB, in cache): XLA:CPU's argmax
    reduce-window and scatter (`jax.vjp`) where jax imports, else numpy's mask of the maxima
    times the upsampled output gradient."""
    import numpy as np

    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 28, 28, 64), dtype=np.float32)
    g = rng.standard_normal((8, 14, 14, 64), dtype=np.float32)
    flops = 3.0 * g.size
    if use_jax:
        try:
            import jax
            from jax import lax
        except ImportError:
            pass
        else:
            def pool(a: Any) -> Any:
                return lax.reduce_window(a, -np.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                                         "VALID")

            grad = jax.jit(lambda a, b: jax.vjp(pool, a)[1](b)[0])
            xj, gj = jax.device_put(x), jax.device_put(g)
            return (lambda: grad(xj, gj).block_until_ready()), flops
    windows = x.reshape(8, 14, 2, 14, 2, 64)

    def numpy_gradient() -> object:
        biggest = windows.max(axis=(2, 4), keepdims=True)
        return (windows == biggest) * g[:, :, None, :, None, :]
    return numpy_gradient, flops


def _conv_runs(use_jax: bool) -> dict[str, tuple[Callable[[], object], float]]:
    """{rate name: (run once, FLOPs per run)} of convolutions of a batch of 8 28 x 28 x 64 maps
    to 64 channels as XLA:CPU runs them (jitted): a 3x3 'same' one's forward
    ("xla_conv_flops") and its input and kernel gradients ("xla_conv_backward_flops", 2 x the
    forward's FLOPs), a 1x1 one's kernel gradient ("xla_pointwise_filter_flops": a
    convolution whose window is the whole map, after transposes), and the image stem's
    three passes (`_stem_conv_runs`) and a wide (256-channel) one's (`_wide_conv_runs`). Empty
    without jax."""
    if not use_jax:
        return {}
    try:
        import jax
        from jax import lax
    except ImportError:
        return {}
    import numpy as np

    rng = np.random.default_rng(2)
    x = jax.device_put(rng.standard_normal((8, 28, 28, 64), dtype=np.float32))
    w = jax.device_put(rng.standard_normal((3, 3, 64, 64), dtype=np.float32) * 0.05)
    w1 = jax.device_put(rng.standard_normal((1, 1, 64, 64), dtype=np.float32) * 0.1)

    def conv(a: Any, b: Any) -> Any:
        return lax.conv_general_dilated(a, b, (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))

    forward = jax.jit(conv)
    # the sum's gradient is ones: the forward is dead code, only dx and dW run
    grads = jax.jit(jax.grad(lambda a, b: conv(a, b).sum(), argnums=(0, 1)))
    pointwise = jax.jit(jax.grad(lambda b, a: conv(a, b).sum()))
    flops = 2.0 * 9 * 8 * 28 * 28 * 64 * 64
    return {"xla_conv_flops": (lambda: forward(x, w).block_until_ready(), flops),
            "xla_conv_backward_flops": (
                lambda: [g.block_until_ready() for g in grads(x, w)], 2 * flops),
            "xla_pointwise_filter_flops": (
                lambda: pointwise(w1, x).block_until_ready(), flops / 9),
            **_stem_conv_runs(jax, lax, rng), **_wide_conv_runs(jax, lax, rng)}


STEM = (8, 64, 3, 32)  # batch, map side, C_in, C_out of calibrate's image stem
WIDE = (8, 14, 256, 256)  # ... and of its wide 3x3 convolution


def xla_conv_passes(jax: Any, lax: Any, stride: int, padding: str
                    ) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    """Jitted forward(x, w), input_gradient(x, w, dy) and kernel_gradient(x, w, dy) of an
    NHWC x HWIO convolution at `stride` on both axes, the gradients by `jax.vjp` against the
    output gradient dy, each its own program (benchmarks/conv_rates.py times them too)."""
    def conv(a: Any, b: Any) -> Any:
        return lax.conv_general_dilated(a, b, (stride, stride), padding,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))

    return (jax.jit(conv),
            jax.jit(lambda a, b, d: jax.vjp(lambda u: conv(u, b), a)[1](d)[0]),
            jax.jit(lambda a, b, d: jax.vjp(lambda v: conv(a, v), b)[1](d)[0]))


def _stem_conv_runs(jax: Any, lax: Any, rng: Any) -> dict[str, tuple[Callable[[], object],
                                                                     float]]:
    """{rate name: (run once, FLOPs per run)} of an image stem as XLA:CPU runs it: a 3x3
    stride-2 'same' convolution of 8 64 x 64 x 3 maps to 32 channels (MobileNet's and
    EfficientNet's first layer): its forward ("xla_stem_conv_flops"), input gradient
    ("xla_stem_input_flops") and kernel gradient ("xla_stem_filter_flops"), each of the
    forward's FLOPs."""
    from convplan.analysis.timing import STEM_KEYS  # the names the time model reads

    return _conv_pass_runs(jax, lax, rng, STEM_KEYS, STEM, stride=2)


def _wide_conv_runs(jax: Any, lax: Any, rng: Any) -> dict[str, tuple[Callable[[], object],
                                                                     float]]:
    """The same for a wide convolution, 3x3 'same' of 8 14 x 14 x 256 maps to 256 channels
    ("xla_wide_conv_flops", "xla_wide_input_flops", "xla_wide_filter_flops"): XLA:CPU's
    kernels for 128 channels and more run up to twice the 64-channel rates here."""
    from convplan.analysis.timing import WIDE_KEYS

    return _conv_pass_runs(jax, lax, rng, WIDE_KEYS, WIDE, stride=1)


def _conv_pass_runs(jax: Any, lax: Any, rng: Any, keys: tuple[str, str, str],
                    shape: tuple[int, int, int, int], stride: int
                    ) -> dict[str, tuple[Callable[[], object], float]]:
    """{key: (run once, FLOPs per run)} of a 3x3 'same' convolution of (batch, side, C_in,
    C_out) `shape` at `stride`: forward, input gradient, kernel gradient, each of the
    forward's FLOPs. The gradients are taken against a random output gradient: a constant
    one (the gradient of a sum) lets XLA reduce instead of convolve."""
    import numpy as np

    batch, side, cin, cout = shape
    out = -(-side // stride)
    x = jax.device_put(rng.standard_normal((batch, side, side, cin), dtype=np.float32))
    w = jax.device_put(rng.standard_normal((3, 3, cin, cout), dtype=np.float32) * 0.1)
    dy = jax.device_put(rng.standard_normal((batch, out, out, cout), dtype=np.float32))
    forward, input_gradient, kernel_gradient = xla_conv_passes(jax, lax, stride, "SAME")
    flops = 2.0 * 9 * cin * batch * out * out * cout
    forward_key, input_key, kernel_key = keys
    return {forward_key: (lambda: forward(x, w).block_until_ready(), flops),
            input_key: (lambda: input_gradient(x, w, dy).block_until_ready(), flops),
            kernel_key: (lambda: kernel_gradient(x, w, dy).block_until_ready(), flops)}


SWAPPED_CHANNELS = (128, 256, 384, 512)  # 3x3 kernels of 0.6, 2.4, 5.3 and 9.4 MB


def _swapped_conv_runs(use_jax: bool) -> dict[int, tuple[Callable[[], object], float]]:
    """{kernel bytes: (a 3x3 'same' convolution of C -> C channels on 2 x 2 maps once, the
    bytes its loop sweeps)} for C in SWAPPED_CHANNELS, as XLA:CPU runs it (jitted): XLA swaps
    its operands (the kernel has more taps than the map has positions) and its loop sweeps
    the whole kernel per output position, B x 4 x 9 x C x C x 4 bytes (batch B ~ 50 MB of
    sweep). Empty without jax."""
    if not use_jax:
        return {}
    try:
        import jax
        from jax import lax
    except ImportError:
        return {}
    import numpy as np

    def conv(a: Any, b: Any) -> Any:
        return lax.conv_general_dilated(a, b, (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))

    forward = jax.jit(conv)

    def run(a: Any, b: Any) -> object:
        return forward(a, b).block_until_ready()

    rng = np.random.default_rng(3)
    runs = {}
    for c in SWAPPED_CHANNELS:
        kernel = 9 * c * c * 4
        batch = max(1, 50 * 2**20 // (4 * kernel))
        x = jax.device_put(rng.standard_normal((batch, 2, 2, c), dtype=np.float32))
        w = jax.device_put(rng.standard_normal((3, 3, c, c), dtype=np.float32) * 0.05)
        runs[kernel] = (functools.partial(run, x, w), float(batch * 4 * kernel))
    return runs


def _kernel_chains(use_jax: bool) -> tuple[Callable[[], object], Callable[[], object], int]:
    """(a chain of 16 tiny kernels, a chain of 64, the kernels between them): jitted 3x3
    convolutions of 1 x 8 x 8 x 8 where jax imports (each one library call in XLA:CPU's
    program), else numpy products of 8 x 8 matrices."""
    import numpy as np

    if use_jax:
        try:
            import jax
            from jax import lax
        except ImportError:
            pass
        else:
            def chain(length: int) -> Callable[[], object]:
                def run(a: Any, w: Any) -> Any:
                    for _ in range(length):
                        a = lax.conv_general_dilated(
                            a, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
                    return a
                compiled = jax.jit(run)
                a = jax.device_put(np.full((1, 8, 8, 8), 0.1, np.float32))
                w = jax.device_put(np.full((3, 3, 8, 8), 0.01, np.float32))
                return lambda: compiled(a, w).block_until_ready()
            return chain(16), chain(64), 48
    m = np.full((8, 8), 0.1, np.float32)

    def numpy_chain(length: int) -> Callable[[], object]:
        def run() -> object:
            a = m
            for _ in range(length):
                a = a @ m
            return a
        return run
    return numpy_chain(16), numpy_chain(64), 48


def _best_seconds(run: Callable[[], object], budget: float, at_least: int = 3) -> float:
    run()  # warm up (page faults, BLAS threads)
    best = float("inf")
    start = time.perf_counter()
    done = 0
    while done < at_least or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
        done += 1
    return best


def measure(seconds: float = 3.0, sizes: Sizes | None = None, rounds: int | None = None
            ) -> dict[str, float]:
    """{"matmul_flops", "conv_flops", "bandwidth", "cache_bandwidth", "depthwise_flops",
    "depthwise_filter_flops", "depthwise_strided_input_flops", "max_pool_backward_flops"} per
    second, the `stream_<bytes>` and `swapped_conv_<kernel bytes>` sweeps, "kernel_s", the
    sizes used ("matmul_n", "copy_bytes", "cache_bytes", "depthwise_channels") and the load
    average before measuring."""
    import numpy as np

    sizes = sizes or Sizes()
    rounds = rounds or (3 if sizes.use_jax else 1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else -1.0
    rng = np.random.default_rng(0)
    n = sizes.matmul_n
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    cols = rng.standard_normal((sizes.conv_rows, 9 * 64), dtype=np.float32)
    kernel = rng.standard_normal((9 * 64, 64), dtype=np.float32)
    cache_sizes = []
    size = 2**19
    while size <= min(largest_cache(), sizes.copy_bytes // 2):
        cache_sizes.append(size)
        size *= 2
    cache_sizes = cache_sizes or [sizes.copy_bytes // 2]
    depthwise_run, filter_run, strided_run, depthwise_ops, how = _depthwise_run(
        sizes.depthwise_hw, sizes.use_jax)
    short_chain, long_chain, kernels = _kernel_chains(sizes.use_jax)
    share = seconds / rounds
    # name -> (run once, work per run, share of a round's seconds, at least this many runs)
    runs: dict[str, tuple[Callable[[], object], float, float, int]] = {
        "matmul_flops": (lambda: a @ b, 2 * n**3, 0.25, 3),
        "conv_flops": (lambda: cols @ kernel, 2 * sizes.conv_rows * 9 * 64 * 64, 0.15, 3),
        "bandwidth": (_stream_run(sizes.copy_bytes, sizes.use_jax), 2 * sizes.copy_bytes,
                      0.2, 3),
        "depthwise_flops": (depthwise_run, depthwise_ops, 0.1, 3),
        "depthwise_filter_flops": (filter_run, depthwise_ops, 0.1, 3),
        "depthwise_strided_input_flops": (strided_run, depthwise_ops * _STRIDED_SHARE, 0.1, 3),
        "max_pool_backward_flops": (*_max_pool_gradient_run(sizes.use_jax), 0.05, 3),
    }
    for name, (run, flops) in _conv_runs(sizes.use_jax).items():
        runs[name] = (run, flops, 0.05, 3)
    swapped = _swapped_conv_runs(sizes.use_jax)
    for kernel_bytes, (run, swept) in swapped.items():
        runs[f"swapped_{kernel_bytes}"] = (run, swept, 0.1 / len(swapped), 3)
    for part_size in cache_sizes:
        runs[f"copy_{part_size}"] = (_stream_run(part_size, sizes.use_jax), 2 * part_size,
                                     0.1 / len(cache_sizes), 10)
    best: dict[str, float] = {}
    short_s = long_s = float("inf")
    for _ in range(rounds):
        for name, (run, work, part_share, at_least) in runs.items():
            rate = work / _best_seconds(run, share * part_share, at_least)
            best[name] = max(best.get(name, 0.0), rate)
        short_s = min(short_s, _best_seconds(short_chain, share * 0.05, 5))
        long_s = min(long_s, _best_seconds(long_chain, share * 0.05, 5))
    swept = {s: best.pop(f"copy_{s}") for s in cache_sizes}
    cached, cache = cache_level(swept)
    # the whole sweep, keyed by the bytes moved (read and written): the time model prices a
    # layer at the rate of the smallest pass that moves as much as it does
    stream = {f"stream_{2 * s}": rate for s, rate in swept.items()}
    # kernel bytes -> bytes swept per second (convplan.analysis.xla_cpu)
    stream.update({f"swapped_conv_{k}": best.pop(f"swapped_{k}") for k in swapped})
    return {**best, **stream, "cache_bandwidth": max(cached, best["bandwidth"]),
            "kernel_s": max(long_s - short_s, 0.0) / kernels,
            "matmul_n": float(n), "copy_bytes": float(sizes.copy_bytes),
            "cache_bytes": float(cache), "depthwise_xla": float(how.startswith("XLA")),
            "depthwise_channels": float(DEPTHWISE_CHANNELS),
            "load_average": load, "rounds": float(rounds)}


def _memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 0


def local_device(rates: dict[str, float], name: str = LOCAL) -> Device:
    import numpy as np

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cores = os.cpu_count() or 1
    return Device(
        name, f"this machine ({platform.machine()}, {cores} cores), measured", _memory_bytes(),
        {"float32": rates["matmul_flops"]}, rates["bandwidth"],
        f"measured by `convplan calibrate` on {when} (numpy {np.__version__}: float32 matmul "
        f"n={int(rates['matmul_n'])}, passes over {int(rates['copy_bytes']) >> 20} MiB and "
        f"1/2 MiB up (cache {int(rates.get('cache_bytes', 0)) >> 20} MiB attained); depthwise 3x3 "
        f"{'by XLA:CPU (jax)' if rates.get('depthwise_xla') else 'by numpy'}; "
        f"load average {rates.get('load_average', -1):.1f} before measuring)",
        kind="cpu", units=cores, measured=True,
        extra={k: v for k, v in rates.items() if k not in ("matmul_flops", "bandwidth")})


def write_entry(entry: Device, path: Path | None = None) -> Path:
    """Replace (or add) `entry` in the devices file, atomically; other entries are kept."""
    path = path or devices_file()
    kept = [device_to_json(d) for key, d in user_devices(path).items() if key != entry.name]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"devices": [*kept, device_to_json(entry)]}, indent=2) + "\n")
    tmp.replace(path)
    return path
