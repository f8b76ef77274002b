"""XLA's buffer assignment as the memory oracle: a Keras 3 model's training and predict steps
compiled by JAX on the CPU, and the bytes their compiled programs allocate.

    peak = argument + output + temp - alias bytes      (`Compiled.memory_analysis()`)

The training step is Keras's own `train_step` jitted as Keras's JAX trainer does (the state
donated, so the updated variables alias the old ones); the predict step is `predict_step`.
XLA:CPU's YNNPACK fusion is switched off (`--xla_cpu_experimental_ynn_fusion_type=`): it runs
whole conv/pool/dense chains inside one library call whose buffers the buffer assignment never
sees (the seed CNN's predict step reported 128 temporary bytes for 4 MB of feature maps).

Needs KERAS_BACKEND=jax before Keras is imported, so callers run it in a subprocess:
`python -m convplan.verify.xla_memory < request.json` reads a request (a convplan spec dict or a
keras.applications name, the batches, sizes, dtypes and optimizer) and prints one JSON line per
measurement, with convplan's own prediction beside XLA's.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

YNN_OFF = "--xla_cpu_experimental_ynn_fusion_type="


def environment() -> dict[str, str]:
    """The environment a measuring subprocess needs: the JAX backend, no YNNPACK fusion."""
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + YNN_OFF).strip()
    return env


def _total(m: Any) -> int:
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
               - m.alias_size_in_bytes)


def step_arguments(model: Any, batch: int, optimizer: str,
                   array: Callable[[tuple[int, ...], str, int], Any]) -> dict[str, Any]:
    """What jax.jit(model.predict_step / train_step) is lowered with, the model compiled with
    the optimizer and an mse loss: `x` and `y` (one array or a tuple; array(shape, dtype, 1)
    for inputs, array(shape, 'float32', 2) for targets), `weights` = (trainable, frozen) and
    the training `state` (those, the optimizer's slots and the metrics' variables)."""
    import keras

    x = [array((batch, *t.shape[1:]), t.dtype, 1) for t in model.inputs]
    y = [array((batch, *t.shape[1:]), "float32", 2) for t in model.outputs]
    model.compile(optimizer=keras.optimizers.get(_keras_optimizer(optimizer)), loss="mse")
    model.optimizer.build(model.trainable_variables)
    trainable = [v.value for v in model.trainable_variables]
    frozen = [v.value for v in model.non_trainable_variables]
    return {"x": x[0] if len(x) == 1 else tuple(x), "y": y[0] if len(y) == 1 else tuple(y),
            "weights": (trainable, frozen),
            "state": (trainable, frozen, [v.value for v in model.optimizer.variables],
                      [v.value for v in model.metrics_variables])}


def measure_model(model: Any, batch: int, optimizer: str = "adam") -> dict[str, Any]:
    """Compiled bytes of one training step and one predict step of a built Keras model."""
    import jax
    import jax.numpy as jnp

    args = step_arguments(model, batch, optimizer, lambda shape, dtype, _: jnp.zeros(shape, dtype))
    x_arg, y_arg, state = args["x"], args["y"], args["state"]
    trainable, frozen = args["weights"]
    start = time.perf_counter()
    train = jax.jit(model.train_step, donate_argnums=0).lower(state, (x_arg, y_arg)).compile()
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predict = jax.jit(model.predict_step).lower((trainable, frozen), (x_arg,)).compile()
    predict_seconds = time.perf_counter() - start
    tm, pm = train.memory_analysis(), predict.memory_analysis()
    return {"train": _total(tm), "predict": _total(pm),
            "train_parts": {k: int(getattr(tm, f"{k}_size_in_bytes"))
                            for k in ("argument", "output", "temp", "alias")},
            "predict_parts": {k: int(getattr(pm, f"{k}_size_in_bytes"))
                              for k in ("argument", "output", "temp", "alias")},
            "compile_seconds": round(train_seconds + predict_seconds, 1)}


def _keras_optimizer(name: str) -> str:
    return {"momentum": "sgd"}.get(name, name)


def _build(request: dict[str, Any], size: int | None) -> Any:
    """The Keras model of a request at one input size (a spec dict or a keras.applications
    name)."""
    import keras

    from convplan.frontends.spec import build_graph
    from convplan.verify.keras_build import build_keras_model

    if "application" in request:
        return getattr(keras.applications, request["application"])(
            weights=None, input_shape=(size, size, 3), **request.get("arguments", {}))
    graph = build_graph(request["spec"])
    rank = len(graph[graph.inputs[0]].op.shape) - 1
    return build_keras_model(graph, None if size is None else (size,) * rank)


def run(request: dict[str, Any]) -> list[dict[str, Any]]:
    """One JSON line per (dtype, size, batch): XLA's bytes and the Keras model's JSON (which
    convplan reads without Keras), so the caller predicts from the same model."""
    import keras

    rows = []
    for dtype in request.get("dtypes", ["float32"]):
        for size in request.get("sizes", [None]):
            keras.backend.clear_session()
            keras.config.set_dtype_policy(dtype)
            model = _build(request, size)
            model_json = model.to_json()
            for batch in request.get("batches", [2]):
                xla = measure_model(model, batch, request.get("optimizer", "adam"))
                rows.append({"name": request.get("name"), "dtype": dtype, "size": size,
                             "batch": batch, "optimizer": request.get("optimizer", "adam"),
                             "xla": xla, "model_json": model_json})
                print(json.dumps(rows[-1]), flush=True)
    keras.config.set_dtype_policy("float32")
    return rows


if __name__ == "__main__":
    run(json.loads(sys.stdin.read()))
