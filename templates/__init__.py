"""The Jinja templates `convplan generate` renders, installed as the package `convplan._templates`.

pyproject.toml maps this folder into the package (package-dir), so a wheel and an editable
install both find the templates with importlib.resources; this file makes it a regular package,
which an editable install's import hook needs to map it.
"""
