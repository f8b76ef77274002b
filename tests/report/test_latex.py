"""`analyze --format latex`: a booktabs table whose cells are the Markdown report's cells, with
every LaTeX special in text from the spec escaped. pdflatex compiles it where it is installed
(.ci/run installs it; the escaping is also checked by reading the output back)."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess

import pytest
from cli_run import EXAMPLES, SEED, run_cli
from hypothesis import given
from hypothesis import strategies as st

import convplan
from convplan.analysis import analyze
from convplan.report.latex import MATH, SPECIALS, escape_latex, label_for, render_latex
from convplan.report.render import render_analysis
from convplan.report.summary import build_report

HOSTILE = "c_1 & 50% $x #2 {a} ~b ^c \\d <e> |f ⌊H/2⌋·⌈W/2⌉"
PDFLATEX = shutil.which("pdflatex")

# The inverse of escape_latex, written independently: every escape back to its character, a
# math run back to its symbols. Whatever is left must contain no special at all.
_BACK = {v: k for k, v in SPECIALS.items() if k not in "\n\r"}
_MATH_BACK = {v: k for k, v in MATH.items()}
_TOKEN = re.compile(r"\$([^$]*)\$|" + "|".join(
    re.escape(v) for v in sorted(_BACK, key=len, reverse=True)))


def unescape(text: str) -> str:
    def one(match: re.Match) -> str:
        if match.group(1) is not None:
            return "".join(_MATH_BACK[c] for c in match.group(1).split(" "))
        return _BACK[match.group(0)]

    rest = _TOKEN.sub("", text)
    assert not set(rest) & (set(SPECIALS) | set("$")), f"unescaped special in {text!r}"
    return _TOKEN.sub(one, text)


@given(st.text(alphabet=st.sampled_from(list(SPECIALS) + list(MATH) + list("ab1 .é")),
               max_size=40))
def test_escaping_keeps_the_text_and_leaves_no_special(text):
    escaped = escape_latex(text)
    expected = text.replace("\n", " ").replace("\r", " ")
    assert unescape(escaped) == expected
    # two math runs never touch: '$$' would open display math (an escaped '\$' may precede one)
    assert not re.search(r"(?<!\\)\$\$", escaped)


def test_label_keys_are_safe():
    assert label_for(HOSTILE).startswith("tab:convplan-c-1")
    assert re.fullmatch(r"[A-Za-z0-9:-]+", label_for(HOSTILE))


def table_rows(latex: str) -> list[list[str]]:
    """The first tabular's rows (header, layers, total), cells read back."""
    body = latex.split(r"\toprule", 1)[1].split(r"\bottomrule", 1)[0]
    rows = []
    for line in body.splitlines():
        if line.endswith(r" \\"):
            cells = re.split(r"(?<!\\) & ", line[:-3])
            rows.append([unescape(re.sub(r"^\\textbf\{(.*)\}$", r"\1", c)) for c in cells])
    return rows


def hostile_report():
    graph = convplan.load(SEED)
    report = build_report(analyze(graph), analyze(graph, generalize=True))
    rows = list(report.rows)
    rows[1] = (HOSTILE,) + rows[1][1:]
    return report, dataclasses.replace(report, name=HOSTILE, rows=tuple(rows),
                                       notes=(HOSTILE,), facts=report.facts + (("x", HOSTILE),))


def test_hostile_names_are_escaped_everywhere():
    plain, report = hostile_report()
    latex = render_latex(report, layer_formulas=True)
    rows = table_rows(latex)
    assert rows[0] == list(report.headers)
    assert rows[2][0] == HOSTILE and rows[2][1:] == list(plain.rows[1][1:])
    caption = next(line for line in latex.splitlines() if line.startswith(r"\caption"))
    assert unescape(caption[len(r"\caption{"):-1]).startswith(HOSTILE + ": input image")
    # title, table cell, note, fact; and nowhere unescaped
    assert sum(escape_latex(HOSTILE) in line for line in latex.splitlines()) >= 4
    assert " & 50% " not in latex and "{a}" not in latex
    assert latex.count(r"\begin{table}") == latex.count(r"\end{table}") == 2


@pytest.mark.parametrize("name", ["seed_cnn.yaml", "unet_small.yaml"])
def test_cells_are_the_markdown_reports_cells(name):
    """Same numbers, same formatting: the LaTeX table read back equals the Markdown table."""
    graph = convplan.load(EXAMPLES / name)
    concrete, symbolic = analyze(graph, input_size=(64, 64)), analyze(graph, generalize=True)
    def render(fmt: str) -> str:
        return render_analysis(fmt, concrete, symbolic, batch=8, dtype="float32",
                               optimizer="adam", input_size=(64, 64), graph=graph)

    md_rows = [[re.sub(r"^\*\*(.*)\*\*$", r"\1", c.strip()).replace("\\", "")
                for c in re.split(r"(?<!\\)\|", line)[1:-1]]
               for line in render("markdown").splitlines()
               if line.startswith("| ") and not line.startswith("|---")]
    md_rows = md_rows[:md_rows.index(next(r for r in md_rows if r[0] == "total")) + 1]
    assert table_rows(render("latex")) == md_rows
    assert len(md_rows) == len(graph) + 2


def test_the_extension_picks_latex_and_memory_goes_verbatim(tmp_path):
    out = tmp_path / "table.tex"
    result = run_cli("analyze", SEED, "--memory", "-o", out)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("% convplan") and r"\begin{tabular}{lllrrrrrr}" in text
    assert text.rstrip().endswith(r"\end{verbatim}")


@pytest.mark.skipif(PDFLATEX is None,
                    reason="pdflatex is not installed (texlive-latex-recommended; .ci/run has it)")
def test_pdflatex_compiles_the_hostile_report(tmp_path):
    _, report = hostile_report()
    document = ("\\documentclass{article}\n\\usepackage[T1]{fontenc}\n"
                "\\usepackage{booktabs,graphicx}\n\\begin{document}\n"
                + render_latex(report, layer_formulas=True) + "\\end{document}\n")
    (tmp_path / "report.tex").write_text(document.replace("é", "e"))
    result = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error",
                             "report.tex"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "report.pdf").stat().st_size > 1000
