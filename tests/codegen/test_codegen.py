"""`convplan generate`: what it writes, that it writes it whole or not at all, that the same spec
gives the same bytes, that generated/ is what the generator writes today, and that the files
pass ruff. No TensorFlow here: the generated projects' own tests run in test_generated.py."""

from __future__ import annotations

import ast
import filecmp
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT
from hypothesis import given
from hypothesis import strategies as st

from convplan import load, loads_spec
from convplan.cli.main import main
from convplan.codegen import render_project
from convplan.codegen.literals import identifiers, md_text, py_assignment, py_literal
from convplan.codegen.write import MARKER, check_relative, write_project
from convplan.errors import UsageError

RUFF = Path(sys.executable).parent / "ruff"
SEED = EXAMPLES / "seed_cnn.yaml"
PROJECT_FILES = {".convplan-generated", "PLAN.md", "README.md", "callbacks.py", "config.json",
                 "data.py", "devices.py", "evaluate.py", "files.py", "model.py", "plan.json",
                 "predict.py", "pyproject.toml", "requirements.txt", "tf_pipeline.py",
                 "train.py", "visualize.py", "tests/conftest.py", "tests/keras_facts.py",
                 "tests/keras_field.py", "tests/keras_measure.py", "tests/test_data.py",
                 "tests/test_model.py", "tests/test_train.py"}
# Modules that run on every Keras backend: no TensorFlow import at their top level.
BACKEND_AGNOSTIC = ("callbacks.py", "data.py", "devices.py", "evaluate.py", "files.py", "model.py",
                    "predict.py", "train.py", "visualize.py")


def ruff(folder: Path) -> subprocess.CompletedProcess:
    """ruff with the project's own pyproject.toml (E, F, W, B, I, UP; 100 columns)."""
    return subprocess.run([str(RUFF), "check", "--no-cache", "."], cwd=folder,
                          capture_output=True, text=True, timeout=120)


# -- literals ------------------------------------------------------------------------------

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.lists(inner, max_size=4).map(tuple),
    max_leaves=12)


@given(values)
def test_py_literal_evaluates_back_to_the_value(value):
    text = py_literal(value)
    tree = ast.parse(text, mode="eval")
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert all(ast.unparse(c.func) == "float" for c in calls)  # only float('inf')
    assert eval(compile(tree, "<literal>", "eval"), {"__builtins__": {"float": float}}) == value


@given(st.text(max_size=400))
def test_long_strings_are_split_into_lines_of_complete_literals(value):
    text = py_assignment("DESCRIPTION", value)
    assert all(len(line) <= 100 for line in text.splitlines())
    namespace: dict = {}
    exec(compile(text, "<assignment>", "exec"), {"__builtins__": {}}, namespace)
    assert namespace["DESCRIPTION"] == value


@given(st.text(max_size=200))
def test_markdown_text_forms_no_markup(value):
    text = md_text(value)
    assert "\n" not in text and "\r" not in text
    bare = re.sub(r"\\.", "", text)  # every markup character must come escaped
    assert not set(bare) & set("\\`*_[]<>#!|~&")


def test_identifiers_are_distinct_valid_and_not_reserved():
    names = ["conv1", "conv-1", "conv.1", "1x", "class", "model", "keras", "__import__", "_"]
    made = identifiers(names)
    assert len(set(made.values())) == len(names)
    for ident in made.values():
        assert ident.isidentifier() and ident not in {"class", "model", "keras", "__import__"}


# -- what a project holds ------------------------------------------------------------------

@pytest.mark.parametrize("spec,target", [("seed_cnn", "cpu"), ("resnet_small", "gpu"),
                                         ("mobilenet_small", "tpu"),
                                         ("unet_segmentation", "multi-worker")])
def test_every_file_is_rendered_and_the_python_parses(spec, target):
    files = render_project(load(EXAMPLES / f"{spec}.yaml"), target=target)
    expected = PROJECT_FILES | ({"tests/test_multi_worker.py"} if target == "multi-worker" else set())
    assert set(files) == expected
    for name, text in files.items():
        if name.endswith(".py"):
            ast.parse(text, filename=name)
    model = files["model.py"]
    for layer in load(EXAMPLES / f"{spec}.yaml"):
        assert f"name={layer.name!r}" in model  # layer names identical to the spec


@pytest.mark.parametrize("target", ["cpu", "gpu", "multi-gpu", "multi-worker", "tpu"])
def test_the_project_runs_off_tensorflow_and_pins_what_its_target_needs(target):
    files = render_project(load(SEED), target=target)
    for name in BACKEND_AGNOSTIC:
        tree = ast.parse(files[name])
        imported = {alias.name.split(".")[0] for node in tree.body
                    if isinstance(node, (ast.Import, ast.ImportFrom))
                    for alias in getattr(node, "names", [])}
        imported |= {node.module.split(".")[0] for node in tree.body
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert "tensorflow" not in imported and "tf_pipeline" not in imported, name
    packages = [line for line in files["requirements.txt"].splitlines()
                if line and not line.startswith("#")]
    tensorflow = [p for p in packages if p.startswith("tensorflow")]
    expected = {"gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
                "multi-gpu": ["tensorflow[and-cuda]>=2.21,<2.22"],
                "tpu": []}.get(target, ["tensorflow>=2.21,<2.22"])
    assert tensorflow == expected  # nothing that replaces a TPU VM's own build
    assert "keras>=3.15.1,<3.16" in packages and not any(p.startswith("jax") for p in packages)


def test_the_same_spec_gives_the_same_bytes(tmp_path):
    graph = load(SEED)
    assert render_project(graph, target="gpu") == render_project(load(SEED), target="gpu")
    write_project(render_project(graph), tmp_path / "a")
    write_project(render_project(load(SEED)), tmp_path / "b")
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b",
                                               sorted(PROJECT_FILES), shallow=False)
    assert sorted(match) == sorted(PROJECT_FILES) and not mismatch and not errors


def test_generated_folder_is_what_the_generator_writes_today(tmp_path):
    """CI fails on drift: `make regenerate` rewrites generated/ from examples/ and templates/."""
    subprocess.run([sys.executable, str(ROOT / "scripts" / "regenerate.py"), "--out",
                    str(tmp_path)], check=True, capture_output=True, timeout=300)
    committed = ROOT / "generated"
    projects = sorted(p.name for p in tmp_path.iterdir())
    assert projects == sorted(p.name for p in committed.iterdir() if p.is_dir())
    for project in projects:
        fresh = {p.relative_to(tmp_path / project) for p in (tmp_path / project).rglob("*")
                 if p.is_file()}
        kept = {p.relative_to(committed / project) for p in (committed / project).rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts}
        assert fresh == kept, f"{project}: files differ; run `make regenerate`"
        for rel in sorted(fresh):
            assert (tmp_path / project / rel).read_bytes() == (committed / project / rel).read_bytes(), \
                f"generated/{project}/{rel} drifted from the generator; run `make regenerate`"


@pytest.mark.parametrize("project", sorted(p.name for p in (ROOT / "generated").iterdir()
                                           if p.is_dir()))
def test_generated_projects_pass_ruff(project):
    result = ruff(ROOT / "generated" / project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_states_the_plan():
    readme = render_project(load(SEED))["README.md"]
    assert "421,642 parameters" in readme  # the seed CNN, as Keras counts it
    assert "`pool2`, sees 10x10 input pixels" in readme
    assert "python train.py" in readme


def test_datasets_follow_the_task():
    seed = load(SEED)
    assert "DEFAULT_DATASET = 'fashion_mnist'" in render_project(seed)["data.py"]
    with pytest.raises(UsageError, match="cifar100 does not fit"):
        render_project(seed, dataset="cifar100")
    unet = render_project(load(EXAMPLES / "unet_segmentation.yaml"))
    assert "DATASETS = ('folder', 'synthetic')" in unet["data.py"]
    assert "SparseCategoricalCrossentropy(from_logits=False," in unet["train.py"]
    mobile = render_project(load(EXAMPLES / "mobilenet_small.yaml"))  # logits: no softmax
    assert "SparseCategoricalCrossentropy(from_logits=True," in mobile["train.py"]


def test_an_input_size_reaches_the_model_and_the_plan():
    files = render_project(load(SEED), input_size=(56, 56))
    assert "image = keras.Input(shape=(56, 56, 1), name='image')" in files["model.py"]
    assert '"input_size": [\n    56,\n    56\n  ]' in files["plan.json"]
    symbolic = loads_spec("name: sym\ninputs: {x: [H, W, 3]}\nlayers:\n"
                          "  - {name: c, op: Conv2D, filters: 4, kernel_size: 3, padding: same}\n"
                          "  - {name: g, op: GlobalAveragePooling2D}\n")
    with pytest.raises(UsageError, match="`input_size`"):
        render_project(symbolic)
    assert "shape=(40, 30, 3)" in render_project(symbolic, input_size=(40, 30))["model.py"]


def test_networks_a_project_cannot_train_are_refused():
    two_outputs = loads_spec("name: two\ninputs: {x: [8, 8, 1]}\nlayers:\n"
                             "  - {name: a, op: Conv2D, filters: 2, kernel_size: 3}\n"
                             "  - {name: b, op: Conv2D, filters: 2, kernel_size: 1, inputs: [x]}\n"
                             "outputs: [a, b]\n")
    with pytest.raises(UsageError, match="one input and one output"):
        render_project(two_outputs)
    strided = loads_spec("name: s\ninputs: {x: [8, 8, 1]}\nlayers:\n"
                         "  - {name: a, op: Conv2D, filters: 2, kernel_size: 3, strides: 2}\n")
    with pytest.raises(UsageError, match="neither"):
        render_project(strided)
    dangling = loads_spec("name: d\ninputs: {x: [8, 8, 1]}\nlayers:\n"
                          "  - {name: side, op: Conv2D, filters: 2, kernel_size: 3}\n"
                          "  - {name: f, op: Flatten, inputs: [x]}\n"
                          "  - {name: out, op: Dense, units: 2}\n")
    with pytest.raises(UsageError, match="'side' feeds no other layer"):
        render_project(dangling)


# -- writing whole or not at all -----------------------------------------------------------

def test_a_non_empty_folder_is_kept_without_force(tmp_path, capsys):
    out = tmp_path / "project"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert main(["generate", str(SEED), "-o", str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["generate", str(SEED), "-o", str(out), "--force"]) == 2  # not ours to replace
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]


def test_force_replaces_a_generated_project_whole(tmp_path):
    out = tmp_path / "project"
    assert main(["generate", str(SEED), "-o", str(out)]) == 0
    (out / "stale.py").write_text("x = 1\n")
    assert main(["generate", str(SEED), "-o", str(out), "--force", "--target", "tpu"]) == 0
    assert not (out / "stale.py").exists() and (out / MARKER).is_file()
    assert "DEFAULT_TPU = 'auto'" in (out / "train.py").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]  # no temporary left


def test_a_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    files = render_project(load(SEED))
    real_open = open
    written = []

    def failing_open(path, *args, **kwargs):
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        written.append(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(OSError):
        write_project(files, tmp_path / "project")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_replacement_keeps_the_old_project(tmp_path, monkeypatch):
    out = tmp_path / "project"
    write_project(render_project(load(SEED)), out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    real_replace = os.replace

    def failing_replace(src, dst):
        if Path(src).name.endswith(".tmp"):  # moving the new project into place
            raise OSError(18, "Invalid cross-device link")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_project(render_project(load(SEED), target="gpu"), out, force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


@pytest.mark.parametrize("path", ["../escape.py", "/etc/passwd", "a/../../b", "", ".", "C:/x",
                                  "a\\..\\b", "tests/.."])
def test_paths_outside_the_project_are_refused(path):
    with pytest.raises(UsageError, match="inside the project"):
        check_relative(path)


def test_an_escaping_file_name_writes_nothing(tmp_path):
    with pytest.raises(UsageError):
        write_project({"model.py": "x = 1\n", "../evil.py": "y = 2\n"}, tmp_path / "p")
    assert list(tmp_path.iterdir()) == []
