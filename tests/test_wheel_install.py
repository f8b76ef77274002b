"""The package as a user gets it: build the wheel, install it (not editable) into a fresh
virtualenv, and run the commands from there. Every command's output must equal the editable
checkout's, and `convplan` must be imported from the virtualenv, never from this source tree.

Needs the package index (pip builds with setuptools in an isolated environment and installs the
core dependencies fresh); the `tf` and `plot` extras are reused from this environment rather
than downloaded again, and the test shows pip installs nothing but convplan for them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from cli_run import EXAMPLES, ROOT, clean_env

from convplan.codegen.render import TEMPLATE_PACKAGE, project_templates, template_names

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

BUILD_INPUTS = ("pyproject.toml", "README.md", "convplan", "templates")  # what `pip wheel` reads
# Warnings a build prints because of our configuration: setuptools' deprecations and the
# backend's warnings as pip relays them ("BuildBackendWarning: ..."). Setuptools' own lower-case
# "warning: build_py: byte-compiling is disabled" comes from PYTHONDONTWRITEBYTECODE, not us.
CONFIG_WARNING = re.compile(r"[Dd]eprecat|\w+Warning:")


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def source_packages() -> set[str]:
    """Every package folder below convplan/, as a dotted name."""
    return {".".join(init.parent.relative_to(ROOT).parts)
            for init in (ROOT / "convplan").rglob("__init__.py")}


def test_the_package_list_is_every_package_of_the_source_tree_plus_the_templates():
    setuptools = pyproject()["tool"]["setuptools"]
    assert set(setuptools["packages"]) == source_packages() | {TEMPLATE_PACKAGE}, (
        "pyproject.toml lists the packages: add the new one to [tool.setuptools] packages")
    assert setuptools["package-dir"] == {TEMPLATE_PACKAGE: "templates"}


def test_an_editable_install_reads_the_top_level_templates_through_the_package():
    folder = ROOT / "templates" / "project"
    assert Path(str(project_templates())) == folder
    assert template_names() == sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.j2"))


# ---------------------------------------------------------------- the wheel, installed


def run(command: list[str | Path], cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd,
                          env=env or isolated_env(), timeout=timeout)


def isolated_env() -> dict[str, str]:
    """This environment without what would let a child see the checkout or this virtualenv."""
    env = clean_env(PYTHONNOUSERSITE="1", PIP_NO_INPUT="1")
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(name, None)
    return env


def checked(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result


def make_venv(folder: Path, wheel: Path, requirement: str, reuse: Path | None = None) -> Path:
    """A fresh virtualenv with `requirement` (the wheel, maybe with extras) installed; with
    `reuse`, that site-packages folder is searched after the virtualenv's own (a .pth line: its
    own .pth files, the checkout's editable hook among them, are not run)."""
    checked(run([sys.executable, "-m", "venv", folder], cwd=folder.parent))
    python = folder / "bin" / "python"
    if reuse is not None:
        site = Path(checked(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                cwd=folder)).stdout.strip())
        (site / "reuse_checkout_environment.pth").write_text(f"{reuse}\n", encoding="utf-8")
    install = checked(run([python, "-m", "pip", "install", requirement.replace("WHEEL", str(wheel))],
                          cwd=folder))
    (folder / "pip-install.log").write_text(install.stdout + install.stderr, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str]:
    """(the wheel, pip's verbose build log), built from a copy of the sources so the build's
    own files (build/, *.egg-info) never land in the checkout."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    for name in BUILD_INPUTS:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(origin, source / name)
    result = checked(run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", source,
                          "-w", work / "dist"], cwd=work))
    (wheel,) = (work / "dist").glob("convplan-*.whl")
    return wheel, result.stdout + result.stderr


@pytest.fixture(scope="module")
def venv(built, tmp_path_factory) -> Path:
    return make_venv(tmp_path_factory.mktemp("venv") / "core", built[0], "WHEEL")


def where_convplan_is(python: Path, cwd: Path, env: dict[str, str] | None = None) -> dict:
    code = ("import json, importlib.util, convplan; from convplan.codegen.render import project_templates; "
            "print(json.dumps({'convplan': convplan.__file__, 'templates': str(project_templates()), "
            "'tensorflow': importlib.util.find_spec('tensorflow') is not None}))")
    return json.loads(checked(run([python, "-c", code], cwd=cwd, env=env)).stdout)


def inputs(folder: Path) -> Path:
    """A working folder holding the specs and a Keras model JSON the commands read."""
    folder.mkdir()
    for name in ("seed_cnn.yaml", "unet_4level.yaml"):
        shutil.copy2(EXAMPLES / name, folder / name)
    (folder / "model.json").write_text(json.dumps(keras_model_json()), encoding="utf-8")
    return folder


def keras_model_json() -> dict:
    """`model.to_json()` of keras.Sequential([Input((8, 8, 3)), Conv2D(4, 3, activation='relu')])."""
    conv = dict(name="conv", trainable=True, dtype="float32", filters=4, kernel_size=[3, 3],
                strides=[1, 1], padding="valid", data_format="channels_last", dilation_rate=[1, 1],
                groups=1, activation="relu", use_bias=True,
                kernel_initializer={"class_name": "GlorotUniform", "config": {}},
                bias_initializer={"class_name": "Zeros", "config": {}}, kernel_regularizer=None,
                bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                bias_constraint=None)
    image = {"class_name": "__keras_tensor__",
             "config": {"shape": [None, 8, 8, 3], "dtype": "float32", "keras_history": ["x", 0, 0]}}
    layers = [
        {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None, "name": "x",
         "inbound_nodes": [], "config": {"batch_shape": [None, 8, 8, 3], "dtype": "float32",
                                         "sparse": False, "ragged": False, "name": "x", "optional": False}},
        {"module": "keras.layers", "class_name": "Conv2D", "registered_name": None, "name": "conv",
         "config": conv, "inbound_nodes": [{"args": [image], "kwargs": {}}]},
    ]
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "registered_name": "Functional",
            "config": {"name": "m", "trainable": True, "layers": layers,
                       "input_layers": [["x", 0, 0]], "output_layers": [["conv", 0, 0]]}}


# (arguments, exit code, a pattern stdout must hold); relative paths, so both installs print the same
COMMANDS = [
    (["analyze", "seed_cnn.yaml"], 0, r"params: +421,642 "),
    (["analyze", "model.json", "--format", "json"], 0, r'"params": 112\b'),
    (["check", "--isolated", "seed_cnn.yaml", "model.json"], 0, r"\(2 files checked\)|in \d of 2 files\."),
    (["sweep", "seed_cnn.yaml", "--vary", "conv*.strides=1,2", "--vary", "conv*.padding=valid,same",
      "--format", "csv"], 0, r"\n1,same,10,10,421642,421642,4241152,"),
    (["solve", "unet_4level.yaml"], 0, r"H: H divisible by 16"),
    (["solve", "seed_cnn.yaml", "--max-macs", "1e9", "--input-size", "112x112"], 0,
     r"14: 950M \(949,749,248\)"),
    (["import", "model.json", "-o", "imported.yaml"], 0, r"^$"),  # stderr says what it wrote
    (["generate", "seed_cnn.yaml", "-o", "project"], 0, r"wrote \d+ files to project \(cpu target\)"),
]


def written(folder: Path) -> dict[str, bytes]:
    """Every file the commands wrote below `folder`, by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.xdist_group("wheel_install")  # one worker, so one build per run
def test_the_wheel_ships_the_templates_and_builds_without_warnings_from_our_config(built):
    wheel, log = built
    assert not [line for line in log.splitlines() if CONFIG_WARNING.search(line)]

    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(n.removeprefix("convplan/_templates/project/") for n in names
                     if n.startswith("convplan/_templates/project/"))
    assert shipped == template_names()
    assert all(n.startswith(("convplan/", "convplan-")) for n in names), "only the package ships"


@pytest.mark.slow
@pytest.mark.xdist_group("wheel_install")  # one worker, so one build per run
def test_every_command_runs_from_the_installed_wheel_as_from_the_checkout(venv, tmp_path):
    found = where_convplan_is(venv / "bin" / "python", tmp_path)
    package = Path(found["convplan"]).parent
    assert package.is_relative_to(venv) and package.parent.name == "site-packages", found
    assert Path(found["templates"]) == package / "_templates" / "project"
    assert not found["tensorflow"], "the core commands must run without TensorFlow"

    from_wheel, from_checkout = inputs(tmp_path / "wheel"), inputs(tmp_path / "checkout")
    for args, code, expected in COMMANDS:
        wheel = run([venv / "bin" / "convplan", *args], cwd=from_wheel)
        checkout = run([sys.executable, "-m", "convplan", *args], cwd=from_checkout)
        assert (wheel.returncode, wheel.stdout, wheel.stderr) == (
            checkout.returncode, checkout.stdout, checkout.stderr), args
        assert wheel.returncode == code, (args, wheel.stderr)
        assert re.search(expected, wheel.stdout), (args, wheel.stdout)
    files = written(from_wheel)
    assert "project/model.py" in files and "project/tests/test_model.py" in files
    assert "imported.yaml" in files
    assert files == written(from_checkout)


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.xdist_group("wheel_install")  # one worker, so one build per run
def test_plot_and_verify_run_from_the_wheel_with_its_extras(built, tmp_path):
    here = Path(sysconfig.get_paths()["purelib"])  # where this environment's TensorFlow lives
    if not (here / "tensorflow").is_dir() and os.environ.get("CONVPLAN_ALLOW_NO_TF"):
        pytest.skip("TensorFlow is not installed here")
    extras = make_venv(tmp_path / "extras", built[0], "WHEEL[tf,plot]", reuse=here)
    log = (extras / "pip-install.log").read_text(encoding="utf-8")
    assert re.findall(r"^Installing collected packages: (.*)$", log, re.M) == ["convplan"], log
    found = where_convplan_is(extras / "bin" / "python", tmp_path)
    assert Path(found["convplan"]).is_relative_to(extras) and found["tensorflow"], found

    work = inputs(tmp_path / "work")
    plot = checked(run([extras / "bin" / "convplan", "plot", "seed_cnn.yaml", "-o", "seed.svg"], cwd=work))
    assert (work / "seed.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml"), plot.stderr
    verify = checked(run([extras / "bin" / "convplan", "verify", "seed_cnn.yaml"], cwd=work))
    assert "seed_cnn: 8 layers, 40 checks, 0 mismatch(es); the plan matches TensorFlow" in verify.stdout
