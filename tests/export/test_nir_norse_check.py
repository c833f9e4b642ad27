"""spikeport's float reading of NIR graphs cross-checked against norse's own reader, `norse.torch.from_nir`."""

from __future__ import annotations

import nir
import numpy as np
import torch

from helpers.nir_conv_graphs import DT, chain_graph
from helpers.nir_graphs import recurrent_graph, two_layer_graph
from spikeport.export import model_to_nir, parse_nir, simulate_float
from spikeport.export.nir_norse_check import norse_cross_check
from spikeport.nir_import import random_spikes
from spikeport.train import DecoderConfig, SpikingDecoder

N_IN, N = 12, 10


def _check(graph: nir.NIRGraph, *, steps: int = 30, seed: int = 1):
    net = parse_nir(graph)
    x = random_spikes(net.input_size, samples=3, steps=steps, rate=0.3, seed=seed)
    spikes = {name: trace.spikes for name, trace in simulate_float(net, x).items()}
    return {c.population: c for c in norse_cross_check(net, x, spikes)}, spikes, net, x


def _neuron_graph(neuron: nir.NIRNode, *, delay: bool) -> nir.NIRGraph:
    rng = np.random.default_rng(0)
    weight = rng.normal(0.5, 1.0, (N, N_IN))
    chain = {"fc": nir.Linear(weight=weight) if delay else nir.Affine(weight=weight, bias=rng.normal(0, 0.1, N))}
    if delay:
        chain["fc_delay"] = nir.Delay(delay=np.full(N, 2 * DT))
    return chain_graph((N_IN,), chain, neuron)


def test_cubalif_lif_and_if_agree_exactly_with_norse():
    neurons = {
        "CubaLIF": nir.CubaLIF(
            tau_syn=np.full(N, 4e-3),
            tau_mem=np.full(N, 8e-3),
            r=np.ones(N),
            v_leak=np.zeros(N),
            v_threshold=np.ones(N),
            v_reset=np.zeros(N),
            w_in=np.full(N, 2.0),
        ),
        "LIF": nir.LIF(tau=np.full(N, 5e-3), r=np.ones(N), v_leak=np.zeros(N), v_threshold=np.ones(N)),
        "IF": nir.IF(r=np.ones(N), v_threshold=np.ones(N), v_reset=np.zeros(N)),
    }
    for kind, neuron in neurons.items():
        for delay in (False, True):
            checks, spikes, _, _ = _check(_neuron_graph(neuron, delay=delay))
            assert spikes["pop"].mean() > 0.05, f"{kind} should fire"
            check = checks["pop"]
            assert check.spike_agreement == 1.0, (kind, check.describe())
            assert check.lag == (2 if delay else 0)


def test_decoder_export_hidden_layer_agrees_and_readout_is_reported_as_not_comparable():
    torch.manual_seed(0)
    model = SpikingDecoder(DecoderConfig(n_inputs=N_IN, n_hidden=16, n_classes=2))
    with torch.no_grad():
        model.fc_in.weight.mul_(4.0)
    checks, spikes, _, _ = _check(model_to_nir(model))
    assert spikes["lif"].mean() > 0.02
    assert checks["lif"].spike_agreement == 1.0 and checks["lif"].lag == 1
    assert "with norse.from_nir, Delay nodes removed, compared 1 step earlier" in checks["lif"].describe()
    assert checks["readout"].spike_agreement is None and "no LI/CubaLI" in checks["readout"].reason


def test_the_check_detects_a_different_reading():
    checks, spikes, net, x = _check(two_layer_graph(np.random.default_rng(2)))
    assert checks["lif"].spike_agreement == 1.0
    wrong = {**spikes, "lif": np.roll(spikes["lif"], 1, axis=1)}
    assert norse_cross_check(net, x, wrong)[0].spike_agreement < 0.95


def test_populations_norse_cannot_run_say_why():
    checks, *_ = _check(recurrent_graph(np.random.default_rng(1), n_in=8, hidden=10))
    assert "loop" in checks["lif"].reason
    lif = nir.LIF(tau=np.full(N, 5e-3), r=np.full(N, 2.0), v_leak=np.zeros(N), v_threshold=np.ones(N))
    checks, *_ = _check(_neuron_graph(lif, delay=False))
    assert "ignores r of LIF" in checks["pop"].describe()
    graph = _neuron_graph(nir.IF(r=np.ones(N), v_threshold=np.ones(N), v_reset=np.zeros(N)), delay=True)
    graph.nodes["fc"] = nir.Affine(weight=graph.nodes["fc"].weight, bias=np.full(N, 0.1))
    checks, *_ = _check(graph)
    assert "bias of 'fc' on a delayed path" in checks["pop"].reason
