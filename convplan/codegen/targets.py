"""Where a generated project is meant to train, and the defaults that follow from it.

The strategy (TensorFlow) or distribution (JAX) is chosen when `train.py` runs, so every
project trains anywhere; the target sets the defaults that matter there, the requirements and
what the README leads with. What Keras 3.15 can take, looked up in its source and issues:
- XLA: `jit_compile="auto"` resolves to False under any tf.distribute strategy, because XLA
  fails there (keras-team/keras#19005: variables of replica 1 read from replica 0's device);
  TPUStrategy compiles with XLA by itself. So XLA is on for TensorFlow on one GPU only (no
  strategy scope), always on for JAX (its trainer jit-compiles every step), off for PyTorch
  (`torch.compile` on request) and on a CPU (slower there, REFERENCE.md);
- `steps_per_execution` > 1 fails under MirroredStrategy (keras-team/keras#19246) and must be
  1 with PyTorch (Keras raises); elsewhere the target's value applies: about 50 on TPU to
  amortize host round trips, a few on GPU;
- `drop_remainder` where shapes must stay static (TPU always; XLA on GPU recompiles for a short
  last batch); validation is padded to whole batches with zero-weight examples instead;
- the per-replica batch: a multiple of 8 for tensor cores, 128 per TPU core.
"""

from __future__ import annotations

from dataclasses import dataclass

from convplan.errors import UsageError

TENSORFLOW_TESTED = ">=2.21,<2.22"
KERAS_TESTED = ">=3.15.1,<3.16"  # train.py patches MultiWorkerMirroredStrategy.reduce for 3.15


@dataclass(frozen=True)
class Target:
    name: str
    title: str
    batch_size: int  # per replica
    steps_per_execution: int  # where the backend and strategy take it (module doc)
    drop_remainder: bool
    tpu_default: str  # the --tpu default: "none", or "auto" to look for a TPU
    summary: str
    backend: str  # the Keras backend this target prefers
    backend_reason: str
    tensorflow_requirement: str | None  # None: leave the machine's build alone (TPU VMs)

    @property
    def requirements(self) -> tuple[str, ...]:
        """requirements.txt's package lines, backend first."""
        backend = () if self.tensorflow_requirement is None else (self.tensorflow_requirement,)
        return (*backend, f"keras{KERAS_TESTED}", "numpy>=1.26", "pillow>=10",
                "tensorboard>=2.16", "matplotlib>=3.7", "pytest>=8")


TARGETS: dict[str, Target] = {
    "cpu": Target(
        "cpu", "CPU", 64, 1, False, "none",
        "one machine, no accelerator: float32, no XLA",
        "tensorflow", "oneDNN's CPU kernels and tf.data's parallel decoding were the fastest on "
        "a CPU; JAX and PyTorch train the same project",
        f"tensorflow{TENSORFLOW_TESTED}"),
    "gpu": Target(
        "gpu", "One GPU", 128, 8, True, "none",
        "one GPU: mixed_float16 (compute capability 7.0 or later) with a float32 output "
        "layer, XLA, 8 steps per execution",
        "tensorflow", "XLA, tf.data and 8 steps per execution all work on one GPU (no strategy "
        "scope); JAX is as good a choice (pip install jax[cuda12], KERAS_BACKEND=jax)",
        f"tensorflow[and-cuda]{TENSORFLOW_TESTED}"),
    "multi-gpu": Target(
        "multi-gpu", "Several GPUs on one machine", 128, 8, True, "none",
        "data parallel over every local GPU, mixed_float16; the global batch is the "
        "per-replica batch times the number of GPUs",
        "jax", "keras.distribution.DataParallel compiles one XLA program over all GPUs with 8 "
        "steps per execution, while Keras 3 must run TensorFlow's MirroredStrategy without "
        "XLA and one step per execution (keras-team/keras#19005, #19246)",
        f"tensorflow[and-cuda]{TENSORFLOW_TESTED}"),
    "multi-worker": Target(
        "multi-worker", "Several machines", 64, 1, True, "none",
        "MultiWorkerMirroredStrategy configured by TF_CONFIG; image folders are sharded by "
        "file; each worker backs up to its own folder and BackupAndRestore resumes after a "
        "lost worker",
        "tensorflow", "MultiWorkerMirroredStrategy with TF_CONFIG is what the project's tests "
        "kill and resume; JAX's multi-process set-up (keras.distribution.initialize) is not "
        "tested here",
        f"tensorflow{TENSORFLOW_TESTED}"),
    "tpu": Target(
        "tpu", "Cloud TPU", 128, 50, True, "auto",
        "mixed_bfloat16 with a float32 output layer, static shapes (drop_remainder, validation "
        "padded), 50 steps per execution",
        "jax", "Keras's own path on TPU VMs: keras.distribution over the TPU cores, with the "
        "JAX the TPU VM image provides; TensorFlow's TPUStrategy works with tensorflow-tpu",
        None),
}


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise UsageError(f"unknown target {name!r}; expected one of {', '.join(TARGETS)}")
    return TARGETS[name]
