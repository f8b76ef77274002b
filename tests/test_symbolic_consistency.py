"""Every formula, evaluated at a concrete size, equals the concrete analysis at that size.

Random small sequential and DAG networks (1D, 2D and 3D) are built with convplan.NetworkBuilder;
`analyze(graph, generalize=True)` gives formulas in the spatial symbols (L / H, W / D, H, W), and
`.at(sizes)` evaluates them exactly. For many sizes that must equal `analyze(graph,
input_size=sizes)`: every layer's shape, params, MACs, FLOPs, activations and receptive field,
and the totals. Where the concrete analysis rejects a size, the formulas must predict it (an
output dimension <= 0 or a merge condition that fails there). No TensorFlow needed.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convplan import NetworkBuilder, analyze
from convplan.analysis import arith
from convplan.analysis.analyze import SPATIAL_NAMES
from convplan.errors import ShapeError


@dataclasses.dataclass
class Tensor:
    name: str
    channels: int
    spatial: bool = True  # still has spatial axes


class Net:
    """Draws layers onto a NetworkBuilder, tracking each tensor's channels."""

    def __init__(self, draw, rank: int) -> None:
        self.draw, self.rank = draw, rank
        self.net = NetworkBuilder("random")
        channels = draw(st.integers(1, 4))
        sizes = [draw(st.integers(8, 32)) for _ in range(rank)]
        self.tensors = [Tensor(self.net.input("x", [*sizes, channels]), channels)]

    def pick(self) -> Tensor:
        """Mostly the newest tensor (a chain); sometimes an earlier one (a branch)."""
        spatial = [t for t in self.tensors if t.spatial]
        if self.draw(st.integers(0, 3)) == 0:
            return self.draw(st.sampled_from(spatial))
        return spatial[-1]

    def per_axis(self, low: int, high: int):
        return self.draw(st.one_of(st.integers(low, high),
                                   st.tuples(*[st.integers(low, high)] * self.rank)))

    def add(self, op: str, source: Tensor | list[Tensor], channels: int, **attrs) -> None:
        sources = source if isinstance(source, list) else [source]
        name = self.net.add_layer(op, [s.name for s in sources], **attrs)
        self.tensors.append(Tensor(name, channels))

    def window(self, stride_with_dilation: bool) -> dict:
        strides = self.per_axis(1, 3)
        dilate = self.draw(st.booleans())
        if dilate and not stride_with_dilation:
            strides = 1
        return {"kernel_size": self.per_axis(1, 4), "strides": strides,
                "dilation_rate": self.per_axis(1, 3) if dilate else 1,
                "padding": self.draw(st.sampled_from(
                    ["valid", "same", "causal"] if self.rank == 1 and not stride_with_dilation
                    else ["valid", "same"]))}

    def step(self) -> None:
        r, x = self.rank, self.pick()
        kind = self.draw(st.sampled_from(
            ["conv", "conv", "depthwise", "separable", "transpose", "pool", "upsample", "pad",
             "crop", "norm", "merge", "merge", "concat"]))
        if kind == "conv":
            groups = self.draw(st.sampled_from([g for g in (1, 2, 3) if x.channels % g == 0]))
            filters = groups * self.draw(st.integers(1, 3))
            self.add(f"Conv{r}D", x, filters, filters=filters, groups=groups,
                     **self.window(False))
        elif kind == "depthwise" and r < 3:
            dm = self.draw(st.integers(1, 2))
            self.add(f"DepthwiseConv{r}D", x, x.channels * dm, depth_multiplier=dm,
                     **self.window(True))
        elif kind == "separable" and r < 3:
            filters = self.draw(st.integers(1, 6))
            self.add(f"SeparableConv{r}D", x, filters, filters=filters, **self.window(True))
        elif kind == "transpose":
            attrs = self.window(False)
            attrs["padding"] = self.draw(st.sampled_from(["valid", "same"]))
            strides = (attrs["strides"],) * r if isinstance(attrs["strides"], int) \
                else attrs["strides"]
            if self.draw(st.booleans()):
                attrs["output_padding"] = tuple(self.draw(st.integers(0, s - 1)) for s in strides)
            filters = self.draw(st.integers(1, 4))
            self.add(f"Conv{r}DTranspose", x, filters, filters=filters, **attrs)
        elif kind == "pool":
            kind = self.draw(st.sampled_from(["Max", "Average"]))
            strides = self.draw(st.one_of(st.none(), st.integers(1, 3)))
            self.add(f"{kind}Pooling{r}D", x, x.channels, pool_size=self.per_axis(1, 3),
                     strides=strides, padding=self.draw(st.sampled_from(["valid", "same"])))
        elif kind == "upsample":
            size = self.draw(st.integers(1, 3)) if r == 1 else self.per_axis(1, 3)
            self.add(f"UpSampling{r}D", x, x.channels, size=size)
        elif kind in ("pad", "crop"):
            amount = self.draw(st.tuples(*[st.tuples(st.integers(0, 2), st.integers(0, 2))] * r))
            amount = amount[0] if r == 1 else amount
            if kind == "pad":
                self.add(f"ZeroPadding{r}D", x, x.channels, padding=amount)
            else:
                self.add(f"Cropping{r}D", x, x.channels, cropping=amount)
        elif kind == "norm":
            op = self.draw(st.sampled_from(["BatchNormalization", "ReLU", "Activation"]))
            attrs = {"activation": "relu"} if op == "Activation" else {}
            self.add(op, x, x.channels, **attrs)
        elif kind == "merge":
            # Another tensor with the same channels, or 1 channel (broadcast).
            others = [t for t in self.tensors if t.spatial and t.channels in (x.channels, 1)]
            y = self.draw(st.sampled_from(others))
            op = self.draw(st.sampled_from(["Add", "Multiply", "Maximum", "Average"]))
            self.add(op, [x, y], max(x.channels, y.channels))
        elif kind == "concat":
            y = self.draw(st.sampled_from([t for t in self.tensors if t.spatial]))
            self.add("Concatenate", [x, y], x.channels + y.channels)

    def head(self) -> None:
        """Optionally end like a classifier or a reshape."""
        x = self.tensors[-1]
        kind = self.draw(st.sampled_from(["none", "gap", "flatten", "reshape"]))
        if kind == "gap":
            self.add(f"GlobalAveragePooling{self.rank}D", x, x.channels,
                     keepdims=self.draw(st.booleans()))
        elif kind == "flatten":
            self.add("Flatten", x, 0)
            self.tensors[-1].spatial = False
            self.add("Dense", self.tensors[-1], 3, units=3)
        elif kind == "reshape":
            self.add("Reshape", x, x.channels, target_shape=(-1, x.channels))
        if kind != "none":
            self.tensors[-1].spatial = False


@st.composite
def networks(draw):
    rank = draw(st.sampled_from([1, 2, 2, 3]))
    net = Net(draw, rank)
    for _ in range(draw(st.integers(1, 7))):
        net.step()
    net.head()
    outputs = None
    if draw(st.integers(0, 3)) == 0 and len(net.tensors) > 2:
        # Two outputs: a DAG with a side exit.
        outputs = [net.tensors[-1].name, draw(st.sampled_from(net.tensors[1:-1])).name]
    return net.net.build(outputs), rank


def evaluate(value, sizes: dict[str, int]):
    return arith.substitute(value, sizes)


def predicts_failure(symbolic, graph, sizes: dict[str, int]) -> bool:
    """The formulas say these sizes are invalid: an empty dim, or a merge condition fails
    (Concatenate: left == right; elementwise merges broadcast: equal, or one of them is 1)."""
    for layer in symbolic.layers:
        if any(evaluate(d, sizes) <= 0 for d in layer.output_shape):
            return True
    for c in symbolic.conditions:
        left, right = evaluate(c.left, sizes), evaluate(c.right, sizes)
        broadcasts = graph[c.layer].op.op_type != "Concatenate" and 1 in (left, right)
        if left != right and not broadcasts:
            return True
    return False


def assert_same(evaluated, concrete) -> None:
    assert evaluated.totals == concrete.totals
    for a, b in zip(evaluated.layers, concrete.layers, strict=True):
        assert a == b, f"layer {a.name}:\n formulas: {a}\n concrete: {b}"


@given(network=networks(), data=st.data())
def test_formulas_equal_concrete_analysis(network, data):
    graph, rank = network
    try:
        symbolic = analyze(graph, generalize=True)
    except ShapeError:
        # Wrong for every size (say channels of a merge differ): concrete must agree.
        with pytest.raises(ShapeError):
            analyze(graph, input_size=[data.draw(st.integers(1, 40)) for _ in range(rank)])
        return
    names = SPATIAL_NAMES[rank]
    assert set(symbolic.symbols) <= set(names)
    for _ in range(8):
        size = [data.draw(st.integers(1, 40)) for _ in range(rank)]
        sizes = dict(zip(names, size))
        try:
            concrete = analyze(graph, input_size=size)
        except ShapeError as error:
            assert predicts_failure(symbolic, graph, sizes), f"{size}: {error}"
            continue
        assert not predicts_failure(symbolic, graph, sizes), size
        assert concrete.is_concrete
        evaluated = symbolic.at(sizes)
        assert not evaluated.symbols
        assert_same(evaluated, concrete)
        # A path misaligned at these sizes is flagged by the formulas too (maybe "for some").
        flagged = {(m.layer, m.axis) for m in symbolic.misalignments}
        assert {(m.layer, m.axis) for m in concrete.misalignments} <= flagged


def test_a_wrong_formula_is_detected():
    """The comparison can fail: a formula that drifts from the concrete value is caught."""
    net = NetworkBuilder("probe")
    x = net.input("x", [16, 16, 3])
    net.Conv2D(x, filters=4, kernel_size=3, strides=2, padding="same")
    graph = net.build()
    evaluated = analyze(graph, generalize=True).at({"H": 17, "W": 16})
    with pytest.raises(AssertionError):
        assert_same(evaluated, analyze(graph, input_size=(16, 16)))
    assert_same(evaluated, analyze(graph, input_size=(17, 16)))


def test_merge_of_sizes_unequal_everywhere_broadcasts_where_one_is_1():
    """Regression: Add of lengths L - 1 and L raised for every L symbolically, yet at L = 2
    Keras (and the concrete analysis) broadcast the 1. Now it is a condition."""
    net = NetworkBuilder("off_by_one")
    x = net.input("x", [8, 2])
    y = net.Cropping1D(x, cropping=(0, 1))
    net.Add([y, x])
    graph = net.build()
    symbolic = analyze(graph, generalize=True)
    assert [(c.left, c.right) for c in symbolic.conditions] == [(arith.symbol("L") - 1,
                                                                 arith.symbol("L"))]
    assert_same(symbolic.at({"L": 2}), analyze(graph, input_size=[2]))
    assert analyze(graph, input_size=[2]).layer("add").output_shape == (2, 2)
    assert predicts_failure(symbolic, graph, {"L": 5})
    with pytest.raises(ShapeError):
        analyze(graph, input_size=[5])
