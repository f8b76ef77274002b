"""The generated project's own model tests can fail where it matters: each mutation of a
generated model.py (an activation dropped or changed, a merge's inputs swapped, a stride,
padding, kernel size or dilation changed, a layer removed, a dtype policy changed) makes
tests/test_model.py fail, and the unmutated project passes. Many mutations keep every shape,
param and MAC count, so only the wiring, attribute, activation, dtype and receptive-field
checks (plan.json against the built model) can catch them.

All projects run in one Python process (TensorFlow imported once): the driver runs pytest on
each copy in turn, forgetting the previous copy's modules. The table printed at the end is the
one in docs/generate.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest

import convplan
from convplan.codegen import generate_project
from tests.conftest import ROOT

pytestmark = pytest.mark.tf

# A residual block and a U-Net skip at 16x16: merges whose inputs can be swapped without
# changing any shape, param or MAC count.
WIRING_SPEC = """\
name: tiny_res_unet
description: A residual block and a U-Net skip (the mutation test's wiring network)
inputs:
  image: [16, 16, 1]
layers:
  - {name: stem, op: Conv2D, filters: 4, kernel_size: 3, padding: same, activation: relu}
  - {name: res_a, op: Conv2D, filters: 4, kernel_size: 3, padding: same}
  - {name: res_relu, op: ReLU}
  - {name: res_b, op: Conv2D, filters: 4, kernel_size: 3, padding: same}
  - {name: res_add, op: Add, inputs: [stem, res_b]}
  - {name: pool, op: MaxPooling2D}
  - {name: down, op: Conv2D, filters: 8, kernel_size: 3, padding: same, activation: relu}
  - {name: up, op: Conv2DTranspose, filters: 4, kernel_size: 2, strides: 2}
  - {name: skip, op: Concatenate, inputs: [up, res_add]}
  - {name: classes, op: Conv2D, filters: 3, kernel_size: 1, activation: softmax}
"""


@dataclass(frozen=True)
class Mutation:
    project: str
    label: str
    edits: tuple[tuple[str, str], ...]  # (text that occurs once in model.py, replacement)


CONV1 = "name='conv1', filters=32, kernel_size=(3, 3), padding='same',"
SEED = [
    Mutation("seed_cnn", "none (the project as generated)", ()),
    Mutation("seed_cnn", "conv1's ReLU dropped",
             ((CONV1 + " activation='relu',", CONV1),)),
    Mutation("seed_cnn", "both convolutions' ReLUs dropped, softmax to sigmoid",
             ((CONV1 + " activation='relu',", CONV1),
              ("kernel_size=(3, 3), padding='same', activation='relu',\n    )(pool1)",
               "kernel_size=(3, 3), padding='same',\n    )(pool1)"),
              ("activation='softmax'", "activation='sigmoid'"))),
    Mutation("seed_cnn", "output softmax to sigmoid",
             (("activation='softmax'", "activation='sigmoid'"),)),
    Mutation("seed_cnn", "dense1's ReLU to tanh",
             (("units=128, activation='relu'", "units=128, activation='tanh'"),)),
    Mutation("seed_cnn", "conv2 stride 1 to 2",
             (("name='conv2', filters=64,", "name='conv2', filters=64, strides=(2, 2),"),)),
    Mutation("seed_cnn", "conv1 padding 'same' to 'valid'",
             ((CONV1, "name='conv1', filters=32, kernel_size=(3, 3), padding='valid',"),)),
    Mutation("seed_cnn", "pool1 padding 'valid' to 'same' (same shapes)",
             (("MaxPooling2D(name='pool1')", "MaxPooling2D(name='pool1', padding='same')"),)),
    Mutation("seed_cnn", "pool1 window 2x2 to 3x3, stride kept (same shapes)",
             (("MaxPooling2D(name='pool1')", "MaxPooling2D(name='pool1', pool_size=(3, 3), "
                                             "strides=(2, 2), padding='same')"),)),
    Mutation("seed_cnn", "conv1 kernel 3x3 to 5x5",
             ((CONV1, CONV1.replace("(3, 3)", "(5, 5)")),)),
    Mutation("seed_cnn", "conv1 dilation 1 to 2 (same shapes, params, MACs)",
             ((CONV1, CONV1 + " dilation_rate=(2, 2),"),)),
    Mutation("seed_cnn", "pool2 removed",
             (("    pool2 = layers.MaxPooling2D(name='pool2')(conv2)\n", ""),
              ("(name='flatten')(pool2)", "(name='flatten')(conv2)"))),
    Mutation("seed_cnn", "conv1's dtype policy float16",
             ((CONV1, CONV1 + " dtype='float16',"),)),
    Mutation("seed_cnn", "output no longer pinned to float32",
             ((", dtype='float32'", ""),)),
]
WIRING = [
    Mutation("tiny_res_unet", "none (the project as generated)", ()),
    Mutation("tiny_res_unet", "Add's inputs swapped",
             (("([stem, res_b])", "([res_b, stem])"),)),
    Mutation("tiny_res_unet", "Concatenate's inputs swapped",
             (("([up, res_add])", "([res_add, up])"),)),
    Mutation("tiny_res_unet", "skip taken from stem instead of res_add (same shapes)",
             (("([up, res_add])", "([up, stem])"),)),
    Mutation("tiny_res_unet", "ReLU layer removed",
             (("    res_relu = layers.ReLU(name='res_relu')(res_a)\n", ""),
              ("(name='res_b', filters=4, kernel_size=(3, 3), padding='same')(res_relu)",
               "(name='res_b', filters=4, kernel_size=(3, 3), padding='same')(res_a)"))),
    Mutation("tiny_res_unet", "ReLU layer to a linear Activation of the same name",
             (("layers.ReLU(name='res_relu')", "layers.Activation('linear', name='res_relu')"),)),
    Mutation("tiny_res_unet", "res_b dilation 1 to 2 (same shapes, params, MACs)",
             (("(name='res_b', filters=4, kernel_size=(3, 3),",
               "(name='res_b', filters=4, kernel_size=(3, 3), dilation_rate=(2, 2),"),)),
    Mutation("tiny_res_unet", "transposed convolution 2x2 to 3x3, padding 'same' (same shapes)",
             (("kernel_size=(2, 2), strides=(2, 2)",
               "kernel_size=(3, 3), strides=(2, 2), padding='same'"),)),
]
MUTATIONS = SEED + WIRING

# Runs pytest on each project folder given, in one process; prints {folder: result} as JSON.
DRIVER = """\
import json, sys
import pytest

class Failures:
    def __init__(self):
        self.failed = set()
    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.failed.add(report.nodeid.split("::")[-1].split("[")[0])

results = {}
for folder in json.loads(sys.argv[1]):
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(sys.argv[2]):
            del sys.modules[name]
    sys.path[:] = [p for p in sys.path if not p.startswith(sys.argv[2])]
    failures = Failures()
    code = pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--rootdir", folder,
                        "-c", folder + "/pyproject.toml", folder + "/tests/test_model.py"],
                       plugins=[failures])
    results[folder] = {"code": int(code), "failed": sorted(failures.failed)}
    import keras
    keras.backend.clear_session()
print("RESULTS " + json.dumps(results))
"""


def mutate(text: str, mutation: Mutation) -> str:
    for old, new in mutation.edits:
        assert text.count(old) == 1, f"{mutation.label}: {old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, dict]:
    base = tmp_path_factory.mktemp("mutants")
    spec = base / "tiny_res_unet.yaml"
    spec.write_text(WIRING_SPEC, encoding="utf-8")
    originals = {"seed_cnn": base / "seed_cnn", "tiny_res_unet": base / "tiny_res_unet"}
    generate_project(convplan.load(ROOT / "examples" / "seed_cnn.yaml"), originals["seed_cnn"])
    generate_project(convplan.load(spec), originals["tiny_res_unet"])
    folders = {}
    for k, mutation in enumerate(MUTATIONS):
        folder = base / f"mutant{k:02d}"
        shutil.copytree(originals[mutation.project], folder)
        model = folder / "model.py"
        model.write_text(mutate(model.read_text(encoding="utf-8"), mutation), encoding="utf-8")
        folders[mutation.label + " @ " + mutation.project] = str(folder)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONDONTWRITEBYTECODE": "1",
           "CUDA_VISIBLE_DEVICES": "", "KERAS_BACKEND": "tensorflow"}
    result = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(list(folders.values())),
                             str(base)], cwd=base, env=env, capture_output=True, text=True,
                            timeout=1200)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULTS ")]
    assert lines, result.stdout[-4000:] + result.stderr[-4000:]
    by_folder = json.loads(lines[-1].removeprefix("RESULTS "))
    table = {key: by_folder[folder] for key, folder in folders.items()}
    print_table(table)
    return table


def print_table(table: dict[str, dict]) -> None:
    print("\n| network | mutation of model.py | generated tests | failing tests |")
    print("|---|---|---|---|")
    for mutation in MUTATIONS:
        outcome = table[mutation.label + " @ " + mutation.project]
        verdict = ("pass" if outcome["code"] == 0 else "fail (caught)" if outcome["code"] == 1
                   else f"exit {outcome['code']}")
        failed = ", ".join(f"`{name.removeprefix('test_')}`" for name in outcome["failed"])
        print(f"| {mutation.project} | {mutation.label} | {verdict} | {failed or '-'} |")


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[f"{m.project}: {m.label}" for m in MUTATIONS])
def test_the_generated_tests_catch_every_mutation_and_pass_the_plan(outcomes, mutation):
    outcome = outcomes[mutation.label + " @ " + mutation.project]
    if not mutation.edits:
        assert outcome == {"code": 0, "failed": []}
    else:  # 1: tests ran and failed (not a collection or usage error)
        assert outcome["code"] == 1 and outcome["failed"], outcome

