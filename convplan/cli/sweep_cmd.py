"""`convplan sweep SPEC --vary LAYER.ATTR=V1,V2,...`."""

from __future__ import annotations

import sys

import click

from convplan.cli.common import (
    dtype_option,
    input_size_option,
    optimizer_option,
    parse_input_size,
    resolve_dtype,
)
from convplan.cli.console import progress
from convplan.options import SWEEP_FORMATS


def _bytes_writer(stream):
    """A function writing UTF-8 bytes to `stream`: straight to its binary buffer when it has
    one that takes UTF-8 with no newline translation (a terminal, pipe or file here), so that
    a million rows are not decoded to str to be encoded again; through str otherwise (a
    StringIO, another encoding)."""
    import codecs
    import os

    buffer = getattr(stream, "buffer", None)
    encoding = getattr(stream, "encoding", None) or ""
    try:
        utf8 = codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        utf8 = False
    if buffer is None or not utf8 or os.linesep != "\n":
        return lambda data: stream.write(data.decode())

    def write(data: bytes) -> None:
        stream.flush()  # what was written as str goes first
        buffer.write(data)
    return write


def _mode(pareto, sort, limit_given: bool) -> str:
    if pareto:
        return "rows on the Pareto front over " + ", ".join(
            f"{n} ({'max' if s < 0 else 'min'})" for n, s in pareto)
    if sort:
        return f"best rows by {sort[0]} ({'largest' if sort[1] < 0 else 'smallest'} first)"
    return "first rows in combination order" + ("" if limit_given else
                                                 " (--limit N for more, --format csv for all)")


@click.command("sweep")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--vary", "varies", multiple=True, required=True, metavar="LAYER.ATTR=VALUES",
              help="Choices for an attribute: conv1.strides=1,2  'conv*.padding=valid,same'  "
                   "conv1.filters=16..512:16  input.size=32..224:32 or 224x224,256x256. "
                   "Repeatable; a glob sets every matching layer alike.")
@click.option("--where", "where", multiple=True, metavar="COND",
              help="Keep rows where COND holds: rf>=64, macs<1e9, memory<2GiB, "
                   "conv1.padding==same; comma-separated or repeated, all must hold.")
@click.option("--pareto", default=None, metavar="METRICS",
              help="Show only the Pareto front over these metrics, - to maximize: macs,-rf.")
@click.option("--sort", "sort_by", default=None, metavar="METRIC",
              help="Show the best rows by METRIC (-METRIC: largest first).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Rows to show (table: 20 by default; csv/json: all).")
@click.option("--format", "fmt", type=click.Choice(SWEEP_FORMATS), default="table",
              show_default=True, help="Output format (csv and json stream every row).")
@click.option("-o", "--output", "plot", type=click.Path(dir_okay=False), default=None,
              help="Plot the Pareto front to FILE.png or FILE.svg (needs --pareto).")
@input_size_option
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size for the training-memory peak.")
@dtype_option
@optimizer_option
@click.option("--device", default=None, metavar="NAME",
              help="Add the training step's time bounds on this device (time, time_upper: "
                   "cpu-local from `convplan calibrate`, h100, tpu-v5e, ...; docs/time.md) "
                   "at --batch and --dtype; --pareto/--sort/--where can use time.")
@click.option("--invalid", "include_invalid", is_flag=True,
              help="List combinations Keras would reject too, with the reason.")
@click.option("--chunk-size", type=click.IntRange(min=1, max=2**22), default=65_536,
              hidden=True)
def command(spec: str, varies: tuple[str, ...], where: tuple[str, ...], pareto: str | None,
            sort_by: str | None, limit: int | None, fmt: str, plot: str | None,
            input_size: str | None, batch: int, dtype: str, optimizer: str,
            device: str | None, include_invalid: bool, chunk_size: int) -> None:
    """Evaluate every combination of the --vary choices on SPEC.

    Shows, per combination, the output shape, receptive field, params, MACs, FLOPs and a
    training-memory peak. Numeric choices (kernel sizes, strides, dilations, filters,
    units, input sizes) are evaluated from the symbolic formulas on numpy arrays; categorical
    ones (padding, activation, ...) are enumerated, one derivation each.

    \b
    Examples:
      convplan sweep examples/seed_cnn.yaml --vary 'conv*.strides=1,2' \\
          --vary 'conv*.padding=valid,same' --vary 'conv*.dilation_rate=1..3'
      convplan sweep examples/seed_cnn.yaml --vary conv1.filters=8..128:8 \\
          --vary input.size=28..224:28 --where 'rf>=16' --pareto macs,-rf -o front.png
      convplan sweep examples/seed_cnn.yaml --vary conv1.filters=8..128:8 \\
          --device h100 --dtype mixed_bfloat16 --batch 256 --pareto time,-rf
    """
    from convplan import load
    from convplan.errors import UsageError
    from convplan.explore.choices import parse_varies
    from convplan.explore.run import parse_objectives, run_sweep
    from convplan.explore.sweep import Sweep, SweepOptions
    from convplan.explore.where import parse_where
    from convplan.report import sweep_report as R

    graph = load(spec)
    dtype = resolve_dtype(dtype, graph)
    sweep = Sweep(graph, parse_varies(graph, list(varies)),
                  SweepOptions(batch=batch, dtype=dtype, optimizer=optimizer,
                               input_size=parse_input_size(input_size), chunk_size=chunk_size,
                               device=device))
    conditions = parse_where(sweep, where)
    objectives = parse_objectives(sweep, pareto) if pareto else None
    sort = parse_objectives(sweep, sort_by, "--sort")[0] if sort_by else None
    if pareto and sort:
        raise UsageError("give --pareto or --sort, not both")
    if plot:
        from convplan.report.sweep_plot import check_plot_path

        if not objectives or len(objectives) < 2:
            raise UsageError("-o plots the Pareto front: give --pareto with two metrics, for "
                             "example --pareto macs,-rf")
        check_plot_path(plot)
    out = sys.stdout
    write_data = _bytes_writer(out)
    streaming = fmt != "table" and not objectives and not sort and limit is None
    state = {"first": True}

    def sink(chunk) -> None:
        pieces = (R.csv_row_pieces(sweep, chunk) if fmt == "csv" else
                  R.json_row_pieces(sweep, chunk, state["first"]))
        for piece in pieces:
            write_data(piece)
        if fmt != "csv":
            state["first"] = state["first"] and not len(chunk)

    if fmt == "csv":
        out.write(R.csv_header(sweep))
    elif fmt == "json":
        out.write(R.json_start(sweep))
    with progress(sweep.total, "sweep") as bar:
        result = run_sweep(sweep, conditions, objectives, sort, limit, include_invalid,
                           sink if streaming else None, 20_000 if plot else 0, bar.advance)
    if fmt == "table":
        out.write(R.render_sweep_table(sweep, result, result.rows,
                                       _mode(objectives, sort, limit is not None)))
    elif fmt == "csv" and not streaming and result.rows is not None:
        write_data(R.csv_rows_data(sweep, result.rows))
    elif fmt == "json":
        if not streaming and result.rows is not None:
            write_data(R.json_rows_data(sweep, result.rows, True))
        out.write(R.json_end(sweep, result, objectives))
    if plot:
        from convplan.report.sweep_plot import plot_front

        plot_front(plot, sweep, result.rows, result.sample, objectives, result.matched)
        click.echo(f"wrote {plot}", err=True)
