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
    shipped_chips,
)
from spikeport.targets.energy_models import load_energy_model, parse_energy_model, shipped_energy_models


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


def test_every_toml_in_the_package_is_a_chip_or_an_energy_model() -> None:
    names = {p.name for p in resources.files("spikeport.targets.chips").iterdir() if p.name.endswith(".toml")}
    models = {f"{m}.toml" for m in shipped_energy_models()}
    assert names == {f"{c.value}.toml" for c in ChipId} | models and BASELINE_FILE in models
    assert shipped_chips() == ("loihi", "loihi2")
    assert set(shipped_energy_models("energy_model")) == {"spinnaker2", "truenorth", "speck", "xylo"}
    assert set(shipped_energy_models("conventional")) == {"cmos45nm_fp32", "cmos45nm_int8", "cpu", "gpu"}


def test_the_cli_lists_the_same_shipped_chips_without_importing_torch() -> None:
    import subprocess
    import sys

    code = "import sys; from spikeport.cli_parser import shipped_chips; print(shipped_chips(), 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"{shipped_chips()} False"


@pytest.mark.parametrize("model", shipped_energy_models(), ids=str)
def test_energy_model_files_load_and_every_figure_is_sourced(model: str) -> None:
    spec = load_energy_model(model)
    assert spec.model == model and spec.figures()
    for key, fig in spec.figures().items():
        assert fig.source in spec.sources.values() and fig.basis in BASES, key


def test_energy_model_figures_match_the_cited_tables() -> None:
    """Pins the data to ../shared/docs/energy-constants.md."""
    e = {m: {k: f.value for k, f in load_energy_model(m).figures().items()} for m in shipped_energy_models()}
    assert e["spinnaker2"] == {"energy.synop": 450, "energy.neuron_update": 2190}
    assert e["truenorth"]["energy.synop"] == 26 and e["speck"]["power.static_per_chip"] == 0.00042
    assert e["xylo"] == {"context.kws_dynamic_inference_power": 0.000291, "context.kws_energy_per_inference": 6.6}
    assert (e["cmos45nm_fp32"]["energy.mac"], e["cmos45nm_fp32"]["energy.ac"]) == (4.6, 0.9)
    assert (e["cmos45nm_int8"]["energy.mac"], e["cmos45nm_int8"]["energy.ac"]) == (0.23, 0.03)
    assert [e["cmos45nm_fp32"][f"energy.sram_read_{s}"] for s in ("8kb", "32kb", "1mb")] == [10, 20, 100]
    assert (e["cpu"]["energy.op"], e["gpu"]["energy.op"]) == (8600, 300)
    assert load_energy_model("truenorth").energy["synop"].basis == "commonly quoted"


def test_a_malformed_energy_model_names_the_key() -> None:
    text = _text("spinnaker2.toml")
    with pytest.raises(ChipSpecError, match=r"spinnaker2\.toml: 'energy\.synop\.unit' is 'nJ', expected 'pJ'"):
        parse_energy_model(
            text.replace('value = 450\nunit = "pJ"', 'value = 0.45\nunit = "nJ"'), origin="spinnaker2.toml"
        )
    with pytest.raises(ChipSpecError, match=r"unknown key 'energy\.synapse'"):
        parse_energy_model(text.replace("[energy.synop]", "[energy.synapse]"), origin="spinnaker2.toml")
    with pytest.raises(ChipSpecError, match=r"unknown energy model 'loihi'"):
        load_energy_model("loihi")


def test_a_user_chip_file_loads_by_path_and_errors_name_the_field(tmp_path) -> None:
    path = tmp_path / "small.toml"
    path.write_text(
        _text("loihi.toml").replace('value = 1024\nunit = "compartments"', 'value = 16\nunit = "compartments"')
    )
    spec = load_chip(str(path))
    assert spec.limits.compartments_per_core.value == 16 and spec.label == str(path) and spec.id is ChipId.LOIHI
    assert load_chip("loihi").label == "loihi"
    path.write_text(_text("loihi.toml").replace('value = 131072\nunit = "bytes"', 'value = 128\nunit = "KiB"'))
    with pytest.raises(ChipSpecError, match=r"'limits\.synaptic_memory_per_core\.unit' is 'KiB', expected 'bytes'"):
        load_chip(path)
    with pytest.raises(ChipSpecError, match=r"--chip .*missing\.toml: no such chip file"):
        load_chip(str(tmp_path / "missing.toml"))


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
