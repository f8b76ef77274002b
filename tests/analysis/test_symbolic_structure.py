"""Formulas stay small (nested floors are flattened) and DAG diagnostics are reported."""

from __future__ import annotations

import sympy

from convplan import NetworkBuilder, analyze, loads_spec
from convplan.analysis.arith import substitute


def test_deep_stride_chains_do_not_blow_up():
    net = NetworkBuilder("deep")
    x = net.input("image", ["H", "W", 3])
    for i in range(30):
        padding = "same" if i % 2 else "valid"
        x = net.Conv2D(x, filters=4, kernel_size=3, strides=2, padding=padding)
        x = net.MaxPooling2D(x, pool_size=1, strides=1)
    result = analyze(net.build())
    height = result.layer(x).output_shape[0]
    assert sympy.count_ops(height) <= 8, height  # one floor, not thirty nested ones
    h = 3 * 2**31
    expected = h
    for i in range(30):
        expected = -(-expected // 2) if i % 2 else (expected - 3) // 2 + 1
    assert substitute(height, {"H": h, "W": h}) == expected


def test_misaligned_residual_paths_are_reported():
    # A 2x2 'valid' conv shifts the field centre by half a pixel against the 1x1 shortcut.
    spec = """
inputs: {x: [32, 32, 8]}
layers:
  - {name: a, op: ZeroPadding2D, padding: [[0, 1], [0, 1]], inputs: x}
  - {name: b, op: Conv2D, filters: 8, kernel_size: 2}
  - {name: skip, op: Conv2D, filters: 8, kernel_size: 1, inputs: x}
  - {name: sum, op: Add, inputs: [b, skip]}
"""
    result = analyze(loads_spec(spec))
    messages = [(m.layer, m.axis, m.message) for m in result.misalignments]
    assert [(layer, axis) for layer, axis, _ in messages] == [("sum", 0), ("sum", 1)]
    assert "centres of the inputs differ by -0.5 input pixels" in messages[0][2]


def test_aligned_resnet_shortcut_has_no_diagnostic():
    spec = """
inputs: {x: [32, 32, 8]}
layers:
  - {name: a, op: Conv2D, filters: 8, kernel_size: 3, padding: same, inputs: x}
  - {name: b, op: Conv2D, filters: 8, kernel_size: 3, padding: same}
  - {name: sum, op: Add, inputs: [b, x]}
"""
    result = analyze(loads_spec(spec))
    assert result.misalignments == ()
    field = result.layer("sum").receptive_field
    assert [(a.size, a.stride, a.start) for a in field] == [(5, 1, -2)] * 2


def test_merge_conditions_are_derived_for_symbolic_sizes():
    spec = """
inputs: {x: [H, W, 4]}
layers:
  - {name: down, op: MaxPooling2D, pool_size: 2, inputs: x}
  - {name: up, op: UpSampling2D, size: 2}
  - {name: cat, op: Concatenate, inputs: [x, up]}
"""
    result = analyze(loads_spec(spec))
    conditions = [(c.layer, c.axis, str(c.left), str(c.right)) for c in result.conditions]
    assert conditions == [("cat", 0, "H", "2*floor(H/2)"), ("cat", 1, "W", "2*floor(W/2)")]
    assert analyze(loads_spec(spec.replace("[H, W, 4]", "[16, 16, 4]"))).conditions == ()
