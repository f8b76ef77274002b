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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from convplan.errors import SpecError

MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64


class LineDict(dict):
    """A dict that knows the 1-based line where it started in its file."""

    line: int | None = None


class _Unsure(Exception):
    """The one-pass parse met what only the event walk can judge exactly (a node 64 levels
    down: a collection there nests too deep, a scalar does not)."""


# Memos of the one-pass loader: a scalar's resolved tag by (text, implicit), and a plain
# scalar's value by (tag, text); a spec repeats its few words and numbers many times. Bounded,
# and only short texts, so a hostile file cannot grow them.
_MEMO_LIMIT = 4096
_MEMO_TEXT = 64
_TAGS: dict[tuple[str, tuple[bool, bool]], str] = {}
_VALUES: dict[tuple[str, str], Any] = {}
MAPPING_TAG = "tag:yaml.org,2002:map"
SEQUENCE_TAG = "tag:yaml.org,2002:seq"
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))


@functools.lru_cache(maxsize=1)
def _loaders() -> tuple[Any, Any, Any]:
    """(pure-Python loader, libyaml loader or None, one-pass libyaml loader or None), made on
    first use: `import yaml` costs a Keras-JSON analysis a tenth of its start-up, and that
    path never reads YAML."""
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

        construct_document = _construct_document

    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    if not getattr(yaml, "__with_libyaml__", False):
        return _Loader, None, None

    class _CLoader(yaml.CSafeLoader):  # type: ignore[misc]
        """libyaml's parser, about 3x faster than the pure-Python one on a large spec;
        aliases and depth are refused on its events before anything is built
        (`_check_events`), as `_Loader.compose_node` does in pure Python."""

        construct_document = _construct_document

    _CLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                             _construct_mapping)

    class _OnePassLoader(_CLoader):
        """libyaml composing with the refusals on the way (`parse_text`): libyaml calls
        descend_resolver/ascend_resolver around every node but an alias, so the count of
        open nodes is the node's depth; a node 64 deep stops it (`_Unsure`) before libyaml
        recurses further. Aliases need no hook: without an anchor ('&' absent from the text)
        libyaml refuses every alias as undefined, and the caller judges any error again
        with the event walk."""

        _open = 0

        def descend_resolver(self, parent, index):  # type: ignore[override]
            if self._open >= MAX_DEPTH:
                raise _Unsure
            self._open += 1

        def ascend_resolver(self):  # type: ignore[override]
            self._open -= 1

        def resolve(self, kind, value, implicit):  # type: ignore[override]
            if kind is not yaml.ScalarNode or len(value) > _MEMO_TEXT:
                return super().resolve(kind, value, implicit)
            key = (value, implicit)
            tag = _TAGS.get(key)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(_TAGS) < _MEMO_LIMIT:
                    _TAGS[key] = tag
            return tag

    return _Loader, _CLoader, _OnePassLoader


def _construct_document(loader: Any, node: Any) -> Any:
    """The document's data, built depth first as `construct_object(node, deep=True)` does but
    without its bookkeeping per node (which only serves aliases, refused here); a root that is
    not a plain mapping goes the general way."""
    import yaml

    if type(node) is yaml.MappingNode and node.tag == MAPPING_TAG:
        return _construct_mapping(loader, node)
    return yaml.constructor.BaseConstructor.construct_document(loader, node)


def _construct(loader: Any, node: Any) -> Any:
    """One node's data, deep: plain scalars through their constructor (memoized by tag and
    text), plain mappings and sequences directly, anything else through construct_object."""
    import yaml

    tag = node.tag
    kind = type(node)
    if kind is yaml.ScalarNode and tag in _PLAIN_TAGS:
        key = (tag, node.value)
        try:
            return _VALUES[key]
        except KeyError:
            pass
        value = loader.yaml_constructors[tag](loader, node)
        if len(node.value) <= _MEMO_TEXT and len(_VALUES) < _MEMO_LIMIT and value == value:
            _VALUES[key] = value  # value == value: a NaN is made afresh, as before
        return value
    if kind is yaml.MappingNode and tag == MAPPING_TAG:
        return _construct_mapping(loader, node)
    if kind is yaml.SequenceNode and tag == SEQUENCE_TAG:
        return [_construct(loader, child) for child in node.value]
    return loader.construct_object(node, deep=True)


def _construct_mapping(loader: Any, node: Any, deep: bool = False) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = _construct(loader, key_node)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise SpecError(f"line {key_node.start_mark.line + 1}: mapping keys must be plain "
                            "strings", line=key_node.start_mark.line + 1)
        if key in result:
            raise SpecError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}",
                            line=key_node.start_mark.line + 1)
        result[key] = _construct(loader, value_node)
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
    return with_spec_errors(_load, text)


def _load(text: str) -> Any:
    import yaml

    loader, c_loader, one_pass = _loaders()
    if c_loader is None:
        return yaml.load(text, Loader=loader)  # noqa: S506 - derives from SafeLoader
    with _no_gc():
        if "&" not in text:  # no anchor, so any alias is an error libyaml reports
            with contextlib.suppress(_Unsure, yaml.YAMLError):
                return yaml.load(text, Loader=one_pass)  # noqa: S506 - a CSafeLoader
        # an anchor, a node 64 deep or an error: the event walk judges first, as always
        _check_events(text)
        return yaml.load(text, Loader=c_loader)  # noqa: S506 - derives from CSafeLoader


def with_spec_errors(load: Callable[[str], Any], text: str) -> Any:
    """load(text), with YAML's errors as one-line SpecErrors naming the line (JSON that YAML
    1.1 rejects is tried as JSON first) and too deep a document as one too."""
    import yaml

    try:
        return load(text)
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
