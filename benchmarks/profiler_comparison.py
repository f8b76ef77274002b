"""Compare convplan's counts with TensorFlow's profiler on keras.applications models.

The profiler is used as a new user would: build the model (weights=None), trace its concrete
function for a batch of one, freeze the variables into constants, and profile
`float_operation`. Its count is broken down by TF op type (from the `scope` view, node by node)
and set beside convplan's MACs and FLOPs of the model's JSON, read without TensorFlow.

    TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 \
        .venv/bin/python benchmarks/profiler_comparison.py [ResNet50 MobileNetV2 ...] [--batch none]

`--batch none` traces with an unknown batch size, as `model.inputs[0].shape` gives it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

FIVE = ["ResNet50", "VGG16", "MobileNetV2", "EfficientNetB0", "DenseNet121"]
MAC_OPS = ("Conv2D", "DepthwiseConv2dNative", "MatMul")


def profile_by_op_type(model, batch: int | None) -> tuple[int, dict[str, int], dict[str, int]]:
    """(profiler total, float ops per TF op type, node count per TF op type)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = tf.TensorSpec([batch, *model.inputs[0].shape[1:]], tf.float32)
    concrete = tf.function(lambda x: model(x)).get_concrete_function(spec)
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    info = tf.compat.v1.profiler.profile(graph=graph, run_meta=tf.compat.v1.RunMetadata(),
                                         cmd="scope", options=options)
    by_type: dict[str, int] = defaultdict(int)

    def walk(node) -> None:
        if node.float_ops:
            by_type[graph.get_operation_by_name(node.name).type] += node.float_ops
        for child in node.children:
            walk(child)

    walk(info)
    nodes: dict[str, int] = defaultdict(int)
    for op in graph.get_operations():
        nodes[op.type] += 1
    return info.total_float_ops, dict(by_type), dict(nodes)


def op_view_rows(model, batch: int | None) -> list[tuple[str, int]]:
    """The top-level rows of the `op` view's returned proto, as a script iterating
    `.children` sees them: the rows nest, each total including the rows after it."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = tf.TensorSpec([batch, *model.inputs[0].shape[1:]], tf.float32)
    graph = convert_variables_to_constants_v2(
        tf.function(lambda x: model(x)).get_concrete_function(spec)).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    info = tf.compat.v1.profiler.profile(graph=graph, run_meta=tf.compat.v1.RunMetadata(),
                                         cmd="op", options=options)
    return [(child.name, child.total_float_ops) for child in info.children]


def convplan_counts(model) -> dict[str, int]:
    """convplan's MACs by kind and its totals, from the model's JSON (no TensorFlow used)."""
    from convplan import analyze, load

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.json"
        path.write_text(model.to_json())
        analysis = analyze(load(path))
    kinds: dict[str, int] = defaultdict(int)
    for layer in analysis.layers:
        kinds[layer.op] += layer.macs
    return {"Conv2D MACs": kinds["Conv2D"], "DepthwiseConv2D MACs": kinds["DepthwiseConv2D"],
            "Dense MACs": kinds["Dense"], "MACs": analysis.totals.macs,
            "FLOPs": analysis.totals.flops}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=FIVE)
    parser.add_argument("--batch", default="1", help="batch size to trace with, or 'none'")
    args = parser.parse_args()
    batch = None if args.batch == "none" else int(args.batch)
    import keras

    for name in args.models:
        model = getattr(keras.applications, name)(weights=None)
        total, by_type, nodes = profile_by_op_type(model, batch)
        ours = convplan_counts(model)
        print(f"== {name} (input {tuple(model.inputs[0].shape[1:])}, batch {args.batch})")
        print(f"  profiler float_operation total: {total:,}")
        for op_type, flops in sorted(by_type.items(), key=lambda kv: -kv[1]):
            print(f"    {op_type:24s} {flops:>16,}  ({nodes.get(op_type, 0)} nodes)")
        missing = [t for t in MAC_OPS if nodes.get(t) and not by_type.get(t)]
        if missing:
            print("    counted nothing for: " + ", ".join(
                f"{t} ({nodes[t]} nodes)" for t in missing))
        print(f"  op view, top-level rows of the returned proto: {op_view_rows(model, batch)}")
        for key, value in ours.items():
            print(f"  convplan {key:22s} {value:>16,}")
        print(f"  convplan 2 x MACs              {2 * ours['MACs']:>16,}")
        keras.backend.clear_session()


if __name__ == "__main__":
    main()
