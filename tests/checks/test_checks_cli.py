"""`convplan check`, `rules` and `explain` through the real entry point: exit codes, the four
output formats (SARIF validated against the official 2.1.0 schema), folders, and no TensorFlow."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from convplan.checks.examples import EXAMPLES, SEED
from convplan.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "data" / "sarif-2.1.0.json"
CLEAN = """\
inputs: {image: [32, 32, 3]}
layers:
  - {name: conv, op: Conv2D, filters: 16, kernel_size: 3, padding: same}
  - {name: pool, op: MaxPooling2D, pool_size: 2}
"""
EMPTY_OUTPUT = EXAMPLES["CP101"][0]  # error CP101 on line 3


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(["check", "--isolated", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---------------------------------------------------------------- exit codes and text


def test_clean_spec_exits_0(tmp_path, capsys):
    code, out, err = run(capsys, write(tmp_path, "ok.yaml", CLEAN))
    assert (code, err) == (0, "")
    assert out == "All checks passed (1 file checked).\n"


def test_error_finding_exits_1_with_a_ruff_style_line(tmp_path, capsys):
    path = write(tmp_path, "bad.yaml", EMPTY_OUTPUT)
    code, out, err = run(capsys, path)
    assert code == 1 and err == ""
    first = out.splitlines()[0]
    assert re.match(rf"^{re.escape(str(path))}:3:1: CP101 \[error\] layer 'conv' \(Conv2D\): ",
                    first)
    assert out.splitlines()[-1] == "Found 1 finding (1 error, 0 warnings, 0 info) in 1 of 1 file."


def test_warnings_alone_exit_0_and_exit_zero_forgives_errors(tmp_path, capsys):
    code, out, _ = run(capsys, write(tmp_path, "w.yaml", EXAMPLES["CP104"][0]))
    assert code == 0 and "CP104 [warning]" in out
    code, _, _ = run(capsys, "--exit-zero", write(tmp_path, "e.yaml", EMPTY_OUTPUT))
    assert code == 0
    code, out, _ = run(capsys, "--severity", "CP104=error", write(tmp_path, "w2.yaml",
                                                                  EXAMPLES["CP104"][0]))
    assert code == 1 and "CP104 [error]" in out


@pytest.mark.parametrize("text, message", [
    ("layers: [\n", "malformed YAML"),
    ("name: x\ninputs: {image: [8, 8, 1]}\nlayers:\n  - {name: c, op: Conv9D}\n",
     "unknown op 'Conv9D'"),
    ("inputs: {image: [8, 8, 1]}\nlayers:\n  - {name: c, op: Conv2D, filters: 2, "
     "kernel_size: 3, inputs: nowhere}\n", "not a layer or input"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, text, message):
    code, out, err = run(capsys, write(tmp_path, "broken.yaml", text))
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert err.startswith("convplan: error: ") and "broken.yaml" in err
    assert "1 file could not be checked" in out


def test_missing_path_is_bad_input(tmp_path, capsys):
    code, _, err = run(capsys, tmp_path / "nope.yaml")
    assert code == 2 and "no such file" in err


def test_bad_input_wins_over_findings_and_other_files_are_still_checked(tmp_path, capsys):
    code, out, err = run(capsys, write(tmp_path, "a.yaml", EMPTY_OUTPUT),
                         write(tmp_path, "b.yaml", "layers: [\n"))
    assert code == 2 and "CP101" in out and "b.yaml" in err


def test_json_spec_lines_point_at_the_layer(tmp_path, capsys):
    text = ('{\n  "inputs": {"image": [5, 5, 1]},\n  "layers": [\n'
            '    {"name": "conv", "op": "Conv2D", "filters": 8, "kernel_size": 7}\n  ]\n}\n')
    code, out, _ = run(capsys, "--format", "json", write(tmp_path, "m.json", text))
    (finding,) = json.loads(out)
    assert code == 1 and finding["line"] == 4 and finding["code"] == "CP101"


# ---------------------------------------------------------------- folders


def test_folders_are_walked_for_models_only(tmp_path, capsys):
    write(tmp_path, "models/a.yaml", CLEAN)
    write(tmp_path, "models/deep/b.yml", EMPTY_OUTPUT)
    write(tmp_path, "models/ci.yml", "on: push\njobs: {}\n")  # not a model: skipped
    write(tmp_path, "models/package.json", '{"name": "x"}')  # not a model: skipped
    write(tmp_path, "models/.hidden/c.yaml", "layers: [\n")  # hidden folder: skipped
    write(tmp_path, "models/skipme/d.yaml", "layers: [\n")
    code, out, err = run(capsys, "--format", "json", "--exclude", "skipme", tmp_path / "models")
    assert code == 1 and err == ""
    assert [Path(f["path"]).name for f in json.loads(out)] == ["b.yml"]
    code, out, _ = run(capsys, tmp_path / "models" / "ci.yml")  # named explicitly: checked
    assert code == 2
    code, out, _ = run(capsys, "--format", "json", tmp_path / "models" / "deep" / "b.yml",
                       tmp_path / "models" / "deep")
    assert len(json.loads(out)) == 1  # named twice, checked once


def test_pre_commit_hook_skips_files_that_are_not_models(tmp_path, capsys):
    """The hook passes every changed YAML/JSON file; its entry must skip non-models."""
    import shlex

    import yaml

    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    entry = shlex.split(hook["entry"])
    assert entry[:2] == ["convplan", "check"] and re.search(hook["files"], "a/b.yml")
    files = [write(tmp_path, ".github/workflows/ci.yml", "on: push\njobs: {}\n"),
             write(tmp_path, "models/bad.yaml", EMPTY_OUTPUT), write(tmp_path, "ok.json", "{}")]
    code = main([*entry[1:], "--isolated", *map(str, files)])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[-1] == "Found 1 finding (1 error, 0 warnings, 0 info) in 1 of 1 file."
    assert main([*entry[1:], "--isolated", str(files[0])]) == 0
    assert "(0 files checked)" in capsys.readouterr().out


def test_file_names_that_are_not_valid_network_names_still_load(tmp_path, capsys):
    """Regression: without `name:` the network was named after the file, and '2 model.yaml'
    was rejected as an invalid name the user never wrote."""
    from convplan import load

    path = write(tmp_path, "2 model.yaml", CLEAN)
    assert load(path).name == "_2_model"
    assert run(capsys, path)[0] == 0


# ---------------------------------------------------------------- formats


def test_json_findings_have_the_documented_fields(tmp_path, capsys):
    code, out, _ = run(capsys, "--format", "json", write(tmp_path, "w.yaml", EXAMPLES["CP104"][0]))
    findings = json.loads(out)
    assert code == 0 and findings
    for item in findings:
        assert {"code", "name", "severity", "path", "line", "layer", "message"} <= set(item)
    assert {f["code"] for f in findings} == {"CP104"}


def test_github_annotations(tmp_path, capsys):
    path = write(tmp_path, "bad.yaml", EMPTY_OUTPUT)
    code, out, _ = run(capsys, "--format", "github", path)
    assert code == 1
    assert out.startswith(f"::error file={path},line=3,col=1,title=CP101 empty-output::layer "
                          "'conv' (Conv2D): output height would be -1")


def _validate_sarif(text: str) -> dict:
    log = json.loads(text)
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(log)
    return log


def test_sarif_is_valid_against_the_official_schema(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "models/bad model.yaml", EMPTY_OUTPUT)
    write(tmp_path, "models/warn.yaml", EXAMPLES["CP404"][0])
    code, out, _ = run(capsys, "--format", "sarif", "models")
    assert code == 1
    log = _validate_sarif(out)
    run_ = log["runs"][0]
    rules = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    results = run_["results"]
    assert {r["ruleId"] for r in results} >= {"CP101", "CP404"}
    for result in results:
        assert rules[result["ruleIndex"]] == result["ruleId"]
    error = next(r for r in results if r["ruleId"] == "CP101")
    location = error["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "models/bad%20model.yaml"
    assert location["physicalLocation"]["region"]["startLine"] == 3
    assert location["logicalLocations"][0]["name"] == "conv"
    assert error["level"] == "error"
    assert run_["invocations"][0]["executionSuccessful"] is True


def test_sarif_reports_unreadable_files_as_notifications(tmp_path, capsys):
    code, out, _ = run(capsys, "--format", "sarif", write(tmp_path, "b.yaml", "layers: [\n"))
    log = _validate_sarif(out)
    invocation = log["runs"][0]["invocations"][0]
    assert code == 2 and invocation["executionSuccessful"] is False
    assert "malformed YAML" in invocation["toolExecutionNotifications"][0]["message"]["text"]


def test_output_file(tmp_path, capsys):
    target = tmp_path / "report.sarif"
    code, out, _ = run(capsys, "--format", "sarif", "-o", target, write(tmp_path, "a.yaml", CLEAN))
    assert code == 0 and out == ""
    _validate_sarif(target.read_text())


def test_command_line_select_and_settings(tmp_path, capsys):
    path = write(tmp_path, "s.yaml", SEED)
    code, out, _ = run(capsys, "--format", "json", "--select", "CP3", "--dtype", "mixed_float16",
                       "--batch", "100", path)
    assert {f["code"] for f in json.loads(out)} == {"CP301"}
    code, out, _ = run(capsys, "--format", "json", "--ignore", "CP406,CP3", path)
    assert json.loads(out) == []
    code, _, err = run(capsys, "--select", "CP999", path)
    assert code == 2 and "rule codes" in err


# ---------------------------------------------------------------- rules and explain


def test_docs_rules_reference_is_the_generated_one(capsys):
    """docs/checks.md embeds `convplan rules --format markdown` between markers."""
    text = (ROOT / "docs" / "checks.md").read_text()
    start = text.index("-->", text.index("<!-- rules:start")) + len("-->\n\n")
    embedded = text[start:text.index("\n<!-- rules:end -->")]
    assert main(["rules", "--format", "markdown"]) == 0
    assert embedded == capsys.readouterr().out, (
        "docs/checks.md is stale: paste `convplan rules --format markdown` between the markers")


def test_rules_lists_every_code(capsys):
    assert main(["rules", "--format", "json"]) == 0
    rules = json.loads(capsys.readouterr().out)
    assert len(rules) == len(EXAMPLES) and rules[0]["code"] == "CP100"
    assert main(["rules"]) == 0
    assert "CP404  asymmetric-same-padding" in capsys.readouterr().out


def test_explain_shows_the_example_and_the_fix(capsys):
    assert main(["explain", "floor-truncation"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CP104 floor-truncation (Shape validity, default severity warning)")
    assert "Example (triggers it):" in out and "Fixed:" in out and "[32, 32, 1]" in out
    assert main(["explain", "CP999"]) == 2
    assert "unknown rule 'CP999'" in capsys.readouterr().err


# ---------------------------------------------------------------- no TensorFlow


def test_check_never_imports_tensorflow(tmp_path):
    path = write(tmp_path, "a.yaml", EXAMPLES["CP105"][0])
    script = (
        "import sys\n"
        "from convplan.cli.main import main\n"
        f"code = main(['check', '--isolated', '--format', 'sarif', {str(path)!r}])\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules)\n"
        "print('IMPORTED', heavy, code, file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert "IMPORTED [] 0" in result.stderr, result.stderr


# ---------------------------------------------------------------- Keras model files


@pytest.mark.tf
def test_keras_json_and_archive_are_checked(tmp_path, keras):
    inputs = keras.Input((7, 7, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)  # 7 -> 3: one row and column dropped
    model = keras.Model(inputs, x)
    (tmp_path / "model.json").write_text(model.to_json())
    model.save(tmp_path / "model.keras")
    result = subprocess.run([sys.executable, "-m", "convplan", "check", "--isolated", "--format",
                             "json", str(tmp_path)], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)
    assert sorted(Path(f["path"]).name for f in findings if f["code"] == "CP104") == [
        "model.json", "model.keras"]
    assert all(f["layer"] == "pool" for f in findings if f["code"] == "CP104")


def test_an_unknown_keras_layer_is_bad_input_whose_hint_names_the_flag(tmp_path, capsys):
    """The library's message names the `custom_layers` parameter; check prints its flag."""
    from test_keras_import import layer, model

    path = write(tmp_path, "gated.json", json.dumps(model(layer("Gate", "gate", ["x"]))))
    code, _, err = run(capsys, path)
    assert code == 2 and "declare it, e.g. --custom-layer Gate=identity,params=N" in err, err
    assert "`custom_layers`" not in err
