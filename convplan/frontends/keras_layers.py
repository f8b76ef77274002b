"""One Keras layer config -> one convplan op, strictly.

Every key of a layer's config is either an op attribute (same Keras name), a key that never
changes a shape or a count (initializers, regularizers, constraints, dtype policies, seeds), or
a key that must keep its default (``lora_rank``, ``renorm``, ...): anything else is an
UnsupportedError naming the layer and the key, so a config convplan does not understand can
never turn into a silently wrong number. Layer classes convplan does not model are errors too,
unless the user declares how they behave (`CustomLayer`, the `custom_layers` parameter).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from convplan.errors import (
    ShapeError,
    SpecError,
    UnsupportedError,
    UsageError,
    parameter_name,
)
from convplan.frontends.keras_refusals import refusal
from convplan.ir import ops as O
from convplan.ir.ops_structural import KerasOperation

# Keys that never change an output shape, a parameter count or a MAC count.
_IGNORED_KEY = re.compile(r".*_(initializer|regularizer|constraint)$")
IGNORED_KEYS = frozenset({
    "name", "trainable", "dtype", "seed", "noise_shape", "synchronized", "renorm_momentum",
    "renorm_clipping", "lora_alpha", "autocast",
})
# Keys convplan models only at their default: another value changes the weights Keras makes.
DEFAULT_ONLY: dict[str, Any] = {
    "lora_rank": None, "quantization_config": None, "renorm": False, "rms_scaling": False,
}
# Keras classes that are one of convplan's ops under another name or with a fixed attribute.
RENAMED: dict[str, tuple[str, dict[str, Any]]] = {
    "Identity": ("Activation", {"activation": "linear"}),
}


@dataclass(frozen=True)
class CustomLayer:
    """How a layer class convplan does not know behaves (the attributes of `O.Custom`):
    ``identity`` (the output has the first input's shape), or a declared geometry: per spatial
    axis a convolution window (``kernel_size``, ``strides``, ``dilation_rate``, ``padding``)
    and ``filters`` output channels. Counts: ``params`` (an integer or a formula in C_in and
    C_out) + ``params_per_channel`` x C_in trainable weights, ``macs_per_position`` (likewise)
    MACs per output position, ``flops_per_element`` more FLOPs per output element."""

    behaviour: str = "identity"
    params: int | str = 0
    params_per_channel: int = 0
    flops_per_element: int = 0
    macs_per_position: int | str = 0
    filters: int | None = None
    kernel_size: Any = None
    strides: Any = 1
    dilation_rate: Any = 1
    padding: str = "valid"

    def attributes(self, class_name: str) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "behaviour"}
        return {"class_name": class_name, **out}


BEHAVIOURS = ("identity",)
CUSTOM_LAYERS = parameter_name("custom_layers")  # the CLI writes it as its flag
_OPTIONS = tuple(f.name for f in fields(CustomLayer) if f.name != "behaviour")
_GEOMETRY = ("filters", "kernel_size", "strides", "dilation_rate", "padding")
SYNTAX = ("CLASS=identity[,params=N] or CLASS=strides=S[,kernel_size=K][,padding=same]"
          "[,filters=F][,params=FORMULA]")


def parse_custom_layer(text: str) -> tuple[str, CustomLayer]:
    """'MyLayer=identity,params=10' -> ('MyLayer', CustomLayer(params=10)); 'Down=strides=2,
    filters=64,params=9*C_in*64+64' declares a layer that changes shape."""
    key, sep, rest = str(text).partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"{CUSTOM_LAYERS} must look like {SYNTAX}, received {text!r}")
    return key, custom_layer_from(key, rest)


def _option_value(key: str, name: str, text: str) -> Any:
    """One NAME=VALUE of the string form: integers, AxB per axis, words, formulas as text."""
    text = text.strip()
    if re.fullmatch(r"\d{1,15}", text):
        return int(text)
    if name in ("kernel_size", "strides", "dilation_rate") and re.fullmatch(
            r"\d{1,6}(x\d{1,6}){1,2}", text):
        return [int(v) for v in text.split("x")]
    if name in ("params", "macs_per_position", "padding"):
        return text
    raise UsageError(f"custom layer {key!r}: {name} must be a non-negative integer"
                     + (" or one per spatial axis such as 2x2" if name in _GEOMETRY else "")
                     + f", received {text!r}")


def custom_layer_from(key: str, value: Any) -> CustomLayer:
    """A declaration as a CustomLayer, a string ('identity,params=N', 'strides=2,filters=64,
    params=9*C_in*64+64') or a mapping of the same options."""
    if isinstance(value, CustomLayer):
        return _declared(key, {f.name: getattr(value, f.name) for f in fields(value)})
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        options: dict[str, Any] = {}
        if parts and "=" not in parts[0]:
            options["behaviour"] = parts.pop(0)
        elif not parts:
            options["behaviour"] = ""
        for part in parts:
            name, sep, text = part.partition("=")
            name = name.strip()
            if not sep or not name:
                raise UsageError(f"custom layer {key!r}: options must look like NAME=VALUE "
                                 f"({', '.join(_OPTIONS)}), received {part!r}")
            if name in options:
                raise UsageError(f"custom layer {key!r}: {name} is given twice")
            _known(key, {name})
            options[name] = _option_value(key, name, text)
        return _declared(key, options)
    if isinstance(value, Mapping):
        return _declared(key, dict(value))
    raise UsageError(f"custom layer {key!r}: expected {SYNTAX.replace('CLASS=', '')} or a "
                     f"mapping, received {value!r}")


def _known(key: str, names: set[str]) -> None:
    unknown = names - {"behaviour", *_OPTIONS}
    if unknown:
        raise UsageError(f"custom layer {key!r}: unknown option(s) {sorted(unknown)}; expected "
                         + ", ".join(_OPTIONS))


def _declared(key: str, options: dict[str, Any]) -> CustomLayer:
    """Checked as the op checks its attributes; an error names the declaration."""
    _known(key, set(options))
    geometry = sorted(n for n in _GEOMETRY if n in options
                      and options[n] != getattr(CustomLayer, n))
    behaviour = options.pop("behaviour", "identity" if not geometry else "declared")
    if behaviour not in BEHAVIOURS and not (behaviour == "declared" and geometry):
        raise UsageError(f"custom layer {key!r}: unknown behaviour {behaviour!r}; expected "
                         f"{' or '.join(BEHAVIOURS)}, or options alone ({SYNTAX})")
    if behaviour == "identity" and geometry:
        raise UsageError(f"custom layer {key!r}: identity keeps the input's shape, so it cannot "
                         f"declare {', '.join(geometry)}; leave 'identity' out to declare a "
                         "layer that changes shape")
    for name in ("params_per_channel", "flops_per_element"):
        value = options.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UsageError(f"custom layer {key!r}: {name} must be a non-negative integer, "
                             f"received {value!r}")
    declared = CustomLayer(behaviour=behaviour, **options)
    try:
        op = O.Custom(name=key, **declared.attributes(key))
    except SpecError as exc:
        raise UsageError(f"custom layer {key!r}: {exc.message.split(': ', 1)[-1]}") from None
    # as the op stores them: formulas checked, lists as tuples
    return CustomLayer(behaviour=behaviour, **{n: getattr(op, n) for n in _OPTIONS})


def normalize_custom_layers(declared: Mapping[str, Any] | None) -> dict[str, CustomLayer]:
    """The `custom_layers=` argument: {class or layer name: declaration}. A layer is matched
    by its layer name first, then its class name, then its registered name."""
    if not declared:
        return {}
    if not isinstance(declared, Mapping):
        raise UsageError("custom_layers must map a layer class (or layer name) to its behaviour, "
                         "e.g. {'MyLayer': 'identity,params=10'}")
    out = {}
    for key, value in declared.items():
        if not isinstance(key, str) or not key:
            raise UsageError(f"custom layer keys must be class or layer names, received {key!r}")
        modelled = O.OPS.get(O.ALIASES.get(key, key))
        # a keras.ops name (Pad, Split, Mean, ...) is no layer class: a user's layer may have it
        if (modelled is not None and not issubclass(modelled, KerasOperation)) \
                or key in RENAMED:
            raise UsageError(f"{key} is a Keras layer convplan models; declare only classes it "
                             "does not know")
        out[key] = custom_layer_from(key, value)
    return out


def check_declared_shape(op: O.Custom, recorded_in: Any, consumer: str, recorded_out: Any
                         ) -> None:
    """The declaration applied to the input shape the Keras model recorded for the layer must
    give the shape it recorded where `consumer` reads the layer's output (Keras 3 writes each
    tensor's shape into the inbound nodes): ShapeError naming both layers where a dimension
    known in both differs. Shapes include the batch axis; None dims are free."""
    from convplan.analysis import arith
    from convplan.analysis.shapes import output_shape

    if not (_is_shape(recorded_in) and _is_shape(recorded_out)):
        return
    given = tuple(arith.symbol(f"d{i}") if d is None else d
                  for i, d in enumerate(recorded_in[1:]))
    try:
        declared = output_shape(op, [given], [])
    except SpecError as exc:
        raise ShapeError(f"the declaration fails on the input shape the model recorded, "
                         f"{_shown(recorded_in)}: {exc.message.split(': ', 1)[-1]}",
                         layer=op.name, op=f"Custom {op.class_name}") from None
    saved = tuple(recorded_out[1:])
    agree = len(declared) == len(saved) and all(
        s is None or not arith.is_concrete(d) or int(d) == s for d, s in zip(declared, saved))
    if not agree:
        what = "identity" if not op.changes_shape else "geometry"
        shown = _shown([None, *(d if arith.is_concrete(d) else None for d in declared)])
        raise ShapeError(
            f"the declared {what} gives output shape {shown} from its recorded input shape "
            f"{_shown(recorded_in)}, but the next layer {consumer!r} was saved with input shape "
            f"{_shown(recorded_out)}", layer=op.name, op=f"Custom {op.class_name}",
            hint=f"declare in {CUSTOM_LAYERS} the kernel_size, strides, padding and filters "
            "that give the layer's real output shape")


def _is_shape(value: Any) -> bool:
    return isinstance(value, list) and len(value) >= 2 and all(
        d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in value)


def _shown(shape: Any) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


# ---------------------------------------------------------------- helper layers of the zoo


def _layer_scale(config: dict) -> CustomLayer:
    """ConvNeXt's LayerScale: x * gamma, gamma one trainable value per channel."""
    return CustomLayer(params_per_channel=1, flops_per_element=1)


def _custom_scale(config: dict) -> CustomLayer:
    """InceptionResNetV2's CustomScaleLayer: inputs[0] + inputs[1] * scale, no weights."""
    return CustomLayer(flops_per_element=2)


# (module suffix, class name) -> behaviour; matched on the module so that a user's own class of
# the same name is never mistaken for these.
APPLICATION_LAYERS = {
    ("applications.convnext", "LayerScale"): _layer_scale,
    ("applications.inception_resnet_v2", "CustomScaleLayer"): _custom_scale,
}


def application_layer(entry: dict) -> CustomLayer | None:
    module = entry.get("module") or ""
    for (suffix, class_name), make in APPLICATION_LAYERS.items():
        if entry.get("class_name") == class_name and str(module).endswith(suffix):
            return make(entry.get("config") or {})
    return None


# ---------------------------------------------------------------- config -> attributes


def plain(value: Any) -> Any:
    """Keras's serialized numpy arrays -> lists; everything else unchanged."""
    if isinstance(value, dict) and value.get("class_name") == "__numpy__":
        return plain((value.get("config") or {}).get("value"))
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _axis(value: Any, layer: str, class_name: str) -> Any:
    """Keras writes some axes as a one-element list ([3], [-1]); convplan's ops take one int."""
    if isinstance(value, list):
        if len(value) == 1:
            return value[0]
        raise UnsupportedError(f"axis {value} (several axes) is not modelled; convplan models "
                               "one axis", layer=layer, op=class_name)
    return value


def _activation(value: Any, layer: str, class_name: str) -> Any:
    if isinstance(value, dict):
        name = (value.get("config") if isinstance(value.get("config"), str)
                else value.get("class_name"))
        raise UnsupportedError(f"custom activation function {name!r} is not modelled; convplan "
                               "knows Keras's named activations", layer=layer, op=class_name,
                               hint="use a named activation, or a separate Activation layer "
                               f"declared with {CUSTOM_LAYERS}")
    return value


_ADAPT = {"axis": _axis, "activation": _activation}
# Keras 2 (tf.keras) names of attributes Keras 3 renamed.
_KERAS2_NAMES = {"LeakyReLU": {"alpha": "negative_slope"}}


def layer_attributes(class_name: str, config: dict, layer: str) -> tuple[str, dict[str, Any]]:
    """(op class name, attributes) for a Keras layer config, or UnsupportedError."""
    op_name, fixed = RENAMED.get(class_name, (class_name, {}))
    cls = O.op_class(op_name, layer=layer)
    known = set(O.attribute_names(cls))
    renames = _KERAS2_NAMES.get(class_name, {})
    attributes = dict(fixed)
    for key, value in config.items():
        key = renames.get(key, key)
        value = plain(value)
        if key in ("name", "trainable") or key in fixed:
            continue
        if key in known:
            adapt = _ADAPT.get(key)
            attributes[key] = adapt(value, layer, class_name) if adapt else value
        elif key in DEFAULT_ONLY:
            if value != DEFAULT_ONLY[key]:
                raise UnsupportedError(
                    f"{key}={value!r} is not modelled (it changes the weights Keras creates); "
                    f"convplan models {class_name} with {key}={DEFAULT_ONLY[key]!r}", layer=layer,
                    op=class_name)
        elif key not in IGNORED_KEYS and not _IGNORED_KEY.match(key):
            raise UnsupportedError(
                f"config key {key!r} (value {value!r}) is not modelled; convplan reads "
                + ", ".join(sorted(known - {"trainable"})), layer=layer, op=class_name)
    return cls.__name__, attributes


# ---------------------------------------------------------------- keras.ops in a functional graph

TENSOR = object()  # marks a tensor argument in an operation's call
_MERGES = {"Add": "Add", "Subtract": "Subtract", "Multiply": "Multiply", "Maximum": "Maximum",
           "Minimum": "Minimum"}


def is_operation(entry: dict) -> bool:
    """A keras.ops call recorded in a functional graph (`x + 3.0` on a KerasTensor)."""
    module = str(entry.get("module") or "")
    return module.startswith(("keras.src.ops.", "keras.ops."))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def operation_attributes(class_name: str, args: list[Any], layer: str
                         ) -> tuple[str, dict[str, Any]]:
    """Elementwise keras.ops arithmetic as an op: tensor with tensor -> the merge layer of the
    same name; tensor with a number c -> Rescaling (x + c, x - c, c - x, x * c, x / c)."""
    tensors = [a for a in args if a is TENSOR]
    if len(args) == 2 and len(tensors) == 2 and class_name in _MERGES:
        return _MERGES[class_name], {}
    if len(args) == 2 and len(tensors) == 1:
        c = args[1] if args[0] is TENSOR else args[0]
        first = args[0] is TENSOR
        if _number(c):
            c = float(c)
            if class_name == "Add":
                return "Rescaling", {"scale": 1.0, "offset": c}
            if class_name == "Subtract":
                return "Rescaling", ({"scale": 1.0, "offset": -c} if first
                                     else {"scale": -1.0, "offset": c})
            if class_name == "Multiply":
                return "Rescaling", {"scale": c}
            if class_name in ("Divide", "TrueDivide") and first and c != 0:
                return "Rescaling", {"scale": 1.0 / c}
    shown = ", ".join("tensor" if a is TENSOR else repr(a) for a in args)
    raise UnsupportedError(
        f"keras.ops operation {class_name!r}({shown}) is not modelled; convplan reads "
        "elementwise add, subtract, multiply and divide of a tensor by a number, and add, "
        "subtract, multiply, maximum and minimum of two tensors", layer=layer, op=class_name,
        hint=f"use Keras layers for the rest, or declare it with {CUSTOM_LAYERS}")


def describe_unknown(entry: dict, layer: str) -> SpecError:
    """The error for a layer class convplan does not model and nobody declared: the class's
    own reason where convplan refuses it on purpose (keras_refusals), else the generic one."""
    refused = refusal(entry, layer)
    if refused is not None:
        return refused
    class_name = entry.get("class_name")
    module = entry.get("module")
    where = f" from module {module!r}" if module not in (None, "keras", "keras.layers") else ""
    return UnsupportedError(
        f"Keras layer class {class_name!r}{where} is not modelled by convplan, which never "
        "guesses a layer's shape or weights", layer=layer, op=str(class_name),
        hint=f"declare it, e.g. {CUSTOM_LAYERS} {class_name}=identity,params=N (Python: "
        f"custom_layers={{{class_name!r}: 'identity,params=N'}}) if it keeps its input's shape, "
        f"or {class_name}=strides=2,padding=same,filters=64,params=9*C_in*64+64 if it changes "
        "it")
