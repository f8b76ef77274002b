"""`convplan generate SPEC -o DIR`."""

from __future__ import annotations

import click

from convplan.cli.common import input_size_option, parse_input_size
from convplan.codegen.datasets import DATASETS
from convplan.codegen.targets import TARGETS


@click.command("generate")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=False),
              help="Folder to write the project to (created; must be empty unless --force).")
@click.option("--target", type=click.Choice(list(TARGETS)), default="cpu", show_default=True,
              help="Where the project is meant to train (defaults and README; the strategy "
                   "itself is chosen when train.py runs).")
@click.option("--dataset", type=click.Choice(list(DATASETS)), default=None,
              help="Default dataset of train.py (default: the keras dataset that fits the "
                   "input and classes, synthetic for segmentation, else an image folder).")
@input_size_option
@click.option("--force", is_flag=True,
              help="Replace a folder an earlier `convplan generate` wrote (never other folders).")
def command(spec: str, output: str, target: str, dataset: str | None, input_size: str | None,
            force: bool) -> None:
    """Write a runnable Keras training project for the network in SPEC.

    The project holds model.py (the network, layer names as planned), data.py, train.py,
    evaluate.py, visualize.py, plan.json and PLAN.md (the analysis), a README, and tests that
    check the model against the plan layer by layer. The same spec and convplan version give
    byte-identical files. Nothing is written unless every file rendered.

    \b
    Examples:
      convplan generate examples/seed_cnn.yaml -o seed_project
      convplan generate examples/unet_segmentation.yaml -o unet_project --target multi-worker
    """
    from convplan import load
    from convplan.codegen import generate_project

    graph = load(spec)
    folder, files = generate_project(graph, output, target=target, dataset=dataset,
                                     input_size=parse_input_size(input_size), force=force)
    click.echo(f"wrote {len(files)} files to {folder} ({target} target)")
    click.echo(f"next: cd {folder} && pip install -r requirements.txt && python -m pytest -q "
               "&& python train.py --epochs 10")
