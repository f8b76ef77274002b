"""convplan: plan convolutional networks before training them.

    import convplan
    graph = convplan.load("examples/seed_cnn.yaml")
    result = convplan.analyze(graph, input_size=(28, 28))

Names are imported on first use, so `import convplan` (and `convplan --help`) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Analysis": "convplan.analysis",
    "analyze": "convplan.analysis",
    "ConvplanError": "convplan.errors",
    "GraphError": "convplan.errors",
    "ShapeError": "convplan.errors",
    "SpecError": "convplan.errors",
    "UnsupportedError": "convplan.errors",
    "NetworkBuilder": "convplan.frontends",
    "build_graph": "convplan.frontends",
    "load_spec": "convplan.frontends",
    "loads_spec": "convplan.frontends",
    "Graph": "convplan.ir",
    "validate": "convplan.ir",
    "from_keras": "convplan.frontends.keras_live",
    "show": "convplan.notebook",
}


def load(path: Any, custom_layers: Any = None) -> Any:
    """Read a spec (YAML/JSON) or a Keras model file (JSON or .keras) into a validated Graph
    (names, references, arity, cycles: `convplan.validate`). `custom_layers` declares Keras
    layer classes convplan does not model: {'MyLayer': 'identity,params=10'}."""
    from convplan.frontends.detect import load_any
    from convplan.ir.validate import validate

    graph = load_any(path, custom_layers)
    validate(graph)
    return graph


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'convplan' has no attribute {name!r}")


__all__ = ["load", "__version__", *_EXPORTS]  # noqa: PLE0604
