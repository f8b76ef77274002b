"""Check configuration: defaults < `[tool.convplan]` in pyproject.toml < the spec's `checks:`
section < command-line options.

    checks:
      select: [CP]                 # code prefixes or rule names; replaces the previous layer's
      ignore: [CP404]              # adds to the ignores of earlier layers
      severity: {CP406: warning}   # code or prefix -> error | warning | info
      target: gpu                  # gpu | tpu | cpu: turns on the hardware-fit rules
      port: torch                  # torch | onnx: the Keras-to-PyTorch/ONNX rules (CP5xx)
      dtype: mixed_float16         # compute dtype (memory budgets, tensor-core alignment)
      batch: 64                    # per replica (per TPU core)
      optimizer: adam
      device: h100                 # a convplan/devices.py entry: time and memory fit (CP305-6)
      input_size: [224, 224]       # concrete spatial size for budgets on a symbolic spec
      budgets: {max_params: 25M, max_macs: 4G, max_training_memory: 16GiB,
                min_receptive_field: 200, output_stride: 32}
      max_plain_depth: 10          # CP405
      costly_min_saving: 0.5       # CP406
      costly_min_share: 0.1        # CP406

A code selects a rule when the longest matching prefix among `select` is longer than the
longest among `ignore` (as in ruff).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convplan.checks.registry import SEVERITIES, load_rules
from convplan.errors import ConvplanError, UsageError
from convplan.options import CHECK_TARGETS, DTYPES, OPTIMIZER_SLOTS, Unit, parse_quantity

COUNT_BUDGETS = ("max_params", "max_macs", "max_flops")
BYTE_BUDGETS = ("max_activation_memory", "max_training_memory")
PORTS = ("torch", "onnx")  # `port`: the frameworks a Keras design is checked for moving to
FIELD_BUDGETS = ("min_receptive_field", "max_receptive_field", "output_stride",
                 "max_output_stride")


@dataclass(frozen=True)
class Budgets:
    max_params: int | None = None
    max_macs: int | None = None
    max_flops: int | None = None
    max_activation_memory: int | None = None  # bytes, batch x activations x compute bytes
    max_training_memory: int | None = None  # bytes per replica (weights, grads, slots, acts)
    min_receptive_field: tuple[int, ...] | None = None  # per spatial axis (one value: all)
    max_receptive_field: tuple[int, ...] | None = None
    output_stride: tuple[int, ...] | None = None  # exact
    max_output_stride: tuple[int, ...] | None = None


@dataclass(frozen=True)
class CheckConfig:
    select: tuple[str, ...] = ("CP",)
    ignore: tuple[str, ...] = ()
    severity: tuple[tuple[str, str], ...] = ()  # (code or prefix, level)
    target: str | None = None
    port: str | None = None
    dtype: str = "float32"
    batch: int | None = None
    optimizer: str = "adam"
    device: str | None = None  # a convplan.devices name: CP305, CP306
    input_size: tuple[int, ...] | None = None
    budgets: Budgets = field(default_factory=Budgets)
    max_plain_depth: int = 10
    costly_min_saving: float = 0.5
    costly_min_share: float = 0.1
    exclude: tuple[str, ...] = ()

    def is_enabled(self, code: str) -> bool:
        selected = max((len(p) for p in self.select if code.startswith(p)), default=-1)
        ignored = max((len(p) for p in self.ignore if code.startswith(p)), default=-1)
        return selected > ignored

    def severity_of(self, code: str, default: str) -> str:
        best, level = -1, default
        for prefix, value in self.severity:
            if code.startswith(prefix) and len(prefix) > best:
                best, level = len(prefix), value
        return level


SETTINGS = ("select", "ignore", "severity", "target", "port", "dtype", "batch", "optimizer",
               "input_size", "budgets", "max_plain_depth", "costly_min_saving",
               "costly_min_share", "exclude", "device")


class _Reader:
    """Validates one layer of settings; every error names the source and the key."""

    def __init__(self, source: str, error: type[ConvplanError], line: int | None) -> None:
        self.source, self.error, self.line = source, error, line

    def fail(self, key: str, expected: str, value: Any) -> ConvplanError:
        message = f"{self.source}: {key} must be {expected}, received {value!r}"
        if issubclass(self.error, UsageError):
            return self.error(message)
        return self.error(message, line=self.line)  # type: ignore[call-arg]

    def codes(self, key: str, value: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise self.fail(key, "a list of rule codes (or prefixes such as CP4)", value)
        return tuple(self.code(key, item) for item in items)

    def code(self, key: str, item: str) -> str:
        rules = load_rules()
        text = item.strip()
        if text.upper() == "ALL":
            return "CP"
        if any(code.startswith(text.upper()) for code in rules) and text.upper().startswith("CP"):
            return text.upper()
        for rule in rules.values():
            if rule.name == text.lower():
                return rule.code
        close = difflib.get_close_matches(text, [*rules, *(r.name for r in rules.values())], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise self.fail(key, "rule codes, code prefixes or rule names (see `convplan rules`)"
                        + hint, item)

    def choice(self, key: str, value: Any, choices) -> str:
        if not isinstance(value, str) or value.lower() not in choices:
            raise self.fail(key, "one of " + ", ".join(choices), value)
        return value.lower()

    def device(self, key: str, value: Any) -> str:
        """A device convplan.devices knows (cpu-local where `convplan calibrate` wrote it)."""
        from convplan.devices import DEVICES, LOCAL
        from convplan.devices import device as find

        try:
            return find(value).name if isinstance(value, str) else find("").name
        except UsageError:
            raise self.fail(key, f"one of {', '.join(DEVICES)} or {LOCAL} (after "
                            "`convplan calibrate`)", value) from None

    def integer(self, key: str, value: Any, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"an integer >= {minimum}", value)
        return value

    def fraction(self, key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise self.fail(key, "a number from 0 to 1", value)
        return float(value)

    def sizes(self, key: str, value: Any) -> tuple[int, ...]:
        items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if (not isinstance(items, (list, tuple)) or not 1 <= len(items) <= 3
                or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                           for v in items)):
            raise self.fail(key, "a positive integer or a list of 1 to 3 of them (one per "
                            "spatial axis)", value)
        return tuple(items)

    def severity(self, key: str, value: Any) -> tuple[tuple[str, str], ...]:
        if not isinstance(value, Mapping):
            raise self.fail(key, "a mapping from rule code to error, warning or info", value)
        return tuple((self.code(key, str(code)), self.choice(f"{key}.{code}", level, SEVERITIES))
                     for code, level in value.items())

    def budgets(self, key: str, value: Any, base: Budgets) -> Budgets:
        if not isinstance(value, Mapping):
            raise self.fail(key, "a mapping of budget names to limits", value)
        changes: dict[str, Any] = {}
        for name, limit in value.items():
            name = _key(name)
            where = f"{key}.{name}"
            if name in COUNT_BUDGETS:
                changes[name] = self.quantity(where, limit, "count",
                                              "a count such as 25000000, '25M' or '1e9'")
            elif name in BYTE_BUDGETS:
                changes[name] = self.quantity(where, limit, "bytes",
                                              "a size in bytes such as '16GiB' or '500MB'")
            elif name in FIELD_BUDGETS:
                changes[name] = self.sizes(where, limit)
            else:
                raise self.unknown(where, name, (*COUNT_BUDGETS, *BYTE_BUDGETS, *FIELD_BUDGETS))
        return dataclasses.replace(base, **changes)

    def quantity(self, key: str, value: Any, unit: Unit, expected: str) -> int:
        """A whole number as convplan.options reads quantities ('25M', '1e9', '16GiB')."""
        parsed = parse_quantity(value, unit)
        if not isinstance(parsed, int):  # a budget of half a parameter or byte means a typo
            raise self.fail(key, expected, value)
        return parsed

    def globs(self, key: str, value: Any) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise self.fail(key, "a list of glob patterns", value)
        return tuple(items)

    def unknown(self, key: str, name: str, known) -> ConvplanError:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        message = f"{self.source}: unknown setting {key!r}{hint} Known: {', '.join(known)}"
        if issubclass(self.error, UsageError):
            return self.error(message)
        return self.error(message, line=self.line)  # type: ignore[call-arg]


def _key(name: Any) -> str:
    return str(name).replace("-", "_")


def apply_settings(config: CheckConfig, settings: Mapping[str, Any], source: str, *,
                   error: type[ConvplanError] = UsageError, line: int | None = None,
                   allow_tables: bool = False, allow_exclude: bool = True) -> CheckConfig:
    """Layer `settings` over `config`. `allow_tables`: skip unknown sub-tables (pyproject's
    [tool.convplan] may hold other commands' sections)."""
    read = _Reader(source, error, line)
    if not isinstance(settings, Mapping):
        raise read.fail("checks", "a mapping of settings", settings)
    changes: dict[str, Any] = {}
    for raw_key, value in settings.items():
        key = _key(raw_key)
        if key == "select":
            changes["select"] = read.codes(key, value)
        elif key == "ignore":
            changes["ignore"] = config.ignore + read.codes(key, value)
        elif key == "severity":
            changes["severity"] = config.severity + read.severity(key, value)
        elif key == "target":
            changes["target"] = read.choice(key, value, CHECK_TARGETS)
        elif key == "port":
            changes["port"] = read.choice(key, value, PORTS)
        elif key == "dtype":
            changes["dtype"] = read.choice(key, value, tuple(DTYPES))
        elif key == "device":
            changes["device"] = read.device(key, value)
        elif key == "optimizer":
            changes["optimizer"] = read.choice(key, value, tuple(OPTIMIZER_SLOTS))
        elif key == "batch":
            changes["batch"] = read.integer(key, value)
        elif key == "input_size":
            changes["input_size"] = read.sizes(key, value)
        elif key == "budgets":
            changes["budgets"] = read.budgets(key, value, config.budgets)
        elif key == "max_plain_depth":
            changes["max_plain_depth"] = read.integer(key, value)
        elif key in ("costly_min_saving", "costly_min_share"):
            changes[key] = read.fraction(key, value)
        elif key == "exclude" and allow_exclude:
            changes["exclude"] = config.exclude + read.globs(key, value)
        elif allow_tables and isinstance(value, Mapping):
            continue
        else:
            raise read.unknown(key, key, [k for k in SETTINGS
                                          if allow_exclude or k != "exclude"])
    return dataclasses.replace(config, **changes)


# ---------------------------------------------------------------- pyproject.toml


def _load_toml(text: str) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib.loads(text)


@functools.lru_cache(maxsize=256)
def _pyproject_in(folder: str) -> tuple[str, dict[str, Any]] | None:
    """The [tool.convplan] table of `folder`/pyproject.toml, if the file has one."""
    path = Path(folder) / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        data = _load_toml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read ({exc})") from None
    except ValueError as exc:  # tomllib.TOMLDecodeError subclasses ValueError
        raise UsageError(f"{path}: malformed TOML: {exc}") from None
    table = data.get("tool", {}).get("convplan")
    return None if table is None else (str(path), table)


def find_pyproject_settings(start: str | Path) -> tuple[str, dict[str, Any]] | None:
    """Walk up from `start` (a file or folder) to the nearest pyproject.toml that has a
    [tool.convplan] table; (its path, the table), or None."""
    folder = Path(start).resolve()
    if not folder.is_dir():
        folder = folder.parent
    for candidate in (folder, *folder.parents):
        found = _pyproject_in(str(candidate))
        if found is not None:
            return found
    return None


def config_for(start: str | Path, base: CheckConfig = CheckConfig(),
               isolated: bool = False) -> CheckConfig:
    """`base` with the nearest pyproject's [tool.convplan] settings layered on."""
    if isolated:
        return base
    found = find_pyproject_settings(start)
    if found is None:
        return base
    path, table = found
    return apply_settings(base, table, f"{path} [tool.convplan]", allow_tables=True)
