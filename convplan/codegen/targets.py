"""Where a generated project is meant to train, and the defaults that follow from it.

The strategy itself is chosen when `train.py` runs (TPU address given, `TF_CONFIG` set, several
GPUs, one GPU, or none), so every project trains anywhere; the target sets the defaults that
matter there and what the README leads with:
- XLA and mixed precision are switched on at run time when a GPU or TPU is present
  (REFERENCE.md: `jit_compile="auto"` resolves to False under a strategy, and XLA was slower
  on this CPU), float16 on GPU, bfloat16 on TPU;
- `drop_remainder` where shapes must stay static (TPU always; XLA on GPU recompiles for a
  short last batch);
- `steps_per_execution` around 50 on TPU to amortize host round trips, a few on GPU;
- the per-replica batch: a multiple of 8 for tensor cores, 128 per TPU core.
"""

from __future__ import annotations

from dataclasses import dataclass

from convplan.errors import UsageError


@dataclass(frozen=True)
class Target:
    name: str
    title: str
    batch_size: int  # per replica
    steps_per_execution: int
    drop_remainder: bool
    tpu_default: str  # the --tpu default: "none", or "auto" to look for a TPU from the env
    summary: str


TARGETS: dict[str, Target] = {
    "cpu": Target("cpu", "CPU", 64, 1, False, "none",
                  "one machine, no accelerator: the default strategy, float32, no XLA"),
    "gpu": Target("gpu", "One GPU", 128, 8, True, "none",
                  "one GPU: mixed_float16 with a float32 output layer, XLA (jit_compile=True)"),
    "multi-gpu": Target("multi-gpu", "Several GPUs on one machine", 128, 8, True, "none",
                        "MirroredStrategy over every local GPU, mixed_float16, XLA; the global "
                        "batch is the per-replica batch times the number of GPUs"),
    "multi-worker": Target("multi-worker", "Several machines", 64, 1, True, "none",
                           "MultiWorkerMirroredStrategy configured by TF_CONFIG; each worker "
                           "backs up to its own folder and BackupAndRestore resumes after a "
                           "lost worker"),
    "tpu": Target("tpu", "Cloud TPU", 128, 50, True, "auto",
                  "TPUStrategy, mixed_bfloat16 with a float32 output layer, static shapes "
                  "(drop_remainder), 50 steps per execution"),
}


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise UsageError(f"unknown target {name!r}; expected one of {', '.join(TARGETS)}")
    return TARGETS[name]
