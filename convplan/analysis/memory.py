"""Activation and training-memory estimates.

Training memory for a batch B (bytes), stated as an estimate in every report:
    weights    = params x weight bytes
    gradients  = trainable params x weight bytes
    optimizer  = slots per trainable param (Adam 2, SGD with momentum 1, ...) x weight bytes
    activations = B x (every layer's output elements, the inputs included) x compute bytes,
                  i.e. every output kept for the backward pass, as Keras does without
                  rematerialization; fused kernels may keep less.
Mixed precision computes in 16 bits but keeps float32 variables (Keras's mixed policies); the
bytes per dtype and slots per optimizer are convplan.options.DTYPES and OPTIMIZER_SLOTS.
"""

from __future__ import annotations

from dataclasses import dataclass

from convplan.analysis.arith import Value
from convplan.errors import UsageError
from convplan.options import DTYPES, OPTIMIZER_SLOTS


@dataclass(frozen=True)
class TrainingMemory:
    batch: Value
    dtype: str
    optimizer: str
    weights: Value
    gradients: Value
    optimizer_slots: Value
    activations: Value

    @property
    def total(self) -> Value:
        return self.weights + self.gradients + self.optimizer_slots + self.activations


def dtype_bytes(dtype: str) -> tuple[int, int]:
    if dtype not in DTYPES:
        raise UsageError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def estimate_training_memory(params: Value, trainable: Value, activation_elements: Value,
                             batch: Value, dtype: str = "float32",
                             optimizer: str = "adam") -> TrainingMemory:
    compute, variable = dtype_bytes(dtype)
    if optimizer not in OPTIMIZER_SLOTS:
        raise UsageError(f"unknown optimizer {optimizer!r}; expected one of "
                         + ", ".join(OPTIMIZER_SLOTS))
    return TrainingMemory(
        batch=batch, dtype=dtype, optimizer=optimizer,
        weights=params * variable,
        gradients=trainable * variable,
        optimizer_slots=OPTIMIZER_SLOTS[optimizer] * trainable * variable,
        activations=batch * activation_elements * compute,
    )
