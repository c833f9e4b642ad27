"""spikeport builds as a wheel whose every subpackage imports from a fresh virtual environment."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = [
    "spikeport",
    "spikeport.ir",
    "spikeport.cli",
    "spikeport.train",
    "spikeport.export",
    "spikeport.targets",
    "spikeport.targets.quantize",
    "spikeport.simulators",
    "spikeport.simulators.lava",
    "spikeport.simulators.lava.processes.recorder.process",
]


@pytest.mark.slow
def test_wheel_installs_into_fresh_venv_and_imports_every_subpackage(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(dist.glob("spikeport-*.whl"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The fresh environment gets the wheel; its third-party dependencies come from this environment's site-packages.
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    code = (
        "import importlib, spikeport;"
        f"mods = {SUBPACKAGES!r};"
        "[importlib.import_module(m) for m in mods];"
        "print(spikeport.__file__);"
        "import spikeport.targets.chips as c, importlib.resources as r;"
        "print(sorted(p.name for p in r.files(c).iterdir() if p.name.endswith('.toml')))"
    )
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert str(env_dir) in result.stdout.splitlines()[0], "spikeport was not imported from the wheel"
    assert "loihi.toml" in result.stdout and "loihi2.toml" in result.stdout


def test_import_spikeport_does_not_import_lava_or_torch():
    code = "import sys, spikeport, spikeport.ir; print('lava' in sys.modules, 'torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "False"]
