"""`convplan schema`."""

from __future__ import annotations

import json

import click


@click.command("schema")
def command() -> None:
    """Print the JSON Schema of the spec format (for editor completion).

    \b
    Example:
      convplan schema > convplan.schema.json
      # then, in VS Code settings: "yaml.schemas": {"convplan.schema.json": "*.convplan.yaml"}
    """
    from convplan.frontends.schema import spec_schema

    click.echo(json.dumps(spec_schema(), indent=2))
