"""Render the top-level `templates/project/` folder with a strict Jinja environment.

The templates ship inside the package as `convplan._templates` (pyproject.toml maps the folder
there), so a wheel and an editable install find them the same way, with importlib.resources.
StrictUndefined turns a missing context key into an error instead of an empty string;
autoescape is off because the output is Python and Markdown, not HTML, and every value is made
safe for its place in `codegen` before it gets here. A template that renders to nothing but
whitespace is a file this project does not need (the multi-worker test on other targets).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from convplan.errors import UsageError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

TEMPLATE_PACKAGE = "convplan._templates"
PROJECT = "project"
SUFFIX = ".j2"


def project_templates() -> Traversable:
    """The installed `templates/project/` folder."""
    try:
        root = files(TEMPLATE_PACKAGE) / PROJECT
    except ModuleNotFoundError:
        root = None
    if root is None or not root.is_dir():
        raise UsageError(f"the project templates are missing: the package {TEMPLATE_PACKAGE} has no "
                         f"'{PROJECT}' folder. Hint: reinstall convplan (pip install convplan, or "
                         f"pip install -e . in a checkout)")
    return root


def template_files(root: Traversable) -> dict[str, Traversable]:
    """{POSIX path relative to `root`: file} for every template below it, sorted by path."""
    found: dict[str, Traversable] = {}
    folders: list[tuple[str, Traversable]] = [("", root)]
    while folders:
        prefix, folder = folders.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                folders.append((f"{prefix}{entry.name}/", entry))
            elif entry.name.endswith(SUFFIX):
                found[prefix + entry.name] = entry
    return dict(sorted(found.items()))


def template_names(root: Traversable | None = None) -> list[str]:
    """Every template below `root` (default: the installed project templates)."""
    return list(template_files(project_templates() if root is None else root))


def environment(templates: dict[str, Traversable]) -> Any:
    """A strict Jinja environment over `templates` (from `template_files`), read through
    importlib.resources so a zipped install works too; errors name the template's file."""
    import jinja2

    def load(name: str) -> tuple[str, str, Any] | None:
        entry = templates.get(name)
        if entry is None:
            return None
        return entry.read_text(encoding="utf-8"), str(entry), lambda: True

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_templates(context: dict[str, Any], root: Traversable | None = None) -> dict[str, str]:
    """{relative output path: text} for every template that renders to something."""
    templates = template_files(project_templates() if root is None else root)
    env = environment(templates)
    rendered = {}
    for name in templates:
        text = env.get_template(name).render(**context)
        if text.strip():
            rendered[str(PurePosixPath(name[: -len(SUFFIX)]))] = text
    return rendered
