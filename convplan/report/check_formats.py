"""`convplan check` output: text (like ruff), JSON, GitHub workflow annotations, SARIF 2.1.0,
plus the `rules` listing and `explain` pages. Every formatter returns text and never prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

from convplan import __version__
from convplan.checks.registry import GROUPS, Finding, Rule
from convplan.checks.runner import FileReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}
GITHUB_LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


def all_findings(reports: Iterable[FileReport]) -> list[Finding]:
    return [f for report in reports for f in report.findings]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 or word == 'info' else 's'}"


def render_text(reports: Sequence[FileReport]) -> str:
    """`path:line:col: CODE [severity] message` per finding (line 1 where the file gives no
    line), then a summary line."""
    findings = all_findings(reports)
    lines = [f"{f.path}:{f.line or 1}:{f.column}: {f.code} [{f.severity}] {f.message}"
             for f in findings]
    checked = [r for r in reports if r.error is None]
    if findings:
        counts = [_plural(sum(f.severity == level for f in findings), level)
                  for level in ("error", "warning", "info")]
        files = len({f.path for f in findings})
        lines.append(f"Found {_plural(len(findings), 'finding')} ({', '.join(counts)}) in "
                     f"{files} of {_plural(len(checked), 'file')}.")
    failed = len(reports) - len(checked)
    if not findings and failed:  # not "all passed" when a file could not even be read
        lines.append(f"No findings in the {_plural(len(checked), 'file')} checked.")
    elif not findings:
        lines.append(f"All checks passed ({_plural(len(checked), 'file')} checked).")
    if failed:
        lines.append(f"{_plural(failed, 'file')} could not be checked (see the errors above).")
    return "\n".join(lines) + "\n"


def render_json(reports: Sequence[FileReport]) -> str:
    """A JSON list of findings: code, name, severity, path, line, column, layer, message."""
    return json.dumps([f.to_json() for f in all_findings(reports)], indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(reports: Sequence[FileReport]) -> str:
    """GitHub Actions workflow commands: `::error file=...,line=...,title=...::message`."""
    lines = []
    for f in all_findings(reports):
        props = [f"file={_escape_property(f.path or '')}"]
        if f.line is not None:
            props += [f"line={f.line}", f"col={f.column}"]
        props.append(f"title={_escape_property(f'{f.code} {f.name}')}")
        lines.append(f"::{GITHUB_LEVELS[f.severity]} {','.join(props)}::{_escape_data(f.message)}")
    for r in reports:
        if r.error is not None:
            lines.append(f"::error file={_escape_property(r.path)},title=convplan%3A bad input::"
                         f"{_escape_data(r.error)}")
    return "\n".join(lines) + ("\n" if lines else "")


def artifact_uri(path: str) -> str:
    """A relative path as a percent-encoded URI reference; an absolute one as a file:// URI."""
    p = Path(path)
    return p.as_uri() if p.is_absolute() else quote(p.as_posix())


def _sarif_rule(rule: Rule) -> dict:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.explanation or rule.summary},
        "help": {"text": f"{rule.summary}\n\n{rule.explanation}\n\nconvplan explain {rule.code}"},
        "defaultConfiguration": {"level": SARIF_LEVELS[rule.severity]},
        "properties": {"tags": [rule.group, GROUPS[rule.group][1]]},
    }


def _sarif_location(f: Finding) -> dict:
    physical: dict = {"artifactLocation": {"uri": artifact_uri(f.path or "")}}
    if f.line is not None:
        physical["region"] = {"startLine": f.line, "startColumn": f.column}
    location: dict = {"physicalLocation": physical}
    if f.layer is not None:
        location["logicalLocations"] = [{"name": f.layer, "kind": "object"}]
    return location


def render_sarif(reports: Sequence[FileReport], rules: dict[str, Rule]) -> str:
    """One SARIF 2.1.0 run: every rule as a reportingDescriptor, findings as results, files
    that could not be checked as tool execution notifications."""
    codes = list(rules)
    results = [{
        "ruleId": f.code,
        "ruleIndex": codes.index(f.code),
        "level": SARIF_LEVELS[f.severity],
        "message": {"text": f.message},
        "locations": [_sarif_location(f)],
    } for f in all_findings(reports)]
    notifications = [{
        "level": "error",
        "message": {"text": r.error},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": artifact_uri(r.path)}}}],
    } for r in reports if r.error is not None]
    invocation: dict = {"executionSuccessful": not notifications}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "convplan", "version": __version__,
                                "rules": [_sarif_rule(rules[c]) for c in codes]}},
            "invocations": [invocation],
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"


def render_findings(fmt: str, reports: Sequence[FileReport], rules: dict[str, Rule]) -> str:
    if fmt == "json":
        return render_json(reports)
    if fmt == "github":
        return render_github(reports)
    if fmt == "sarif":
        return render_sarif(reports, rules)
    return render_text(reports)


# ---------------------------------------------------------------- rules and explain


def render_rules(rules: dict[str, Rule], fmt: str = "text",
                 examples: dict[str, tuple[str, str]] | None = None) -> str:
    """Every rule by group: code, name, default severity, summary (or a JSON list, or the
    Markdown reference of docs/checks.md with `examples`)."""
    if fmt == "markdown":
        return render_rules_markdown(rules, examples or {})
    if fmt == "json":
        return json.dumps([{"code": r.code, "name": r.name, "group": r.group,
                            "severity": r.severity, "summary": r.summary}
                           for r in rules.values()], indent=2) + "\n"
    width = max(len(r.name) for r in rules.values())
    lines = []
    for group, (_, title) in GROUPS.items():
        lines.append(f"{title}:")
        for r in rules.values():
            if r.group == group:
                lines.append(f"  {r.code}  {r.name:<{width}}  {r.severity:<7}  {r.summary}")
        lines.append("")
    lines.append("Details: convplan explain CODE")
    return "\n".join(lines) + "\n"


def render_rules_markdown(rules: dict[str, Rule], examples: dict[str, tuple[str, str]]) -> str:
    """The rules reference in docs/checks.md: per group, each rule's summary, explanation,
    the spec that triggers it and the fixed one."""
    lines = []
    for group, (prefix, title) in GROUPS.items():
        lines += [f"### {title} ({prefix}xx)", ""]
        for r in rules.values():
            if r.group != group:
                continue
            lines += [f"#### {r.code} {r.name}", "", f"Default severity: **{r.severity}**. "
                      f"{r.summary}", ""]
            if r.explanation:
                lines += [" ".join(r.explanation.split()), ""]
            if r.code in examples:
                bad, good = examples[r.code]
                lines += ["Triggers it:", "", "```yaml", bad.rstrip("\n"), "```", "", "Fixed:", "",
                          "```yaml", good.rstrip("\n"), "```", ""]
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" if line else "\n" for line in text.rstrip("\n").split("\n"))


def render_explanation(rule: Rule, example: tuple[str, str] | None) -> str:
    """A rule's page: summary, why, the spec that triggers it, and the fix."""
    parts = [f"{rule.code} {rule.name} ({rule.group_title}, default severity {rule.severity})",
             "", rule.summary, ""]
    if rule.explanation:
        parts += [rule.explanation, ""]
    if example is not None:
        bad, good = example
        parts += ["Example (triggers it):", "", _indent(bad), "Fixed:", "", _indent(good)]
    return "\n".join(parts).rstrip("\n") + "\n"
