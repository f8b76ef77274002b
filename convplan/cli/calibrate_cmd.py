"""`convplan calibrate`."""

from __future__ import annotations

import click


@click.command("calibrate")
@click.option("--seconds", type=click.FloatRange(0.1, 120), default=3.0, show_default=True,
              help="Time to spend measuring, in all.")
@click.option("--quick", is_flag=True,
              help="Tiny sizes and at most 0.5 s of measuring (for tests, not accurate).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Devices file to write  [default: $CONVPLAN_DEVICES, else "
                   "~/.config/convplan/devices.json]")
@click.option("--name", default="cpu-local", show_default=True,
              help="The entry's name (`--device NAME` then uses it).")
def command(seconds: float, quick: bool, output: str | None, name: str) -> None:
    """Measure this machine's attainable float32 matmul and convolution-like FLOP/s, its
    memory and cache bandwidth with numpy, its depthwise-convolution FLOP/s with XLA:CPU
    (jax; numpy under --quick), and write them as the `cpu-local` device entry that
    `analyze --device cpu-local` and the time model read (docs/time.md).

    \b
    Examples:
      convplan calibrate
      convplan analyze examples/resnet50.yaml --device cpu-local --batch 32
    """
    from pathlib import Path

    from convplan import calibration as C
    from convplan.devices import DEVICES
    from convplan.errors import UsageError
    from convplan.options import format_count

    key = name.strip().lower()
    if key in DEVICES:
        raise UsageError(f"--name {name!r} is a built-in device; choose another name")
    rates = C.measure(min(seconds, 0.5) if quick else seconds,
                      C.Sizes.quick() if quick else None)
    path = C.write_entry(C.local_device(rates, key), Path(output) if output else None)
    click.echo(f"matmul (float32, n={int(rates['matmul_n'])}): "
               f"{format_count(rates['matmul_flops'])}FLOP/s")
    click.echo(f"convolution-like GEMM (float32):  {format_count(rates['conv_flops'])}FLOP/s")
    how = "XLA:CPU" if rates["depthwise_xla"] else "numpy"
    if "xla_conv_flops" in rates:
        click.echo(f"convolution 3x3 (XLA:CPU):        {format_count(rates['xla_conv_flops'])}"
                   f"FLOP/s forward, {format_count(rates['xla_conv_backward_flops'])}FLOP/s "
                   "backward")
    if "xla_pointwise_filter_flops" in rates:
        click.echo("convolution 1x1 kernel gradient (XLA:CPU): "
                   f"{format_count(rates['xla_pointwise_filter_flops'])}FLOP/s")
    if "xla_stem_conv_flops" in rates:
        click.echo("convolution 3x3 stem, 3 channels (XLA:CPU): "
                   f"{format_count(rates['xla_stem_conv_flops'])}FLOP/s forward, "
                   f"{format_count(rates['xla_stem_input_flops'])}FLOP/s input gradient, "
                   f"{format_count(rates['xla_stem_filter_flops'])}FLOP/s kernel gradient")
    if "xla_wide_conv_flops" in rates:
        click.echo("convolution 3x3 wide, 256 channels (XLA:CPU): "
                   f"{format_count(rates['xla_wide_conv_flops'])}FLOP/s forward, "
                   f"{format_count(rates['xla_wide_input_flops'])}FLOP/s input gradient, "
                   f"{format_count(rates['xla_wide_filter_flops'])}FLOP/s kernel gradient")
    click.echo(f"memory bandwidth ({how}):{' ' * (18 - len(how))}"
               f"{format_count(rates['bandwidth'])}B/s")
    click.echo(f"cache bandwidth ({how}):{' ' * (19 - len(how))}"
               f"{format_count(rates['cache_bandwidth'])}B/s"
               f" up to {int(rates['cache_bytes']) >> 20} MiB moved")
    click.echo(f"depthwise 3x3 ({how}):{' ' * (21 - len(how))}"
               f"{format_count(rates['depthwise_flops'])}FLOP/s")
    click.echo(f"depthwise 3x3 filter gradient ({how}): "
               f"{format_count(rates['depthwise_filter_flops'])}FLOP/s (of the forward's FLOPs, "
               f"at {int(rates['depthwise_channels'])} channels)")
    click.echo(f"depthwise 3x3 stride-2 input gradient ({how}): "
               f"{format_count(rates['depthwise_strided_input_flops'])}FLOP/s (of the forward's "
               "FLOPs)")
    click.echo(f"max pooling 2x2 gradient ({how}): "
               f"{format_count(rates['max_pool_backward_flops'])}FLOP/s (of the forward's FLOPs)")
    swept = sorted((int(k[len("swapped_conv_"):]), v) for k, v in rates.items()
                   if k.startswith("swapped_conv_"))
    if swept:
        click.echo("swapped 3x3 convolution on 2x2 (XLA:CPU): " + ", ".join(
            f"{format_count(v)}B/s" for _, v in swept) + " swept, kernels of "
            + ", ".join(f"{k / 1e6:.1f}" for k, _ in swept) + " MB")
    click.echo(f"kernel (fixed cost in a compiled program): {rates['kernel_s'] * 1e6:.1f} us")
    click.echo(f"load average before measuring: {rates['load_average']:.1f} "
               f"(best of {int(rates['rounds'])} rounds; other processes slow every rate)")
    click.echo(f"wrote the {key!r} entry to {path}")
