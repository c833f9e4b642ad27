"""Graphs written live by other frameworks (norse), and a recurrent CubaLIF graph with Affine biases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.nir_graphs import recurrent_graph
from spikeport.export import parse_nir, simulate_float, write_nir
from spikeport.nir_import import import_nir, random_spikes
from spikeport.validate import validate_graph

DT = 1e-3


def _norse_graph(tmp_path):
    import norse.torch as nt
    from norse.torch.utils.export_nir import to_nir

    torch.manual_seed(0)
    model = nt.SequentialState(
        torch.nn.Linear(12, 10), nt.LIFBoxCell(), torch.nn.Linear(10, 3), nt.LIBoxCell()
    ).double()
    with torch.no_grad():
        model[0].weight.mul_(8.0)  # make the hidden layer fire
    graph = to_nir(model, torch.zeros(1, 12, dtype=torch.float64), dt=DT)
    return model, write_nir(graph, tmp_path / "norse.nir")


def test_norse_export_is_read_with_its_tau_convention_and_matches_norse(tmp_path):
    model, path = _norse_graph(tmp_path)
    x = random_spikes(12, samples=3, steps=25, rate=0.3, seed=1)
    state, readout = None, []
    with torch.no_grad():
        for t in range(x.shape[1]):
            out, state = model(torch.as_tensor(x[:, t], dtype=torch.float64), state)
            readout.append(out.numpy())
    from spikeport.export import read_nir

    net = parse_nir(read_nir(path), dt=DT, tau_convention="norse")
    float_run = simulate_float(net, x)
    output = next(name for name, p in net.populations.items() if not p.spiking)
    np.testing.assert_allclose(
        float_run[output].v, np.stack(readout, axis=1), rtol=1e-6, atol=1e-9
    )  # norse keeps float32 parameters
    assert sum(float_run[n].spikes.sum() for n, p in net.populations.items() if p.spiking) > 0


@pytest.mark.lava
def test_norse_export_runs_bit_true_on_lava(tmp_path):
    _, path = _norse_graph(tmp_path)
    result = import_nir(path, dt=DT, tau_convention="norse", samples=6, steps=30)
    assert all(layer.spike_agreement > 0.9 for layer in result.agreement)
    comparisons = validate_graph(result.graph, random_spikes(12, samples=4, steps=30, rate=0.3, seed=2))
    assert comparisons[0].bit_exact, comparisons[0].summary()


@pytest.mark.lava
def test_norse_export_validates_through_the_cli_with_its_convention(tmp_path, capsys):
    from spikeport.cli import main

    _, path = _norse_graph(tmp_path)
    args = ["validate", str(path), "--dt", str(DT), "--samples", "3", "--steps", "30", "--no-progress"]
    assert main([*args, "--tau-convention", "norse"]) == 0
    assert "BIT-EXACT: reference vs lava" in capsys.readouterr().out
    assert main(args) == 2  # read as seconds, the time constants are shorter than dt: a one-line error
    assert "--tau-convention norse" in capsys.readouterr().err


def test_norse_time_constants_read_as_seconds_give_an_error_naming_the_node_and_the_fix(tmp_path):
    from spikeport.errors import IRValidationError
    from spikeport.export import read_nir

    _, path = _norse_graph(tmp_path)
    with pytest.raises(IRValidationError, match=r"time constants must be >= dt.*tau-convention norse"):
        parse_nir(read_nir(path), dt=DT)


@pytest.mark.lava
def test_recurrent_cubalif_graph_with_affine_biases_runs_bit_true(tmp_path):
    graph = recurrent_graph(np.random.default_rng(8), n_in=16, hidden=20, n_out=4, affine_biases=True)
    path = write_nir(graph, tmp_path / "recurrent.nir")
    result = import_nir(path, samples=8, steps=40)
    lif = result.graph.nodes["lif"]
    assert np.any(lif.bias_mant != 0), "Affine biases must become neuron biases"
    assert ("lif", "rec") in result.graph.edges and ("rec", "lif") in result.graph.edges
    from spikeport.cli import main

    assert main(["validate", str(path), "--samples", "4", "--steps", "40", "--no-progress"]) == 0


def test_import_writes_a_norse_graph_back_in_seconds(tmp_path, capsys):
    """`spikeport import --nir-out` normalizes a foreign convention: the written graph reads without the flag."""
    from spikeport.cli import main
    from spikeport.export import networks_close, read_nir

    _, path = _norse_graph(tmp_path)
    flat = tmp_path / "seconds.nir"
    assert main(["import", str(path), "--dt", str(DT), "--tau-convention", "norse", "--nir-out", str(flat)]) == 0
    assert f"wrote {flat} (standard NIR" in capsys.readouterr().out
    original = parse_nir(read_nir(path), dt=DT, tau_convention="norse")
    normalized = parse_nir(read_nir(flat))
    assert networks_close(original, normalized)
    x = random_spikes(12, samples=2, steps=15, rate=0.3, seed=3)
    assert all(
        np.array_equal(a.spikes, b.spikes)
        for a, b in zip(simulate_float(original, x).values(), simulate_float(normalized, x).values(), strict=True)
    )
