"""Accelerators `convplan solve --device` knows: memory capacity and peak rates, each with the
page its numbers come from (the vendor's datasheet). Light on purpose (the standard library
only), like convplan.options.

Capacity is the memory as sold (HBM and GDDR capacities are binary: an "80GB" H100 holds
80 GiB); what the framework and the driver reserve is `solve --headroom`. Rates are dense
(no structured sparsity): `bf16_flops` is the 16-bit tensor-core or MXU peak (fp16 where the
chip has no bf16), `fp32_flops` the plain float32 peak, `bandwidth` bytes per second.
"""

from __future__ import annotations

from dataclasses import dataclass

from convplan.errors import UsageError

GIB = 2**30
TERA = 10**12


@dataclass(frozen=True)
class Device:
    name: str
    description: str
    memory: int  # bytes
    bf16_flops: float  # per second, dense
    fp32_flops: float
    bandwidth: float  # memory bytes per second
    source: str


DEVICES: dict[str, Device] = {d.name: d for d in (
    Device("h100", "NVIDIA H100 SXM5 80GB", 80 * GIB, 989 * TERA, 67 * TERA, 3.35 * TERA,
           "https://www.nvidia.com/en-us/data-center/h100/ (datasheet: H100 SXM)"),
    Device("h200", "NVIDIA H200 SXM 141GB", 141 * 10**9, 989 * TERA, 67 * TERA, 4.8 * TERA,
           "https://www.nvidia.com/en-us/data-center/h200/ (datasheet: H200 SXM)"),
    Device("a100-80gb", "NVIDIA A100 SXM 80GB", 80 * GIB, 312 * TERA, 19.5 * TERA,
           2.039 * TERA, "https://www.nvidia.com/en-us/data-center/a100/ (datasheet: A100 "
           "80GB SXM)"),
    Device("a100-40gb", "NVIDIA A100 SXM 40GB", 40 * GIB, 312 * TERA, 19.5 * TERA,
           1.555 * TERA, "https://www.nvidia.com/en-us/data-center/a100/ (datasheet: A100 "
           "40GB SXM)"),
    Device("v100-32gb", "NVIDIA V100 SXM2 32GB", 32 * GIB, 125 * TERA, 15.7 * TERA,
           0.9 * TERA, "https://www.nvidia.com/en-us/data-center/v100/ (datasheet: V100 SXM2, "
           "fp16 tensor)"),
    Device("v100-16gb", "NVIDIA V100 SXM2 16GB", 16 * GIB, 125 * TERA, 15.7 * TERA,
           0.9 * TERA, "https://www.nvidia.com/en-us/data-center/v100/ (datasheet: V100 SXM2, "
           "fp16 tensor)"),
    Device("l4", "NVIDIA L4 24GB", 24 * GIB, 121 * TERA, 30.3 * TERA, 0.3 * TERA,
           "https://www.nvidia.com/en-us/data-center/l4/ (datasheet: FP16 tensor, dense)"),
    Device("t4", "NVIDIA T4 16GB", 16 * GIB, 65 * TERA, 8.1 * TERA, 0.32 * TERA,
           "https://www.nvidia.com/en-us/data-center/tesla-t4/ (datasheet: mixed FP16/FP32)"),
    Device("tpu-v4", "Google Cloud TPU v4 (one chip)", 32 * GIB, 275 * TERA, 275 * TERA / 8,
           1.2 * TERA, "https://cloud.google.com/tpu/docs/v4 (system architecture: per chip; "
           "fp32 runs as multi-pass bf16, taken as 1/8)"),
    Device("tpu-v5e", "Google Cloud TPU v5e (one chip)", 16 * GIB, 197 * TERA, 197 * TERA / 8,
           0.819 * TERA, "https://cloud.google.com/tpu/docs/v5e (system architecture: per "
           "chip; fp32 taken as 1/8 of bf16)"),
)}


def device(name: str) -> Device:
    """'h100' -> its entry; an unknown name is one line naming the choices."""
    key = name.strip().lower()
    if key not in DEVICES:
        raise UsageError(f"unknown device {name!r}; expected one of {', '.join(DEVICES)}")
    return DEVICES[key]
