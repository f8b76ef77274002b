"""JSON Schema (draft 2020-12) of the spec format, generated from the op classes so the schema
and the loader cannot drift apart.

Each op's attributes get their schema from `SCHEMA_RULES`, a table keyed by op class (looked up
through the class hierarchy, no catch-all): a rule mirrors the normalizer in `ir/attrs.py` that
the op runs on the attribute. Closed choices (padding, interpolation, dtype) are the ClassVars the
op's normalizer checks against (`paddings`, `interpolations`, `dtypes`), so `padding: causal` is
allowed where the class accepts it (Conv1D) and nowhere else. Arity (`min_inputs`, `max_inputs`),
required attributes and `rejects_stride_with_dilation` come from the classes' ClassVars.

What the schema does not check (JSON Schema cannot say it; `convplan.load` does):
- cross-field arithmetic: `filters` divisible by `groups`; a transposed convolution's
  `output_padding` below its `strides`, and 'same' with output_padding 0 on an even effective
  kernel; Normalization's `mean` and `variance` lists of equal length;
- references: layer and output names that exist, `block:` naming a defined block, `with:` keys
  that the block declares, `$name` naming a parameter, a block that uses itself, the first
  layer naming its `inputs` when the spec has several inputs;
- values given through block parameters (`filters: $filters`), `${...}` being valid
  arithmetic, expanded names longer than 200 characters, more than 100,000 layers after
  expansion;
- integers written as `1.0` (JSON Schema counts them as integers; the loader does not);
- shapes (ranks, channel counts, outputs of size 0): those are `convplan analyze`'s;
- in `checks:`, that rule codes and names exist and how quantities ('25M') are spelled;
- the reader's limits (size, nesting depth, YAML aliases, duplicate keys).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from convplan.frontends.spec import MAX_REPEAT, NAME
from convplan.ir import ops as O
from convplan.ir.attrs import ACTIVATIONS
from convplan.ir.rules import MissingRule, rule_for

Schema = dict[str, Any]
Rule = Callable[[type[O.Op]], Schema]

# a block parameter `$name` or expression `${...}` (convplan.frontends.blocks)
REF: Schema = {"type": "string", "pattern": r"^\$(?:[A-Za-z_][A-Za-z0-9_]*|\{[\s\S]{1,200}\})$",
               "description": "a block parameter ($name) or expression (${...})"}
_NAME: Schema = {"type": "string", "pattern": NAME.pattern}
_LOCAL_NAME: Schema = {"type": "string", "pattern": r"^[A-Za-z0-9_.\-]{0,199}$",
                       "description": "a layer name inside a block (prefixed by the instance's)"}


# ---------------------------------------------------------------- attribute rules


def _fixed(schema: Schema) -> Rule:
    return lambda cls: schema


def _integer(minimum: int) -> Rule:
    """attrs.as_int."""
    return _fixed({"type": "integer", "minimum": minimum})


def _number(low: float | None = None, high: float | None = None) -> Rule:
    """attrs.as_float."""
    bounds = {"minimum": low} if low is not None else {}
    return _fixed({"type": "number", **bounds, **({"maximum": high} if high is not None else {})})


def _numbers(min_items: int) -> Rule:
    """A number, or a list of them (Rescaling, Normalization: one per channel)."""
    return _fixed({"anyOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"},
                                                  "minItems": min_items}]})


def _optional(rule: Rule) -> Rule:
    return lambda cls: {"anyOf": [rule(cls), {"type": "null"}]}


def _per_axis(minimum: int) -> Rule:
    """attrs.as_tuple: an integer, or one per spatial axis."""
    def rule(cls: type[O.Op]) -> Schema:
        item = {"type": "integer", "minimum": minimum}
        rank = cls.spatial_rank
        return {"anyOf": [item, {"type": "array", "items": item, "minItems": rank,
                                 "maxItems": rank}]}
    return rule


def _pairs(cls: type[O.Op]) -> Schema:
    """attrs.as_pairs: an integer, one per spatial axis, or a (before, after) pair per axis."""
    amount = {"type": "integer", "minimum": 0}
    pair = {"type": "array", "items": amount, "minItems": 2, "maxItems": 2}
    rank = cls.spatial_rank
    per_axis = {"type": "array", "items": {"anyOf": [amount, pair]}, "minItems": rank,
                "maxItems": rank}
    return {"anyOf": [amount, per_axis, *([pair] if rank == 1 else [])]}


def _activation(cls: type[O.Op]) -> Schema:
    """attrs.as_activation: a modelled Keras activation name, or null where not required."""
    return {"enum": [*ACTIVATIONS, *([] if "activation" in cls.required else [None])]}


def choice_schema(values: tuple[str, ...]) -> Schema:
    """attrs.as_choice lowercases first: the names (for completion) or any capitalisation."""
    spelled = "|".join("".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c)
                               for c in value) for value in values)
    return {"anyOf": [{"enum": list(values)}, {"type": "string", "pattern": f"^(?:{spelled})$"}]}


def _choice(choices: str) -> Rule:
    """The values the op class lists in its ClassVar `choices` (paddings, interpolations, ...)."""
    return lambda cls: choice_schema(getattr(cls, choices))


def _padding(cls: type[O.Op]) -> Schema:
    """attrs.as_padding: a Keras word, or explicit amounts as ZeroPadding's `padding`."""
    words: tuple[str, ...] = getattr(cls, "paddings")  # noqa: B009 - a ClassVar of some ops
    return {"anyOf": [choice_schema(words), _pairs(cls)]}


_BOOL = _fixed({"type": "boolean"})
_AXIS = _fixed({"type": "integer", "not": {"const": 0}})  # attrs.as_axis
_DATA_FORMAT = _fixed({"enum": [None, "channels_last"]})  # channels_first: UnsupportedError
_SHAPE = _fixed({"type": "array", "minItems": 1, "items": {"anyOf": [
    {"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
    {"type": "null"}]}})
_TARGET_SHAPE = _fixed({"type": "array", "minItems": 1, "items": {"anyOf": [
    {"type": "integer", "minimum": 1}, {"const": -1}]},
    "contains": {"const": -1}, "minContains": 0, "maxContains": 1})
_WINDOW = {"kernel_size": _per_axis(1), "strides": _per_axis(1), "dilation_rate": _per_axis(1),
           "padding": _padding, "data_format": _DATA_FORMAT,
           "activation": _activation, "use_bias": _BOOL}
# Custom: an integer or a formula in C_in and C_out (convplan.ir.formula checks the text)
_COUNT_FORMULA = _fixed({"anyOf": [{"type": "integer", "minimum": 0}, {
    "type": "string", "maxLength": 200, "pattern": r"^(?=.*\S)(?:\s|\d|C_in|C_out|[-+*/()])+$",
    "description": "a formula in C_in and C_out: integers, + - * // and **, e.g. 9*C_in*64+64"}]})
# Custom: one integer for every spatial axis, or one per axis (the input decides how many)
_DECLARED_AXES = _fixed({"anyOf": [{"type": "integer", "minimum": 1}, {
    "type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1, "maxItems": 3}]})
_NORMALIZATION = {"axis": _AXIS, "epsilon": _number(0.0), "center": _BOOL, "scale": _BOOL}



def _augmentation_value(attr: str) -> Rule:
    """ops_augmentation._normalize_argument: a number or two; null where Keras's default is."""
    def rule(cls: type[O.Op]) -> Schema:
        number = {"type": "number"}
        values = [number, {"type": "array", "items": number, "minItems": 2, "maxItems": 2}]
        field = next(f for f in dataclasses.fields(cls) if f.name == attr)
        nullable = field.default is None and attr not in cls.required
        return {"anyOf": [*values, *([{"type": "null"}] if nullable else [])]}
    return rule


_AUGMENTATION_VALUES = ("factor", "value_range", "alpha", "scale", "fill_value", "kernel_size",
                        "sigma", "brightness_factor", "contrast_factor", "saturation_factor",
                        "hue_factor", "x_factor", "y_factor", "height_factor", "width_factor",
                        "addition_factor", "threshold_factor")
_AUGMENTATION = {
    "data_format": _DATA_FORMAT, "fill_mode": _choice("fill_modes"),
    "interpolation": _choice("interpolations"), "mode": _choice("modes"), "all_ops": _BOOL,
    **{attr: _integer(1) for attr in ("num_chains", "chain_depth", "num_ops", "bins")},
    **{attr: _augmentation_value(attr) for attr in _AUGMENTATION_VALUES},
}

# keras.ops axes count the batch as 0 (refused: convplan plans one example)
_OPS_AXIS = {"type": "integer", "not": {"const": 0}}
_OPS_AXES = _fixed({"anyOf": [_OPS_AXIS, {"type": "array", "items": _OPS_AXIS, "minItems": 1}]})
_TARGET = {"height": _integer(1), "width": _integer(1), "data_format": _DATA_FORMAT}

# Attributes declared on Op itself, which every op has.
COMMON_RULES: dict[str, Rule] = {"trainable": _BOOL}

SCHEMA_RULES: dict[type[O.Op], dict[str, Rule]] = {
    O.InputLayer: {"shape": _SHAPE, "dtype": _choice("dtypes")},
    O.Windowed: _WINDOW,
    O.Conv: {"filters": _integer(1), "groups": _integer(1)},
    O.ConvTranspose: {"filters": _integer(1), "output_padding": _optional(_per_axis(0))},
    O.Depthwise: {"depth_multiplier": _integer(1)},
    O.Separable: {"filters": _integer(1)},
    O.Pooling: {"pool_size": _per_axis(1), "strides": _optional(_per_axis(1)),
                "padding": _padding, "data_format": _DATA_FORMAT, "ceil_mode": _BOOL},
    O.AveragePooling: {"count_include_pad": _BOOL},
    O.GlobalPooling: {"keepdims": _BOOL, "data_format": _DATA_FORMAT},
    O.BatchNormalization: {**_NORMALIZATION, "momentum": _number(0.0, 1.0)},
    O.LayerNormalization: _NORMALIZATION,
    O.Activation: {"activation": _activation},
    O.ReLU: {"max_value": _optional(_number(0.0)), "negative_slope": _number(0.0),
             "threshold": _number(0.0)},
    O.LeakyReLU: {"negative_slope": _number(0.0)},
    O.Softmax: {"axis": _AXIS},
    O.Dropout: {"rate": _number(0.0, 1.0)},
    O.Dense: {"units": _integer(1), "activation": _activation, "use_bias": _BOOL},
    O.Flatten: {"data_format": _DATA_FORMAT},
    O.Reshape: {"target_shape": _TARGET_SHAPE},
    O.Rescaling: {"scale": _numbers(1), "offset": _numbers(1)},
    O.Normalization: {"axis": _AXIS, "mean": _optional(_numbers(0)),
                      "variance": _optional(_numbers(0)), "invert": _BOOL},
    O.Merge: {},
    O.Concatenate: {"axis": _AXIS},
    O.UpSampling: {"size": _per_axis(1), "data_format": _DATA_FORMAT},
    O.UpSampling2D: {"interpolation": _choice("interpolations")},
    O.ZeroPadding: {"padding": _pairs, "data_format": _DATA_FORMAT},
    O.Cropping: {"cropping": _pairs, "data_format": _DATA_FORMAT},
    O.GroupNormalization: {**_NORMALIZATION, "groups": _fixed(
        {"anyOf": [{"type": "integer", "minimum": 1}, {"const": -1}]})},
    O.UnitNormalization: {"axis": _AXIS},
    O.RMSNormalization: {"axis": _AXIS, "epsilon": _number(0.0)},
    O.ELU: {"alpha": _number()},
    O.PReLU: {"shared_axes": _optional(_fixed({"anyOf": [
        {"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]}))},
    O.GaussianNoise: {"stddev": _number(0.0, 1.0)},
    O.ActivityRegularization: {"l1": _number(0.0), "l2": _number(0.0)},
    O.SpatialDropout2D: {"data_format": _DATA_FORMAT},
    O.SpatialDropout3D: {"data_format": _DATA_FORMAT},
    O.Augmentation: _AUGMENTATION,
    O.Resizing: {**_TARGET, "interpolation": _choice("interpolations"),
                 "crop_to_aspect_ratio": _BOOL, "pad_to_aspect_ratio": _BOOL,
                 "fill_mode": _choice("fill_modes"), "fill_value": _number(),
                 "antialias": _BOOL},
    O.CenterCrop: _TARGET,
    O.RandomCrop: {**_TARGET, "seed": _optional(_integer(0))},
    O.AdaptivePooling: {"output_size": _per_axis(1), "data_format": _DATA_FORMAT},
    O.Permute: {"dims": _fixed({"type": "array", "items": {"type": "integer", "minimum": 1},
                                "minItems": 1, "uniqueItems": True})},
    O.RepeatVector: {"n": _integer(1)},
    O.Embedding: {"input_dim": _integer(1), "output_dim": _integer(1), "mask_zero": _BOOL},
    O.Masking: {"mask_value": _number()},
    O.Pad: {"pad_width": _fixed({"type": "array", "minItems": 2, "items": {
                "type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1,
                "maxItems": 2}, "prefixItems": [{"enum": [[0, 0], [0]]}]}),  # the batch's
            "mode": _choice("modes"), "constant_values": _optional(_number())},
    O.Split: {"indices_or_sections": _fixed({"anyOf": [
                  {"type": "integer", "minimum": 1},
                  {"type": "array", "items": {"type": "integer", "minimum": 0}}]}),
              "axis": _fixed(_OPS_AXIS), "index": _integer(0)},
    O.Reduction: {"axis": _OPS_AXES, "keepdims": _BOOL},
    O.ExpandDims: {"axis": _fixed(_OPS_AXIS)},
    O.Squeeze: {"axis": _OPS_AXES},
    O.EinsumDense: {"equation": _fixed({"type": "string", "minLength": 5}),
                    "output_shape": _fixed({"anyOf": [
                        {"type": "integer", "minimum": 1},
                        {"type": "array", "items": {"anyOf": [{"type": "integer", "minimum": 1},
                                                              {"type": "null"}]}}]}),
                    "activation": _activation,
                    "bias_axes": _optional(_fixed({"type": "string", "pattern": "^[A-Za-z]+$"}))},
    O.Dot: {"axes": _fixed({"anyOf": [_OPS_AXIS, {"type": "array", "items": _OPS_AXIS,
                                                 "minItems": 2, "maxItems": 2}]}),
            "normalize": _BOOL},
    O.Custom: {"class_name": _fixed({"type": "string", "pattern": r"\S"}),
               "params": _COUNT_FORMULA, "params_per_channel": _integer(0),
               "flops_per_element": _integer(0), "macs_per_position": _COUNT_FORMULA,
               "filters": _optional(_integer(1)), "kernel_size": _optional(_DECLARED_AXES),
               "strides": _DECLARED_AXES, "dilation_rate": _DECLARED_AXES,
               "padding": _choice("paddings")},
}


def attribute_schema(cls: type[O.Op], attr: str) -> Schema:
    """The most specific rule for `attr` along the op's class hierarchy; MissingRule if none."""
    rule_for(SCHEMA_RULES, cls, "the schema")
    for base in cls.__mro__:
        rules = COMMON_RULES if base is O.Op else SCHEMA_RULES.get(base, {})
        if attr in rules:
            return rules[attr](cls)
    raise MissingRule(f"the schema has no rule for {cls.__name__}.{attr}")


# ---------------------------------------------------------------- layers


def _refs_inside(schema: Schema) -> Schema:
    out = dict(schema)
    if "items" in out:
        out["items"] = or_ref(out["items"])
    if "anyOf" in out:
        out["anyOf"] = [_refs_inside(s) for s in out["anyOf"]]
    return out


def or_ref(schema: Schema) -> Schema:
    """Inside a block every value, and every item of a list, may be `$name` or `${...}`."""
    return {"anyOf": [_refs_inside(schema), REF]}


@dataclass(frozen=True)
class _Where:
    """Top-level layers, or layers inside a block (values may be parameters)."""

    in_block: bool

    def value(self, schema: Schema) -> Schema:
        return or_ref(schema) if self.in_block else schema

    def key(self, name: str) -> str:
        return f"block_{name}" if self.in_block else name


def _op_names(cls: type[O.Op]) -> list[str]:
    return [cls.__name__, *(alias for alias, name in O.ALIASES.items() if name == cls.__name__)]


def _inputs(low: int, high: int | None, where: _Where) -> Schema:
    """The layers feeding this one (default: the previous layer); `$input` only in a block."""
    name: Schema = {"type": "string"} if where.in_block else {
        "type": "string", "not": {"const": "$input"}}
    listed: Schema = {"type": "array", "items": name, "minItems": low}
    if high is not None:
        listed["maxItems"] = high
    if low <= 1 and (high is None or high >= 1):
        return {"anyOf": [name, listed]}
    return {"anyOf": [listed, *([{"allOf": [REF, {"not": {"const": "$input"}}]}]
                                if where.in_block else [])]}


def _suppress(where: _Where) -> Schema:
    return where.value({"anyOf": [{"type": "string"},
                                  {"type": "array", "items": {"type": "string"}}]})


def _stride_with_dilation(cls: type[O.Op], where: _Where) -> list[Schema]:
    """Keras rejects strides > 1 together with dilation_rate > 1 (ops that say so)."""
    if not getattr(cls, "rejects_stride_with_dilation", False):
        return []
    above_one = {"anyOf": [{"type": "integer", "minimum": 2},
                           {"type": "array", "contains": {"type": "integer", "minimum": 2}}]}
    ones = {"anyOf": [{"const": 1}, {"type": "array", "items": {"const": 1}},
                      *([REF] if where.in_block else [])]}
    return [{"if": {"required": ["strides"], "properties": {"strides": above_one}},
             "then": {"properties": {"dilation_rate": ones}}}]


def _equal_depthwise_strides(cls: type[O.Op], where: _Where) -> list[Schema]:
    """TF's 2D depthwise kernel refuses unequal row and column strides unless dilated: for two
    items, 'equal' is 'not uniqueItems'."""
    if not (issubclass(cls, O.Depthwise) and cls.spatial_rank == 2):
        return []
    undilated = {"anyOf": [{"const": 1}, {"type": "array", "items": {"const": 1}}]}
    equal = {"anyOf": [{"type": "integer"}, {"type": "array", "not": {"uniqueItems": True}},
                       *([REF, {"type": "array", "contains": REF}] if where.in_block else [])]}
    return [{"if": {"anyOf": [{"not": {"required": ["dilation_rate"]}},
                              {"properties": {"dilation_rate": undilated}}]},
             "then": {"properties": {"strides": equal}}}]


def _mean_with_variance(cls: type[O.Op], where: _Where) -> list[Schema]:
    """Normalization takes both statistics or neither, both numbers or both lists."""
    if not issubclass(cls, O.Normalization):
        return []
    out = []
    for given, other in (("mean", "variance"), ("variance", "mean")):
        out.append({"if": {"required": [given], "properties": {given: {"not": {"type": "null"}}}},
                    "then": {"required": [other],
                             "properties": {other: {"not": {"type": "null"}}}}})
        for kind, not_kind in (("number", "array"), ("array", "number")):
            out.append({"if": {"required": [given], "properties": {given: {"type": kind}}},
                        "then": {"properties": {other: {"not": {"type": not_kind}}}}})
    return out


def _op_layer(cls: type[O.Op], where: _Where) -> Schema:
    props: Schema = {
        "name": where.value(_LOCAL_NAME) if where.in_block else _NAME,
        "op": {"enum": _op_names(cls)},
        "inputs": _inputs(cls.min_inputs, cls.max_inputs, where),
        "suppress": _suppress(where),
    }
    for attr in O.attribute_names(cls):
        props[attr] = where.value(attribute_schema(cls, attr))
    required = ["name", "op", *cls.required, *(["inputs"] if cls.min_inputs > 1 else [])]
    schema = {"description": inspect.cleandoc(cls.__doc__ or cls.__name__), "type": "object",
              "properties": props, "required": required, "additionalProperties": False}
    constraints = [*_stride_with_dilation(cls, where), *_equal_depthwise_strides(cls, where),
                   *_mean_with_variance(cls, where)]
    return {**schema, "allOf": constraints} if constraints else schema


def _block_use(where: _Where) -> Schema:
    """A use of a block: `{index}` in the name stands for the instance's index."""
    first = "[A-Za-z0-9_.\\-]|\\{index\\}" if where.in_block else "[A-Za-z_]"
    name = {"type": "string", "pattern": f"^(?:{first})(?:[A-Za-z0-9_.\\-]|\\{{index\\}}){{0,199}}$"}
    return {"type": "object", "required": ["name", "block"], "additionalProperties": False,
            "properties": {
                "name": where.value(name), "block": {"type": "string"},
                "repeat": where.value({"type": "integer", "minimum": 1, "maximum": MAX_REPEAT}),
                "first_index": where.value({"type": "integer", "minimum": 0}),
                "with": where.value({"type": "object"}),
                "inputs": _inputs(1, 1, where), "suppress": _suppress(where)}}


def _layer(where: _Where, ops: list[type[O.Op]]) -> Schema:
    """A layer or a block use, dispatched on `op` so errors name the op's own attributes."""
    names = [name for cls in ops for name in _op_names(cls)]
    op: Schema = {"enum": names}
    return {"type": "object",
            "if": {"required": ["block"]},
            "then": {"$ref": f"#/$defs/{where.key('block_use')}"},
            "else": {"required": ["name", "op"],
                     "properties": {"op": {"anyOf": [op, REF]} if where.in_block else op},
                     "allOf": [{"if": {"required": ["op"],
                                       "properties": {"op": {"enum": _op_names(cls)}}},
                                "then": {"$ref": f"#/$defs/{where.key('layer')}.{cls.__name__}"}}
                               for cls in ops]}}


# ---------------------------------------------------------------- the document


def _checks() -> Schema:
    """The `checks:` section, as `convplan check` reads it (checks/config.apply_settings)."""
    from convplan import options
    from convplan.checks import config as C
    from convplan.checks.registry import SEVERITIES

    codes = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    sizes = {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "array", "minItems": 1,
                                                           "maxItems": 3, "items": {
                                                               "type": "integer", "minimum": 1}}]}
    quantity = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}]}
    budgets = {**{name: quantity for name in (*C.COUNT_BUDGETS, *C.BYTE_BUDGETS)},
               **{name: sizes for name in C.FIELD_BUDGETS}}
    fraction = {"type": "number", "minimum": 0, "maximum": 1}
    settings = {
        "select": codes, "ignore": codes,
        "severity": {"type": "object", "additionalProperties": choice_schema(SEVERITIES)},
        "target": choice_schema(options.CHECK_TARGETS),
        "port": choice_schema(C.PORTS),
        # Any name: besides the built-in table, the user's devices file (calibrate) adds entries.
        "device": {"type": "string", "minLength": 1},
        "dtype": choice_schema(tuple(options.DTYPES)),
        "batch": {"type": "integer", "minimum": 1},
        "optimizer": choice_schema(tuple(options.OPTIMIZER_SLOTS)), "input_size": sizes,
        "budgets": {"type": "object", "properties": _dashed(budgets),
                    "additionalProperties": False},
        "max_plain_depth": {"type": "integer", "minimum": 1},
        "costly_min_saving": fraction, "costly_min_share": fraction,
    }
    missing = [key for key in C.SETTINGS if key not in settings and key != "exclude"]
    if missing:  # `exclude` belongs to pyproject.toml only
        raise MissingRule(f"the schema has no rule for the check setting(s) {missing}")
    return {"type": ["object", "null"], "properties": _dashed(settings),
            "additionalProperties": False}


def _dashed(properties: Schema) -> Schema:
    """Check settings may be spelled with dashes (max-plain-depth)."""
    out = dict(properties)
    for key, value in properties.items():
        if "_" in key:
            out[key.replace("_", "-")] = value
    return out


def spec_schema() -> Schema:
    """The spec format as JSON Schema; the same dict on every call."""
    ops = [cls for cls in O.OPS.values() if cls is not O.InputLayer]
    defs: Schema = {}
    for where in (_Where(False), _Where(True)):
        defs[where.key("layer")] = _layer(where, ops)
        defs[where.key("block_use")] = _block_use(where)
        for cls in ops:
            defs[f"{where.key('layer')}.{cls.__name__}"] = _op_layer(cls, where)
    shape = attribute_schema(O.InputLayer, "shape")
    block = {"type": "object", "required": ["layers"], "additionalProperties": False,
             "properties": {"params": {"type": ["object", "null"],
                                       "description": "parameter -> default (null: required)"},
                            "description": {"type": "string"},
                            "layers": {"type": "array", "minItems": 1,
                                       "items": {"$ref": "#/$defs/block_layer"}}}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "convplan network spec",
        "type": "object",
        "required": ["inputs", "layers"],
        "additionalProperties": False,
        "$defs": defs,
        "properties": {
            "name": _NAME,
            "description": {"type": ["string", "null"]},
            "inputs": {"type": "object", "minProperties": 1, "propertyNames": _NAME,
                       "additionalProperties": {"anyOf": [shape, {
                           "type": "object", "required": ["shape"], "additionalProperties": False,
                           "properties": {"shape": shape,
                                          "dtype": attribute_schema(O.InputLayer, "dtype")}}]}},
            "layers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/layer"}},
            "outputs": {"anyOf": [{"type": "string"},
                                  {"type": "array", "items": {"type": "string"}}]},
            "blocks": {"type": ["object", "null"], "propertyNames": _NAME,
                       "additionalProperties": block},
            "checks": _checks(),
        },
    }
