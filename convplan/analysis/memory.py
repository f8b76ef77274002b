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
from convplan.options import OPTIMIZER_SLOTS, dtype_bytes, optimizer_slots

# OPTIMIZER_SLOTS and dtype_bytes live in convplan.options; explore/sweep.py still imports them here
__all__ = ["OPTIMIZER_SLOTS", "TrainingMemory", "dtype_bytes", "estimate_training_memory"]


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


def estimate_training_memory(params: Value, trainable: Value, activation_elements: Value,
                             batch: Value, dtype: str = "float32",
                             optimizer: str = "adam") -> TrainingMemory:
    compute, variable = dtype_bytes(dtype)
    return TrainingMemory(
        batch=batch, dtype=dtype, optimizer=optimizer,
        weights=params * variable,
        gradients=trainable * variable,
        optimizer_slots=optimizer_slots(optimizer) * trainable * variable,
        activations=batch * activation_elements * compute,
    )
