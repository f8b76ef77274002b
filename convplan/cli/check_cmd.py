"""`convplan check PATH...`, `convplan rules` and `convplan explain CODE`."""

from __future__ import annotations

import click

from convplan.cli.common import parse_input_size
from convplan.options import CHECK_FORMATS, CHECK_TARGETS, DTYPES, RULES_FORMATS

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


def _codes(values: tuple[str, ...]) -> list[str]:
    return [code.strip() for value in values for code in value.split(",") if code.strip()]


def _severities(values: tuple[str, ...]) -> dict[str, str]:
    from convplan.errors import UsageError

    out = {}
    for value in values:
        code, sep, level = value.partition("=")
        if not sep or not code.strip():
            raise UsageError(f"--severity takes CODE=LEVEL (for example CP404=warning), "
                             f"received {value!r}")
        out[code.strip()] = level.strip()
    return out


@click.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(CHECK_FORMATS),
              default="text", show_default=True, help="Output format.")
@click.option("--select", multiple=True, metavar="CODES",
              help="Only these rules (codes, prefixes such as CP4, or names; comma-separated).")
@click.option("--ignore", multiple=True, metavar="CODES", help="Skip these rules.")
@click.option("--severity", "severity", multiple=True, metavar="CODE=LEVEL",
              help="Override a rule's severity: error, warning or info (repeatable).")
@click.option("--target", type=click.Choice(CHECK_TARGETS), default=None,
              help="Hardware to check the fit for.")
@click.option("--port", type=click.Choice(("torch", "onnx")), default=None,
              help="Check a Keras design for moving to PyTorch/ONNX (portability rules CP5xx).")
@click.option("--dtype", default=None,
              type=click.Choice(list(DTYPES)), help="Compute dtype (memory, alignment).")
@click.option("--device", default=None, metavar="NAME",
              help="Device to check time and memory fit on (h100, t4, tpu-v5e, ..., "
                   "cpu-local; CP305, CP306).")
@click.option("--batch", type=click.IntRange(min=1), default=None,
              help="Batch per replica (memory budgets, alignment).")
@click.option("--input-size", "input_size", metavar="HxW", default=None,
              help="Check at this spatial input size (budgets on symbolic specs).")
@click.option("--exclude", multiple=True, metavar="GLOB",
              help="Skip files and folders matching this glob when walking folders.")
@click.option("--models-only", is_flag=True,
              help="Skip named files that are not specs or Keras models (for pre-commit).")
@click.option("--isolated", is_flag=True, help="Ignore [tool.convplan] in pyproject.toml.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when error findings remain.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the report to a file instead of stdout.")
def command(paths: tuple[str, ...], fmt: str, select: tuple[str, ...], ignore: tuple[str, ...],
            severity: tuple[str, ...], target: str | None, dtype: str | None, batch: int | None,
            input_size: str | None, exclude: tuple[str, ...], models_only: bool, isolated: bool,
            exit_zero: bool, output: str | None, port: str | None = None,
            device: str | None = None) -> None:
    """Check model specs, Keras model JSON and .keras files for design problems.

    PATHS are files or folders (searched for *.yaml, *.yml, *.json and *.keras; files in
    folders that are not models are skipped). Settings come from [tool.convplan] in the
    nearest pyproject.toml, the spec's `checks:` section, then these options.

    Exit status: 0 clean, 1 when an error-level finding remains, 2 on bad input.

    \b
    Examples:
      convplan check models/
      convplan check models/ --format sarif -o convplan.sarif
      convplan check unet.yaml --select CP1 --severity CP105=error
    """
    from convplan.checks import check_paths, load_rules
    from convplan.cli.main import PARAMETER_FLAGS
    from convplan.errors import cli_message
    from convplan.report.check_formats import render_findings

    overrides: dict = {}
    if select:
        overrides["select"] = _codes(select)
    if ignore:
        overrides["ignore"] = _codes(ignore)
    if severity:
        overrides["severity"] = _severities(severity)
    for key, value in (("target", target), ("port", port), ("dtype", dtype), ("batch", batch),
                       ("device", device)):
        if value is not None:
            overrides[key] = value
    if input_size is not None:
        overrides["input_size"] = list(parse_input_size(input_size) or ())
    if exclude:
        overrides["exclude"] = list(exclude)
    reports = check_paths(paths, overrides=overrides, isolated=isolated,
                          models_only=models_only)
    for report in reports:
        if report.error is not None:
            click.echo(f"convplan: error: {cli_message(report.error, PARAMETER_FLAGS)}",
                       err=True)
    text = render_findings(fmt, reports, load_rules())
    if output:
        from convplan.report.files import write_text_atomic

        write_text_atomic(output, text)
    else:
        click.echo(text, nl=False)
    if any(report.error is not None for report in reports):
        raise click.exceptions.Exit(EXIT_BAD_INPUT)
    if not exit_zero and any(f.severity == "error" for r in reports for f in r.findings):
        raise click.exceptions.Exit(EXIT_FINDINGS)


@click.command("rules")
@click.option("--format", "fmt", type=click.Choice(RULES_FORMATS),
              default="text", show_default=True,
              help="Output format (markdown: the full reference with examples, as in "
              "docs/checks.md).")
def rules_command(fmt: str) -> None:
    """List every check: code, name, default severity and what it finds.

    \b
    Examples:
      convplan rules
      convplan rules --format json
      convplan rules --format markdown
    """
    from convplan.checks import load_rules
    from convplan.checks.examples import EXAMPLES
    from convplan.report.check_formats import render_rules

    click.echo(render_rules(load_rules(), fmt, EXAMPLES), nl=False)


@click.command("explain")
@click.argument("code")
def explain_command(code: str) -> None:
    """Explain one check (by code such as CP104, or name): why it matters, an example that
    triggers it, and the fix.

    \b
    Example:
      convplan explain CP104
    """
    from convplan.checks import find_rule
    from convplan.checks.examples import EXAMPLES
    from convplan.errors import UsageError
    from convplan.report.check_formats import render_explanation

    rule = find_rule(code)
    if rule is None:
        raise UsageError(f"unknown rule {code!r}; `convplan rules` lists them")
    click.echo(render_explanation(rule, EXAMPLES.get(rule.code)), nl=False)
