"""`spikeport import` and `spikeport validate GRAPH.nir`: foreign NIR graphs to validated deploy graphs."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.nir_graphs import two_layer_graph
from spikeport.cli import main
from spikeport.export import write_nir
from spikeport.ir import load_deploy_graph
from spikeport.nir_import import import_nir, random_spikes


@pytest.fixture
def nir_file(tmp_path):
    return write_nir(two_layer_graph(np.random.default_rng(0)), tmp_path / "two_layer.nir")


def test_import_writes_a_deploy_graph_and_prints_agreement_per_layer(nir_file, capsys):
    assert main(["import", str(nir_file)]) == 0
    out = capsys.readouterr().out
    assert "float vs integer (reference) per layer" in out
    assert "lif (spiking, +0 steps): spikes agree" in out and "readout (readout, +0 steps)" in out
    graph = load_deploy_graph(nir_file.with_suffix(".deploy.npz"))
    assert [p.name for p in graph.populations] == ["lif", "readout"]


def test_agreement_is_high_for_a_well_quantized_graph_and_flags_a_coarse_one(nir_file):
    fine = import_nir(nir_file)
    assert all(not layer.flagged for layer in fine.agreement)
    assert fine.agreement[0].spike_agreement > 0.97
    # one-step Delay nodes are in the graph, so the integer run is not shifted
    assert [layer.step_shift for layer in fine.agreement] == [0, 0]


def test_graph_without_delays_is_compared_one_step_shifted_per_layer(tmp_path):
    graph = two_layer_graph(np.random.default_rng(1))
    for name in ("d1", "d2"):
        (src,) = [a for a, b in graph.edges if b == name]
        (dst,) = [b for a, b in graph.edges if a == name]
        graph.edges = [e for e in graph.edges if name not in e] + [(src, dst)]
        del graph.nodes[name]
    result = import_nir(write_nir(graph, tmp_path / "undelayed.nir"))
    assert [layer.step_shift for layer in result.agreement] == [1, 2]
    assert result.agreement[0].spike_agreement > 0.95
    assert sum(s.late_by_one_step for s in result.quantization.synapses) > 0


@pytest.mark.lava
def test_validate_accepts_a_nir_file(nir_file, capsys):
    assert main(["validate", str(nir_file), "--samples", "4", "--steps", "20", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "float vs integer" in out and "BIT-EXACT: reference vs lava" in out


def test_random_spikes_are_seeded():
    a = random_spikes(5, samples=2, steps=3, rate=0.5, seed=7)
    assert np.array_equal(a, random_spikes(5, samples=2, steps=3, rate=0.5, seed=7))
    assert set(np.unique(a)) <= {0, 1}


def test_import_of_a_missing_file_is_a_one_line_error(tmp_path, capsys):
    assert main(["import", str(tmp_path / "nope.nir")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.lava
def test_convolutional_graph_validates_bit_true_through_the_cli(tmp_path, capsys):
    """The acceptance network: 2x34x34 -> three Conv2d + IF -> SumPool2d -> Flatten -> Affine -> LI."""
    from helpers.nir_conv_graphs import conv_net_graph

    path = write_nir(conv_net_graph(np.random.default_rng(11)), tmp_path / "conv.nir")
    code = main(["validate", str(path), "--samples", "3", "--steps", "25", "--rate", "0.3", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "BIT-EXACT: reference vs lava" in out and out.count("spiking,") == 3
