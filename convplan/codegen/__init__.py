"""Code generation: a plan becomes a Keras training project (context -> Jinja templates).

`render_project` computes every file in memory; `generate_project` also writes them, whole or
not at all. Nothing here imports TensorFlow. The two are imported on first use, so that
`convplan generate --help` (which reads only the target and dataset names) stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["generate_project", "render_project"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from convplan.codegen import project

        return getattr(project, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
