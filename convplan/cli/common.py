"""Argument parsing shared by subcommands."""

from __future__ import annotations

import re

import click

from convplan.errors import UsageError
from convplan.options import DTYPES, MEMORY_CONVENTIONS, OPTIMIZER_SLOTS


def parse_input_size(value: str | None) -> tuple[int, ...] | None:
    """'224x224' -> (224, 224); '64x64x16' for 3-D; '100' for 1-D."""
    if value is None:
        return None
    if not re.fullmatch(r"\s*\d{1,9}(\s*[xX×]\s*\d{1,9}){0,2}\s*", value):
        raise UsageError(f"--input-size must look like 224x224 (HxW), 16x64x64 (DxHxW) or 100 "
                         f"(length), received {value!r}")
    dims = tuple(int(v) for v in re.split(r"\s*[xX×]\s*", value.strip()))
    if any(d < 1 for d in dims):
        raise UsageError(f"--input-size dimensions must be positive, received {value!r}")
    return dims


input_size_option = click.option(
    "--input-size", "input_size", metavar="HxW",
    help="Spatial input size overriding the spec's (HxW; DxHxW in 3-D; L in 1-D).")
batch_option = click.option("--batch", type=click.IntRange(min=1), default=None,
                            help="Batch size: MACs, FLOPs and memory for the whole batch.")
dtype_option = click.option(
    "--dtype", default=None,
    type=click.Choice(list(DTYPES)),
    help="Dtype policy for memory (float32, mixed_bfloat16, ...)  [default: the model's own "
    "policy, else float32]")


def resolve_dtype(dtype: str | None, graph: object) -> str:
    """--dtype if given, else the policy a Keras model was saved with, else float32."""
    return dtype or getattr(graph, "dtype_policy", None) or "float32"

optimizer_option = click.option(
    "--optimizer", default="adam", show_default=True,
    type=click.Choice(list(OPTIMIZER_SLOTS)),
    help="Optimizer for the training-memory peak (its slots per parameter).")
convention_option = click.option(
    "--convention", default="fused", show_default=True,
    type=click.Choice(list(MEMORY_CONVENTIONS)),
    help="Memory model: fused (a compiler fuses elementwise layers), eager (layer by layer), "
    "xla-cpu (fused plus XLA:CPU's gradient workspace); docs/memory.md.")
custom_layer_option = click.option(
    "--custom-layer", "custom_layers", multiple=True, metavar="CLASS=DECLARATION",
    help="Declare a Keras layer class (or layer name) convplan does not model. Keeps the "
    "shape: CLASS=identity[,params=N][,params_per_channel=N][,flops_per_element=N]; changes "
    "it: CLASS=strides=S[,kernel_size=K][,dilation_rate=D][,padding=valid|same][,filters=F]"
    "[,params=FORMULA][,macs_per_position=FORMULA] (per-axis values as 2x1; formulas in C_in "
    "and C_out, e.g. params=9*C_in*64+64). Repeatable; Keras model files only.")


def parse_custom_layers(values: tuple[str, ...]) -> dict[str, object]:
    """--custom-layer values -> {class or layer name: CustomLayer}."""
    from convplan.frontends.keras_layers import parse_custom_layer

    declared: dict[str, object] = {}
    for text in values:
        key, behaviour = parse_custom_layer(text)
        if key in declared:
            raise UsageError(f"--custom-layer {key} is given twice")
        declared[key] = behaviour
    return declared
