"""`from_keras(model)`: a live Keras model -> Graph, through the config Keras itself writes.

The model's weights are never read; only `model.to_json()` is, so the result is exactly what
`convplan analyze model.json` gives for the same model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from convplan.errors import UnsupportedError
from convplan.frontends.keras_model import graph_from_keras_config
from convplan.ir.graph import Graph


def from_keras(model: Any, custom_layers: Mapping[str, Any] | None = None) -> Graph:
    """A built Functional or Sequential Keras model -> Graph. `custom_layers` declares layer
    classes convplan does not model, e.g. {'MyLayer': 'identity,params=10'}."""
    to_json = getattr(model, "to_json", None)
    if to_json is None:
        raise UnsupportedError(f"expected a Keras model, received {type(model).__name__}")
    try:
        config = json.loads(to_json())
    except NotImplementedError as exc:
        raise UnsupportedError(
            f"the model {getattr(model, 'name', '?')!r} cannot be serialized ({exc}); convplan "
            "reads Functional and Sequential models",
            hint="build it with the Functional API, or write a convplan spec") from None
    name = getattr(model, "name", "model")
    return graph_from_keras_config(config, source=f"<keras model {name}>",
                                   custom_layers=custom_layers)
