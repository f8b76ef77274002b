"""The report as LaTeX for papers: a booktabs table of the layers with the totals, then the
summary and the formulas. Cells are the Markdown report's cells (convplan.report.summary), so the
numbers read the same; every piece of text from the spec is escaped (`escape_latex`).

Needs `\\usepackage{booktabs,graphicx}` (the table is scaled to the line width) in the preamble,
as the output's first line says; pdflatex reads it with the default fonts, and the floor and
ceiling brackets are set in math mode.
"""

from __future__ import annotations

from convplan import __version__
from convplan.report.summary import LAYER_FORMULA_HEADERS, Report

LEFT_COLUMNS = 3

# LaTeX's ten special characters, plus those OT1 (the default font encoding) prints as other
# glyphs ('<' as an inverted exclamation mark); a command word is closed by {} so a letter after
# it is not read as part of the name.
SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "\n": " ", "\r": " ",
}
# convplan.report.formatting's formula notation, as math: ⌊H/4⌋·W -> $\lfloor$H/4$\rfloor\cdot$W
MATH = {"⌊": r"\lfloor", "⌋": r"\rfloor", "⌈": r"\lceil", "⌉": r"\rceil", "·": r"\cdot",
        "×": r"\times", "≤": r"\leq", "≥": r"\geq", "−": "-"}


def escape_latex(text: str) -> str:
    """Text that LaTeX prints as written: specials escaped, formula brackets set as math."""
    out: list[str] = []
    math: list[str] = []  # a run of math symbols goes in one $...$ ('$$' would open display math)
    for char in text + "\0":
        if char in MATH:
            math.append(MATH[char])
            continue
        if math:
            out.append("$" + " ".join(math) + "$")
            math = []
        out.append(SPECIALS.get(char, char))
    return "".join(out[:-1])  # without the sentinel


def latex_tabular(headers: tuple[str, ...], rows, footer: tuple[str, ...] | None = None,
                  left: int = LEFT_COLUMNS) -> list[str]:
    """A booktabs tabular: `left` columns left-aligned, the rest right; the footer after a rule,
    in bold."""
    def line(cells) -> str:
        return " & ".join(cells) + r" \\"

    spec = "l" * left + "r" * (len(headers) - left)
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             line(escape_latex(h) for h in headers), r"\midrule"]
    lines += [line(escape_latex(cell) for cell in row) for row in rows]
    if footer is not None:
        lines += [r"\midrule",
                  line(rf"\textbf{{{escape_latex(c)}}}" if c else "" for c in footer)]
    return lines + [r"\bottomrule", r"\end{tabular}"]


def label_for(name: str) -> str:
    """A \\label key: letters, digits, '-' and ':' only (a key with specials breaks \\ref)."""
    return "tab:convplan-" + ("".join(c if c.isascii() and c.isalnum() else "-" for c in name)
                              or "model")


def render_latex(report: Report, layer_formulas: bool = False) -> str:
    """A table float with the layers, then a description list of the summary, notes, formulas
    and conventions; `layer_formulas` adds a second table of the per-layer formulas."""
    lines = [rf"% convplan {__version__}: needs \usepackage{{booktabs,graphicx}} in the preamble",
             r"\begin{table}[htbp]", r"\centering", r"\small",
             rf"\caption{{{escape_latex(report.name)}: {escape_latex(report.setting)}}}",
             rf"\label{{{label_for(report.name)}}}",
             r"\resizebox{\linewidth}{!}{%"]
    lines += latex_tabular(report.headers, report.rows, report.total)
    lines += ["}", r"\end{table}", "", r"\begin{description}"]
    lines += [rf"\item[{escape_latex(label)}] {escape_latex(text)}"
              for label, text in report.facts]
    lines += [rf"\item[note] {escape_latex(note)}" for note in report.notes]
    if report.formulas:
        lines.append(rf"\item[formulas] {escape_latex(report.symbols)}")
        lines += [rf"\item[{escape_latex(f.label)}] = {escape_latex(f.text)}"
                  + (f" ({escape_latex(f.unit)})" if f.unit else "") for f in report.formulas]
    lines.append(r"\end{description}")
    if layer_formulas and report.layer_formulas:
        lines += ["", r"\begin{table}[htbp]", r"\centering", r"\small",
                  rf"\caption{{{escape_latex(report.name)}: per-layer formulas}}",
                  r"\resizebox{\linewidth}{!}{%"]
        lines += latex_tabular(LAYER_FORMULA_HEADERS, report.layer_formulas, left=5)
        lines += ["}", r"\end{table}"]
    lines += ["", r"\begin{description}"]
    lines += [rf"\item[{escape_latex(label)}] {escape_latex(text)}"
              for label, text in report.conventions]
    lines.append(r"\end{description}")
    return "\n".join(lines) + "\n"
