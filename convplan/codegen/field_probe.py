"""Receptive fields measured on a built Keras model, compared with plan.json's.

This module imports nothing but the standard library at import time and needs only Keras 3
and numpy (keras.ops, any backend) when called, so `convplan generate` copies it verbatim into
every generated project's tests (as `tests/keras_field.py`): the project measures the fields of
the model its own model.py builds. It is the method of `convplan verify` (convplan/verify/
field.py), applied to a built model instead of a plan's graph.

Which input pixels can change an output pixel depends on wiring and windows, not weights, so
the model is rebuilt from its own config as a linearized copy with the same geometry: every
activation linear (softmax and layer normalization over the channels too), max pooling as
average pooling over the same windows (global too), Maximum/Minimum as Average, Subtract and
Multiply as Add, Rescaling, Normalization and Masking as the identity, a merge's input that
is broadcast along a spatial axis, or whose positions a softmax, layer normalization or
concatenation along a spatial axis mixed, scaled by 0 (the plan leaves such global context
out of the merge's field), positive fan-in-normalized kernels and scales, zero offsets, unit
variances, in float64. An output of
that copy is a sum of positive products of the input pixels it can see, so it changes exactly
when one of them does. For each spatial axis and input position i, an input that is one on the
hyperplane at i and zero elsewhere reaches output position p iff i is in p's field on that
axis: forward passes over chunks of positions give every output position's interval [first,
last] of input pixels, for every layer at once, each chunk reduced before the next runs.

A planned field gives output p the interval [start + p * stride, start + p * stride + size -
1] (from `phases` where the plan has them: output k * q + r sees phases[r] shifted by start +
k * q * stride). Every measured interval must lie inside the plan's, clipped to the input, and
equal it where no border can cut it (`field_problem`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

CHUNK = 16
Interval = tuple[int, int] | None

GLOBAL_MAX_TO_AVERAGE = {"GlobalMaxPooling1D": "GlobalAveragePooling1D",
                         "GlobalMaxPooling2D": "GlobalAveragePooling2D",
                         "GlobalMaxPooling3D": "GlobalAveragePooling3D"}
MAX_TO_AVERAGE = {"MaxPooling1D": "AveragePooling1D", "MaxPooling2D": "AveragePooling2D",
                  "MaxPooling3D": "AveragePooling3D", **GLOBAL_MAX_TO_AVERAGE}
MERGE_TO = {"Maximum": "Average", "Minimum": "Average", "Subtract": "Add", "Multiply": "Add"}
MERGES = {"Add", "Average", "Concatenate", *MERGE_TO}
IDENTITY = {"ReLU", "LeakyReLU", "ELU", "PReLU", "Activation", "Rescaling", "Normalization",
            "Masking"}
CHANNEL_MIXING = {"Softmax", "LayerNormalization"}  # the identity when over the channels only
OFFSETS = ("bias", "beta", "moving_mean", "mean")
VARIANCES = ("moving_variance", "variance")


def linear_layer(class_name: str, config: dict[str, Any], dtype: str) -> tuple[str, dict]:
    """The (class name, config) of the layer's counterpart in the linearized copy."""
    config = dict(config, dtype=dtype)
    keep = {key: config[key] for key in ("name", "trainable", "dtype") if key in config}
    axis = config.get("axis", -1)
    if class_name in IDENTITY or class_name in CHANNEL_MIXING and axis in (-1, [-1], (-1,)):
        return "Activation", dict(keep, activation="linear")
    if class_name in MAX_TO_AVERAGE:
        return MAX_TO_AVERAGE[class_name], config
    if class_name in MERGE_TO:
        return MERGE_TO[class_name], keep
    if "activation" in config:
        config["activation"] = "linear"
    return class_name, config


def surrogate_dtype() -> str:
    """float64, so no sum of positive terms underflows; float32 where the backend runs no
    float64 (JAX without x64)."""
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return "float64" if jax.config.jax_enable_x64 else "float32"
    return "float64"


def _spatial(shape: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(shape[1:-1])


def linear_copy(model: Any) -> tuple[Any, list[str]]:
    """The linearized copy of a one-input functional model (rebuilt from its config, one call
    per layer), with every layer that keeps the input's spatial rank (the input too) as an
    output; and the names of those layers."""
    import keras

    dtype = surrogate_dtype()
    tensors: dict[str, Any] = {}
    mixed: set[str] = set()  # layers whose positions mix along a spatial axis: no field
    entries = model.get_config()["layers"]
    rank = 0
    for entry in entries:
        name, class_name, config = entry["name"], entry["class_name"], entry["config"]
        if class_name == "InputLayer":
            shape = tuple(config["batch_shape"][1:])
            rank = len(shape)
            tensors[name] = keras.Input(shape=shape, name=name, dtype=dtype)
            continue
        if str(entry.get("module", "")).startswith("keras.src.ops"):
            # a keras.ops node, not a layer: those Keras adds where a later layer takes a mask
            # (Masking's not_equal and any, a merge's logical_or, ...) have no counterpart, as
            # the copy carries no mask (Masking is the identity in it); a spec's own keras.ops
            # calls are not probed yet (its consumer finds no tensor)
            continue
        (node,) = entry["inbound_nodes"]  # a generated model calls every layer once
        sources = [t["config"]["keras_history"][0] for t in _flat(node["args"])]
        new_class, new_config = linear_layer(class_name, config, dtype)
        layer = getattr(keras.layers, new_class).from_config(new_config)
        ins = [tensors[s] for s in sources]
        if class_name in MERGES:
            out_spatial = _broadcast(ins)
            stretched = [_spatial(t.shape) != out_spatial for t in ins]
            context = [c or s in mixed for c, s in zip(stretched, sources, strict=True)]
            if all(context):  # nothing but global context: the merge has no field either
                context = stretched
                mixed.add(name)
            ins = [keras.ops.multiply(t, 0.0) if c else t
                   for t, c in zip(ins, context, strict=True)]
            tensors[name] = layer(ins)
        else:
            tensors[name] = layer(ins[0])
            if sources[0] in mixed:
                mixed.add(name)
        if class_name in (*CHANNEL_MIXING, "Concatenate") and _mixes_spatial_axis(
                config.get("axis", -1), rank):
            mixed.add(name)
    names = [e["name"] for e in entries
             if e["name"] in tensors and len(tensors[e["name"]].shape) == rank + 1]
    (source,) = [tensors[e["name"]] for e in entries if e["class_name"] == "InputLayer"]
    copy = keras.Model(source, [tensors[n] for n in names])
    make_positive(copy)
    return copy, names


def _mixes_spatial_axis(axis: Any, rank: int) -> bool:
    """Whether a Keras `axis` (0 the batch; an int or a list) names a spatial axis of a
    rank-`rank` input (batch excluded), not only the channels."""
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    return any((a - 1 if a > 0 else rank + a) != rank - 1 for a in axes)


def _flat(value: Any) -> list[dict]:
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _flat(item)]
    return []


def _broadcast(tensors: Sequence[Any]) -> tuple[Any, ...]:
    """The spatial shape of a merge's output: each axis its inputs' largest extent."""
    shapes = [_spatial(t.shape) for t in tensors]
    return tuple(max(axis, key=lambda d: -1 if d is None else d)
                 for axis in zip(*shapes, strict=False))


def _fan_in(layer: Any, weight: Any) -> int:
    shape = [int(d) for d in weight.shape]
    depthwise = type(layer).__name__.startswith("Depthwise") or "depthwise" in weight.name
    return max(1, math.prod(shape[:-2] if depthwise else shape[:-1]))


def make_positive(model: Any, seed: int = 0) -> None:
    """Kernels and scales positive and fan-in normalized; offsets zero; variances one."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for weight in layer.weights:
            shape = tuple(int(d) for d in weight.shape)
            if weight.name in OFFSETS:
                value = np.zeros(shape)
            elif weight.name in VARIANCES:
                value = np.ones(shape)
            elif weight.name == "count" or "int" in str(weight.dtype):
                continue
            else:
                scale = 1.0 / _fan_in(layer, weight) if len(shape) >= 2 else 1.0
                value = rng.uniform(0.5, 1.5, shape) * scale
            weight.assign(value.astype(str(weight.dtype)))


def impulses(spatial: Sequence[int], channels: int, probes: Sequence[tuple[int, int]],
             dtype: str) -> Any:
    """One input per (axis, position) probed: ones on that hyperplane, zeros elsewhere."""
    import numpy as np

    batch = np.zeros((len(probes), *spatial, channels), dtype=dtype)
    for k, (axis, i) in enumerate(probes):
        index: list[Any] = [k] + [slice(None)] * len(spatial)
        index[axis + 1] = i
        batch[tuple(index)] = 1.0
    return batch


def measure_fields(model: Any, chunk: int = CHUNK) -> dict[str, tuple[tuple[Interval, ...], ...]]:
    """Per layer keeping the input's spatial rank, per spatial axis: the interval of input
    pixels each output position sees along that axis (None: none)."""
    import keras
    import numpy as np

    copy, names = linear_copy(model)
    if not names:
        return {}
    dtype = surrogate_dtype()
    shape = [int(d) for d in copy.inputs[0].shape[1:]]
    spatial, channels = shape[:-1], shape[-1]

    def run(batch: Any) -> list[Any]:
        outputs = copy(batch, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [keras.ops.convert_to_numpy(o) for o in outputs]

    baseline = run(np.zeros((1, *spatial, channels), dtype=dtype))
    pairs = list(zip(names, baseline, strict=False))
    first = {n: [np.full(d, -1) for d in b.shape[1:-1]] for n, b in pairs}
    last = {n: [np.full(d, -1) for d in b.shape[1:-1]] for n, b in pairs}
    for axis, length in enumerate(spatial):
        for start in range(0, length, chunk):
            positions = np.arange(start, min(start + chunk, length))
            outputs = run(impulses(spatial, channels, [(axis, int(i)) for i in positions], dtype))
            for name, out, base in zip(names, outputs, baseline, strict=False):
                others = tuple(d for d in range(1, out.ndim) if d != axis + 1)
                seen = (out != base).any(axis=others)  # (probes, outputs along the axis)
                hit = seen.any(axis=0)
                fresh = hit & (first[name][axis] < 0)
                first[name][axis] = np.where(fresh, positions[seen.argmax(axis=0)],
                                             first[name][axis])
                last_row = len(positions) - 1 - seen[::-1].argmax(axis=0)
                last[name][axis] = np.where(hit, positions[last_row], last[name][axis])
    return {n: tuple(tuple((int(f), int(g)) if f >= 0 else None
                           for f, g in zip(fs, gs, strict=False))
                     for fs, gs in zip(first[n], last[n], strict=False)) for n in names}


def plan_interval(size: float, stride: float, start: float, phases: Sequence | None,
                  p: int) -> tuple[int, int] | None:
    """The first and last input pixel output p sees by the plan, unclipped (rounded
    outward); None where the plan says it sees nothing."""
    if phases:
        k, r = divmod(p, len(phases))
        if phases[r] is None:
            return None
        base = start + k * len(phases) * stride
        return math.floor(base + phases[r][0]), math.ceil(base + phases[r][1])
    lo = start + p * stride
    return math.floor(lo), math.ceil(lo + size - 1)


def clip(interval: tuple[int, int] | None, n: int) -> Interval:
    """The interval clipped to the input's pixels [0, n - 1]; None if nothing is left."""
    if interval is None:
        return None
    first, last = max(interval[0], 0), min(interval[1], n - 1)
    return (first, last) if first <= last else None


def axis_problem(size: float, stride: float, start: float, phases: Sequence | None,
                 measured: Sequence[Interval], n: int) -> str | None:
    """Why one axis's measured intervals disagree with the plan, or None.

    Every measured interval must lie inside the plan's, clipped to the input (a border only
    hides pixels). Where the plan's interval lies strictly inside the pixels the layer
    reaches at all, no border cuts it, so an output that sees anything must see exactly
    that; one that sees nothing lies in zero padding."""
    seen_any = [s for s in measured if s is not None]
    if not seen_any:
        return "no output sees any input pixel"
    reach = (min(s[0] for s in seen_any), max(s[1] for s in seen_any))
    for p, seen in enumerate(measured):
        plan = plan_interval(size, stride, start, phases, p)
        want = clip(plan, n)
        if seen is not None and (want is None or seen[0] < want[0] or seen[1] > want[1]):
            return f"output {p} sees {list(seen)}, outside the plan's {want and list(want)}"
        if (seen is not None and plan is not None and reach[0] < plan[0]
                and plan[1] < reach[1] and tuple(seen) != tuple(plan)):
            return f"output {p} sees {list(seen)}, plan says {list(plan)}"
    return None


def field_problem(planned: dict[str, Any], measured: Sequence[Sequence[Interval]],
                  spatial: Sequence[int]) -> str | None:
    """Why the measured field disagrees with plan.json's `receptive_field`, or None."""
    phases = planned.get("phases") or [None] * len(spatial)
    for axis, n in enumerate(spatial):
        problem = axis_problem(planned["size"][axis], planned["stride"][axis],
                               planned["start"][axis], phases[axis], measured[axis], n)
        if problem:
            return f"axis {axis + 1}: {problem}"
    return None
