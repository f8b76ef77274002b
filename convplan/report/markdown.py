"""The report as GitHub-flavoured Markdown (for pull requests, wikis and design docs)."""

from __future__ import annotations

from convplan.report.summary import LAYER_FORMULA_HEADERS, Report

LEFT_COLUMNS = 3


def escape_cell(text: str) -> str:
    """Pipes would split the cell; backslashes, stars, backticks and angle brackets would be
    read as markup. Underscores stay: GitHub does not emphasize inside words (conv_1)."""
    for char in "\\|*`<>":
        text = text.replace(char, "\\" + char)
    return text.replace("\n", " ")


def escape_text(text: str) -> str:
    """Characters that Markdown would read as markup, escaped (underscores stay, as in
    escape_cell)."""
    for char in "\\`*[]<>|":
        text = text.replace(char, "\\" + char)
    return text


def markdown_table(headers: tuple[str, ...], rows, left: int = LEFT_COLUMNS,
                   footer: tuple[str, ...] | None = None) -> list[str]:
    """A GFM table; the first `left` columns left-aligned, the rest right; footer in bold."""
    def line(cells) -> str:
        return "| " + " | ".join(cells) + " |"

    lines = [line(escape_cell(h) for h in headers),
             "|" + "|".join("---" if i < left else "---:" for i in range(len(headers))) + "|"]
    lines += [line(escape_cell(cell) for cell in row) for row in rows]
    if footer is not None:
        lines.append(line(f"**{escape_cell(cell)}**" if cell else "" for cell in footer))
    return lines


def _code(text: str) -> str:
    """Inline code that survives backticks in the text."""
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}" if fence == "`" else f"{fence} {text} {fence}"


def render_markdown(report: Report, layer_formulas: bool = False) -> str:
    lines = [f"## {escape_text(report.name)}", "", escape_text(report.setting), ""]
    lines += markdown_table(report.headers, report.rows, footer=report.total)
    lines += [""] + [f"- **{label}**: {escape_text(text)}" for label, text in report.facts]
    lines += [f"- **note**: {escape_text(note)}" for note in report.notes]
    if report.formulas:
        lines += ["", f"### Formulas ({escape_text(report.symbols)})", ""]
        lines += [f"- **{f.label}** = {_code(f.text)}" + (f" ({escape_text(f.unit)})" if f.unit
                                                          else "") for f in report.formulas]
    if layer_formulas and report.layer_formulas:
        lines += ["", "### Per-layer formulas", ""]
        lines += markdown_table(LAYER_FORMULA_HEADERS, report.layer_formulas, left=5)
    lines += ["", "### Conventions", ""]
    lines += [f"- **{label}**: {escape_text(text)}" for label, text in report.conventions]
    return "\n".join(lines) + "\n"
