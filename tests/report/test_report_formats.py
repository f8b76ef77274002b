"""Report building blocks: number and formula printing (never changing a value), Markdown and
HTML escaping of hostile text."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser

import pytest
import sympy
from cli_run import EXAMPLES

import convplan
from convplan.analysis import analyze
from convplan.report.formatting import exact, format_formula, human, human_bytes, shape_text
from convplan.report.html import render_html
from convplan.report.markdown import render_markdown
from convplan.report.summary import build_report


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (999, "999"), (1000, "1K"), (18496, "18.5K"), (4241152, "4.24M"),
    (4_100_000_000, "4.1G"), (15_500_000_000_000, "15.5T"), (None, "-"),
])
def test_human_counts(value, text):
    assert human(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (40, "40 B"), (1023, "1023 B"), (1024, "1 KiB"), (204392, "200 KiB"),
    (3 * 2**20, "3 MiB"), (6_950_000_000, "6.47 GiB"),
])
def test_human_bytes(value, text):
    assert human_bytes(value) == text


def test_exact_and_shapes():
    assert exact(421642) == "421,642"
    H = sympy.Symbol("H", integer=True, positive=True)
    assert shape_text((sympy.floor(H / 2), 32)) == "(None, ⌊H/2⌋, 32)"
    assert shape_text((7, 7, 64), batch=8) == "(8, 7, 7, 64)"


def read_back(text: str) -> sympy.Expr:
    """The inverse of format_formula's notation, to check that printing kept the value."""
    python = (text.replace("⌊", "floor(").replace("⌋", ")").replace("⌈", "ceiling(")
              .replace("⌉", ")").replace("·", "*").replace("^", "**"))
    names = set(re.findall(r"[A-Za-z_]\w*", python)) - {"floor", "ceiling", "Max", "Min", "Mod"}
    return sympy.sympify(python, locals={n: sympy.Symbol(n, integer=True, positive=True)
                                         for n in names})


FORMULA_SPECS = ["seed_cnn.yaml", "seed_stride_padding.yaml", "seed_dilated.yaml",
                 "resnet50.yaml"]


@pytest.mark.parametrize("name", FORMULA_SPECS)
def test_printed_formulas_keep_their_values(name):
    symbolic = analyze(convplan.load(EXAMPLES / name), generalize=True)
    values = [symbolic.totals.macs, symbolic.totals.flops, symbolic.totals.activations,
              symbolic.totals.params]
    values += [d for layer in symbolic.layers for d in layer.output_shape]
    symbols = sorted({s for v in values if isinstance(v, sympy.Basic) for s in v.free_symbols},
                     key=str)
    checked = 0
    for value in dict.fromkeys(values):
        if not isinstance(value, sympy.Basic) or value.is_number:
            continue
        back = read_back(format_formula(value))
        by_name = {str(s): s for s in back.free_symbols}
        for size in (7, 32, 33, 224, 225, 1001):
            at = {s: size + i for i, s in enumerate(symbols)}
            assert back.subs({by_name[str(s)]: v for s, v in at.items() if str(s) in by_name}) \
                == value.subs(at), (format_formula(value), size)
        checked += 1
    assert checked > 0


def seed_report():
    graph = convplan.load(EXAMPLES / "seed_cnn.yaml")
    return build_report(analyze(graph), analyze(graph, generalize=True))


HOSTILE = "<script>alert('x')</script> a|b *c* `d` & e"


def hostile_report():
    report = seed_report()
    rows = list(report.rows)
    rows[1] = (HOSTILE,) + rows[1][1:]
    return dataclasses.replace(report, name=HOSTILE, rows=tuple(rows),
                               notes=(HOSTILE,), facts=report.facts + (("x", HOSTILE),))


def test_markdown_escapes_what_markdown_would_read():
    text = render_markdown(hostile_report())
    row = next(line for line in text.splitlines() if "alert" in line and line.startswith("|"))
    assert row.startswith(r"| \<script\>alert('x')\</script\> a\|b \*c\* \`d\` & e | Conv2D |")
    assert len(re.split(r"(?<!\\)\|", row)) == 11  # nine cells, no extra split at the pipe
    assert "<script>" not in text


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_html_escapes_everything_from_the_spec():
    page = render_html(hostile_report())
    assert "<script>" not in page
    parsed = _Text()
    parsed.feed(page)
    assert "script" not in parsed.tags
    assert sum(HOSTILE in t for t in parsed.text) >= 4  # title, heading, table cell, note, fact


def test_html_without_pictures_says_why():
    page = render_html(seed_report(), [], pictures_note="No pictures: matplotlib missing")
    assert "No pictures: matplotlib missing" in page and "<img" not in page
