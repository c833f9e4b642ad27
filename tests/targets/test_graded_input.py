"""Graded input spikes (`quantize(input_message_bits=)`): spike counts as Loihi 2 graded payloads into the encoding
layer, bit-exact on Lava, counted as MACs there and nowhere else, and refused when they do not fit the payload."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.nir_graphs import two_layer_graph
from spikeport.errors import InputDataError, QuantizationRangeError
from spikeport.export import parse_nir
from spikeport.ir import DenseInt
from spikeport.targets import quantize


def _counts(seed: int, samples: int = 4, steps: int = 12, n_in: int = 40, top: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).poisson(0.8, (samples, steps, n_in)).clip(0, top)


@pytest.fixture(scope="module")
def net():
    return parse_nir(two_layer_graph(np.random.default_rng(0)))


def test_only_the_input_and_its_synapses_are_graded(net):
    graph, _ = quantize(net, calibration_inputs=_counts(0), input_message_bits=4)
    assert graph.input.num_message_bits == 4
    dense = {n.name: n for n in graph.nodes.values() if isinstance(n, DenseInt)}
    assert {name: d.num_message_bits for name, d in dense.items()} == {"fc1": 4, "fc2": 0}


def test_graded_counts_are_mac_in_the_encoding_layer_and_ac_after_it(net):
    from spikeport.simulators import run_reference
    from spikeport.targets.conventions import count_layers

    x = _counts(1)
    graph, _ = quantize(net, calibration_inputs=x, input_message_bits=4)
    layers = {la.name: la for la in count_layers(graph, x, run_reference(graph, x)).layers}
    assert layers["fc1"].total("effective_macs") > 0 and layers["fc1"].total("effective_acs") == 0
    assert layers["fc2"].total("effective_macs") == 0 and layers["fc2"].total("effective_acs") > 0


@pytest.mark.lava
def test_graded_counts_run_bit_exact_on_lava(net):
    from spikeport.validate import validate_graph

    x = _counts(2)
    graph, _ = quantize(net, calibration_inputs=x, input_message_bits=4)
    comparison = validate_graph(graph, x)[0]
    assert comparison.bit_exact, comparison.summary()


def test_counts_beyond_the_payload_are_refused_naming_the_range(net):
    x = _counts(3)
    x[0, 0, 0] = 16
    with pytest.raises(InputDataError, match=r"calibration inputs: inputs holds 16, outside the graded payload range "
                                             r"0\.\.15 \(4 message bits\)"):
        quantize(net, calibration_inputs=x, input_message_bits=4)
    with pytest.raises(QuantizationRangeError, match=r"input_message_bits must be in 0\.\.24, got 25"):
        quantize(net, calibration_inputs=_counts(3), input_message_bits=25)
