"""The integer training forward uses each synapse's own weight grid: excitatory, inhibitory or mixed sign mode.

Lava's Dense infers a sign mode from the stored weights (`spikeport.ir.formats.sign_mode`) and keeps a different
set of mantissas in each (`NumberFormats.weight_grid`; ../shared/docs/loihi-fixed-point.md "Dense"): at 8 bits
excitatory [0, 255] and inhibitory [-255, 0] in steps of 1, mixed the even values in [-256, 254]. The quantizer puts
single-sign synapses on their own grid, so the training forward (`spikeport.train.qat`) must too: on the mixed grid
255 would become 254 and -255 would become -256. Inputs are seeded synthetic spikes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.nir_graphs import two_layer_graph
from spikeport.errors import SpikeportWarning
from spikeport.export import parse_nir
from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
from spikeport.ir.formats import LOIHI_FORMATS, SignMode
from spikeport.simulators import compare_runs, run_reference
from spikeport.targets import quantize
from spikeport.train.qat import IntegerNetwork, finetune_integer, synapse_grid

N_IN, N_OUT = 8, 4


def _on_grid_weights(mode: SignMode, bits: int, seed: int) -> np.ndarray:
    """Random mantissas on the grid of `mode` at `bits`, with both ends of the grid present."""
    grid = LOIHI_FORMATS.weight_grid(mode, bits)
    rng = np.random.default_rng(seed)
    w = rng.integers(grid.low // grid.step, grid.high // grid.step + 1, (N_OUT, N_IN)) * grid.step
    w[0, 0], w[1, 1] = grid.low, grid.high
    if mode is SignMode.MIXED:
        w[2, 2] = -grid.limit  # keep both signs whatever the draw
    return w


def _three_mode_graph(bits: int, weights: dict[str, np.ndarray] | None = None) -> DeployGraph:
    """input -> exc -> a, input -> inh -> b, input -> mix -> c: one Dense of each sign mode into its own LIF."""
    weights = weights or {
        "exc": _on_grid_weights(SignMode.EXCITATORY, bits, 1),
        "inh": _on_grid_weights(SignMode.INHIBITORY, bits, 2),
        "mix": _on_grid_weights(SignMode.MIXED, bits, 3),
    }
    nodes = {"in": SpikeInput(name="in", size=N_IN)}
    edges = []
    for dense, pop in (("exc", "a"), ("inh", "b"), ("mix", "c")):
        nodes[pop] = LIFInt(name=pop, size=N_OUT, du=3000, dv=400, vth=600, bias_mant=np.full(N_OUT, 40), bias_exp=6)
        nodes[dense] = DenseInt(name=dense, weights=weights[dense], num_weight_bits=bits)
        edges += [("in", dense), (dense, pop)]
    return DeployGraph(nodes=nodes, edges=tuple(edges), output="c")


def _spikes(seed: int = 0, samples: int = 4, steps: int = 25) -> np.ndarray:
    return (np.random.default_rng(seed).random((samples, steps, N_IN)) < 0.4).astype(np.int64)


@pytest.mark.parametrize("bits", [8, 6, 3])
def test_forward_equals_the_reference_on_excitatory_inhibitory_and_mixed_synapses(bits):
    graph = _three_mode_graph(bits)
    assert {d.name: synapse_grid(d, graph.formats).mode for d in graph.synapses} == {
        "exc": SignMode.EXCITATORY, "inh": SignMode.INHIBITORY, "mix": SignMode.MIXED,
    }  # fmt: skip
    x = _spikes()
    network = IntegerNetwork(graph)
    comparison = compare_runs(run_reference(graph, x), network.record(x))
    assert comparison.bit_exact, comparison.summary()
    for dense in graph.synapses:  # the grid's ends (255, -255 at 8 bits) are kept, not moved to the mixed grid
        np.testing.assert_array_equal(network.to_graph().nodes[dense.name].weights, dense.weights)
    assert run_reference(graph, x).populations["a"].spikes.sum() > 0  # the excitatory path is active


def test_off_grid_weights_start_as_lava_uses_them():
    """A hand-written graph's weights off their grid: the forward starts from `effective_weights`, like the chip."""
    rng = np.random.default_rng(9)
    weights = {
        "exc": rng.integers(0, 400, (N_OUT, N_IN)),  # beyond 255 and odd: clipped and truncated by Lava
        "inh": -rng.integers(1, 300, (N_OUT, N_IN)),
        "mix": rng.integers(-300, 300, (N_OUT, N_IN)),
    }
    graph = _three_mode_graph(5, weights)
    x = _spikes(seed=1)
    with pytest.warns(SpikeportWarning, match="which the chip clips"):
        reference = run_reference(graph, x)
    comparison = compare_runs(reference, IntegerNetwork(graph).record(x))
    assert comparison.bit_exact, comparison.summary()


def test_mixed_synapse_trained_to_one_sign_uses_the_weights_lava_keeps():
    """-256 is on the mixed grid, but Lava clips it to -255 once the whole matrix is non-positive."""
    graph = _three_mode_graph(8)
    network = IntegerNetwork(graph)
    with torch.no_grad():
        network.weights[network.parameter_keys["mix"]].copy_(torch.full((N_OUT, N_IN), -300.0))
    used = network.deployed_weights("mix")
    assert torch.equal(used, torch.full((N_OUT, N_IN), -255.0, dtype=torch.float64))
    x = _spikes(seed=2)
    tuned = network.to_graph()
    comparison = compare_runs(run_reference(tuned, x), network.record(x))
    assert comparison.bit_exact, comparison.summary()


def test_gradients_pass_straight_through_the_grid():
    network = IntegerNetwork(_three_mode_graph(6))
    for name in ("exc", "inh", "mix"):
        network.deployed_weights(name).sum().backward()
    for key in network.parameter_keys.values():
        assert torch.equal(network.weights[key].grad, torch.ones(N_OUT, N_IN, dtype=torch.float64))


@pytest.mark.parametrize(("sign", "mode"), [(1.0, "excitatory"), (-1.0, "inhibitory")])
def test_quantized_single_sign_synapse_fine_tunes_on_its_grid(sign, mode):
    """A quantized graph whose readout synapse is all positive (negative): forward == reference, before and after
    fine-tuning, and the tuned synapse stays on the quantizer's grid."""
    nir_graph = two_layer_graph(np.random.default_rng(3), n_in=12, hidden=10, n_out=3)
    nir_graph.nodes["fc1"].weight = np.abs(nir_graph.nodes["fc1"].weight)  # excitatory input layer
    nir_graph.nodes["fc2"].weight = sign * np.abs(nir_graph.nodes["fc2"].weight)
    x = (np.random.default_rng(4).random((16, 20, 12)) < 0.3).astype(np.int64)
    graph, report = quantize(parse_nir(nir_graph), calibration_inputs=x)
    assert [s.sign_mode for s in report.synapses] == ["excitatory", mode]
    comparison = compare_runs(run_reference(graph, x), IntegerNetwork(graph).record(x))
    assert comparison.bit_exact, comparison.summary()

    labels = np.arange(len(x)) % 3  # synthetic targets: only the arithmetic is under test
    network, _ = finetune_integer(graph, x, labels, epochs=2, lr=2.0, seed=0, progress=False)
    tuned = network.to_graph()
    assert any(not np.array_equal(tuned.nodes[d.name].weights, d.weights) for d in graph.synapses), "nothing trained"
    for dense in graph.synapses:
        grid = synapse_grid(dense, graph.formats)
        w = tuned.nodes[dense.name].weights
        assert grid.low <= w.min() and w.max() <= grid.high and not np.any(w % grid.step), dense.name
    comparison = compare_runs(run_reference(tuned, x), network.record(x))
    assert comparison.bit_exact, comparison.summary()
