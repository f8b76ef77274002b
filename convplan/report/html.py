"""The report as one self-contained HTML file: table, formulas, conventions and pictures.

Pictures are embedded as base64 `data:` URIs, so the file needs nothing beside it (no scripts,
no fonts, no network) and one picture's SVG ids cannot clash with another's. Every piece of
text from the spec passes through `html.escape`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from html import escape

from convplan import __version__
from convplan.report.summary import LAYER_FORMULA_HEADERS, Report

LEFT_COLUMNS = 3

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem auto;
max-width:78rem;padding:0 1rem;color:#1b1f24;background:#fff;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
.setting{color:#57606a;margin-top:0}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;font-size:.9rem}
th,td{padding:.25rem .6rem;border-bottom:1px solid #eaeef2;text-align:right;white-space:nowrap}
th.l,td.l{text-align:left}thead th{background:#f6f8fa;border-bottom:2px solid #d0d7de}
tfoot td{font-weight:bold;border-top:2px solid #d0d7de}tbody tr:hover{background:#f6f8fa}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:bold}
dd{margin:0}code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9rem}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.5rem .9rem;min-width:9rem}
.card b{display:block;font-size:1.3rem}.card span{color:#57606a;font-size:.85rem}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption{color:#57606a;font-size:.9rem}.note{color:#9a6700}
.wrap{overflow-x:auto}footer{margin-top:2rem;color:#57606a;font-size:.8rem}
"""


@dataclass(frozen=True)
class Picture:
    title: str
    caption: str
    data: bytes  # an SVG or PNG document
    mime: str = "image/svg+xml"


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _cells(row, tag: str = "td", left: int = LEFT_COLUMNS) -> str:
    return "".join(f"<{tag}{' class=l' if i < left else ''}>{escape(cell)}</{tag}>"
                   for i, cell in enumerate(row))


def html_table(headers, rows, footer=None, left: int = LEFT_COLUMNS) -> str:
    foot = f"<tfoot><tr>{_cells(footer, left=left)}</tr></tfoot>" if footer else ""
    body = "".join(f"<tr>{_cells(row, left=left)}</tr>" for row in rows)
    return (f"<div class=wrap><table><thead><tr>{_cells(headers, 'th', left)}</tr></thead>"
            f"<tbody>{body}</tbody>{foot}</table></div>")


def _definitions(pairs) -> str:
    return "<dl>" + "".join(f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>"
                            for label, text in pairs) + "</dl>"


def _cards(report: Report) -> str:
    """The headline numbers: the totals row's params, MACs, FLOPs and activation memory."""
    picks = [(report.headers[i], report.total[i]) for i in range(3, 7)]
    return "<div class=cards>" + "".join(
        f"<div class=card><b>{escape(value)}</b><span>{escape(label)}</span></div>"
        for label, value in picks) + "</div>"


def _figure(picture: Picture) -> str:
    return (f"<figure><img alt=\"{escape(picture.title)}\" "
            f"src=\"{data_uri(picture.data, picture.mime)}\">"
            f"<figcaption>{escape(picture.caption)}</figcaption></figure>")


def render_html(report: Report, pictures: list[Picture] = (), *,
                pictures_note: str | None = None) -> str:
    """One HTML document; `pictures_note` explains missing pictures (no matplotlib, ...)."""
    parts = [
        "<!DOCTYPE html>", "<html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content=\"width=device-width, initial-scale=1\">",
        f"<title>convplan: {escape(report.name)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(report.name)}</h1><p class=setting>{escape(report.setting)}</p>",
        _cards(report),
        "<h2 id=layers>Layers</h2>",
        html_table(report.headers, report.rows, report.total),
        "<h2 id=summary>Summary</h2>", _definitions(report.facts),
    ]
    parts += [f"<p class=note>note: {escape(note)}</p>" for note in report.notes]
    if report.formulas:
        parts.append(f"<h2 id=formulas>Formulas</h2><p>{escape(report.symbols)}</p>")
        parts.append(_definitions(
            (f.label, f"= {f.text}" + (f"  [{f.unit}]" if f.unit else ""))
            for f in report.formulas))
    if report.layer_formulas:
        parts.append("<details><summary>Per-layer formulas</summary>")
        parts.append(html_table(LAYER_FORMULA_HEADERS, report.layer_formulas, left=5))
        parts.append("</details>")
    if pictures or pictures_note:
        parts.append("<h2 id=pictures>Pictures</h2>")
        parts += [_figure(p) for p in pictures]
        if pictures_note:
            parts.append(f"<p class=note>{escape(pictures_note)}</p>")
    parts += ["<h2 id=conventions>Counting conventions</h2>", _definitions(report.conventions),
              f"<footer>Written by convplan {escape(__version__)}.</footer></body></html>"]
    return "\n".join(parts) + "\n"
