"""JSON Schema (draft 2020-12) of the spec format, generated from the op dataclasses so the
schema and the IR cannot drift apart."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from convplan.ir import ops as O
from convplan.ir.attrs import ACTIVATIONS, PADDINGS

_INT_OR_LIST = {"oneOf": [{"type": "integer", "minimum": 1},
                          {"type": "array", "items": {"type": "integer", "minimum": 1}}]}
_PARAM_REF = {"type": "string", "pattern": r"^\$([A-Za-z_][A-Za-z0-9_]*|\{.+\})$",
              "description": "a block parameter ($name) or expression (${...})"}
_NAME = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.\-]{0,199}$"}

_KNOWN: dict[str, dict[str, Any]] = {
    "kernel_size": _INT_OR_LIST, "strides": _INT_OR_LIST, "dilation_rate": _INT_OR_LIST,
    "pool_size": _INT_OR_LIST, "size": _INT_OR_LIST,
    "padding": {"oneOf": [{"enum": list(PADDINGS)}, {"type": ["integer", "array"]}]},
    "activation": {"enum": [*ACTIVATIONS, None]},
    "filters": {"type": "integer", "minimum": 1}, "units": {"type": "integer", "minimum": 1},
    "groups": {"type": "integer", "minimum": 1},
    "depth_multiplier": {"type": "integer", "minimum": 1},
    "use_bias": {"type": "boolean"}, "center": {"type": "boolean"},
    "scale": {"oneOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}}]},
    "keepdims": {"type": "boolean"},
    "rate": {"type": "number", "minimum": 0, "maximum": 1},
    "data_format": {"enum": ["channels_last", None]},
    "target_shape": {"type": "array", "items": {"type": "integer"}},
}


def _attribute_schema(cls: type[O.Op], field: dataclasses.Field) -> dict[str, Any]:
    base = _KNOWN.get(field.name)
    if field.name == "scale" and cls in (O.BatchNormalization, O.LayerNormalization):
        base = {"type": "boolean"}
    if base is None:
        hint = typing.get_type_hints(cls).get(field.name)
        base = {"type": "boolean"} if hint is bool else {}
    return {"anyOf": [base, _PARAM_REF]} if base else {}


def _layer_schema(cls: type[O.Op]) -> dict[str, Any]:
    props: dict[str, Any] = {
        "name": _NAME, "op": {"const": cls.__name__, "description": cls.__doc__ or ""},
        "inputs": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "suppress": {"type": "array", "items": {"type": "string"}},
    }
    for field in dataclasses.fields(cls):
        if field.name != "name":
            props[field.name] = _attribute_schema(cls, field)
    return {"type": "object", "properties": props, "required": ["name", "op", *cls.required],
            "additionalProperties": False}


def spec_schema() -> dict[str, Any]:
    layer_kinds = [_layer_schema(cls) for name, cls in O.OPS.items() if cls is not O.InputLayer]
    block_use = {
        "type": "object", "required": ["name", "block"], "additionalProperties": False,
        "properties": {"name": _NAME, "block": {"type": "string"},
                       "repeat": {"type": "integer", "minimum": 1},
                       "with": {"type": "object"}, "inputs": {"$ref": "#/$defs/inputs"},
                       "suppress": {"type": "array", "items": {"type": "string"}}},
    }
    dim = {"oneOf": [{"type": "integer", "minimum": 1},
                     {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}, {"type": "null"}]}
    shape = {"type": "array", "items": dim, "minItems": 1}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "convplan network spec",
        "type": "object",
        "required": ["inputs", "layers"],
        "additionalProperties": False,
        "$defs": {
            "inputs": {"oneOf": [{"type": "string"}, {"type": "array",
                                                      "items": {"type": "string"}}]},
            "layer": {"oneOf": [*layer_kinds, block_use]},
        },
        "properties": {
            "name": _NAME,
            "description": {"type": "string"},
            "inputs": {"type": "object", "minProperties": 1, "additionalProperties": {
                "oneOf": [shape, {"type": "object", "properties": {
                    "shape": shape, "dtype": {"type": "string"}}, "required": ["shape"],
                    "additionalProperties": False}]}},
            "layers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/layer"}},
            "outputs": {"oneOf": [{"type": "string"}, {"type": "array",
                                                       "items": {"type": "string"}}]},
            "blocks": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["layers"], "additionalProperties": False,
                "properties": {"params": {"type": "object"}, "description": {"type": "string"},
                               "layers": {"type": "array", "minItems": 1,
                                          "items": {"$ref": "#/$defs/layer"}}}}},
            "checks": {"type": "object"},
        },
    }
