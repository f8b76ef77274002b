"""`convplan check` as a CI gate on standard designs: an ASPP head, squeeze-and-excitation,
a WaveNet causal residual stack, an FPN and U-Nets (small hand-written specs, at a declared
size and with the size left symbolic) get no CP103, CP106, CP401 or CP404 finding; the same
designs with the mistake each rule is for (a dilation past the map, a pooled vector that is
the network's answer, a branch padded 'same' instead of 'causal', a shortcut that samples
other pixels, an even kernel at stride 1) do, and the messages name the layers involved."""

from __future__ import annotations

import pytest
from test_checks import check

CODES = ("CP103", "CP106", "CP401", "CP404")

# DeepLabV3's ASPP on an output-stride-16 map: 1x1, three dilated 3x3 branches (rates 6, 12,
# 18: the larger two exceed the 16-pixel map, every output still has its centre tap on data)
# and image pooling (pool, 1x1, bilinear upsampling back, concatenated with the branches).
ASPP = """\
inputs: {{image: [{h}, {w}, 3]}}
blocks:
  down:
    layers:
      - {{name: conv, op: Conv2D, filters: 16, kernel_size: 3, strides: 2, padding: same}}
      - {{name: bn, op: BatchNormalization}}
      - {{name: relu, op: ReLU}}
layers:
  - {{name: backbone, block: down, repeat: 4}}
  - {{name: b0, op: Conv2D, filters: 16, kernel_size: 1, inputs: backbone_4_relu}}
  - {{name: b1, op: Conv2D, filters: 16, kernel_size: 3, dilation_rate: 6, padding: same,
     inputs: backbone_4_relu}}
  - {{name: b2, op: Conv2D, filters: 16, kernel_size: 3, dilation_rate: 12, padding: same,
     inputs: backbone_4_relu}}
  - {{name: b3, op: Conv2D, filters: 16, kernel_size: {k3}, dilation_rate: 18, padding: same,
     inputs: backbone_4_relu}}
  - {{name: pool, op: GlobalAveragePooling2D, keepdims: true, inputs: backbone_4_relu}}
  - {{name: pool_conv, op: Conv2D, filters: 16, kernel_size: 1}}
  - {{name: pool_up, op: UpSampling2D, size: [{uh}, {uw}], interpolation: bilinear}}
  - {{name: aspp, op: Concatenate, inputs: [b0, b1, b2, b3, pool_up]}}
  - {{name: project, op: Conv2D, filters: 16, kernel_size: 1}}
  - {{name: logits, op: Conv2D, filters: 5, kernel_size: 1}}
"""

# EfficientNet/MobileNetV3-style blocks: squeeze (global pooling, with Reshape or keepdims),
# excite (two small layers), Multiply back onto the map; then a pooled classifier head.
SE = """\
inputs: {{image: [{h}, {w}, 3]}}
blocks:
  mbconv:
    params: {{strides: 1}}
    layers:
      - {{name: dw, op: DepthwiseConv2D, kernel_size: 5, strides: $strides, padding: same,
         activation: swish}}
      - {{name: se_squeeze, op: GlobalAveragePooling2D}}
      - {{name: se_reshape, op: Reshape, target_shape: [1, 1, 16]}}
      - {{name: se_reduce, op: Conv2D, filters: 4, kernel_size: 1, activation: swish}}
      - {{name: se_expand, op: Conv2D, filters: 16, kernel_size: 1, activation: sigmoid}}
      - {{name: se_excite, op: Multiply, inputs: [dw, se_expand]}}
      - {{name: project, op: Conv2D, filters: 16, kernel_size: 1}}
  mbconv_keepdims:
    layers:
      - {{name: dw, op: DepthwiseConv2D, kernel_size: 5, padding: same, activation: relu}}
      - {{name: se_squeeze, op: GlobalAveragePooling2D, keepdims: true}}
      - {{name: se_reduce, op: Dense, units: 4, activation: relu}}
      - {{name: se_expand, op: Dense, units: 16, activation: hard_sigmoid}}
      - {{name: se_excite, op: Multiply, inputs: [dw, se_expand]}}
      - {{name: add, op: Add, inputs: [$input, se_excite]}}
layers:
  - {{name: stem, op: Conv2D, filters: 16, kernel_size: 3, strides: 2, padding: same}}
  - {{name: block1, block: mbconv}}
  - {{name: block2, block: mbconv_keepdims}}
  - {{name: block3, block: mbconv, repeat: 4, with: {{strides: 2}}}}
  - {{name: block4, block: mbconv, repeat: 4}}
  - {{name: head_pool, op: GlobalAveragePooling2D}}
  - {{name: {head}, op: Dense, units: 10, inputs: {head_input}}}
"""

# WaveNet: a causal convolution, then gated residual blocks with dilations 1, 2, 4, ..., each
# adding its 1x1 projection back onto its input, and skip connections summed at the end.
WAVENET = """\
inputs: {{audio: [{n}, 1]}}
blocks:
  residual:
    params: {{rate: 1}}
    layers:
      - {{name: filter, op: Conv1D, filters: 16, kernel_size: 2, dilation_rate: $rate,
         padding: causal, activation: tanh, inputs: $input}}
      - {{name: gate, op: Conv1D, filters: 16, kernel_size: 2, dilation_rate: $rate,
         padding: {gate_padding}, activation: sigmoid, inputs: $input}}
      - {{name: gated, op: Multiply, inputs: [filter, gate]}}
      - {{name: skip, op: Conv1D, filters: 16, kernel_size: 1}}
      - {{name: proj, op: Conv1D, filters: 16, kernel_size: 1, inputs: gated}}
      - {{name: add, op: Add, inputs: [$input, proj]}}
layers:
  - {{name: causal, op: Conv1D, filters: 16, kernel_size: 2, padding: causal}}
  - {{name: r1, block: residual, with: {{rate: 1}}}}
  - {{name: r2, block: residual, with: {{rate: 2}}}}
  - {{name: r4, block: residual, with: {{rate: 4}}}}
  - {{name: r8, block: residual, with: {{rate: 8}}}}
  - {{name: r16, block: residual, with: {{rate: 16}}}}
  - {{name: skips, op: Add, inputs: [r1_skip, r2_skip, r4_skip, r8_skip, r16_skip]}}
  - {{name: relu, op: ReLU}}
  - {{name: out, op: Conv1D, filters: 256, kernel_size: 1, activation: softmax}}
"""

# RetinaNet's FPN on a backbone of Keras ResNet-style stages (the stride on the first 1x1, a
# 1x1 stride-2 projection shortcut): top-down nearest upsampling added to 1x1 laterals, 3x3
# smoothing, and P6 as a 3x3 stride-2 'same' convolution on C5.
FPN = """\
inputs: {{image: [{h}, {w}, 3]}}
blocks:
  stage:
    layers:
      - {{name: conv, op: Conv2D, filters: 32, kernel_size: {k1}, strides: 2, padding: same}}
      - {{name: bn, op: BatchNormalization}}
      - {{name: relu, op: ReLU}}
      - {{name: conv2, op: Conv2D, filters: 32, kernel_size: 3, padding: same}}
      - {{name: proj, op: Conv2D, filters: 32, kernel_size: 1, strides: 2, inputs: $input}}
      - {{name: add, op: Add, inputs: [conv2, proj]}}
layers:
  - {{name: c1, op: Conv2D, filters: 32, kernel_size: 3, strides: 2, padding: same}}
  - {{name: c2, block: stage}}
  - {{name: c3, block: stage}}
  - {{name: c4, block: stage}}
  - {{name: c5, block: stage}}
  - {{name: p5, op: Conv2D, filters: 32, kernel_size: 1, inputs: c5_add}}
  - {{name: p5_up, op: UpSampling2D, size: 2}}
  - {{name: l4, op: Conv2D, filters: 32, kernel_size: 1, inputs: c4_add}}
  - {{name: p4, op: Add, inputs: [p5_up, l4]}}
  - {{name: p4_up, op: UpSampling2D, size: 2}}
  - {{name: l3, op: Conv2D, filters: 32, kernel_size: 1, inputs: c3_add}}
  - {{name: p3, op: Add, inputs: [p4_up, l3]}}
  - {{name: p3_out, op: Conv2D, filters: 32, kernel_size: 3, padding: same}}
  - {{name: p4_out, op: Conv2D, filters: 32, kernel_size: 3, padding: same, inputs: p4}}
  - {{name: p5_out, op: Conv2D, filters: 32, kernel_size: 3, padding: same, inputs: p5}}
  - {{name: p6, op: Conv2D, filters: 32, kernel_size: 3, strides: 2, padding: same,
     inputs: c5_add}}
outputs: [p3_out, p4_out, p5_out, p6]
"""

# The original U-Net's shape (3x3 'same' convolutions, 2x2 max pooling, 2x2 stride-2
# transposed up-convolutions, skip concatenation) with a nearest and a bilinear decoder level,
# and the Keras example's encoder (3x3 stride-2 'same' max pooling with a 1x1 stride-2
# residual upsampled back in the decoder).
UNET = """\
inputs: {{image: [{h}, {w}, 3]}}
blocks:
  double:
    params: {{filters: 16}}
    layers:
      - {{name: a, op: Conv2D, filters: $filters, kernel_size: 3, padding: same,
         activation: relu}}
      - {{name: b, op: Conv2D, filters: $filters, kernel_size: 3, padding: same,
         activation: relu}}
layers:
  - {{name: e1, block: double, with: {{filters: 16}}}}
  - {{name: d1, op: MaxPooling2D, pool_size: 2}}
  - {{name: e2, block: double, with: {{filters: 32}}}}
  - {{name: d2, op: MaxPooling2D, pool_size: 3, strides: 2, padding: same}}
  - {{name: e3, block: double, with: {{filters: 64}}}}
  - {{name: d3, op: MaxPooling2D, pool_size: 2}}
  - {{name: bottom, block: double, with: {{filters: 128}}}}
  - {{name: u3, op: Conv2DTranspose, filters: 64, kernel_size: 2, strides: 2}}
  - {{name: m3, op: Concatenate, inputs: [u3, e3_b]}}
  - {{name: f3, block: double, with: {{filters: 64}}}}
  - {{name: u2, op: UpSampling2D, size: 2}}
  - {{name: m2, op: Concatenate, inputs: [e2_b, u2]}}
  - {{name: f2, block: double, with: {{filters: 32}}}}
  - {{name: u1, op: UpSampling2D, size: 2, interpolation: bilinear}}
  - {{name: r1, op: UpSampling2D, size: 2, inputs: d1}}
  - {{name: r1_conv, op: Conv2D, filters: 32, kernel_size: 1}}
  - {{name: m1, op: Concatenate, inputs: [u1, e1_b, r1_conv]}}
  - {{name: f1, block: double, with: {{filters: 16}}}}
  - {{name: head, op: Conv2D, filters: 3, kernel_size: 1, activation: softmax}}
"""

# design -> (template, the settings that make it standard)
DESIGNS = {
    "aspp": (ASPP, {"k3": 3}),
    "se": (SE, {"head": "logits", "head_input": "head_pool"}),
    "wavenet": (WAVENET, {"gate_padding": "causal"}),
    "fpn": (FPN, {"k1": 1}),
    "unet": (UNET, {}),
}
# sizes the strides divide, sizes they do not, and (where the design allows) symbols
SIZES = {
    "aspp": [(256, 256), (320, 480), (200, 232), (129, 97)],
    "se": [(224, 224), (256, 320), (199, 301), ("H", "W")],
    "wavenet": [(16000,), (4096,), (12345,), ("L",)],
    "fpn": [(512, 640), (256, 256), (800, 1333), ("H", "W")],
    "unet": [(128, 160), (256, 256), (96, 96), ("H", "W")],
}


def spec(template: str, sizes: tuple, **settings) -> str:
    """The template at `sizes` (ASPP's pooling is upsampled back to its 1/16 map)."""
    if len(sizes) == 1:
        return template.format(n=sizes[0], **settings)
    h, w = sizes
    extra = {"uh": -(-h // 16), "uw": -(-w // 16)} if template is ASPP else {}
    return template.format(h=h, w=w, **extra, **settings)


def found(findings, code: str):
    return [f for f in findings if f.code == code]


# The symbolic FPN's analysis (and the one that explains a merge 800 x 1333 does not fit)
# takes sympy about a minute: marked slow.
SLOW = {("fpn", ("H", "W")), ("fpn", (800, 1333))}


@pytest.mark.parametrize("design, sizes", [
    pytest.param(d, s, marks=[pytest.mark.slow] if (d, s) in SLOW else [])
    for d in DESIGNS for s in SIZES[d]])
def test_standard_design_has_none_of_these_findings(tmp_path, design, sizes):
    template, settings = DESIGNS[design]
    findings = check(tmp_path, spec(template, sizes, **settings))
    if found(findings, "CP100"):
        # a merge the declared size does not fit (CP105 says which sizes do): FPN and U-Net
        # at sizes their total stride does not divide
        assert design in ("fpn", "unet") and any(n % 8 for n in sizes), \
            [f.message for f in findings]
        return
    assert not [f for f in findings if f.code in CODES or f.severity == "error"], \
        [f"{f.code} {f.message}" for f in findings]


# ---------------------------------------------------------------- the mistakes


def test_dilation_past_the_map_with_an_even_kernel_is_cp103(tmp_path):
    """Kernel 2, dilation 18 on the 16-pixel map: taps 18 apart, so an output whose first
    tap falls before the map has its second past it."""
    text = spec(ASPP, (256, 256), k3=2)
    (finding,) = found(check(tmp_path, text), "CP103")
    assert finding.layer == "b3" and finding.severity == "error"
    assert "along the height, outputs" in finding.message
    assert "step over all 16 input rows" in finding.message
    assert "when H is" in finding.message and "(declared 256)" in finding.message


def test_odd_kernels_at_any_dilation_read_data_at_every_output(tmp_path):
    for rate in (6, 12, 18, 24, 36, 100):
        text = spec(ASPP, (256, 256), k3=3).replace("dilation_rate: 18",
                                                    f"dilation_rate: {rate}")
        assert not found(check(tmp_path, text, f"r{rate}.yaml"), "CP103"), rate


def test_pooled_vector_that_is_the_answer_is_cp401(tmp_path):
    """The SE squeeze of the first block taken as the classifier's input: its features saw
    7x7 pixels of 224x224, and nothing multiplies them back into a map."""
    text = spec(SE, (224, 224), head="logits", head_input="block1_se_squeeze")
    findings = found(check(tmp_path, text), "CP401")
    assert [f.layer for f in findings] == ["block1_dw"]
    assert "global pooling 'block1_se_squeeze'" in findings[0].message


def test_gating_another_map_is_not_context(tmp_path):
    """A pooled summary of one branch multiplied onto a map it was not pooled from is a
    feature of its own (CP401 applies), unlike squeeze-and-excitation."""
    text = """\
inputs: {image: [64, 64, 3]}
layers:
  - {name: a, op: Conv2D, filters: 8, kernel_size: 3, padding: same}
  - {name: pooled, op: GlobalAveragePooling2D, keepdims: true}
  - {name: b, op: Conv2D, filters: 8, kernel_size: 3, padding: same, inputs: image}
  - {name: gate, op: Multiply, inputs: [b, pooled]}
  - {name: gap, op: GlobalAveragePooling2D}
  - {name: out, op: Dense, units: 2}
"""
    layers = {f.layer for f in found(check(tmp_path, text), "CP401")}
    assert layers == {"a", "gate"}


def test_branch_padded_same_in_a_causal_stack_is_cp106_naming_both_inputs(tmp_path):
    """The gate padded 'same' (0 before, 1 after: it reads the next sample): the gated
    product's field ends one sample later than the residual input's."""
    text = spec(WAVENET, (16000,), gate_padding="same")
    findings = found(check(tmp_path, text), "CP106")
    assert findings and all(f.severity == "warning" for f in findings)
    gated = [f for f in findings if f.layer == "r1_gated"]
    assert gated and "inputs 'r1_filter' and 'r1_gate' end 1 input pixel apart (last " \
        "positions 0 and 1)" in gated[0].message


def test_stride_on_the_3x3_is_cp106_naming_both_inputs(tmp_path):
    """ResNet v1.5's stride on the 3x3, written with TF's 'same' (0 padded before): in stage
    c2 the main path's output 0 is centred on input pixel 1 + 2 * 1 = 3, the 1x1 stride-2
    shortcut's on c1's output 0, pixel 1."""
    findings = found(check(tmp_path, spec(FPN, (512, 640), k1=3)), "CP106")
    assert {f.layer for f in findings} == {"c2_add", "c3_add", "c4_add", "c5_add"}
    message = next(f.message for f in findings if f.layer == "c2_add")
    assert "height and width: inputs 'c2_conv2' and 'c2_proj' are centred 2 input pixels " \
        "apart (centres 3 and 1)" in message


def test_even_kernel_at_stride_1_is_cp404(tmp_path):
    """The U-Net decoder's smoothing with a 2x2 'same' kernel: pads 0 and 1, the map moves
    half a pixel."""
    text = spec(UNET, (128, 160)).replace(
        "  - {name: f1, block: double, with: {filters: 16}}",
        "  - {name: f1, op: Conv2D, filters: 16, kernel_size: 2, padding: same}")
    (finding,) = found(check(tmp_path, text), "CP404")
    assert finding.layer == "f1"
    assert "TF pads 0 before and 1 after the 128 rows" in finding.message
    assert "half a pixel" in finding.message
