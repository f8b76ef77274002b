"""The live HTML report in a real browser (headless Chromium through Playwright): at random
sizes, batches and dtypes the page shows what `convplan analyze --format json` prints, cell
for cell; sizes the CLI refuses show its one line on the layer it names; no request leaves
the page; ResNet50 updates in under 100 ms.

The CLI's JSON is computed in-process with the code the command runs
(analyze + json_report.analysis_document, the error line as convplan.cli.main prints it); one
case per network also runs the real `convplan analyze` in a subprocess. Skipped only where
chromium or playwright is not installed (.ci/run installs both).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import EXAMPLES, clean_env
from test_live_page import RESAMPLED

import convplan
from convplan.analysis import analyze
from convplan.errors import ConvplanError, cli_message
from convplan.options import DTYPES, dtype_bytes
from convplan.report.json_report import analysis_document
from convplan.report.live import live_html
from convplan.report.summary import layer_rows, total_row

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
NETWORKS = ("seed_cnn.yaml", "resnet50.yaml", "unet_small.yaml")
DRAWS = 20
OPTIMIZERS = ("adam", "sgd", "momentum")


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def open_page(browser, path: Path):
    """The page, with every request recorded and any but the file itself refused."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    requests: list[str] = []
    errors: list[str] = []
    url = path.as_uri()

    def route(r):
        requests.append(r.request.url)
        r.continue_() if r.request.url == url else r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page, requests, errors


SET = """([sizes, batch, dtype, optimizer]) => {
  sizes.forEach((v, i) => { document.getElementById('cp-size-' + i).value = v; });
  document.getElementById('cp-batch').value = batch;
  document.getElementById('cp-dtype').value = dtype;
  const o = document.getElementById('cp-optimizer');
  o.value = optimizer;
  const t = performance.now();
  o.dispatchEvent(new Event('input'));
  return performance.now() - t;
}"""

# returned as JSON text: Playwright's own serialisation of a deep object takes seconds
SHOWN = """() => {
  const cells = (tr) => [...tr.cells].map((c) => [c.textContent, c.dataset.exact ?? null]);
  return JSON.stringify({
    rows: [...document.querySelectorAll('#cp-table tbody tr')].map(cells),
    bad: [...document.querySelectorAll('#cp-table tbody tr.bad')].map((tr) => tr.cells[0].textContent),
    total: cells(document.querySelector('#cp-table tfoot tr')),
    memory: Object.fromEntries([...document.querySelectorAll('#cp-memory tr')].map(
      (tr) => [tr.dataset.key, tr.cells[1].dataset.exact ?? null])),
    cards: [...document.querySelectorAll('#cp-cards .card')].map(
      (c) => [c.querySelector('b').textContent, c.dataset.exact]),
    bars: [...document.querySelectorAll('#cp-chart-cost rect.bar')].map(
      (b) => [Number(b.dataset.layer), b.dataset.v]),
    error: document.getElementById('cp-error').hidden ? null
      : document.getElementById('cp-error').textContent,
    state: window.cpState(),
  });
}"""


def numbers_as_text(value):
    """The JSON document with every integer as its decimal text (the page's BigInts)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return {k: numbers_as_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers_as_text(v) for v in value]
    return value


def cli_answer(graph, size, batch, dtype, optimizer):
    """(the JSON document, None) or (None, the error line) of `convplan analyze --input-size
    ... --format json`, computed in-process as the command does."""
    from convplan.cli.main import PARAMETER_FLAGS

    try:
        concrete = analyze(graph, input_size=size)
        doc = analysis_document(concrete, None, batch=batch, dtype=dtype, optimizer=optimizer,
                                input_size=size)
    except ConvplanError as exc:
        return None, None, "convplan: error: " + " ".join(
            cli_message(str(exc), PARAMETER_FLAGS).split())
    # the table's cells as every report prints them (convplan.report.summary)
    return doc, (layer_rows(concrete, batch, dtype), total_row(concrete, batch, dtype)), None


def draws(spec: str, start: tuple[int, int]):
    """Sizes around the example's own (valid and not), batches (None: per example), dtypes
    and optimizers, the same every run."""
    rng = random.Random(spec)
    out = []
    for i in range(DRAWS):
        if i % 5 == 4:  # too small for the seed CNN's pools and the U-Net's merges
            size = (rng.randint(1, 3), rng.randint(1, 24))
        elif spec.startswith("unet") and i % 2:
            size = (16 * rng.randint(1, 20), 16 * rng.randint(1, 20))  # the U-Net's multiples
        else:
            size = tuple(max(1, s + rng.randint(-s // 2, 2 * s)) for s in start)
        batch = rng.choice([None, 1, rng.randint(2, 512), 2**40 + rng.randint(0, 99)])
        out.append((size, batch, rng.choice(list(DTYPES)), rng.choice(OPTIMIZERS)))
    return out


def compare(shown, doc, report, error, dtype):
    if error is not None:
        assert shown["error"] == error
        assert shown["state"] == {"error": error}
        named = error.split("'")[1] if error.startswith("convplan: error: layer '") else None
        if named:
            assert shown["bad"] == [named]
            row = next(r for r in shown["rows"] if r[0][0] == named)
            assert row[2][0] == error
        return 0
    assert shown["error"] is None
    state = shown["state"]
    want = numbers_as_text(doc)
    assert state["output_shapes"] == want["output_shapes"]
    assert state["totals"] == want["totals"]
    assert state["memory"] == want["memory"]
    assert state["layers"] == [{k: layer[k] for k in state["layers"][0]} for layer in
                               want["layers"]]
    compute, _ = dtype_bytes(dtype)
    cells = 0
    rows, total = report
    for row, layer, cells_want in zip(shown["rows"], doc["layers"], rows):
        assert [text for text, _ in row] == list(cells_want)  # the text convplan prints
        exacts = [x for _, x in row][3:7]
        assert exacts == [str(layer["params"]), str(layer["macs"]), str(layer["flops"]),
                          str(layer["activations"] * compute)]
        cells += len(row)
    assert [text for text, _ in shown["total"]] == list(total)
    totals = doc["totals"]
    assert [x for _, x in shown["total"]][3:7] == [
        str(totals["params"]), str(totals["macs"]), str(totals["flops"]),
        str(totals["activations"] * compute)]
    memory = doc["memory"]
    for key, value in shown["memory"].items():
        expected = memory[key]
        if key == "peak_step":
            assert json.loads(value) == expected
        else:
            assert value == (None if expected is None else str(expected)), key
    assert [x for _, x in shown["cards"]] == [str(v) for v in (
        totals["params"], totals["macs"], totals["flops"], totals["activations"] * compute,
        memory["total_bytes"], memory["inference_bytes"])]
    assert shown["bars"] == [[i, str(layer["macs"])] for i, layer in enumerate(doc["layers"])
                             if layer["macs"] > 0]
    return cells + len(shown["total"])


@pytest.mark.parametrize("spec", NETWORKS)
def test_the_page_shows_what_the_cli_prints(browser, tmp_path, spec):
    graph = convplan.load(EXAMPLES / spec)
    start = analyze(graph).layers[0].output_shape[:2]
    path = tmp_path / "report.html"
    path.write_text(live_html(graph), encoding="utf-8")
    page, requests, errors = open_page(browser, path)
    checked = invalid = 0
    timings = []
    for size, batch, dtype, optimizer in draws(spec, start):
        ms = page.evaluate(SET, [list(size), "" if batch is None else str(batch), dtype,
                                 optimizer])
        timings.append(ms)
        doc, report, error = cli_answer(graph, size, batch, dtype, optimizer)
        checked += compare(json.loads(page.evaluate(SHOWN)), doc, report, error, dtype)
        invalid += error is not None
    # the field of a picked layer, as the JSON gives it
    size = tuple(start)
    page.evaluate(SET, [list(size), "", "float32", "adam"])
    doc, _, _ = cli_answer(graph, size, None, "float32", "adam")
    for i in (1, len(doc["layers"]) // 2):
        page.evaluate(f"window.cpPick({i})")
        shown = page.evaluate("document.getElementById('cp-field-text').dataset.exact ?? null")
        field = doc["layers"][i]["receptive_field"]
        assert (json.loads(shown) if shown else None) == numbers_as_text(None if field is None else [
            {"size": a, "stride": b, "start": c}
            for a, b, c in zip(field["size"], field["stride"], field["start"])]), i
    assert errors == []
    assert requests == [path.as_uri()]  # nothing but the file itself
    print(f"{spec}: {DRAWS} draws ({invalid} refused), {checked} cells equal the CLI; "
          f"update {max(timings):.1f} ms at most, median {sorted(timings)[len(timings) // 2]:.1f}")
    assert invalid < DRAWS and checked > 0
    if spec == "resnet50.yaml":  # every draw changes the sizes: the update they cause, timed
        median = sorted(timings)[len(timings) // 2]
        print(f"ResNet50 update after an input change: median {median:.1f} ms, "
              f"max {max(timings):.1f} ms over {len(timings)} changes (performance.now)")
        assert median < 100
    page.close()


def test_subprocess_cli_agrees(browser, tmp_path):
    """The real command, once valid and once refused, against the page."""
    spec = EXAMPLES / "seed_cnn.yaml"
    path = tmp_path / "seed.html"
    path.write_text(live_html(spec), encoding="utf-8")
    page, _, _ = open_page(browser, path)
    exe = str(Path(sys.executable).parent / "convplan")
    for size, batch in (((61, 45), 3), ((3, 40), 2)):
        result = subprocess.run([exe, "analyze", str(spec), "--input-size",
                                 "x".join(map(str, size)), "--batch", str(batch), "--dtype",
                                 "mixed_float16", "--optimizer", "sgd", "--format", "json"],
                                capture_output=True, text=True, env=clean_env(), timeout=120)
        page.evaluate(SET, [list(size), str(batch), "mixed_float16", "sgd"])
        state = json.loads(page.evaluate("JSON.stringify(window.cpState())"))
        if result.returncode == 0:
            doc = numbers_as_text(json.loads(result.stdout))
            assert state["totals"] == doc["totals"] and state["memory"] == doc["memory"]
            assert state["layers"] == [{k: layer[k] for k in state["layers"][0]}
                                       for layer in doc["layers"]]
        else:
            assert result.returncode == 2
            assert state == {"error": result.stderr.strip()}
    page.close()


def test_spec_text_stays_data(browser, tmp_path):
    """Names are data: a layer name and a network name full of markup and script end tags
    reach the page as written and run nothing. (The spec reader refuses such names, so the
    model's JSON is given them here: convplan.report.live.model_json is what escapes them.)"""
    from convplan.report.live import live_model, model_json

    name = "</script><script>window.pwned=1</script><b>x</b><!--'\"\u2028&amp;"
    graph = convplan.load(EXAMPLES / "seed_cnn.yaml")
    concrete, symbolic = analyze(graph), analyze(graph, generalize=True)
    page_text = live_html(graph)
    model, _ = live_model(concrete, symbolic, graph, batch=None, dtype="float32",
                          optimizer="adam")
    original = model_json(model)
    assert original in page_text
    model["name"] = model["layers"][1]["name"] = name
    model["layers"][1]["where"] = f"layer {name!r} (Conv2D): "
    hostile = model_json(model)
    assert "<" not in hostile and ">" not in hostile and "&" not in hostile
    path = tmp_path / "hostile.html"
    path.write_text(page_text.replace(original, hostile), encoding="utf-8")
    page, _, errors = open_page(browser, path)
    assert errors == []
    assert page.evaluate("window.pwned === undefined")
    assert page.evaluate("document.querySelector('#cp-table tbody tr:nth-child(2) td')"
                         ".textContent") == name
    assert page.evaluate("document.querySelectorAll('#cp-table b, #cp-diagram b').length") == 0
    assert page.evaluate("document.querySelectorAll('script').length") == 2
    page.evaluate(SET, [[1, 1], "", "float32", "adam"])  # pool1's window is too large
    assert page.evaluate("document.getElementById('cp-error').textContent").startswith(
        "convplan: error: layer 'pool1' (MaxPooling2D): output height would be 0")
    assert page.evaluate("document.querySelector('#cp-table tbody tr:nth-child(2) td')"
                         ".textContent") == name
    page.close()


def test_screenshot_at_1280x800(browser, tmp_path):
    from PIL import Image

    path = tmp_path / "unet.html"
    path.write_text(live_html(EXAMPLES / "unet_small.yaml"), encoding="utf-8")
    page, _, _ = open_page(browser, path)
    shot = tmp_path / "live.png"
    page.screenshot(path=str(shot))
    with Image.open(shot) as image:
        assert image.size == (1280, 800)
        colours = image.convert("RGB").getcolors(1 << 20)
    assert colours is not None and len(colours) > 50  # text, inputs and cards, not a blank page
    page.close()


TIME_SET = """([sizes, batch, dtype, optimizer, device, step]) => {
  sizes.forEach((v, i) => { document.getElementById('cp-size-' + i).value = v; });
  document.getElementById('cp-batch').value = batch;
  document.getElementById('cp-dtype').value = dtype;
  document.getElementById('cp-optimizer').value = optimizer;
  document.getElementById('cp-device').value = device;
  const s = document.getElementById('cp-step');
  s.value = step;
  s.dispatchEvent(new Event('input'));
  const cells = (tr) => [...tr.cells].map((c) => c.textContent);
  return JSON.stringify({state: window.cpState(),
    error: document.getElementById('cp-time-error').hidden ? null
      : document.getElementById('cp-time-error').textContent,
    head: document.getElementById('cp-time-head').textContent,
    rows: [...document.querySelectorAll('#cp-time tbody tr')].map(cells),
    total: ((tr) => tr ? cells(tr) : null)(document.querySelector('#cp-time tfoot tr')),
    lines: [...document.querySelectorAll('#cp-time-lines p')].map((p) => p.textContent)});
}"""


def close(got, want, path="time"):
    """Equal, floats within a relative 1e-9."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), path
        for k in want:
            close(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            close(g, w, f"{path}[{i}]")
    elif isinstance(want, (int, float)) and not isinstance(want, bool):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-300), path
    else:
        assert got == want, path


def cli_time(graph, size, batch, dtype, optimizer, device, step):
    """`analyze --device ... --step ... --format json`'s "time" entry and its text lines (or
    the error line), from the command's own code (convplan.cli.analyze_cmd._with_time)."""
    from convplan.analysis.timing import time_plan
    from convplan.cli.analyze_cmd import _with_time
    from convplan.cli.main import PARAMETER_FLAGS
    from convplan.devices import device as find
    from convplan.report.time_report import time_lines

    concrete = analyze(graph, input_size=size)
    try:
        doc = json.loads(_with_time("{}", "json", graph, concrete, device, dtype, batch or 1,
                                    optimizer, step == "training"))
    except ConvplanError as exc:
        return None, None, "convplan: error: " + " ".join(
            cli_message(str(exc), PARAMETER_FLAGS).split())
    chip = find(device)
    training = step == "training"
    plan = time_plan(graph, concrete, chip, dtype, batch or 1, training, optimizer)
    forward = time_plan(graph, concrete, chip, dtype, batch or 1, False) if training else None
    return doc["time"], (plan, time_lines(plan, chip.measured, forward)), None


@pytest.mark.parametrize("spec", ("seed_cnn.yaml", "resnet50.yaml"))
def test_the_time_table_is_the_clis(browser, tmp_path, monkeypatch, spec):
    """A device and a step picked at random per draw: the page's time entry is the CLI's JSON
    (floats within 1e-9), its cells and lines are the CLI's text; a dtype the device lacks
    shows the CLI's line. A devices file with a calibrated cpu-local entry puts it in the
    device list."""
    from convplan.devices import GIGA, Device, device_to_json
    from convplan.options import format_bytes, format_count
    from convplan.report.live_time import page_devices
    from convplan.report.time_report import format_seconds

    local = Device("cpu-local", "this machine", 16 * 2**30, {"float32": 95.5 * GIGA,
                   "bfloat16": 40 * GIGA}, 12.5 * GIGA, "convplan calibrate", "cpu", 2,
                   measured=True, extra={"depthwise_flops": 7.5 * GIGA,
                                         "cache_bytes": 2.0 * 2**20, "cache_bandwidth": 60 * GIGA})
    (tmp_path / "devices.json").write_text(json.dumps({"devices": [device_to_json(local)]}))
    monkeypatch.setenv("CONVPLAN_DEVICES", str(tmp_path / "devices.json"))
    graph = convplan.load(EXAMPLES / spec)
    start = analyze(graph).layers[0].output_shape[:2]
    path = tmp_path / "report.html"
    path.write_text(live_html(graph), encoding="utf-8")
    page, _, errors = open_page(browser, path)
    rng = random.Random("time " + spec)
    names = [d.name for d in page_devices()]
    assert "cpu-local" in names
    assert page.evaluate("[...document.getElementById('cp-device').options].map((o) => o.value)"
                         ) == ["", *names]
    refused = quantized = 0
    compared: list[str] = []
    for draw in range(6):
        size = tuple(max(8, s + rng.randint(-s // 3, s)) for s in start)
        batch = rng.choice([None, 1, rng.randint(2, 512)])
        # fixed first: a refused dtype, a TPU's padding, the calibrated entry; then random
        dtype = ("float16", "bfloat16", "float32")[draw] if draw < 3 else rng.choice(
            list(DTYPES))
        device = ("tpu-v4", "tpu-v6e", "cpu-local")[draw] if draw < 3 else rng.choice(names)
        step, optimizer = rng.choice(["training", "inference"]), rng.choice(OPTIMIZERS)
        shown = json.loads(page.evaluate(TIME_SET, [list(size), "" if batch is None
                                                    else str(batch), dtype, optimizer,
                                                    device, step]))
        want, text, error = cli_time(graph, size, batch, dtype, optimizer, device, step)
        if error is not None:
            refused += 1
            assert shown["error"] == error and shown["state"]["time_error"] == error
            assert shown["rows"] == [] or "time" not in shown["state"]
            continue
        assert shown["error"] is None
        close(shown["state"]["time"], want)
        plan, lines = text
        assert shown["head"] == lines[0] + "; " + lines[1].strip()
        assert shown["rows"] == [
            [t.name, t.op, format_count(t.flops), format_bytes(t.bytes), f"{t.intensity:.3g}",
             t.bound, format_seconds(t.lower_s), format_seconds(t.upper_s),
             f"{t.quantization:.3g}"] for t in plan.layers]
        flops = sum(t.flops for t in plan.layers)
        nbytes = sum(t.bytes for t in plan.layers)
        assert shown["total"] == ["total", "", format_count(flops), format_bytes(nbytes),
                                  f"{flops / nbytes if nbytes else 0:.3g}", "",
                                  format_seconds(plan.lower_s), format_seconds(plan.upper_s), ""]
        assert shown["lines"] == [line.strip() for line in lines[-(1 + 2 * plan.training):]]
        compared.append(f"{device}/{step}/{dtype}/b{batch}")
        quantized += any(t.quantization != 1.0 for t in plan.layers)
    print(f"{spec}: time entry equal to the CLI at {compared}; {refused} refused")
    assert refused >= 1 and len(compared) >= 3 and quantized >= 2  # float16 on a TPU, at least
    page.evaluate(TIME_SET, [list(start), "", "float32", "adam", "", "training"])
    assert "time" not in json.loads(page.evaluate("JSON.stringify(window.cpState())"))
    assert errors == []
    page.close()


def test_size_dependent_fields_are_the_clis_at_every_size(browser, tmp_path):
    """The fields with no formula, at 24 random sizes (small ones, below the tables' n0, and
    large ones, far past the sizes measured): every cell and the JSON are the CLI's."""
    import time

    graph = convplan.loads_spec(RESAMPLED)
    assert analyze(graph, generalize=True).size_dependent_fields == ("down", "upt", "head")
    began = time.perf_counter()
    path = tmp_path / "resampled.html"
    path.write_text(live_html(graph), encoding="utf-8")
    built = time.perf_counter() - began
    page, requests, errors = open_page(browser, path)
    rng = random.Random("resampled")
    checked = fields = 0
    for draw in range(24):
        high = (40, 300, 5000)[draw % 3]
        size = (rng.randint(1, high), rng.randint(1, high))
        batch = rng.choice([None, 1, rng.randint(2, 64)])
        dtype, optimizer = rng.choice(list(DTYPES)), rng.choice(OPTIMIZERS)
        page.evaluate(SET, [list(size), "" if batch is None else str(batch), dtype, optimizer])
        doc, report, error = cli_answer(graph, size, batch, dtype, optimizer)
        shown = json.loads(page.evaluate(SHOWN))
        checked += compare(shown, doc, report, error, dtype)
        if error is None:
            assert all(row[7][0] != "size-dependent" for row in shown["rows"])
            fields += sum(layer["receptive_field"] is not None for layer in doc["layers"]
                          if layer["name"] in ("down", "upt", "head"))
    assert errors == [] and requests == [path.as_uri()]
    print(f"resampled: page built in {built:.2f} s; {checked} cells and {fields} tabled fields "
          "equal the CLI")
    assert fields >= 30
