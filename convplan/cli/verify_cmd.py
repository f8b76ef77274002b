"""`convplan verify SPEC|MODEL`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from convplan.cli.common import input_size_option, parse_input_size

if TYPE_CHECKING:
    from convplan.frontends.detect import Sniffed


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
    from convplan.frontends.detect import graph_of, sniff
    from convplan.verify.compare import verify_model
    from convplan.verify.table import render_json, render_text

    size = parse_input_size(input_size)
    sniffed = sniff(source)
    graph = graph_of(sniffed)
    with tempfile.TemporaryDirectory(prefix="convplan-verify-") as folder:
        result = verify_model(graph, input_size=size, model_path=saved_model_path(sniffed, folder),
                              fields=not no_fields)
    click.echo(render_json(result) if fmt == "json" else render_text(result), nl=False)
    if not result.ok:
        raise click.exceptions.Exit(1)


def saved_model_path(sniffed: Sniffed, folder: str) -> str | None:
    """The file Keras loads for a Keras model file (None for a spec: the model is built from
    it). Keras opens an archive only under a name ending in .keras, so an archive named
    otherwise (model.zip) is linked into `folder` under one."""
    from convplan.frontends.detect import ARCHIVE_SUFFIX, KERAS_ARCHIVE

    path = sniffed.path
    if sniffed.kind != KERAS_ARCHIVE or path.suffix == ARCHIVE_SUFFIX:
        return str(path) if sniffed.is_keras else None
    alias = Path(folder, path.stem + ARCHIVE_SUFFIX)
    try:
        alias.symlink_to(path.resolve())
    except OSError:  # no symbolic links here: a copy
        shutil.copyfile(path, alias)
    return str(alias)
