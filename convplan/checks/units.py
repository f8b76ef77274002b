"""Budget quantities as people write them: `25M` params, `4.1G` MACs, `16GiB` of memory.

Counts take decimal suffixes K, M, G, T (10^3 ...). Bytes take B, KB/MB/GB/TB (decimal) and
KiB/MiB/GiB/TiB (binary). Plain numbers are taken as they are.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

COUNT_SUFFIXES = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
BYTE_SUFFIXES = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
                 "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")


def parse_quantity(value: Any, suffixes: dict[str, int]) -> int | None:
    """'25M' -> 25000000; 1e6 -> 1000000; None for anything malformed or negative."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if value >= 0 and value.is_integer() else None
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value.replace("_", "").replace(",", ""))
    if not match or match.group(2).upper() not in suffixes:
        return None
    return int(Fraction(match.group(1)) * suffixes[match.group(2).upper()])


def format_count(value: int | float) -> str:
    """12345678 -> '12.35 M' (decimal suffixes, as budgets are written)."""
    for suffix, scale in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {suffix}"
    return f"{value:,}" if isinstance(value, int) else f"{value:.2f}"


def format_bytes(value: int | float) -> str:
    """1536 -> '1.50 KiB' (binary units, as memory is sold)."""
    for suffix, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {suffix}"
    return f"{int(value)} B"
