"""Jupyter display: an `Analysis` or a loaded `Graph` shows itself as the report (table,
summary, formulas, the architecture diagram), and `show(spec_or_model, **sizes)` gives the live
report inline.

The HTML is a fragment with styles scoped to one class (a notebook's page is not ours to
restyle); the live report is a whole page with its own scripts, so it goes in an iframe's
`srcdoc` (escaped), where neither its styles nor its scripts meet the notebook's
(convplan.report.live writes it). The cells are
the Markdown and HTML reports' cells (convplan.report.summary builds them once for all).
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

from convplan.analysis import Analysis, analyze
from convplan.errors import UsageError
from convplan.ir.graph import Graph

STYLE = """
.convplan-report{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;
line-height:1.4;color:#1b1f24}
.convplan-report h3{font-size:1.15rem;margin:.3rem 0 .1rem}
.convplan-report h4{font-size:1rem;margin:1rem 0 .3rem}
.convplan-report .setting{color:#57606a;margin:0 0 .6rem}
.convplan-report table{border-collapse:collapse;font-variant-numeric:tabular-nums;
font-size:.85rem}
.convplan-report th,.convplan-report td{padding:.2rem .55rem;border-bottom:1px solid #eaeef2;
text-align:right;white-space:nowrap}
.convplan-report th.l,.convplan-report td.l{text-align:left}
.convplan-report thead th{background:#f6f8fa;border-bottom:2px solid #d0d7de}
.convplan-report tfoot td{font-weight:bold;border-top:2px solid #d0d7de}
.convplan-report dl{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem}
.convplan-report dt{font-weight:bold}.convplan-report dd{margin:0}
.convplan-report code{font-family:ui-monospace,Menlo,Consolas,monospace}
.convplan-report .wrap{overflow-x:auto}.convplan-report .note{color:#9a6700}
.convplan-report img{max-width:100%;height:auto}
"""
IFRAME_HEIGHT = 720  # pixels: the live page's controls, table and diagram in view


def both_analyses(analysis: Analysis) -> tuple[Analysis, Analysis | None]:
    """The analysis and the formulas of its graph (for the report's formulas section); a
    symbolic analysis is its own formulas."""
    if not analysis.is_concrete or analysis.graph is None:
        return analysis, analysis if not analysis.is_concrete else None
    # fields=False: the report prints no per-layer field formulas (as `convplan analyze`)
    return analysis, analyze(analysis.graph, generalize=True, fields=False)


def _definitions(pairs: Iterable[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>"
                            for label, text in pairs) + "</dl>"


def _diagram(concrete: Analysis, symbolic: Analysis | None, graph: Graph | None, *,
             batch: int | None, dtype: str, optimizer: str) -> str:
    """The architecture diagram as an <img> (a data URI keeps its SVG ids apart from other
    outputs'), or a note saying why there is none."""
    from convplan.report.html import _figure
    from convplan.report.render import report_pictures

    pictures, note = report_pictures(concrete, symbolic, graph=graph, batch=batch, dtype=dtype,
                                     optimizer=optimizer)
    diagram = [p for p in pictures if p.title == "Architecture"]
    if diagram:
        return "<h4>Architecture</h4>" + _figure(diagram[0])
    return f"<p class=note>{escape(note or 'No diagram.')}</p>"


def analysis_html(analysis: Analysis, *, batch: int | None = None, dtype: str = "float32",
                  optimizer: str = "adam", diagram: bool = True) -> str:
    """The report as an HTML fragment: the layers table with totals, the summary, notes, the
    formulas in the input size and batch, the diagram, and the counting conventions."""
    from convplan.report.html import html_table
    from convplan.report.summary import build_report

    concrete, symbolic = both_analyses(analysis)
    report = build_report(concrete, symbolic, batch=batch, dtype=dtype, optimizer=optimizer,
                          layer_formulas=False)
    parts = [f"<div class=convplan-report><style>{STYLE}</style>",
             f"<h3>{escape(report.name)}</h3><p class=setting>{escape(report.setting)}</p>",
             html_table(report.headers, report.rows, report.total),
             "<h4>Summary</h4>", _definitions(report.facts)]
    parts += [f"<p class=note>note: {escape(note)}</p>" for note in report.notes]
    if report.formulas:
        parts.append(f"<h4>Formulas</h4><p>{escape(report.symbols)}</p>")
        parts.append(_definitions((f.label, f"= {f.text}" + (f"  [{f.unit}]" if f.unit else ""))
                                  for f in report.formulas))
    if diagram:
        parts.append(_diagram(concrete, symbolic, analysis.graph, batch=batch, dtype=dtype,
                              optimizer=optimizer))
    parts += ["<details><summary>Counting conventions</summary>",
              _definitions(report.conventions), "</details></div>"]
    return "\n".join(parts)


def analysis_markdown(analysis: Analysis, *, batch: int | None = None, dtype: str = "float32",
                      optimizer: str = "adam") -> str:
    """The Markdown report (`convplan analyze --format markdown`)."""
    from convplan.report.markdown import render_markdown
    from convplan.report.summary import build_report

    concrete, symbolic = both_analyses(analysis)
    return render_markdown(build_report(concrete, symbolic, batch=batch, dtype=dtype,
                                        optimizer=optimizer, layer_formulas=False))


def graph_html(graph: Graph) -> str:
    """A loaded graph shows its analysis at the sizes it declares (formulas where it leaves
    them open)."""
    return analysis_html(analyze(graph))


def graph_markdown(graph: Graph) -> str:
    return analysis_markdown(analyze(graph))


class Live:
    """The live report of one network, shown inline by Jupyter (an iframe holding the page)."""

    def __init__(self, page: str, name: str, height: int = IFRAME_HEIGHT) -> None:
        self.page = page  # the whole self-contained HTML document
        self.name = name
        self.height = height

    def _repr_html_(self) -> str:
        # srcdoc is an attribute: escape() quotes '"' and '&', so the page arrives unchanged
        return (f"<iframe title=\"convplan: {escape(self.name)}\" srcdoc=\"{escape(self.page)}\" "
                f"style=\"width:100%;height:{self.height}px;border:1px solid #d0d7de\" "
                "sandbox=\"allow-scripts\"></iframe>")

    def save(self, path: str | Path) -> None:
        """Write the page as a file that opens from disk."""
        from convplan.report.files import write_text_atomic

        write_text_atomic(str(path), self.page)


def as_graph(spec_or_model: Any, custom_layers: Any = None) -> Graph:
    """A path (spec, Keras JSON or .keras), a Graph, an Analysis's graph or a live Keras model."""
    import convplan

    if isinstance(spec_or_model, Graph):
        return spec_or_model
    if isinstance(spec_or_model, Analysis) and spec_or_model.graph is not None:
        return spec_or_model.graph
    if isinstance(spec_or_model, (str, Path)):
        graph: Graph = convplan.load(spec_or_model, custom_layers)
        return graph
    if hasattr(spec_or_model, "get_config") and hasattr(spec_or_model, "layers"):
        from convplan.frontends.keras_live import from_keras
        from convplan.ir.validate import validate

        live_graph = from_keras(spec_or_model, custom_layers)
        validate(live_graph)
        return live_graph
    raise UsageError("convplan.show() takes a spec or Keras model path, a Graph, an Analysis "
                     f"or a Keras model; received {type(spec_or_model).__name__}")


def sized_analysis(graph: Graph, sizes: dict[str, int]) -> Analysis:
    """The analysis at `sizes` (symbol names as the formulas print them: H=224, W=224)."""
    symbolic = analyze(graph, generalize=True)
    unknown = sorted(set(sizes) - set(symbolic.symbols))
    if unknown:
        raise UsageError(f"unknown size {', '.join(unknown)} for {graph.name!r}; its sizes are "
                         + (", ".join(symbolic.symbols) or "all fixed"))
    names = [n for n in symbolic.symbols if n in sizes]
    inputs = graph.inputs
    if len(inputs) == 1 and names == list(symbolic.symbols):
        # one input: analyze at the size, so an invalid size fails as the CLI's --input-size does
        return analyze(graph, input_size=tuple(sizes[n] for n in names))
    return symbolic.at(sizes)


def live_page(graph: Graph, analysis: Analysis, *, batch: int | None, dtype: str,
              optimizer: str) -> str:
    """The live report (convplan.report.live) opening at `analysis`'s sizes."""
    from convplan.report.live import render_live

    symbolic = analyze(graph, generalize=True)
    return render_live(analysis, symbolic, graph, batch=batch, dtype=dtype, optimizer=optimizer)


def show(spec_or_model: Any, *, batch: int | None = None, dtype: str | None = None,
         optimizer: str = "adam", custom_layers: Any = None, height: int = IFRAME_HEIGHT,
         **sizes: int) -> Live:
    """The live report of a network, inline in a notebook: `convplan.show("net.yaml", H=224,
    W=224, batch=8)`. Sizes are the formulas' symbols (H, W; L; D, H, W; H_<input> for several
    inputs); without them the spec's own sizes are used."""
    graph = as_graph(spec_or_model, custom_layers)
    if sizes:
        analysis = sized_analysis(graph, sizes)
    elif isinstance(spec_or_model, Analysis):  # opens where that analysis was made
        analysis = spec_or_model
    else:
        analysis = analyze(graph)
    dtype = dtype or graph.dtype_policy or "float32"  # as the CLI's --dtype defaults
    page = live_page(graph, analysis, batch=batch, dtype=dtype, optimizer=optimizer)
    return Live(page, graph.name, height)
