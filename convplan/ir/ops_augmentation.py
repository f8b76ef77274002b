"""Keras's image augmentation layers (RandomFlip, RandomRotation, ..., MixUp, RandAugment): the
identity at inference, with no weights.

Keras applies them only when training (`training=True`); a model called for inference, and
every number convplan reports, sees the input unchanged: same shape, no params, no MACs, no
FLOPs, the same receptive field. They are ops of their own, one class per Keras class with the
constructor's arguments and defaults, so that `verify` and `generate` build the same Keras
layer again (`getattr(keras.layers, op_type)(**attributes)`). Their input is a batch of images,
(batch, height, width, channels), channels_last, as their Keras docs say.

`normalize` checks what each argument is (a number, a pair of numbers, one of Keras's closed
choices); the ranges of the augmentation factors, which change no shape and no count, are left
to Keras's constructor, which raises its own error when `verify` or the generated project
builds the layer. AutoContrast and ContrastLimitedAdaptiveHistogramEqualization, which act at
inference too, are not here (convplan.frontends.keras_refusals), nor is Equalization, which no
Keras 3.15 model can hold (its symbolic output is its input tensor itself).
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, ClassVar

from convplan.errors import SpecError
from convplan.ir import attrs as A
from convplan.ir.op_base import Op, _set, dataclass

VALUE_RANGE = (0, 255)  # Keras's default for every layer that takes one
# Channel counts: RandomColorDegeneration refuses anything but RGB when the model is built;
# RandomHue and RandomSaturation fail on other counts when training, AugMix, RandAugment and
# RandomGrayscale on anything but grayscale or RGB.
RGB = (3,)
GRAY_OR_RGB = (1, 3)


@dataclass(frozen=True, kw_only=True)
class Augmentation(Op):
    """A Keras image augmentation layer: the identity at inference (see the module doc)."""

    elementwise: ClassVar[bool] = True
    spatial_rank: ClassVar[int] = 2
    fill_modes: ClassVar[tuple[str, ...]] = ("reflect", "wrap", "constant", "nearest")
    interpolations: ClassVar[tuple[str, ...]] = ("nearest", "bilinear")
    modes: ClassVar[tuple[str, ...]] = ("horizontal", "vertical", "horizontal_and_vertical")
    # the channel counts Keras runs it on (None: any); measured on Keras 3.15 / TF 2.21
    channels: ClassVar[tuple[int, ...] | None] = None
    data_format: str | None = None

    def accepted_channels(self) -> tuple[int, ...] | None:
        """The channel counts it runs on; AugMix with all_ops False leaves out the colour
        operations that need RGB, and takes any."""
        return None if getattr(self, "all_ops", True) is False else self.channels

    def normalize(self) -> None:
        for f in dataclasses.fields(self):
            if f.name in ("name", "trainable"):
                continue
            value = getattr(self, f.name)
            _set(self, f.name, _normalize_argument(self, f.name, value, f.default))


# attribute -> what it holds; every other argument is a number or a list of numbers
_CHOICES = {"fill_mode": "fill_modes", "interpolation": "interpolations", "mode": "modes"}
_COUNTS = ("num_chains", "chain_depth", "num_ops", "bins")


def _normalize_argument(op: Augmentation, attr: str, value: Any, default: Any) -> Any:
    if attr == "data_format":
        return A.as_data_format(op, attr, value)
    if attr in _CHOICES:
        return A.as_choice(op, attr, value, getattr(op, _CHOICES[attr]))
    if attr in _COUNTS:
        return A.as_int(op, attr, value)
    if attr == "all_ops":
        return A.as_bool(op, attr, value)
    if value is None and default is None:
        return None
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or not all(_is_number(v) for v in value):
            raise _expected(op, attr, value)
        return tuple(value)
    if not _is_number(value):
        raise _expected(op, attr, value)
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _expected(op: Augmentation, attr: str, value: Any) -> SpecError:
    return SpecError(f"attribute {attr!r} must be a number or a list of two numbers, received "
                     f"{value!r}", layer=op.name, op=op.op_type)


def _augmentation(name: str, doc: str, required: tuple[str, ...] = (),
                  channels: tuple[int, ...] | None = None,
                  **defaults: Any) -> type[Augmentation]:
    """A frozen dataclass `name` (Augmentation) whose fields are Keras's constructor arguments
    with Keras's defaults (None for `required` ones, which Keras has no default for)."""
    fields = [(attr, Any, dataclasses.field(default=None)) for attr in required]
    fields += [(attr, Any, dataclasses.field(default=value)) for attr, value in defaults.items()]
    namespace = {"__doc__": doc, "__module__": __name__, "required": required,
                 "channels": channels, "__annotations__": {a: t for a, t, _ in fields},
                 **{a: f for a, _, f in fields}}
    # what dataclasses.make_dataclass builds, through op_base's dataclass (nothing compiled)
    cls = types.new_class(name, (Augmentation,), {}, lambda ns: ns.update(namespace))
    made: type[Augmentation] = dataclass(frozen=True, kw_only=True)(cls)
    return made


_FILL: dict[str, Any] = {"fill_mode": "reflect", "interpolation": "bilinear", "fill_value": 0.0}

AugMix = _augmentation(
    "AugMix", "Keras AugMix: mixes chains of augmentations in training.", channels=GRAY_OR_RGB,
    value_range=VALUE_RANGE, num_chains=3, chain_depth=3, factor=0.3, alpha=1.0, all_ops=True,
    interpolation="bilinear")
CutMix = _augmentation("CutMix", "Keras CutMix: pastes patches between images in training.",
                       factor=1.0)
MixUp = _augmentation("MixUp", "Keras MixUp: blends pairs of images in training.", alpha=0.2)
RandAugment = _augmentation(
    "RandAugment", "Keras RandAugment: num_ops random augmentations in training.",
    channels=GRAY_OR_RGB,
    value_range=VALUE_RANGE, num_ops=2, factor=0.5, interpolation="bilinear")
RandomBrightness = _augmentation("RandomBrightness", "Keras RandomBrightness.", ("factor",),
                                 value_range=VALUE_RANGE)
RandomColorDegeneration = _augmentation(
    "RandomColorDegeneration", "Keras RandomColorDegeneration.", ("factor",), channels=RGB,
    value_range=VALUE_RANGE)
RandomColorJitter = _augmentation(
    "RandomColorJitter", "Keras RandomColorJitter.", value_range=VALUE_RANGE,
    brightness_factor=None, contrast_factor=None, saturation_factor=None, hue_factor=None)
RandomContrast = _augmentation("RandomContrast", "Keras RandomContrast.", ("factor",),
                               value_range=VALUE_RANGE)
RandomElasticTransform = _augmentation(
    "RandomElasticTransform", "Keras RandomElasticTransform.", factor=1.0, scale=1.0,
    interpolation="bilinear", fill_mode="reflect", fill_value=0.0, value_range=VALUE_RANGE)
RandomElasticTransform.fill_modes = ("reflect", "wrap", "constant", "nearest", "mirror")
RandomErasing = _augmentation(
    "RandomErasing", "Keras RandomErasing.", factor=1.0, scale=(0.02, 0.33), fill_value=None,
    value_range=VALUE_RANGE)
RandomFlip = _augmentation("RandomFlip", "Keras RandomFlip.", mode="horizontal_and_vertical")
RandomGaussianBlur = _augmentation(
    "RandomGaussianBlur", "Keras RandomGaussianBlur.", factor=1.0, kernel_size=3, sigma=1.0,
    value_range=VALUE_RANGE)
RandomGrayscale = _augmentation("RandomGrayscale", "Keras RandomGrayscale (keeps the channels).",
                                channels=GRAY_OR_RGB, factor=0.5)
RandomHue = _augmentation("RandomHue", "Keras RandomHue.", ("factor",), channels=RGB,
                          value_range=VALUE_RANGE)
RandomInvert = _augmentation("RandomInvert", "Keras RandomInvert.", factor=1.0,
                             value_range=VALUE_RANGE)
RandomPerspective = _augmentation(
    "RandomPerspective", "Keras RandomPerspective.", factor=1.0, scale=1.0,
    interpolation="bilinear", fill_value=0.0)
RandomPosterization = _augmentation("RandomPosterization", "Keras RandomPosterization.",
                                    ("factor",), value_range=VALUE_RANGE)
RandomRotation = _augmentation("RandomRotation", "Keras RandomRotation.", ("factor",), **_FILL)
RandomSaturation = _augmentation("RandomSaturation", "Keras RandomSaturation.", ("factor",),
                                 channels=RGB, value_range=VALUE_RANGE)
RandomSharpness = _augmentation("RandomSharpness", "Keras RandomSharpness.", ("factor",),
                                value_range=VALUE_RANGE)
RandomShear = _augmentation("RandomShear", "Keras RandomShear.", x_factor=0.0, y_factor=0.0,
                            **_FILL)
RandomTranslation = _augmentation("RandomTranslation", "Keras RandomTranslation.",
                                  ("height_factor", "width_factor"), **_FILL)
RandomZoom = _augmentation("RandomZoom", "Keras RandomZoom.", ("height_factor",),
                           width_factor=None, **_FILL)
Solarization = _augmentation(
    "Solarization", "Keras Solarization: inverts pixels above a threshold in training only.",
    addition_factor=0.0, threshold_factor=0.0, value_range=VALUE_RANGE)

AUGMENTATIONS: tuple[type[Augmentation], ...] = (
    AugMix, CutMix, MixUp, RandAugment, RandomBrightness, RandomColorDegeneration,
    RandomColorJitter, RandomContrast, RandomElasticTransform, RandomErasing, RandomFlip,
    RandomGaussianBlur, RandomGrayscale, RandomHue, RandomInvert, RandomPerspective,
    RandomPosterization, RandomRotation, RandomSaturation, RandomSharpness, RandomShear,
    RandomTranslation, RandomZoom, Solarization,
)
