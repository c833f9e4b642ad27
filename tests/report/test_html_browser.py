"""The HTML report in a real headless browser (Chromium from Debian's packages: `apt-get install
chromium-headless-shell` or `chromium`): it loads with no console message, every <img> decodes, and the screenshot
shows every plot.

The check runs the page with a small probe script appended to a copy (the report itself has no script): after load
it writes, into the DOM, each image's decoded size and position and the page height; `--dump-dom` returns it.
Console messages are read from Chromium's `--enable-logging=stderr` log (`INFO:CONSOLE` lines). Control pages with a
console error and a broken image show that both checks catch what they look for.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser")
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => {
    const r = i.getBoundingClientRect();
    return {id: i.id, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,
            x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height};
  });
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({images, height: document.documentElement.scrollHeight});
  document.body.appendChild(out);
});
</script>"""


def _browser() -> str:
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no Chromium: `apt-get install -y chromium-headless-shell` (Debian) provides it")


def _run(args: list[str], page: Path) -> tuple[str, list[str]]:
    """Run Chromium headless on a page; returns stdout and the page's console lines."""
    flags = ["--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
             "--virtual-time-budget=5000"]  # fmt: skip
    done = subprocess.run([_browser(), *flags, *args, page.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def _probe(html_path: Path, tmp: Path) -> tuple[dict, list[str]]:
    probed = tmp / f"probed_{html_path.name}"
    probed.write_text(html_path.read_text().replace("</body>", PROBE + "</body>"))
    dom, console = _run(["--dump-dom"], probed)
    match = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert match, "the probe did not run"
    return json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&")), console


def _screenshot(html_path: Path, tmp: Path, height: int) -> np.ndarray:
    import matplotlib.image as mpimg

    shot = tmp / "shot.png"
    _run([f"--window-size=1200,{height}", f"--screenshot={shot}"], html_path)
    return mpimg.imread(shot)[..., :3]


def test_probe_catches_console_errors_and_broken_images(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img id="x" src="data:image/png;base64,AAAA">'
                   '<script>console.error("boom")</script></body></html>')  # fmt: skip
    info, console = _probe(bad, tmp_path)
    assert any("boom" in line for line in console)
    assert info["images"][0]["w"] == 0


def test_report_opens_without_console_errors_and_shows_every_plot(tmp_path: Path, monkeypatch) -> None:
    from spikeport.cli import main
    from spikeport.report_plots import PLOTS

    monkeypatch.chdir(tmp_path)
    tiny = ["--subjects", "2", "--trials-per-class", "4", "--steps", "8", "--hidden", "8", "--epochs", "1"]
    for argv in (
        ["train", "--out", "run", *tiny, "--no-progress"],
        ["export", "run"],
        ["quantize", "run", "--no-progress"],
        ["simulate", "run"],
        ["simulate", "run", "--backend", "lava", "--no-progress"],
        ["report", "run", "--format", "html"],
    ):
        monkeypatch.setattr(sys, "argv", ["spikeport", *argv])
        assert main(argv) == 0, argv  # fmt: skip
    page = tmp_path / "run" / "report.html"
    info, console = _probe(page, tmp_path)
    assert console == [], console
    images = info["images"]
    assert {img["id"] for img in images} <= {f"plot-{name}" for name in PLOTS} and len(images) >= 4
    assert all(img["complete"] and img["w"] > 100 and img["h"] > 100 for img in images), images
    _, console = _run(["--dump-dom"], page)  # the report itself, unprobed
    assert console == []
    shot = _screenshot(page, tmp_path, int(info["height"]) + 50)
    for img in images:  # each plot's region of the screenshot is drawn, not blank
        y, x = int(img["y"]), int(img["x"])
        region = shot[y : y + int(img["height"]), x : x + int(img["width"])]
        assert region.size and region.std() > 0.05, img["id"]
        assert (region.min(axis=2) < 0.5).mean() > 0.005, img["id"]  # dark pixels: axes, text, bars
    below = shot[int(info["height"]) + 10 :]
    assert below.size == 0 or below.std() < 0.01  # the page ended inside the screenshot
