"""Metrics in the viewers: `analyze --netron` and `--model-explorer` files, loaded by the real
viewers (PyPI's `netron` and `ai-edge-model-explorer`) served on 127.0.0.1 and driven in
headless Chromium through their own UI: every layer's values must arrive on the node of that
name. The Keras model is the seed CNN, built and saved as .keras by Keras here."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_run import SEED, clean_env, one_error_line, run_cli

import convplan
from convplan.analysis import analyze
from convplan.report.viewers import (
    MODEL_EXPLORER_FILES,
    NETRON_SIGNATURE,
    layer_metrics,
    model_explorer_graph,
    model_explorer_node_data,
    netron_attachment,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MODEL_EXPLORER = Path(sys.executable).parent / "model-explorer"
BUILD_SEED = """
import sys, keras
from keras import layers
x = inputs = keras.Input((28, 28, 1), name="image")
x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(x)
x = layers.MaxPooling2D(2, name="pool1")(x)
x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2")(x)
x = layers.MaxPooling2D(2, name="pool2")(x)
x = layers.Flatten(name="flatten")(x)
x = layers.Dense(128, activation="relu", name="dense1")(x)
x = layers.Dense(10, activation="softmax", name="dense2")(x)
keras.Model(inputs, x, name="seed_cnn").save(sys.argv[1])
"""


def expected(analysis, batch=None) -> dict[str, dict]:
    return {m.name: m for m in layer_metrics(analysis, batch)}


def test_netron_attachment_has_every_layers_metrics():
    analysis = analyze(convplan.load(SEED), input_size=(56, 56))
    document = netron_attachment(layer_metrics(analysis, batch=4))
    assert document["signature"] == NETRON_SIGNATURE
    metrics = {(e["target"], e["name"]): e["value"] for e in document["metrics"]}
    metadata = {(e["target"], e["name"]): e["value"] for e in document["metadata"]}
    conv2 = analysis.layer("conv2")
    assert metrics["conv2", "MACs"] == conv2.macs * 4 and metrics["conv2", "params"] == 18_496
    assert metrics["conv2", "activation memory (bytes)"] == conv2.activations * 4 * 4
    assert metadata["conv2", "output shape"] == "(4, 28, 28, 64)"
    assert metadata["conv2", "receptive field size"] == "8"
    assert {t for t, _ in metrics} == {"image[0][0]"} | {
        layer.name for layer in analysis.layers if layer.op != "InputLayer"}


def test_model_explorer_files_name_the_nodes_by_layer():
    graph = convplan.load(SEED)
    analysis = analyze(graph)
    metrics = layer_metrics(analysis)
    [me_graph] = model_explorer_graph(analysis, metrics)
    assert [n["id"] for n in me_graph["nodes"]] == [layer.name for layer in analysis.layers]
    conv2 = next(n for n in me_graph["nodes"] if n["id"] == "conv2")
    assert conv2["incomingEdges"] == [{"sourceNodeId": "pool1", "sourceNodeOutputId": "0",
                                       "targetNodeInputId": "0"}]
    assert {"key": "filters", "value": "64"} in conv2["attrs"]
    data = model_explorer_node_data(metrics)
    assert set(data) == {stem for stem, _, _ in MODEL_EXPLORER_FILES}
    assert data["macs"]["results"]["conv2"] == {"value": analysis.layer("conv2").macs}
    assert [g["stop"] for g in data["macs"]["gradient"]] == [0, 0.5, 1]


def test_the_cli_writes_both_and_refuses_formulas(tmp_path):
    result = run_cli("analyze", SEED, "--netron", tmp_path / "n.json",
                     "--model-explorer", tmp_path / "me")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "n.json").read_text())["signature"] == NETRON_SIGNATURE
    assert sorted(p.stem for p in (tmp_path / "me").iterdir()) == sorted(
        ["graph"] + [stem for stem, _, _ in MODEL_EXPLORER_FILES])
    spec = tmp_path / "open.yaml"
    spec.write_text(SEED.read_text().replace("[28, 28, 1]", "[null, null, 1]"))
    refused = run_cli("analyze", spec, "--netron", tmp_path / "m.json", "--model-explorer",
                      tmp_path / "m")
    assert refused.returncode == 2
    assert "viewer files need concrete sizes; give --input-size" in one_error_line(refused.stderr)
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "m").exists()


# -- the real viewers in a browser ------------------------------------------------------------

def _browser_ready() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return "chromium is not installed (apt-get install chromium)"
    for module in ("playwright", "netron", "model_explorer", "keras"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install -e '.[dev,viewers]')"
    return None


needs_browser = pytest.mark.skipif(_browser_ready() is not None, reason=str(_browser_ready()))


@pytest.fixture(scope="module")
def seed_keras(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("keras") / "seed_cnn.keras"
    subprocess.run([sys.executable, "-c", BUILD_SEED, str(path)], check=True, timeout=300,
                   env=clean_env(KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3"))
    return path


def _chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@pytest.mark.slow
@pytest.mark.tf
@needs_browser
def test_netron_shows_every_layers_metrics_on_its_node(seed_keras, tmp_path):
    import netron
    from playwright.sync_api import sync_playwright

    attachment = tmp_path / "seed_cnn.netron.json"
    result = run_cli("analyze", seed_keras, "--batch", "2", "--netron", attachment)
    assert result.returncode == 0, result.stderr
    want = expected(analyze(convplan.load(seed_keras)), batch=2)
    host, port = netron.serve(None, address=("127.0.0.1", 0), browse=False)
    url = f"http://{host}:{port}/"
    try:
        with sync_playwright() as p:
            browser = _chromium(p)
            # Netron's CSP forbids eval, and it replaces window.eval, which Playwright's
            # evaluate uses: the harness keeps the real one. The cookie answers the consent
            # prompt, which would otherwise wait for a click.
            context = browser.new_context(bypass_csp=True)
            context.add_cookies([{"name": "consent", "value": "1", "url": url}])
            page = context.new_page()
            page.add_init_script("(() => { const e = window.eval; Object.defineProperty("
                                 "window, 'eval', {get: () => e, set: () => {}}); })()")
            page.goto(url)
            # the user's way: Open Model..., then open the attachment the same way
            page.wait_for_selector("#open-file-button", state="visible", timeout=60_000)
            page.set_input_files("#open-file-dialog", str(seed_keras))
            page.wait_for_function("() => window.__view__ && window.__view__.activeTarget",
                                   timeout=60_000)
            page.set_input_files("#open-file-dialog", str(attachment))
            page.wait_for_function(
                "() => window.__view__.model.attachment.metrics._entries.size > 0",
                timeout=60_000)
            # what Netron's sidebar lists for each node (its own lookup by the node's name)
            shown = page.evaluate("""() => {
                const view = window.__view__, att = view.model.attachment, out = {};
                const pairs = (list) => list.map((a) => [a.name, a.value]);
                for (const node of view.activeTarget.nodes) {
                    out[node.name] = pairs(att.metrics.node(node)).concat(
                        pairs(att.metadata.node(node)));
                }
                for (const input of view.activeTarget.inputs) {
                    for (const value of input.value) {
                        out[value.name] = pairs(att.metrics.value(value)).concat(
                            pairs(att.metadata.value(value)));
                    }
                }
                return out; }""")
            # and the sidebar itself, for one node, as a person sees it
            page.get_by_text("Conv2D", exact=True).first.click()  # conv1, the first Conv2D
            sidebar = page.locator("#sidebar-content").inner_text(timeout=30_000)
            browser.close()
    finally:
        netron.stop((host, port))
    names = {("image[0][0]" if m.op == "InputLayer" else name): m for name, m in want.items()}
    assert set(shown) == set(names)
    for target, m in names.items():
        assert dict(shown[target]) == {
            "params": m.params, "MACs": m.macs, "FLOPs": m.flops,
            "activation memory (bytes)": m.memory, "output shape": m.output_shape,
            "receptive field size": m.rf_size, "receptive field stride": m.rf_stride,
            "receptive field start": m.rf_start}, target
    conv1 = want["conv1"]
    metadata, metrics = sidebar.split("METADATA")[1].split("METRICS")
    assert metadata.split("\n")[1:5] == [conv1.output_shape, conv1.rf_size, conv1.rf_stride,
                                         conv1.rf_start]
    assert metrics.split() == [str(conv1.params), str(conv1.macs), str(conv1.flops),
                               str(conv1.memory)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.tf
@needs_browser
def test_model_explorer_shows_every_layers_node_data_and_colours_by_macs(seed_keras, tmp_path):
    from playwright.sync_api import sync_playwright

    folder = tmp_path / "me"
    result = run_cli("analyze", seed_keras, "--model-explorer", folder)
    assert result.returncode == 0, result.stderr
    want = expected(analyze(convplan.load(seed_keras)))
    data = [folder / f"{stem}.json" for stem, _, _ in MODEL_EXPLORER_FILES]
    port = _free_port()
    server = subprocess.Popen(
        [str(MODEL_EXPLORER), str(folder / "graph.json"), "--node_data_paths",
         ",".join(map(str, data)), "--host", "127.0.0.1", "--port", str(port),
         "--no_open_in_browser", "--skip_health_check"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env())
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            assert line or server.poll() is None, "model-explorer exited"
            found = re.search(r"(http://127\.0\.0\.1:\d+/\?data=\S+)", line)
            url = found.group(1) if found else None
        assert url, "model-explorer did not start"
        with sync_playwright() as p:
            browser = _chromium(p)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url)
            # the side panel's node-data table: one row per node (its label, the layer name),
            # one column per node-data file, cells coloured by the file's gradient
            page.wait_for_function(
                f"() => [...document.querySelectorAll('table')].some((t) => "
                f"t.querySelectorAll('td.node-label').length === {len(want)} && "
                f"t.querySelectorAll('thead .stat-label').length === {len(data)})",
                timeout=90_000)
            table = page.evaluate("""() => {
                const tables = [...document.querySelectorAll('table')].filter(
                    (t) => t.querySelector('td.node-label') && !t.textContent.includes('%'));
                const t = tables[tables.length - 1];
                const heads = [...t.querySelectorAll('thead .stat-label')].map(
                    (e) => e.textContent.trim());
                const rows = [...t.querySelectorAll('tbody tr')].map((tr) => ({
                    node: tr.querySelector('td.node-label').textContent.trim(),
                    values: [...tr.querySelectorAll('td.value-col')].map(
                        (td) => [td.textContent.trim(), td.style.backgroundColor])}));
                return {heads, rows}; }""")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    heads = table["heads"]
    assert heads == [f"convplan {name}" for _, name, _ in MODEL_EXPLORER_FILES]
    assert [r["node"] for r in table["rows"]] == list(want)
    attrs = [attr for _, _, attr in MODEL_EXPLORER_FILES]
    for row in table["rows"]:
        m = want[row["node"]]
        assert [text for text, _ in row["values"]] == [str(getattr(m, a)) for a in attrs]
    macs = {r["node"]: r["values"][0][1] for r in table["rows"]}
    assert macs["conv2"] == "rgb(215, 25, 28)"  # the largest: the gradient's stop 1
    assert macs["pool1"] == macs["flatten"] == "rgb(255, 255, 255)"  # no MACs: stop 0
    assert macs["conv1"] not in ("rgb(255, 255, 255)", "rgb(215, 25, 28)")  # between


def test_viewer_packages_are_in_an_extra():
    text = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    extra = re.search(r"^viewers = \[(.*)\]$", text, flags=re.M)
    assert extra and "netron" in extra.group(1) and "ai-edge-model-explorer" in extra.group(1)


@pytest.mark.slow
@pytest.mark.tf
def test_show_takes_a_live_keras_model(seed_keras, monkeypatch):
    """convplan.show(model) reads a built Keras model (convplan.from_keras) as its file reads."""
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    from convplan.notebook import show

    model = keras.saving.load_model(seed_keras, compile=False)
    assert show(model, H=32, W=32).page == show(seed_keras, H=32, W=32).page
