"""Checking files: discovery, configuration layering, loading, running the rules.

A file is *bad input* (the CLI exits 2) when it cannot be read or parsed, or is not a valid
spec (unknown keys, ops or attributes, a broken graph, bad `checks:` settings). A well-formed
spec describing a network Keras cannot build is not bad input: the error that stops it (an
empty output, strides with dilation, mismatched shapes) becomes an error-level finding with
its rule code and the layer's line, like any other finding.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convplan.checks.config import CheckConfig, apply_settings, config_for
from convplan.checks.registry import Finding, finding, load_rules
from convplan.checks.subject import Analyses, analyze_for_checks
from convplan.errors import ConvplanError, ShapeError, SpecError
from convplan.frontends.detect import ARCHIVE_SUFFIX, Sniffed, graph_of, sniff
from convplan.ir import ops as O
from convplan.ir.graph import Graph

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
SKIP_FOLDERS = {"__pycache__", "node_modules"}
# SpecError.reason -> the rule that reports it
REASON_CODES = {"empty_output": "CP101", "strides_with_dilation": "CP102",
                "keras_rejects": "CP100"}


@dataclass(frozen=True)
class FileReport:
    """The findings of one file, or why it could not be checked (`error`: bad input)."""

    path: str
    findings: tuple[Finding, ...] = ()
    error: str | None = None


# ---------------------------------------------------------------- discovery


def is_excluded(path: Path, patterns: Iterable[str]) -> bool:
    """A glob matches the whole (POSIX) path, or any one part of it."""
    text = path.as_posix()
    return any(fnmatch.fnmatch(text, p) or any(fnmatch.fnmatch(part, p) for part in path.parts)
               for p in patterns)


def discover(paths: Iterable[str | Path], exclude: Iterable[str] = (),
             models_only: bool = False) -> Iterator[tuple[Path, bool]]:
    """(file, must be a model) for each path; folders are walked for *.yaml, *.yml, *.json and
    *.keras, skipping hidden folders, __pycache__ and node_modules, in sorted order. Files in
    folders (and, with `models_only`, named files too) may turn out not to be models."""
    exclude = tuple(exclude)
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            if not (models_only and is_excluded(path, exclude)):
                yield path, not models_only
            continue
        for root, folders, files in os.walk(path):
            folders[:] = sorted(f for f in folders if not f.startswith(".")
                                and f not in SKIP_FOLDERS and not is_excluded(Path(root, f), exclude))
            for name in sorted(files):
                file = Path(root, name)
                if file.suffix.lower() in (*SPEC_SUFFIXES, ARCHIVE_SUFFIX) \
                        and not is_excluded(file, exclude):
                    yield file, False


def looks_like_model(sniffed: Sniffed) -> bool:
    """A Keras model file, an ONNX model, or a convplan spec (a mapping with inputs and
    layers)."""
    data = sniffed.data
    return sniffed.is_keras or sniffed.kind == "onnx" or (
        isinstance(data, dict) and "inputs" in data and "layers" in data)


# ---------------------------------------------------------------- errors as findings


def error_finding(exc: ConvplanError, graph: Graph | None) -> Finding | None:
    """The finding for an error that means "Keras cannot build this network", else None."""
    reason = getattr(exc, "reason", None)
    code = REASON_CODES.get(reason) or ("CP100" if isinstance(exc, ShapeError) else None)
    if code is None:
        return None
    layer = getattr(exc, "layer", None)
    line = getattr(exc, "line", None)
    if line is None and graph is not None and layer in graph.nodes:
        line = graph[layer].line
    return dataclasses.replace(finding(code, str(exc), layer), line=line)


# ---------------------------------------------------------------- running the rules


def run_rules(graph: Graph, analyses: Analyses, config: CheckConfig) -> list[Finding]:
    """Every enabled rule's findings (before suppression, severities and locations)."""
    found: list[Finding] = []
    for code, rule in load_rules().items():
        if rule.check is not None and config.is_enabled(code):
            found.extend(rule.check(graph, analyses, config))
    return found


def _is_suppressed(finding_: Finding, graph: Graph | None) -> bool:
    if graph is None or finding_.layer not in graph.nodes:
        return False
    return any(finding_.code.startswith(code.upper()) for code in graph[finding_.layer].suppress)


def finalize(findings: Iterable[Finding], graph: Graph | None, config: CheckConfig, path: str,
             checks_line: int | None, suppressible: bool = True) -> list[Finding]:
    """Apply select/ignore, layer suppressions, severities, and locations; sort by line."""
    out = []
    for item in findings:
        if not config.is_enabled(item.code) or (suppressible and _is_suppressed(item, graph)):
            continue
        line = item.line
        if line is None:
            line = graph[item.layer].line if graph is not None and item.layer in graph.nodes \
                else checks_line
        out.append(dataclasses.replace(item, path=path, line=line,
                                       severity=config.severity_of(item.code, item.severity)))
    return sorted(out, key=lambda f: (f.line or 0, f.code, f.message))


def _merge_explanations(graph: Graph, exc: ConvplanError,
                        config: CheckConfig) -> list[Finding]:
    """When a merge fails at the declared size, CP105 on the symbolic shapes says for which
    sizes it would work."""
    layer = getattr(exc, "layer", None)
    if layer not in graph.nodes or not isinstance(graph[layer].op, O.Merge):
        return []
    from convplan.analysis import analyze
    from convplan.checks.shape_rules import check_conditional_merge

    try:
        symbolic = analyze(graph, generalize=True)
    except ConvplanError:
        return []
    return [f for f in check_conditional_merge(graph, Analyses(None, symbolic), config)
            if f.layer == layer]


def stop_findings(exc: ConvplanError, graph: Graph | None, config: CheckConfig, path: str,
                  checks_line: int | None) -> list[Finding]:
    """The error that stops the network being built, as findings; re-raises bad input."""
    stop = error_finding(exc, graph)
    if stop is None:
        raise exc
    found = finalize([stop], graph, config, path, checks_line, suppressible=False)
    if graph is not None:
        found += finalize(_merge_explanations(graph, exc, config), graph, config, path,
                          checks_line)
    return found


def check_graph(graph: Graph, config: CheckConfig, path: str = "<spec>",
                checks_line: int | None = None) -> list[Finding]:
    """Findings of a built graph: the analysis error that stops it, or every rule's."""
    try:
        analyses = analyze_for_checks(graph, config)
    except ConvplanError as exc:
        return stop_findings(exc, graph, config, path, checks_line)
    return finalize(run_rules(graph, analyses, config), graph, config, path, checks_line)


def check_file(path: str | Path, *, explicit: bool = True,
               overrides: Mapping[str, Any] | None = None, isolated: bool = False,
               base: CheckConfig | None = None) -> FileReport | None:
    """Check one file; None when a file found in a folder is not a model (not for us)."""
    path = Path(path)
    name = str(path)
    try:
        sniffed = sniff(path)
        if not explicit and not looks_like_model(sniffed):
            return None
        section, checks_line = None, None
        if not sniffed.is_keras and isinstance(sniffed.data, dict):
            section = sniffed.data.get("checks")
            checks_line = getattr(section, "line", None) or getattr(sniffed.data, "line", None)
        config = config_for(path, base or CheckConfig(), isolated)
        if section is not None:
            config = apply_settings(config, section, f"{name}: checks", error=SpecError,
                                    line=checks_line, allow_exclude=False)
        if overrides:
            config = apply_settings(config, overrides, "command line")
        try:
            graph = graph_of(sniffed)
        except SpecError as exc:
            return FileReport(name, tuple(stop_findings(exc, None, config, name, checks_line)))
        return FileReport(name, tuple(check_graph(graph, config, name, checks_line)))
    except ConvplanError as exc:
        text = str(exc)
        return FileReport(name, error=text if text.startswith(name) else f"{name}: {text}")


def check_paths(paths: Iterable[str | Path], *, overrides: Mapping[str, Any] | None = None,
                isolated: bool = False, models_only: bool = False) -> list[FileReport]:
    """Check files and folders; reports in discovery order. Files found in folders that are
    not models are left out; with `models_only` (pre-commit passes every changed YAML file)
    so are named ones, and named files matching `exclude` too."""
    reports = []
    paths = list(paths)
    exclude: tuple[str, ...] = tuple((overrides or {}).get("exclude", ()))
    for given in paths:
        try:
            exclude += config_for(given, CheckConfig(), isolated).exclude
        except ConvplanError as exc:
            reports.append(FileReport(str(given), error=str(exc)))
            return reports
    seen: set[Path] = set()
    todo: list[tuple[Path, bool]] = []
    for file, explicit in discover(paths, exclude, models_only):
        if file.resolve() in seen:  # `check models/a.yaml models/` names it twice
            continue
        seen.add(file.resolve())
        todo.append((file, explicit))
    check = functools.partial(_check_one, overrides=overrides, isolated=isolated)
    jobs = parallel_jobs(len(todo))
    if jobs > 1:
        import multiprocessing

        # The first file here: it imports what checking needs (sympy, the rules), which the
        # forked workers then inherit instead of importing it once each. imap keeps the
        # discovery order, so the reports are the same, in the same order, as one by one.
        results = [check(todo[0])]
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results += pool.imap(check, todo[1:], chunksize=1)
    else:
        results = [check(item) for item in todo]
    reports += [r for r in results if r is not None]
    return reports


# Files below this many are checked in this process: a worker costs more than it saves.
PARALLEL_FROM = 8


def parallel_jobs(files: int) -> int:
    """Worker processes for `files` files: CONVPLAN_JOBS if set (1: none), else one per CPU
    this process may use, from PARALLEL_FROM files on; none where fork is unavailable or
    after TensorFlow is imported (its threads do not survive a fork)."""
    import multiprocessing
    import sys

    if "fork" not in multiprocessing.get_all_start_methods() or "tensorflow" in sys.modules:
        return 1
    wanted = os.environ.get("CONVPLAN_JOBS", "")
    if wanted.strip().isdigit():
        return max(1, min(int(wanted), files))
    if files < PARALLEL_FROM:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, files))


def _check_one(item: tuple[Path, bool], *, overrides: Mapping[str, Any] | None,
               isolated: bool) -> FileReport | None:
    file, explicit = item
    return check_file(file, explicit=explicit, overrides=overrides, isolated=isolated)
