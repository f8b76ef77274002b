"""Property: every row of a drawn sweep equals a concrete `analyze` of its combination.

Hypothesis draws a network (small chains and DAGs of strided convolutions, pooling, nearest
and bilinear upsampling, transposed convolutions, Concatenate and Add skips; or one of
tests/strategies.py's random networks), then 1 to 3 `--vary` choices among strides,
kernel_size, dilation_rate, pool_size, filters and input.size, by layer name or glob, with
scalar or per-axis values. Every combination is evaluated by the sweep and, separately, built
with `apply_categorical` and analyzed concretely: validity, output shapes, params, MACs,
FLOPs, activations, memory and the receptive field must agree row for row
(`tests/test_sweep_values.assert_matches_concrete`).
"""

from __future__ import annotations

import fnmatch
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import network_specs
from test_sweep_values import assert_matches_concrete

from convplan import analyze
from convplan.errors import ConvplanError
from convplan.explore.choices import parse_varies
from convplan.explore.sweep import Chunk, Sweep
from convplan.frontends.spec import build_graph
from convplan.ir.graph import Graph

# attribute -> (low, high) of the values drawn for it
VALUE_RANGES = {"strides": (1, 3), "kernel_size": (1, 4), "dilation_rate": (1, 3),
                "pool_size": (1, 3), "filters": (1, 6)}
INPUT_SIZES = {1: (4, 40), 2: (4, 24), 3: (3, 10)}
# Each example takes milliseconds to a few tenths of a second: more than the profile's default
# (30 at "ci", a few seconds per test; "long" runs 1000 x this).
EXAMPLES = settings.default.max_examples * 3


class Dag:
    """Layers named `<kind>_<n>` (so `conv_*` is a meaningful glob) in the spec's form."""

    def __init__(self, draw: Any, rank: int) -> None:
        self.draw, self.rank = draw, rank
        low, high = INPUT_SIZES[rank]
        # mostly multiples of 4, so that two levels of a U-Net come back to the skip's size
        sizes = st.one_of(st.integers(2, high // 4).map(lambda k: 4 * k),
                          st.integers(max(low, 6), high))
        self.inputs = {"x": [draw(sizes) for _ in range(rank)] + [draw(st.integers(1, 3))]}
        self.layers: list[dict[str, Any]] = []

    def add(self, kind: str, op: str, inputs: list[str], **attrs: Any) -> str:
        name = f"{kind}_{len(self.layers) + 1}"
        self.layers.append({"name": name, "op": op, "inputs": inputs, **attrs})
        return name

    def padding(self) -> str:
        return self.draw(st.sampled_from(["same", "valid"]))

    def conv(self, x: str, strides: int | None = None, kind: str = "conv",
             padding: str | None = None) -> str:
        strides = strides or self.draw(st.integers(1, 2))
        dilation = self.draw(st.integers(1, 2)) if strides == 1 else 1
        return self.add(kind, f"Conv{self.rank}D", [x], filters=self.draw(st.integers(1, 4)),
                        kernel_size=self.draw(st.integers(1, 4)), strides=strides,
                        dilation_rate=dilation, padding=padding or self.padding())

    def pool(self, x: str, size: int | None = None, kind: str = "pool",
             padding: str | None = None) -> str:
        op = self.draw(st.sampled_from(["Max", "Average"]))
        size = size or self.draw(st.integers(1, 3))
        strides = None if self.draw(st.booleans()) else self.draw(st.integers(1, 3))
        return self.add(kind, f"{op}Pooling{self.rank}D", [x], pool_size=size,
                        strides=strides, padding=padding or self.padding())

    def up(self, x: str, size: int) -> str:
        attrs: dict[str, Any] = {"size": size}
        if self.rank == 2:
            attrs["interpolation"] = self.draw(st.sampled_from(["nearest", "bilinear"]))
        return self.add("up", f"UpSampling{self.rank}D", [x], **attrs)

    def transpose(self, x: str, strides: int) -> str:
        return self.add("tconv", f"Conv{self.rank}DTranspose", [x],
                        filters=self.draw(st.integers(1, 3)),
                        kernel_size=self.draw(st.integers(1, 4)), strides=strides,
                        padding=self.draw(st.sampled_from(["same", "valid"])))

    def unet(self, x: str) -> str:
        """Down by 2 (a strided conv or a pool), maybe a conv, up by 2 (upsampling or a
        transposed conv), merged with the skip: the shape of issue #13's segmentation nets."""
        # 'same' mostly: the way back up then meets the skip on even sizes
        padding = self.draw(st.sampled_from(["same", "same", "valid"]))
        down = (self.conv(x, strides=2, kind="down", padding=padding) if self.draw(st.booleans())
                else self.pool(x, size=2, kind="down", padding=padding))
        if self.draw(st.booleans()):
            down = self.add("conv", f"Conv{self.rank}D", [down], filters=2,
                            kernel_size=self.draw(st.integers(1, 4)), padding="same")
        up = self.up(down, 2) if self.draw(st.booleans()) else self.transpose(down, 2)
        if self.draw(st.integers(0, 2)) == 2:
            skip = self.add("conv", f"Conv{self.rank}D", [x], filters=2, kernel_size=1)
            up = self.add("conv", f"Conv{self.rank}D", [up], filters=2, kernel_size=1)
            return self.add("add", "Add", [up, skip])
        return self.add("cat", "Concatenate", [up, x])

    def step(self, x: str) -> str:
        kind = self.draw(st.sampled_from(["unet", "conv", "pool", "up", "transpose", "unet"]))
        if kind == "conv":
            return self.conv(x)
        if kind == "pool":
            return self.pool(x)
        if kind == "up":
            return self.up(x, self.draw(st.integers(1, 3)))
        if kind == "transpose":
            return self.transpose(x, self.draw(st.integers(1, 3)))
        return self.unet(x)

    def spec(self) -> dict[str, Any]:
        x = "x"
        for _ in range(self.draw(st.integers(1, 4))):
            x = self.step(x)
        if self.draw(st.booleans()):
            x = self.conv(x, strides=1)
        return {"name": "dag", "inputs": self.inputs, "layers": self.layers}


@st.composite
def dag_specs(draw: Any) -> dict[str, Any]:
    return Dag(draw, draw(st.sampled_from([2, 1]))).spec()


def _candidates(graph: Graph) -> list[tuple[str, str]]:
    """(pattern, attribute) pairs a vary can name: a layer, or a glob over its kind whose
    every match takes the attribute as a number."""
    pairs = []
    for name, node in graph.nodes.items():
        for attribute in VALUE_RANGES:
            if attribute not in node.op.sweepable:
                continue
            pairs.append((name, attribute))
            glob = name.rsplit("_", 1)[0] + "_*"
            matched = [n for n in graph.nodes if fnmatch.fnmatchcase(n, glob)]
            if len(matched) > 1 and all(attribute in graph[n].op.sweepable for n in matched):
                pairs.append((glob, attribute))
    return sorted(set(pairs))


def _layers(graph: Graph, pattern: str) -> set[str]:
    return {n for n in graph.nodes if fnmatch.fnmatchcase(n, pattern)}


@st.composite
def vary_texts(draw: Any, graph: Graph, rank: int) -> list[str]:
    """1 to 3 `--vary` texts that never set one attribute of a layer twice."""
    candidates = _candidates(graph)
    # Half the time first the layers that go down before an upsampling: their strides set
    # whether a merge's paths meet at one stride (issue #13's 13 against 15)
    downs = [c for c in candidates if c[0].startswith("down_")]
    texts: list[str] = []
    taken: set[tuple[str, str]] = set()
    for _ in range(draw(st.integers(1, 3))):
        if downs and not texts and draw(st.booleans()):
            pattern, attribute = draw(st.sampled_from(downs))
        elif candidates and draw(st.integers(0, 4)):
            pattern, attribute = draw(st.sampled_from(candidates))
        else:
            pattern, attribute = "input", "size"
        if pattern != "input":
            keys = {(n, attribute) for n in _layers(graph, pattern)}
            if keys & taken:
                continue
            taken |= keys
            low, high = VALUE_RANGES[attribute]
            per_axis = rank > 1 and attribute != "filters" and draw(st.integers(0, 3)) == 3
            item = (st.tuples(*[st.integers(low, high)] * rank) if per_axis
                    else st.integers(low, high))
            values = draw(st.lists(item, min_size=1, max_size=3, unique=True))
            if pattern.startswith("down_") and 2 not in values and draw(st.booleans()):
                values.append(2)  # the stride at which the paths of a U-Net merge meet
            texts.append(f"{pattern}.{attribute}=" + ",".join(
                "x".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in values))
        elif ("input", "size") not in taken:
            taken.add(("input", "size"))
            low, high = INPUT_SIZES[rank]
            start = draw(st.integers(low, high))
            texts.append(f"input.size={start}..{start + draw(st.integers(0, 5))}")
    assume(texts)
    return texts


def check_every_row(spec: dict[str, Any], data: Any) -> None:
    try:
        graph = build_graph(spec)
        analyze(graph)
    except ConvplanError:
        assume(False)  # the drawn network itself does not build: nothing to sweep
    rank = len(spec["inputs"]["x"]) - 1
    texts = data.draw(vary_texts(graph, rank), label="varies")
    sweep = Sweep(graph, parse_varies(graph, texts))
    rows = Chunk.concat(list(sweep.chunks()))
    assert len(rows) == sweep.total
    assert_matches_concrete(sweep, rows)
    if sweep.has_rf and rows.columns["rf"].dtype.kind == "f":
        # a float column only where some field is a fraction (analyze's too, as compared)
        fields = rows.columns["rf"][rows.columns["valid"]]
        assert (fields % 1 != 0).any(), fields


@settings(max_examples=EXAMPLES)
@given(spec=dag_specs(), data=st.data())
def test_every_row_of_a_drawn_sweep_over_a_resampling_dag_matches_analyze(spec, data):
    check_every_row(spec, data)


@settings(max_examples=EXAMPLES)
@given(spec=network_specs(invalid=False, max_steps=5, inputs=1), data=st.data())
def test_every_row_of_a_drawn_sweep_over_a_random_network_matches_analyze(spec, data):
    check_every_row(spec, data)
