"""Dispatch an analysis to the requested format; each formatter returns text."""

from __future__ import annotations

from convplan.analysis import Analysis


def render_analysis(fmt: str, concrete: Analysis, symbolic: Analysis | None, *,
                    batch: int | None, dtype: str, optimizer: str,
                    input_size: tuple[int, ...] | None) -> str:
    if fmt == "json":
        from convplan.report.json_report import analysis_document, render_json

        return render_json(analysis_document(concrete, symbolic, batch=batch, dtype=dtype,
                                             optimizer=optimizer, input_size=input_size))
    from convplan.report.table import render_table

    return render_table(concrete, symbolic, batch=batch, dtype=dtype, optimizer=optimizer,
                        markdown=(fmt == "markdown"), html=(fmt == "html"))
