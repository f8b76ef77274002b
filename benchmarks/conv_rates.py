"""How far XLA:CPU's convolution rate strays from the rate `convplan calibrate` measures, by shape
(issue 15: why the stems and the 1x1 convolutions on large maps miss their bands).

convplan prices every convolution pass at one calibrated rate per pass kind (docs/time.md):
the forward at `xla_conv_flops`, each gradient at `xla_conv_backward_flops`, a 1x1 kernel's
gradient at `xla_pointwise_filter_flops` (all measured on 8 x 28 x 28 x 64 -> 64), and where
the entry has calibrate's stem rates a 3x3 or smaller convolution of at most 4 input channels
at those (`xla_stem_*`, measured on 8 x 64 x 64 x 3 -> 32 at stride 2). This script
times convolutions of other shapes under jax (jitted, min of repeats, less the dispatch of a
jitted call that computes nothing on the same arguments) and prints each pass's attained
FLOP/s as a ratio to the rate convplan prices it at: 1.00 is what the model assumes, 0.25 a
pass running 4x slower than predicted. Two tables:

1. the forward of 3x3 'same' convolutions over a grid of input and output channels
   (8 x 28 x 28 maps), where the stems' few input channels are;
2. the passes of the six benchmark models' worst-predicted convolutions at their own shapes
   (batch 32, input size 64, as benchmarks/time_vs_jax.py measures them);
3. the passes of convolutions from 16 to 512 channels, 3x3 and 1x1, where XLA:CPU's wide
   kernels take over (timing.wide_passes: at 128 channels);
4. the passes of 3x3 convolutions of 64, 128 and 256 channels on maps from 0.4 to 34 MB
   (the input's bytes), where calibrate measures one map per rate (2026-12-06: the
   64-channel forward fell to 0.57x on VGG16's first-block maps).

    CONVPLAN_DEVICES=benchmarks/data/time_devices_1x1_after.jsonl \
        .venv/bin/python benchmarks/conv_rates.py [--device cpu-local] [--quick]

Ratios, not seconds: the machine is shared. Needs jax; a quiet machine (load < 2) for
repeatable ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from convplan.analysis.timing import conv_pass_rates  # noqa: E402
from convplan.calibration import xla_conv_passes  # noqa: E402
from convplan.devices import Device, device  # noqa: E402
from convplan.ir.ops import make_op  # noqa: E402

# (model, layer, batch, map, C_in, C_out, kernel, stride, padding): the layers
# time_vs_jax.py --detail lists among the worst of each model at size 64, batch 32
LAYERS = (
    ("seed CNN", "conv1", 32, 28, 1, 32, 3, 1, "VALID"),
    ("MobileNetV2", "Conv1", 32, 64, 3, 32, 3, 2, "SAME"),
    ("EfficientNetB0", "stem_conv", 32, 65, 3, 32, 3, 2, "VALID"),
    ("VGG16", "block1_conv1", 32, 64, 3, 64, 3, 1, "SAME"),
    ("ResNet50", "conv1_conv", 32, 70, 3, 64, 7, 2, "VALID"),
    ("ResNet50", "conv2_block3_3_conv", 32, 16, 64, 256, 1, 1, "VALID"),
    ("DenseNet121", "conv2_block3_1_conv", 32, 16, 128, 128, 1, 1, "VALID"),
    ("DenseNet121", "pool2_conv", 32, 16, 256, 128, 1, 1, "VALID"),
    ("calibrate's own", "3x3 64 -> 64", 8, 28, 64, 64, 3, 1, "SAME"),
    ("calibrate's own", "1x1 64 -> 64", 8, 28, 64, 64, 1, 1, "SAME"),
)
# (batch, map, C_in, C_out, kernel): around the wide kernels' step at 128 channels
WIDE_GRID = (*((8, 28, c, c, k) for k in (3, 1) for c in (16, 32, 64, 128, 256, 512)),
             *((32, 16, cin, cout, 3) for cin, cout in ((64, 128), (64, 256), (256, 64),
                                                         (128, 32), (32, 128), (128, 256))))
# (batch, map, channels): 3x3 'same' C -> C on growing maps, calibrate's own first in each
MAP_GRID = ((8, 28, 64), (8, 56, 64), (32, 28, 64), (32, 64, 64),
            (8, 14, 256), (8, 28, 256), (32, 16, 256), (8, 28, 128), (32, 32, 128))
GRID_IN = (1, 2, 3, 4, 6, 8, 16, 64)
GRID_OUT = (16, 24, 32, 48, 64, 128)


def seconds(run: Callable[[], Any], repeats: int) -> float:
    run()
    return min(_once(run) for _ in range(repeats))


def _once(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def passes(batch: int, size: int, cin: int, cout: int, k: int, stride: int, padding: str,
           repeats: int) -> dict[str, tuple[float, float]]:
    """{pass: (seconds less dispatch, FLOPs)} of a convolution's forward, input gradient and
    kernel gradient, each jitted on its own."""
    import jax
    import numpy as np
    from jax import lax

    rng = np.random.default_rng(0)
    x = jax.device_put(rng.standard_normal((batch, size, size, cin), dtype=np.float32))
    w = jax.device_put(rng.standard_normal((k, k, cin, cout), dtype=np.float32) * 0.05)
    forward, input_gradient, kernel_gradient = xla_conv_passes(jax, lax, stride, padding)
    y = jax.eval_shape(forward, x, w)
    g = jax.device_put(rng.standard_normal(y.shape, dtype=np.float32))
    flops = 2.0 * np.prod(y.shape) * k * k * cin
    runs = {"forward": (forward, (x, w)), "input gradient": (input_gradient, (x, w, g)),
            "kernel gradient": (kernel_gradient, (x, w, g))}
    nothing = jax.jit(lambda *a: jax.numpy.zeros((), "float32"))
    out = {}
    for name, (fn, args) in runs.items():
        dispatch = seconds(lambda args=args: jax.block_until_ready(nothing(*args)), repeats)
        spent = seconds(lambda fn=fn, args=args: jax.block_until_ready(fn(*args)), repeats)
        out[name] = (max(spent - dispatch, 1e-9), flops)
    return out


def priced_rates(chip: Device, k: int, cin: int, cout: int) -> dict[str, float]:
    """The rate timing.time_plan prices each pass of a (not swapped) one-group k x k
    Conv2D of `cin` to `cout` channels at on `chip` (timing.conv_pass_rates)."""
    op = make_op("Conv2D", "c", {"filters": cout, "kernel_size": k})
    rates = conv_pass_rates(chip, op, cin, chip.peak_flops("float32"))
    return dict(zip(("forward", "input gradient", "kernel gradient"), rates, strict=True))


def pass_ratios(chip: Device, batch: int, size: int, cin: int, cout: int, k: int,
                stride: int, padding: str, repeats: int) -> str:
    """A convolution's forward, input and kernel gradient measured: attained / priced rate
    per pass, as table cells."""
    priced = priced_rates(chip, k, cin, cout)
    measured = passes(batch, size, cin, cout, k, stride, padding, repeats)
    return "".join(f"{flops / spent / priced[name]:9.2f}"
                   for name, (spent, flops) in measured.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu-local")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a smaller grid")
    args = parser.parse_args()
    os.environ.setdefault("JAX_PLATFORMS", "cpu")  # before jax is imported
    chip = device(args.device)
    extra = chip.extra
    if "xla_conv_flops" not in extra:
        sys.exit(f"conv_rates: device {args.device!r} has no calibrated XLA convolution rate "
                 "(run `convplan calibrate`)")
    repeats = 3 if args.quick else 10
    grid_in = GRID_IN[::3] if args.quick else GRID_IN
    grid_out = GRID_OUT[::2] if args.quick else GRID_OUT
    print(f"3x3 'same' forward, 8 x 28 x 28 maps: attained / priced rate "
          f"({extra['xla_conv_flops'] / 1e9:.0f} GFLOP/s; a stem's where the entry has them)")
    print("C_in \\ C_out " + "".join(f"{c:>7d}" for c in grid_out))
    for cin in grid_in:
        cells = []
        for cout in grid_out:
            spent, flops = passes(8, 28, cin, cout, 3, 1, "SAME", repeats)["forward"]
            cells.append(f"{flops / spent / priced_rates(chip, 3, cin, cout)['forward']:7.2f}")
        print(f"{cin:>12d} " + "".join(cells), flush=True)
    print()
    print("the models' worst convolutions: attained / priced rate per pass")
    print(f"{'model':16s}{'layer':22s}{'shape':32s}{'forward':>9s}{'in grad':>9s}"
          f"{'k grad':>9s}")
    layers = LAYERS[:2] + LAYERS[-2:] if args.quick else LAYERS
    for model, layer, batch, size, cin, cout, k, stride, padding in layers:
        shape = f"{batch}x{size}x{size}x{cin}->{cout} {k}x{k}/{stride} {padding.lower()}"
        cells = pass_ratios(chip, batch, size, cin, cout, k, stride, padding, repeats)
        print(f"{model:16s}{layer:22s}{shape:32s}{cells}", flush=True)
    print()
    print("channels around the wide kernels' step: attained / priced rate per pass")
    print(f"{'shape':38s}{'forward':>9s}{'in grad':>9s}{'k grad':>9s}")
    for batch, size, cin, cout, k in WIDE_GRID[::4] if args.quick else WIDE_GRID:
        cells = pass_ratios(chip, batch, size, cin, cout, k, 1, "SAME", repeats)
        print(f"{f'{batch}x{size}x{size}x{cin}->{cout} {k}x{k} same':38s}{cells}", flush=True)
    print()
    print("3x3 'same' convolutions by map size: attained / priced rate per pass")
    print(f"{'shape':30s}{'input MB':>9s}{'forward':>9s}{'in grad':>9s}{'k grad':>9s}")
    for batch, size, c in MAP_GRID[::3] if args.quick else MAP_GRID:
        cells = pass_ratios(chip, batch, size, c, c, 3, 1, "SAME", repeats)
        megabytes = batch * size * size * c * 4 / 1e6
        print(f"{f'{batch}x{size}x{size}x{c}->{c}':30s}{megabytes:9.1f}{cells}", flush=True)
    print(f"\ndevice {args.device}; min of {repeats} runs less a jitted empty call's dispatch; "
          "priced = the calibrated rate timing.time_plan charges the pass (docs/time.md)")


if __name__ == "__main__":
    main()
