"""Pick the frontend for a file: a convplan spec, Keras model JSON, or a .keras archive."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from convplan.errors import UsageError
from convplan.frontends.loader import parse_text, read_text
from convplan.frontends.spec import build_graph
from convplan.ir.graph import Graph


def is_keras_config(data: object) -> bool:
    return isinstance(data, dict) and "class_name" in data and "config" in data


def keras_json(text: str) -> dict | None:
    """Keras model JSON parsed as JSON, or None. Not through the YAML reader: YAML 1.1 reads
    JSON's 1e-06 as a string, and is a hundred times slower on a 500 KB model."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if is_keras_config(data) else None


def is_zip_file(path: Path) -> bool:
    """A .keras archive under another name (model.zip): spec files are text, never zips."""
    try:
        return path.is_file() and zipfile.is_zipfile(path)
    except OSError:
        return False


def load_any(path: str | Path, custom_layers: Mapping[str, Any] | None = None) -> Graph:
    """A spec, a Keras model JSON or a .keras archive -> Graph. `custom_layers` declares Keras
    layer classes convplan does not model (Keras files only)."""
    path = Path(path)
    if path.suffix == ".keras" or is_zip_file(path):
        from convplan.frontends.keras_model import load_keras_archive

        return load_keras_archive(path, custom_layers)
    text = read_text(path)
    data = keras_json(text)
    if data is None:
        data = parse_text(text, str(path))
    if is_keras_config(data):
        from convplan.frontends.keras_model import graph_from_keras_config

        return graph_from_keras_config(data, source=str(path), custom_layers=custom_layers)
    if custom_layers:
        raise UsageError(f"{path} is a convplan spec; custom layer declarations apply to Keras "
                         "model files (in a spec, write the layer as op: Custom)")
    return build_graph(data, str(path))
