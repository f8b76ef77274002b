"""Measured time as the oracle for convplan's time bounds (issue 15): a Keras 3 model under JAX on
the CPU, each layer compiled and timed on its own, and the whole forward and training step.

    layer time  = median over repeats of one call of jax.jit(layer.stateless_call) on random
                  inputs of the layer's shapes at the batch (forward, training=False), after a
                  warm-up call, each call ended by block_until_ready
    layer training time = the same for the layer's forward and backward as a training step
                  runs them: jax.vjp of stateless_call (training=True) with respect to its
                  trainable weights and its inputs (not an input without a trainable weight
                  upstream, the model's input or what only preprocessing or frozen layers
                  made of it, whose gradient a training step never computes:
                  convplan.analysis.gradient_flow), applied to a random output
                  gradient, jitted; the forward's output and the updated non-trainable state
                  (BatchNormalization's moving statistics) are returned too, as a step uses them
    overhead    = the same for a jitted function of the same arguments that computes nothing
                  (returns a scalar zero): JAX's dispatch of those arguments and the wait,
                  which a layer timed alone pays and a layer inside a compiled step does not
    step time   = the same for Keras's `predict_step` and `train_step` (Adam, the state donated
                  as Keras's JAX trainer does)
    XLA's count = `Compiled.cost_analysis()`: 'flops' and 'bytes accessed' of each compiled
                  program (per layer and per step)

XLA runs as it does by default (YNNPACK fusion on): the times are those a user gets. The cost
analysis is read from the same programs; library calls it cannot see into count as what XLA
reports for them.

Needs KERAS_BACKEND=jax before Keras is imported, so callers run it in a subprocess:
`python -m convplan.verify.xla_time < request.json` reads a request (a convplan spec dict or a
keras.applications name, the sizes and batches, and what to time) and prints one JSON line per
(size, batch) with the Keras model's JSON, so the caller predicts from the same model.
This module imports neither JAX nor Keras at import time.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from convplan.verify.xla_memory import _build, step_arguments


def environment() -> dict[str, str]:
    """The environment a timing subprocess needs: the JAX backend on the CPU."""
    return dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")


def cost(compiled: Any) -> dict[str, float]:
    """XLA's 'flops' and 'bytes accessed' of one compiled program (a dict in new JAX, a list of
    one dict per computation in old)."""
    analysis = compiled.cost_analysis()
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0] if analysis else {}
    analysis = analysis or {}
    return {"flops": float(analysis.get("flops", 0.0)),
            "bytes": float(analysis.get("bytes accessed", 0.0))}


def time_call(call: Callable[[], Any], min_repeats: int = 5, max_repeats: int = 50,
              budget_s: float = 0.3) -> dict[str, float]:
    """Median and minimum seconds of `call()` (which blocks until its result is ready): one
    warm-up call, then repeats until `budget_s` is spent (at least `min_repeats`)."""
    call()
    times: list[float] = []
    spent = 0.0
    while len(times) < max_repeats and (len(times) < min_repeats or spent < budget_s):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
        spent += times[-1]
    return {"median_s": statistics.median(times), "min_s": min(times), "repeats": len(times)}


def _random(shape: tuple[int, ...], dtype: str, seed: int) -> Any:
    import jax.numpy as jnp
    import numpy as np

    if "int" in dtype or "bool" in dtype:
        return jnp.zeros(shape, dtype)
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), dtype)


def _blocked(compiled: Any, *args: Any) -> Callable[[], Any]:
    import jax

    return lambda: jax.block_until_ready(compiled(*args))


def _nothing(*args: Any) -> Any:
    import jax.numpy as jnp

    return jnp.zeros((), "float32")


def _stateless(layer: Any, node: Any, tensors: Any, training: bool
               ) -> Callable[[Any, Any, Any], Any]:
    """(trainable, frozen, inputs) -> (outputs, new non-trainable values): the layer's
    stateless_call on its node's arguments, in inference or training mode (unless the model
    fixed `training` for this call)."""
    kwargs = {"training": training} if layer._call_has_training_arg and \
        "training" not in node.arguments.kwargs else {}

    def call(trainable: Any, frozen: Any, inputs: Any) -> Any:
        args, extra = node.arguments.fill_in(
            {id(t): x for t, x in zip(tensors, inputs, strict=True)})
        return layer.stateless_call(trainable, frozen, *args, **extra, **kwargs)
    return call


def _inexact(x: Any) -> bool:
    import jax.numpy as jnp

    return bool(jnp.issubdtype(x.dtype, jnp.inexact))


def _training_call(call: Callable[[Any, Any, Any], Any], differentiated: list[int]
                   ) -> Callable[[Any, Any, Any, Any], Any]:
    """(trainable, frozen, inputs, output gradient) -> (output, weight gradients, input
    gradients, new non-trainable values): one layer's forward and backward in a training
    step, the gradients with respect to the trainable weights and inputs[i], i in
    `differentiated`."""
    import jax

    def train(trainable: Any, frozen: Any, inputs: Any, cotangent: Any) -> Any:
        def forward(weights: Any, wrt: Any) -> Any:
            full = list(inputs)
            for i, x in zip(differentiated, wrt, strict=True):
                full[i] = x
            return call(weights, frozen, full)

        wrt = [inputs[i] for i in differentiated]
        out, backward, new_frozen = jax.vjp(forward, trainable, wrt, has_aux=True)
        weight_grads, input_grads = backward(cotangent)
        return out, weight_grads, input_grads, new_frozen
    return train


def _time_training(without_gradient: set[int], call: Callable[[Any, Any, Any], Any],
                   tensors: Any, trainable: Any, frozen: Any, arrays: list[Any], seed: int,
                   measure: bool, timing: dict[str, Any]) -> dict[str, Any] | None:
    """One layer's training timing (`_training_call`, jitted) and its dispatch overhead, as
    the forward's; None where an output is not floating point (no gradient flows)."""
    import jax

    shapes = jax.eval_shape(lambda t, f, x: call(t, f, x)[0], trainable, frozen, arrays)
    leaves, tree = jax.tree_util.tree_flatten(shapes)
    if not all(_inexact(leaf) for leaf in leaves):
        return None
    cotangent = jax.tree_util.tree_unflatten(
        tree, [_random(tuple(leaf.shape), str(leaf.dtype), seed + 1) for leaf in leaves])
    differentiated = [i for i, (t, x) in enumerate(zip(tensors, arrays, strict=True))
                      if id(t) not in without_gradient and _inexact(x)]
    args = (trainable, frozen, arrays, cotangent)
    start = time.perf_counter()
    compiled = jax.jit(_training_call(call, differentiated)).lower(*args).compile()
    compile_s = time.perf_counter() - start
    if not measure:
        return {"input_gradients": len(differentiated), "xla": cost(compiled)}
    measured = time_call(_blocked(compiled, *args), **timing)
    nothing = jax.jit(_nothing).lower(*args).compile()
    overhead = time_call(_blocked(nothing, *args), **timing)
    return {**measured, "overhead_median_s": overhead["median_s"],
            "overhead_min_s": overhead["min_s"], "compile_s": round(compile_s, 3),
            "input_gradients": len(differentiated), "xla": cost(compiled)}


def _without_gradient(model: Any) -> set[int]:
    """ids of the Keras tensors no training step differentiates: the model's inputs and the
    outputs of layers without trainable weights fed only by such tensors."""
    none = {id(t) for t in model.inputs}
    for layer in model.layers:  # a functional model's layers come in graph order
        node = layer._inbound_nodes[0]
        if not layer.trainable_weights and all(
                id(t) in none for t in node.arguments.keras_tensors):
            none |= {id(t) for t in node.outputs}
    return none


def time_layers(model: Any, batch: int, measure: bool = True, training: bool = True,
                **timing: Any) -> list[dict[str, Any]]:
    """Each layer of a functional model called on its own at the batch, forward (inference):
    its name, class, seconds and XLA's flops and bytes (without `measure`, only XLA's
    counts); with `training`, under "train" the same for the layer's forward and backward
    in training mode (`_training_call`). Input layers are left out."""
    import jax

    without_gradient = _without_gradient(model)
    rows = []
    for index, layer in enumerate(model.layers):
        if type(layer).__name__ == "InputLayer":
            continue
        node = layer._inbound_nodes[0]  # a layer called once, as in every model measured
        tensors = node.arguments.keras_tensors
        arrays = [_random((batch, *t.shape[1:]), t.dtype, index) for t in tensors]
        inference = _stateless(layer, node, tensors, training=False)

        def forward(trainable: Any, frozen: Any, inputs: Any,
                    inference: Callable[[Any, Any, Any], Any] = inference) -> Any:
            return inference(trainable, frozen, inputs)[0]

        trainable = [v.value for v in layer.trainable_variables]
        frozen = [v.value for v in layer.non_trainable_variables]
        start = time.perf_counter()
        compiled = jax.jit(forward).lower(trainable, frozen, arrays).compile()
        compile_s = time.perf_counter() - start
        row: dict[str, Any] = {"name": layer.name, "class": type(layer).__name__}
        if measure:
            measured = time_call(_blocked(compiled, trainable, frozen, arrays), **timing)
            nothing = jax.jit(_nothing).lower(trainable, frozen, arrays).compile()
            overhead = time_call(_blocked(nothing, trainable, frozen, arrays), **timing)
            row.update({**measured, "overhead_median_s": overhead["median_s"],
                        "overhead_min_s": overhead["min_s"], "compile_s": round(compile_s, 3)})
        row["xla"] = cost(compiled)
        if training:
            train = _time_training(without_gradient, _stateless(layer, node, tensors, True),
                                   tensors, trainable, frozen, arrays, index, measure, timing)
            if train is not None:
                row["train"] = train
        rows.append(row)
    return rows


def time_steps(model: Any, batch: int, optimizer: str = "adam", training: bool = True,
               **timing: Any) -> dict[str, Any]:
    """The whole model's predict step (forward) and, with `training`, its training step at the
    batch: seconds, compile seconds and XLA's flops and bytes of each compiled program."""
    import jax

    args = step_arguments(model, batch, optimizer, _random)
    x_arg, y_arg = args["x"], args["y"]
    trainable, frozen = args["weights"]
    out: dict[str, Any] = {}
    start = time.perf_counter()
    predict = jax.jit(model.predict_step).lower((trainable, frozen), (x_arg,)).compile()
    compile_s = time.perf_counter() - start
    out["forward"] = {**time_call(_blocked(predict, (trainable, frozen), (x_arg,)), **timing),
                      "compile_s": round(compile_s, 1), "xla": cost(predict)}
    if training:
        state = [args["state"]]
        start = time.perf_counter()
        train = jax.jit(model.train_step, donate_argnums=0).lower(
            state[0], (x_arg, y_arg)).compile()
        compile_s = time.perf_counter() - start

        def step() -> None:
            # the state is donated: each step consumes the last step's state
            logs, state[0] = train(state[0], (x_arg, y_arg))
            jax.block_until_ready(logs)

        out["train"] = {**time_call(step, **timing), "compile_s": round(compile_s, 1),
                        "xla": cost(train)}
    return out


def run(request: dict[str, Any]) -> list[dict[str, Any]]:
    """One JSON line per (size, batch): the measured layers and steps and the Keras model's JSON.

    Request keys: "spec" (a convplan spec dict) or "application" (a keras.applications name),
    "name", "sizes", "batches", "layers" (time each layer, default true), "layer_training"
    (time each layer's forward and backward too, default true), "training" (time the
    training step, default true), "steps" (time the whole model, default true), "measure"
    (false: XLA's counts of each layer only, nothing timed), "optimizer", "budget_s" (seconds
    of repeats per timing)."""
    import keras

    rows = []
    timing = {"budget_s": float(request.get("budget_s", 0.3))}
    for size in request.get("sizes", [None]):
        keras.backend.clear_session()
        model = _build(request, size)
        model_json = model.to_json()
        for batch in request.get("batches", [2]):
            row: dict[str, Any] = {"name": request.get("name"), "size": size, "batch": batch,
                                   "dtype": "float32", "jax": _jax_version()}
            measure = request.get("measure", True)
            if request.get("layers", True):
                row["layers"] = time_layers(model, batch, measure,
                                            request.get("layer_training", True), **timing)
            if measure and request.get("steps", True):
                row["steps"] = time_steps(model, batch, request.get("optimizer", "adam"),
                                          request.get("training", True), **timing)
            row["model_json"] = model_json
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def _jax_version() -> str:
    import jax

    return str(jax.__version__)


if __name__ == "__main__":
    run(json.loads(sys.stdin.read()))
