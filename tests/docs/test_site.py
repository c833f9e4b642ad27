"""The documentation site: it builds with `mkdocs build --strict` (as `make docs` and CI do), renders the tutorial
scripts as pages, documents the public API from its docstrings, and refers to nothing outside the repository."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest
from doc_scripts import ROOT

# The project's data folder beside the repository (../shared) or an absolute file-system path (not a URL's path): such a
# file exists only on the machine the text was written on; the docs must stand alone.
OUTSIDE = re.compile(r"\.\./shared\b|(?<![\w:/.~-])/(?:[a-z]+)/[\w.-]+/")


def _hook(relative: str):
    """A build hook of the site (docs/.../_NAME.py), loaded as mkdocs loads it: from its file."""
    path = ROOT / "docs" / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_site_builds_strict_with_tutorials_and_api_reference(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (run `make install`)")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    tutorial = (site / "tutorials" / "nir_to_lava.html").read_text()
    assert "A NIR model from snnTorch to Lava, bit-true" in tutorial  # the title, from the first markdown cell
    assert "Three choices make the exported graph" in tutorial  # markdown cells as text
    assert '<span class="kn">import</span>' in tutorial  # code cells as highlighted Python
    assert (site / "tutorials" / "nir_to_lava.py").is_file()  # the script is published next to its page
    api = (site / "reference" / "api.html").read_text()
    for name in ("load_nir", "quantize", "simulate", "compare", "report", "train", "make_run", "load_run"):
        assert f'id="spikeport.api.{name}"' in api, f"spikeport.{name} is missing from the API reference"
    assert 'id="spikeport.simulators.reference.run_reference"' in (site / "reference" / "simulators.html").read_text()
    assert 'id="spikeport.targets.quantize.quantize"' in (site / "reference" / "quantize.html").read_text()
    assert not (site / "tutorials" / "_render_hook.py").exists()


def test_tutorial_page_has_title_note_text_and_code():
    render = _hook("tutorials/_render_hook.py").render
    script = "# %% [markdown]\n# # Title\n#\n# Some *text*.\n\n# %%\nx = 1\nprint(x)\n"
    page = render(script, "demo.py")
    lines = page.splitlines()
    assert lines[0] == "# Title"
    assert '!!! note "Run this tutorial"' in page and "[`demo.py`](demo.py)" in page
    assert "Some *text*." in page and "```python\nx = 1\nprint(x)\n```" in page
    assert "jupytext" not in page  # no notebook metadata header


def test_package_is_staged_as_installed_for_the_api_reference(tmp_path):
    stage_package = _hook("reference/_stage_hook.py").stage_package
    (tmp_path / "pyproject.toml").write_text(
        '[tool.setuptools.package-dir]\n"spikeport" = "pkg"\n"spikeport.train" = "train"\n'
    )
    for folder in ("pkg", "train"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text(f"# {folder}\n")
    stage = stage_package(tmp_path)
    assert (stage / "spikeport" / "__init__.py").read_text() == "# pkg\n"
    assert (stage / "spikeport" / "train" / "__init__.py").read_text() == "# train\n"
    assert stage_package(tmp_path) == stage  # a second build replaces the stage


def test_docs_refer_to_nothing_outside_the_repository():
    files = [
        ROOT / "README.md",
        ROOT / "mkdocs.yml",
        *(ROOT / "docs").rglob("*.md"),
        *(ROOT / "docs").rglob("*.py"),
        *(ROOT / "examples").glob("*.py"),
    ]
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert not found, "\n".join(found)


def test_every_page_is_in_the_site_navigation():
    """mkdocs builds a page missing from `nav` without a warning (validation.omitted_files: info), so a new page
    under docs/ would be reachable only by search; list it in mkdocs.yml's nav."""
    nav = (ROOT / "mkdocs.yml").read_text().split("\nnav:", 1)[1]
    pages = [p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")]
    missing = [page for page in pages if f": {page}" not in nav]
    assert not missing, f"add to mkdocs.yml's nav: {', '.join(sorted(missing))}"
