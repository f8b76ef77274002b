"""`convplan calibrate`: this machine's attainable rates, measured with numpy in seconds.

- matmul: float32 `a @ b` of two n x n matrices (2 n^3 FLOPs), the best of repeated runs;
  what the BLAS numpy links attains on every core, the `float32` peak of the entry.
- convolution-like: the GEMM a 3x3 convolution of 56x56x64 -> 64 lowers to (im2col: 3136
  rows, 576 = 3*3*64 deep, 64 wide), tall and narrow as convolutions are; kept as
  `extra["conv_flops"]` (the time model uses the matmul rate).
- bandwidth: `numpy.copyto` of a large float32 array (well beyond the caches) into another,
  2 x its bytes moved (read and written), the best of repeated runs.

Each measurement repeats until its share of `seconds` is spent (at least 3 runs) and keeps
the fastest: noise on a shared machine only ever slows a run down. numpy is imported only here.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from convplan.devices import LOCAL, Device, device_to_json, devices_file, user_devices


@dataclass(frozen=True)
class Sizes:
    matmul_n: int = 1024
    copy_bytes: int = 64 * 2**20
    conv_rows: int = 56 * 56

    @staticmethod
    def quick() -> Sizes:
        """Small enough for a test (well under a second), too small to be accurate."""
        return Sizes(256, 8 * 2**20, 28 * 28)


def _best_seconds(run: Callable[[], object], budget: float, at_least: int = 3) -> float:
    run()  # warm up (page faults, BLAS threads)
    best = float("inf")
    start = time.perf_counter()
    done = 0
    while done < at_least or time.perf_counter() - start < budget:
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
        done += 1
    return best


def measure(seconds: float = 3.0, sizes: Sizes | None = None) -> dict[str, float]:
    """{"matmul_flops", "conv_flops", "bandwidth"} per second, and the sizes used."""
    import numpy as np

    sizes = sizes or Sizes()
    rng = np.random.default_rng(0)
    n = sizes.matmul_n
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    matmul = 2 * n**3 / _best_seconds(lambda: a @ b, seconds * 0.4)

    cols = rng.standard_normal((sizes.conv_rows, 9 * 64), dtype=np.float32)
    kernel = rng.standard_normal((9 * 64, 64), dtype=np.float32)
    conv = 2 * sizes.conv_rows * 9 * 64 * 64 / _best_seconds(lambda: cols @ kernel,
                                                             seconds * 0.2)

    src = np.ones(sizes.copy_bytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    bandwidth = 2 * src.nbytes / _best_seconds(lambda: np.copyto(dst, src), seconds * 0.4)
    return {"matmul_flops": matmul, "conv_flops": conv, "bandwidth": bandwidth,
            "matmul_n": float(n), "copy_bytes": float(sizes.copy_bytes)}


def _memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 0


def local_device(rates: dict[str, float], name: str = LOCAL) -> Device:
    import numpy as np

    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cores = os.cpu_count() or 1
    return Device(
        name, f"this machine ({platform.machine()}, {cores} cores), measured", _memory_bytes(),
        {"float32": rates["matmul_flops"]}, rates["bandwidth"],
        f"measured by `convplan calibrate` on {when} (numpy {np.__version__}: float32 matmul "
        f"n={int(rates['matmul_n'])}, copy of {int(rates['copy_bytes']) >> 20} MiB)",
        kind="cpu", units=cores, measured=True,
        extra={k: v for k, v in rates.items() if k not in ("matmul_flops", "bandwidth")})


def write_entry(entry: Device, path: Path | None = None) -> Path:
    """Replace (or add) `entry` in the devices file, atomically; other entries are kept."""
    path = path or devices_file()
    kept = [device_to_json(d) for key, d in user_devices(path).items() if key != entry.name]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"devices": [*kept, device_to_json(entry)]}, indent=2) + "\n")
    tmp.replace(path)
    return path
