"""Dispatch an analysis to the requested format; each formatter returns text."""

from __future__ import annotations

from collections.abc import Callable

from convplan.analysis import Analysis
from convplan.errors import UsageError
from convplan.ir.graph import Graph
from convplan.options import ANALYZE_FORMATS
from convplan.report.html import Picture

PICTURES = (  # kind, title, caption
    ("diagram", "Architecture",
     "Each box: layer · op (kernel /stride padding, filters or units), the output shape per "
     "example and the receptive field (size and stride in input pixels). Merges are yellow, "
     "skip connections bend around the layers they skip."),
    ("rf", "Receptive field and output size",
     "Receptive-field size and output size per spatial axis, layers in topological order."),
    ("cost", "MACs and params per layer", "Layers with neither MACs nor params are left out."),
    ("scaling", "Scaling with the input size",
     "MACs and the training-memory peak evaluated from the formulas at input sizes up to "
     "4x the analysed one (dotted line), where the model is valid."),
)


def report_pictures(concrete: Analysis, symbolic: Analysis | None, *, graph: Graph | None,
                    batch: int | None, dtype: str, optimizer: str,
                    on_step: Callable[[str], None] | None = None
                    ) -> tuple[list[Picture], str | None]:
    """The HTML report's SVG pictures, and a note on any that could not be drawn."""
    from convplan.report.plots import figure_class, render_figure

    try:
        figure_class()
    except UsageError as exc:
        return [], f"No pictures: {exc}"
    kinds = [p for p in PICTURES if p[0] == "diagram" or concrete.is_concrete]
    note = None if concrete.is_concrete else (
        "Charts need concrete input sizes; run with --input-size to draw them.")
    if symbolic is None:
        kinds = [p for p in kinds if p[0] != "scaling"]
        note = "The scaling chart needs the formulas (run without --no-symbolic)."
    pictures = []
    for kind, title, caption in kinds:
        if on_step:
            on_step(f"drawing {title.lower()}")
        data = render_figure(kind, concrete, symbolic, fmt="svg", graph=graph, batch=batch,
                             dtype=dtype, optimizer=optimizer)
        pictures.append(Picture(title, caption, data))
    return pictures, note


def render_analysis(fmt: str, concrete: Analysis, symbolic: Analysis | None, *,
                    batch: int | None, dtype: str, optimizer: str,
                    input_size: tuple[int, ...] | None, graph: Graph | None = None,
                    terminal_width: int | None = None, colour: bool = False,
                    layer_formulas: bool = False,
                    on_step: Callable[[str], None] | None = None) -> str:
    """`fmt` is one of convplan.options.ANALYZE_FORMATS. A table goes through rich when
    `terminal_width` is given (the output is a terminal), else it is plain text."""
    if fmt == "json":
        from convplan.report.json_report import analysis_document, render_json

        return render_json(analysis_document(concrete, symbolic, batch=batch, dtype=dtype,
                                             optimizer=optimizer, input_size=input_size))
    if fmt not in ANALYZE_FORMATS:
        raise UsageError(f"unknown format {fmt!r}; expected one of "
                         + ", ".join(ANALYZE_FORMATS))
    from convplan.report.summary import build_report

    report = build_report(concrete, symbolic, batch=batch, dtype=dtype, optimizer=optimizer,
                          layer_formulas=layer_formulas or fmt == "html")  # HTML always has them
    if fmt == "markdown":
        from convplan.report.markdown import render_markdown

        return render_markdown(report, layer_formulas)
    if fmt == "latex":
        from convplan.report.latex import render_latex

        return render_latex(report, layer_formulas)
    if fmt == "html" and symbolic is not None and graph is not None:
        # the live page: every number recomputed in the browser from the formulas
        from convplan.report.jsformula import UnsupportedFormula
        from convplan.report.live import render_live

        try:
            return render_live(concrete, symbolic, graph, batch=batch, dtype=dtype,
                               optimizer=optimizer)
        except UnsupportedFormula:  # a formula with no exact JavaScript: the static page
            pass
    if fmt == "html":  # --no-symbolic: the static page, pictures at the analysed size
        from convplan.report.html import render_html

        pictures, note = report_pictures(concrete, symbolic, graph=graph, batch=batch,
                                         dtype=dtype, optimizer=optimizer, on_step=on_step)
        return render_html(report, pictures, pictures_note=note)
    from convplan.report.table import render_plain, render_rich

    if terminal_width:
        return render_rich(report, width=terminal_width, colour=colour,
                           layer_formulas=layer_formulas)
    return render_plain(report, layer_formulas)
