"""docs/energy.md's constants table agrees with the chip files it documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from spikeport.targets.chip import ChipId, Figure, load_chip
from spikeport.targets.energy_models import load_energy_model, shipped_energy_models

DOC = Path(__file__).resolve().parents[2] / "docs" / "energy.md"
ROW = re.compile(r"^\| (\w+) \| `([\w.]+)` \| ([^|]+?) \| ([\w ]+?) \|", re.M)


def _figures() -> dict[tuple[str, str], Figure]:
    out = {(c.value, k): f for c in ChipId for k, f in load_chip(c).figures().items()}
    return out | {(m, k): f for m in shipped_energy_models() for k, f in load_energy_model(m).figures().items()}


def test_every_documented_constant_matches_its_chip_file() -> None:
    figures = _figures()
    rows = ROW.findall(DOC.read_text(encoding="utf-8"))
    assert rows, "no constants table found"
    for chip, key, value, basis in rows:
        fig = figures.get((chip, key))
        assert fig is not None, f"{chip} {key} is documented but not in the chip file"
        assert value == f"{fig.value:g} {fig.unit}" or value == f"{fig.value} {fig.unit}", (chip, key, value)
        assert basis == fig.basis, (chip, key)


@pytest.mark.parametrize("prefix", ["energy.", "power.", "benchmarks.", "context.", "limits."])
def test_every_energy_figure_is_documented(prefix: str) -> None:
    documented = {(chip, key) for chip, key, _, _ in ROW.findall(DOC.read_text(encoding="utf-8"))}
    missing = [k for k in _figures() if k[1].startswith(prefix) and k not in documented]
    assert not missing
