"""convplan check configuration: select/ignore/severity, the spec's `checks:` section,
[tool.convplan] in pyproject.toml, command-line overrides and per-layer suppression."""

from __future__ import annotations

import pytest

from convplan.checks import CheckConfig, apply_settings, check_file
from convplan.checks.config import config_for
from convplan.checks.examples import EXAMPLES, SEED
from convplan.errors import ConvplanError, SpecError, UsageError

TRUNCATING = EXAMPLES["CP104"][0]  # CP104 (warning) on pool3


def codes(report) -> list[str]:
    assert report.error is None, report.error
    return sorted(f.code for f in report.findings)


def write(tmp_path, text: str, name: str = "spec.yaml"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---------------------------------------------------------------- selection


def test_longest_matching_prefix_decides():
    config = apply_settings(CheckConfig(), {"select": ["CP4"], "ignore": ["CP40"]}, "test")
    assert not config.is_enabled("CP104")  # not selected
    assert not config.is_enabled("CP402")  # CP40 is longer than CP4
    config = apply_settings(config, {"select": ["CP4", "CP402"]}, "test")
    assert config.is_enabled("CP402") and not config.is_enabled("CP403")


def test_names_and_all_are_accepted():
    config = apply_settings(CheckConfig(), {"select": ["ALL"], "ignore": ["floor-truncation"]},
                            "test")
    assert config.select == ("CP",) and config.ignore == ("CP104",)


def test_unknown_code_is_rejected_with_a_hint():
    with pytest.raises(UsageError, match=r"did you mean CP104"):
        apply_settings(CheckConfig(), {"ignore": ["CP14"]}, "test")
    with pytest.raises(UsageError, match=r"unknown setting 'budget'; did you mean 'budgets'"):
        apply_settings(CheckConfig(), {"budget": {}}, "test")


def test_severity_override_by_prefix_and_code():
    config = apply_settings(CheckConfig(), {"severity": {"CP4": "error", "CP404": "warning"}},
                            "test")
    assert config.severity_of("CP401", "warning") == "error"
    assert config.severity_of("CP404", "info") == "warning"
    assert config.severity_of("CP104", "warning") == "warning"


@pytest.mark.parametrize("budget, value, expected", [
    ("max_params", "25M", 25_000_000), ("max_macs", "4.1G", 4_100_000_000),
    ("max_macs", "1e9", 10**9), ("max_flops", 1000, 1000), ("max_macs", 1.0e9, 10**9),
    ("max_training_memory", "16GiB", 16 * 2**30), ("max_training_memory", "500MB", 500_000_000),
    ("max_activation_memory", "1.5 KiB", 1536), ("max_activation_memory", "2e9", 2 * 10**9),
])
def test_budget_quantities(budget, value, expected):
    config = apply_settings(CheckConfig(), {"budgets": {budget: value}}, "test")
    assert getattr(config.budgets, budget) == expected


@pytest.mark.parametrize("budget, value", [
    ("max_params", "-3"), ("max_params", "12Q"), ("max_params", True), ("max_params", "1.5"),
    ("max_macs", "2GiB"), ("max_training_memory", "25M"), ("max_training_memory", 0.5),
])
def test_budget_quantities_refused(budget, value):
    with pytest.raises(UsageError, match=f"budgets.{budget} must be a"):
        apply_settings(CheckConfig(), {"budgets": {budget: value}}, "test")


def test_a_budget_in_a_spec_may_be_written_with_an_exponent(tmp_path):
    """YAML reads `1e6` as a string (its floats need a dot); the budget takes it all the same."""
    report = check_file(write(tmp_path, "checks: {budgets: {max_macs: 1e6}}\n" + SEED),
                        isolated=True)
    assert [f.message for f in report.findings if f.code == "CP202"] == [
        "MACs per example: 4.24M (4,241,152) is over max_macs = 1M (1,000,000); the largest "
        "share is layer 'conv2' with 85%"]


# ---------------------------------------------------------------- layers of settings


def test_spec_section_selects_and_sets_severity(tmp_path):
    path = write(tmp_path, "checks: {severity: {CP104: error}}\n" + TRUNCATING)
    report = check_file(path, isolated=True)
    assert [f.severity for f in report.findings if f.code == "CP104"] == ["error"]
    path = write(tmp_path, "checks: {ignore: [CP1]}\n" + TRUNCATING, "b.yaml")
    assert "CP104" not in codes(check_file(path, isolated=True))


def test_bad_spec_section_is_bad_input_with_its_line(tmp_path):
    path = write(tmp_path, SEED + "checks:\n  batch: -4\n")
    report = check_file(path, isolated=True)
    assert report.findings == () and "checks: batch must be an integer >= 1" in report.error
    with pytest.raises(SpecError) as info:
        apply_settings(CheckConfig(), {"batch": 0}, "x", error=SpecError, line=12)
    assert info.value.line == 12


def test_pyproject_is_found_by_walking_up(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n[tool.convplan]\nignore = ["CP104"]\n'
        '[tool.convplan.budgets]\nmax-params = "50"\n\n[tool.convplan.generate]\nx = 1\n')
    path = write(tmp_path, TRUNCATING, "models/deep/a.yaml")
    config = config_for(path)
    assert config.ignore == ("CP104",) and config.budgets.max_params == 50
    report = check_file(path)
    assert "CP104" not in codes(report) and "CP201" in codes(report)
    assert "CP104" in codes(check_file(path, isolated=True))


def test_spec_and_command_line_layer_over_pyproject(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.convplan]\nignore = ["CP1"]\n')
    path = write(tmp_path, "checks: {select: [CP104]}\n" + TRUNCATING)
    assert codes(check_file(path)) == ["CP104"]  # CP104 is longer than CP1
    assert codes(check_file(path, overrides={"ignore": ["CP104"]})) == []


def test_malformed_pyproject_is_bad_input(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.convplan\nselect = 1\n")
    path = write(tmp_path, SEED)
    report = check_file(path)
    assert "malformed TOML" in report.error
    (tmp_path / "pyproject.toml").write_text('[tool.convplan]\ntargett = "gpu"\n')
    assert "did you mean 'target'" in check_file(path).error


def test_pyproject_without_convplan_table_is_skipped(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.convplan]\nignore = ["CP4"]\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    path = write(tmp_path, SEED, "sub/a.yaml")
    assert config_for(path).ignore == ("CP4",)


# ---------------------------------------------------------------- suppression


def test_suppress_on_a_layer_hides_only_that_layer(tmp_path):
    text = TRUNCATING.replace("{name: pool3, op: MaxPooling2D, pool_size: 2}",
                              "{name: pool3, op: MaxPooling2D, pool_size: 2, suppress: [CP104]}")
    assert "CP104" not in codes(check_file(write(tmp_path, text), isolated=True))
    prefix = text.replace("suppress: [CP104]", "suppress: [CP1]")
    assert "CP104" not in codes(check_file(write(tmp_path, prefix, "p.yaml"), isolated=True))
    other = text.replace("suppress: [CP104]", "suppress: [CP404]")
    assert "CP104" in codes(check_file(write(tmp_path, other, "o.yaml"), isolated=True))


def test_suppress_inside_a_block_applies_to_every_instance(tmp_path):
    text = EXAMPLES["CP405"][0].replace("activation: relu}", "activation: relu, suppress: [CP405]}")
    assert "CP405" not in codes(check_file(write(tmp_path, text), isolated=True))


def test_errors_that_stop_the_build_ignore_layer_suppression(tmp_path):
    text = EXAMPLES["CP100"][0].replace("inputs: [a, b]}", "inputs: [a, b], suppress: [CP100]}")
    assert codes(check_file(write(tmp_path, text), isolated=True)) == ["CP100"]
    text = "checks: {ignore: [CP100]}\n" + EXAMPLES["CP100"][0]
    assert codes(check_file(write(tmp_path, text, "i.yaml"), isolated=True)) == []


def test_input_size_setting_gives_a_symbolic_spec_concrete_budgets(tmp_path):
    text = "checks: {budgets: {max_params: 100K}}\n" + SEED.replace("[28, 28, 1]", "[H, W, 1]")
    assert "CP200" in codes(check_file(write(tmp_path, text), isolated=True))
    report = check_file(write(tmp_path, text, "b.yaml"), isolated=True,
                        overrides={"input_size": [28, 28]})
    assert "CP201" in codes(report) and "CP200" not in codes(report)


def test_exclude_only_in_pyproject_or_command_line(tmp_path):
    with pytest.raises(ConvplanError, match="unknown setting 'exclude'"):
        apply_settings(CheckConfig(), {"exclude": ["x"]}, "spec", error=SpecError,
                       allow_exclude=False)
