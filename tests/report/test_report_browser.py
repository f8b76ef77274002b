"""The (live) HTML report in a real browser: scripts/render_html_report.sh renders it in headless
Chromium (Debian's `chromium`; .ci/run installs it) to a screenshot that must show the page
and its pictures. Skipped only where no chromium is installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import ROOT, SEED, clean_env

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCRIPT = ROOT / "scripts" / "render_html_report.sh"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_the_html_report_renders_in_headless_chromium(tmp_path):
    from PIL import Image

    shot = tmp_path / "seed_cnn.png"
    env = clean_env(CONVPLAN=str(Path(sys.executable).parent / "convplan"),
                    CHROMIUM=CHROMIUM, WINDOW="1280,4000", HOME=str(tmp_path))
    result = subprocess.run(["bash", str(SCRIPT), str(SEED), str(shot)], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(shot)
    with Image.open(shot) as image:
        assert image.size == (1280, 4000)
        data = image.convert("RGB").tobytes()
    pixels = list(zip(data[0::3], data[1::3], data[2::3]))
    background = sum(1 for p in pixels if p == (255, 255, 255))
    assert background < 0.97 * len(pixels), "the page is blank"
    # Saturated colour comes only from the pictures (bars, curves, boxes): the table and the
    # text are black and grey, so this shows the embedded SVGs were decoded and drawn.
    coloured = sum(1 for r, g, b in pixels if max(r, g, b) - min(r, g, b) > 80)
    assert coloured > 20_000


def test_the_script_explains_itself_without_arguments():
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "scripts/render_html_report.sh SPEC SHOT.png" in result.stderr
