"""Notebooks: examples/planning.ipynb executed by nbclient in a real IPython kernel, its outputs
checked against the analysis made here; `Analysis` and `Graph` display themselves
(`_repr_html_`, `_repr_markdown_`), and `convplan.show` puts the report in an iframe."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from cli_run import EXAMPLES, SEED

import convplan
from convplan.analysis import analyze
from convplan.errors import UsageError
from convplan.notebook import Live, analysis_html, show
from convplan.report.formatting import exact, shape_text
from convplan.report.summary import layer_rows

NOTEBOOK = EXAMPLES / "planning.ipynb"


def outputs_of(cell) -> dict[str, str]:
    """mime type -> text of a code cell's outputs (display data, results and printed text)."""
    out: dict[str, str] = {}
    for output in cell.outputs:
        if output.output_type == "stream":
            out["stream"] = out.get("stream", "") + output.text
        elif output.output_type in ("execute_result", "display_data"):
            for mime, data in output.data.items():
                out[mime] = data if isinstance(data, str) else "".join(data)
        elif output.output_type == "error":
            pytest.fail(f"{output.ename}: {output.evalue}")
    return out


def table_cells(page: str) -> dict[str, list[str]]:
    """The layers table of an HTML report: layer name -> its cells, read back from the markup
    (the first row of that name: the layers table comes before any table of formulas)."""
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S):
        cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        if cells:
            rows.setdefault(cells[0], cells)
    return rows


@pytest.mark.slow
def test_the_example_notebook_runs_and_shows_the_analysis(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(EXAMPLES)}})
    client.execute()
    code = [outputs_of(c) for c in notebook.cells if c.cell_type == "code"]
    graph = convplan.load(SEED)
    declared, at56 = analyze(graph), analyze(graph, input_size=(56, 56))

    # the graph and the Analysis display as HTML (table, formulas, diagram) and as Markdown
    for out, analysis in ((code[0], declared), (code[1], at56)):
        cells = table_cells(out["text/html"])
        assert set(cells) == {layer.name for layer in analysis.layers} | {"total"}
        for layer in analysis.layers:
            assert cells[layer.name][1:3] == [layer.op, shape_text(layer.output_shape)]
        assert f"{exact(analysis.totals.params)} (trainable" in out["text/html"]
        assert f"{exact(analysis.totals.macs)} per example" in out["text/html"]
        assert "<h4>Formulas</h4>" in out["text/html"]
        assert "8192·⌊H/4⌋·⌊W/4⌋ + 20234" in out["text/html"]  # the params formula
        assert '<img alt="Architecture" src="data:image/svg+xml;base64,' in out["text/html"]
        assert f"| conv1 | Conv2D | {shape_text(analysis.layer('conv1').output_shape)} |" \
            in out["text/markdown"]
    assert declared.totals.params == 421_642  # the seed CNN, as Keras counts it

    # plain values: the MACs at three sizes, and the formulas
    expected = {s: analyze(graph, input_size=(s, s)).totals.macs for s in (224, 256, 320)}
    assert code[2]["text/plain"] == repr(expected)
    symbolic = analyze(graph, generalize=True)
    assert code[3]["stream"] == (f"params = {symbolic.totals.params}\n"
                                 f"MACs per example = {symbolic.totals.macs}\n")

    # convplan.show: the live report in an iframe, opening at 224x224 and batch 8
    frame = code[4]["text/html"]
    assert frame.startswith('<iframe title="convplan: seed_cnn" srcdoc="')
    page = html.unescape(re.search(r'srcdoc="([^"]*)"', frame).group(1))
    assert page.startswith("<!DOCTYPE html>") and "<script" in page
    assert re.findall(r"id=cp-size-\d+ [^>]*value=(\d+)", page) == ["224", "224"]
    rows = table_cells(page)
    for row in layer_rows(analyze(graph, input_size=(224, 224)), 8, "float32"):
        assert rows[row[0]] == list(row)


@pytest.mark.slow
def test_an_analysis_displays_itself():
    analysis = analyze(convplan.load(EXAMPLES / "seed_dilated.yaml"), input_size=(64, 64))
    page = analysis._repr_html_()
    cells = table_cells(page)
    assert [c[0] for c in cells.values()] == [layer.name for layer in analysis.layers] + ["total"]
    markdown = analysis._repr_markdown_()
    assert markdown.startswith(f"## {analysis.name}\n") and "### Formulas" in markdown


def test_a_symbolic_analysis_shows_its_formulas_in_the_cells():
    graph = convplan.load(SEED)
    symbolic = analyze(graph, generalize=True)
    page = analysis_html(symbolic, diagram=False)
    assert table_cells(page)["conv1"][2] == "(None, H, W, 32)"
    assert "<img" not in page


def test_show_checks_its_sizes_and_inputs():
    with pytest.raises(UsageError, match=r"unknown size X for 'seed_cnn'; its sizes are H, W"):
        show(SEED, X=3)
    with pytest.raises(UsageError, match="received int"):
        show(3)
    with pytest.raises(convplan.ShapeError):
        show(SEED, H=2, W=2)  # pooling twice leaves nothing: the CLI's message, not a page


def test_show_takes_a_graph_or_an_analysis_and_writes_the_page(tmp_path):
    graph = convplan.load(SEED)
    opened = show(analyze(graph, input_size=(36, 36)))
    assert table_cells(opened.page)["conv1"][2] == "(None, 36, 36, 32)"
    live = show(graph, H=32, W=32)
    assert isinstance(live, Live) and 'sandbox="allow-scripts"' in live._repr_html_()
    live.save(tmp_path / "seed.html")
    assert (tmp_path / "seed.html").read_text() == live.page
    assert table_cells(live.page)["conv1"][2] == "(None, 32, 32, 32)"


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
RESIZE = """([h, w]) => {
  document.getElementById('cp-size-0').value = h;
  document.getElementById('cp-size-1').value = w;
  document.getElementById('cp-size-1').dispatchEvent(new Event('input'));
}"""
SHAPES = """() => [...document.querySelectorAll('#cp-table tbody tr')].map(
  (tr) => [tr.cells[0].textContent, tr.cells[2].textContent])"""


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
def test_the_inline_live_page_runs_in_its_sandboxed_iframe(tmp_path):
    """What a notebook shows: the iframe's page runs its script inside the sandbox, recomputes
    at new sizes, and asks for nothing over the network."""
    sync_api = pytest.importorskip("playwright.sync_api")
    graph = convplan.load(SEED)
    host = tmp_path / "notebook.html"
    host.write_text("<!DOCTYPE html><html><body>"
                    + show(SEED, H=224, W=224, batch=8)._repr_html_() + "</body></html>")
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route("**/*", lambda r: (requests.append(r.request.url), r.continue_()))
        page.goto(host.as_uri())
        frame = page.frame_locator("iframe").locator("#cp-table")
        frame.wait_for()
        inner = next(f for f in page.frames if f != page.main_frame)
        before = inner.evaluate(SHAPES)
        inner.evaluate(RESIZE, [40, 48])
        inner.wait_for_function("() => document.querySelector('#cp-table tbody tr').cells[2]"
                                ".textContent.includes('40')")
        after = inner.evaluate(SHAPES)
        browser.close()
    at224, at40 = analyze(graph, input_size=(224, 224)), analyze(graph, input_size=(40, 48))
    assert before == [[x.name, shape_text(x.output_shape, 8)] for x in at224.layers]
    assert after == [[x.name, shape_text(x.output_shape, 8)] for x in at40.layers]
    assert requests == [host.as_uri()]
