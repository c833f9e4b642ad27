"""Quantization-aware fine-tuning with the integer reference as the training forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikeport.export import model_to_nir, parse_nir
from spikeport.simulators import compare_runs, run_reference
from spikeport.targets import quantize
from spikeport.train import (
    BandPowerSpikeEncoder,
    DecoderConfig,
    SpikingDecoder,
    fit,
    make_synthetic_motor_imagery,
    split_trials,
)
from spikeport.train.qat import IntegerNetwork, finetune_integer, integer_predictions


@pytest.fixture(scope="module")
def quantized_decoder():
    data = make_synthetic_motor_imagery(n_subjects=2, trials_per_class=16, seed=4)
    train, test = split_trials(data, test_fraction=0.25, seed=4)
    encoder = BandPowerSpikeEncoder(num_steps=16).fit(data.subset(train))
    x_train, x_test = encoder.encode(data.subset(train)), encoder.encode(data.subset(test))
    model = SpikingDecoder(DecoderConfig(n_inputs=encoder.n_inputs, n_hidden=24), seed=4)
    fit(model, x_train, data.labels[train], epochs=5, progress=False)
    graph, _ = quantize(parse_nir(model_to_nir(model)), calibration_inputs=x_train)
    return graph, x_train, data.labels[train], x_test, data.labels[test]


def test_integer_forward_is_the_reference_simulator(quantized_decoder):
    graph, x_train, *_ = quantized_decoder
    with torch.no_grad():
        v = IntegerNetwork(graph)(torch.as_tensor(x_train, dtype=torch.float64)).numpy()
    np.testing.assert_array_equal(v, run_reference(graph, x_train).populations[graph.output].v)


def test_finetuned_graph_deploys_with_the_training_forward_accuracy(quantized_decoder):
    graph, x_train, y_train, x_test, y_test = quantized_decoder
    network, history = finetune_integer(graph, x_train, y_train, epochs=3, seed=0, progress=False)
    assert len(history.loss) == 3 and all(np.isfinite(history.loss))
    tuned = network.to_graph()
    assert any(not np.array_equal(tuned.nodes[d.name].weights, d.weights) for d in graph.synapses), "nothing trained"
    reference = run_reference(tuned, x_test)
    np.testing.assert_array_equal(integer_predictions(network, x_test), reference.predictions(tuned.output))
    training_forward_accuracy = float(np.mean(integer_predictions(network, x_test) == y_test))
    assert float(np.mean(reference.predictions(tuned.output) == y_test)) == training_forward_accuracy


@pytest.mark.lava
def test_finetuned_graph_is_bit_exact_on_lava(quantized_decoder):
    from spikeport.simulators.lava import run_lava

    graph, x_train, y_train, x_test, _ = quantized_decoder
    network, _ = finetune_integer(graph, x_train, y_train, epochs=2, seed=1, progress=False)
    tuned = network.to_graph()
    comparison = compare_runs(run_reference(tuned, x_test[:8]), run_lava(tuned, x_test[:8]))
    assert comparison.bit_exact, comparison.summary()


def test_fine_tuning_refuses_a_kind_its_table_marks_unsupported():
    from spikeport.errors import UnsupportedNodeError
    from spikeport.ir import DenseInt, DeployGraph, SpikeInput, TernaryLIFInt
    from spikeport.train.qat import KIND_TABLE

    graph = DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=2),
            "w": DenseInt(name="w", weights=np.array([[3, 5]])),
            "n": TernaryLIFInt(name="n", size=1, du=100, dv=200, vth=10, vth_lo=-10),
        },
        edges=[("in", "w"), ("w", "n")],
        output="n",
    )
    with pytest.raises(UnsupportedNodeError, match=r"node 'n' of kind 'ternary_lif_int'.*surrogate"):
        IntegerNetwork(graph)
    assert KIND_TABLE.consumer == "integer training forward"


def _memory_block_graph(tmp_path):
    """A Hebbian memory extension block, inlined by the parser: node names 'memory.readout', 'memory.accumulator'.

    Synthetic latent spikes (class-dependent Bernoulli rates, seeded); the readout synapse is all-positive.
    """
    import nir

    from spikeport.export import read_nir, write_nir
    from spikeport.train.layers import HebbianAssociativeMemory, MemoryConfig, memory_to_nir

    n_latent, n_classes, steps = 20, 3, 15
    gen = torch.Generator().manual_seed(0)
    rates = torch.rand(n_classes, n_latent, generator=gen) * 0.4
    memory = HebbianAssociativeMemory(MemoryConfig(n_latent, n_classes))
    labels = torch.arange(n_classes).repeat(4)
    memory.adapt("A", torch.bernoulli(rates[labels].expand(steps, -1, -1), generator=gen), labels)
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([n_latent])}),
            "memory": memory_to_nir(memory, "A", dt=1e-3),
            "output": nir.Output(output_type={"output": np.array([n_classes])}),
        },
        edges=[("input", "memory"), ("memory", "output")],
        metadata={"dt": 1e-3},
        type_check=False,
    )
    net = parse_nir(read_nir(write_nir(graph, tmp_path / "memory.nir")))
    x = (np.random.default_rng(0).random((8, 16, n_latent)) < 0.3).astype(np.int64)
    quantized, _ = quantize(net, calibration_inputs=x)
    return quantized, x


def test_graph_with_inlined_block_names_trains_and_records(tmp_path):
    """Torch refuses '.' in parameter names: parameters are keyed by index, the node names stay the graph's."""
    graph, x = _memory_block_graph(tmp_path)
    assert [d.name for d in graph.synapses] == ["memory.readout"]
    network = IntegerNetwork(graph)
    assert network.parameter_keys == {"memory.readout": "w0"}
    comparison = compare_runs(run_reference(graph, x), network.record(x))
    assert comparison.bit_exact, comparison.summary()

    tuned_network, history = finetune_integer(graph, x, np.arange(len(x)) % 3, epochs=2, lr=2.0, progress=False)
    tuned = tuned_network.to_graph()
    assert list(tuned.nodes) == list(graph.nodes) and len(history.loss) == 2
    assert not np.array_equal(tuned.nodes["memory.readout"].weights, graph.nodes["memory.readout"].weights)
    comparison = compare_runs(run_reference(tuned, x), tuned_network.record(x))
    assert comparison.bit_exact, comparison.summary()


def _output_first_graph():
    """in -> w1 -> h -> w2 -> o, with the output population listed (and so recorded by the reference) first."""
    from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput

    rng = np.random.default_rng(2)
    nodes = {
        "in": SpikeInput(name="in", size=5),
        "block.o": LIFInt(name="block.o", size=3, du=4000, dv=300, vth=400),
        "block.h": LIFInt(name="block.h", size=4, du=3000, dv=500, vth=300),
        "block.w1": DenseInt(name="block.w1", weights=2 * rng.integers(-40, 120, (4, 5))),
        "block.w2": DenseInt(name="block.w2", weights=2 * rng.integers(-60, 120, (3, 4))),
    }
    edges = (("in", "block.w1"), ("block.w1", "block.h"), ("block.h", "block.w2"), ("block.w2", "block.o"))
    return DeployGraph(nodes=nodes, edges=edges, output="block.o")


def test_training_forward_is_compared_by_population_name():
    graph = _output_first_graph()
    x = (np.random.default_rng(3).random((3, 20, 5)) < 0.5).astype(np.int64)
    reference, forward = run_reference(graph, x), IntegerNetwork(graph).record(x)
    assert list(reference.populations) == ["block.o", "block.h"]
    assert list(forward.populations) == ["block.o", "block.h"]  # graph order, not the order it computes them
    assert reference.populations["block.h"].spikes.sum() > 0 and reference.populations["block.o"].spikes.sum() > 0
    assert compare_runs(reference, forward).bit_exact
    from spikeport.simulators import PopulationTrace, RunRecord

    reordered = RunRecord(backend="reordered", populations=dict(reversed(list(forward.populations.items()))))
    comparison = compare_runs(reference, reordered)  # another order of the same populations is no mismatch
    assert comparison.bit_exact and comparison.values_compared == 3 * 20 * (3 + 4) * 3
    hidden = forward.populations["block.h"]
    v = hidden.v.copy()
    v[1, 4, 2] += 1
    changed = RunRecord(
        backend="changed",
        populations={"block.h": PopulationTrace(spikes=hidden.spikes, u=hidden.u, v=v),
                     "block.o": forward.populations["block.o"]},
    )  # fmt: skip
    first = compare_runs(reference, changed).first_mismatch
    assert (first.population, first.sample, first.step, first.neuron, first.variable) == ("block.h", 1, 4, 2, "v")


@pytest.mark.lava
def test_validate_compares_the_training_forward_of_a_graph_with_block_names():
    """Names with '.' and a population order unlike the forward's: `validate` compares all three runs."""
    from spikeport.validate import validate_graph

    lines: list[str] = []
    x = (np.random.default_rng(3).random((3, 20, 5)) < 0.5).astype(np.int64)
    comparisons = validate_graph(_output_first_graph(), x, training_forward=True, echo=lines.append)
    assert [(c.name_a, c.name_b) for c in comparisons] == [("reference", "lava"), ("reference", "training-forward")]
    assert all(c.bit_exact for c in comparisons), [c.summary() for c in comparisons]
    assert not any("not compared" in line for line in lines), lines
