"""The `convplan` group: help, version, start-up cost, exit codes, one-line errors, --debug,
shell completion; through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import click
import pytest
from cli_run import CONSOLE_SCRIPT, HEAVY, ROOT, SEED, clean_env, one_error_line, run_cli

import convplan
from convplan.cli import main as cli_main


def test_help_lists_the_commands_with_examples_and_completion():
    result = run_cli("--help")
    assert result.returncode == 0 and result.stderr == ""
    for name in ("analyze", "plot", "schema"):
        assert f"\n  {name} " in result.stdout
    assert "convplan analyze examples/seed_cnn.yaml" in result.stdout
    assert "_CONVPLAN_COMPLETE=bash_source convplan" in result.stdout
    assert "Exit codes: 0 success, 1 findings or mismatches, 2 bad input or usage" in result.stdout


def test_version_through_the_console_script_and_python_m():
    expected = f"convplan, version {convplan.__version__}\n"
    assert run_cli("--version").stdout == expected
    script = subprocess.run([str(CONSOLE_SCRIPT), "--version"], capture_output=True, text=True,
                            env=clean_env(), timeout=60)
    assert (script.returncode, script.stdout) == (0, expected)


PROBE = """
import contextlib, io, json, sys
from convplan.cli.main import main
codes, outs = [], []
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        codes.append(main(argv))
    outs.append(out.getvalue())
print(json.dumps({"codes": codes, "outs": outs,
                  "loaded": [m for m in sys.argv[2].split(",") if m in sys.modules]}))
"""


def probe(argvs: list[list[str]], heavy=HEAVY) -> dict:
    """Run `main(argv)` for each argv in a fresh interpreter; report exit codes and which of
    the heavy modules got imported."""
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argvs), ",".join(heavy)],
                            capture_output=True, text=True, cwd=ROOT, env=clean_env(),
                            timeout=180)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_help_imports_nothing_heavy():
    report = probe([["--help"], ["analyze", "--help"], ["plot", "--help"], ["generate", "--help"],
                    ["check", "--help"]])
    assert report["codes"] == [0] * 5
    assert report["loaded"] == []


def test_analyze_never_imports_tensorflow_nor_matplotlib():
    report = probe([["analyze", str(SEED)], ["analyze", str(SEED), "--format", "json"],
                    ["analyze", str(SEED), "--format", "markdown"]],
                   heavy=("tensorflow", "keras", "matplotlib"))
    assert report["codes"] == [0, 0, 0]
    assert report["loaded"] == []


def test_every_registered_command_has_help_with_an_example_and_no_tensorflow():
    names = sorted(cli_main.COMMANDS)
    report = probe([[name, "--help"] for name in names], heavy=("tensorflow", "keras"))
    assert dict(zip(names, report["codes"])) == dict.fromkeys(names, 0)
    assert report["loaded"] == []
    missing = [name for name, text in zip(names, report["outs"]) if "Example" not in text]
    assert missing == [], f"--help without a worked example: {missing}"


@pytest.mark.parametrize(("args", "fragment"), [
    (["nosuch"], "No such command 'nosuch'"),
    (["analyze", str(SEED), "--bogus"], "No such option '--bogus' (see 'convplan analyze --help')"),
    (["analyze", "missing.yaml"], "missing.yaml: no such file"),
    (["analyze", str(SEED), "--input-size", "0x5"], "--input-size"),
    (["analyze", str(SEED), "--input-size", "5"], "--input-size 5 has 1 spatial dimensions"),
    (["analyze", str(SEED), "--format", "yaml"], "Invalid value for '--format'"),
    (["plot", str(SEED)], "Missing option '-o'"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_2(args, fragment):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert fragment in one_error_line(result.stderr)


def test_bad_spec_names_the_layer(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ninputs: {x: [8, 8, 1]}\nlayers:\n"
                    "  - {name: conv1, op: Conv2D, filters: 4, kernel_size: 9}\n")
    result = run_cli("analyze", spec)
    assert result.returncode == 2 and result.stdout == ""
    assert "conv1" in one_error_line(result.stderr)


def test_debug_shows_the_traceback():
    for args, env in ((["--debug", "analyze", "missing.yaml"], clean_env()),
                      (["analyze", "missing.yaml"], clean_env(CONVPLAN_DEBUG="1"))):
        result = run_cli(*args, env=env)
        assert result.returncode == 2
        assert "Traceback (most recent call last)" in result.stderr
        assert "SpecError: missing.yaml: no such file" in result.stderr


def test_bare_convplan_prints_usage_and_exits_2():
    result = run_cli()
    assert result.returncode == 2 and result.stdout == ""
    assert "Usage: convplan [OPTIONS] COMMAND" in result.stderr


def fake_command(monkeypatch, body) -> None:
    """Register `convplan fake`, whose callback is `body`."""
    module = types.ModuleType("convplan_fake_cmd")
    module.command = click.command("fake")(body)
    monkeypatch.setitem(sys.modules, "convplan_fake_cmd", module)
    monkeypatch.setitem(cli_main.COMMANDS, "fake", ("convplan_fake_cmd", "A test command."))


def test_a_bug_is_one_line_unless_debugging(monkeypatch, capsys):
    def boom() -> None:
        raise RuntimeError("list index\nout of range")

    fake_command(monkeypatch, boom)
    assert cli_main.main(["fake"]) == 2
    err = capsys.readouterr().err
    assert err == ("convplan: internal error (a bug in convplan): RuntimeError: list index out "
                   "of range. Rerun with --debug for the traceback\n")
    assert cli_main.main(["--debug", "fake"]) == 2
    assert "Traceback (most recent call last)" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["return", "ctx.exit"])
def test_a_command_reports_findings_with_exit_1(monkeypatch, capsys, how):
    @click.pass_context
    def findings(ctx: click.Context) -> int:
        click.echo("1 finding")
        if how == "ctx.exit":
            ctx.exit(1)
        return 1

    fake_command(monkeypatch, findings)
    assert cli_main.main(["fake"]) == 1
    assert capsys.readouterr().out == "1 finding\n"


def test_unwritable_output_is_one_line(tmp_path):
    result = run_cli("analyze", SEED, "-o", tmp_path / "no" / "such" / "dir" / "r.txt")
    assert result.returncode == 2
    assert "does not exist" in one_error_line(result.stderr)


def test_shell_completion_script_and_candidates():
    script = run_cli(env=clean_env(_CONVPLAN_COMPLETE="bash_source"))
    assert script.returncode == 0
    assert "_convplan_completion()" in script.stdout
    assert "complete -o nosort -F _convplan_completion convplan" in script.stdout
    words = run_cli(env=clean_env(_CONVPLAN_COMPLETE="bash_complete",
                                  COMP_WORDS="convplan an", COMP_CWORD="1"))
    assert "plain,analyze" in words.stdout.splitlines()
    options = run_cli(env=clean_env(_CONVPLAN_COMPLETE="bash_complete",
                                    COMP_WORDS="convplan plot x.yaml --ki", COMP_CWORD="3"))
    assert "plain,--kind" in options.stdout.splitlines()
