"""`convplan plot`: SVG that is valid XML naming every layer, PNG that opens and is not blank,
merges drawn as merges, clear errors; through the real entry point."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from cli_run import EXAMPLES, SEED, one_error_line, run_cli, run_main

import convplan
from convplan.analysis import analyze
from convplan.options import PLOT_KINDS
from convplan.report.plots import render_figure

SVG = "{http://www.w3.org/2000/svg}"
SEED_LAYERS = ["image", "conv1", "pool1", "conv2", "pool2", "flatten", "dense1", "dense2"]
RESIDUAL = """\
name: tiny_resnet
inputs: {image: [32, 32, 3]}
layers:
  - {name: stem, op: Conv2D, filters: 16, kernel_size: 3, strides: 2, padding: same}
  - {name: a1, op: Conv2D, filters: 16, kernel_size: 3, padding: same, activation: relu}
  - {name: a2, op: Conv2D, filters: 16, kernel_size: 3, padding: same}
  - {name: add1, op: Add, inputs: [stem, a2]}
  - {name: br1, op: Conv2D, filters: 8, kernel_size: 1}
  - {name: br3, op: Conv2D, filters: 8, kernel_size: 3, padding: same, inputs: [add1]}
  - {name: cat, op: Concatenate, inputs: [br1, br3]}
  - {name: gap, op: GlobalAveragePooling2D}
  - {name: head, op: Dense, units: 10}
"""


def svg_texts(path) -> list[str]:
    root = ElementTree.parse(path).getroot()  # raises on anything but well-formed XML
    assert root.tag == f"{SVG}svg"
    return ["".join(e.itertext()) for e in root.iter(f"{SVG}text")]


def plot(*args) -> None:
    """Through a subprocess, the way a shell runs it."""
    result = run_cli("plot", *args)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), result.stderr


@pytest.fixture
def plot_here(capsys):
    """The same entry point in-process (faster: matplotlib is imported once)."""
    def run(*args) -> None:
        assert run_main(capsys, "plot", *args) == (0, "", "")
    return run


@pytest.mark.parametrize("kind", ["diagram", "all"])
def test_svg_is_valid_xml_with_a_box_for_every_layer(tmp_path, kind):
    out = tmp_path / "seed.svg"
    plot(SEED, "--kind", kind, "-o", out)
    texts = svg_texts(out)
    boxes = [t for t in texts if " · " in t]
    assert sorted(t.split(" · ")[0] for t in boxes) == sorted(SEED_LAYERS)
    assert "out 14×14×32" in texts and "RF 10, stride 4" in texts  # pool1's shape, pool2's RF


def test_charts_name_the_layers_they_plot(tmp_path, plot_here):
    plot_here(SEED, "--kind", "rf", "-o", tmp_path / "rf.svg")
    assert {"image", "conv1", "pool1", "conv2", "pool2"} <= set(svg_texts(tmp_path / "rf.svg"))
    plot_here(SEED, "--kind", "cost", "-o", tmp_path / "cost.svg")
    assert {"conv1", "conv2", "dense1", "dense2"} <= set(svg_texts(tmp_path / "cost.svg"))
    plot_here(SEED, "--kind", "scaling", "-o", tmp_path / "scaling.svg")
    texts = svg_texts(tmp_path / "scaling.svg")
    # the analysed size, marked, with `convplan analyze`'s MACs and training peak at H=28
    assert "H=28: 4.24M" in texts and "H=28: 6.55 MiB" in texts


def test_png_opens_and_is_not_blank(tmp_path):
    from PIL import Image

    out = tmp_path / "seed.png"
    plot(SEED, "-o", out, "--dpi", "60")
    with Image.open(out) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert width > 300 and height > 300
        grey = image.convert("L")
        inked = sum(count for value, count in enumerate(grey.histogram()) if value < 200)
        assert inked > 0.02 * width * height


def test_merges_are_drawn_as_merge_nodes(tmp_path, plot_here):
    spec = tmp_path / "res.yaml"
    spec.write_text(RESIDUAL)
    out = tmp_path / "res.svg"
    plot_here(spec, "--kind", "diagram", "-o", out)
    texts = svg_texts(out)
    assert "+  add1 · Add" in texts and "‖  cat · Concatenate" in texts
    names = {t.split(" · ")[0].split()[-1] for t in texts if " · " in t}
    assert names == {"image", "stem", "a1", "a2", "add1", "br1", "br3", "cat", "gap", "head"}


def test_resnet50_diagram_names_all_its_layers(tmp_path):
    spec = EXAMPLES / "resnet50.yaml"
    graph = convplan.load(spec)
    data = render_figure("diagram", analyze(graph, input_size=(64, 64)), graph=graph)
    out = tmp_path / "r50.svg"
    out.write_bytes(data)
    names = {t.split(" · ")[0].split()[-1] for t in svg_texts(out) if " · " in t}
    assert names == {node.name for node in graph}


def test_the_same_spec_gives_the_same_svg():
    graph = convplan.load(SEED)
    concrete, symbolic = analyze(graph), analyze(graph, generalize=True)
    first = render_figure("all", concrete, symbolic, graph=graph)
    assert render_figure("all", concrete, symbolic, graph=graph) == first


def test_every_kind_the_cli_offers_is_drawn():
    from convplan.cli.plot_cmd import command

    offered = next(p.type.choices for p in command.params if p.name == "kind")
    assert tuple(offered) == PLOT_KINDS
    graph = convplan.load(SEED)
    concrete, symbolic = analyze(graph), analyze(graph, generalize=True)
    for kind in offered:  # the roofline needs a device
        assert render_figure(kind, concrete, symbolic, graph=graph, device="h100"
                             ).lstrip().startswith(b"<?xml")


@pytest.mark.parametrize(("args", "fragment"), [
    (["-o", "seed.pdf"], "expected a file name ending in .svg or .png, received '.pdf'"),
    (["-o", "no/such/folder/seed.svg"], "does not exist"),
    (["-o", "x.svg", "--kind", "pie"], "Invalid value for '--kind'"),
])
def test_bad_arguments_are_one_line_and_exit_2(tmp_path, args, fragment):
    result = run_cli("plot", SEED, *args, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert fragment in one_error_line(result.stderr)
    assert list(tmp_path.iterdir()) == []


def test_symbolic_sizes_draw_a_diagram_but_charts_ask_for_a_size(tmp_path, capsys, plot_here):
    spec = tmp_path / "fcn.yaml"
    spec.write_text("name: fcn\ninputs: {image: [H, W, 3]}\nlayers:\n"
                    "  - {name: c1, op: Conv2D, filters: 8, kernel_size: 3, strides: 2}\n")
    plot_here(spec, "--kind", "diagram", "-o", tmp_path / "d.svg")
    assert "out ⌊(H - 3)/2⌋ + 1 × ⌊(W - 3)/2⌋ + 1 × 8" in svg_texts(tmp_path / "d.svg")
    code, out, err = run_main(capsys, "plot", spec, "--kind", "rf", "-o", tmp_path / "rf.svg")
    assert (code, out) == (2, "")
    assert "Hint: --input-size 224x224" in one_error_line(err)
    plot_here(spec, "--kind", "all", "--input-size", "64x64", "-o", tmp_path / "all.svg")
