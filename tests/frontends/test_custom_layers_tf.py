"""A user's own layer class that changes shape (a strided, dilated convolution written with
keras.ops), saved to .keras and read with a declaration: convplan's shapes, params and MACs
must equal the built Keras layer's, its receptive field the gradient's support through the real
layer, and `verify` must pass on the saved model, or fail when the declaration is wrong."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tf_oracle import gradient_supports, mismatches, model_totals, set_positive_weights

from convplan import analyze, load
from convplan.cli.main import main
from convplan.errors import ShapeError, UsageError
from convplan.verify.compare import compare_axis, verify_model

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def strided_conv(keras):
    """A custom layer: a k x k convolution with stride and dilation, weights named as Keras's
    own (kernel, bias), registered so that a .keras file of it loads in this process."""

    @keras.saving.register_keras_serializable(package="convplan_tests")
    class StridedConv(keras.layers.Layer):
        def __init__(self, filters, size, stride, dilation, padding, **kwargs):
            super().__init__(**kwargs)
            self.filters, self.size, self.stride = filters, size, stride
            self.dilation, self.padding = dilation, padding

        def build(self, input_shape):
            self.kernel = self.add_weight(
                shape=(self.size, self.size, input_shape[-1], self.filters), name="kernel")
            self.bias = self.add_weight(shape=(self.filters,), name="bias")

        def call(self, x):
            y = keras.ops.conv(x, self.kernel, strides=self.stride, padding=self.padding,
                               dilation_rate=self.dilation)
            return y + self.bias

        def compute_output_shape(self, shape):
            span = (self.size - 1) * self.dilation + 1
            def length(n):
                if n is None:
                    return None
                return (n - 1) // self.stride + 1 if self.padding == "same" else \
                    (n - span) // self.stride + 1
            return (shape[0], length(shape[1]), length(shape[2]), self.filters)

        def get_config(self):
            return {**super().get_config(), "filters": self.filters, "size": self.size,
                    "stride": self.stride, "dilation": self.dilation, "padding": self.padding}

    return StridedConv


def _saved(keras, layer_class, tmp_path, size, stride, dilation, padding, filters, hw, c_in):
    x = keras.Input((*hw, c_in), name="image")
    y = keras.layers.Conv2D(4, 3, padding="same", name="stem")(x)
    y = layer_class(filters, size, stride, dilation, padding, name="down")(y)
    y = keras.layers.Conv2D(3, 2, name="after")(y)
    model = keras.Model(x, y, name="declared")
    path = tmp_path / "declared.keras"
    model.save(path)
    return model, path


def _declaration(size, stride, dilation, padding, filters) -> str:
    taps = size * size
    return (f"StridedConv=kernel_size={size},strides={stride},dilation_rate={dilation},"
            f"padding={padding},filters={filters},params={taps}*C_in*C_out+C_out,"
            f"macs_per_position={taps}*C_in*C_out,flops_per_element=1")


@st.composite
def blocks(draw):
    size, stride = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    dilation = 1 if stride > 1 else draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["valid", "same"]))
    hw = (draw(st.integers(6, 16)), draw(st.integers(6, 16)))
    span = (size - 1) * dilation + 1
    out = [(n - 1) // stride + 1 if padding == "same" else (n - span) // stride + 1 for n in hw]
    assume(min(out) >= 2)  # the 2 x 2 convolution after it needs two rows and columns
    return size, stride, dilation, padding, draw(st.integers(1, 5)), hw, draw(st.integers(1, 3))


@pytest.mark.slow
@settings(max_examples=8)
@given(block=blocks())
def test_a_declared_custom_layer_matches_the_real_one_layer_by_layer(keras, strided_conv,
                                                                    tmp_path_factory, block):
    size, stride, dilation, padding, filters, hw, c_in = block
    tmp_path = tmp_path_factory.mktemp("declared")
    model, path = _saved(keras, strided_conv, tmp_path, size, stride, dilation, padding,
                         filters, hw, c_in)
    with pytest.raises(Exception, match="StridedConv"):  # undeclared: refused, never guessed
        load(path)
    key, _, declared = _declaration(size, stride, dilation, padding, filters).partition("=")
    analysis = analyze(load(path, custom_layers={key: declared}))
    assert mismatches(model, analysis) == []
    assert (analysis.totals.params, analysis.totals.trainable_params) == model_totals(model)
    # the declared field is the real layer's: the gradient's support through it, per output,
    # compared as verify compares (inside the plan's interval clipped to the input; equal where
    # no border cuts it: a dilated tap in the stem's zero padding hides pixels the plan counts)
    set_positive_weights(model)
    probe = keras.Model(model.inputs, model.get_layer("down").output)
    out = analysis.layer("down").output_shape
    positions = [(i, j) for i in range(out[0]) for j in range(out[1])]
    field = analysis.layer("down").receptive_field
    seen = dict(zip(positions, gradient_supports(probe, (*hw, c_in), positions)))
    for axis in (0, 1):
        for other in range(out[1 - axis]):
            line = [seen[(p, other) if axis == 0 else (other, p)][axis] for p in range(out[axis])]
            ok, why = compare_axis(field[axis], line, hw[axis], uniform=True)
            assert ok, (axis, other, why)

@pytest.mark.slow
def test_verify_compares_the_declaration_with_the_saved_layer(keras, strided_conv, tmp_path):
    block = (3, 2, 1, "same", 6)
    model, path = _saved(keras, strided_conv, tmp_path, *block, (15, 12), 2)
    key, _, declared = _declaration(*block).partition("=")
    graph = load(path, custom_layers={key: declared})
    result = verify_model(graph, model_path=str(path))
    assert result.ok, result.mismatches
    down = next(layer for layer in result.layers if layer.name == "down")
    assert down.check("receptive_field").plan == "5x5" and down.check("receptive_field").ok
    # a wrong params formula is caught by the real layer's weights
    wrong = load(path, custom_layers={key: declared.replace("+C_out,", ",")})
    assert [c.quantity for _, c in verify_model(wrong, model_path=str(path),
                                               fields=False).mismatches] == ["trainable_params"]


@pytest.mark.slow
def test_verify_cli_needs_the_module_that_registers_the_class(keras, tmp_path, capsys,
                                                              monkeypatch):
    """In a fresh process Keras knows a custom class only once its module is imported."""
    module = tmp_path / "my_blocks.py"
    module.write_text(
        "import keras\n\n\n"
        "@keras.saving.register_keras_serializable(package='my_blocks')\n"
        "class Halve(keras.layers.Layer):\n"
        "    def call(self, x):\n"
        "        return keras.ops.average_pool(x, 2, strides=2, padding='valid')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    blocks_module = importlib.import_module("my_blocks")
    x = keras.Input((8, 10, 3), name="image")
    y = blocks_module.Halve(name="halve")(keras.layers.Conv2D(4, 3, name="conv")(x))
    keras.Model(x, keras.layers.Conv2D(2, 1, name="head")(y), name="halved").save("h.keras")
    declaration = ["--custom-layer", "Halve=kernel_size=2,strides=2"]
    assert main(["verify", "h.keras", *declaration, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["mismatches"] == 0, report
    halve = next(layer for layer in report["layers"] if layer["name"] == "halve")
    assert {c["quantity"] for c in halve["checks"]} >= {"output_shape", "receptive_field"}
    # the model as another process sees it, before the module is imported: a one-line error
    from keras.saving import get_custom_objects

    get_custom_objects().pop("my_blocks>Halve")
    assert main(["verify", "h.keras", *declaration]) == 2
    err = capsys.readouterr().err
    assert "does not know the class 'Halve'" in err and "--module" in err
    assert main(["verify", "h.keras", *declaration, "--module", "my_blocks_missing"]) == 2
    assert "cannot import it" in capsys.readouterr().err


def test_a_real_padding_layer_declared_as_identity_is_an_error_naming_both(keras, tmp_path):
    @keras.saving.register_keras_serializable(package="convplan_tests")
    class PadOne(keras.layers.Layer):
        def call(self, x):
            return keras.ops.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])

    x = keras.Input((8, 8, 3))
    y = keras.layers.Conv2D(4, 3, name="conv_3")(PadOne(name="pad_1")(x))
    path = tmp_path / "padded.keras"
    keras.Model(x, y).save(path)
    with pytest.raises(ShapeError, match="layer 'pad_1' \\(Custom PadOne\\): the declared "
                       "identity .* next layer 'conv_3' was saved with input shape "
                       "\\(None, 10, 10, 3\\)"):
        load(path, custom_layers={"PadOne": "identity"})
    with pytest.raises(UsageError, match="strides must be a non-negative integer"):
        load(path, custom_layers={"PadOne": "strides=-1"})
