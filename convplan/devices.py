"""Accelerators convplan knows (`solve --device`, `analyze --device`, the time model): memory
capacity, bandwidth and peak rates per dtype, each with the page its numbers come from.
Light on purpose (the standard library only), like convplan.options.

- Capacity is the memory as sold, read as binary units: HBM and GDDR capacities are, and
  nvidia-smi reports an "80GB" A100 as 81,920 MiB = 80 GiB, an H100 as 81,559 MiB (79.6 GiB),
  an L4 as 23,034 MiB, a T4 as 15,360 MiB (modal-labs/modal-client#2797). The H200's "141 GB"
  is taken as 141 GiB likewise. What the framework and the driver reserve is `solve --headroom`.
- Rates are dense (no structured sparsity; NVIDIA's datasheets print tensor-core rates with
  sparsity, twice the dense ones, and the dense half is what is listed here), per second.
  `flops["float32"]` is the plain (non-tensor-core) float32 rate; `tf32`, `bfloat16`,
  `float16` and `int8` the tensor-core or MXU rates (int8 in operations per second). A dtype
  a chip has no rate for is absent, and `peak_flops` refuses it.
- TPUs compute float32 matrix products as several bfloat16 passes (XLA's HIGHEST precision:
  6 passes); float32 is listed as 1/8 of the bfloat16 rate, an assumption, not a datasheet
  figure. TPUs have no float16 or tf32 rate.
- `cpu-local` is no entry here: `convplan calibrate` measures this machine and writes it to
  a user file (`devices_file()`: $CONVPLAN_DEVICES, else ~/.config/convplan/devices.json),
  which `device()` reads.

None of the GPU and TPU entries has been measured by convplan (docs/time.md).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convplan.errors import UsageError

GIB = 2**30
TERA = 10**12
GIGA = 10**9

# dtype names the time model takes -> the rate they run at; Keras's mixed policies compute
# in their 16-bit type
PEAK_DTYPES = ("float32", "tf32", "bfloat16", "float16", "int8")
_POLICY_RATE = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


@dataclass(frozen=True)
class Device:
    name: str
    description: str
    memory: int  # bytes (binary capacity, see the module docstring)
    flops: dict[str, float]  # dtype -> dense peak per second
    bandwidth: float  # memory bytes per second
    source: str
    kind: str = "gpu"  # "gpu", "tpu" or "cpu": which quantization its kernels pay
    units: int = 1  # streaming multiprocessors (GPU) or cores (CPU): the waves of tiles
    lanes: int = 128  # TPU: MXU width that channel counts are padded to
    measured: bool = False  # True only for an entry `convplan calibrate` wrote
    extra: dict[str, float] = field(default_factory=dict)  # calibrate's other rates

    @property
    def bf16_flops(self) -> float:
        """The 16-bit tensor-core or MXU peak (float16 where the chip has no bfloat16)."""
        return self.flops.get("bfloat16", self.flops.get("float16", self.flops["float32"]))

    @property
    def fp32_flops(self) -> float:
        return self.flops["float32"]

    def peak_flops(self, dtype: str) -> float:
        """Dense peak FLOP/s for `dtype` (float32, tf32, bfloat16, float16, int8, or a Keras
        policy: mixed_bfloat16 -> bfloat16); a dtype the chip lacks is a UsageError."""
        rate = _POLICY_RATE.get(dtype, dtype)
        if rate not in self.flops:
            have = ", ".join(self.flops)
            raise UsageError(f"device {self.name!r} has no {dtype} rate; it has {have}")
        return self.flops[rate]


def _gpu(name: str, description: str, memory_gib: int, fp32: float, tf32: float | None,
         bf16: float | None, fp16: float, int8: float | None, bandwidth_gbs: float, sms: int,
         source: str) -> Device:
    rates = {"float32": fp32, "tf32": tf32, "bfloat16": bf16, "float16": fp16, "int8": int8}
    return Device(name, description, memory_gib * GIB,
                  {k: v * TERA for k, v in rates.items() if v is not None},
                  bandwidth_gbs * GIGA, source, "gpu", sms)


def _tpu(name: str, description: str, memory_gib: int, bf16: float, int8: float | None,
         bandwidth_gbs: float, source: str, lanes: int = 128) -> Device:
    rates = {"float32": bf16 / 8, "bfloat16": bf16, "int8": int8}
    return Device(name, description, memory_gib * GIB,
                  {k: v * TERA for k, v in rates.items() if v is not None},
                  bandwidth_gbs * GIGA, source, "tpu", 1, lanes)


_NV = "https://www.nvidia.com/en-us/data-center/"
DEVICES: dict[str, Device] = {d.name: d for d in (
    # fp32, tf32, bf16, fp16, int8 (TFLOP/s or TOP/s, dense), bandwidth GB/s, SMs
    _gpu("h100", "NVIDIA H100 SXM5 80GB", 80, 67, 494.5, 989.5, 989.5, 1979, 3350, 132,
         _NV + "h100/ (datasheet: H100 SXM; tensor rates halved from the sparse figures)"),
    _gpu("h200", "NVIDIA H200 SXM 141GB", 141, 67, 494.5, 989.5, 989.5, 1979, 4800, 132,
         _NV + "h200/ (datasheet: H200 SXM; tensor rates halved from the sparse figures)"),
    _gpu("a100-80gb", "NVIDIA A100 SXM 80GB", 80, 19.5, 156, 312, 312, 624, 2039, 108,
         _NV + "a100/ (datasheet: A100 80GB SXM; dense tensor rates)"),
    _gpu("a100-40gb", "NVIDIA A100 SXM 40GB", 40, 19.5, 156, 312, 312, 624, 1555, 108,
         _NV + "a100/ (datasheet: A100 40GB SXM; dense tensor rates)"),
    _gpu("v100-32gb", "NVIDIA V100 SXM2 32GB", 32, 15.7, None, None, 125, None, 900, 80,
         _NV + "v100/ (datasheet: V100 SXM2; fp16 tensor; no int8 tensor rate listed)"),
    _gpu("v100-16gb", "NVIDIA V100 SXM2 16GB", 16, 15.7, None, None, 125, None, 900, 80,
         _NV + "v100/ (datasheet: V100 SXM2; fp16 tensor; no int8 tensor rate listed)"),
    _gpu("l4", "NVIDIA L4 24GB", 24, 30.3, 60, 121, 121, 242.5, 300, 58,
         _NV + "l4/ (datasheet: tensor rates halved from the sparse figures)"),
    _gpu("t4", "NVIDIA T4 16GB", 16, 8.1, None, None, 65, 130, 320, 40,
         "https://www.nvidia.com/en-us/data-center/tesla-t4/ (datasheet: mixed FP16/FP32, "
         "INT8; no bfloat16 or tf32)"),
    _tpu("tpu-v4", "Google Cloud TPU v4 (one chip)", 32, 275, 275, 1200,
         "https://cloud.google.com/tpu/docs/v4 (system architecture: 275 TFLOP/s bf16 or "
         "int8 per chip, 32 GiB, 1200 GBps)"),
    _tpu("tpu-v5e", "Google Cloud TPU v5e (one chip)", 16, 197, 393, 819,
         "https://cloud.google.com/tpu/docs/v5e (system architecture: per chip, 16 GB, 819 "
         "GBps)"),
    _tpu("tpu-v5p", "Google Cloud TPU v5p (one chip)", 95, 459, None, 2765,
         "https://cloud.google.com/tpu/docs/v5p (system architecture: per chip, 95 GB, 2765 "
         "GBps; no int8 rate on that page)"),
    _tpu("tpu-v6e", "Google Cloud TPU v6e Trillium (one chip)", 32, 918, 1836, 1638,
         "https://cloud.google.com/tpu/docs/v6e (system architecture: per chip, 32 GB, 1638 "
         "GBps; two 256x256 MXUs)", lanes=256),
)}

LOCAL = "cpu-local"


def devices_file() -> Path:
    """Where `convplan calibrate` writes and `device()` reads measured entries:
    $CONVPLAN_DEVICES, else ~/.config/convplan/devices.json."""
    env = os.environ.get("CONVPLAN_DEVICES")
    return Path(env) if env else Path.home() / ".config" / "convplan" / "devices.json"


def device_from_json(entry: dict[str, Any]) -> Device:
    """An entry of the devices file (what `device_to_json` wrote)."""
    try:
        return Device(str(entry["name"]), str(entry["description"]), int(entry["memory"]),
                      {str(k): float(v) for k, v in dict(entry["flops"]).items()},
                      float(entry["bandwidth"]), str(entry["source"]),
                      str(entry.get("kind", "cpu")), int(entry.get("units", 1)),
                      measured=bool(entry.get("measured", True)),
                      extra={str(k): float(v) for k, v in dict(entry.get("extra", {})).items()})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(f"devices file entry {entry.get('name', '?')!r} is malformed "
                         f"({exc}); run `convplan calibrate` again") from exc


def device_to_json(d: Device) -> dict[str, object]:
    return {"name": d.name, "description": d.description, "memory": d.memory,
            "flops": d.flops, "bandwidth": d.bandwidth, "source": d.source, "kind": d.kind,
            "units": d.units, "measured": d.measured, "extra": d.extra}


def user_devices(path: Path | None = None) -> dict[str, Device]:
    """The measured entries in the devices file (none where it does not exist)."""
    path = path or devices_file()
    if not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text())
        entries = list(document["devices"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is no devices file ({exc}); run `convplan calibrate` "
                         "again") from exc
    found = (device_from_json(e if isinstance(e, dict) else {}) for e in entries)
    return {d.name.lower(): d for d in found}


def device(name: str) -> Device:
    """'h100' -> its entry; 'cpu-local' from the devices file; an unknown name is one line
    naming the choices."""
    key = name.strip().lower()
    if key in DEVICES:
        return DEVICES[key]
    local = user_devices()
    if key in local:
        return local[key]
    if key == LOCAL:
        raise UsageError(f"no {LOCAL!r} entry in {devices_file()}; run `convplan calibrate` "
                         "first")
    names = [*DEVICES, *(k for k in local if k not in DEVICES)]
    names += [] if LOCAL in names else [LOCAL]
    raise UsageError(f"unknown device {name!r}; expected one of {', '.join(names)}")
