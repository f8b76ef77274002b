"""Frontends: spec files (YAML/JSON), the Python builder, and Keras model files."""

from convplan.frontends.builder import NetworkBuilder
from convplan.frontends.spec import build_graph, load_spec, loads_spec

__all__ = ["NetworkBuilder", "build_graph", "load_spec", "loads_spec"]
