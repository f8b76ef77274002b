"""Entry point. Subcommands live in their own modules and are imported only when run, so
`convplan --help` stays fast and never imports TensorFlow (or sympy)."""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import click

from convplan import __version__

# subcommand -> (module, or module:attribute, of the click command (attribute `command` by
# default); one-line help shown by `convplan --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("convplan.cli.analyze_cmd", "Shapes, params, MACs/FLOPs, memory and receptive "
                "fields of every layer."),
    "schema": ("convplan.cli.schema_cmd", "Print the JSON Schema of the spec format."),
    "calibrate": ("convplan.cli.calibrate_cmd", "Measure this machine's FLOP/s and memory "
                  "bandwidth and write the cpu-local device entry."),
    "import": ("convplan.cli.import_cmd", "Convert a Keras model (JSON or .keras) into a "
               "readable spec with the same analysis."),
    "check": ("convplan.cli.check_cmd", "Check specs and Keras models for design problems, "
              "with rule codes, budgets and CI output (exit 1 on errors)."),
    "rules": ("convplan.cli.check_cmd:rules_command", "List the checks of `convplan check`."),
    "explain": ("convplan.cli.check_cmd:explain_command", "Explain one check, with an example "
                "and the fix."),
    "generate": ("convplan.cli.generate_cmd", "Write a runnable Keras training project for "
                 "cpu, gpu, multi-gpu, multi-worker or tpu."),
    "verify": ("convplan.cli.verify_cmd", "Build the model in TensorFlow and compare every "
               "layer with the plan (exit 1 on a mismatch)."),
    "plot": ("convplan.cli.plot_cmd", "Draw the architecture and its charts to SVG or PNG."),
    "sweep": ("convplan.cli.sweep_cmd", "Evaluate every combination of attribute choices "
              "(strides, padding, dilation, filters, input size) with filters and Pareto fronts."),
    "solve": ("convplan.cli.solve_cmd", "Valid input sizes in closed form, the largest size or "
              "batch within a budget, the cheapest settings reaching a receptive field."),
}

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2
NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, _, attribute = COMMANDS[name][0].partition(":")
        return getattr(importlib.import_module(module), attribute or "command")

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


EPILOG = """\b
Examples:
  convplan analyze examples/seed_cnn.yaml --input-size 56x56
  convplan plot examples/seed_cnn.yaml -o seed_cnn.svg
  convplan COMMAND --help

\b
Shell completion (bash; zsh and fish alike, see docs/cli.md):
  eval "$(_CONVPLAN_COMPLETE=bash_source convplan)"
"""


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EPILOG)
@click.version_option(__version__, prog_name="convplan")
@click.option("--debug", is_flag=True,
              help="Show the traceback of an error (also: CONVPLAN_DEBUG=1).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Plan convolutional networks before training them.

    Exit codes: 0 success, 1 findings or mismatches, 2 bad input or usage. Errors are one
    line on stderr; stdout carries only the requested output. Colour only on a terminal,
    never with NO_COLOR.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def wants_debug(args: list[str]) -> bool:
    """--debug before the subcommand's name, or CONVPLAN_DEBUG set."""
    for arg in args:
        if arg == "--debug":
            return True
        if not arg.startswith("-"):
            break
    return os.environ.get("CONVPLAN_DEBUG", "") not in ("", "0")


def _error(text: str) -> int:
    click.echo("convplan: " + " ".join(text.split()), err=True)
    return EXIT_BAD_INPUT


# Library parameters named in error messages (convplan.errors) and the flags that set them.
PARAMETER_FLAGS: dict[str, str] = {
    "input_size": "--input-size", "batch": "--batch", "dtype": "--dtype",
    "optimizer": "--optimizer", "vary": "--vary", "where": "--where", "sort": "--sort",
    "pareto": "--pareto", "limit": "--limit", "custom_layers": "--custom-layer",
    "output": "--output", "force": "--force", "target": "--target", "dataset": "--dataset",
    "max_memory": "--max-memory", "max_macs": "--max-macs", "max_params": "--max-params",
    "target_rf": "--target-rf", "symbolic": "--symbolic/--no-symbolic",
    "no_symbolic": "--no-symbolic",
    "field_budget": "--field-budget", "modules": "--module", "device": "--device",
}


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: what the command returns when that is an int
    (1 for findings), else 0; 2 for bad input, usage or any error, as one line on stderr
    (with --debug, the traceback instead)."""
    from convplan.errors import ConvplanError, cli_message

    args = list(argv if argv is not None else sys.argv[1:])
    debug = wants_debug(args)
    try:
        result = cli.main(args=args, prog_name="convplan", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        return _error("aborted")
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if debug:
            traceback.print_exc()
            return EXIT_BAD_INPUT
        if isinstance(exc, ConvplanError):
            return _error(f"error: {cli_message(str(exc), PARAMETER_FLAGS)}")
        if isinstance(exc, NO_ARGS):  # bare `convplan`: the help, as click shows it
            click.echo(exc.format_message(), err=True)
            return EXIT_BAD_INPUT
        if isinstance(exc, click.UsageError):
            see = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            return _error(f"error: {exc.format_message().rstrip('.')}{see}")
        if isinstance(exc, click.ClickException):
            return _error(f"error: {exc.format_message()}")
        if isinstance(exc, OSError):
            where = f": {exc.filename}" if exc.filename else ""
            return _error(f"error: {exc.strerror or exc}{where}")
        return _error(f"internal error (a bug in convplan): {type(exc).__name__}: {exc}. "
                      "Rerun with --debug for the traceback")
    return result if isinstance(result, int) else EXIT_OK


def run() -> None:
    sys.exit(main())
