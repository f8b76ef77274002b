"""`solve --export` shape contracts: every size a contract admits is valid per the concrete
analysis, the sizes just outside it are not admitted, and the files say the same thing (the
runtimes themselves: test_contracts_runtime.py)."""

from __future__ import annotations

import json
import types

import pytest
from cli_run import one_error_line, run_cli
from conftest import EXAMPLES
from hypothesis import given
from hypothesis import strategies as st

from convplan import analyze, load, loads_spec
from convplan.errors import ConvplanError, UsageError
from convplan.explore.contracts import derive_contract, onnx_profile, torch_export_source
from convplan.explore.solve import solve_input_sizes

# A 'valid' 3x3 convolution, then a 3-level U-Net of 'same' convolutions: H - 2 divisible by 8.
OFFSET_UNET = """
name: offset_unet
inputs: {x: [H, W, 3]}
layers:
  - {name: stem, op: Conv2D, filters: 4, kernel_size: 3}
  - {name: e1, op: Conv2D, filters: 4, kernel_size: 3, padding: same}
  - {name: p1, op: MaxPooling2D}
  - {name: e2, op: Conv2D, filters: 4, kernel_size: 3, padding: same}
  - {name: p2, op: MaxPooling2D}
  - {name: e3, op: Conv2D, filters: 4, kernel_size: 3, padding: same}
  - {name: p3, op: MaxPooling2D}
  - {name: mid, op: Conv2D, filters: 4, kernel_size: 3, padding: same}
  - {name: u3, op: UpSampling2D, size: 2}
  - {name: c3, op: Concatenate, inputs: [u3, e3]}
  - {name: u2, op: UpSampling2D, size: 2}
  - {name: c2, op: Concatenate, inputs: [u2, e2]}
  - {name: u1, op: UpSampling2D, size: 2}
  - {name: c1, op: Concatenate, inputs: [u1, e1]}
  - {name: head, op: Conv2D, filters: 2, kernel_size: 1}
"""


def builds(graph, sizes: tuple[int, ...]) -> bool:
    try:
        analyze(graph, input_size=sizes)
    except ConvplanError:
        return False
    return True


def test_offset_unet_contract_is_one_residue_class():
    graph = loads_spec(OFFSET_UNET)
    contract = derive_contract(graph, solve_input_sizes(graph), 80)
    h = contract.axis("H")
    assert (h.multiple, h.offset, h.minimum, h.maximum) == (8, 2, 10, 74)
    assert h.first_rejected() == (9, 11, 82)
    source = torch_export_source(contract)
    # at H = 10 the bottleneck is 1 row, which torch.export's program refuses: it starts at 18
    assert h.torch_minimum == 18
    assert 'H_k = Dim("H_k", min=2, max=9)' in source
    assert "{0: batch, 2: 8 * H_k + 2, 3: 8 * W_k + 2}" in source
    profile = onnx_profile(contract)
    assert profile["inputs"]["x"] == {"min": [1, 3, 10, 10], "opt": [1, 3, 74, 74],
                                      "max": [32, 3, 74, 74]}
    assert profile["trtexec"] == ("--minShapes=x:1x3x10x10 --optShapes=x:1x3x74x74 "
                                  "--maxShapes=x:32x3x74x74")


@pytest.mark.parametrize("spec", [EXAMPLES / "unet_small.yaml", EXAMPLES / "seed_cnn.yaml",
                                  EXAMPLES / "unet_4level.yaml", OFFSET_UNET])
def test_every_admitted_size_builds_and_the_first_rejected_do_not(spec):
    graph = loads_spec(spec) if isinstance(spec, str) else load(spec)
    sizes = solve_input_sizes(graph)
    contract = derive_contract(graph, sizes, 96)
    for a in contract.axes:
        other = {b.symbol: b.minimum for b in contract.axes}
        admitted = [n for n in range(1, a.maximum + 1) if a.admits(n)]
        assert admitted and admitted[0] == a.minimum and admitted[-1] == a.maximum
        for n in admitted:
            point = other | {a.symbol: n}
            assert builds(graph, tuple(point[b.symbol] for b in contract.axes)), point
        for n in a.first_rejected():
            assert not a.admits(n)
            point = other | {a.symbol: n}
            if n < a.maximum:  # inside the range: rejected because the network fails there
                assert not builds(graph, tuple(point[b.symbol] for b in contract.axes)), point


@st.composite
def strided_networks(draw):
    """A stem of 'valid' or 'same' strided convolutions and poolings, optionally closed by a
    U-Net-like skip (upsampling back and concatenating with the stem's first map)."""
    layers, total = [], 1
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "pool"]))
        stride = draw(st.sampled_from([1, 2, 3]))
        padding = draw(st.sampled_from(["valid", "same"]))
        if kind == "conv":
            k = draw(st.integers(1, 4))
            layers.append(f"  - {{name: l{i}, op: Conv2D, filters: 2, kernel_size: {k}, "
                          f"strides: {stride}, padding: {padding}}}")
        else:
            p = draw(st.integers(1, 3))
            layers.append(f"  - {{name: l{i}, op: MaxPooling2D, pool_size: {p}, "
                          f"strides: {stride}, padding: {padding}}}")
        total *= stride
    if draw(st.booleans()) and 1 < total <= 8:
        layers.append(f"  - {{name: up, op: UpSampling2D, size: {total}}}")
        layers.append("  - {name: cat, op: Concatenate, inputs: [up, l0]}")
    return "name: drawn\ninputs: {x: [H, W, 2]}\nlayers:\n" + "\n".join(layers) + "\n"


@given(strided_networks(), st.integers(1, 60))
def test_drawn_networks_contracts_admit_only_valid_sizes(spec, cap):
    graph = loads_spec(spec)
    sizes = solve_input_sizes(graph)
    try:
        contract = derive_contract(graph, sizes, cap)
    except UsageError as exc:  # nothing valid up to the cap, or past the smallest sizes
        h = sizes.axes[0].rule
        assert "no H is valid" in str(exc) or h.above(h.start - 1) is None or \
            h.above(h.start - 1) > cap or not h.residues
        return
    h, w = contract.axis("H"), contract.axis("W")
    for n in range(1, cap + 1):
        assert h.admits(n) <= builds(graph, (n, w.minimum)), n
    # the contract is the largest residue class: every size of that class up to the cap builds
    first = sizes.axes[0].rule.above(sizes.axes[0].rule.start - 1)
    assert h.minimum == first or first % h.multiple != h.offset


def test_cli_writes_the_four_files_and_json(tmp_path):
    folder = tmp_path / "contracts"
    result = run_cli("solve", str(EXAMPLES / "unet_small.yaml"), "--export", str(folder),
                      "--export-max-size", "256", "--batch", "4", "--format", "json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["export"]["inputs"]["image"]["max"] == [32, 1, 256, 256]
    assert document["export"]["inputs"]["image"]["opt"] == [4, 1, 128, 128]
    assert sorted(p.name for p in folder.iterdir()) == [
        "onnx_profile.json", "tf_signature.py", "torch_export.py", "trtexec.txt"]
    assert (folder / "trtexec.txt").read_text().strip() == document["export"]["trtexec"]
    # the Python check without TensorFlow (test_contracts_runtime.py runs the TF side)
    fake_tf = types.SimpleNamespace(TensorSpec=lambda **kw: kw, float32="float32")
    namespace: dict = {"tf": fake_tf}
    exec(compile((folder / "tf_signature.py").read_text().replace(
        "import tensorflow as tf", ""), "tf_signature.py", "exec"), namespace)
    assert namespace["valid_input_size"](H=32, W=256)
    assert not namespace["valid_input_size"](H=40, W=256)
    assert not namespace["valid_input_size"](H=272, W=256)


def test_cli_budget_answer_is_the_maximum(tmp_path):
    result = run_cli("solve", str(EXAMPLES / "unet_small.yaml"), "--max-macs", "2e9",
                      "--export", str(tmp_path))
    assert result.returncode == 0, result.stderr
    profile = json.loads((tmp_path / "onnx_profile.json").read_text())
    answer = [line for line in result.stdout.splitlines() if "largest input size" in line]
    assert answer
    side = profile["axes"]["H"]["max"]
    assert side % 16 == 0
    macs = analyze(load(EXAMPLES / "unet_small.yaml"), input_size=(side, side)).totals.macs
    assert macs <= 2e9
    assert analyze(load(EXAMPLES / "unet_small.yaml"),
                   input_size=(side + 16, side + 16)).totals.macs > 2e9


def test_cli_bad_max_size_is_one_line(tmp_path):
    result = run_cli("solve", str(EXAMPLES / "unet_small.yaml"), "--export", str(tmp_path),
                      "--export-max-size", "8")
    assert result.returncode == 2
    assert "below the smallest valid one, 16" in one_error_line(result.stderr)
    assert not list(tmp_path.iterdir())
