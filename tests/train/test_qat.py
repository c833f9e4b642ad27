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
