"""`convplan import MODEL -o spec.yaml`."""

from __future__ import annotations

import click

from convplan.cli.common import custom_layer_option, parse_custom_layers


@click.command("import")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the spec to this file instead of stdout.")
@custom_layer_option
def command(model: str, output: str | None, custom_layers: tuple[str, ...]) -> None:
    """Convert a Keras model file (model.to_json() JSON or a .keras archive) into a readable
    convplan spec that analyzes to the same numbers.

    Only the model's config is read: never its weights, and never TensorFlow.

    \b
    Examples:
      convplan import resnet50.json -o resnet50.yaml
      convplan import model.keras --custom-layer MyGate=identity,params_per_channel=1
    """
    from convplan.frontends.detect import load_keras_file
    from convplan.frontends.spec_writer import write_spec

    graph = load_keras_file(model, parse_custom_layers(custom_layers))
    text = write_spec(graph, header=f"Imported by `convplan import` from {model}.\n"
                      "Layer names, attributes and wiring are the Keras model's; weights are "
                      "not part of a spec.")
    if output:
        from convplan.report.files import write_text_atomic

        write_text_atomic(output, text)
        click.echo(f"wrote {output} ({len(graph)} layers)", err=True)
    else:
        click.echo(text, nl=False)
