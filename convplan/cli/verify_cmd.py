"""`convplan verify SPEC|MODEL`."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from convplan.cli.common import (
    custom_layer_option,
    input_size_option,
    parse_custom_layers,
    parse_input_size,
)

if TYPE_CHECKING:
    from convplan.frontends.detect import Sniffed
    from convplan.ir.graph import Graph

# building, finding the layers, running, measuring, fields, comparing; then field lines
STEPS = 6


@click.command("verify")
@click.argument("source", type=click.Path(dir_okay=False))
@input_size_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
@click.option("--no-fields", is_flag=True, help="Skip the receptive-field measurement.")
@click.option("--field-budget", metavar="MEMORY,TIME", default=None,
              help="Most memory and time the receptive-field measurement may take: 2GiB,60s "
              "by default. Over the estimate, a sample of input positions is probed, or the "
              "measurement is skipped; past the time, it stops; with a note.")
@custom_layer_option
@click.option("--module", "modules", multiple=True, metavar="MODULE",
              help="Import this Python module (from the current folder or PYTHONPATH) before "
              "loading the model: one that registers the model's own layer classes with Keras. "
              "Repeatable.")
def command(source: str, input_size: str | None, fmt: str, no_fields: bool,
            field_budget: str | None, custom_layers: tuple[str, ...] = (),
            modules: tuple[str, ...] = ()) -> None:
    """Build SOURCE in TensorFlow and compare it with the plan, layer by layer.

    SOURCE is a convplan spec (the model is built from it) or a Keras model (.keras or model
    JSON; the saved model itself is checked). For every layer: output shape (symbolic and from
    running the model), trainable and non-trainable params, MACs, and the receptive field
    measured in TensorFlow. Exit 1 on any mismatch. The arguments and the plan are checked
    before TensorFlow is imported; progress goes to stderr (one line per stage in a pipe).

    \b
    Examples:
      convplan verify examples/seed_cnn.yaml
      convplan verify examples/resnet50.yaml --input-size 64x64 --format json
      convplan verify model.keras --field-budget 4GiB,300s
      convplan verify model.keras --custom-layer Down=strides=2,padding=same,filters=64

    A declared layer (--custom-layer) is compared with the real one in the saved model, so
    Keras must know its class: name the module that registers it with --module. Its
    receptive field is measured on a convolution of the declared window.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from convplan.cli.console import progress
    from convplan.cli.main import PARAMETER_FLAGS
    from convplan.errors import cli_message
    from convplan.frontends.detect import sniff
    from convplan.verify.budget import FIELD_PROGRESS_LINES, parse_field_budget
    from convplan.verify.compare import verify_model
    from convplan.verify.table import render_json, render_text

    size = parse_input_size(input_size)
    budget = parse_field_budget(field_budget)
    sniffed = sniff(source)
    graph, origins = traced_graph(sniffed, parse_custom_layers(custom_layers))
    import_modules(modules)
    with tempfile.TemporaryDirectory(prefix="convplan-verify-") as folder, \
            progress(STEPS + FIELD_PROGRESS_LINES, "verify", lines="verify: ") as bar:
        result = verify_model(graph, input_size=size, model_path=saved_model_path(sniffed, folder),
                              fields=not no_fields, origins=origins, budget=budget,
                              step=bar.step)
    result = dataclasses.replace(result, notes=tuple(cli_message(note, PARAMETER_FLAGS)
                                                     for note in result.notes))
    click.echo(render_json(result) if fmt == "json" else render_text(result), nl=False)
    if not result.ok:
        raise click.exceptions.Exit(1)


def import_modules(modules: tuple[str, ...]) -> None:
    """Import each --module (the current folder first on the path, as `python -m` has it), so
    the custom layer classes it registers are found when Keras loads the model."""
    import importlib
    import sys

    from convplan.errors import UsageError

    if modules and "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise UsageError(f"--module {name}: cannot import it ({exc})") from None


def traced_graph(sniffed: Sniffed, custom_layers: dict | None = None) -> tuple[Graph, dict]:
    """The file's Graph and, for a Keras model file, where each node came from (see
    frontends.keras_model.Origin), so verify finds nested layers and keras.ops nodes;
    `custom_layers` as for `analyze`."""
    from convplan.frontends.detect import KERAS_ARCHIVE, graph_of
    from convplan.frontends.keras_archive import read_archive_config
    from convplan.frontends.keras_model import traced_graph_from_keras_config

    if not sniffed.is_keras:
        return graph_of(sniffed, custom_layers), {}
    data = read_archive_config(sniffed.path) if sniffed.kind == KERAS_ARCHIVE else sniffed.data
    return traced_graph_from_keras_config(data, source=str(sniffed.path),
                                          custom_layers=custom_layers)


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
