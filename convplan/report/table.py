"""The terminal report: a per-layer table with totals, the summary, the formulas and the
counting conventions. Plain text (stable, for pipes and tests) or rich (for a terminal)."""

from __future__ import annotations

import io
import textwrap

from convplan.report.summary import Report

LEFT_COLUMNS = 3  # layer, op and output shape read left-aligned; numbers right-aligned
RICH_HEADERS = {"act. mem": "act.\nmem", "RF size": "RF\nsize", "RF stride": "RF\nstride"}


def _plain_table(report: Report) -> list[str]:
    everything = [report.headers, *report.rows, report.total]
    widths = [max(len(row[i]) for row in everything) for i in range(len(report.headers))]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(w) if i < LEFT_COLUMNS else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(row, widths))).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [line(report.headers), rule, *(line(r) for r in report.rows), rule, line(report.total)]


PROSE_WIDTH = 100  # summary and conventions wrap here; formulas never wrap (people copy them)


def _aligned(pairs: list[tuple[str, str]], indent: str = "", wrap: bool = False) -> list[str]:
    width = max((len(label) for label, _ in pairs), default=0)
    lines = []
    for label, text in pairs:
        head = f"{indent}{label.ljust(width)}  "
        if wrap:
            lines += textwrap.wrap(text, PROSE_WIDTH, initial_indent=head,
                                   subsequent_indent=" " * len(head), break_on_hyphens=False)
        else:
            lines.append((head + text).rstrip())
    return lines


def _formula_pairs(report: Report) -> list[tuple[str, str]]:
    return [(f.label, f"= {f.text}" + (f"  [{f.unit}]" if f.unit else "")) for f in report.formulas]


def render_plain(report: Report, layer_formulas: bool = False) -> str:
    """Plain text: no colour, no box drawing, stable column alignment."""
    lines = [f"{report.name}: {report.setting}", "", *_plain_table(report), ""]
    lines += _aligned([(label + ":", text) for label, text in report.facts], wrap=True)
    lines += [f"note: {note}" for note in report.notes]
    if report.formulas:
        lines += ["", f"formulas ({report.symbols}):"]
        lines += _aligned(_formula_pairs(report), "  ")
    if layer_formulas and report.layer_formulas:
        lines += ["", "per-layer formulas:"]
        lines += _aligned([(row[0], "  ".join(row[1:])) for row in report.layer_formulas], "  ")
    lines += ["", "conventions:"]
    lines += _aligned([(label + ":", text) for label, text in report.conventions], "  ",
                      wrap=True)
    return "\n".join(lines) + "\n"


def render_rich(report: Report, *, width: int = 100, colour: bool = True,
                layer_formulas: bool = False) -> str:
    """The same content through rich: a boxed table, bold labels, colour when allowed.

    Returns the text with ANSI escapes (none when `colour` is False); never prints."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=True, no_color=not colour,
                      color_system="standard" if colour else None, highlight=False,
                      emoji=False, markup=False)
    table = Table(title=f"{report.name}: {report.setting}", title_justify="left",
                  show_footer=True, header_style="bold", footer_style="bold",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    headers = [RICH_HEADERS.get(h, h) for h in report.headers]
    for i, header in enumerate(headers):
        widest = max(len(part) for row in [*report.rows, report.total, header.split("\n")]
                     for part in ([row[i]] if isinstance(row, tuple) else row))
        # On a narrow terminal rich narrows the widest wrappable columns first: names get
        # an ellipsis (they are one word), the shape wraps at its commas, numbers stay whole.
        table.add_column(header, footer=report.total[i], no_wrap=i >= LEFT_COLUMNS,
                         min_width=widest if i >= LEFT_COLUMNS else None,
                         overflow="fold" if i == 2 else "ellipsis",
                         justify="left" if i < LEFT_COLUMNS else "right",
                         style="cyan" if i == 0 else None)
    for row in report.rows:
        table.add_row(*row)
    console.print(table)
    _rich_pairs(console, None, report.facts)
    for note in report.notes:
        console.print(f"note: {note}", style="yellow")
    if report.formulas:
        _rich_pairs(console, f"formulas ({report.symbols})", _formula_pairs(report))
    if layer_formulas and report.layer_formulas:
        _rich_pairs(console, "per-layer formulas",
                    [(row[0], "  ".join(row[1:])) for row in report.layer_formulas])
    _rich_pairs(console, "conventions", list(report.conventions), dim=True)
    return buffer.getvalue()


def _rich_pairs(console, title: str | None, pairs: list[tuple[str, str]],
                dim: bool = False) -> None:
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold" if not dim else "dim bold", no_wrap=True)
    grid.add_column(style="dim" if dim else None)
    for label, text in pairs:
        grid.add_row(label, text)
    console.print()
    if title:
        console.print(title + ":", style="bold")
    console.print(grid)

