"""`convplan verify` on Keras models as people write them: Sequential, nested (Functional in
Functional, Sequential in Functional), keras.ops nodes (x + 3.0, keras.ops.multiply, the
hard-sigmoid and squeeze-and-excitation of MobileNetV3), shared inputs and a layer called twice;
progress through a pipe; the field budget (sampled and skipped measurements), and a wrong
plan that a sampled measurement still reports with exit 1.

Every saved model is checked under the names the plan gives its layers (`convplan analyze`).
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import EXAMPLES

from convplan import analyze, load, loads_spec
from convplan.analysis.receptive import AxisField
from convplan.cli.main import main
from convplan.verify.budget import FLOPS_PER_SECOND, phase_width, sample_axis

pytestmark = pytest.mark.tf


def _sequential():
    import keras
    from keras import layers

    return keras.Sequential([keras.Input((20, 20, 3)), layers.Conv2D(4, 3, name="c1"),
                             layers.BatchNormalization(), layers.ReLU(),
                             layers.MaxPooling2D(), layers.Conv2D(2, 3, padding="same")],
                            name="plain")


def _built_sequential():
    import keras
    from keras import layers

    model = keras.Sequential([layers.Conv1D(4, 5, strides=2), layers.ReLU()], name="built")
    model.build((None, 40, 2))
    return model


def _nested():
    import keras
    from keras import layers

    block = keras.Sequential([layers.Conv2D(4, 3, padding="same", name="conv"),
                              layers.BatchNormalization()], name="block")
    inner_in = keras.Input((8, 8, 4))
    inner = layers.Add()([layers.Conv2D(4, 1, name="conv")(inner_in), inner_in])
    residual = keras.Model(inner_in, inner, name="res")
    x = keras.Input((16, 16, 3), name="img")
    y = layers.Conv2D(4, 3, padding="same", name="conv")(x)
    y = residual(layers.MaxPooling2D()(block(y)))
    return keras.Model(x, y, name="nested")


def _operations():
    """MobileNetV3's hard sigmoid (ReLU(6)(x + 3) * (1 / 6)), hard_swish and a
    squeeze-and-excitation block whose gate multiplies the features (keras.ops nodes)."""
    import keras
    from keras import layers, ops

    x = keras.Input((16, 16, 3), name="img")
    y = layers.Conv2D(8, 3, strides=2, padding="same", name="stem")(x)
    y = layers.Activation("hard_swish")(y)
    y = layers.DepthwiseConv2D(3, padding="same")(y)
    se = layers.GlobalAveragePooling2D(keepdims=True)(y)
    se = layers.ReLU()(layers.Conv2D(4, 1)(se))
    se = layers.Conv2D(8, 1)(se)
    se = layers.ReLU(6.0)(se + 3.0) * (1.0 / 6.0)
    y = layers.Multiply()([y, se])
    y = ops.add(y, ops.multiply(y, 0.5))
    y = ops.subtract(layers.Conv2D(8, 1)(y), y)
    return keras.Model(x, y, name="ops")


def _shared():
    """One input feeding three branches, a second input, and a weightless layer called on
    both inputs (two plan nodes, one Keras layer)."""
    import keras
    from keras import layers

    a, b = keras.Input((12, 12, 3), name="a"), keras.Input((12, 12, 3), name="b")
    relu = layers.ReLU(name="shared")
    left = layers.Conv2D(3, 3, padding="same")(a)
    right = layers.MaxPooling2D(3, strides=1, padding="same")(a)
    y = layers.Add()([relu(a), relu(b), left, right])
    return keras.Model([a, b], [y, layers.Conv2D(2, 1)(a)], name="shared_inputs")


def _one_input_shared():
    import keras
    from keras import layers

    x = keras.Input((18, 18, 2), name="x")
    act = layers.Activation("relu", name="act")
    y = layers.Concatenate()([act(layers.Conv2D(2, 3, padding="same")(x)),
                              act(layers.Conv2D(2, 5, padding="same")(x)), x])
    return keras.Model(x, layers.Conv2D(3, 3, strides=2)(y), name="one_input_shared")


MODELS = {"sequential": _sequential, "built_sequential": _built_sequential, "nested": _nested,
          "operations": _operations, "shared": _shared, "one_input_shared": _one_input_shared}


def _verify(path, capsys, *extra) -> tuple[int, dict, str]:
    code = main(["verify", str(path), "--format", "json", *extra])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("suffix", [".keras", ".json"])
def test_keras_models_verify_under_the_plans_names(tmp_path, capsys, kind, suffix):
    model = MODELS[kind]()
    path = tmp_path / f"{kind}{suffix}"
    if suffix == ".keras":
        model.save(path)
    else:
        path.write_text(model.to_json())
    code, doc, err = _verify(path, capsys)
    assert code == 0, [(layer["name"], c) for layer in doc["layers"] for c in layer["checks"]
                       if not c["ok"]]
    assert [layer["name"] for layer in doc["layers"]] == \
        [r.name for r in analyze(load(path)).layers]
    assert all(len(layer["checks"]) >= 5 for layer in doc["layers"] if layer["op"] !=
               "InputLayer")
    assert "verify: building the model in TensorFlow" in err  # progress through a pipe
    if kind == "nested":
        names = {layer["name"] for layer in doc["layers"]}
        assert {"conv", "block.conv", "res.conv"} <= names  # the walker's names
    if kind == "operations":
        ops = {layer["op"] for layer in doc["layers"]}
        assert {"Rescaling", "Multiply", "Add", "Subtract"} <= ops
        fields = [c for layer in doc["layers"] for c in layer["checks"]
                  if c["quantity"] == "receptive_field" and c["tensorflow"] != "-"]
        assert fields


def test_progress_lines_name_every_stage(capsys):
    assert main(["verify", str(EXAMPLES / "seed_cnn.yaml")]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert [line for line in lines if line.startswith("verify: ")] == [
        "verify: building the model in TensorFlow",
        "verify: finding the plan's 8 layers in the model",
        "verify: output shapes from running the model on a batch of two",
        "verify: output shapes, params and MACs of every layer",
        "verify: receptive fields: 56 input positions, 64 per pass",
        "verify: comparing"]


def _sampling_budget(spec_path) -> str:
    """A time budget that affords a sample but not every input position."""
    plan = analyze(load(spec_path))
    spatial = [int(d) for d in plan.layers[0].output_shape[:-1]]
    fields = [r.receptive_field for r in plan.layers if r.receptive_field is not None]
    smallest = sum(len(sample_axis(n, 0, phase_width(fields, a)))
                   for a, n in enumerate(spatial))
    passes = (smallest + sum(spatial)) // 2
    assert smallest < passes < sum(spatial)
    return f"{passes * float(plan.totals.flops) / FLOPS_PER_SECOND:.6f}s"


DILATED_1D = """
name: long_1d
inputs: {audio: [600, 1]}
layers:
  - {name: c1, op: Conv1D, filters: 4, kernel_size: 9, strides: 2, padding: same}
  - {name: p1, op: MaxPooling1D, pool_size: 3}
  - {name: c2, op: Conv1D, filters: 4, kernel_size: 5, dilation_rate: 2, padding: same}
  - {name: c3, op: Conv1D, filters: 4, kernel_size: 3, padding: valid}
  - {name: gap, op: GlobalAveragePooling1D}
"""


def test_a_tight_budget_samples_and_says_so(tmp_path, capsys):
    spec = tmp_path / "long.yaml"
    spec.write_text(DILATED_1D)
    code, doc, _ = _verify(spec, capsys, "--field-budget", _sampling_budget(spec))
    assert code == 0
    assert any(note.startswith("receptive fields sampled:") for note in doc["notes"])
    fields = [c for layer in doc["layers"] for c in layer["checks"]
              if c["quantity"] == "receptive_field" and c["tensorflow"] != "-"]
    assert len(fields) == 4 and all(c["detail"] == "sampled input positions" for c in fields)


@pytest.mark.parametrize("budget,fragment", [("0s", "even a sample of"),
                                             ("1KiB", "one forward pass of the surrogate")])
def test_a_budget_too_small_skips_the_fields_with_a_note(tmp_path, capsys, budget, fragment):
    spec = tmp_path / "long.yaml"
    spec.write_text(DILATED_1D)
    code, doc, _ = _verify(spec, capsys, "--field-budget", budget)
    assert code == 0
    assert any("receptive fields not measured" in n and fragment in n and "--field-budget" in n
               for n in doc["notes"])
    assert all(c["detail"] == "not measured" for layer in doc["layers"] for c in layer["checks"]
               if c["quantity"] == "receptive_field")


@pytest.mark.parametrize("field", [
    (AxisField(9, 2, -4),), (AxisField(9, 2, -2),), (AxisField(10, 2, -3),),
    (AxisField(8, 2, -3),), (AxisField(9, 3, -3),), (AxisField(9, 1, -3),)])
def test_sampling_does_not_hide_a_wrong_plan(tmp_path, capsys, monkeypatch, field):
    """c1's true field is 9 pixels at stride 2 from -3 ('same' pads 3 before, 4 after): any
    other field, measured on a sample of positions, is a mismatch and exit 1."""
    assert analyze(loads_spec(DILATED_1D)).layer("c1").receptive_field == (AxisField(9, 2, -3),)
    import convplan.verify.compare as compare

    spec = tmp_path / "long.yaml"
    spec.write_text(DILATED_1D)
    budget = _sampling_budget(spec)

    def wrong(graph, input_size=None, generalize=False):
        plan = analyze(graph, input_size=input_size, generalize=generalize)
        layers = tuple(dataclasses.replace(r, receptive_field=field) if r.name == "c1" else r
                       for r in plan.layers)
        return dataclasses.replace(plan, layers=layers)

    monkeypatch.setattr(compare, "analyze", wrong)
    code, doc, _ = _verify(spec, capsys, "--field-budget", budget)
    assert code == 1
    failed = [(layer["name"], c["quantity"]) for layer in doc["layers"] for c in layer["checks"]
              if not c["ok"]]
    assert failed == [("c1", "receptive_field")]
    assert any(note.startswith("receptive fields sampled:") for note in doc["notes"])


def test_a_saved_model_with_free_sizes_verifies_at_the_input_size_given(tmp_path, capsys):
    """keras.applications saves (None, None, 3) inputs when weights=None: --input-size fixes
    them (the model is rebuilt from its config at that size); without it verify says so."""
    import keras
    from keras import layers

    x = keras.Input((None, None, 3), name="image")
    y = layers.Conv2D(4, 3, strides=2, padding="same")(x)
    y = layers.DepthwiseConv2D(3)(layers.Activation("hard_swish")(y))
    path = tmp_path / "free.keras"
    keras.Model(x, layers.GlobalAveragePooling2D()(y), name="free").save(path)
    assert main(["verify", str(path)]) == 2
    assert "--input-size" in capsys.readouterr().err
    code, doc, _ = _verify(path, capsys, "--input-size", "17x12")
    assert code == 0
    assert doc["layers"][0]["checks"][0]["tensorflow"] == [17, 12, 3]


def _stopping_at_once(monkeypatch) -> str:
    """An estimate that calls the measurement instant, and a time budget it passes after its
    first chunk: the measurement is planned whole and stopped by the clock."""
    import convplan.verify.budget as budget

    monkeypatch.setattr(budget, "FLOPS_PER_SECOND", 1e18)
    return "0.000001s"


@pytest.mark.parametrize("wrong", [None, (AxisField(9, 2, -4),), (AxisField(9, 3, -3),)])
def test_a_measurement_stops_at_its_time_budget_and_still_finds_a_wrong_plan(
        tmp_path, capsys, monkeypatch, wrong):
    spec = tmp_path / "long.yaml"
    spec.write_text(DILATED_1D)
    budget = _stopping_at_once(monkeypatch)
    if wrong is not None:
        import convplan.verify.compare as compare

        def wrong_plan(graph, input_size=None, generalize=False):
            plan = analyze(graph, input_size=input_size, generalize=generalize)
            return dataclasses.replace(plan, layers=tuple(
                dataclasses.replace(r, receptive_field=wrong) if r.name == "c1" else r
                for r in plan.layers))

        monkeypatch.setattr(compare, "analyze", wrong_plan)
    code, doc, _ = _verify(spec, capsys, "--field-budget", budget)
    note = next(n for n in doc["notes"] if n.startswith("receptive fields"))
    assert "stopped at the field budget's 1e-06 s after 64 of the 600 positions planned" in note
    fields = [(layer["name"], c) for layer in doc["layers"] for c in layer["checks"]
              if c["quantity"] == "receptive_field" and c["tensorflow"] != "-"]
    assert len(fields) == 4
    if wrong is None:
        assert code == 0 and all(c["detail"] == "sampled input positions" for _, c in fields)
    else:
        assert code == 1
        assert [name for name, c in fields if not c["ok"]] == ["c1"]


def test_probes_in_any_order_measure_the_same_fields():
    """The measurement keeps each output's first and last probed pixel whatever order the
    probes come in (probe_order runs them blocks first, then spread out)."""
    import random

    from convplan.verify.field import measure_fields, measure_fields_within

    graph = load(EXAMPLES / "seed_cnn.yaml")
    plan = analyze(graph, input_size=[20, 20])
    names = [r.name for r in plan.layers if r.receptive_field is not None
             and r.op != "InputLayer" and len(r.output_shape) == 3]
    shape = [int(d) for d in plan.layers[0].output_shape]
    probes = [(axis, i) for axis in range(2) for i in range(0, 20, 3)]
    random.Random(0).shuffle(probes)
    shuffled, probed = measure_fields_within(graph, names, shape, probes, 5, [20, 20], plan)
    assert probed == (frozenset(range(0, 20, 3)),) * 2
    assert shuffled == measure_fields(graph, names, shape, [20, 20],
                                      [range(0, 20, 3)] * 2, plan=plan)


def test_an_input_size_equal_to_a_saved_models_own_is_accepted(tmp_path, capsys):
    """keras.applications' ConvNeXt saves fixed 224x224 inputs even with weights=None: the
    size it has is accepted (the model is loaded as saved), another is refused."""
    path = tmp_path / "plain.keras"
    _sequential().save(path)
    code, doc, _ = _verify(path, capsys, "--input-size", "20x20")
    assert code == 0 and doc["layers"][0]["checks"][0]["tensorflow"] == [20, 20, 3]
    assert main(["verify", str(path), "--input-size", "24x24"]) == 2
    assert "keeps its own (20x20x3), received 24x24" in capsys.readouterr().err
