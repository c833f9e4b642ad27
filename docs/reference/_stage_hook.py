"""MkDocs hook: stage the package as it is installed, so mkdocstrings can read the stage folders' docstrings.

The stage folders at the repository root (train/, export/, targets/, simulators/) are the subpackages
spikeport.train, ... through pyproject.toml's [tool.setuptools.package-dir]. griffe, which mkdocstrings uses to read
docstrings without importing anything, looks for `spikeport/targets/` and does not follow that mapping; importing
the package instead (griffe's inspection) would also run `spikeport.__main__`. So before the build this hook
writes build/docs-api/spikeport/, a folder of symbolic links laid out like the installed package (build/ is
ignored by git), and mkdocs.yml points the python handler's `paths` there.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from mkdocs.plugins import event_priority

STAGE = Path("build") / "docs-api"


def stage_package(root: Path) -> Path:
    """(Re)create `root/build/docs-api/spikeport` as symbolic links following the package-dir mapping."""
    mapping = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    stage = root / STAGE
    if stage.exists():
        shutil.rmtree(stage)
    top = stage / "spikeport"
    top.mkdir(parents=True)
    for entry in sorted((root / mapping["spikeport"]).iterdir()):
        if entry.name != "__pycache__":
            (top / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    for package, folder in mapping.items():
        parts = package.split(".")
        if len(parts) != 2:  # "spikeport" itself, done above; deeper mappings do not occur
            continue
        link = top / parts[1]
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to((root / folder).resolve(), target_is_directory=True)
    return stage


@event_priority(100)  # before mkdocstrings sets up its handler, which reads `paths` once
def on_config(config):
    """Stage the package before mkdocstrings looks for it."""
    stage_package(Path(config.config_file_path).resolve().parent)
    return config
