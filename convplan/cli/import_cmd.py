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
    """Convert a Keras model file (model.to_json() JSON or a .keras archive) or an ONNX model
    into a readable convplan spec that analyzes to the same numbers (ONNX: in Keras's terms,
    explicit padding as ZeroPadding layers).

    Only the model's config is read: never its weights, and never TensorFlow.

    \b
    Examples:
      convplan import resnet50.json -o resnet50.yaml
      convplan import resnet18.onnx -o resnet18.yaml
      convplan import model.keras --custom-layer MyGate=identity,params_per_channel=1
    """
    from convplan.frontends.detect import load_keras_file
    from convplan.frontends.spec_writer import write_spec

    if model.lower().endswith(".onnx"):
        from convplan.frontends.keras_port import to_keras_semantics
        from convplan.frontends.onnx_model import load_onnx

        graph = to_keras_semantics(load_onnx(model))
        header = (f"Imported by `convplan import` from {model} (ONNX).\n"
                  "Keras semantics: explicit pads are ZeroPadding + 'valid' layers, so Keras "
                  "computes what the ONNX model does; names are the ONNX nodes'; no weights.")
    else:
        graph = load_keras_file(model, parse_custom_layers(custom_layers))
        header = (f"Imported by `convplan import` from {model}.\n"
                  "Layer names, attributes and wiring are the Keras model's; weights are "
                  "not part of a spec.")
    text = write_spec(graph, header=header)
    if output:
        from convplan.report.files import write_text_atomic

        write_text_atomic(output, text)
        click.echo(f"wrote {output} ({len(graph)} layers)", err=True)
    else:
        click.echo(text, nl=False)
