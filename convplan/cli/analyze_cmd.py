"""`convplan analyze SPEC`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from convplan.cli.common import (
    batch_option,
    convention_option,
    custom_layer_option,
    dtype_option,
    input_size_option,
    optimizer_option,
    parse_custom_layers,
    parse_input_size,
    resolve_dtype,
)
from convplan.options import ANALYZE_EXTENSIONS, ANALYZE_FORMATS


def format_for_output(fmt: str | None, output: str | None) -> str:
    """--format wins; else the extension of -o (report.html -> html); else a table."""
    if fmt:
        return fmt
    if output:
        return ANALYZE_EXTENSIONS.get(Path(output).suffix.lower(), "table")
    return "table"


@click.command("analyze")
@click.argument("spec", type=click.Path(dir_okay=False))
@input_size_option
@batch_option
@dtype_option
@optimizer_option
@click.option("--device", "device", default=None, metavar="NAME",
              help="Also print per-layer bytes, FLOP/byte, the bound (compute or memory) and "
                   "time bounds on this device at --batch and --dtype, with totals and "
                   "images/s (h100, a100-80gb, l4, t4, tpu-v5e, ..., cpu-local; docs/time.md).")
@click.option("--step", "time_step", type=click.Choice(["training", "inference"]),
              default="training", show_default=True,
              help="With --device: time a training step (forward and backward) or inference.")
@click.option("--format", "fmt", type=click.Choice(ANALYZE_FORMATS), default=None,
              help="Output format  [default: table, or what -o's extension says]")
@click.option("--layer-formulas", is_flag=True,
              help="Also print every layer's formulas (HTML reports always hold them).")
@click.option("--no-symbolic", is_flag=True, help="Skip the formulas (faster on huge graphs).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the report to a file instead of stdout.")
@custom_layer_option
@click.option("--memory", "memory", is_flag=True,
              help="Also print the training-memory breakdown at the peak (what is live, for "
                   "which layer, and why) and a chart of live memory across the step.")
@convention_option
@click.option("--netron", "netron", type=click.Path(dir_okay=False), default=None,
              metavar="FILE.json", help="Also write every layer's metrics as a Netron "
              "attachment (open the model in Netron, then this file).")
@click.option("--model-explorer", "model_explorer", type=click.Path(file_okay=False),
              default=None, metavar="DIR", help="Also write the layer graph and one node-data "
              "file per metric for Google's Model Explorer (nodes coloured by MACs).")
def command(spec: str, input_size: str | None, batch: int | None, dtype: str, optimizer: str,
            fmt: str | None, layer_formulas: bool, no_symbolic: bool,
            output: str | None, custom_layers: tuple[str, ...] = (), memory: bool = False,
            convention: str = "fused", netron: str | None = None,
            model_explorer: str | None = None, device: str | None = None,
            time_step: str = "training") -> None:
    """Analyze SPEC (a convplan spec, Keras model JSON or .keras file).

    Prints every layer's output shape, params, MACs, FLOPs, activation memory and receptive
    field (size and stride) with totals; a training-memory peak for --batch, --dtype and
    --optimizer; the formulas for output shape, params, MACs, FLOPs and memory in the input
    size (H, W, ...) and the batch; and the counting conventions. Numbers are per example
    unless --batch is given. Colour and box drawing only on a terminal (never with
    NO_COLOR); piped output is plain text.

    \b
    Examples:
      convplan analyze examples/seed_cnn.yaml
      convplan analyze examples/seed_cnn.yaml --input-size 56x56 --batch 64
      convplan analyze examples/resnet50.yaml --format json | jq .totals.macs
      convplan analyze examples/seed_cnn.yaml --format markdown --layer-formulas
      convplan analyze examples/seed_cnn.yaml --format latex -o table.tex   # booktabs
      convplan analyze examples/seed_cnn.yaml -o seed_cnn.html   # self-contained report
      convplan analyze model.keras --netron model.netron.json --model-explorer me/
    """
    from convplan import load
    from convplan.analysis import analyze
    from convplan.cli.console import colour_allowed, is_terminal, progress, terminal_width
    from convplan.report.render import render_analysis

    fmt = format_for_output(fmt, output)
    for path in (output, netron):
        if path:
            from convplan.report.files import check_folder

            check_folder(path)
    size = parse_input_size(input_size)
    steps = 4 + (4 if fmt == "html" else 0)
    with progress(steps) as bar:
        bar.step(f"reading {spec}")
        graph = load(spec, parse_custom_layers(custom_layers))
        dtype = resolve_dtype(dtype, graph)
        bar.step(f"analyzing {len(graph)} layers")
        concrete = analyze(graph, input_size=size)
        bar.step("deriving the formulas")
        # the formulas of receptive fields are printed only per layer (and in HTML)
        symbolic = None if no_symbolic else analyze(
            graph, generalize=True, fields=layer_formulas or fmt == "html")
        bar.step(f"writing the {fmt} report")
        to_terminal = output is None and fmt == "table" and is_terminal(sys.stdout)
        text = render_analysis(
            fmt, concrete, symbolic, batch=batch, dtype=dtype, optimizer=optimizer,
            input_size=size, graph=graph,
            terminal_width=terminal_width() if to_terminal else None,
            colour=colour_allowed(sys.stdout), layer_formulas=layer_formulas, on_step=bar.step)
    if memory:
        text = _with_memory(text, fmt, concrete, batch or 1, dtype, optimizer, convention)
    if device:
        text = _with_time(text, fmt, graph, concrete, device, dtype, batch or 1, optimizer,
                          time_step == "training")
    if netron or model_explorer:
        from convplan.report import viewers

        viewers.layer_metrics(concrete, batch, dtype)  # refuses formulas before writing either
        if netron:
            viewers.write_netron(netron, concrete, batch, dtype)
        if model_explorer:
            viewers.write_model_explorer(model_explorer, concrete, batch, dtype)
    if output:
        from convplan.report.files import write_text_atomic

        write_text_atomic(output, text)
    else:
        click.echo(text, nl=False)


def _with_memory(text: str, fmt: str, analysis, batch: int, dtype: str, optimizer: str,
                 convention: str) -> str:
    """The report with the memory breakdown and chart (convplan.report.memory_report)."""
    from convplan.errors import UsageError
    from convplan.report import memory_report as M

    if not analysis.is_concrete:
        raise UsageError("--memory needs concrete sizes; give --input-size (the spec leaves "
                         + ", ".join(analysis.symbols) + " symbolic)")
    memory = analysis.training_memory(batch, dtype, optimizer, convention)
    if fmt == "json":
        import json

        document = json.loads(text)
        document["memory_plan"] = M.memory_json(memory)
        return json.dumps(document, indent=2) + "\n"
    lines = M.breakdown_lines(memory) + [""] + M.chart_lines(memory.plan)
    if fmt == "markdown":
        return text + "\n## Memory\n\n```\n" + "\n".join(lines) + "\n```\n"
    if fmt == "latex":  # verbatim prints the chart's characters as they are
        return text + "\n\\begin{verbatim}\n" + "\n".join(lines) + "\n\\end{verbatim}\n"
    if fmt == "html":
        raise UsageError("--memory prints to table, json or markdown reports, not html")
    return text + "\n" + "\n".join(lines) + "\n"


def _with_time(text: str, fmt: str, graph, analysis, device_name: str, dtype: str, batch: int,
               optimizer: str, training: bool) -> str:
    """The report with the time table and totals (convplan.report.time_report)."""
    from convplan.analysis.timing import time_plan
    from convplan.devices import device
    from convplan.errors import UsageError
    from convplan.report import time_report as T

    chip = device(device_name)
    chip.peak_flops(dtype)  # an unsupported dtype is refused before any work
    if not analysis.is_concrete:
        raise UsageError("--device needs concrete sizes; give --input-size (the spec leaves "
                         + ", ".join(analysis.symbols) + " symbolic)")
    if fmt in ("html", "latex"):
        raise UsageError(f"--device prints to table, json or markdown reports, not {fmt}")
    plan = time_plan(graph, analysis, chip, dtype, batch, training, optimizer)
    forward = time_plan(graph, analysis, chip, dtype, batch, False) if training else None
    if fmt == "json":
        import json

        document = json.loads(text)
        document["time"] = T.time_json(plan, chip.measured, forward)
        return json.dumps(document, indent=2) + "\n"
    lines = T.time_lines(plan, chip.measured, forward)
    if fmt == "markdown":
        return text + "\n## Time\n\n```\n" + "\n".join(lines) + "\n```\n"
    return text + "\n" + "\n".join(lines) + "\n"
