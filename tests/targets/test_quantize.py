"""Quantization of float NIR networks to Loihi integer parameters."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.nir_graphs import two_layer_graph
from spikeport.errors import QuantizationRangeError
from spikeport.export import parse_nir, simulate_float
from spikeport.ir.formats import DEFAULT_CHIP, LOIHI_FORMATS
from spikeport.simulators import run_reference
from spikeport.simulators.kernels import effective_weights
from spikeport.targets import load_chip, quantize


@pytest.fixture
def network_and_inputs():
    rng = np.random.default_rng(1)
    net = parse_nir(two_layer_graph(rng))
    return net, (rng.random((40, 40, 40)) < 0.2).astype(np.int64)


def test_decays_thresholds_and_weights_follow_the_documented_mapping(network_and_inputs):
    net, x = network_and_inputs
    graph, report = quantize(net, calibration_inputs=x)
    lif, fc1 = graph.nodes["lif"], graph.nodes["fc1"]
    # dt = 1 ms, tau_syn = 5 ms, tau_mem = 10 ms
    assert lif.du == round(4096 * 0.2) - 1 and lif.dv == round(4096 * 0.1)
    scale = graph.metadata["scales"]["lif"]
    assert lif.vth == round(scale * 1.0 / 64)
    w_float = net.synapses[0].weight * net.populations["lif"].gain[:, None]
    w_int = fc1.weights * 2.0 ** (6 + fc1.weight_exp) / scale
    assert np.max(np.abs(w_int - w_float)) <= 2.0 ** (6 + fc1.weight_exp) / scale  # within one mantissa step (2)
    assert np.array_equal(effective_weights(fc1.weights), fc1.weights), "Lava must not alter quantized weights"
    assert np.max(np.abs(fc1.weights)) >= 128, "weights should use the 8-bit range"
    assert graph.nodes["readout"].vth == LOIHI_FORMATS.vth_max
    assert report.total_clipped == 0


def test_integer_run_tracks_the_float_network(network_and_inputs):
    net, x = network_and_inputs
    graph, _ = quantize(net, calibration_inputs=x)
    float_run, int_run = simulate_float(net, x), run_reference(graph, x)
    assert (float_run["lif"].spikes == int_run.populations["lif"].spikes).mean() > 0.98
    float_pred = float_run["readout"].v.mean(axis=1).argmax(axis=1)
    assert (float_pred == int_run.predictions("readout")).mean() >= 0.9
    assert int_run.populations["readout"].spikes.sum() == 0


def test_lower_weight_precision_uses_coarser_mantissas(network_and_inputs):
    net, x = network_and_inputs
    graph, report = quantize(net, calibration_inputs=x, num_weight_bits=4)
    fc1 = graph.nodes["fc1"]
    assert fc1.num_weight_bits == 4 and np.all(fc1.weights % 32 == 0)  # mixed sign: 8 - 4 + 1 bits dropped
    assert np.array_equal(effective_weights(fc1.weights, 4), fc1.weights)
    assert report.synapses[0].rel_rms_error > 0.02


def test_readout_without_calibration_is_an_error(network_and_inputs):
    net, _ = network_and_inputs
    with pytest.raises(QuantizationRangeError, match=r"'readout'.*calibration"):
        quantize(net)


def test_recurrent_and_delayed_connections_quantize_and_track_the_float_network():
    """A recurrent CubaLIF population (self-connection through a one-step Delay) and a 3-step input delay."""
    from helpers.nir_graphs import recurrent_graph

    rng = np.random.default_rng(5)
    n_in = 20
    graph = recurrent_graph(rng, n_in=n_in, hidden=16, input_delay_steps=3)
    net = parse_nir(graph)
    x = (rng.random((16, 30, n_in)) < 0.3).astype(np.int64)
    deploy, report = quantize(net, calibration_inputs=x)
    assert deploy.nodes["fc"].delays is not None and np.all(deploy.nodes["fc"].delays == 2)  # Dense adds one step
    assert deploy.nodes["rec"].delays is None
    assert ("lif", "rec") in deploy.edges and ("rec", "lif") in deploy.edges
    assert report.total_clipped == 0
    float_spikes, int_spikes = simulate_float(net, x)["lif"].spikes, run_reference(deploy, x).populations["lif"].spikes
    assert float_spikes.sum() > 0
    assert (float_spikes == int_spikes).mean() > 0.95


@pytest.mark.parametrize("chip", ["loihi", "loihi2"])
def test_the_graph_carries_the_chip_formats_and_the_default_chip_is_loihi(network_and_inputs, chip):
    net, x = network_and_inputs
    graph, _ = quantize(net, calibration_inputs=x, chip=chip)
    assert graph.chip == chip and graph.formats == load_chip(chip).formats
    assert quantize(net, calibration_inputs=x)[0].chip == DEFAULT_CHIP == "loihi"


def test_one_bit_mixed_weights_are_refused(network_and_inputs):
    """At 1 bit Lava drops 8 low bits of mixed-sign mantissas, leaving only -256 and 0: no positive weight."""
    net, x = network_and_inputs
    with pytest.raises(QuantizationRangeError, match=r"num_weight_bits=1 .* leaves mixed weights only .*-256 and 0"):
        quantize(net, calibration_inputs=x, num_weight_bits=1)
    with pytest.raises(QuantizationRangeError, match=r"num_weight_bits must be in 1\.\.8, got 9"):
        quantize(net, calibration_inputs=x, num_weight_bits=9)
