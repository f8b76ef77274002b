"""The one progress bar every command uses: on stderr, only on a terminal, gone when done."""

from __future__ import annotations

import io
import sys

from convplan.cli import console


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_silent_off_a_terminal(monkeypatch):
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    with console.progress(4) as bar:
        bar.step("reading")
        bar.advance(2)
    assert stderr.getvalue() == ""


def test_progress_counts_steps_and_units_on_a_terminal(monkeypatch):
    stderr = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setenv("NO_COLOR", "1")
    with console.progress(1000, "sweep") as bar:
        bar.advance(250)
        bar._bar.refresh()
        assert "250/1,000" in stderr.getvalue() and "sweep" in stderr.getvalue()
    with console.progress(3) as bar:
        bar.step("reading spec.yaml")
        bar.step("analyzing 9 layers")
        bar._bar.refresh()
        assert "analyzing 9 layers" in stderr.getvalue() and "1/3" in stderr.getvalue()


def test_one_row_needs_no_bar(monkeypatch):
    stderr = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", stderr)
    with console.progress(1, "sweep") as bar:
        bar.advance(1)
    assert stderr.getvalue() == ""
