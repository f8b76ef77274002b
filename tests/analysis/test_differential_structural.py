"""The shape-changing and structural ops (convplan/ir/ops_structural.py) against real Keras.

Layers (Resizing, CenterCrop, RandomCrop, adaptive pooling, Permute, RepeatVector, Embedding,
Masking) go through test_differential_layers.check: the same arguments to the Keras layer and
to convplan, identical shapes, params and MACs or both rejecting. keras.ops calls (pad, split,
mean, sum, max, min, expand_dims, squeeze) have no layer class: `check_operation` applies the
keras.ops function to a symbolic keras.Input and compares the output shape the same way, and
the op as `convplan.verify.keras_build` rebuilds it must give that shape too. Receptive fields
of the resampling ops are checked against TensorFlow's gradients (one layer on an input of
ones: the gradient of output i is non-zero exactly on the pixels it reads).
"""

from __future__ import annotations

import math

import pytest
import tf_oracle
from hypothesis import assume, given
from hypothesis import strategies as st
from test_differential_layers import check, feature_shape, per_axis, spatial_shape

from convplan.analysis import analyze
from convplan.errors import ConvplanError, UnsupportedError
from convplan.ir import ops as O

pytestmark = pytest.mark.tf

STRUCTURAL_LAYERS = ["Resizing", "CenterCrop", "RandomCrop", "AdaptiveAveragePooling1D",
                     "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
                     "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D",
                     "Permute", "RepeatVector", "Embedding", "Masking", "Dot", "EinsumDense"]
OPERATIONS = ["Pad", "Split", "Mean", "Sum", "Max", "Min", "ExpandDims", "Squeeze"]
INTERPOLATIONS = list(O.Resizing.interpolations)


def test_every_structural_op_has_a_differential_test():
    """test_differential_layers counts every op of ops_structural as tested here."""
    mine = {name for name, cls in O.OPS.items() if cls.__module__.endswith(".ops_structural")}
    assert mine == set(STRUCTURAL_LAYERS) | set(OPERATIONS)


# ---------------------------------------------------------------- layers


@given(data=st.data())
def test_resizing(data):
    args = {"height": data.draw(st.integers(1, 9)), "width": data.draw(st.integers(1, 9)),
            "interpolation": data.draw(st.sampled_from(INTERPOLATIONS)),
            "crop_to_aspect_ratio": data.draw(st.booleans()),
            "pad_to_aspect_ratio": data.draw(st.sampled_from([False, False, True])),
            "antialias": data.draw(st.booleans())}
    check("Resizing", args, [(*data.draw(spatial_shape(2)), data.draw(st.integers(1, 3)))])


@given(data=st.data())
def test_center_crop(data):
    """Targets larger and smaller than the input (Keras resizes those)."""
    args = {"height": data.draw(st.integers(1, 12)), "width": data.draw(st.integers(1, 12))}
    check("CenterCrop", args, [(*data.draw(spatial_shape(2)), data.draw(st.integers(1, 3)))])


@given(data=st.data())
def test_random_crop(data):
    """An input of the target's size: the identity, as Keras gives it. Any other size is
    refused: Keras's symbolic shape is the target's, its inference output the input's."""
    import keras
    import numpy as np

    shape = (*data.draw(spatial_shape(2)), data.draw(st.integers(1, 3)))
    if data.draw(st.booleans()):
        check("RandomCrop", {"height": shape[0], "width": shape[1]}, [shape])
        return
    height, width = data.draw(st.integers(1, 12)), data.draw(st.integers(1, 12))
    assume((height, width) != shape[:2])
    layer = keras.layers.RandomCrop(height, width)
    assert tuple(layer(keras.Input(shape)).shape[1:]) == (height, width, shape[2])
    assert layer(np.ones((1, *shape), "float32"), training=False).shape[1:] == shape
    with pytest.raises(UnsupportedError, match="passes the input through unchanged"):
        analyze(tf_oracle.single_layer_graph(O.RandomCrop(name="crop", height=height,
                                                          width=width), [shape]))


ADAPTIVE = [name for name in STRUCTURAL_LAYERS if name.startswith("Adaptive")]


@pytest.mark.parametrize("op_type", ADAPTIVE)
@given(data=st.data())
def test_adaptive_pooling(op_type, data):
    rank = O.OPS[op_type].spatial_rank
    args = {"output_size": data.draw(per_axis(rank, 1, 5))}
    check(op_type, args, [(*data.draw(spatial_shape(rank)), data.draw(st.integers(1, 3)))])


@given(data=st.data(), shape=feature_shape(max_rank=4, high=4))
def test_permute(data, shape):
    """Permutations of the right length, sometimes one axis short (both must reject)."""
    dims = data.draw(st.permutations(range(1, len(shape) + 1)))
    if len(dims) > 1 and data.draw(st.integers(0, 5)) == 0:
        dims = [d for d in dims if d != len(shape)]
    check("Permute", {"dims": tuple(dims)}, [shape])


@given(n=st.integers(1, 5), shape=feature_shape(max_rank=2, high=6))
def test_repeat_vector(n, shape):
    check("RepeatVector", {"n": n}, [shape])


@given(data=st.data(), shape=feature_shape(max_rank=3, high=6))
def test_embedding(data, shape):
    args = {"input_dim": data.draw(st.integers(1, 50)), "output_dim": data.draw(st.integers(1, 8)),
            "mask_zero": data.draw(st.booleans())}
    check("Embedding", args, [shape])


@given(value=st.floats(-2, 2), shape=feature_shape())
def test_masking(value, shape):
    check("Masking", {"mask_value": value}, [shape])


@given(data=st.data())
def test_dot(data):
    """Inputs of rank 1 to 3 (besides the batch) with one contracted length in common
    (sometimes not), axes as one int or a pair, negative too, the batch axis among them."""
    left = list(data.draw(feature_shape(max_rank=3, high=5)))
    right = list(data.draw(feature_shape(max_rank=3, high=5)))
    axes = data.draw(st.one_of(st.integers(-3, 3), st.tuples(st.integers(-3, 3),
                                                              st.integers(-3, 3))))
    pair = (axes, axes) if isinstance(axes, int) else axes
    i, j = (a - 1 if a > 0 else a for a in pair)
    if -len(left) <= i < len(left) and -len(right) <= j < len(right) and data.draw(
            st.integers(0, 5)):
        right[j] = left[i]  # mostly a common contracted length
    args = {"axes": axes, "normalize": data.draw(st.booleans())}
    if 0 in pair:
        with pytest.raises(UnsupportedError, match="batch axis"):
            O.make_op("Dot", "dot", args)
        return
    check("Dot", args, [tuple(left), tuple(right)])


@st.composite
def einsum_cases(draw):
    """(equation, output_shape, bias_axes, input shape) in Keras's three forms: a batch
    letter, input letters, kernel-only letters, some input letters kept in the output."""
    form = draw(st.sampled_from(["plain", "left", "right"]))
    letters = iter("bcdefgh")
    kept = [next(letters) for _ in range(draw(st.integers(0, 2)))]
    summed = [next(letters) for _ in range(draw(st.integers(1, 2)))]
    new = [next(letters) for _ in range(draw(st.integers(1, 2)))]
    lengths = {d: draw(st.integers(1, 4)) for d in kept + summed + new}
    ins = kept + summed
    outs = kept + new
    kernel = summed + new
    elided = [draw(st.integers(1, 4)) for _ in range(draw(st.integers(1, 2)))]
    if form == "plain":
        equation = f"a{''.join(ins)},{''.join(kernel)}->a{''.join(outs)}"
        shape = tuple(lengths[d] for d in ins)
    elif form == "left":
        equation = f"...{''.join(ins)},{''.join(kernel)}->...{''.join(outs)}"
        shape = (*elided, *(lengths[d] for d in ins))
    else:
        equation = f"a{''.join(ins)}...,{''.join(kernel)}->a{''.join(outs)}..."
        shape = (*(lengths[d] for d in ins), *elided)
    output = [None if d in kept and draw(st.booleans()) else lengths[d] for d in outs]
    if draw(st.integers(0, 9)) == 0 and output:  # a length that contradicts the input's
        output[0] = (output[0] or 1) + 1
    bias = draw(st.one_of(st.none(), st.sampled_from(["".join(outs[-1:]), "".join(outs)])))
    return equation, output, bias, shape, lengths, elided if form != "plain" else []


def einsum_macs(equation: str, x: tuple[int, ...], kernel: tuple[int, ...]) -> int:
    """Multiplies of the einsum on operands of these shapes (batch 1): with `...` spelled as
    letters of its own, the product of every letter's length."""
    ins, rest = equation.split(",")
    weights, outs = rest.split("->")
    spelled = "XYZUVW"[:len(x) - len(ins.replace("...", ""))]
    ins = ins.replace("...", spelled)
    sizes = dict(zip(ins, x)) | dict(zip(weights, kernel))
    return math.prod(sizes.values())


@given(case=einsum_cases(), activation=st.sampled_from([None, "relu"]))
def test_einsum_dense(case, activation):
    """Params from the weights Keras builds; the output shape the layer computes when run
    (Keras's symbolic shape lists two or more left-elided axes reversed, and keeps None where
    output_shape does); MACs the multiplies of the einsum, counted from the operands."""
    import keras
    import numpy as np

    equation, output, bias, shape, lengths, elided = case
    args = {"equation": equation, "output_shape": output, "bias_axes": bias,
            "activation": activation}
    where = f"EinsumDense({args}) on {shape}"
    try:
        layer = keras.layers.EinsumDense(**args)
        layer(keras.Input(shape))
        ran = tuple(layer(np.ones((1, *shape), "float32")).shape[1:])
        theirs = (ran, layer.count_params())
    except Exception:  # Keras rejects
        with pytest.raises(ConvplanError):
            analyze(tf_oracle.single_layer_graph(O.make_op("EinsumDense", "e", dict(args)),
                                                 [shape]))
        return
    plan = analyze(tf_oracle.single_layer_graph(O.make_op("EinsumDense", "e", dict(args)),
                                                [shape])).layer("e")
    assert (tuple(plan.output_shape), plan.trainable_params) == theirs, where
    kernel = tuple(int(d) for d in [w for w in layer.weights if w.name == "kernel"][0].shape)
    assert plan.macs == einsum_macs(equation, (1, *shape), kernel), where
    rebuilt = tf_oracle.keras_layer_from_op(O.make_op("EinsumDense", "e", dict(args)))
    rebuilt(keras.Input(shape))
    assert rebuilt.count_params() == layer.count_params(), where


# ---------------------------------------------------------------- keras.ops calls

KERAS_FUNCTIONS = {"Pad": "pad", "Split": "split", "Mean": "mean", "Sum": "sum", "Max": "max",
                   "Min": "min", "ExpandDims": "expand_dims", "Squeeze": "squeeze"}


def keras_operation_shape(op_type: str, args: dict, shape: tuple[int, ...]) -> tuple:
    """The keras.ops function on a symbolic input: the output shape (batch excluded); for a
    split, part args['index']."""
    import keras

    args = dict(args)
    index = args.pop("index", None)
    out = getattr(keras.ops, KERAS_FUNCTIONS[op_type])(keras.Input(shape=shape), **args)
    if index is not None:
        out = out[index]
    return tuple(out.shape[1:])


def keras_operation_runs(op_type: str, args: dict, shape: tuple[int, ...]) -> None:
    import keras
    import numpy as np

    args = dict(args)
    index = args.pop("index", None)
    out = getattr(keras.ops, KERAS_FUNCTIONS[op_type])(np.ones((1, *shape), "float32"), **args)
    if index is not None:
        out = out[index]
    assert all(int(d) > 0 for d in out.shape)


def check_operation(op_type: str, args: dict, shape: tuple[int, ...]) -> None:
    """Keras and convplan agree on the output shape, or both reject (a convplan rejection of
    what Keras builds symbolically is right only if it fails when run, or yields nothing)."""
    import keras

    where = f"{op_type}({args}) on {shape}"
    theirs = tf_oracle.outcome(lambda: keras_operation_shape(op_type, args, shape))
    op = None
    try:
        op = O.make_op(op_type, "layer", dict(args))
        ours = tuple(analyze(tf_oracle.single_layer_graph(op, [shape])).layer("layer")
                     .output_shape)
    except ConvplanError as exc:
        ours = exc
    if theirs.ok and not isinstance(ours, ConvplanError):
        assert ours == theirs.facts, where
        from convplan.verify.keras_build import keras_operation

        rebuilt = keras_operation(op, keras.Input(shape=shape))
        assert tuple(rebuilt.shape[1:]) == ours, f"keras_build lost an argument: {where}"
        assert rebuilt._keras_history.operation.name == "layer"
    elif theirs.ok and isinstance(ours, UnsupportedError) and "batch axis" in str(ours):
        pass  # out of scope by design: convplan plans one example (test_batch_axis_is_refused)
    elif theirs.ok:
        runs = tf_oracle.outcome(lambda: keras_operation_runs(op_type, args, shape))
        assert not runs.ok, f"convplan rejects what Keras accepts and runs: {where}: {ours}"
    else:
        assert isinstance(ours, ConvplanError), (f"Keras rejects, convplan accepts: {where}: "
                                                 f"{theirs.error}; convplan: {ours}")


def ops_axis(rank: int) -> st.SearchStrategy:
    """A keras.ops axis of a batched input of `rank` axes besides the batch: in range, the
    batch axis 0 or one beyond (both must reject those)."""
    return st.integers(-rank - 1, rank + 1)


@given(data=st.data(), shape=feature_shape(max_rank=3, high=5))
def test_pad(data, shape):
    """Per-axis pairs with the batch row (0, 0) mostly; constant (with 0, a number or -inf),
    reflect and symmetric (TF's limits on pad sizes)."""
    pairs = [[0, 0]] + [[data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))]
                        for _ in shape]
    if data.draw(st.integers(0, 9)) == 0:
        pairs[0] = [1, 0]
    if data.draw(st.integers(0, 9)) == 0:
        pairs = pairs[:-1]
    mode = data.draw(st.sampled_from(["constant", "constant", "reflect", "symmetric"]))
    args = {"pad_width": pairs, "mode": mode}
    if mode == "constant":
        args["constant_values"] = data.draw(st.sampled_from([None, 0.0, 1.5, float("-inf")]))
    check_operation("Pad", args, shape)


@given(data=st.data(), shape=feature_shape(max_rank=3, high=8))
def test_split(data, shape):
    """Equal sections (dividing the axis or not) or sorted indices, every part."""
    axis = data.draw(ops_axis(len(shape)))
    assume(axis != 0)
    if data.draw(st.booleans()):
        sections = data.draw(st.integers(1, 4))
        parts = sections
    else:
        sections = sorted(data.draw(st.lists(st.integers(1, 7), min_size=1, max_size=3,
                                             unique=True)))
        parts = len(sections) + 1
    index = data.draw(st.integers(0, parts - 1))
    check_operation("Split", {"indices_or_sections": sections, "axis": axis, "index": index},
                    shape)


@pytest.mark.parametrize("op_type", ["Mean", "Sum", "Max", "Min"])
@given(data=st.data(), shape=feature_shape(max_rank=3, high=5))
def test_reduction(op_type, data, shape):
    rank = len(shape)
    axis = data.draw(st.one_of(ops_axis(rank), st.lists(ops_axis(rank), min_size=1,
                                                        max_size=3, unique=True)))
    axes = [axis] if isinstance(axis, int) else axis
    assume(len({a % (rank + 1) for a in axes}) == len(axes))  # test_repeated_axes_are_refused
    check_operation(op_type, {"axis": axis, "keepdims": data.draw(st.booleans())}, shape)


@given(data=st.data(), shape=feature_shape(max_rank=3, high=4))
def test_expand_dims(data, shape):
    check_operation("ExpandDims", {"axis": data.draw(st.integers(-len(shape) - 3,
                                                                 len(shape) + 2))}, shape)


@given(data=st.data())
def test_squeeze(data):
    shape = data.draw(st.lists(st.sampled_from([1, 1, 2, 3]), min_size=1, max_size=4))
    rank = len(shape)
    axis = data.draw(st.one_of(ops_axis(rank), st.lists(ops_axis(rank), min_size=1,
                                                        max_size=2, unique=True)))
    axes = [axis] if isinstance(axis, int) else axis
    assume(len({a % (rank + 1) for a in axes}) == len(axes))  # test_repeated_axes_are_refused
    check_operation("Squeeze", {"axis": axis}, tuple(shape))


def test_repeated_axes_are_refused():
    """[1, -2] names axis 1 of a rank-3 tensor twice: Keras's reductions refuse it, and its
    squeeze's symbolic shape drops the axis twice while the run drops it once."""
    for op_type in ("Squeeze", "Mean"):
        op = O.make_op(op_type, "layer", {"axis": [1, -2]})
        with pytest.raises(ConvplanError, match="names an axis twice"):
            analyze(tf_oracle.single_layer_graph(op, [(1, 1)]))


def test_batch_axis_is_refused():
    """keras.ops counts the batch as axis 0: padding, splitting or reducing it is refused with
    a reason, not analyzed."""
    for op_type, args in [("Pad", {"pad_width": [[1, 0], [0, 0]]}),
                          ("Split", {"indices_or_sections": 2, "axis": 0}),
                          ("Mean", {"axis": 0}), ("Sum", {"axis": [1, 0]})]:
        with pytest.raises(ConvplanError, match="batch axis"):
            O.make_op(op_type, "x", args)


# ---------------------------------------------------------------- receptive fields vs TF


def predicted(field, i: int) -> tuple[int, int] | None:
    phases = field.phases or ((0, field.size - 1),)
    k, r = divmod(i, len(phases))
    if phases[r] is None:
        return None
    base = field.start + k * field.stride * len(phases)
    return int(base + phases[r][0]), int(base + phases[r][1])


def compare_fields(op: O.Op, shape: tuple[int, ...]) -> None:
    """Each output position along each spatial axis: TF's gradient support equals convplan's
    field clipped to the input (TF clamps reads past the edges to the edge pixel), or lies
    inside it at the edges, where the clamp folds several reads onto one pixel."""
    graph = tf_oracle.single_layer_graph(op, [shape])
    plan = analyze(graph).layer(op.name)
    field = plan.receptive_field
    model = tf_oracle.build_keras_model(graph)
    rank = len(shape) - 1
    if field is None:  # every output reads only padding (a pad to the aspect ratio whose
        # taps all land in the pad: Resizing 2x2 of 2 x 6, bilinear): TF sees nothing either
        for axis in range(rank):
            assert all(got is None for got in forward_supports(model, shape, axis)), op
        return
    box = read_box(op, shape)
    # A tap at exactly a kernel zero (lanczos at whole distances, an antialiased kernel's
    # radius) has weight 0 in exact arithmetic; TF's float32 sample positions make it non-zero
    # at some outputs and not others, and convplan counts it: there the field is a bound.
    bound = isinstance(op, O.Resizing) and (op.interpolation.startswith("lanczos")
                                             or op.antialias)
    for axis in range(rank):
        measured = forward_supports(model, shape, axis)
        for i, got in enumerate(measured):
            want = predicted(field[axis], i)
            where = f"{op} on {shape}, axis {axis}, output {i}: TF {got}, convplan {want}"
            if want is None:
                assert got is None, where
                continue
            lo, hi = box[axis]
            clipped = (max(want[0], 0), min(want[1], shape[axis] - 1))
            edge = want[0] < lo or want[1] > hi
            if edge or bound:
                assert got is None or (clipped[0] <= got[0] and got[1] <= clipped[1]), where
            else:
                assert got == clipped, where


def read_box(op: O.Op, shape: tuple[int, ...]) -> list[tuple[int, int]]:
    """Per spatial axis the input pixels TF resamples from (reads past them are clamped to
    their edge): the centred crop Keras takes to the target's aspect ratio
    (keras/src/backend/tensorflow/image.py, utils/image_utils.smart_resize), else the whole
    input."""
    whole = [(0, n - 1) for n in shape[:-1]]
    if isinstance(op, O.CenterCrop) and all(n >= t for n, t in zip(shape, (op.height,
                                                                          op.width))):
        return whole
    crop = (isinstance(op, O.CenterCrop)
            or (isinstance(op, O.Resizing) and op.crop_to_aspect_ratio))
    if not crop:
        return whole
    h, w = shape[:2]
    crop_h = max(min(h, int(float(w * op.height) / op.width)), 1)
    crop_w = max(min(w, int(float(h * op.width) / op.height)), 1)
    top, left = int(float(h - crop_h) / 2), int(float(w - crop_w) / 2)
    return [(top, top + crop_h - 1), (left, left + crop_w - 1)]


def forward_supports(model, shape: tuple[int, ...], axis: int) -> list[tuple[int, int] | None]:
    """Per output index along `axis`: the first and last input index j whose hyperplane of
    ones (zeros elsewhere) makes it non-zero. Forward probes, not gradients: TF has no
    gradient for ResizeArea."""
    import numpy as np

    n = shape[axis]
    x = np.zeros((n, *shape), dtype="float32")
    for j in range(n):
        index = [j] + [slice(None)] * len(shape)
        index[axis + 1] = j
        x[tuple(index)] = 1.0
    y = np.abs(np.asarray(model(x, training=False)))
    others = tuple(a for a in range(1, y.ndim) if a != axis + 1)
    reached = y.sum(axis=others) > 0  # (input j, output i)
    result = []
    for i in range(reached.shape[1]):
        hits = np.flatnonzero(reached[:, i])
        result.append((int(hits[0]), int(hits[-1])) if len(hits) else None)
    return result


@pytest.mark.slow
@given(data=st.data())
def test_resizing_field_matches_gradients(data):
    """Integer and fractional factors both ways, every interpolation, antialias, crop and pad
    to the aspect ratio."""
    interpolation = data.draw(st.sampled_from(INTERPOLATIONS))
    fit = data.draw(st.sampled_from(["none", "none", "crop", "pad"]))
    op = O.Resizing(name="resize", height=data.draw(st.integers(2, 14)),
                    width=data.draw(st.integers(2, 14)), interpolation=interpolation,
                    antialias=data.draw(st.booleans()), crop_to_aspect_ratio=fit == "crop",
                    pad_to_aspect_ratio=fit == "pad")
    compare_fields(op, (data.draw(st.integers(2, 14)), data.draw(st.integers(2, 14)), 1))


@pytest.mark.slow
@given(data=st.data())
def test_crop_and_adaptive_fields_match_gradients(data):
    shape = (data.draw(st.integers(2, 12)), data.draw(st.integers(2, 12)), 1)
    kind = data.draw(st.sampled_from(["CenterCrop", "AdaptiveAveragePooling2D", "Pad", "Split"]))
    if kind == "CenterCrop":
        op = O.CenterCrop(name="op", height=data.draw(st.integers(1, 12)),
                          width=data.draw(st.integers(1, 12)))
    elif kind == "AdaptiveAveragePooling2D":
        op = O.AdaptiveAveragePooling2D(name="op", output_size=(
            data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))))
    elif kind == "Pad":
        op = O.Pad(name="op", pad_width=((0, 0), (data.draw(st.integers(0, 3)), 1),
                                         (2, data.draw(st.integers(0, 3))), (0, 0)))
    else:
        parts = data.draw(st.sampled_from([n for n in range(1, 5) if shape[0] % n == 0]))
        op = O.Split(name="op", indices_or_sections=parts, axis=1,
                     index=data.draw(st.integers(0, parts - 1)))
    compare_fields(op, shape)


@pytest.mark.parametrize("factor", [2, 3])
def test_integer_resize_has_the_field_of_upsampling(factor):
    """A Resizing by a whole factor reads what UpSampling2D of that size reads."""
    for interpolation in ("nearest", "bilinear", "bicubic"):
        resize = O.Resizing(name="r", height=5 * factor, width=4 * factor,
                            interpolation=interpolation)
        up = O.UpSampling2D(name="r", size=factor, interpolation=interpolation)
        fields = [analyze(tf_oracle.single_layer_graph(op, [(5, 4, 1)])).layer("r")
                  .receptive_field for op in (resize, up)]
        assert fields[0] == fields[1], interpolation


def test_a_wrong_resize_field_is_detected(monkeypatch):
    """The gradient comparison can fail: bilinear taps one pixel too narrow are caught."""
    from convplan.analysis import receptive

    monkeypatch.setitem(receptive.INTERPOLATION_TAPS, "bilinear", ((0, 0), (0, 0)))
    with pytest.raises(AssertionError):
        compare_fields(O.Resizing(name="r", height=7, width=3), (5, 4, 1))


def test_gcd_periods_stay_small():
    """A resize from 224 to 223 has a period of 223 outputs: analyzed without trouble."""
    op = O.Resizing(name="r", height=223, width=223)
    field = analyze(tf_oracle.single_layer_graph(op, [(224, 224, 1)])).layer("r").receptive_field
    assert float(field[0].stride) == pytest.approx(224 / 223) and math.isclose(field[0].size, 2)
