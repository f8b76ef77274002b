"""Pick the frontend for a file: a convplan spec, Keras model JSON, or a .keras archive."""

from __future__ import annotations

from pathlib import Path

from convplan.frontends.loader import parse_text, read_text
from convplan.frontends.spec import build_graph
from convplan.ir.graph import Graph


def is_keras_config(data: object) -> bool:
    return isinstance(data, dict) and "class_name" in data and "config" in data


def load_any(path: str | Path) -> Graph:
    path = Path(path)
    if path.suffix == ".keras":
        from convplan.frontends.keras_model import load_keras_archive

        return load_keras_archive(path)
    data = parse_text(read_text(path), str(path))
    if is_keras_config(data):
        from convplan.frontends.keras_model import graph_from_keras_config

        return graph_from_keras_config(data, source=str(path))
    return build_graph(data, str(path))
