"""`generate`: spec -> plan -> context -> rendered files -> a project folder, in that order.

Nothing touches the disk until every file has rendered, and then `write_project` moves the
whole folder into place at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from convplan.analysis import analyze
from convplan.codegen.context import build_context
from convplan.codegen.plan_json import render_plan_json
from convplan.codegen.render import render_templates
from convplan.codegen.targets import get_target
from convplan.codegen.write import MARKER, MARKER_TEXT, write_project
from convplan.errors import ConvplanError
from convplan.ir.graph import Graph

HERE = Path(__file__).resolve().parent
# Modules the project's tests run as they are (stdlib at import, Keras when called), so that
# convplan's own suite tests the code the projects carry: {path in the project: source}.
VERBATIM_COPIES = {
    "tests/keras_measure.py": HERE.parent / "verify" / "measure.py",
    "tests/keras_facts.py": HERE / "model_facts.py",
    "tests/keras_field.py": HERE / "field_probe.py",
}


def render_project(graph: Graph, *, target: str = "cpu", dataset: str | None = None,
                   input_size: Sequence[int] | None = None) -> dict[str, str]:
    """{relative path: text} of the whole project."""
    from convplan.report.render import render_analysis

    chosen = get_target(target)
    plan = analyze(graph, input_size=input_size)
    try:
        symbolic = analyze(graph, generalize=True)
    except ConvplanError:  # sizes that only work concretely: the formulas are left out
        symbolic = None
    report = dict(batch=None, dtype="float32", optimizer="adam",
                  input_size=tuple(input_size) if input_size else None)
    plan_json = render_plan_json(graph, plan, symbolic, **report)
    plan_md = render_analysis("markdown", plan, symbolic, **report)
    context = build_context(graph, plan, chosen, dataset, plan_json, plan_md)
    files = render_templates(context)
    files["plan.json"] = plan_json
    files["PLAN.md"] = plan_md
    for copy, source in VERBATIM_COPIES.items():
        files[copy] = source.read_text(encoding="utf-8")
    files[MARKER] = MARKER_TEXT
    return files


def generate_project(graph: Graph, out_dir: str | Path, *, target: str = "cpu",
                     dataset: str | None = None, input_size: Sequence[int] | None = None,
                     force: bool = False) -> tuple[Path, list[str]]:
    """Render, then write atomically; returns the folder and the files written."""
    files = render_project(graph, target=target, dataset=dataset, input_size=input_size)
    return write_project(files, out_dir, force=force), sorted(files)
