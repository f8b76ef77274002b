"""Terminal manners shared by subcommands: colour only on a terminal and never with NO_COLOR
(https://no-color.org), progress only on stderr (a bar on a terminal; through a pipe, one
line per step for commands that ask for it), so stdout carries nothing but the requested
output."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


def is_terminal(stream: TextIO | None) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams (pytest, pipes)
        return False


def colour_allowed(stream: TextIO | None) -> bool:
    """A terminal that is not 'dumb', and NO_COLOR unset or empty."""
    return (is_terminal(stream) and not os.environ.get("NO_COLOR")
            and os.environ.get("TERM") != "dumb")


def terminal_width(default: int = 100) -> int:
    return shutil.get_terminal_size((default, 24)).columns


class Progress:
    """What a command reports progress through: `step(description)` finishes the previous step
    and starts the next; `advance(n)` counts n more units of work (rows of a sweep)."""

    def __init__(self, bar=None, task=None, lines: str | None = None) -> None:
        self._bar, self._task, self._started, self._lines = bar, task, False, lines

    def step(self, description: str) -> None:
        if self._lines is not None:
            print(f"{self._lines}{description}", file=sys.stderr, flush=True)
            return
        if self._bar is None:
            return
        if self._started:
            self._bar.advance(self._task)
        self._started = True
        self._bar.update(self._task, description=description)

    def advance(self, count: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, count)


@contextmanager
def progress(total: int, description: str = "", lines: str | None = None
             ) -> Iterator[Progress]:
    """Yield a Progress over `total` steps or units: a transient rich bar on stderr when
    stderr is a terminal and there is more than one; elsewhere silent, or, given `lines` (a
    prefix such as 'verify: '), each step as one line on stderr, so a slow command shows
    progress through a pipe or in CI (rich is then never imported)."""
    if not is_terminal(sys.stderr):
        yield Progress(lines=lines)
        return
    if total < 2:
        yield Progress()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Bar

    console = Console(file=sys.stderr, no_color=not colour_allowed(sys.stderr))
    bar = Bar(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
              TextColumn("{task.completed:,}/{task.total:,}"), TimeElapsedColumn(),
              TimeRemainingColumn(), console=console, transient=True)
    task = bar.add_task(description, total=total)
    with bar:
        yield Progress(bar, task)
        bar.update(task, completed=total)
