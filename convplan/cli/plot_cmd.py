"""`convplan plot SPEC -o FILE`."""

from __future__ import annotations

import click

from convplan.cli.common import (
    batch_option,
    dtype_option,
    input_size_option,
    optimizer_option,
    parse_input_size,
    resolve_dtype,
)
from convplan.options import PLOT_KINDS


@click.command("plot")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Picture to write; the extension picks the format: .svg or .png.")
@click.option("--kind", type=click.Choice(PLOT_KINDS), default="all", show_default=True,
              help="diagram: the architecture; rf: receptive field and output size against "
                   "depth; cost: MACs and params per layer; scaling: MACs and training memory "
                   "against the input size; roofline: each layer's intensity and FLOP/s at "
                   "its time lower bound under --device's roof; all: every panel but the "
                   "roofline in one figure.")
@input_size_option
@batch_option
@dtype_option
@optimizer_option
@click.option("--device", default=None, metavar="NAME",
              help="The roofline's device (cpu-local from `convplan calibrate`, h100, "
                   "tpu-v5e, ...; docs/time.md).")
@click.option("--training", is_flag=True,
              help="Roofline of the training step (forward and backward) instead of the "
                   "forward pass.")
@click.option("--dpi", type=click.IntRange(20, 600), default=120, show_default=True,
              help="Resolution of PNG pictures.")
def command(spec: str, output: str, kind: str, input_size: str | None, batch: int | None,
            dtype: str, optimizer: str, device: str | None, training: bool, dpi: int) -> None:
    """Draw SPEC's architecture and charts to an SVG or PNG file.

    The diagram lays the layers out by depth (inputs at the top), each box annotated with its
    op, attributes, output shape and receptive field; merges are drawn as merge nodes that
    every joined branch points into. The charts show receptive field and output size against
    depth, MACs and params per layer, and MACs and training memory against the input size,
    evaluated from the formulas.

    \b
    Examples:
      convplan plot examples/seed_cnn.yaml -o seed_cnn.svg
      convplan plot examples/resnet50.yaml --kind diagram -o resnet50.svg
      convplan plot examples/seed_cnn.yaml --kind scaling --batch 64 -o scaling.png
      convplan plot examples/resnet50.yaml --kind roofline --device h100 \\
          --dtype mixed_bfloat16 --batch 256 -o roofline.svg
    """
    from convplan import load
    from convplan.analysis import analyze
    from convplan.cli.console import progress
    from convplan.report.files import check_folder, write_bytes_atomic
    from convplan.report.plots import build_figure, figure_bytes, figure_class, format_for

    fmt = format_for(check_folder(output))
    size = parse_input_size(input_size)
    if kind == "roofline":  # fail early: no device, an unknown one, a dtype it lacks
        from convplan.devices import device as find_device
        from convplan.errors import UsageError

        if device is None:
            raise UsageError("--kind roofline needs --device NAME (cpu-local, h100, ...)")
        find_device(device).peak_flops(resolve_dtype(dtype, None))
    figure_class()  # fail early, with the install hint, where matplotlib is missing
    needs_formulas = kind in ("scaling", "all")
    with progress(5) as bar:
        bar.step(f"reading {spec}")
        graph = load(spec)
        dtype = resolve_dtype(dtype, graph)
        bar.step(f"analyzing {len(graph)} layers")
        concrete = analyze(graph, input_size=size)
        bar.step("deriving the formulas" if needs_formulas else "laying out")
        symbolic = analyze(graph, generalize=True) if needs_formulas else None
        bar.step(f"drawing {kind}")
        fig = build_figure(kind, concrete, symbolic, graph=graph, batch=batch, dtype=dtype,
                           optimizer=optimizer, device=device, training=training)
        bar.step(f"writing {output}")
        write_bytes_atomic(output, figure_bytes(fig, fmt, dpi))
