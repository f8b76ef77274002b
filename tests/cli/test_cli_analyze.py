"""`convplan analyze`: every format through the real entry point, checked against expected
text, parsed JSON and, for the numbers, real Keras."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from html.parser import HTMLParser
from xml.etree import ElementTree

import pytest
from cli_run import ROOT, SEED, clean_env, run_cli, run_main

from convplan.report.formatting import human

# `convplan analyze examples/seed_cnn.yaml` through a pipe: plain text, no colour. The numbers
# are checked against Keras in test_table_numbers_are_what_keras_reports.
EXPECTED_TABLE = """\
seed_cnn: input image (None, 28, 28, 1); per example (batch 1); float32; adam

layer    op            output shape        params   MACs  FLOPs  act. mem  RF size  RF stride
-------  ------------  ------------------  ------  -----  -----  --------  -------  ---------
image    InputLayer    (None, 28, 28, 1)        0      0      0  3.06 KiB        1          1
conv1    Conv2D        (None, 28, 28, 32)     320   226K   502K    98 KiB        3          1
pool1    MaxPooling2D  (None, 14, 14, 32)       0      0  18.8K  24.5 KiB        4          2
conv2    Conv2D        (None, 14, 14, 64)   18.5K  3.61M  7.25M    49 KiB        8          2
pool2    MaxPooling2D  (None, 7, 7, 64)         0      0  9.41K  12.2 KiB       10          4
flatten  Flatten       (None, 3136)             0      0      0  12.2 KiB        -          -
dense1   Dense         (None, 128)           402K   401K   803K     512 B        -          -
dense2   Dense         (None, 10)           1.29K  1.28K   2.6K      40 B        -          -
-------  ------------  ------------------  ------  -----  -----  --------  -------  ---------
total                                        422K  4.24M  8.59M   200 KiB

params:           421,642 (trainable 421,642, non-trainable 0)
MACs:             4,241,152 per example (4.24M)
FLOPs:            8,586,088 per example (8.59M)
activations:      51,098 elements per example (200 KiB in float32)
training memory:  6.55 MiB peak at batch 1 (float32, adam, fused convention) = weights 1.61 MiB +
                  optimizer slots 3.22 MiB + batch 3.1 KiB + live tensors 1.72 MiB at backward
                  'dense1'

formulas (H, W: input height and width; batch: examples per batch):
  output shape     = (batch, 10)
  params           = 8192·⌊H/4⌋·⌊W/4⌋ + 20234
  MACs             = batch·(288·H·W + 8192·⌊H/4⌋·⌊W/4⌋ + 18432·⌊H/2⌋·⌊W/2⌋ + 1280)
  FLOPs            = batch·(640·H·W + 16576·⌊H/4⌋·⌊W/4⌋ + 37088·⌊H/2⌋·⌊W/2⌋ + 2856)
  activations      = batch·(33·H·W + 128·⌊H/4⌋·⌊W/4⌋ + 96·⌊H/2⌋·⌊W/2⌋ + 138)  [elements]
  training memory  = batch·(4·H·W + 40) + 98304·⌊H/4⌋·⌊W/4⌋ + Max(batch·(256·H·W + 256·⌊H/2⌋·⌊W/2⌋), batch·(128·H·W + 512·⌊H/4⌋·⌊W/4⌋ + 640·⌊H/2⌋·⌊W/2⌋), batch·(128·H·W + 768·⌊H/2⌋·⌊W/2⌋) + 73984, batch·(128·H·W + 256·⌊H/4⌋·⌊W/4⌋ + 384·⌊H/2⌋·⌊W/2⌋ + 1104) + 5160, 256·H·W·batch + 1280, batch·(128·H·W + 512·⌊H/4⌋·⌊W/4⌋ + 384·⌊H/2⌋·⌊W/2⌋ + 1024) + 32768·⌊H/4⌋·⌊W/4⌋ + 512) + 242808  [bytes, float32, adam]

conventions:
  MACs:             multiply-accumulates of convolutions (all kinds) and Dense layers, bias excluded
  FLOPs:            2 x MACs plus every other arithmetic operation (bias, normalization,
                    activations, pooling, merges); per-op counts in docs/counting.md
  params:           trainable and non-trainable (BatchNormalization moving statistics), as Keras
                    counts them
  receptive field:  per spatial axis: size, stride (jump between outputs) and start (input
                    coordinate seen first by output 0) in input pixels
  memory:           training peak by tensor lifetimes (docs/memory.md): weights + optimizer slots +
                    the batch + the largest set of tensors live at one step (kept for the backward
                    pass, gradients, workspace), in the stated convention
  numbers:          K/M/G/T = 10^3/10^6/10^9/10^12 (3 significant digits); KiB/MiB/GiB =
                    2^10/2^20/2^30 bytes
"""  # noqa: E501

EXPECTED_MARKDOWN = """\
## seed_cnn

input image (None, 28, 28, 1); per example (batch 1); float32; adam

| layer | op | output shape | params | MACs | FLOPs | act. mem | RF size | RF stride |
|---|---|---|---:|---:|---:|---:|---:|---:|
| image | InputLayer | (None, 28, 28, 1) | 0 | 0 | 0 | 3.06 KiB | 1 | 1 |
| conv1 | Conv2D | (None, 28, 28, 32) | 320 | 226K | 502K | 98 KiB | 3 | 1 |
| pool1 | MaxPooling2D | (None, 14, 14, 32) | 0 | 0 | 18.8K | 24.5 KiB | 4 | 2 |
| conv2 | Conv2D | (None, 14, 14, 64) | 18.5K | 3.61M | 7.25M | 49 KiB | 8 | 2 |
| pool2 | MaxPooling2D | (None, 7, 7, 64) | 0 | 0 | 9.41K | 12.2 KiB | 10 | 4 |
| flatten | Flatten | (None, 3136) | 0 | 0 | 0 | 12.2 KiB | - | - |
| dense1 | Dense | (None, 128) | 402K | 401K | 803K | 512 B | - | - |
| dense2 | Dense | (None, 10) | 1.29K | 1.28K | 2.6K | 40 B | - | - |
| **total** |  |  | **422K** | **4.24M** | **8.59M** | **200 KiB** |  |  |

- **params**: 421,642 (trainable 421,642, non-trainable 0)
- **MACs**: 4,241,152 per example (4.24M)
- **FLOPs**: 8,586,088 per example (8.59M)
- **activations**: 51,098 elements per example (200 KiB in float32)
- **training memory**: 6.55 MiB peak at batch 1 (float32, adam, fused convention) = weights 1.61 MiB + optimizer slots 3.22 MiB + batch 3.1 KiB + live tensors 1.72 MiB at backward 'dense1'

### Formulas (H, W: input height and width; batch: examples per batch)

- **output shape** = `(batch, 10)`
- **params** = `8192·⌊H/4⌋·⌊W/4⌋ + 20234`
- **MACs** = `batch·(288·H·W + 8192·⌊H/4⌋·⌊W/4⌋ + 18432·⌊H/2⌋·⌊W/2⌋ + 1280)`
- **FLOPs** = `batch·(640·H·W + 16576·⌊H/4⌋·⌊W/4⌋ + 37088·⌊H/2⌋·⌊W/2⌋ + 2856)`
- **activations** = `batch·(33·H·W + 128·⌊H/4⌋·⌊W/4⌋ + 96·⌊H/2⌋·⌊W/2⌋ + 138)` (elements)
- **training memory** = `batch·(4·H·W + 40) + 98304·⌊H/4⌋·⌊W/4⌋ + Max(batch·(256·H·W + 256·⌊H/2⌋·⌊W/2⌋), batch·(128·H·W + 512·⌊H/4⌋·⌊W/4⌋ + 640·⌊H/2⌋·⌊W/2⌋), batch·(128·H·W + 768·⌊H/2⌋·⌊W/2⌋) + 73984, batch·(128·H·W + 256·⌊H/4⌋·⌊W/4⌋ + 384·⌊H/2⌋·⌊W/2⌋ + 1104) + 5160, 256·H·W·batch + 1280, batch·(128·H·W + 512·⌊H/4⌋·⌊W/4⌋ + 384·⌊H/2⌋·⌊W/2⌋ + 1024) + 32768·⌊H/4⌋·⌊W/4⌋ + 512) + 242808` (bytes, float32, adam)

### Conventions

- **MACs**: multiply-accumulates of convolutions (all kinds) and Dense layers, bias excluded
- **FLOPs**: 2 x MACs plus every other arithmetic operation (bias, normalization, activations, pooling, merges); per-op counts in docs/counting.md
- **params**: trainable and non-trainable (BatchNormalization moving statistics), as Keras counts them
- **receptive field**: per spatial axis: size, stride (jump between outputs) and start (input coordinate seen first by output 0) in input pixels
- **memory**: training peak by tensor lifetimes (docs/memory.md): weights + optimizer slots + the batch + the largest set of tensors live at one step (kept for the backward pass, gradients, workspace), in the stated convention
- **numbers**: K/M/G/T = 10^3/10^6/10^9/10^12 (3 significant digits); KiB/MiB/GiB = 2^10/2^20/2^30 bytes
"""  # noqa: E501
LAYERS = ["image", "conv1", "pool1", "conv2", "pool2", "flatten", "dense1", "dense2"]


@pytest.fixture
def analyze_json(capsys):
    """`convplan analyze SEED --format json EXTRA...` in-process, parsed."""
    def run(*extra) -> dict:
        code, out, err = run_main(capsys, "analyze", SEED, "--format", "json", *extra)
        assert (code, err) == (0, "")
        return json.loads(out)
    return run


def table_rows(text: str) -> dict[str, list[str]]:
    """Layer name -> the cells of its row in the plain table."""
    rows = {}
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells[0] in LAYERS and len(cells) == 9:
            rows[cells[0]] = cells
    return rows


def test_table_through_a_pipe_is_the_expected_plain_text():
    result = run_cli("analyze", SEED)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == EXPECTED_TABLE


def test_markdown_is_the_expected_text():
    result = run_cli("analyze", SEED, "--format", "markdown")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == EXPECTED_MARKDOWN


def test_layer_formulas_on_request(capsys):
    markdown = run_main(capsys, "analyze", SEED, "--format", "markdown", "--layer-formulas")[1]
    assert "| conv2 | (batch, ⌊H/2⌋, ⌊W/2⌋, 64) | 18496 | 18432·⌊H/2⌋·⌊W/2⌋ | 8 |" in markdown
    plain = run_main(capsys, "analyze", SEED, "--layer-formulas")[1]
    assert "  dense1   (batch, 128)  8192·⌊H/4⌋·⌊W/4⌋ + 128  8192·⌊H/4⌋·⌊W/4⌋  -" in plain


def test_json_contract_and_its_agreement_with_the_table(analyze_json, capsys):
    doc = analyze_json()
    assert {"output_shape", "totals", "layers", "symbolic", "memory", "conventions"} <= set(doc)
    assert doc["output_shape"] == [None, 10]
    assert doc["totals"] == {"params": 421642, "trainable_params": 421642,
                             "non_trainable_params": 0, "macs": 4241152,
                             "flops": doc["totals"]["flops"],
                             "activations": doc["totals"]["activations"]}
    assert [layer["name"] for layer in doc["layers"]] == LAYERS
    for layer in doc["layers"]:
        assert {"name", "op", "output_shape", "params", "trainable_params", "macs", "flops",
                "receptive_field"} <= set(layer)
    by_name = {layer["name"]: layer for layer in doc["layers"]}
    assert by_name["conv1"]["receptive_field"] == {"size": [3, 3], "stride": [1, 1],
                                                   "start": [-1, -1], "phases": [None, None]}
    assert by_name["flatten"]["receptive_field"] is None
    assert isinstance(doc["symbolic"]["totals"]["macs"], str)
    rows = table_rows(EXPECTED_TABLE)
    for name, layer in by_name.items():
        op, shape, params, macs, flops = rows[name][1:6]
        assert op == layer["op"]
        assert shape == "(" + ", ".join("None" if d is None else str(d)
                                        for d in layer["output_shape"]) + ")"
        assert (params, macs, flops) == (human(layer["params"]), human(layer["macs"]),
                                         human(layer["flops"]))


def test_batch_scales_the_counts_but_not_the_params(analyze_json, capsys):
    one, eight = analyze_json(), analyze_json("--batch", "8")
    assert eight["output_shape"] == [8, 10]
    assert eight["totals"]["params"] == one["totals"]["params"]
    for key in ("macs", "flops", "activations"):
        assert eight["totals"][key] == 8 * one["totals"][key]
    assert eight["memory"]["activations_bytes"] == 8 * one["memory"]["activations_bytes"]
    assert eight["memory"]["weights_bytes"] == one["memory"]["weights_bytes"]
    table = run_main(capsys, "analyze", SEED, "--batch", "8")[1]
    assert "(8, 28, 28, 32)" in table and "for batch 8" in table


def evaluate(formula: str, **sizes: int) -> int:
    import sympy

    names = {n: sympy.Symbol(n, integer=True, positive=True) for n in ("H", "W", "batch")}
    return int(sympy.sympify(formula, locals=names).subs({names[k]: v for k, v in sizes.items()}))


@pytest.mark.parametrize("size", [28, 56, 31])
def test_input_size_and_the_formulas_agree(analyze_json, size):
    doc = analyze_json("--input-size", f"{size}x{size}", "--batch", "3")
    assert doc["layers"][1]["macs"] == 3 * size * size * 32 * 9
    formulas = doc["symbolic"]["totals"]
    for key in ("macs", "flops", "activations", "params"):
        assert evaluate(formulas[key], H=size, W=size, batch=3) == doc["totals"][key], key
    assert evaluate(formulas["training_memory_bytes"], H=size, W=size, batch=3) == \
        doc["memory"]["total_bytes"]


def test_dtype_and_optimizer_shape_the_memory_estimate(analyze_json, capsys):
    params = 421642
    sgd16 = analyze_json("--dtype", "float16", "--optimizer", "sgd")["memory"]
    assert (sgd16["weights_bytes"], sgd16["optimizer_bytes"]) == (2 * params, 0)
    # gradients live at the peak step: some weight gradients, never more than all of them
    assert 0 < sgd16["gradients_bytes"] and sgd16["total_bytes"] == sum(
        sgd16[k] for k in ("weights_bytes", "optimizer_bytes", "batch_bytes", "live_bytes"))
    mixed = analyze_json("--dtype", "mixed_float16", "--optimizer", "adam")["memory"]
    assert (mixed["weights_bytes"], mixed["optimizer_bytes"]) == (4 * params, 8 * params)
    assert mixed["activation_bytes_per_example"] == 2 * 51098
    table = run_main(capsys, "analyze", SEED, "--dtype", "float16", "--optimizer", "sgd")[1]
    assert "at batch 1 (float16, sgd, fused convention) = weights 824 KiB + optimizer " \
           "slots 0 B" in " ".join(table.split())


def test_output_file_with_the_format_from_its_extension(tmp_path, capsys):
    checks = {"r.json": lambda text: json.loads(text)["name"] == "seed_cnn",
              "r.md": lambda text: text == EXPECTED_MARKDOWN,
              "r.txt": lambda text: text == EXPECTED_TABLE}
    for name, check in checks.items():
        assert run_main(capsys, "analyze", SEED, "-o", tmp_path / name) == (0, "", "")
        assert check((tmp_path / name).read_text(encoding="utf-8")), name
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "r.md").stat().st_mode & 0o777 == 0o666 & ~umask


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[dict] = []
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))
        self._in_cell = tag in ("td", "th")
        if self._in_cell:
            self.cells.append("")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data):
        if self._in_cell:
            self.cells[-1] += data


def svg_texts(data: bytes) -> str:
    root = ElementTree.fromstring(data)
    return "\n".join("".join(e.itertext()) for e in root.iter("{http://www.w3.org/2000/svg}text"))


def test_html_report_is_self_contained_with_the_table_formulas_and_pictures(tmp_path):
    out = tmp_path / "seed.html"
    result = run_cli("analyze", SEED, "-o", out)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    text = out.read_text(encoding="utf-8")
    page = _Collector()
    page.feed(text)
    # the live page (convplan.report.live): its own data and script, nothing from outside
    assert page.tags.count("script") == 2 and "link" not in page.tags and "src=" not in text
    assert "http://" not in text.replace("http://www.w3.org", "")
    assert "https://" not in text
    rows = table_rows(EXPECTED_TABLE)
    for name in LAYERS:  # every table row's cells, as in the plain table
        start = page.cells.index(name)
        assert page.cells[start:start + 9] == rows[name]
    assert "= 8192·⌊H/4⌋·⌊W/4⌋ + 20234" in text
    assert all(f'"name":"{name}"' in text for name in LAYERS)  # the script's table, diagram


def test_symbolic_input_sizes_print_formulas(tmp_path, capsys):
    spec = tmp_path / "fcn.yaml"
    spec.write_text("name: fcn\ninputs: {image: [H, W, 3]}\nlayers:\n"
                    "  - {name: c1, op: Conv2D, filters: 8, kernel_size: 3, strides: 2}\n")
    table = run_main(capsys, "analyze", spec)[1]
    assert "c1     Conv2D      (None, ⌊(H - 3)/2⌋ + 1, ⌊(W - 3)/2⌋ + 1, 8)" in table
    doc = json.loads(run_main(capsys, "analyze", spec, "--format", "json")[1])
    assert [evaluate(d, H=11, W=12) for d in doc["output_shape"][1:3]] == [5, 5]
    code, page, _ = run_main(capsys, "analyze", spec, "--format", "html")
    assert code == 0
    assert '"sizes":{"H":224,"W":224}' in page  # the live page opens at 224 where none given


def test_json_fields_after_upsampling_carry_their_phases(tmp_path, capsys):
    """Nearest upsampling by 2, then a kernel of 2: outputs alternately see 1 and 2 pixels
    (measured in TF, tests/analysis/test_receptive_field_tf.py); the JSON says so per output."""
    spec = tmp_path / "up.yaml"
    spec.write_text("name: up\ninputs: {x: [8, 1]}\nlayers:\n"
                    "  - {name: up, op: UpSampling1D, size: 2}\n"
                    "  - {name: c, op: Conv1D, filters: 1, kernel_size: 2}\n")
    doc = json.loads(run_main(capsys, "analyze", spec, "--format", "json")[1])
    fields = {layer["name"]: layer["receptive_field"] for layer in doc["layers"]}
    assert fields["x"] == {"size": [1], "stride": [1], "start": [0], "phases": [None]}
    assert fields["c"] == {"size": [2], "stride": [0.5], "start": [0],
                           "phases": [[[0, 0], [0, 1]]]}


def run_on_terminal(*args: str, tty: str, **env: str) -> tuple[bytes, bytes]:
    """Run with stdout or stderr (`tty`) on a pseudo-terminal, the other on a pipe."""
    controller, terminal = pty.openpty()
    pipe = subprocess.PIPE
    process = subprocess.Popen(
        [sys.executable, "-m", "convplan", *args], cwd=ROOT,
        env=clean_env(COLUMNS="140", TERM="xterm-256color", **env),
        stdout=terminal if tty == "stdout" else pipe, stderr=terminal if tty == "stderr" else pipe)
    os.close(terminal)
    seen = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            process.kill()
            raise AssertionError("no output from the terminal for 60 s")
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    piped = (process.stderr if tty == "stdout" else process.stdout).read()
    assert process.wait(timeout=60) == 0
    return (seen, piped) if tty == "stdout" else (piped, seen)


COLOUR = re.compile(rb"\x1b\[[0-9;]*(?:3[0-7]|9[0-7]|38;[25];[0-9;]+)m")


def test_a_terminal_gets_a_rich_table_in_colour_and_no_color_turns_colour_off():
    out, err = run_on_terminal("analyze", str(SEED), tty="stdout")
    assert err == b""
    text = out.decode()
    rule = "─" * 40  # rich's header rule; the piped table uses '-'
    assert COLOUR.search(out) and rule in text
    assert all(name in text for name in LAYERS)
    plain_out, _ = run_on_terminal("analyze", str(SEED), tty="stdout", NO_COLOR="1")
    assert not COLOUR.search(plain_out)
    assert rule in plain_out.decode()  # still rich's table, only without colour


def test_progress_goes_to_stderr_on_a_terminal_and_stdout_stays_clean():
    out, err = run_on_terminal("analyze", str(SEED), tty="stderr")
    assert out.decode() == EXPECTED_TABLE
    assert b"writing the table report" in err and b"4/4" in err


@pytest.mark.tf
def test_table_numbers_are_what_keras_reports(keras, analyze_json):
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(128, activation="relu", name="dense1"),
        keras.layers.Dense(10, activation="softmax", name="dense2"),
    ])
    rows = table_rows(EXPECTED_TABLE)
    doc = {layer["name"]: layer for layer in analyze_json()["layers"]}
    for layer in model.layers:
        shape = tuple(layer.output.shape)
        assert rows[layer.name][2] == "(" + ", ".join(map(str, shape)) + ")"
        assert rows[layer.name][3] == human(layer.count_params())
        assert doc[layer.name]["params"] == layer.count_params()
        kernel = [w for w in layer.weights if w.name == "kernel"]
        macs = 0
        if kernel:  # multiply-accumulates: kernel size x output positions
            positions = 1
            for d in shape[1:-1]:
                positions *= d
            macs = int(kernel[0].numpy().size) * positions
        assert doc[layer.name]["macs"] == macs
        assert rows[layer.name][4] == human(macs)
