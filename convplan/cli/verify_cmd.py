"""`convplan verify SPEC|MODEL`."""

from __future__ import annotations

import os

import click

from convplan.cli.common import input_size_option, parse_input_size


@click.command("verify")
@click.argument("source", type=click.Path(dir_okay=False))
@input_size_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
@click.option("--no-fields", is_flag=True, help="Skip the receptive-field measurement.")
def command(source: str, input_size: str | None, fmt: str, no_fields: bool) -> None:
    """Build SOURCE in TensorFlow and compare it with the plan, layer by layer.

    SOURCE is a convplan spec (the model is built from it) or a Keras model (.keras or model
    JSON; the saved model itself is checked). For every layer: output shape (symbolic and from
    running the model), trainable and non-trainable params, MACs, and the receptive field
    measured in TensorFlow. Exit 1 on any mismatch.

    \b
    Examples:
      convplan verify examples/seed_cnn.yaml
      convplan verify examples/resnet50.yaml --input-size 64x64 --format json
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from convplan import load
    from convplan.verify.compare import verify_model
    from convplan.verify.table import render_json, render_text

    size = parse_input_size(input_size)
    graph = load(source)
    is_model = source.endswith(".keras") or _is_keras_json(source)
    result = verify_model(graph, input_size=size, model_path=source if is_model else None,
                          fields=not no_fields)
    click.echo(render_json(result) if fmt == "json" else render_text(result), nl=False)
    if not result.ok:
        raise click.exceptions.Exit(1)


def _is_keras_json(path: str) -> bool:
    from convplan.frontends.detect import is_keras_config
    from convplan.frontends.loader import parse_text, read_text

    if not path.endswith(".json"):
        return False
    return is_keras_config(parse_text(read_text(path), path))
