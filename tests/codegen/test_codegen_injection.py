"""No string in a spec can inject code into a generated project (issue 8, item 3).

Every string a spec can carry is tried with payloads that would break out of a Python string,
docstring or comment, run Jinja, or form Markdown/HTML: the spec's description (free text,
emitted), the `checks:` section and `suppress:` codes (free text, never emitted), and the
strings the spec format restricts (spec, layer, input and block names, input references, op
names, activation, padding, interpolation, dtype, data_format), which must be refused with one
line, exit code 2, and nothing written. Where a payload is written, every token of the
generated Python that contains it is a string literal, the literal evaluates back to the
payload, and the Markdown shows it escaped.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
import yaml

from convplan import load
from convplan.cli.main import main

PAYLOADS = [
    "'; __import__('os').system('touch PWNED') #",
    '"""\n__import__("os").system("touch PWNED")\n"""',
    "\\'); __import__('os').system('touch PWNED'); ('",
    "{{ 7*7 }} {% for x in range(3) %}PWNED{% endfor %} {# comment #} ${7*7}",
    "line one\nline two\r\n\x00\x1b[31m\u202eTAB\there\x0b\x0c",
    "<script>alert('PWNED')</script> [x](javascript:alert(1)) ![i](http://e.x/p.png) `c` | a |",
    "\n# PWNED heading\n```python\nimport os\n```\n<!-- -->",
    "\udcff\ud800 lone surrogates",
    "é 漢字 👍 \u2028 \ufeff",
]
MARKERS = ("__import__", "PWNED", "7*7", "<script>", "javascript", "import os")

BASE = {
    "name": "hostile",
    "description": "plain",
    "inputs": {"image": [8, 8, 1]},
    "layers": [
        {"name": "conv", "op": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same",
         "activation": "relu"},
        {"name": "up", "op": "UpSampling2D", "interpolation": "nearest"},
        {"name": "pool", "op": "MaxPooling2D"},
        {"name": "flat", "op": "Flatten"},
        {"name": "out", "op": "Dense", "units": 3, "activation": "softmax"},
    ],
}


def spec_with(path: tuple, value) -> dict:
    spec = json.loads(json.dumps(BASE))
    target = spec
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return spec


def write_spec(tmp_path: Path, spec: dict) -> Path:
    path = tmp_path / "spec.json"
    text = json.dumps(spec, ensure_ascii=False)
    try:
        path.write_bytes(text.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates only exist as \u escapes
        path.write_text(json.dumps(spec), encoding="ascii")
    return path


def generate(tmp_path: Path, spec: dict) -> tuple[int, Path]:
    out = tmp_path / "project"
    return main(["generate", str(write_spec(tmp_path, spec)), "-o", str(out)]), out


def assert_inert(project: Path) -> None:
    """Markers only inside Python string literals; Markdown without live markup."""
    for path in sorted(project.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        if path.suffix == ".py":
            compile(text, str(path), "exec")
            for token in tokenize.generate_tokens(io.StringIO(text).readline):
                if any(m in token.string for m in MARKERS):
                    assert token.type == tokenize.STRING, (path.name, token)
        elif path.suffix == ".md":
            bare = re.sub(r"\\.", "", text)
            assert "<script>" not in bare and "](javascript" not in bare, path.name
            assert not re.search(r"^#+ PWNED", text, re.M), path.name
            assert "```python\nimport os" not in text, path.name
        elif path.suffix == ".json":
            json.loads(text)
    assert not list(project.parent.rglob("PWNED"))


def module_constant(project: Path, name: str):
    """Evaluate one module-level assignment of model.py without running anything else."""
    import ast

    tree = ast.parse((project / "model.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise KeyError(name)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_hostile_description_is_written_as_inert_text(tmp_path, payload):
    code, project = generate(tmp_path, spec_with(("description",), payload))
    assert code == 0
    assert_inert(project)
    # Exactly the text the spec holds (as the loader reads it: YAML folds U+2028).
    assert module_constant(project, "DESCRIPTION") == load(tmp_path / "spec.json").description


@pytest.mark.parametrize("payload", PAYLOADS[:4])
@pytest.mark.parametrize("where", [("checks",), ("layers", 0, "suppress")])
def test_free_text_that_is_not_emitted_never_reaches_the_project(tmp_path, payload, where):
    value = {"max_params": 10**9, "note": payload} if where == ("checks",) else [payload]
    code, project = generate(tmp_path, spec_with(where, value))
    if code == 2:  # refused by the spec's own rules: also fine, if nothing was written
        assert not project.exists()
        return
    assert code == 0
    for path in project.rglob("*"):
        if path.is_file():
            assert payload not in path.read_text(encoding="utf-8", errors="surrogateescape")
    assert_inert(project)


RESTRICTED = [
    ("name",), ("layers", 0, "name"), ("layers", 1, "inputs"), ("layers", 0, "op"),
    ("layers", 0, "activation"), ("layers", 0, "padding"), ("layers", 1, "interpolation"),
    ("layers", 0, "data_format"), ("outputs",),
]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("where", RESTRICTED, ids=lambda w: "/".join(map(str, w)))
def test_restricted_strings_are_refused_and_nothing_is_written(tmp_path, capsys, where, payload):
    code, project = generate(tmp_path, spec_with(where, payload))
    assert code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not project.exists() and not list(tmp_path.glob(".project*"))


@pytest.mark.parametrize("payload", PAYLOADS[:3])
def test_hostile_input_names_dtypes_and_blocks_are_refused(tmp_path, payload):
    specs = [
        {**BASE, "inputs": {payload: [8, 8, 1]}},
        {**BASE, "inputs": {"image": {"shape": [8, 8, 1], "dtype": payload}}},
        {**BASE, "blocks": {payload: {"layers": [{"name": "a", "op": "ReLU"}]}}},
        {**BASE, "blocks": {"b": {"params": {"p": None},
                                  "layers": [{"name": "a", "op": "Activation",
                                              "activation": "$p"}]}},
         "layers": [*BASE["layers"], {"name": "blk", "block": "b", "with": {"p": payload}}]},
    ]
    for spec in specs:
        code, project = generate(tmp_path, spec)
        assert code == 2 and not project.exists()


def test_yaml_specs_carry_the_payloads_the_same_way(tmp_path):
    """YAML with its own escapes and a block scalar; the file itself is read as plain data."""
    payload = PAYLOADS[1] + PAYLOADS[3]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec_with(("description",), payload), allow_unicode=True))
    out = tmp_path / "project"
    assert main(["generate", str(path), "-o", str(out)]) == 0
    assert_inert(out)
    assert module_constant(out, "DESCRIPTION") == payload


@pytest.mark.tf
def test_the_generated_model_runs_and_the_payload_stays_data(tmp_path):
    payload = "\n".join(PAYLOADS[:4])
    code, project = generate(tmp_path, spec_with(("description",), payload))
    assert code == 0
    script = ("import model, sys; m = model.build_model(); "
              "sys.stdout.write(repr((model.DESCRIPTION, [l.name for l in m.layers])))")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script], cwd=project, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    description, names = eval(result.stdout, {"__builtins__": {}})
    assert description == payload
    assert names == ["image", "conv", "up", "pool", "flat", "out"]
    assert not list(tmp_path.rglob("PWNED"))
