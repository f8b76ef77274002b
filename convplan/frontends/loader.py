"""Safe reading of YAML and JSON spec files, keeping the line of every mapping.

Only plain data is accepted: no Python tags (SafeLoader), no anchors or aliases (they buy
nothing a block cannot do and are the vector of alias bombs), no duplicate keys, a bounded size
and nesting depth. Every mapping comes back as a `LineDict` that remembers its line (1-based).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from convplan.errors import SpecError

MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64


class LineDict(dict):
    """A dict that knows the 1-based line where it started in its file."""

    line: int | None = None


@functools.lru_cache(maxsize=1)
def _loaders() -> tuple[Any, Any]:
    """(pure-Python loader, libyaml loader or None), made on first use: `import yaml` costs a
    Keras-JSON analysis a tenth of its start-up, and that path never reads YAML."""
    import yaml

    class _Loader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # type: ignore[override]
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise SpecError(f"line {event.start_mark.line + 1}: YAML aliases "
                                f"(*{event.anchor}) are not allowed in specs; use a block to "
                                "reuse layers", line=event.start_mark.line + 1)
            self._depth = getattr(self, "_depth", 0) + 1
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise SpecError(f"line {mark.line + 1}: the document nests deeper than "
                                f"{MAX_DEPTH} levels", line=mark.line + 1)
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    c_loader = None
    if getattr(yaml, "__with_libyaml__", False):
        class _CLoader(yaml.CSafeLoader):  # type: ignore[misc]
            """libyaml's parser, about 3x faster than the pure-Python one on a large spec;
            aliases and depth are refused on its events before anything is built
            (`_check_events`), as `_Loader.compose_node` does in pure Python."""

        _CLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _construct_mapping)
        c_loader = _CLoader
    return _Loader, c_loader


def _construct_mapping(loader: Any, node: Any, deep: bool = False) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise SpecError(f"line {key_node.start_mark.line + 1}: mapping keys must be plain "
                            "strings", line=key_node.start_mark.line + 1)
        if key in result:
            raise SpecError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}",
                            line=key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
    return result


def _check_events(text: str) -> None:
    import yaml

    depth = 0
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise SpecError(f"line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are "
                            "not allowed in specs; use a block to reuse layers",
                            line=event.start_mark.line + 1)
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise SpecError(f"line {event.start_mark.line + 1}: the document nests deeper "
                                f"than {MAX_DEPTH} levels", line=event.start_mark.line + 1)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic garbage collector paused: building a million small containers that are all
    kept triggers full collections again and again (100,000 layers: 12 s with it, 4 s without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_text(text: str, source: str = "<spec>") -> Any:
    """Parse YAML or JSON text into plain data with LineDicts."""
    if len(text) > MAX_BYTES:
        raise SpecError(f"{source} is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    import yaml

    loader, c_loader = _loaders()
    try:
        if c_loader is not None:
            _check_events(text)
            with _no_gc():
                return yaml.load(text, Loader=c_loader)  # noqa: S506 - derives from CSafeLoader
        return yaml.load(text, Loader=loader)  # noqa: S506 - derives from SafeLoader
    except SpecError:
        raise
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise SpecError(f"line {line}: unsupported YAML tag or value ({exc.problem}); specs hold "
                        "plain data only", line=line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        # JSON that YAML 1.1 rejects (rare escapes) is still valid JSON: try it before failing.
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            pass
        raise SpecError(f"line {line}: malformed YAML/JSON: {problem}", line=line) from None
    except RecursionError:
        raise SpecError(f"the document nests deeper than {MAX_DEPTH} levels") from None


def read_text(path: str | Path) -> str:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SpecError(f"{path} is {size} bytes; specs larger than "
                            f"{MAX_BYTES // (1024 * 1024)} MiB are refused")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SpecError(f"{path} is a folder, expected a spec file") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror})") from None
