"""The package's shape, as docs/architecture.md states it: the dependency rule (import-linter), every root module
placed in a layer, and no module over 400 lines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
MAX_MODULE_LINES = 400


def _package_folders() -> dict[str, Path]:
    """Import name -> source folder of every top-level part of the package (pyproject's package-dir)."""
    return {name: ROOT / folder for name, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items()}


def _stage(dest: Path) -> Path:
    """Copy the sources into the layout the wheel installs (grimp cannot follow an editable package-dir map)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name, folder in sorted(_package_folders().items(), key=lambda item: item[0].count(".")):
        shutil.copytree(folder, dest.joinpath(*name.split(".")), ignore=ignore, dirs_exist_ok=True)
    return dest


def _lint_imports(staged: Path) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).parent / "lint-imports"
    env = {**os.environ, "PYTHONPATH": str(staged)}
    return subprocess.run(
        [str(lint), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=staged,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_dependency_rule_holds(tmp_path: Path) -> None:
    result = _lint_imports(_stage(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_dependency_rule_catches_an_upward_import(tmp_path: Path) -> None:
    staged = _stage(tmp_path)
    (staged / "spikeport" / "simulators" / "upward.py").write_text(
        "def f():\n    from spikeport.train import fit\n    return fit\n"
    )
    result = _lint_imports(staged)
    assert result.returncode != 0
    assert "spikeport.simulators.upward -> spikeport.train" in result.stdout


def test_every_root_module_is_in_a_layer() -> None:
    layers = PYPROJECT["tool"]["importlinter"]["contracts"][0]["layers"]
    placed = {name.strip() for layer in layers for name in layer.replace("|", ":").split(":")}
    root = ROOT / "spikeport"
    modules = {f"spikeport.{p.stem}" for p in root.glob("*.py") if p.stem != "__init__"}
    modules |= {f"spikeport.{p.name}" for p in root.iterdir() if (p / "__init__.py").exists()}
    modules |= {name for name in _package_folders() if name.count(".") == 1}
    outside = modules - placed
    assert not outside, f"modules outside every layer of pyproject's import-linter contract: {sorted(outside)}"


@pytest.mark.parametrize("name", sorted(_package_folders()))
def test_no_module_over_the_line_limit(name: str) -> None:
    folder = _package_folders()[name]
    long = {
        str(path.relative_to(ROOT)): n
        for path in folder.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by job): {long}"
