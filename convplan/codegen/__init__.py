"""Code generation: a plan becomes a Keras training project (context -> Jinja templates).

`render_project` computes every file in memory; `generate_project` also writes them, whole or
not at all. Nothing here imports TensorFlow.
"""

from convplan.codegen.project import generate_project, render_project

__all__ = ["generate_project", "render_project"]
