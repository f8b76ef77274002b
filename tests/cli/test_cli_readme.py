"""The README shows the real output of `convplan analyze` and a real `convplan plot` picture;
docs/cli.md shows a real error line."""

from __future__ import annotations

from xml.etree import ElementTree

from cli_run import ROOT, SEED, run_cli

README = (ROOT / "README.md").read_text(encoding="utf-8")


def fenced_block_after(text: str, marker: str) -> str:
    start = text.index(marker)
    block = text.index("```text\n", start) + len("```text\n")
    return text[block:text.index("```", block)]


def test_readme_shows_the_real_output_of_analyze():
    shown = fenced_block_after(README, "`convplan analyze examples/seed_cnn.yaml`, the seed")
    result = run_cli("analyze", SEED)
    assert result.returncode == 0
    assert shown == result.stdout


def test_readme_picture_is_a_plot_of_the_seed_cnn():
    assert "![convplan plot of the seed CNN](docs/img/seed_cnn.svg)" in README
    root = ElementTree.parse(ROOT / "docs" / "img" / "seed_cnn.svg").getroot()
    texts = {"".join(e.itertext()).split(" · ")[0]
             for e in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"image", "conv1", "pool1", "conv2", "pool2", "flatten", "dense1", "dense2"} <= texts


def test_docs_show_a_real_error_line(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ninputs: {x: [8, 8, 1]}\nlayers:\n"
                    "  - {name: conv1, op: Conv2D, filters: 4, kernel_size: 9}\n")
    line = run_cli("analyze", spec).stderr.strip()
    assert line in (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
