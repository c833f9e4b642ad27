"""Export -> import -> export round trips: what spikeport writes, reads back and writes again is the same graph.

Every graph goes through real files (`write_nir` / `nir.read`). Imported graphs of other shapes (convolutions,
nested subgraphs, per-neuron delays) come back as the same parsed network and the same deploy graph.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

from helpers.nir_conv_graphs import chain_cases, conv_net_graph
from helpers.nir_graphs import recurrent_graph, two_layer_graph
from spikeport.export import (
    model_to_nir,
    network_to_nir,
    networks_close,
    nir_graphs_equal,
    parse_nir,
    read_nir,
    simulate_float,
    write_nir,
)
from spikeport.ir import assert_graph_equal
from spikeport.nir_import import random_spikes
from spikeport.targets import quantize
from spikeport.train import DecoderConfig, SpikingDecoder


def _through_file(graph: nir.NIRGraph, path) -> nir.NIRGraph:
    return read_nir(write_nir(graph, path))


def test_decoder_export_import_export_gives_the_same_graph_and_deploy_graph(tmp_path):
    torch.manual_seed(0)
    model = SpikingDecoder(DecoderConfig(n_inputs=14, n_hidden=12, n_classes=3))
    first = _through_file(model_to_nir(model, class_names=("a", "b", "c")), tmp_path / "first.nir")
    net = parse_nir(first)
    facts = {k: v for k, v in first.metadata.items() if k != "dt"}
    second = _through_file(network_to_nir(net, metadata=facts), tmp_path / "second.nir")
    assert nir_graphs_equal(first, second, rtol=1e-12)
    assert list(second.nodes) == list(first.nodes)
    x = random_spikes(14, samples=4, steps=30, rate=0.3, seed=0)
    deploy_first, _ = quantize(net, calibration_inputs=x)
    deploy_second, _ = quantize(parse_nir(second), calibration_inputs=x)
    assert_graph_equal(deploy_first, deploy_second)


def _graphs() -> dict[str, nir.NIRGraph]:
    cases = chain_cases(np.random.default_rng(2))
    return {
        "two_layer": two_layer_graph(np.random.default_rng(0)),
        "recurrent_affine": recurrent_graph(np.random.default_rng(1), n_in=8, hidden=10, n_out=3, affine_biases=True),
        "conv_net": conv_net_graph(np.random.default_rng(3), size=12),
        "conv2d_per_source_delays": cases["conv2d_delays"].graph(),
        "composed_chain": cases["chain"].graph(),
    }


@pytest.mark.parametrize("name", list(_graphs()))
def test_imported_graph_exports_and_imports_to_the_same_network(tmp_path, name):
    original = _graphs()[name]
    net = parse_nir(_through_file(original, tmp_path / "original.nir"))
    exported = _through_file(network_to_nir(net), tmp_path / "exported.nir")
    again = parse_nir(exported)
    assert networks_close(net, again)
    assert nir_graphs_equal(exported, _through_file(network_to_nir(again), tmp_path / "again.nir"), rtol=1e-12)
    x = random_spikes(net.input_size, samples=2, steps=12, rate=0.3, seed=1)
    float_net, float_again = simulate_float(net, x), simulate_float(again, x)
    for pop in net.populations:
        np.testing.assert_array_equal(float_net[pop].spikes, float_again[pop].spikes)
    assert_graph_equal(quantize(net, calibration_inputs=x)[0], quantize(again, calibration_inputs=x)[0])


def test_mixed_delays_are_split_by_delay_and_keep_their_effect(tmp_path):
    rng = np.random.default_rng(4)
    net = parse_nir(two_layer_graph(rng, n_in=6, hidden=5, n_out=2))
    syn = net.synapses[0]
    mixed = rng.integers(1, 4, syn.delay_steps.shape)
    synapses = [type(syn)(**{**vars(syn), "delay_steps": mixed}), *net.synapses[1:]]
    net = type(net)(**{**vars(net), "synapses": synapses})
    exported = network_to_nir(net)
    assert {n for n in exported.nodes if n.startswith("fc1_d")} == {
        "fc1_d1",
        "fc1_d1_delay",
        "fc1_d2",
        "fc1_d2_delay",
        "fc1_d3",
        "fc1_d3_delay",
    }
    again = parse_nir(_through_file(exported, tmp_path / "mixed.nir"))
    assert len(again.synapses) == 4
    x = random_spikes(6, samples=3, steps=20, rate=0.5, seed=2)
    want, got = simulate_float(net, x), simulate_float(again, x)
    np.testing.assert_allclose(got["readout"].v, want["readout"].v, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(got["lif"].spikes, want["lif"].spikes)
