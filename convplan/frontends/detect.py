"""What a file is, decided once, by its content: a convplan spec (YAML or JSON), Keras model
JSON, a .keras archive, or an ONNX model (by its .onnx name); and the Graph it holds.
`convplan.load`, `check`, `import` and `verify` all ask `sniff`, so a file is the same thing to
every command whatever its name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from convplan.errors import SpecError, UsageError
from convplan.frontends.keras_archive import read_archive_config, starts_like_zip
from convplan.frontends.loader import parse_text, read_text
from convplan.frontends.spec import build_graph
from convplan.ir.graph import Graph

Kind = Literal["spec", "keras_json", "keras_archive", "onnx"]
SPEC: Kind = "spec"
KERAS_JSON: Kind = "keras_json"
KERAS_ARCHIVE: Kind = "keras_archive"
ONNX: Kind = "onnx"
ARCHIVE_SUFFIX = ".keras"
ONNX_SUFFIX = ".onnx"


@dataclass(frozen=True)
class Sniffed:
    """A file and what it holds. `data`: the parsed document of a text file (a spec, or a Keras
    model config); None for an archive, whose config.json is read only when it is loaded."""

    path: Path
    kind: Kind
    data: Any = None

    @property
    def is_keras(self) -> bool:
        return self.kind in (KERAS_JSON, KERAS_ARCHIVE)


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


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(4)
    except OSError:
        return b""  # a missing file or a folder: `read_text` says which


def sniff(path: str | Path) -> Sniffed:
    """A zip (by its first bytes) is a .keras archive, whatever its name; so is any file named
    *.keras (the archive reader refuses it if it is no zip). Text holding a Keras model config
    (`class_name` and `config`, in JSON or YAML) is Keras model JSON; other text is a spec.
    Text files are read and parsed here, once (bounded, see `loader`)."""
    path = Path(path)
    if path.suffix.lower() == ONNX_SUFFIX:  # a protobuf has no magic number to sniff
        return Sniffed(path, ONNX)
    if path.suffix.lower() == ARCHIVE_SUFFIX or starts_like_zip(_head(path)):
        return Sniffed(path, KERAS_ARCHIVE)
    text = read_text(path)
    data = keras_json(text)
    if data is None:
        data = parse_text(text, str(path))
    return Sniffed(path, KERAS_JSON if is_keras_config(data) else SPEC, data)


def graph_of(sniffed: Sniffed, custom_layers: Mapping[str, Any] | None = None) -> Graph:
    """The Graph a sniffed file holds. `custom_layers` declares Keras layer classes convplan
    does not model (Keras files only)."""
    source = str(sniffed.path)
    if sniffed.kind == ONNX:
        if custom_layers:
            raise UsageError(f"{source} is an ONNX model; custom layer declarations apply to "
                             "Keras model files")
        from convplan.frontends.onnx_model import load_onnx

        return load_onnx(sniffed.path)
    if not sniffed.is_keras:
        if custom_layers:
            raise UsageError(f"{source} is a convplan spec; custom layer declarations apply to "
                             "Keras model files (in a spec, write the layer as op: Custom)")
        return build_graph(sniffed.data, source)
    from convplan.frontends.keras_model import graph_from_keras_config

    data = read_archive_config(sniffed.path) if sniffed.kind == KERAS_ARCHIVE else sniffed.data
    return graph_from_keras_config(data, source=source, custom_layers=custom_layers)


def load_any(path: str | Path, custom_layers: Mapping[str, Any] | None = None) -> Graph:
    """A spec, a Keras model JSON, a .keras archive or a .onnx model -> Graph."""
    return graph_of(sniff(path), custom_layers)


def load_keras_file(path: str | Path, custom_layers: Mapping[str, Any] | None = None) -> Graph:
    """A .keras archive or a Keras model JSON -> Graph; a spec is a SpecError."""
    sniffed = sniff(path)
    if not sniffed.is_keras:
        raise SpecError(f"{sniffed.path} is not a Keras model file (expected the JSON of "
                        "model.to_json() or a .keras archive)")
    return graph_of(sniffed, custom_layers)
