"""Entry point. Subcommands live in their own modules and are imported only when run, so
`convplan --help` stays fast and never imports TensorFlow (or sympy)."""

from __future__ import annotations

import importlib
import os
import sys

import click

from convplan import __version__

# subcommand -> (module, one-line help shown by `convplan --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("convplan.cli.analyze_cmd", "Shapes, params, MACs/FLOPs, memory and receptive "
                "fields of every layer."),
    "schema": ("convplan.cli.schema_cmd", "Print the JSON Schema of the spec format."),
}

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        return importlib.import_module(COMMANDS[name][0]).command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Example: convplan analyze examples/seed_cnn.yaml --input-size 56x56")
@click.version_option(__version__, prog_name="convplan")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Plan convolutional networks before training them."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; ConvplanError -> one line on stderr and exit 2."""
    from convplan.errors import ConvplanError

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="convplan", standalone_mode=False)
    except ConvplanError as exc:
        if debug:
            raise
        click.echo(f"convplan: error: {exc}", err=True)
        return EXIT_BAD_INPUT
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return EXIT_BAD_INPUT
    except click.exceptions.Abort:
        click.echo("convplan: aborted", err=True)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return EXIT_OK


def run() -> None:
    sys.exit(main())
