"""convplan check rules: every rule fires on its example and not on the corrected spec, and the
numbers and conditions in the messages are the analysis' own (checked size by size)."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from convplan import analyze, loads_spec
from convplan.checks import check_file, load_rules
from convplan.checks.design_rules import _coverage
from convplan.checks.examples import EXAMPLES, SEED, SEED_SEPARABLE
from convplan.checks.registry import GROUPS
from convplan.checks.shape_rules import padding_only_outputs
from convplan.errors import ShapeError

RULES = load_rules()


def check(tmp_path, text: str, name: str = "spec.yaml", **overrides):
    path = tmp_path / name
    path.write_text(text)
    report = check_file(path, isolated=True, overrides=overrides or None)
    assert report.error is None, report.error
    return report.findings


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def only(findings, code: str):
    found = [f for f in findings if f.code == code]
    assert len(found) == 1, [f.message for f in findings]
    return found[0]


# ---------------------------------------------------------------- the registry


def test_codes_and_names_are_stable():
    """Codes are a public contract (configs and suppressions name them): changing one breaks
    every user's settings, so the list is pinned here."""
    assert {c: r.name for c, r in RULES.items()} == {
        "CP100": "unbuildable-layer", "CP101": "empty-output", "CP102": "strides-with-dilation",
        "CP103": "kernel-larger-than-input", "CP104": "floor-truncation",
        "CP105": "conditional-merge", "CP106": "misaligned-paths",
        "CP200": "budget-needs-size", "CP201": "max-params", "CP202": "max-macs",
        "CP203": "max-flops", "CP204": "max-activation-memory", "CP205": "max-training-memory",
        "CP206": "min-receptive-field", "CP207": "max-receptive-field", "CP208": "output-stride",
        "CP301": "gpu-tensor-core-alignment", "CP302": "tpu-feature-alignment",
        "CP303": "tpu-batch", "CP304": "tpu-dynamic-shape",
        "CP305": "memory-bound-time", "CP306": "device-memory",
        "CP401": "receptive-field-smaller-than-input", "CP402": "gridding",
        "CP403": "checkerboard", "CP404": "asymmetric-same-padding", "CP405": "plain-deep-stack",
        "CP406": "costly-convolution",
        "CP501": "same-padding-port", "CP502": "explicit-padding-port",
        "CP503": "ceil-mode-pooling", "CP504": "average-pool-padding-count",
        "CP505": "flatten-order",
    }


@pytest.mark.parametrize("code", list(RULES))
def test_every_rule_is_documented(code):
    rule = RULES[code]
    assert rule.code.startswith(GROUPS[rule.group][0])
    assert rule.summary and rule.explanation and "\n" not in rule.summary
    assert code in EXAMPLES


# ---------------------------------------------------------------- trigger and fix


@pytest.mark.parametrize("code", list(EXAMPLES))
def test_example_triggers_the_rule(tmp_path, code):
    bad, _ = EXAMPLES[code]
    found = [f for f in check(tmp_path, bad) if f.code == code]
    assert found, f"{code} did not fire on its example"
    assert all(f.severity == RULES[code].severity for f in found)
    assert all(f.line is not None for f in found)


@pytest.mark.parametrize("code", list(EXAMPLES))
def test_corrected_example_does_not_trigger_it(tmp_path, code):
    _, good = EXAMPLES[code]
    assert code not in codes(check(tmp_path, good))


# ---------------------------------------------------------------- shape validity


def test_construction_errors_are_findings_with_the_layer_line(tmp_path):
    text = EXAMPLES["CP102"][0]
    found = only(check(tmp_path, text), "CP102")
    assert found.layer == "conv" and found.line == 3 and found.severity == "error"
    assert "dilation_rate" in found.message


def test_empty_output_names_the_layer_and_line(tmp_path):
    found = only(check(tmp_path, EXAMPLES["CP101"][0]), "CP101")
    assert (found.layer, found.line) == ("conv", 3)
    assert "would be -1" in found.message


TRUNCATION = """\
inputs: {{image: [{h}, {w}, 1]}}
layers:
  - {{name: conv, op: Conv2D, filters: 4, kernel_size: 3, strides: 2}}
  - {{name: pool, op: MaxPooling2D, pool_size: 3, strides: 2}}
"""


def test_truncation_counts_the_rows_no_window_covers(tmp_path):
    # conv: (29 - 3) % 2 = 0 rows lost; its output is 14, pool: (14 - 3) % 2 = 1 row lost.
    found = only(check(tmp_path, TRUNCATION.format(h=29, w=31)), "CP104")
    assert found.layer == "pool"
    assert "the last 1 of its 14 input rows" in found.message
    assert "columns" not in found.message  # W = 31: conv 15, pool (15 - 3) % 2 = 0


def test_truncation_of_zero_padding_alone_is_not_reported(tmp_path):
    """Keras's ResNet50 stem: ZeroPadding2D(3) to 230, then 7x7 stride 2 'valid' leaves the
    last (padded) row: nothing of the image is lost."""
    text = ("inputs: {{x: [{h}, {h}, 3]}}\nlayers:\n"
            "  - {{name: pad, op: ZeroPadding2D, padding: [[{a}, {b}], [{a}, {b}]]}}\n"
            "  - {{name: conv, op: Conv2D, filters: 8, kernel_size: {k}, strides: {k2}}}\n")
    assert "CP104" not in codes(check(tmp_path, text.format(h=224, a=3, b=3, k=7, k2=2)))
    found = only(check(tmp_path, text.format(h=10, a=0, b=1, k=3, k2=3), "b.yaml"), "CP104")
    assert "the last 2 of its 11 input rows (1 of them zero padding)" in found.message


@pytest.mark.parametrize("h", range(40, 56))
def test_truncation_condition_matches_every_concrete_size(tmp_path, h):
    """The symbolic condition reported for a symbolic input equals, size by size, whether a
    concrete check at that size finds lost rows."""
    symbolic = [f for f in check(tmp_path, TRUNCATION.format(h="H", w=32)) if f.layer == "pool"]
    condition = re.search(r"when (H mod \d+ is [\d, or]+|H is \w+)", symbolic[0].message)
    assert condition, symbolic[0].message
    concrete = check(tmp_path, TRUNCATION.format(h=h, w=32), name=f"s{h}.yaml")
    fires = any(f.code == "CP104" and f.layer == "pool" for f in concrete)
    assert fires == _holds(condition.group(1), h)


def _holds(phrase: str, value: int) -> bool:
    """Evaluate a condition as the rules phrase it ('H mod 4 is 0, 1 or 2', 'H is odd',
    'L is divisible by 4', 'L is not divisible by 3', 'L mod 6 = 5') at value."""
    if phrase.endswith("is odd"):
        return value % 2 == 1
    if phrase.endswith("is even"):
        return value % 2 == 0
    if match := re.search(r"is (not )?divisible by (\d+)$", phrase):
        return (value % int(match.group(2)) == 0) != bool(match.group(1))
    match = re.search(r"mod (\d+) (?:=|is) (.*)$", phrase)
    modulus, residues = int(match.group(1)), {int(r) for r in re.findall(r"\d+", match.group(2))}
    return value % modulus in residues


WINDOW_OPS = st.sampled_from(["Conv1D", "MaxPooling1D", "AveragePooling1D"])


@st.composite
def window_stacks(draw):
    """1-D chains of 1 to 4 windows with kernels 1-5, strides 1-3, 'valid' or 'same'."""
    layers = []
    for i in range(draw(st.integers(1, 4))):
        op, k, s = draw(WINDOW_OPS), draw(st.integers(1, 5)), draw(st.integers(1, 3))
        padding = draw(st.sampled_from(["valid", "same"]))
        size = "kernel_size" if op == "Conv1D" else "pool_size"
        extra = "filters: 2, " if op == "Conv1D" else ""
        layers.append(f"  - {{name: l{i}, op: {op}, {extra}{size}: {k}, strides: {s}, "
                      f"padding: {padding}}}")
    return "inputs: {x: [SIZE, 1]}\nlayers:\n" + "\n".join(layers) + "\n"


@given(window_stacks(), st.integers(40, 200))
def test_symbolic_conditions_agree_with_concrete_checks(tmp_path_factory, stack, start):
    """For random window stacks, CP104's and CP404's conditions on a symbolic input say
    exactly at which concrete sizes the concrete check reports the same layer."""
    folder = tmp_path_factory.mktemp("stack")
    symbolic = check(folder, stack.replace("SIZE", "L"), "sym.yaml")
    for n in range(start, start + 12):
        concrete = check(folder, stack.replace("SIZE", str(n)), f"n{n}.yaml")
        if {"CP100", "CP101"} & set(codes(concrete)):
            continue  # too small to build: the analysis stops at the error
        for code in ("CP104", "CP404"):
            for layer in {f.layer for f in symbolic + concrete if f.code == code}:
                claim = next((f.message for f in symbolic
                              if f.code == code and f.layer == layer), None)
                fires = any(f.code == code and f.layer == layer for f in concrete)
                if claim is None:
                    assert not fires, (code, layer, n, stack)
                    continue
                when = re.search(r"when (L .*?)(?: \(declared|; | and when |$)", claim)
                expected = True if when is None else _holds(when.group(1), n)
                assert fires == expected, (code, layer, n, claim, stack)


UNET = """\
inputs: {{image: [{size}, {width}, 3]}}
blocks:
  down:
    layers:
      - {{name: conv, op: Conv2D, filters: 8, kernel_size: 3, padding: same}}
      - {{name: pool, op: MaxPooling2D, pool_size: 2}}
layers:
  - {{name: enc, op: Conv2D, filters: 8, kernel_size: 3, padding: same}}
  - {{name: down, block: down, repeat: 4}}
  - {{name: up, op: UpSampling2D, size: 16}}
  - {{name: merge, op: Add, inputs: [enc, up]}}
"""


def test_merge_condition_is_divisibility_by_the_total_stride(tmp_path):
    found = only(check(tmp_path, UNET.format(size="H", width="W")), "CP105")
    assert "heights (H and 16*floor(H/16)) agree only when H is divisible by 16" in found.message
    assert "W is divisible by 16" in found.message


def test_merge_that_fails_at_the_declared_size_is_an_error_explained_by_its_condition(tmp_path):
    assert "CP105" not in codes(check(tmp_path, UNET.format(size=224, width=224)))  # 14 x 16
    found = check(tmp_path, UNET.format(size=232, width=224), name="bad.yaml")
    assert only(found, "CP100").layer == "merge"
    explained = only(found, "CP105")
    assert "declared H = 232 does not satisfy it" in explained.message


def test_merge_condition_holds_exactly_at_multiples_of_16():
    for size in range(200, 240):
        try:
            analyze(loads_spec(UNET.format(size=size, width=size)))
            built = True
        except ShapeError:
            built = False
        assert built == (size % 16 == 0), size


# ---------------------------------------------------------------- budgets


def test_budget_message_carries_the_analysis_totals(tmp_path):
    found = only(check(tmp_path, EXAMPLES["CP202"][0]), "CP202")
    macs = analyze(loads_spec(SEED)).totals.macs
    assert f"({macs:,})" in found.message and "= 2M (2,000,000)" in found.message
    assert found.line == 1  # the `checks:` line: a budget belongs to the whole network


def test_memory_budget_follows_batch_and_dtype(tmp_path):
    analysis = analyze(loads_spec(SEED))
    found = only(check(tmp_path, EXAMPLES["CP204"][0]), "CP204")
    # activation memory: the live tensors at the training peak (docs/memory.md)
    assert f"({analysis.training_memory(256, 'float32', 'adam').live:,})" in found.message
    memory = analysis.training_memory(256, "float32", "adam").total
    assert f"({memory:,})" in only(check(tmp_path, EXAMPLES["CP205"][0], "t.yaml"),
                                   "CP205").message


def test_receptive_field_budgets_use_the_last_spatial_layer(tmp_path):
    text = "checks: {budgets: {min_receptive_field: [11, 9], max_output_stride: 2}}\n" + SEED
    found = check(tmp_path, text)
    assert only(found, "CP206").message.endswith("receptive field 10x10 is smaller than "
                                                 "min_receptive_field 11x9")
    assert "output stride 4x4 is larger than max_output_stride 2" in only(found, "CP208").message


# ---------------------------------------------------------------- hardware


def test_gpu_alignment_exempts_the_output_layer(tmp_path):
    text = "checks: {dtype: mixed_float16, batch: 64}\n" + SEED.replace("units: 128", "units: 100")
    found = [f for f in check(tmp_path, text) if f.code == "CP301"]
    assert [f.layer for f in found] == ["dense1"]  # dense2 (10 units) is the output


def test_hardware_rules_need_a_target_or_dtype(tmp_path):
    assert not [c for c in codes(check(tmp_path, SEED.replace("filters: 32", "filters: 30")))
                if c.startswith("CP3")]


# ---------------------------------------------------------------- design


def test_coverage_of_stacked_dilations():
    assert _coverage([(3, 2), (3, 2), (3, 2)]) == (7, 13)  # offsets 0, 2, ..., 12
    assert _coverage([(3, 1), (3, 2), (3, 5)]) == (17, 17)  # hybrid rates: no holes
    assert _coverage([(3, 2), (3, 3)]) == (9, 11)  # no common factor, still holes (4 and 6 apart)


def test_gridding_run_continues_through_normalization_and_stops_at_strides(tmp_path):
    text = """\
inputs: {x: [64, 64, 8]}
layers:
  - {name: a, op: Conv2D, filters: 8, kernel_size: 3, dilation_rate: 2, padding: same}
  - {name: bn, op: BatchNormalization}
  - {name: b, op: Conv2D, filters: 8, kernel_size: 3, dilation_rate: 4, padding: same}
  - {name: down, op: Conv2D, filters: 8, kernel_size: 3, strides: 2, padding: same}
  - {name: c, op: Conv2D, filters: 8, kernel_size: 3, dilation_rate: 2, padding: same}
"""
    found = only(check(tmp_path, text), "CP402")
    assert found.layer == "b" and "'a', 'b'" in found.message and "common factor 2" in found.message


def test_residual_connections_reset_the_plain_depth(tmp_path):
    text = """\
inputs: {x: [16, 16, 8]}
blocks:
  res:
    layers:
      - {name: a, op: Conv2D, filters: 8, kernel_size: 3, padding: same, activation: relu}
      - {name: b, op: Conv2D, filters: 8, kernel_size: 3, padding: same}
      - {name: sum, op: Add, inputs: [b, $input]}
layers:
  - {name: stage, block: res, repeat: 8}
"""
    assert "CP405" not in codes(check(tmp_path, text))
    plain = text.replace("inputs: [b, $input]", "inputs: [b, b]")
    assert "CP405" in codes(check(tmp_path, plain, "plain.yaml"))


def test_costly_convolution_saving_is_what_the_replacement_costs(tmp_path):
    found = only(check(tmp_path, SEED), "CP406")
    separable = analyze(loads_spec(SEED_SEPARABLE)).layer("conv2").macs
    standard = analyze(loads_spec(SEED)).layer("conv2").macs
    assert round(separable, -3) == 458_000 and "SeparableConv2D would need 458K" in found.message
    assert f"({100 * (1 - separable / standard):.0f}% less)" in found.message


def test_asymmetric_padding_states_the_split_and_condition(tmp_path):
    found = only(check(tmp_path, EXAMPLES["CP404"][0]), "CP404")
    assert "TF pads 1 before and 2 after the 64 rows" in found.message
    assert "each output sits half a pixel after its input position" in found.message
    even_kernel = "inputs: {x: [H, 9, 3]}\nlayers:\n" \
        "  - {name: c, op: Conv2D, filters: 4, kernel_size: 2, padding: same}\n"
    found = only(check(tmp_path, even_kernel, "even.yaml"), "CP404")
    assert "TF pads one more of the rows after than before and one more of the columns after " \
        "than before (kernel 2x2, stride 1x1), which happens for every size;" in found.message
    strided = even_kernel.replace("padding: same", "strides: 2, padding: same")
    found = only(check(tmp_path, strided, "strided.yaml"), "CP404")
    # total = 2 * ceil(n / 2) - n: 1 for odd n, 0 for even n
    assert "which happens when H is odd and when W is odd (declared 9)" in found.message
    assert "PyTorch's padding=k // 2" in found.message and "half a pixel" not in found.message


@pytest.mark.parametrize("size", [224, 225, 226, 227])
def test_stride_that_divides_its_input_is_not_reported(tmp_path, size):
    """3x3 stride 2: TF pads 0 and 1 on every even size (the stride divides it; no split
    centres it), 1 and 1 on odd ones: the standard TF downsampling never fires."""
    stem = (f"inputs: {{x: [{size}, {size}, 3]}}\nlayers:\n  - {{name: c, op: Conv2D, filters: 4, "
            "kernel_size: 3, strides: 2, padding: same}\n")
    assert "CP404" not in codes(check(tmp_path, stem))


# ---------------------------------------------------------------- padding-only outputs


def _outputs_reading_only_padding(n: int, k: int, s: int, d: int, padding: str) -> list[int]:
    """Brute force from TF's definitions, without the rule's shortcuts: the output count and
    pad before of each padding, then every tap of every output."""
    k_eff = (k - 1) * d + 1
    if padding == "valid":
        count, before = ((n - k_eff) // s + 1 if n >= k_eff else 0), 0
    elif padding == "causal":
        count, before = -(-n // s), k_eff - 1
    else:
        count = -(-n // s)
        before = max((count - 1) * s + k_eff - n, 0) // 2
    return [i for i in range(count)
            if all(not 0 <= i * s - before + j * d < n for j in range(k))]


@given(st.integers(1, 80), st.integers(1, 6), st.integers(1, 4), st.integers(1, 24),
       st.sampled_from(["valid", "same", "causal"]))
def test_padding_only_outputs_are_the_brute_force_ones(n, k, s, d, padding):
    assert padding_only_outputs(n, k, s, d, padding) == \
        _outputs_reading_only_padding(n, k, s, d, padding)


def test_padding_only_outputs_need_a_dilation_above_the_input():
    """Exhaustively on small windows: none under 'valid' or 'causal', none without a
    dilation larger than the input, none for an odd kernel at stride 1 (its centre tap)."""
    for n, k, s, d in itertools.product(range(1, 30), range(1, 6), range(1, 4), range(1, 14)):
        for padding in ("valid", "causal"):
            assert not _outputs_reading_only_padding(n, k, s, d, padding)
        empty = _outputs_reading_only_padding(n, k, s, d, "same")
        assert not empty or n < d, (n, k, s, d)
        assert not empty or not (k % 2 and s == 1), (n, k, s, d)
    assert _outputs_reading_only_padding(16, 3, 1, 8, "same") == []  # the ASPP branch
    assert _outputs_reading_only_padding(6, 2, 1, 8, "same") == [2, 3]


DILATED_OPS = st.sampled_from(["Conv1D", "DepthwiseConv1D", "MaxPooling1D"])


@st.composite
def dilated_stacks(draw):
    """1-D chains of 1 to 3 windows: kernels 1-4, strides 1-3, dilations 1-12 (a
    convolution has one or the other, as Keras requires), 'valid' or 'same'."""
    layers = []
    for i in range(draw(st.integers(1, 3))):
        op, k, s = draw(DILATED_OPS), draw(st.integers(1, 4)), draw(st.integers(1, 3))
        d = 1 if op == "MaxPooling1D" or (op == "Conv1D" and s > 1) else \
            draw(st.integers(1, 12))
        padding = draw(st.sampled_from(["valid", "same", "same"]))
        if op == "MaxPooling1D":
            window = f"pool_size: {k}, strides: {s}"
        else:
            extra = "filters: 2, " if op == "Conv1D" else ""
            window = f"{extra}kernel_size: {k}, strides: {s}, dilation_rate: {d}"
        layers.append(f"  - {{name: l{i}, op: {op}, {window}, padding: {padding}}}")
    return "inputs: {x: [SIZE, 2]}\nlayers:\n" + "\n".join(layers) + "\n"


def _in_size_set(phrase: str, value: int) -> bool:
    """Evaluate 'L is at most 15', 'L is 4 to 15', 'L is 3 to 5 or 9' at value."""
    body = phrase.split(" is ", 1)[1]
    if body.startswith("at most "):
        return value <= int(body.split()[-1])
    for part in body.split(" or "):
        first, _, last = part.partition(" to ")
        if int(first) <= value <= int(last or first):
            return True
    return False


@given(dilated_stacks())
def test_padding_only_sizes_agree_with_concrete_checks(tmp_path_factory, stack):
    """The input sizes CP103 states for a symbolic input are exactly those at which the
    concrete check reports the layer (sizes the network builds at)."""
    folder = tmp_path_factory.mktemp("dilated")
    symbolic = {f.layer: f.message for f in check(folder, stack.replace("SIZE", "L"), "s.yaml")
                if f.code == "CP103"}
    for n in range(1, 40):
        concrete = check(folder, stack.replace("SIZE", str(n)), f"n{n}.yaml")
        if {"CP100", "CP101"} & set(codes(concrete)):
            continue
        fired = {f.layer for f in concrete if f.code == "CP103"}
        for layer in fired | set(symbolic):
            when = re.search(r"when (L is [^;(]*?)(?: \(declared|; |$)", symbolic.get(layer, ""))
            expected = layer in symbolic and _in_size_set(when.group(1), n)
            assert (layer in fired) == expected, (layer, n, symbolic.get(layer), stack)


# ---------------------------------------------------------------- misaligned paths


@st.composite
def two_branch_merges(draw):
    """Two 1-D chains of 1 or 2 windows from one input (kernels 1-4, mostly 'same'), with
    the same total stride (1, 2 or 4) split differently, added: their centres differ for some
    sizes, all or none, and their lengths mostly agree."""
    total = draw(st.sampled_from([1, 2, 4]))
    splits = {1: [(1,), (1, 1)], 2: [(2,), (1, 2), (2, 1)], 4: [(4,), (2, 2)]}[total]
    layers = []
    for branch in "ab":
        source = "x"
        for i, s in enumerate(draw(st.sampled_from(splits))):
            k = draw(st.integers(1, 4))
            padding = draw(st.sampled_from(["valid", "same", "same", "same"]))
            layers.append(f"  - {{name: {branch}{i}, op: Conv1D, filters: 2, kernel_size: {k}, "
                          f"strides: {s}, padding: {padding}, inputs: {source}}}")
            source = f"{branch}{i}"
        layers.append(f"  - {{name: {branch}, op: ReLU, inputs: {source}}}")
    layers.append("  - {name: m, op: Add, inputs: [a, b]}")
    return "inputs: {x: [SIZE, 1]}\nlayers:\n" + "\n".join(layers) + "\n"


STRIDED_PAIR = """\
inputs: {x: [SIZE, 1]}
layers:
  - {name: a, op: Conv1D, filters: 2, kernel_size: 3, strides: 2, padding: same, inputs: x}
  - {name: b, op: Conv1D, filters: 2, kernel_size: 1, strides: 2, padding: same, inputs: x}
  - {name: m, op: Add, inputs: [a, b]}
"""


def test_strided_same_pair_is_misaligned_on_even_sizes(tmp_path):
    """TF pads a 3-tap stride-2 'same' window 0 before on even lengths (centre 1) and 1
    before on odd ones (centre 0); the 1x1 stride-2 shortcut's centre is 0."""
    (found,) = [f for f in check(tmp_path, STRIDED_PAIR.replace("SIZE", "L")) if f.code == "CP106"]
    assert found.message.endswith("length: inputs 'a' and 'b' are centred 1 input pixel apart "
                                  "when L is even")


def test_merge_that_builds_for_some_sizes_is_compared_where_it_builds(tmp_path):
    """A 1-tap and a 2-tap stride-2 'valid' window agree in length only on even L (CP105);
    there the 2-tap one is centred half a pixel later, at every such size. Kernels 3 and 1
    agree at no large size: nothing to compare (CP105 says so)."""
    pair = STRIDED_PAIR.replace("SIZE", "L").replace("padding: same", "padding: valid")
    found = check(tmp_path, pair.replace("kernel_size: 3", "kernel_size: 2"), "even.yaml")
    assert "agree only when L is even" in only(found, "CP105").message
    assert only(found, "CP106").message.endswith(
        "inputs 'a' and 'b' are centred 0.5 input pixels apart (centres 0.5 and 0)")
    never = check(tmp_path, pair, "never.yaml")
    assert "agree for no large input size" in only(never, "CP105").message
    assert "CP106" not in codes(never)


@example(STRIDED_PAIR, 20)
@given(two_branch_merges(), st.integers(20, 100))
def test_misalignment_condition_agrees_with_concrete_checks(tmp_path_factory, stack, start):
    """CP106 on a symbolic input says at which sizes the concrete check fires (always, or
    for the residues it states), and a distance it gives for every size is the one each
    concrete size reports."""
    folder = tmp_path_factory.mktemp("merge")
    claims = [f.message for f in check(folder, stack.replace("SIZE", "L"), "sym.yaml")
              if f.code == "CP106"]
    claim = claims[0] if claims else None
    for n in range(start, start + 8):
        concrete = check(folder, stack.replace("SIZE", str(n)), f"n{n}.yaml")
        if {"CP100", "CP101"} & set(codes(concrete)):
            continue  # the branches' lengths differ at this size: the merge does not build
        fired = [f.message for f in concrete if f.code == "CP106"]
        assert all("inputs 'a' and 'b'" in m for m in fired), fired
        if claim is None:
            assert not fired, (n, stack)
        elif "for some input sizes" not in claim:
            when = re.search(r"apart when (L .*?)(?:; |$)", claim)
            assert bool(fired) == (when is None or _holds(when.group(1), n)), \
                (n, claim, fired, stack)
            gap = re.search(r"centred ([\d.]+ input pixels?) apart for every", claim)
            if gap and fired:
                assert f"centred {gap.group(1)} apart (" in fired[0], (claim, fired)
