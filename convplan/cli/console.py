"""Terminal manners shared by subcommands: colour only on a terminal and never with NO_COLOR
(https://no-color.org), progress only on a terminal and only on stderr, so stdout carries
nothing but the requested output."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
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


@contextmanager
def progress(steps: int) -> Iterator[Callable[[str], None]]:
    """Yield `step(description)`: each call finishes the previous step and starts the next.

    A transient rich progress bar on stderr when stderr is a terminal; nothing otherwise
    (and rich is then never imported)."""
    if not is_terminal(sys.stderr):
        yield lambda description: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr, no_color=not colour_allowed(sys.stderr))
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                   TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                   console=console, transient=True)
    task = bar.add_task("", total=steps)
    started = [False]

    def step(description: str) -> None:
        if started[0]:
            bar.advance(task)
        started[0] = True
        bar.update(task, description=description)

    with bar:
        yield step
        bar.update(task, completed=steps)
