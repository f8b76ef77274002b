"""Hostile and broken ONNX files through the real CLI (`analyze` and `check`): truncated or
damaged protobuf, a cycle, a million nodes, external data outside the model's folder, absurd
dims, unknown ops, control flow. Each is one line on stderr, exit code 2, in bounded time;
the worst ones again under a memory limit. Also: the core imports neither onnx nor
onnxruntime until a .onnx file is read, and reading one never imports onnxruntime or torch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_run import ROOT, clean_env, one_error_line, run_main

onnx = pytest.importorskip("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

SECONDS = 10
MEMORY_MIB = 1024  # onnx's import alone maps ~300 MiB of address space


def tiny_model(nodes: list | None = None, inits: list | None = None) -> onnx.ModelProto:
    nodes = nodes if nodes is not None else [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["y"], name="relu")]
    inits = inits if inits is not None else [
        numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def million_nodes(path: Path) -> None:
    """10^6 Relu nodes written as protobuf bytes directly (14 MB in well under a second)."""
    node = b"\x0a\x01a\x12\x01b\x22\x04Relu"  # input 'a', output 'b', op_type 'Relu'
    graph = (b"\x0a" + varint(len(node)) + node) * 1_000_000
    path.write_bytes(b"\x08\x08" + b"\x3a" + varint(len(graph)) + graph)


def external(location: str) -> onnx.ModelProto:
    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3, 3, 3])
    weight.data_location = TensorProto.EXTERNAL
    entry = weight.external_data.add()
    entry.key, entry.value = "location", location
    return tiny_model(inits=[weight])


def absurd_weight() -> onnx.ModelProto:
    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3, 3, 1 << 50])
    weight.data_location = TensorProto.EXTERNAL
    entry = weight.external_data.add()
    entry.key, entry.value = "location", "weights.bin"
    return tiny_model(inits=[weight])


def absurd_input() -> onnx.ModelProto:
    model = tiny_model()
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value = dims[3].dim_value = 1 << 40
    return model


def subgraph() -> onnx.ModelProto:
    body = helper.make_graph([], "body", [], [])
    branch = helper.make_node("If", ["x"], ["y"], name="branch", then_branch=body,
                              else_branch=body)
    return tiny_model(nodes=[branch], inits=[])


def write(model: onnx.ModelProto) -> callable:
    return lambda path: path.write_bytes(model.SerializeToString())


CASES = {
    "truncated": (lambda p: p.write_bytes(tiny_model().SerializeToString()[:200]),
                  "truncated or damaged"),
    "not protobuf": (lambda p: p.write_text("inputs:\n  - {name: x}\n" * 3),
                     "not a readable ONNX model"),
    "empty": (lambda p: p.write_bytes(b""), "holds no ONNX graph"),
    "a cycle": (write(tiny_model(nodes=[
        helper.make_node("Relu", ["b"], ["a"], name="first"),
        helper.make_node("Relu", ["a"], ["b"], name="second"),
        helper.make_node("Add", ["x", "a"], ["y"], name="add")], inits=[])), "cycle"),
    "a value nothing produces": (write(tiny_model(nodes=[
        helper.make_node("Relu", ["ghost"], ["y"], name="lost")], inits=[])), "'ghost'"),
    "a million nodes": (million_nodes, "more than 100000 nodes"),
    "external data outside the folder": (write(external("../../etc/passwd")),
                                         "outside the model's folder"),
    "external data at an absolute path": (write(external("/etc/passwd")),
                                          "outside the model's folder"),
    "absurd weight dims": (write(absurd_weight()), "beyond any real tensor"),
    "absurd input dims": (write(absurd_input()), "int64"),
    "an unknown op": (write(tiny_model(nodes=[
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3]),
        helper.make_node("FancyActivation", ["c"], ["y"], name="mystery")])),
        "node 'mystery' (FancyActivation): ONNX op FancyActivation is not modelled"),
    "control flow": (write(subgraph()), "holds a subgraph"),
    "a foreign domain": (write(tiny_model(nodes=[
        helper.make_node("Relu", ["x"], ["y"], name="r", domain="com.example")], inits=[])),
        "domain 'com.example'"),
}


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("onnx") / "models"
    folder.mkdir()
    made = {}
    for index, (case, (make, _)) in enumerate(CASES.items()):
        path = folder / f"case{index}.onnx"
        make(path)
        made[case] = path
    return made


@pytest.mark.parametrize("command", ["analyze", "check"])
@pytest.mark.parametrize("case", list(CASES))
def test_hostile_onnx_file(case, command, hostile_files, capsys):
    start = time.perf_counter()
    code, out, err = run_main(capsys, command, hostile_files[case])
    elapsed = time.perf_counter() - start
    if command == "check" and case == "absurd input dims":
        # a graph that reads but cannot run: check reports it as a finding (CP100), as it
        # does for such a spec or Keras file
        assert code == 1 and "CP100" in out and "int64" in out, out + err
        return
    line = one_error_line(err)
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in line, line
    assert CASES[case][1] in line, line
    assert command == "check" or out == "", out
    assert elapsed < SECONDS, f"{elapsed:.1f} s"


def test_the_good_model_is_read_and_its_external_data_inside_the_folder_is_never_opened(
        tmp_path, capsys):
    """The mutations above break a model analyze accepts; an external reference inside the
    folder (to a file that does not even exist) is fine: only dims are read."""
    good = tmp_path / "good.onnx"
    good.write_bytes(tiny_model().SerializeToString())
    code, out, err = run_main(capsys, "analyze", good, "--format", "json")
    assert code == 0, err
    inside = tmp_path / "inside.onnx"
    inside.write_bytes(external("weights/w.bin").SerializeToString())
    code, out, err = run_main(capsys, "analyze", inside, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["totals"]["params"] == 4 * 3 * 3 * 3


LIMITED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({mib} << 20,) * 2)
from convplan.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("case", ["a million nodes", "truncated", "a cycle"])
def test_worst_cases_under_a_memory_limit(case, hostile_files):
    done = subprocess.run([sys.executable, "-c", LIMITED.format(mib=MEMORY_MIB), "analyze",
                           str(hostile_files[case])], capture_output=True, text=True,
                          cwd=ROOT, env=clean_env(), timeout=120)
    line = one_error_line(done.stderr)
    assert done.returncode == 2 and CASES[case][1] in line, done.stderr


PROBE = """
import contextlib, io, sys
from convplan.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(code, ",".join(m for m in ("onnx", "onnxruntime", "torch", "tensorflow")
                     if m in sys.modules))
"""


@pytest.mark.slow
def test_reading_onnx_imports_onnx_only_and_nothing_else_does(tmp_path):
    good = tmp_path / "good.onnx"
    good.write_bytes(tiny_model().SerializeToString())
    spec = ROOT / "examples" / "seed_cnn.yaml"
    for source, wanted in ((good, "onnx"), (spec, "")):
        done = subprocess.run([sys.executable, "-c", PROBE, "analyze", str(source)],
                              capture_output=True, text=True, cwd=ROOT, env=clean_env(),
                              timeout=180)
        code, *loaded = done.stdout.split()
        assert code == "0", done.stderr
        assert (loaded[0] if loaded else "") == wanted, (source, loaded)
