"""Chip description files: they load, every figure is sourced, malformed files fail with a clear message."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from spikeport.errors import IRValidationError, SpikeportError
from spikeport.targets.chip import (
    BASELINE_FILE,
    BASES,
    ChipId,
    ChipSpecError,
    load_baseline,
    load_chip,
    parse_chip,
)


def _text(name: str) -> str:
    return resources.files("spikeport.targets.chips").joinpath(name).read_text(encoding="utf-8")


@pytest.mark.parametrize("chip", list(ChipId), ids=lambda c: c.value)
def test_chip_files_load_and_every_figure_is_sourced(chip: ChipId) -> None:
    spec = load_chip(chip)
    assert spec.id is chip
    assert load_chip(chip.value) == spec
    figures = spec.figures()
    assert figures, "a chip file without figures"
    for key, fig in figures.items():
        assert fig.source.strip(), key
        assert fig.unit.strip(), key
        assert fig.basis in BASES, key
        assert fig.source in spec.sources.values(), key


def test_baseline_file_loads_and_is_sourced() -> None:
    base = load_baseline()
    for fig in (base.mac, base.ac):
        assert fig.unit == "pJ"
        assert "Horowitz" in fig.source


def test_every_toml_in_the_package_is_a_chip_or_the_baseline() -> None:
    names = {p.name for p in resources.files("spikeport.targets.chips").iterdir() if p.name.endswith(".toml")}
    assert names == {f"{c.value}.toml" for c in ChipId} | {BASELINE_FILE}


def test_loihi_published_figures_match_the_cited_tables() -> None:
    """Pins the data to ../shared/docs/energy-constants.md (Davies 2018 Table 2; Frady 2020, derived)."""
    spec = load_chip("loihi")
    assert spec.energy is not None and spec.timing is not None and spec.power is not None
    e, t = spec.energy, spec.timing
    got = (
        e.synop.value,
        e.neuron_update_active.value,
        e.neuron_update_inactive.value,
        e.spike_within_tile.value,
        t.synop_time.value,
        t.barrier_min.value,
        t.barrier_max.value,
    )
    assert got == (23.6, 81, 52, 1.7, 3.5, 113, 465)
    assert spec.power.static_per_chip.basis == "derived"
    assert spec.limits.compartments_per_core is not None
    assert spec.limits.compartments_per_core.as_int() == 1024


def test_loihi2_has_no_per_op_figures_and_names_a_proxy() -> None:
    spec = load_chip(ChipId.LOIHI2)
    assert spec.energy is None and spec.timing is None
    assert spec.per_op_proxy is ChipId.LOIHI
    pilotnet = [f for k, f in spec.figures().items() if k.startswith("benchmarks.pilotnet.")]
    assert len(pilotnet) == 5 and all(f.basis == "measured" for f in pilotnet)


def test_unknown_chip_lists_the_known_ones() -> None:
    with pytest.raises(ChipSpecError, match=r"unknown chip 'loihi3'.*'loihi', 'loihi2'"):
        load_chip("loihi3")


def test_chip_spec_error_is_a_spikeport_validation_error() -> None:
    assert issubclass(ChipSpecError, IRValidationError)
    assert issubclass(ChipSpecError, SpikeportError)
    assert issubclass(ChipSpecError, ValueError)


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda t: t.replace("[energy.synop]\n", "[energy.synop]\nvaleu = 1\n"), "energy.synop.valeu"),
        (lambda t: t + "\n[energy.synapse_op]\nvalue = 1\nunit = 'pJ'\nsource = 'davies2018'\n", "energy.synapse_op"),
        (lambda t: t.replace('chip = "loihi"\n', 'chip = "loihi"\ncolour = "blue"\n'), "colour"),
        (lambda t: t.replace("[limits.cores_per_chip]", "[limits.cores_per_chipz]"), "limits.cores_per_chipz"),
        (lambda t: t.replace("[formats.u_bits]", "[formats.u_bitz]"), "formats.u_bitz"),
    ],
    ids=["figure-field", "section-field", "top-level", "limit-typo", "format-typo"],
)
def test_unknown_key_error_names_the_key(edit, key: str) -> None:
    with pytest.raises(ChipSpecError, match=rf"unknown key '{re.escape(key)}'"):
        parse_chip(edit(_text("loihi.toml")), origin="loihi.toml")


def test_missing_required_key_is_named() -> None:
    text = re.sub(r"\[energy\.synop\]\n(?:[^\[]*\n)", "", _text("loihi.toml"), count=1)
    with pytest.raises(ChipSpecError, match=r"missing required key 'energy\.synop'"):
        parse_chip(text, origin="loihi.toml")


def test_wrong_unit_is_refused() -> None:
    text = _text("loihi.toml").replace('value = 23.6\nunit = "pJ"', 'value = 0.0236\nunit = "nJ"')
    with pytest.raises(ChipSpecError, match=r"'energy\.synop\.unit' is 'nJ', expected 'pJ'"):
        parse_chip(text, origin="loihi.toml")


def test_unknown_source_key_is_refused() -> None:
    text = _text("loihi.toml").replace('source = "frady2020"', 'source = "frady2021"')
    with pytest.raises(ChipSpecError, match=r"names source 'frady2021'"):
        parse_chip(text, origin="loihi.toml")


def test_empty_source_citation_is_refused() -> None:
    text = re.sub(r'^frady2020 = ".*"$', 'frady2020 = ""', _text("loihi.toml"), flags=re.M)
    with pytest.raises(ChipSpecError, match=r"sources\.frady2020"):
        parse_chip(text, origin="loihi.toml")


def test_figure_to_dict_is_plain() -> None:
    fig = load_chip("loihi").limits.cores_per_chip
    expected = {"value": 128, "unit": "cores", "basis": "published", "source": fig.source, "note": ""}
    assert fig.to_dict() == expected
    assert type(fig.to_dict()["value"]) is int
