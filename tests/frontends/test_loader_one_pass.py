"""`loader.parse_text` parses YAML once (libyaml composing with the alias and depth refusals on
the way, scalars memoized) where it used to walk libyaml's events first and then load. The
two-pass parser it replaced is kept here as the reference: on hand-made edge cases (aliases
after other errors, several documents, nesting of exactly 63 to 66 levels, an empty collection
at the limit, duplicate keys and anchors, tags) and on drawn documents, both give the same data
(with every mapping's line) or the same refusal, message and line included."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convplan.errors import SpecError
from convplan.frontends import loader as L


class _Reference(yaml.CSafeLoader):  # type: ignore[misc]
    pass


def _reference_mapping(loader: Any, node: Any, deep: bool = False) -> L.LineDict:
    loader.flatten_mapping(node)
    result = L.LineDict()
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


_Reference.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _reference_mapping)


def reference_parse(text: str) -> Any:
    """parse_text as it was: the event walk, then a load (errors mapped the same way)."""
    def two_passes(text: str) -> Any:
        L._check_events(text)
        return yaml.load(text, Loader=_Reference)  # noqa: S506 - derives from CSafeLoader

    return L.with_spec_errors(two_passes, text)


def outcome(parse, text: str) -> Any:
    """What a parser gives: the data with each mapping's line and each value's type, or the
    refusal's message and line."""
    try:
        data = parse(text)
    except SpecError as exc:
        return ("refused", str(exc), exc.line)
    except Exception as exc:  # noqa: BLE001 - `!!map [1, 2]` fails so in both (TypeError)
        return ("failed", type(exc).__name__, str(exc))

    def shape(value: Any) -> Any:
        if isinstance(value, dict):
            return (type(value).__name__, getattr(value, "line", None),
                    [(shape(k), shape(v)) for k, v in value.items()])
        if isinstance(value, list):
            return ["list", *map(shape, value)]
        return (type(value).__name__, repr(value))
    return ("data", shape(data))


def nested(depth: int, inner: str = "1", flow: bool = True) -> str:
    if flow:
        return "[" * depth + inner + "]" * depth
    return "".join("  " * i + "-\n" for i in range(depth - 1)) + "  " * (depth - 1) + "- " + inner


EDGE_CASES = {
    "spec": "inputs: {x: [8, 8, 3]}\nlayers:\n  - {name: a, op: Conv2D, filters: 4}\n",
    "alias": "a: [1]\nb: *a\n",
    "alias after a duplicate key": "a: 1\na: 2\nb: *x\n",
    "alias after a bad tag": "a: !!python/name:os.system\nb: *x\n",
    "anchor and alias": "a: &x [1, 2]\nb: *x\n",
    "anchor only": "a: &x [1, 2]\nb: 3\n",
    "duplicate anchor then alias": "a: &x 1\nb: &x 2\nc: *x\n",
    "ampersand in a string": "name: 'R&D'\nlayers: [1, 2]\n",
    "alias bomb": "a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "alias in a second document": "a: 1\n---\nb: *x\n",
    "deep in a second document": "a: 1\n---\nb: " + nested(70),
    "syntax error in a second document": "a: 1\n---\nb: [\n",
    "syntax error after an alias": "a: *x\nb: [\n",
    "alias after a syntax error": "a: [\nb: *x\n",
    "tab indentation": "a:\n\tb: 1\n",
    "not a mapping": "- 1\n- [2, {a: 3}]\n",
    "scalar document": "just text\n",
    "empty": "",
    "unicode": "name: \"conv\u00e9\u202e\"\n",
    "timestamp and binary": "a: 2001-12-14\nb: !!binary aGVsbG8=\n",
    "set and omap": "a: !!set {x, y}\nb: !!omap [{k: 1}]\n",
    "merge key": "a: {<<: {x: 1, y: 2}, y: 3}\n",
    "mapping as a key": "? {a: 1}\n: 2\n",
    "seq tag on a scalar": "a: !!seq text\n",
    "map tag on a list": "a: !!map [1, 2]\n",
    "numbers": "a: [0x1F, 0o17, 1_000, 1:30, .nan, -.inf, 1e3, +12, ~, yes, No, '3']\n",
    "JSON with an escape YAML refuses": '{"a": "\\/"}',
    "duplicate key": "layers: [{name: a, op: ReLU, name: b}]\n",
}
for _depth in (62, 63, 64, 65, 66):
    EDGE_CASES[f"flow depth {_depth}"] = nested(_depth)
    EDGE_CASES[f"flow depth {_depth}, empty inside"] = nested(_depth, "")
    EDGE_CASES[f"flow depth {_depth}, a mapping inside"] = nested(_depth, "{}")
    EDGE_CASES[f"block depth {_depth}"] = nested(_depth, flow=False)
    EDGE_CASES[f"mapping depth {_depth}"] = "a: " * _depth + "1"
    EDGE_CASES[f"depth {_depth} then alias"] = "a: " + nested(_depth) + "\nb: *x\n"
EDGE_CASES["an empty collection at the limit before a deeper one"] = (
    "a: [" + nested(63, "[]") + ", " + nested(66) + "]")
EDGE_CASES["deep nesting 100,000"] = "a: " + "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_one_pass_parse_matches_the_two_pass_one(case):
    text = EDGE_CASES[case]
    assert outcome(L.parse_text, text) == outcome(reference_parse, text)


def test_the_edge_cases_cover_every_refusal():
    """The cases above include data, aliases, nesting, bad tags, malformed YAML and duplicate
    keys, so the comparison covers every way parse_text ends."""
    messages = [outcome(reference_parse, t) for t in EDGE_CASES.values()]
    refused = " ".join(m[1] for m in messages if m[0] == "refused")
    for words in ("aliases", "nests deeper", "unsupported YAML tag", "malformed YAML",
                  "duplicate key", "mapping keys"):
        assert words in refused, words
    assert sum(m[0] == "data" for m in messages) >= 10


SCALARS = st.one_of(st.integers(-10**12, 10**12), st.booleans(), st.none(),
                    st.floats(allow_nan=True), st.text(max_size=8),
                    st.sampled_from(["same", "relu", "Conv2D", "3", "0x10", "1:2", "yes", "~"]))
DOCUMENTS = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4)
                         | st.dictionaries(st.text(max_size=6), children, max_size=4),
                         max_leaves=30)
INSERTS = st.sampled_from(["", "*x", "&x ", "!!str ", "!!python/name:os.system ", "[", "{a: 1}",
                           "---\n", "- ", ": ", "? ", "&", "\t"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS, st.booleans(), INSERTS, st.integers(0, 10**6), st.integers(0, 70))
def test_drawn_documents_parse_alike(document, flow, insert, where, depth):
    """A drawn document dumped in block or flow style, broken at a drawn place by an alias,
    an anchor, a tag or stray syntax, and wrapped `depth` lists deep."""
    text = yaml.safe_dump({"doc": document}, default_flow_style=flow, allow_unicode=True)
    cut = where % (len(text) + 1)
    text = text[:cut] + insert + text[cut:]
    if depth:
        text = "w: " + "[" * depth + json.dumps(document) + "]" * depth + "\n" + text
    assert outcome(L.parse_text, text) == outcome(reference_parse, text)
