"""Options the library and the CLI share, and quantities as people write and read them.

Light on purpose (the standard library only): the CLI builds its choices from this module at
start-up, so `convplan --help` never pays for sympy or numpy.

Quantities are written as a number (`64`, `0.5`, `1e9`, `1_000`) with an optional prefix,
decimal K/M/G/T = 10^3/10^6/10^9/10^12 or binary Ki/Mi/Gi/Ti = 2^10/2^20/2^30/2^40, optionally
followed by B (`500M`, `2GiB`, `16 GB`), in any case. A spelling means the same number wherever
it is accepted; counts refuse binary prefixes and B, sizes in bytes refuse a bare decimal
prefix (is `25M` MB or MiB?).

Counts are printed with three significant digits and a decimal prefix (`4.24M`), bytes with a
binary one (`200 KiB`), in every report and message.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Literal

from convplan.errors import UsageError

# dtype -> (compute bytes, variable bytes); the mixed policies compute in 16 bits and keep
# float32 variables, as Keras's do
DTYPES: dict[str, tuple[int, int]] = {
    "float32": (4, 4),
    "float16": (2, 2),
    "bfloat16": (2, 2),
    "float64": (8, 8),
    "mixed_float16": (2, 4),
    "mixed_bfloat16": (2, 4),
}

# optimizer -> slots kept per trainable parameter (Adam: first and second moments)
OPTIMIZER_SLOTS: dict[str, int] = {
    "sgd": 0,
    "momentum": 1,
    "rmsprop": 1,
    "adagrad": 1,
    "lion": 1,
    "adam": 2,
    "adamw": 2,
    "nadam": 2,
    "adamax": 2,
    "adadelta": 2,
    "ftrl": 2,
}



def dtype_bytes(dtype: str) -> tuple[int, int]:
    """'mixed_float16' -> (2, 4): the bytes of a computed value and of a variable."""
    if dtype not in DTYPES:
        raise UsageError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    return DTYPES[dtype]


def optimizer_slots(optimizer: str) -> int:
    """'adam' -> 2: the values the optimizer keeps per trainable parameter."""
    if optimizer not in OPTIMIZER_SLOTS:
        raise UsageError(f"unknown optimizer {optimizer!r}; expected one of "
                         + ", ".join(OPTIMIZER_SLOTS))
    return OPTIMIZER_SLOTS[optimizer]


# how the memory model treats elementwise layers (convplan.analysis.memory)
MEMORY_CONVENTIONS = ("fused", "eager", "xla-cpu")

# output formats, per command
ANALYZE_FORMATS = ("table", "json", "markdown", "html", "latex")
ANALYZE_EXTENSIONS = {".json": "json", ".md": "markdown", ".markdown": "markdown",
                      ".html": "html", ".htm": "html", ".txt": "table",
                      ".tex": "latex"}  # -o's extension
SWEEP_FORMATS = ("table", "json", "csv")
SOLVE_FORMATS = ("table", "json")
CHECK_FORMATS = ("text", "json", "github", "sarif")
RULES_FORMATS = ("text", "json", "markdown")
PLOT_KINDS = ("diagram", "rf", "cost", "scaling", "roofline", "all")
CHECK_TARGETS = ("cpu", "gpu", "tpu")  # hardware `convplan check` fits a design to
PICTURE_FORMATS = {".svg": "svg", ".png": "png"}  # extension -> matplotlib format

# how reports state the two formats (their conventions section)
NUMBER_PREFIXES = "K/M/G/T = 10^3/10^6/10^9/10^12 (3 significant digits)"
BYTE_PREFIXES = "KiB/MiB/GiB = 2^10/2^20/2^30 bytes"

Unit = Literal["count", "bytes", "any"]

_POWERS = {"K": 1, "M": 2, "G": 3, "T": 4}
# exponents up to 999: 1e999 is already absurd, and 1e99999999 would take minutes to expand
_QUANTITY = re.compile(r"(\d+(?:\.\d*)?(?:e[+-]?\d{1,3})?)\s*(?:([KMGT])(i)?)?(B)?",
                       re.IGNORECASE)


def parse_quantity(value: object, unit: Unit = "any") -> int | float | None:
    """'25M' -> 25000000, '1e9' -> 1000000000, '2GiB' -> 2147483648, '0.5' -> 0.5, and numbers
    (from YAML or TOML) as they are; an int where the value is whole.

    None for anything else: negative, not finite, malformed, or a spelling `unit` refuses
    ('count': a binary prefix or B; 'bytes': a decimal prefix without B)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return _whole_or_float(Fraction(value)) if math.isfinite(value) and value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _QUANTITY.fullmatch(value.replace("_", "").replace(",", "").strip())
    if match is None:
        return None
    number, prefix, binary, byte = match.groups()
    if unit == "count" and (binary or byte):
        return None
    if unit == "bytes" and prefix and not (binary or byte):
        return None
    power = _POWERS[prefix.upper()] if prefix else 0
    scale = 2 ** (10 * power) if binary else 10 ** (3 * power)
    try:
        return _whole_or_float(Fraction(number) * scale)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        return None


def _whole_or_float(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


_DECIMAL = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))
_BINARY = ((2**40, " TiB"), (2**30, " GiB"), (2**20, " MiB"), (2**10, " KiB"))


def _with_prefix(value: int | float, prefixes: tuple[tuple[float, str], ...]) -> str | None:
    """Three significant digits with the largest prefix the value reaches; a mantissa that
    rounds past three digits (999,600 -> '1e+03K') takes the next prefix up ('1M')."""
    for i, (factor, prefix) in enumerate(prefixes):
        if abs(value) >= factor:
            text = f"{value / factor:.3g}"
            if "e" in text and i > 0:
                factor, prefix = prefixes[i - 1]
                text = f"{value / factor:.3g}"
            return text + prefix
    return None


def format_count(value: int | float, unit: str = "") -> str:
    """4241152 -> '4.24M', 18496 -> '18.5K', 999 -> '999': three significant digits with a
    decimal prefix from 1000 on."""
    text = _with_prefix(value, _DECIMAL)
    if text is not None:
        return text + unit
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def format_bytes(value: int | float) -> str:
    """204392 -> '200 KiB', 1023 -> '1023 B': three significant digits with a binary prefix
    from 1 KiB on."""
    text = _with_prefix(value, _BINARY)
    return f"{value} B" if text is None else text
