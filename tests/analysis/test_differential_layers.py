"""Every op in convplan.ir.ops.OPS against the real Keras layer, with hypothesis drawing the
arguments and input sizes.

For one drawn configuration the same Keras arguments go to `keras.layers.<Op>` (applied to a
symbolic keras.Input, nothing executed) and to convplan (`make_op` + `analyze`). Either both
accept it, with identical output shape, trainable and non-trainable params and MACs (the Keras
MACs are read off the built layer's kernels, see tests/tf_oracle.py), or both reject it. Where
the symbolic Keras layer accepts what convplan rejects, the layer is executed once: if TF fails
at run time too, convplan was right to reject it; if it runs, convplan has a bug.

Example counts come from the hypothesis profile (tests/conftest.py, CONVPLAN_HYPOTHESIS_PROFILE).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convplan import analyze as analyze_graph
from convplan.ir import ops as O

pytestmark = pytest.mark.tf

import tf_oracle  # noqa: E402 - the oracle lives beside the tests

SIZE_LIMIT = {1: 14, 2: 10, 3: 6}
ACTIVATIONS = [None, "linear", "relu", "sigmoid", "tanh"]


def ops_of(base: type) -> list[str]:
    return [name for name, cls in O.OPS.items() if issubclass(cls, base)]


def rank_of(op_type: str) -> int:
    return O.OPS[op_type].spatial_rank


# ---------------------------------------------------------------- the comparison


def check(op_type: str, args: dict, input_shapes: list[tuple[int, ...]]) -> None:
    """Assert convplan and Keras agree on `op_type(**args)` applied to `input_shapes`."""
    cmp = tf_oracle.compare_layer(op_type, args, input_shapes)
    where = f"{op_type}({args}) on {input_shapes}"
    if cmp.keras.ok and cmp.convplan.ok:
        assert cmp.convplan.facts == cmp.keras.facts, where
        rebuilt = tf_oracle.keras_facts(tf_oracle.keras_layer_from_op(cmp.op), input_shapes,
                                        issubclass(O.OPS[op_type], O.Merge))
        assert rebuilt == cmp.keras.facts, f"keras_build lost an argument: {where}"
    elif cmp.keras.ok:
        # Keras builds it symbolically; convplan's rejection is right only if TF cannot run it
        # as built (an error, or a shape when run that is not its symbolic one)
        import keras

        runs = tf_oracle.outcome(lambda: tf_oracle.keras_executes(
            lambda: getattr(keras.layers, op_type)(**args), input_shapes,
            issubclass(O.OPS[op_type], O.Merge)))
        assert not (runs.ok and runs.facts == cmp.keras.facts.output_shape), (
            f"convplan rejects what Keras accepts and runs: {where}: {cmp.convplan.error}")
    else:
        assert not cmp.convplan.ok, (f"Keras rejects, convplan accepts: {where}: "
                                     f"{cmp.keras.error}; convplan: {cmp.convplan.facts}")


# ---------------------------------------------------------------- strategies


def per_axis(rank: int, low: int, high: int) -> st.SearchStrategy:
    """An int (Keras broadcasts it) or a tuple of one int per axis."""
    one = st.integers(low, high)
    return st.one_of(one, st.tuples(*[one] * rank))


def spatial_shape(rank: int, low: int = 1) -> st.SearchStrategy:
    return st.tuples(*[st.integers(low, SIZE_LIMIT[rank])] * rank)


def as_tuple(value, rank: int) -> tuple[int, ...]:
    return (value,) * rank if isinstance(value, int) else tuple(value)


@st.composite
def strides_and_dilation(draw, rank: int) -> tuple:
    """Mostly one of the two > 1 (Keras rejects both on Conv*), sometimes both."""
    mode = draw(st.sampled_from(["strides", "dilation", "neither", "both"]))
    strides = draw(per_axis(rank, 1, 3)) if mode in ("strides", "both") else 1
    dilation = draw(per_axis(rank, 1, 3)) if mode in ("dilation", "both") else 1
    return strides, dilation


@st.composite
def window_args(draw, rank: int, paddings=("valid", "same")) -> dict:
    strides, dilation = draw(strides_and_dilation(rank))
    return {
        "kernel_size": draw(per_axis(rank, 1, {1: 5, 2: 4, 3: 3}[rank])),
        "strides": strides,
        "dilation_rate": dilation,
        "padding": draw(st.sampled_from(paddings)),
        "use_bias": draw(st.booleans()),
        "activation": draw(st.sampled_from(ACTIVATIONS)),
    }


# ---------------------------------------------------------------- convolutions


@pytest.mark.parametrize("op_type", ["Conv1D", "Conv2D", "Conv3D"])
@given(data=st.data())
def test_conv(op_type, data):
    rank = rank_of(op_type)
    args = data.draw(window_args(rank, ("valid", "same", "valid", "same", "causal")))
    groups = data.draw(st.sampled_from([1, 1, 2, 3]))
    # Mostly divisible channel and filter counts; sometimes not (both sides must reject).
    cin = groups * data.draw(st.integers(1, 3)) + data.draw(st.sampled_from([0, 0, 0, 0, 1]))
    filters = groups * data.draw(st.integers(1, 3)) + data.draw(st.sampled_from([0, 0, 0, 0, 1]))
    args.update(filters=filters, groups=groups)
    check(op_type, args, [(*data.draw(spatial_shape(rank)), cin)])


@pytest.mark.parametrize("op_type", ["DepthwiseConv1D", "DepthwiseConv2D"])
@given(data=st.data())
def test_depthwise_conv(op_type, data):
    rank = rank_of(op_type)
    args = data.draw(window_args(rank))
    args["depth_multiplier"] = data.draw(st.integers(1, 3))
    check(op_type, args, [(*data.draw(spatial_shape(rank)), data.draw(st.integers(1, 4)))])


@pytest.mark.parametrize("op_type", ["SeparableConv1D", "SeparableConv2D"])
@given(data=st.data())
def test_separable_conv(op_type, data):
    rank = rank_of(op_type)
    args = data.draw(window_args(rank))
    args.update(filters=data.draw(st.integers(1, 5)),
                depth_multiplier=data.draw(st.integers(1, 3)))
    check(op_type, args, [(*data.draw(spatial_shape(rank)), data.draw(st.integers(1, 4)))])


@pytest.mark.parametrize("op_type", ["Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"])
@given(data=st.data())
def test_conv_transpose(op_type, data):
    rank = rank_of(op_type)
    args = data.draw(window_args(rank))
    args["filters"] = data.draw(st.integers(1, 4))
    if data.draw(st.booleans()):
        # Up to the stride itself, which Keras rejects (output_padding must be < strides).
        strides = as_tuple(args["strides"], rank)
        args["output_padding"] = data.draw(st.one_of(
            st.integers(0, max(strides)),
            st.tuples(*[st.integers(0, s) for s in strides])))
    check(op_type, args, [(*data.draw(spatial_shape(rank)), data.draw(st.integers(1, 3)))])


# ---------------------------------------------------------------- pooling


@pytest.mark.parametrize("op_type", ops_of(O.Pooling))
@given(data=st.data())
def test_pooling(op_type, data):
    rank = rank_of(op_type)
    args = {"pool_size": data.draw(per_axis(rank, 1, 4)),
            "padding": data.draw(st.sampled_from(["valid", "same"]))}
    if data.draw(st.booleans()):
        args["strides"] = data.draw(st.one_of(st.none(), per_axis(rank, 1, 4)))
    check(op_type, args, [(*data.draw(spatial_shape(rank)), data.draw(st.integers(1, 3)))])


@pytest.mark.parametrize("op_type", ops_of(O.GlobalPooling))
@given(data=st.data())
def test_global_pooling(op_type, data):
    rank = rank_of(op_type)
    # Sometimes an input of the wrong rank: both must reject it.
    input_rank = data.draw(st.sampled_from([rank, rank, rank, max(1, rank - 1), rank + 1]))
    shape = data.draw(st.tuples(*[st.integers(1, 6)] * (input_rank + 1)))
    check(op_type, {"keepdims": data.draw(st.booleans())}, [shape])


# ---------------------------------------------------------------- normalization, activations


def feature_shape(max_rank: int = 4, high: int = 6) -> st.SearchStrategy:
    return st.integers(1, max_rank).flatmap(lambda r: st.tuples(*[st.integers(1, high)] * r))


def axis_for(shape: tuple[int, ...]) -> st.SearchStrategy:
    """A Keras axis for a batched input of per-example `shape`: any but the batch axis (see
    test_batch_axis_is_refused), in range or one beyond (both must reject that)."""
    rank = len(shape) + 1
    return st.integers(-rank + 1, rank).filter(lambda a: a != 0)


@given(data=st.data(), shape=feature_shape())
def test_batch_normalization(data, shape):
    args = {"axis": data.draw(axis_for(shape)), "center": data.draw(st.booleans()),
            "scale": data.draw(st.booleans()),
            "momentum": data.draw(st.floats(0.0, 1.0)),
            "epsilon": data.draw(st.floats(1e-5, 0.1))}
    check("BatchNormalization", args, [shape])


@given(data=st.data(), shape=feature_shape())
def test_layer_normalization(data, shape):
    args = {"axis": data.draw(axis_for(shape)), "center": data.draw(st.booleans()),
            "scale": data.draw(st.booleans()), "epsilon": data.draw(st.floats(1e-5, 0.1))}
    check("LayerNormalization", args, [shape])


@given(data=st.data(), shape=feature_shape())
def test_normalization(data, shape):
    axis = data.draw(axis_for(shape))
    args: dict = {"axis": axis, "invert": data.draw(st.booleans())}
    form = data.draw(st.sampled_from(["none", "scalar", "list"]))
    if form == "scalar":
        args.update(mean=data.draw(st.floats(-2, 2)), variance=data.draw(st.floats(0.5, 2)))
    elif form == "list":
        # One statistic per feature on the kept axis, sometimes the wrong count.
        index = axis - 1 if axis > 0 else len(shape) + axis
        n = shape[index] if 0 <= index < len(shape) else 2
        n += data.draw(st.sampled_from([0, 0, 0, 1]))
        args.update(mean=[float(i) for i in range(n)], variance=[1.0 + i for i in range(n)])
    check("Normalization", args, [shape])


@pytest.mark.parametrize("op_type, args, shapes", [
    ("Softmax", {"axis": -3}, [(4, 3)]),
    ("LayerNormalization", {"axis": -4, "center": False, "scale": False}, [(4, 3, 2)]),
    ("Concatenate", {"axis": -3}, [(4, 3), (4, 3)]),
    ("Concatenate", {"axis": 0}, [(4, 3), (4, 3)]),
])
def test_batch_axis_is_refused(op_type, args, shapes):
    """A deliberate divergence: Keras runs these ops across the batch axis; convplan plans
    layers that work within one example and refuses them with one clear line."""
    import keras

    merge = issubclass(O.OPS[op_type], O.Merge)
    tf_oracle.keras_executes(lambda: getattr(keras.layers, op_type)(**args), shapes, merge)
    cmp = tf_oracle.compare_layer(op_type, args, shapes)
    assert cmp.keras.ok and not cmp.convplan.ok
    assert "batch axis" in cmp.convplan.error


KERAS_ACTIVATIONS = [
    "celu", "elu", "exponential", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu",
    "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
    "relu", "relu6", "selu", "sigmoid", "silu", "soft_shrink", "softmax", "softplus", "softsign",
    "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink",
    "threshold"]


UNMODELLED = ["glu", "threshold"]


@given(activation=st.sampled_from([a for a in KERAS_ACTIVATIONS if a not in UNMODELLED]),
       shape=feature_shape())
def test_activation(activation, shape):
    check("Activation", {"activation": activation}, [shape])


def test_every_keras_activation_is_known():
    import keras

    names = set(keras.src.activations.ALL_OBJECTS_DICT)
    assert names == set(KERAS_ACTIVATIONS)


def test_glu_and_threshold_are_refused_where_symbolic_keras_is_wrong():
    """Symbolic Keras keeps the shape for both; run, glu halves the last axis and threshold
    fails. convplan refuses both rather than copy a wrong shape."""
    import keras

    glu = lambda: keras.layers.Activation("glu")  # noqa: E731
    assert tf_oracle.keras_facts(glu(), [(3, 4)]).output_shape == (3, 4)
    assert tf_oracle.keras_executes(glu, [(3, 4)]) == (3, 2)
    threshold = lambda: keras.layers.Activation("threshold")  # noqa: E731
    assert not tf_oracle.outcome(lambda: tf_oracle.keras_executes(threshold, [(3, 4)])).ok
    for name in UNMODELLED:
        cmp = tf_oracle.compare_layer("Activation", {"activation": name}, [(3, 4)])
        assert cmp.convplan.error.startswith("UnsupportedError"), cmp.convplan


@given(data=st.data(), shape=feature_shape())
def test_relu(data, shape):
    args = {"max_value": data.draw(st.one_of(st.none(), st.floats(0, 6), st.floats(-1, 6))),
            "negative_slope": data.draw(st.one_of(st.floats(0, 1), st.floats(-0.5, 1))),
            "threshold": data.draw(st.one_of(st.floats(0, 1), st.floats(-1, 1)))}
    check("ReLU", args, [shape])


@given(slope=st.floats(-0.5, 1), shape=feature_shape())
def test_leaky_relu(slope, shape):
    check("LeakyReLU", {"negative_slope": slope}, [shape])


@given(data=st.data(), shape=feature_shape())
def test_softmax(data, shape):
    check("Softmax", {"axis": data.draw(axis_for(shape))}, [shape])


@pytest.mark.parametrize("op_type", ["Dropout", "SpatialDropout1D", "SpatialDropout2D",
                                     "SpatialDropout3D", "GaussianDropout", "AlphaDropout"])
@given(data=st.data())
def test_dropout(op_type, data):
    rate = data.draw(st.one_of(st.floats(0, 1), st.floats(-0.5, 1.5)))
    rank = O.OPS[op_type].spatial_rank
    if rank is None:
        shape = data.draw(feature_shape())
    else:
        input_rank = data.draw(st.sampled_from([rank, rank, rank, rank + 1, max(1, rank - 1)]))
        shape = data.draw(st.tuples(*[st.integers(1, 5)] * (input_rank + 1)))
    check(op_type, {"rate": rate}, [shape])


@given(data=st.data(), shape=feature_shape())
def test_rescaling(data, shape):
    args = {"scale": data.draw(st.floats(-3, 3)), "offset": data.draw(st.floats(-3, 3))}
    check("Rescaling", args, [shape])


# ---------------------------------------------------------------- normalizations, noise, PReLU


@given(data=st.data(), shape=feature_shape())
def test_group_normalization(data, shape):
    """groups -1 (one per channel), divisors of the axis's size and not (both must reject)."""
    axis = data.draw(axis_for(shape))
    args = {"axis": axis, "groups": data.draw(st.sampled_from([-1, 1, 2, 3, 4, 6, 32])),
            "center": data.draw(st.booleans()), "scale": data.draw(st.booleans()),
            "epsilon": data.draw(st.floats(1e-5, 0.1))}
    check("GroupNormalization", args, [shape])


@given(data=st.data(), shape=feature_shape())
def test_unit_normalization(data, shape):
    check("UnitNormalization", {"axis": data.draw(axis_for(shape))}, [shape])


@given(data=st.data(), shape=feature_shape())
def test_rms_normalization(data, shape):
    args = {"axis": data.draw(axis_for(shape)), "epsilon": data.draw(st.floats(1e-7, 0.1))}
    check("RMSNormalization", args, [shape])


@pytest.mark.parametrize("shape, runs_to", [((6, 1), (6, 6)), ((4, 3), None), ((1, 5), (1, 5)),
                                            ((5, 5), (5, 5))])
def test_rms_normalization_off_the_last_axis(shape, runs_to):
    """Why convplan refuses some axes: Keras broadcasts the scale (one per feature of `axis`)
    against the last axis, so axis 1 of (6, 1) runs to (6, 6) and of (4, 3) fails; sizes 1 or
    equal to the last axis's keep the shape, and convplan plans them."""
    import keras

    from convplan.errors import ShapeError

    run = tf_oracle.outcome(lambda: tf_oracle.keras_executes(
        lambda: keras.layers.RMSNormalization(axis=1), [shape]))
    assert (run.facts if run.ok else None) == runs_to
    graph = tf_oracle.single_layer_graph(O.make_op("RMSNormalization", "r", {"axis": 1}),
                                         [shape])
    if runs_to == shape:
        assert analyze_graph(graph).layer("r").output_shape == shape
    else:
        with pytest.raises(ShapeError, match="broadcasts its scale against the last axis"):
            analyze_graph(graph)


@given(alpha=st.floats(-1, 2), shape=feature_shape())
def test_elu(alpha, shape):
    check("ELU", {"alpha": alpha}, [shape])


@given(data=st.data(), shape=feature_shape())
def test_prelu(data, shape):
    """shared_axes: none, one axis or several, in range, 0 or negative (Keras indexes the shape
    with axis - 1) or beyond the rank (both must reject)."""
    rank = len(shape)
    one = st.integers(-rank - 1, rank + 1)
    shared = data.draw(st.one_of(st.none(), one, st.lists(one, min_size=1, max_size=3)))
    check("PReLU", {} if shared is None else {"shared_axes": shared}, [shape])


@given(stddev=st.one_of(st.floats(0, 1), st.floats(-0.5, 1.5)), shape=feature_shape())
def test_gaussian_noise(stddev, shape):
    check("GaussianNoise", {"stddev": stddev}, [shape])


@given(l1=st.floats(-0.1, 1), l2=st.floats(-0.1, 1), shape=feature_shape())
def test_activity_regularization(l1, l2, shape):
    check("ActivityRegularization", {"l1": l1, "l2": l2}, [shape])


# ---------------------------------------------------------------- augmentation (inference: identity)

small = st.floats(0.05, 0.5)
spread = st.one_of(small, st.tuples(st.floats(-0.3, 0.0), st.floats(0.05, 0.3)))
unit = st.one_of(small, st.tuples(st.floats(0.0, 0.2), st.floats(0.25, 0.6)))
FILL = {"fill_mode": st.sampled_from(["reflect", "wrap", "constant", "nearest"]),
        "interpolation": st.sampled_from(["nearest", "bilinear"]),
        "fill_value": st.floats(0, 1)}
RANGE = {"value_range": st.sampled_from([(0, 255), (0, 1), [-1, 1]])}
# Keras's arguments of each augmentation layer, drawn from the values its docs allow:
# (required, optional).
AUGMENTATION_ARGUMENTS: dict[str, tuple[dict, dict]] = {
    "AugMix": ({}, {**RANGE, "num_chains": st.integers(1, 4), "chain_depth": st.integers(1, 4),
                    "factor": small, "alpha": st.floats(0.1, 2), "all_ops": st.booleans(),
                    "interpolation": FILL["interpolation"]}),
    "CutMix": ({}, {"factor": st.floats(0.1, 1)}),
    "MixUp": ({}, {"alpha": st.floats(0.1, 1)}),
    "RandAugment": ({}, {**RANGE, "num_ops": st.integers(1, 3), "factor": small,
                         "interpolation": FILL["interpolation"]}),
    "RandomBrightness": ({"factor": spread}, RANGE),
    "RandomColorDegeneration": ({"factor": unit}, RANGE),
    "RandomColorJitter": ({}, {**RANGE, "brightness_factor": spread, "contrast_factor": unit,
                               "saturation_factor": unit, "hue_factor": unit}),
    "RandomContrast": ({"factor": unit}, RANGE),
    "RandomElasticTransform": ({}, {**RANGE, **FILL, "factor": unit,
                                    "scale": st.floats(0.1, 1)}),
    "RandomErasing": ({}, {**RANGE, "factor": unit, "fill_value": st.floats(0, 1),
                           "scale": st.tuples(st.floats(0.02, 0.1), st.floats(0.2, 0.4))}),
    "RandomFlip": ({}, {"mode": st.sampled_from(["horizontal", "vertical",
                                                  "horizontal_and_vertical"])}),
    "RandomGaussianBlur": ({}, {**RANGE, "factor": unit, "kernel_size": st.sampled_from([3, 5]),
                                "sigma": st.floats(0.1, 1)}),
    "RandomGrayscale": ({}, {"factor": st.floats(0, 1)}),
    "RandomHue": ({"factor": unit}, RANGE),
    "RandomInvert": ({}, {**RANGE, "factor": unit}),
    "RandomPerspective": ({}, {"factor": unit, "scale": st.floats(0.1, 1),
                               "interpolation": FILL["interpolation"],
                               "fill_value": st.floats(0, 1)}),
    "RandomPosterization": ({"factor": st.tuples(st.integers(1, 3), st.integers(4, 8))}, RANGE),
    "RandomRotation": ({"factor": spread}, FILL),
    "RandomSaturation": ({"factor": unit}, RANGE),
    "RandomSharpness": ({"factor": unit}, RANGE),
    "RandomShear": ({}, {**FILL, "x_factor": unit, "y_factor": unit}),
    "RandomTranslation": ({"height_factor": spread, "width_factor": spread}, FILL),
    "RandomZoom": ({"height_factor": spread}, {**FILL, "width_factor": spread}),
    "Solarization": ({}, {**RANGE, "addition_factor": unit, "threshold_factor": unit}),
}


def keras_config(layer) -> dict:
    """A layer's config without its name and seed (verify and codegen keep neither), lists
    as tuples (Keras stores value_range=[0, 1] as it was given)."""
    def plain(value):
        return tuple(plain(v) for v in value) if isinstance(value, (list, tuple)) else value

    return {k: plain(v) for k, v in layer.get_config().items() if k not in ("name", "seed")}


@pytest.mark.parametrize("op_type", [cls.__name__ for cls in O.AUGMENTATIONS])
@given(data=st.data())
def test_augmentation(op_type, data):
    """The identity at inference: Keras's shape and no weights; and the layer convplan builds
    again (verify, codegen) has the config of the one built from the same arguments."""
    import keras

    required, optional = AUGMENTATION_ARGUMENTS[op_type]
    args = {key: data.draw(value) for key, value in required.items()}
    for key in data.draw(st.lists(st.sampled_from(sorted(optional)), unique=True)
                         if optional else st.just([])):
        args[key] = data.draw(optional[key])
    shape = (*data.draw(spatial_shape(2)), data.draw(st.sampled_from([1, 2, 3, 3, 4])))
    check(op_type, args, [shape])
    op = O.make_op(op_type, "layer", dict(args))
    rebuilt = tf_oracle.keras_layer_from_op(op)
    assert keras_config(rebuilt) == keras_config(getattr(keras.layers, op_type)(**args))


def test_every_augmentation_is_drawn():
    assert set(AUGMENTATION_ARGUMENTS) == {cls.__name__ for cls in O.AUGMENTATIONS}


@pytest.mark.parametrize("shape", [(5, 3), (4, 4, 4, 3)])
def test_augmentation_wants_images(shape):
    """A deliberate divergence: Keras takes a (batch, length, channels) tensor for one unbatched
    image (and lets a 5-D one through symbolically); convplan wants a batch of images."""
    cmp = tf_oracle.compare_layer("RandomFlip", {}, [shape])
    assert cmp.keras.ok and not cmp.convplan.ok
    assert "rank-4 input" in cmp.convplan.error


# ---------------------------------------------------------------- dense and reshaping


@given(data=st.data(), shape=feature_shape(max_rank=3, high=8))
def test_dense(data, shape):
    args = {"units": data.draw(st.integers(1, 9)), "use_bias": data.draw(st.booleans()),
            "activation": data.draw(st.sampled_from(ACTIVATIONS))}
    check("Dense", args, [shape])


@given(shape=feature_shape())
def test_flatten(shape):
    check("Flatten", {}, [shape])


@given(data=st.data(), shape=feature_shape(max_rank=3))
def test_reshape(data, shape):
    size = 1
    for d in shape:
        size *= d
    # Factor the size into a target shape; sometimes use a wrong total; maybe one -1.
    target = []
    left = size
    for _ in range(data.draw(st.integers(0, 2))):
        divisors = [d for d in range(1, left + 1) if left % d == 0]
        d = data.draw(st.sampled_from(divisors))
        target.append(d)
        left //= d
    target.append(left)
    if data.draw(st.integers(0, 4)) == 0:
        target[-1] += 1
    if data.draw(st.booleans()):
        target[data.draw(st.integers(0, len(target) - 1))] = -1
    check("Reshape", {"target_shape": tuple(target)}, [shape])


@pytest.mark.parametrize("op_type", ops_of(O.UpSampling))
@given(data=st.data())
def test_upsampling(op_type, data):
    rank = rank_of(op_type)
    size = data.draw(st.integers(1, 3) if rank == 1 else per_axis(rank, 1, 3))
    args = {"size": size}
    if op_type == "UpSampling2D":
        args["interpolation"] = data.draw(st.sampled_from(["nearest", "bilinear"]))
    check(op_type, args, [(*data.draw(spatial_shape(rank)), data.draw(st.integers(1, 3)))])


def pad_amounts(rank: int, high: int) -> st.SearchStrategy:
    """Every form Keras accepts: int; for 1D a pair; for 2D/3D `rank` ints, `rank` pairs,
    or a mix of ints and pairs."""
    one = st.integers(0, high)
    pair = st.tuples(one, one)
    if rank == 1:
        return st.one_of(one, pair)
    return st.one_of(one, st.tuples(*[one] * rank), st.tuples(*[pair] * rank),
                     st.tuples(*[st.one_of(one, pair)] * rank))


@pytest.mark.parametrize("op_type", ops_of(O.ZeroPadding) + ops_of(O.Cropping))
@given(data=st.data())
def test_zero_padding_and_cropping(op_type, data):
    rank = rank_of(op_type)
    key, high = ("padding", 3) if op_type.startswith("Zero") else ("cropping", 2)
    args = {key: data.draw(pad_amounts(rank, high))}
    check(op_type, args, [(*data.draw(spatial_shape(rank)), data.draw(st.integers(1, 3)))])


# ---------------------------------------------------------------- merges

ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]


@st.composite
def broadcast_shapes(draw, count: int) -> list[tuple[int, ...]]:
    """Shapes that mostly broadcast (dims equal or 1), sometimes of a lower rank, sometimes
    with a mismatched dim (both must reject those)."""
    base = draw(feature_shape(max_rank=3, high=5))
    shapes = []
    for _ in range(count):
        dims = [draw(st.sampled_from([d, d, d, 1])) for d in base]
        if draw(st.integers(0, 9)) == 0:
            dims[draw(st.integers(0, len(dims) - 1))] += 1
        if len(dims) > 1 and draw(st.integers(0, 5)) == 0:
            dims = dims[1:]
        shapes.append(tuple(dims))
    return shapes


@pytest.mark.parametrize("op_type", ELEMENTWISE)
@given(data=st.data())
def test_elementwise_merge(op_type, data):
    count = 2 if op_type == "Subtract" else data.draw(st.integers(2, 3))
    check(op_type, {}, data.draw(broadcast_shapes(count)))


@given(data=st.data())
def test_concatenate(data):
    base = data.draw(feature_shape(max_rank=3, high=5))
    axis = data.draw(axis_for(base))
    index = axis - 1 if axis > 0 else len(base) + axis
    shapes = []
    for _ in range(data.draw(st.integers(2, 3))):
        dims = list(base)
        if 0 <= index < len(dims):
            dims[index] = data.draw(st.integers(1, 5))
        if data.draw(st.integers(0, 9)) == 0:
            dims[data.draw(st.integers(0, len(dims) - 1))] += 1
        shapes.append(tuple(dims))
    check("Concatenate", {"axis": axis}, shapes)


# ---------------------------------------------------------------- regressions

REGRESSIONS = [
    # (op, Keras arguments, input shapes, Keras accepts): bugs these tests found.
    ("ReLU", {"threshold": -1.0}, [(3,)], False),  # convplan took a negative threshold
    ("Normalization", {"mean": [0.0, 1.0], "variance": [1.0, 1.0]}, [(4, 3)], False),
    ("Normalization", {"mean": [0.0, 1.0], "variance": [1.0]}, [(4, 2)], False),
    ("Normalization", {"mean": [0.5], "variance": [2.0]}, [(4, 3)], True),
    ("Normalization", {"mean": (0.0, 1.0), "variance": (1.0, 2.0)}, [(4, 2)], True),
    ("Add", {}, [(4, 3), (5, 4, 3)], True),  # merges broadcast across ranks, as numpy does
    ("Multiply", {}, [(5, 1, 3), (3,), (4, 1)], True),
    ("Maximum", {}, [(4, 3), (5, 2, 3)], False),
    ("Activation", {"activation": "celu"}, [(3,)], True),  # was refused
    ("Activation", {"activation": "sparsemax"}, [(2, 5)], True),
    ("AveragePooling2D", {}, [(4, 4, 1)], False),  # no default pool_size in Keras 3 (had 2)
    ("AveragePooling1D", {}, [(4, 1)], False),
    ("MaxPooling3D", {}, [(4, 4, 4, 1)], True),  # MaxPooling's default pool_size is 2
    ("SpatialDropout3D", {"rate": 0.2, "data_format": "channels_last"}, [(2, 2, 2, 1)], True),
]


@pytest.mark.parametrize("op_type, args, shapes, accepted", REGRESSIONS)
def test_regression(op_type, args, shapes, accepted):
    assert tf_oracle.compare_layer(op_type, args, shapes).keras.ok == accepted
    check(op_type, args, shapes)


# ---------------------------------------------------------------- coverage


TESTED = (ops_of(O.Conv) + ops_of(O.Depthwise) + ops_of(O.ConvTranspose)
          + ops_of(O.Pooling) + ops_of(O.GlobalPooling) + ops_of(O.UpSampling)
          + ops_of(O.ZeroPadding) + ops_of(O.Cropping) + ops_of(O.Dropout) + ELEMENTWISE
          + ["BatchNormalization", "LayerNormalization", "Normalization", "Activation", "ReLU",
             "LeakyReLU", "Softmax", "Rescaling", "Dense", "Flatten", "Reshape", "Concatenate",
             "InputLayer"]
          + ["GroupNormalization", "UnitNormalization", "RMSNormalization", "ELU", "PReLU",
             "GaussianNoise", "ActivityRegularization"]
          + [cls.__name__ for cls in O.AUGMENTATIONS]
          # ops_structural's: tests/analysis/test_differential_structural.py, which checks
          # that it tests every one of them
          + [name for name, cls in O.OPS.items() if cls.__module__.endswith(".ops_structural")])


# Ops without a Keras class of their own (a declared layer's behaviour is the user's word).
NO_KERAS_CLASS = ["Custom"]


def test_every_op_has_a_differential_test():
    """A new op in OPS must get a differential test here (InputLayer is used by all)."""
    assert set(O.OPS) <= set(TESTED) | set(NO_KERAS_CLASS), sorted(set(O.OPS) - set(TESTED))


def test_a_mismatch_is_detected(monkeypatch):
    """The comparison can fail: a deliberately wrong convplan rule must be caught."""
    from convplan.analysis import counts

    wrong = dict(counts.COUNT_RULES)
    wrong[O.Conv] = lambda op, ins, out: counts.Counts(trainable=1)
    monkeypatch.setattr(counts, "COUNT_RULES", wrong)
    with pytest.raises(AssertionError):
        check("Conv2D", {"filters": 2, "kernel_size": 3}, [(5, 5, 1)])


def test_both_reject_strides_with_dilation():
    """Keras rejects strides 2 with dilation 2 on Conv2D, and so does convplan."""
    cmp = tf_oracle.compare_layer("Conv2D", {"filters": 2, "kernel_size": 3, "strides": 2,
                                             "dilation_rate": 2}, [(9, 9, 1)])
    assert not cmp.keras.ok and not cmp.convplan.ok
