"""Random networks as convplan spec dicts, for property tests and the fuzzer (scripts/fuzz.py).

One generator, two sources of choices: hypothesis (`network_specs()`, which shrinks a failing
network by itself) or a seeded `random.Random` (`random_spec(seed, index)`, for long runs
where every network is reproducible from its seed and index). A network has one input (rarely
two) of spatial rank 1, 2 or 3, a few steps and an optional head, and draws on every op convplan
models but `Custom`:

- chains: convolutions (plain, grouped, causal, depthwise, separable, transposed, with
  strides or dilation), pooling, upsampling (every interpolation), zero padding, cropping, and
  per-position layers (normalizations, activations, dropouts, rescaling, dense);
- DAGs: residual branches of shape-keeping layers joined by every elementwise merge or a
  concatenation (on the channels or a spatial axis), U-Net skips (pool, then upsample or a
  strided transposed convolution, concatenated with the skip), merges with any earlier tensor
  (often of another size: both sides must then reject the network), a second input, a second
  output;
- heads: global pooling, flatten + dense, reshape, dense.

Sizes are not tracked, so some networks are invalid (an output of size zero, a merge of
different sizes); with `invalid=True` a few attributes are drawn out of range on purpose
(strides with dilation, output_padding equal to the stride, groups that do not divide the
channels, a wrong reshape). Options that shrink to the common case come first, and rare
events fire on the highest integer, so hypothesis shrinks towards plain networks.

Attributes use Keras's argument forms (ints, tuples, pairs), so one spec can be given to
convplan (`build_graph`) and, argument for argument, to `keras.layers`.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hypothesis import strategies as st

from convplan.ir import ops as O

SIZES = {1: (6, 40), 2: (5, 24), 3: (3, 10)}
ACTIVATIONS = ["relu", "linear", "tanh", "sigmoid", "gelu", "elu", "swish", "softplus",
               "relu6", "leaky_relu", "hard_sigmoid", "selu", "softmax", "mish"]
ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]
INTERPOLATIONS = ["nearest", "bilinear", "bicubic", "area", "lanczos3", "lanczos5"]


class Chooser(Protocol):
    def integer(self, low: int, high: int) -> int: ...

    def choice(self, options: Sequence[Any]) -> Any: ...


class HypothesisChooser:
    def __init__(self, draw: Any) -> None:
        self.draw = draw

    def integer(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def choice(self, options: Sequence[Any]) -> Any:
        return self.draw(st.sampled_from(list(options)))


class RandomChooser:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def choice(self, options: Sequence[Any]) -> Any:
        return self.rng.choice(list(options))


@dataclass
class Tensor:
    name: str
    channels: int
    spatial: bool = True  # still has the input's spatial axes


def _per_axis(value: Any, rank: int) -> tuple[int, ...]:
    return (value,) * rank if isinstance(value, int) else tuple(value)


# The arguments Keras requires of each augmentation layer that has required ones.
AUGMENTATION_ARGUMENTS: dict[str, dict[str, Any]] = {
    "RandomBrightness": dict(factor=0.2), "RandomColorDegeneration": dict(factor=0.5),
    "RandomContrast": dict(factor=0.2), "RandomHue": dict(factor=0.2),
    "RandomPosterization": dict(factor=(1, 4)), "RandomRotation": dict(factor=0.1),
    "RandomSaturation": dict(factor=0.5), "RandomSharpness": dict(factor=0.5),
    "RandomTranslation": dict(height_factor=0.1, width_factor=0.2),
    "RandomZoom": dict(height_factor=(-0.2, 0.1)),
}


def snake(op: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", op)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class NetworkDraw:
    """Draws layers into a spec dict, tracking each tensor's channels (not its sizes)."""

    def __init__(self, choose: Chooser, rank: int, invalid: bool) -> None:
        self.c, self.rank, self.invalid = choose, rank, invalid
        self.layers: list[dict[str, Any]] = []
        low, high = SIZES[rank]
        channels = self.c.integer(1, 4)
        self.inputs = {"x": [self.c.integer(low, high) for _ in range(rank)] + [channels]}
        self.tensors = [Tensor("x", channels)]
        # a -inf pad makes NaNs downstream (-inf - -inf), and a NaN index fails an Embedding's
        # look-up in TensorFlow (a value error, not a shape one): no Embedding after one
        self.non_finite = False

    # ------------------------------------------------------------ choices

    def rare(self, n: int) -> bool:
        """True about once in n draws; shrinks to False."""
        return self.c.integer(0, n - 1) == n - 1

    def wrong(self, n: int = 12) -> bool:
        """Draw an out-of-range attribute now (only for invalid=True networks)."""
        return self.invalid and self.rare(n)

    def per_axis(self, low: int, high: int) -> int | tuple[int, ...]:
        """An int (Keras broadcasts it) or one int per axis."""
        if self.rank > 1 and self.rare(3):
            return tuple(self.c.integer(low, high) for _ in range(self.rank))
        return self.c.integer(low, high)

    def pairs(self, high: int) -> Any:
        """Padding or cropping amounts in the forms Keras takes."""
        if self.rank == 1:
            return self.c.choice([self.c.integer(0, high), (self.c.integer(0, high),
                                                            self.c.integer(0, high))])
        form = self.c.integer(0, 2)
        if form == 0:
            return self.c.integer(0, high)
        if form == 1:
            return tuple(self.c.integer(0, high) for _ in range(self.rank))
        return tuple((self.c.integer(0, high), self.c.integer(0, high)) for _ in range(self.rank))

    def activation(self) -> str | None:
        return None if not self.rare(3) else self.c.choice(ACTIVATIONS)

    def pick(self) -> Tensor:
        """Mostly the newest spatial tensor (a chain); sometimes an earlier one (a branch)."""
        spatial = [t for t in self.tensors if t.spatial]
        if self.rare(4):
            return self.c.choice(spatial)
        return spatial[-1]

    # ------------------------------------------------------------ layers

    def add(self, op: str, source: Tensor | list[Tensor], channels: int, **attrs: Any) -> Tensor:
        sources = source if isinstance(source, list) else [source]
        name = f"{snake(op)}_{len(self.layers) + 1}"
        self.layers.append({"name": name, "op": op, "inputs": [s.name for s in sources],
                            **attrs})
        tensor = Tensor(name, channels)
        self.tensors.append(tensor)
        return tensor

    def window(self, op: str, stride_with_dilation: bool) -> dict[str, Any]:
        """kernel, strides, dilation and padding; Conv*/Conv*Transpose reject strides > 1 with
        dilation > 1 (drawn only as a wrong attribute), depthwise and separable take both."""
        strides = self.per_axis(1, 3) if self.c.integer(0, 1) else 1
        dilation = self.per_axis(1, 3) if self.rare(3) else 1
        if dilation != 1 and not stride_with_dilation and not self.wrong():
            strides = 1
        paddings = ["valid", "same"]
        if op == "Conv1D":
            paddings.append("causal")
        attrs = {"kernel_size": self.per_axis(1, 4), "padding": self.c.choice(paddings)}
        if strides != 1:
            attrs["strides"] = strides
        if dilation != 1:
            attrs["dilation_rate"] = dilation
        if (act := self.activation()) is not None:
            attrs["activation"] = act
        if self.rare(4):
            attrs["use_bias"] = False
        return attrs

    def conv(self, x: Tensor) -> Tensor:
        op = f"Conv{self.rank}D"
        divisors = [g for g in (1, 2, 3, 4) if x.channels % g == 0]
        groups = self.c.choice([1, 2, 3] if self.wrong() else divisors) if self.rare(3) else 1
        filters = groups * self.c.integer(1, 3) + (1 if groups > 1 and self.wrong() else 0)
        attrs = self.window(op, False)
        if groups != 1:
            attrs["groups"] = groups
        return self.add(op, x, filters, filters=filters, **attrs)

    def depthwise_window(self, op: str) -> dict[str, Any]:
        """TF's depthwise kernel runs unequal row and column strides only with a dilation."""
        attrs = self.window(op, True)
        strides = attrs.get("strides", 1)
        if (isinstance(strides, tuple) and len(set(strides)) > 1
                and max(_per_axis(attrs.get("dilation_rate", 1), 2)) == 1
                and not self.wrong()):
            attrs["strides"] = strides[0]
        return attrs

    def depthwise(self, x: Tensor) -> Tensor:
        if self.rank == 3:
            return self.conv(x)
        dm = self.c.integer(1, 2)
        op = f"DepthwiseConv{self.rank}D"
        return self.add(op, x, x.channels * dm, depth_multiplier=dm, **self.depthwise_window(op))

    def separable(self, x: Tensor) -> Tensor:
        if self.rank == 3:
            return self.conv(x)
        filters = self.c.integer(1, 6)
        op = f"SeparableConv{self.rank}D"
        attrs = self.depthwise_window(op)
        if self.rare(3):
            attrs["depth_multiplier"] = 2
        return self.add(op, x, filters, filters=filters, **attrs)

    def transpose(self, x: Tensor, strides: Any = None) -> Tensor:
        op = f"Conv{self.rank}DTranspose"
        strides = self.per_axis(1, 3) if strides is None else strides
        attrs: dict[str, Any] = {"kernel_size": self.per_axis(1, 4), "strides": strides,
                                 "padding": self.c.choice(["valid", "same"])}
        steps = (strides,) * self.rank if isinstance(strides, int) else strides
        if self.rare(6) and (max(steps) == 1 or self.wrong()):
            attrs["dilation_rate"] = self.per_axis(1, 2)
        if self.rare(3):
            pads = tuple(self.c.integer(0, s - 1) for s in steps)
            if attrs["padding"] == "same" and not self.wrong():
                # TF cannot run 'same' with output_padding 0 on an even effective kernel.
                kernel = _per_axis(attrs["kernel_size"], self.rank)
                dilation = _per_axis(attrs.get("dilation_rate", 1), self.rank)
                pads = tuple(max(p, 1 - (d * (k - 1) + 1) % 2)
                             for p, k, d in zip(pads, kernel, dilation))
            if self.wrong():
                pads = steps  # Keras: output_padding must be smaller than the strides
            if all(p < s for p, s in zip(pads, steps)) or self.invalid:
                attrs["output_padding"] = (pads[0] if len(set(pads)) == 1 and self.c.integer(0, 1)
                                           else pads)
        if (act := self.activation()) is not None:
            attrs["activation"] = act
        filters = self.c.integer(1, 4)
        return self.add(op, x, filters, filters=filters, **attrs)

    def pool(self, x: Tensor, pool_size: Any = None, strides: Any = None,
             padding: str | None = None) -> Tensor:
        kind = self.c.choice(["Max", "Average"])
        attrs: dict[str, Any] = {"pool_size": pool_size or self.per_axis(1, 3)}
        if strides is not None or self.c.integer(0, 1):
            attrs["strides"] = strides or self.per_axis(1, 3)
        attrs["padding"] = padding or self.c.choice(["valid", "same"])
        return self.add(f"{kind}Pooling{self.rank}D", x, x.channels, **attrs)

    def upsample(self, x: Tensor, size: Any = None) -> Tensor:
        size = size or (self.c.integer(1, 3) if self.rank == 1 else self.per_axis(1, 3))
        attrs: dict[str, Any] = {"size": size}
        if self.rank == 2 and self.rare(2):
            attrs["interpolation"] = self.c.choice(INTERPOLATIONS)
        return self.add(f"UpSampling{self.rank}D", x, x.channels, **attrs)

    def pad_or_crop(self, x: Tensor) -> Tensor:
        if self.c.integer(0, 1):
            return self.add(f"Cropping{self.rank}D", x, x.channels, cropping=self.pairs(2))
        return self.add(f"ZeroPadding{self.rank}D", x, x.channels, padding=self.pairs(3))

    def structural(self, x: Tensor) -> Tensor:
        """Resizing, CenterCrop, adaptive pooling, keras.ops pad (-inf before a max pooling,
        as keras-hub's ResNet v2), a channel split joined again (CSPDarkNet), a mean over the
        spatial axes gating the map (squeeze-and-excitation)."""
        r = self.rank
        kind = self.c.choice(["pad", "split", "mean", "adaptive", "permute", "mask", "dims"]
                             + (["resize", "center_crop", "random_crop"] if r == 2 else []))
        if kind == "permute":  # the spatial axes reordered, the channels kept last
            dims = [*self.c.choice(list(itertools.permutations(range(1, r + 1)))), r + 1]
            return self.add("Permute", x, x.channels, dims=dims)
        if kind == "mask":
            return self.add("Masking", x, x.channels, mask_value=self.c.choice([0.0, 1.0]))
        if kind == "dims":  # an axis added and taken away again
            axis = self.c.choice([-1, 1])
            y = self.add("ExpandDims", x, x.channels if axis == 1 else 1, axis=axis)
            y.spatial = False
            return self.add("Squeeze", y, x.channels, axis=axis)
        if kind == "resize":
            return self.add("Resizing", x, x.channels, height=self.c.integer(1, 24),
                            width=self.c.integer(1, 24),
                            interpolation=self.c.choice(["bilinear", "nearest", "bicubic",
                                                         "area"]),
                            **({"crop_to_aspect_ratio": True} if self.rare(3) else {}))
        if kind == "random_crop":  # modelled on an input of its own size only: the input
            first = self.tensors[0]
            height, width = self.inputs["x"][:2]
            return self.add("RandomCrop", first, first.channels, height=height, width=width)
        if kind == "center_crop":
            return self.add("CenterCrop", x, x.channels, height=self.c.integer(1, 12),
                            width=self.c.integer(1, 12))
        if kind == "adaptive":
            pool = self.c.choice(["Average", "Max"])
            return self.add(f"Adaptive{pool}Pooling{r}D", x, x.channels,
                            output_size=self.per_axis(1, 4))
        if kind == "pad":
            rows = [[0, 0]] + [[self.c.integer(0, 2), self.c.integer(0, 2)] for _ in range(r)]
            rows.append([0, 1] if self.rare(4) else [0, 0])
            fill = self.c.choice([None, float("-inf"), 1.0])
            y = self.add("Pad", x, x.channels + rows[-1][1], pad_width=rows,
                         **({"constant_values": fill} if fill is not None else {}))
            if fill == float("-inf"):
                self.non_finite = True
                return self.pool(y)
            return y
        if kind == "split":
            parts = self.c.choice([d for d in (1, 2, 3) if x.channels % d == 0]
                                  if not self.wrong(6) else [2, 3])
            pieces = [self.add("Split", x, max(x.channels // parts, 1), indices_or_sections=parts,
                               axis=-1, index=i) for i in range(parts)]
            if parts == 1:
                return pieces[0]
            return self.add("Concatenate", pieces, x.channels, axis=-1)
        reduce = self.c.choice(["Mean", "Mean", "Sum", "Max", "Min"])
        if self.rare(3):  # over the channels, kept as one
            return self.add(reduce, x, 1, axis=-1, keepdims=True)
        gate = self.add(reduce, x, x.channels, axis=list(range(1, r + 1)), keepdims=True)
        return self.add("Multiply", [x, gate], x.channels)

    def axis(self) -> int:
        """Mostly the channels (-1); sometimes a spatial axis (1 is the first after batch)."""
        return self.c.integer(1, self.rank) if self.rare(4) else -1

    def per_position(self, x: Tensor) -> Tensor:
        """A layer that keeps the shape (or, Dense, all but the channels)."""
        op = self.c.choice(["BatchNormalization", "Activation", "ReLU", "LayerNormalization",
                            "LeakyReLU", "Softmax", "Dropout", "SpatialDropout", "Rescaling",
                            "Normalization", "Dense", "more"])
        if op == "more":
            return self.more_per_position(x)
        if op == "BatchNormalization":
            return self.add(op, x, x.channels, axis=self.axis(),
                            **({"center": False} if self.rare(4) else {}),
                            **({"scale": False} if self.rare(4) else {}))
        if op == "LayerNormalization":
            return self.add(op, x, x.channels, axis=self.axis(),
                            **({"scale": False} if self.rare(4) else {}))
        if op == "Activation":
            return self.add(op, x, x.channels, activation=self.c.choice(ACTIVATIONS))
        if op == "ReLU":
            attrs = {"max_value": 6.0} if self.rare(3) else {}
            if self.rare(3):
                attrs["negative_slope"] = 0.1
            if self.rare(3):
                attrs["threshold"] = 0.5
            return self.add(op, x, x.channels, **attrs)
        if op == "LeakyReLU":
            return self.add(op, x, x.channels, negative_slope=self.c.choice([0.3, 0.1, 0.0]))
        if op == "Softmax":
            return self.add(op, x, x.channels, axis=self.axis())
        if op in ("Dropout", "SpatialDropout"):
            name = (self.c.choice(["Dropout", "Dropout", "GaussianDropout", "AlphaDropout",
                                   "GaussianNoise"])
                    if op == "Dropout" else f"SpatialDropout{self.rank}D")
            if name == "GaussianNoise":
                return self.noise(x)
            return self.add(name, x, x.channels, rate=self.c.choice([0.25, 0.0, 0.5]))
        if op == "Rescaling":
            return self.add(op, x, x.channels, scale=self.c.choice([1 / 255, 2.0, -1.0]),
                            offset=self.c.choice([0.0, -1.0]))
        if op == "Normalization":
            form = self.c.integer(0, 2)
            if form == 0:
                return self.add(op, x, x.channels)
            n = x.channels + (1 if self.wrong() else 0)
            mean = [0.5] * n if form == 1 else 0.5
            variance = [2.0] * n if form == 1 else 2.0
            return self.add(op, x, x.channels, mean=mean, variance=variance)
        units = self.c.integer(1, 5)
        return self.add("Dense", x, units, units=units,
                        **({"activation": "relu"} if self.rare(3) else {}))

    def more_per_position(self, x: Tensor) -> Tensor:
        """GroupNormalization (groups dividing the channels, or one that does not), the other
        normalizations, ELU, PReLU, noise, and (on images) augmentation layers."""
        op = self.c.choice(["GroupNormalization", "UnitNormalization", "RMSNormalization", "ELU",
                            "PReLU", "GaussianNoise", "ActivityRegularization", "augmentation"])
        if op == "GroupNormalization":
            groups = self.c.choice([-1] + [d for d in range(1, x.channels + 1)
                                           if x.channels % d == 0])
            return self.add(op, x, x.channels, groups=x.channels + 1 if self.wrong() else groups,
                            **({"center": False} if self.rare(4) else {}))
        if op in ("UnitNormalization", "RMSNormalization"):
            return self.add(op, x, x.channels, axis=self.axis())
        if op == "ELU":
            return self.add(op, x, x.channels, alpha=self.c.choice([1.0, 0.5]))
        if op == "PReLU":
            shared = self.c.choice([None, list(range(1, self.rank + 1))])
            return self.add(op, x, x.channels, **({"shared_axes": shared} if shared else {}))
        if op == "GaussianNoise":
            return self.noise(x)
        if op == "ActivityRegularization":
            return self.add(op, x, x.channels, l1=0.01)
        return self.augment(x) if self.rank == 2 else self.add("ELU", x, x.channels)

    def noise(self, x: Tensor) -> Tensor:
        """GaussianNoise; Keras refuses a stddev above 1."""
        stddev = 1.5 if self.wrong() else self.c.choice([0.1, 0.0])
        return self.add("GaussianNoise", x, x.channels, stddev=stddev)

    def augment(self, x: Tensor) -> Tensor:
        """One to four image augmentation layers (the identity at inference) that take
        images of x's channels."""
        fits = sorted(cls.__name__ for cls in O.AUGMENTATIONS
                      if cls.channels is None or x.channels in cls.channels)
        for _ in range(self.c.integer(1, 4)):
            op = self.c.choice(fits)
            x = self.add(op, x, x.channels, **AUGMENTATION_ARGUMENTS.get(op, {}))
        return x

    def keep_shape(self, x: Tensor) -> Tensor:
        """A branch layer that keeps size and channels, so a merge with `x` is valid."""
        kind = self.c.choice(["conv", "norm", "depthwise", "pool", "pad_crop", "transpose",
                              "up_down", "causal"])
        r = self.rank
        if kind == "conv":
            attrs = {"kernel_size": self.per_axis(1, 4), "padding": "same"}
            if self.rare(3):
                attrs["dilation_rate"] = self.per_axis(1, 3)
            return self.add(f"Conv{r}D", x, x.channels, filters=x.channels, **attrs)
        if kind == "depthwise" and r < 3:
            return self.add(f"DepthwiseConv{r}D", x, x.channels, kernel_size=self.per_axis(1, 4),
                            padding="same")
        if kind == "pool":
            return self.pool(x, strides=1, padding="same")
        if kind == "pad_crop":
            amounts = self.pairs(2)
            y = self.add(f"ZeroPadding{r}D", x, x.channels, padding=amounts)
            return self.add(f"Cropping{r}D", y, x.channels, cropping=amounts)
        if kind == "transpose":
            return self.add(f"Conv{r}DTranspose", x, x.channels, filters=x.channels,
                            kernel_size=self.per_axis(1, 4), padding="same")
        if kind == "up_down":
            factor = self.c.integer(2, 3)
            y = self.upsample(x, size=factor)
            return self.pool(y, pool_size=factor, strides=factor, padding="valid")
        if kind == "causal" and r == 1:
            return self.add("Conv1D", x, x.channels, filters=x.channels,
                            kernel_size=self.c.integer(2, 5), padding="causal",
                            dilation_rate=self.c.integer(1, 3))
        return self.per_position(x) if kind != "norm" else self.add(
            "BatchNormalization", x, x.channels)

    def merge(self, x: Tensor, y: Tensor) -> Tensor:
        """An elementwise merge (channels broadcast from 1) or a concatenation."""
        if self.c.integer(0, 2) == 2:
            axis = self.axis()
            channels = x.channels + y.channels if axis == -1 else x.channels
            return self.add("Concatenate", [x, y], channels,
                            **({} if axis == -1 else {"axis": axis}))
        op = self.c.choice(ELEMENTWISE)
        return self.add(op, [x, y], max(x.channels, y.channels))

    def residual(self, x: Tensor) -> Tensor:
        y = x
        for _ in range(self.c.integer(1, 2)):
            y = self.keep_shape(y)
        if y.channels != x.channels and not self.wrong(4):
            y = self.add(f"Conv{self.rank}D", y, x.channels, filters=x.channels, kernel_size=1)
        return self.merge(x, y)

    def unet(self, x: Tensor) -> Tensor:
        """Down by 2, maybe a layer, up by 2, concatenated with the skip: valid for even
        sizes ('valid' pooling) or any size ('same' pooling with a cropped upsample)."""
        down = self.pool(x, pool_size=2, strides=2, padding=self.c.choice(["valid", "same"]))
        if self.c.integer(0, 1):
            down = self.keep_shape(down)
        up = self.upsample(down, size=2) if self.c.integer(0, 1) else self.transpose(
            down, strides=2)
        return self.merge(x, up) if self.rare(3) else self.add(
            "Concatenate", [x, up], x.channels + up.channels)

    def any_merge(self, x: Tensor) -> Tensor:
        """A merge with any earlier tensor of the same (or broadcast) channels: often of
        another size, which both sides must reject."""
        spatial = [t for t in self.tensors if t.spatial]
        same = [t for t in spatial if t.channels in (x.channels, 1)]
        y = self.c.choice(spatial if self.wrong(4) else same)
        return self.merge(x, y)

    def step(self) -> None:
        x = self.pick()
        kind = self.c.choice(["conv", "residual", "per_position", "pool", "depthwise",
                              "separable", "transpose", "upsample", "pad_or_crop", "unet",
                              "any_merge", "conv", "structural"])
        getattr(self, kind)(x)

    def second_input(self) -> None:
        """A second input of the same size, merged with the first at once."""
        x = self.tensors[0]
        channels = self.c.choice([x.channels, 1, x.channels + 1])
        self.inputs["y"] = [*self.inputs["x"][:-1], channels]
        y = Tensor("y", channels)
        self.tensors.append(y)
        self.merge(x, y)

    def head(self) -> None:
        """Optionally end like a classifier, a dense layer or a reshape."""
        x = self.tensors[-1]
        kind = self.c.choice(["none", "global", "flatten", "reshape", "dense", "sequence",
                              "contract"])
        if kind == "contract":  # a pooled vector projected by an einsum, or dotted with itself
            pooled = self.add(f"GlobalAveragePooling{self.rank}D", x, x.channels)
            pooled.spatial = False
            if self.c.integer(0, 1):
                self.add("EinsumDense", pooled, 3, equation="ab,bc->ac", output_shape=3,
                         **({"bias_axes": "c"} if self.rare(2) else {})).spatial = False
            else:
                self.add("Dot", [pooled, pooled], 1, axes=1).spatial = False
            return
        if kind == "sequence":  # a vector repeated, or indices looked up (in [0, 1): index 0)
            if self.c.integer(0, 1) or self.non_finite:
                pooled = self.add(f"GlobalAveragePooling{self.rank}D", x, x.channels)
                pooled.spatial = False
                self.add("RepeatVector", pooled, x.channels, n=self.c.integer(1, 3)).spatial = False
            else:
                gated = self.add("Activation", x, x.channels, activation="sigmoid")
                flat = self.add("Flatten", gated, 0)
                flat.spatial = False
                self.add("Embedding", flat, 2, input_dim=2, output_dim=2).spatial = False
            return
        if kind == "global":
            pooled = self.add(f"Global{self.c.choice(['Average', 'Max'])}Pooling{self.rank}D", x,
                              x.channels, **({"keepdims": True} if self.rare(3) else {}))
            pooled.spatial = False
        elif kind == "flatten":
            self.add("Flatten", x, 0).spatial = False
            self.add("Dense", self.tensors[-1], 3, units=3).spatial = False
        elif kind == "reshape":
            target = (-1, x.channels) if not self.wrong(6) else (x.channels + 1, -1)
            self.add("Reshape", x, x.channels, target_shape=target).spatial = False
        elif kind == "dense":
            self.add("Dense", x, 2, units=2, activation="softmax")


def draw_spec(choose: Chooser, invalid: bool = True, max_steps: int = 7,
              inputs: int = 2) -> dict[str, Any]:
    """One random network as a spec dict (see the module docstring); `invalid` False: every
    layer's attributes are valid on their own (shapes may still clash); `inputs` 1: never a
    second input."""
    net = NetworkDraw(choose, choose.choice([2, 1, 3]), invalid)
    if net.rank == 2 and net.rare(2):
        net.augment(net.tensors[0])  # an image model's augmentation front end
    if inputs > 1 and net.rare(8):
        net.second_input()
    for _ in range(choose.integer(1, max_steps)):
        net.step()
    net.head()
    spec: dict[str, Any] = {"name": "fuzz", "inputs": net.inputs, "layers": net.layers}
    if net.rare(4) and len(net.tensors) > 2:
        # A second output: a side exit of the DAG.
        side = choose.choice([t.name for t in net.tensors[1:-1]])
        spec["outputs"] = [net.tensors[-1].name, side]
    return spec


@st.composite
def network_specs(draw: Any, invalid: bool = True, max_steps: int = 7,
                  inputs: int = 2) -> dict[str, Any]:
    """Hypothesis strategy: a random network spec (shrinks towards plain chains)."""
    return draw_spec(HypothesisChooser(draw), invalid, max_steps, inputs)


def analyzed_or_rejected(spec: dict[str, Any]) -> tuple[Any, Any]:
    """(graph, analysis) of a drawn spec; hypothesis rejects the draw where convplan refuses it."""
    from hypothesis import assume

    from convplan.analysis import analyze
    from convplan.errors import ConvplanError
    from convplan.frontends.spec import build_graph

    try:
        graph = build_graph(spec)
        return graph, analyze(graph)
    except ConvplanError:
        assume(False)
        raise


def symbolic_twin(graph: Any, concrete: Any) -> tuple[Any, dict[str, int]]:
    """The graph analysed in symbolic sizes (L; H, W; D, H, W) and the concrete analysis's
    sizes by those names; hypothesis rejects a graph that has no symbolic analysis."""
    from hypothesis import assume

    from convplan.analysis import analyze
    from convplan.errors import ConvplanError

    try:
        symbolic = analyze(graph, generalize=True, fields=False)
    except ConvplanError:
        assume(False)
        raise
    dims = concrete.layer(graph.inputs[0]).output_shape[:-1]
    names = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}[len(dims)]
    return symbolic, dict(zip(names, dims))


def random_spec(seed: int, index: int, invalid: bool = True) -> dict[str, Any]:
    """Network `index` of run `seed`: the same spec on every machine and Python version."""
    return draw_spec(RandomChooser(random.Random(f"convplan-fuzz:{seed}:{index}")), invalid)


def spatial_rank(spec: dict[str, Any]) -> int:
    return len(spec["inputs"]["x"]) - 1


def op_types(spec: dict[str, Any]) -> set[str]:
    return {layer["op"] for layer in spec["layers"]}
