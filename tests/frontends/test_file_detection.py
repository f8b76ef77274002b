"""One way in: a file is what its content says, whatever its name, to every command.

The same bytes (a .keras archive, Keras model JSON, a convplan spec) are written under
misleading names (model.zip, model.yaml holding Keras JSON, a spec named spec.json, no suffix)
and go through the real entry point: `analyze`, `check`, `import` and `verify` (up to where it
hands the model to TensorFlow) must treat every name of one content alike. The single
exception is the name *.keras: it is a claim, and a file so named that is not a zip is refused
as a broken archive by every command.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from cli_run import run_main
from test_keras_import import CONV, layer, model

from convplan.frontends.detect import KERAS_ARCHIVE, KERAS_JSON, SPEC, sniff

# 8 rows, kernel 3, stride 2, 'valid': 3 outputs cover rows 0-6, row 7 is dropped (CP104).
KERAS = model(layer("Conv2D", "conv", ["x"], **{**CONV, "strides": [2, 2]}))
SPEC_TEXT = ("name: m\ninputs: {x: [8, 8, 3]}\nlayers:\n"
             "  - {name: conv, op: Conv2D, filters: 4, kernel_size: 3, strides: 2}\n")


def write_archive(path: Path) -> None:
    """The same bytes whenever written: zip members carry their write time, so each gets a
    fixed one (two archives written a second apart must not differ)."""
    members = {"metadata.json": '{"keras_version": "3.15.1"}', "config.json": json.dumps(KERAS),
               "model.weights.h5": b"\x89HDF not really weights"}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            member = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            archive.writestr(member, content, compress_type=zipfile.ZIP_DEFLATED)


CONTENTS = {
    # kind: (how to write it, the names it is tried under; the first is its honest name)
    KERAS_ARCHIVE: (write_archive, ["model.keras", "model.zip", "model.json", "model.yaml",
                                    "model"]),
    KERAS_JSON: (lambda p: p.write_text(json.dumps(KERAS)),
                 ["model.json", "model.yaml", "model.yml", "model.txt", "model"]),
    SPEC: (lambda p: p.write_text(SPEC_TEXT), ["spec.yaml", "spec.json", "spec.txt", "spec"]),
}
CASES = [(kind, name) for kind, (_, names) in CONTENTS.items() for name in names]


def written(tmp_path: Path, kind: str, name: str) -> Path:
    folder = tmp_path / name.replace(".", "_")  # one file per folder: no pyproject, no clash
    folder.mkdir()
    path = folder / name
    CONTENTS[kind][0](path)
    return path


def honest(tmp_path: Path, kind: str) -> Path:
    return written(tmp_path / "honest", kind, CONTENTS[kind][1][0])


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    (tmp_path / "honest").mkdir()
    return tmp_path


@pytest.mark.parametrize("kind,name", CASES)
def test_sniff_decides_by_content(tmp, kind, name):
    assert sniff(written(tmp, kind, name)).kind == kind


def _analysis(capsys, path: Path) -> str:
    code, out, err = run_main(capsys, "analyze", path, "--format", "json", "--no-symbolic")
    assert code == 0, err
    return out


@pytest.mark.parametrize("kind,name", CASES)
def test_analyze_reads_every_name_alike(tmp, capsys, kind, name):
    assert _analysis(capsys, written(tmp, kind, name)) == _analysis(capsys, honest(tmp, kind))


def _findings(capsys, path: Path) -> tuple[int, list[tuple]]:
    code, out, err = run_main(capsys, "check", "--isolated", "--format", "json", path)
    assert err == "", err
    return code, [(f["code"], f["layer"], f["line"], f["message"]) for f in json.loads(out)]


@pytest.mark.parametrize("kind,name", CASES)
def test_check_reads_every_name_alike(tmp, capsys, kind, name):
    code, found = _findings(capsys, written(tmp, kind, name))
    assert (code, found) == _findings(capsys, honest(tmp, kind))
    assert [f[:2] for f in found if f[0] == "CP104"] == [("CP104", "conv")]


@pytest.mark.parametrize("kind,name", [c for c in CASES if c[0] != SPEC])
def test_import_reads_every_name_alike(tmp, capsys, kind, name):
    _, spec, _ = run_main(capsys, "import", written(tmp, kind, name))
    _, expected, _ = run_main(capsys, "import", honest(tmp, kind))
    assert spec.splitlines()[2:] == expected.splitlines()[2:]  # the header names the file
    assert "op: Conv2D" in spec


@pytest.fixture
def handed_to_tensorflow(monkeypatch):
    """verify stopped where it hands over: what `verify_model` receives (the graph's layer
    names, and the bytes of the saved model file Keras would load, with its name)."""
    from convplan.verify import compare

    received = []

    def verify_model(graph, input_size=None, model_path=None, fields=True, **options):
        saved = None if model_path is None else (Path(model_path).suffix,
                                                 Path(model_path).read_bytes())
        received.append((list(graph.nodes), saved))
        return compare.Verification(graph.name, (), ())

    monkeypatch.setattr(compare, "verify_model", verify_model)
    return received


@pytest.mark.parametrize("kind,name", CASES)
def test_verify_dispatches_every_name_alike(tmp, capsys, handed_to_tensorflow, kind, name):
    path = written(tmp, kind, name)
    assert run_main(capsys, "verify", path)[0] == 0
    assert run_main(capsys, "verify", honest(tmp, kind))[0] == 0
    (layers, saved), (expected_layers, expected_saved) = handed_to_tensorflow
    assert layers == expected_layers == ["x", "conv"]
    if kind == SPEC:
        assert saved is None and expected_saved is None  # the model is built from the spec
        return
    assert saved[1] == expected_saved[1] == path.read_bytes()  # the file itself
    if kind == KERAS_ARCHIVE:
        assert saved[0] == ".keras"  # under a name Keras opens


@pytest.mark.parametrize("kind", [KERAS_JSON, SPEC])
@pytest.mark.parametrize("command", ["analyze", "check", "import", "verify"])
def test_a_name_ending_keras_is_held_to_being_an_archive(tmp, capsys, command, kind):
    path = written(tmp, kind, "model.keras")
    code, _, err = run_main(capsys, command, path)
    assert code == 2 and "not a .keras archive" in err, err
