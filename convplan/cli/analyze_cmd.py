"""`convplan analyze SPEC`."""

from __future__ import annotations

import click

from convplan.cli.common import (
    batch_option,
    dtype_option,
    input_size_option,
    optimizer_option,
    parse_input_size,
)


@click.command("analyze")
@click.argument("spec", type=click.Path(dir_okay=False))
@input_size_option
@batch_option
@dtype_option
@optimizer_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown", "html"]),
              default="table", show_default=True, help="Output format.")
@click.option("--no-symbolic", is_flag=True, help="Skip the formulas (faster on huge graphs).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the report to a file instead of stdout.")
def command(spec: str, input_size: str | None, batch: int | None, dtype: str, optimizer: str,
            fmt: str, no_symbolic: bool, output: str | None) -> None:
    """Analyze SPEC (a convplan spec, Keras model JSON or .keras file).

    Prints every layer's output shape, params, MACs, FLOPs, activation size and receptive
    field, the totals, a training-memory estimate, and the formulas in the input size.

    \b
    Examples:
      convplan analyze examples/seed_cnn.yaml
      convplan analyze examples/seed_cnn.yaml --input-size 56x56 --batch 64 --format json
    """
    from convplan import load
    from convplan.analysis import analyze
    from convplan.report.render import render_analysis

    size = parse_input_size(input_size)
    graph = load(spec)
    concrete = analyze(graph, input_size=size)
    symbolic = None if no_symbolic else analyze(graph, generalize=True)
    text = render_analysis(fmt, concrete, symbolic, batch=batch, dtype=dtype,
                           optimizer=optimizer, input_size=size)
    if output:
        from convplan.report.files import write_text_atomic

        write_text_atomic(output, text)
    else:
        click.echo(text, nl=False)
