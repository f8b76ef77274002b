"""keras-hub's vision backbones, built from configs (no presets, nothing downloaded), against the
plan convplan reads from them: live (`from_keras`, whatever the model's class) and saved (a
`.keras` archive or the JSON, which hold only the Backbone's constructor arguments), layer by
layer as `tests/analysis/test_applications.py` compares keras.applications (`tf_oracle`).

keras-hub is part of the development install (`make test`: the `hub` extra and keras-hub itself,
without its tensorflow-text dependency); a missing keras-hub fails here, it is not skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cli_run import one_error_line, run_cli
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convplan import analyze, from_keras, load
from convplan.errors import ConvplanError, UnsupportedError

# Small configs of each family, so a test builds its backbone in about a second.
BACKBONES = {
    "ResNet": ("ResNetBackbone", dict(
        input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 128],
        stackwise_num_blocks=[2, 1], stackwise_num_strides=[1, 2],
        block_type="bottleneck_block", image_shape=(64, 64, 3))),
    "ResNetV2": ("ResNetBackbone", dict(  # pre-activation: keras.ops.pad with -inf before the pool
        input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 128],
        stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
        use_pre_activation=True, image_shape=(64, 64, 3))),
    "CSPDarkNet": ("CSPNetBackbone", dict(  # cross stages: keras.ops.split of the channels
        stem_filters=32, stem_kernel_size=3, stem_strides=1, stackwise_depth=[1, 2],
        stackwise_strides=[1, 2], stackwise_num_filters=[32, 64], block_type="dark_block",
        stage_type="csp", bottle_ratio=[0.5], expand_ratio=[2.0], down_growth=True,
        image_shape=(64, 64, 3))),
    "DenseNet": ("DenseNetBackbone", dict(stackwise_num_repeats=[2, 2], growth_rate=16,
                                          image_shape=(64, 64, 3))),
    "VGG": ("VGGBackbone", dict(stackwise_num_repeats=[1, 2], stackwise_num_filters=[16, 32],
                                image_shape=(64, 64, 3))),
    "MobileNet": ("MobileNetBackbone", dict(  # its blocks are subclassed layers: traced
        stackwise_expansion=[[16, 72], [96]], stackwise_num_blocks=[2, 1],
        stackwise_num_filters=[[24, 24], [40]], stackwise_kernel_size=[[3, 3], [5]],
        stackwise_num_strides=[[2, 1], [2]], stackwise_se_ratio=[[None, None], [0.25]],
        stackwise_activation=[["relu", "relu"], ["hard_swish"]],
        stackwise_padding=[[1, 1], [2]], output_num_filters=64, depthwise_filters=16,
        depthwise_stride=2, depthwise_residual=False, last_layer_filter=96,
        squeeze_and_excite=0.5, image_shape=(64, 64, 3))),
}


@pytest.fixture(scope="module")
def hub(keras):
    import keras_hub  # CI installs it (the dev install); a missing one must fail loudly

    return keras_hub


def build(hub, family: str, **changes):
    class_name, config = BACKBONES[family]
    return getattr(hub.models, class_name)(**{**config, **changes})


def check_against_keras(model, analysis) -> int:
    """Totals, every leaf layer (output shape, params, MACs) and the outputs' shapes as Keras
    has them; returns how many layers were compared."""
    from tf_oracle import call_composites, leaf_layers, mismatches, model_totals

    assert (analysis.totals.params, analysis.totals.trainable_params) == model_totals(model)
    call_composites(model)  # after the import: convplan must not rely on these call records
    assert mismatches(model, analysis) == []
    outputs = [analysis.layer(o).output_shape for o in analysis.outputs]
    assert outputs == [tuple(t.shape[1:]) for t in model.outputs]
    return len(list(leaf_layers(model)))


def facts(analysis) -> list[tuple]:
    """Each layer's op, shape and counts in order (names left out: a deserialized model
    gets fresh automatic names, `input_layer_7` for `input_layer_3`)."""
    return [(layer.op, layer.output_shape, layer.trainable_params,
             layer.non_trainable_params, layer.macs) for layer in analysis.layers]


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("family", list(BACKBONES))
def test_backbones_match_keras_layer_by_layer(hub, family):
    model = build(hub, family)
    compared = check_against_keras(model, analyze(from_keras(model)))
    assert compared >= 5  # the smallest, VGG: three convolutions and two poolings


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("family", list(BACKBONES))
def test_saved_backbones_read_through_keras_hub(hub, family, tmp_path):
    """The .keras archive and the JSON hold constructor arguments only; keras-hub (installed)
    builds the model from them and convplan reads its graph: the same plan as the live model."""
    model = build(hub, family)
    live = facts(analyze(from_keras(model)))
    model.save(tmp_path / "backbone.keras")
    (tmp_path / "backbone.json").write_text(model.to_json())
    assert "layers" not in json.loads(model.to_json())["config"]
    for name in ("backbone.keras", "backbone.json"):
        graph = load(tmp_path / name)
        # VGGBackbone saves no name: the file's stem, as for any model config without one.
        assert graph.name == (model.name if family != "VGG" else "backbone")
        assert facts(analyze(graph)) == live, name


def _families(draw) -> tuple[str, dict]:
    """A family and config changes across its corners: odd and uneven sizes, each block type,
    stage type, pre-activation, squeeze-and-excite, strides, depths."""
    family = draw(st.sampled_from(list(BACKBONES)))
    size = (draw(st.integers(33, 80)), draw(st.integers(33, 80)), draw(st.sampled_from([1, 3])))
    changes: dict = {"image_shape": size}
    if family in ("ResNet", "ResNetV2"):
        changes.update(block_type=draw(st.sampled_from(
            ["basic_block", "bottleneck_block", "basic_block_vd", "bottleneck_block_vd"])),
            stackwise_num_blocks=[draw(st.integers(1, 2)), draw(st.integers(1, 2))],
            stackwise_num_strides=[draw(st.integers(1, 2)), 2])
        if changes["block_type"].endswith("_vd"):
            changes.update(input_conv_filters=[16, 16, 64], input_conv_kernel_sizes=[3, 3, 3])
    elif family == "CSPDarkNet":
        changes.update(stage_type=draw(st.sampled_from(["csp", "dark", "cs3"])),
                       block_type=draw(st.sampled_from(["dark_block", "bottleneck_block"])),
                       activation=draw(st.sampled_from(["leaky_relu", "relu", "silu"])),
                       stackwise_strides=[draw(st.integers(1, 2)), 2])
    elif family == "DenseNet":
        changes.update(stackwise_num_repeats=[draw(st.integers(1, 3)) for _ in range(2)],
                       growth_rate=draw(st.sampled_from([8, 12])))
    elif family == "VGG":
        depth = draw(st.integers(1, 3))
        changes.update(stackwise_num_repeats=[draw(st.integers(1, 2)) for _ in range(depth)],
                       stackwise_num_filters=[8 * (i + 1) for i in range(depth)])
    else:
        changes.update(stackwise_kernel_size=[[3, draw(st.sampled_from([3, 5]))], [5]],
                       stackwise_num_strides=[[2, draw(st.integers(1, 2))], [2]],
                       stackwise_se_ratio=[[None, draw(st.sampled_from([None, 0.25]))], [0.25]],
                       squeeze_and_excite=draw(st.sampled_from([None, 0.5])),
                       depthwise_residual=draw(st.booleans()))
    return family, changes


@pytest.mark.tf
@pytest.mark.slow
@settings(max_examples=max(12, settings.default.max_examples // 10))  # a backbone takes ~1 s
@given(drawn=st.composite(_families)())
def test_drawn_backbone_configs_match_keras(hub, drawn):
    family, changes = drawn
    try:
        model = build(hub, family, **changes)
    except ValueError:  # keras-hub cannot build it (a vd shortcut at an odd size): not a case
        assume(False)
    check_against_keras(model, analyze(from_keras(model)))


@pytest.mark.tf
@pytest.mark.slow
def test_a_backbone_inside_a_model_and_frozen(hub, keras, tmp_path):
    """A classifier around a frozen backbone (a nested Functional subclass): its weights count
    as non-trainable, live and saved."""
    backbone = build(hub, "MobileNet")
    backbone.trainable = False
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.GlobalAveragePooling2D(name="pool")(backbone(inputs))
    model = keras.Model(inputs, keras.layers.Dense(5, name="head")(x), name="classifier")
    analysis = analyze(from_keras(model))
    assert analysis.totals.trainable_params == 96 * 5 + 5
    check_against_keras(model, analysis)
    model.save(tmp_path / "classifier.keras")
    assert facts(analyze(load(tmp_path / "classifier.keras"))) == facts(analysis)


@pytest.mark.tf
@pytest.mark.slow
def test_reading_leaves_the_model_as_it_was(hub):
    """Tracing a composite layer records calls on its sublayers; they are removed again."""
    model = build(hub, "MobileNet")
    calls = lambda: [len(layer._inbound_nodes) for layer in  # noqa: E731
                     model._flatten_layers(include_self=False, recursive=True)]
    before = calls()
    from_keras(model)
    assert calls() == before


@pytest.mark.tf
@pytest.mark.slow
def test_a_saved_backbone_without_keras_hub_is_refused_with_the_hint(hub, tmp_path, monkeypatch):
    model = build(hub, "VGG")
    model.save(tmp_path / "vgg.keras")
    monkeypatch.setitem(sys.modules, "keras_hub", None)  # as if it were not installed
    with pytest.raises(UnsupportedError, match=r"keras-hub's 'VGGBackbone'.*not installed.*"
                       r"keras\.Model\(backbone\.inputs, backbone\.outputs\)"):
        load(tmp_path / "vgg.keras")


HUB_JSON = {"module": "keras_hub.src.models.vgg.vgg_backbone", "class_name": "VGGBackbone",
            "config": {"name": "vgg", "stackwise_num_repeats": [1], "stackwise_num_filters": [8],
                       "image_shape": [32, 32, 3]}, "registered_name": "keras_hub>VGGBackbone"}
# convplan.load on argv[1], with keras-hub hidden when argv[2] says so: the error, and which of
# TensorFlow, Keras and keras-hub it imported.
LOAD_SCRIPT = """import sys
if sys.argv[2] == 'hide':
    sys.modules['keras_hub'] = None
import convplan
try:
    convplan.load(sys.argv[1])
except convplan.UnsupportedError as exc:
    print(exc)
print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'keras_hub')
             and sys.modules[m] is not None))
"""


def _load_in_fresh_process(path, hide: bool) -> list[str]:
    done = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(path),
                           "hide" if hide else "keep"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()


def test_a_model_without_its_graph_is_refused_before_keras_is_imported(tmp_path):
    """A Functional subclass of the user's that saves only its constructor arguments cannot be
    rebuilt without its code: one line, exit 2, how to save the graph, and no TensorFlow."""
    path = tmp_path / "net.json"
    path.write_text(json.dumps({"module": "my_package.models", "class_name": "Net",
                                "config": {"name": "net", "depth": 3},
                                "registered_name": "my_package>Net"}))
    done = run_cli("analyze", path)
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert "'Net' from module 'my_package.models'" in line
    assert "keras.Model(model.inputs, model.outputs)" in line
    assert _load_in_fresh_process(path, hide=False)[-1] == "[]"


def test_a_keras_hub_file_without_keras_hub_is_refused_before_keras_is_imported(tmp_path):
    path = tmp_path / "vgg.json"
    path.write_text(json.dumps(HUB_JSON))
    message, imported = _load_in_fresh_process(path, hide=True)
    assert "keras-hub's 'VGGBackbone'" in message and "not installed" in message
    assert "keras.Model(backbone.inputs, backbone.outputs)" in message
    assert imported == "[]"


def _user_block(keras):
    """A composite layer of the user's: convolution, normalization, activation, residual add."""

    class Block(keras.layers.Layer):
        def __init__(self, filters, **kwargs):
            super().__init__(**kwargs)
            self.conv = keras.layers.Conv2D(filters, 3, padding="same", name=f"{self.name}_conv")
            self.norm = keras.layers.BatchNormalization(name=f"{self.name}_bn")
            self.act = keras.layers.ReLU(name=f"{self.name}_relu")

        def call(self, x):
            return x + self.act(self.norm(self.conv(x)))

    return Block


@pytest.mark.tf
def test_composite_layers_of_any_package_are_traced_or_refused(keras):
    block = _user_block(keras)
    inputs = keras.Input((12, 10, 4))
    x = block(4, name="b1")(inputs)
    model = keras.Model(inputs, block(4, name="b2")(x))
    analysis = analyze(from_keras(model))
    assert check_against_keras(model, analysis) == 6
    sequential = keras.Sequential([keras.Input((12, 10, 4)), block(4, name="s1")])
    assert check_against_keras(sequential, analyze(from_keras(sequential))) == 3
    # Declared, it is read as declared (not traced).
    declared = from_keras(model, custom_layers={"Block": "identity,params=7"})
    assert analyze(declared).totals.params == 14
    # Called twice: one trace cannot stand for two calls.
    shared = block(4, name="shared")
    twice = keras.Model(inputs, shared(shared(inputs)))
    with pytest.raises(UnsupportedError, match=r"'shared'.*called 2 times"):
        from_keras(twice)


@pytest.mark.tf
def test_keras_own_composite_layers_keep_their_refusal(keras):
    """MultiHeadAttention holds sublayers but is Keras's own: the importer's refusal, no trace."""
    inputs = keras.Input((6, 8))
    attention = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="attn")
    model = keras.Model(inputs, attention(inputs, inputs))
    with pytest.raises(ConvplanError) as refused:
        from_keras(model)
    assert "attn" in str(refused.value) and "tracing" not in str(refused.value)
