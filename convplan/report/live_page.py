"""The live report's HTML around its data and script (convplan.report.live).

The document is written here; every number in it is (re)written by the script. At the opening
size the table, cards and memory are filled in the HTML as well, with the same cells, so the
page reads without JavaScript. Text from the spec goes through `html.escape`.
"""

from __future__ import annotations

from html import escape

from convplan import __version__
from convplan.analysis import Analysis
from convplan.options import DTYPES, OPTIMIZER_SLOTS
from convplan.report.html import STYLE, _definitions, html_table
from convplan.report.summary import HEADERS, LAYER_FORMULA_HEADERS, build_report

# Nothing outside the page: no fetch, image, font or frame from anywhere (data: pictures only).
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data:")

LIVE_STYLE = """
.controls{display:flex;flex-wrap:wrap;gap:.6rem 1.4rem;align-items:end;margin:1rem 0;
padding:.7rem 1rem;background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px}
.controls label{display:flex;flex-direction:column;font-size:.8rem;color:#57606a}
.controls input[type=number]{width:7rem}.controls input[type=range]{width:10rem}
.error{color:#cf222e;font-weight:bold;white-space:pre-wrap}
tr.bad td{background:#ffebe9}tr.picked td{background:#ddf4ff}tbody tr{cursor:pointer}
.arch{display:flex;gap:1rem;align-items:flex-start}
.arch .diagram{flex:1 1 auto;max-height:42rem;overflow:auto;border:1px solid #eaeef2}
.arch .field{flex:0 0 22rem}.charts svg{display:block;margin:.5rem 0;max-width:100%}
#cp-status{color:#57606a;font-size:.8rem}
"""


def _controls(symbols: list[str], sizes: dict[str, int], batch: int | None, dtype: str,
              optimizer: str) -> str:
    parts = ["<form class=controls id=cp-controls onsubmit='return false'>"]
    for i, name in enumerate(symbols):
        value = sizes[name]
        parts.append(
            f"<label>{escape(name)}<input type=number id=cp-size-{i} min=1 max=999999999 "
            f"step=1 value={value}></label><label>&nbsp;<input type=range id=cp-slide-{i} "
            f"min=1 max={max(64, 4 * value)} step=1 value={value}></label>")
    parts.append("<label>batch<input type=number id=cp-batch min=1 step=1 "
                 f"placeholder='per example' value='{batch if batch else ''}'></label>")
    options = "".join(f"<option{' selected' if d == dtype else ''}>{d}</option>"
                      for d in DTYPES)
    parts.append(f"<label>dtype<select id=cp-dtype>{options}</select></label>")
    options = "".join(f"<option{' selected' if o == optimizer else ''}>{o}</option>"
                      for o in OPTIMIZER_SLOTS)
    parts.append(f"<label>optimizer<select id=cp-optimizer>{options}</select></label>")
    from convplan.report.live_time import page_devices

    options = "<option value=''>none</option>" + "".join(
        f"<option>{escape(d.name)}</option>" for d in page_devices())
    parts.append(f"<label>device<select id=cp-device>{options}</select></label>")
    parts.append("<label>step<select id=cp-step><option>training</option><option>inference"
                 "</option></select></label>")
    parts.append("<span id=cp-status></span></form>")
    return "".join(parts)


def page(concrete: Analysis, symbolic: Analysis, model_json: str, formulas_js: str, *,
         batch: int | None, dtype: str, optimizer: str) -> str:
    from convplan.report.live import start_sizes
    from convplan.report.live_script import SCRIPT

    report = build_report(concrete, symbolic, batch=batch, dtype=dtype, optimizer=optimizer,
                          layer_formulas=True)
    rows = report.rows if concrete.is_concrete else ()
    total = report.total if concrete.is_concrete else None
    parts = [
        "<!DOCTYPE html>", "<html lang=en><head><meta charset=utf-8>",
        f"<meta http-equiv=Content-Security-Policy content=\"{CSP}\">",
        "<meta name=viewport content=\"width=device-width, initial-scale=1\">",
        f"<title>convplan: {escape(report.name)}</title>"
        f"<style>{STYLE}{LIVE_STYLE}</style></head><body>",
        f"<h1>{escape(report.name)}</h1><p class=setting id=cp-setting>"
        f"{escape(report.setting)}</p>",
        _controls(list(symbolic.symbols), start_sizes(concrete, symbolic), batch, dtype,
                  optimizer),
        "<p class=error id=cp-error hidden></p>",
        "<div class=cards id=cp-cards></div>",
        "<h2 id=layers>Layers</h2>",
        html_table(HEADERS, rows, total).replace("<table>", "<table id=cp-table>", 1),
        "<h2 id=memory>Memory</h2><div class=wrap><table id=cp-memory><tbody></tbody>"
        "</table></div>",
        "<h2 id=time>Time</h2><p class=setting id=cp-time-head>Pick a device to see the time "
        "bounds per layer (<code>convplan analyze --device</code>).</p>"
        "<p class=error id=cp-time-error hidden></p><div class=wrap><table id=cp-time hidden>"
        "<thead><tr><th>layer</th><th>op</th><th>FLOPs</th><th>bytes</th><th>FLOP/B</th>"
        "<th>bound</th><th>lower</th><th>upper</th><th>q</th></tr></thead><tbody></tbody>"
        "<tfoot></tfoot></table></div><div id=cp-time-lines></div>",
        "<h2 id=architecture>Architecture</h2><p class=setting>Pick a layer (a box or a row) to "
        "see its receptive field over the input.</p><div class=arch><div class=diagram>"
        "<svg id=cp-diagram></svg></div><div class=field><svg id=cp-field></svg>"
        "<p id=cp-field-text></p></div></div>",
        "<h2 id=charts>Charts</h2><div class=charts><svg id=cp-chart-cost></svg>"
        "<svg id=cp-chart-rf></svg><svg id=cp-chart-memory></svg></div>",
    ]
    parts += [f"<p class=note>note: {escape(note)}</p>" for note in report.notes]
    parts.append(f"<h2 id=formulas>Formulas</h2><p>{escape(report.symbols)}</p>")
    parts.append(_definitions((f.label, f"= {f.text}" + (f"  [{f.unit}]" if f.unit else ""))
                              for f in report.formulas))
    parts.append("<details><summary>Per-layer formulas</summary>")
    parts.append(html_table(LAYER_FORMULA_HEADERS, report.layer_formulas, left=5))
    parts.append("</details>")
    parts += ["<h2 id=conventions>Counting conventions</h2>", _definitions(report.conventions),
              f"<footer>Written by convplan {escape(__version__)}; every number is computed in "
              "this page from the formulas (exact integers), as <code>convplan analyze</code> "
              "computes it.</footer>",
              f"<script type=application/json id=cp-model>{model_json}</script>",
              f"<script>\"use strict\";\n{formulas_js}{SCRIPT}</script></body></html>"]
    return "\n".join(parts) + "\n"
