"""Build a Keras model and count its FLOPs with TensorFlow's profiler, as a new user would
(freeze the concrete function, profile `float_operation`). Used by the benchmarks as the
obvious alternative to convplan.

    python benchmarks/tf_profile.py resnet50 [SIZE]
    python benchmarks/tf_profile.py spec examples/seed_cnn.yaml
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def profile_flops(model) -> int:
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = [tf.TensorSpec([1, *i.shape[1:]], i.dtype) for i in model.inputs]
    concrete = tf.function(lambda *x: model(list(x) if len(x) > 1 else x[0])).get_concrete_function(
        *spec)
    frozen = convert_variables_to_constants_v2(concrete)
    opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    opts["output"] = "none"
    info = tf.compat.v1.profiler.profile(graph=frozen.graph, run_meta=tf.compat.v1.RunMetadata(),
                                         cmd="op", options=opts)
    return info.total_float_ops


def main() -> None:
    start = time.perf_counter()
    import keras

    if sys.argv[1] == "resnet50":
        size = int(sys.argv[2]) if len(sys.argv) > 2 else 224
        model = keras.applications.ResNet50(weights=None, input_shape=(size, size, 3))
    else:
        import convplan
        from convplan.verify.keras_build import build_keras_model

        model = build_keras_model(convplan.load(sys.argv[2]))
    flops = profile_flops(model)
    print(f"tf_profiler_flops={flops} params={model.count_params()} "
          f"seconds={time.perf_counter() - start:.2f}")


if __name__ == "__main__":
    main()
