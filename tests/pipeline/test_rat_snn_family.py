"""The rat-snn family (multi-timescale LIF encoder -> spike-driven attention -> integrator readout) on SYNTHETIC
reaching data: its data, model and NIR export, and the whole CLI pipeline ending bit-exact on Lava."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spikeport.cli import main
from spikeport.train.models import get_family


def test_family_is_registered_with_its_data_sources() -> None:
    family = get_family("rat-snn")
    assert family.data_sources == ("synthetic", "trialdata", "neurobench", "nwb")
    assert (family.task.value, family.readout.value) == ("regression", "last_v")


def test_data_model_and_nir_export() -> None:
    import torch

    from spikeport.export import parse_nir

    family = get_family("rat-snn")
    cfg = family.run_config(trials_per_class=8, num_steps=6)
    data = family.make_data(cfg)
    assert data.info["synthetic"] is True and data.info["output_names"] == ["vel_x", "vel_y"]
    assert data.x_train.shape[1:] == data.x_test.shape[1:] == (6, 24) and data.y_train.shape[1] == 2
    top = 2 ** data.info["input_message_bits"] - 1  # graded spikes: counts per bin, clipped to the payload
    assert data.x_train.max() > 1 and set(np.unique(data.x_train)) <= set(range(top + 1)) and 0 < len(data.y_test) <= 24
    assert np.std(data.y_train) == pytest.approx(1.0)  # velocity in units of its training std
    model = family.build_model(family.make_config(cfg, data), 0)
    out = model(torch.as_tensor(data.x_test[:3]))
    assert out.outputs.shape == (3, 2) and out.readout_v.shape == (3, 6, 2)
    net = parse_nir(family.to_nir(model, data.info))
    encoder = net.populations["encoder"]
    assert np.unique(encoder.alpha).size == cfg.n_hidden  # one learned membrane time constant per neuron
    assert net.output == "readout" and not net.populations["readout"].spiking
    into_readout = {s.source for s in net.synapses if s.target == "readout"}
    assert into_readout == {"attention.attn", "encoder", net.input_name}  # fc_out, fc_skip and the counts' fc_direct


@pytest.mark.lava
def test_rat_snn_runs_through_every_stage_bit_exact(tmp_path, capsys) -> None:
    run = str(tmp_path / "run")
    args = ["--out", run, "--model", "rat-snn", "--epochs", "1", "--trials-per-class", "4", "--steps", "6",
            "--no-progress"]
    assert main(["train", *args]) == 0
    assert "trained rat-snn on SYNTHETIC data" in capsys.readouterr().out
    assert main(["export", run]) == 0
    assert main(["quantize", run, "--no-progress"]) == 0
    quantization = json.loads((tmp_path / "run" / "quantization.json").read_text())
    pops = {p["name"]: p for p in quantization["populations"]}
    assert len(pops["encoder"]["decay_groups"]) >= 8  # >= 8 distinct learned time constants, one process each
    assert len(pops["readout"]["decay_groups"]) == 2  # the output population is grouped too
    assert main(["simulate", run, "--backend", "reference"]) == 0
    assert main(["simulate", run, "--backend", "lava", "--no-progress"]) == 0
    assert main(["validate", run, "--samples", "6", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "BIT-EXACT: reference vs lava" in out
    assert "readout last_v (regression): reference and lava predictions agree on 6/6 samples" in out


def test_recorded_layouts_load_with_their_own_bin_width(tmp_path) -> None:
    """A TrialData file (counts in 50 ms bins, written by the test from SYNTHETIC reaching) and a NeuroBench file
    (spike times) feed the family; the TrialData windows use the file's 50 ms bins, since 20 ms cannot be made
    from them."""
    from spikeport.train.data.intracortical import SyntheticReachingConfig, make_synthetic_reaching
    from spikeport.train.data.intracortical.writers import write_neurobench, write_trialdata

    rec = make_synthetic_reaching(SyntheticReachingConfig(n_subjects=1, sessions_per_subject=1, n_units=24), 0)[0]
    (tmp_path / "td").mkdir(), (tmp_path / "nb").mkdir()
    write_trialdata(rec, tmp_path / "td" / "s0.mat")
    write_neurobench(rec, tmp_path / "nb" / "s0.mat")
    family = get_family("rat-snn")
    for source, folder, step in (("trialdata", "td", 0.05), ("neurobench", "nb", 0.02)):
        data = family.make_data(family.run_config(data=source, data_path=str(tmp_path / folder), num_steps=6))
        assert data.info["source"] == source and data.info["step_seconds"] == pytest.approx(step)
        assert data.x_train.shape[1:] == (6, 24) and len(data.y_test) > 0
