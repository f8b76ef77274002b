"""Render the top-level `templates/project/` folder with a strict Jinja environment.

StrictUndefined turns a missing context key into an error instead of an empty string;
autoescape is off because the output is Python and Markdown, not HTML, and every value is made
safe for its place in `codegen` before it gets here. A template that renders to nothing but
whitespace is a file this project does not need (the multi-worker test on other targets).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from convplan.errors import UsageError

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "project"
SUFFIX = ".j2"


def template_names(root: Path = TEMPLATES) -> list[str]:
    """Every template below `root`, as sorted POSIX paths relative to it."""
    if not root.is_dir():
        raise UsageError(f"the project templates are missing: {root} is not a folder")
    return sorted(p.relative_to(root).as_posix() for p in root.rglob(f"*{SUFFIX}") if p.is_file())


def environment(root: Path = TEMPLATES) -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_templates(context: dict[str, Any], root: Path = TEMPLATES) -> dict[str, str]:
    """{relative output path: text} for every template that renders to something."""
    env = environment(root)
    files = {}
    for name in template_names(root):
        text = env.get_template(name).render(**context)
        if text.strip():
            files[str(PurePosixPath(name[: -len(SUFFIX)]))] = text
    return files
