"""Label-free distillation (`spikeport.train.distill`): the teacher-forced integer forward, the fine-tuning, and
bit-exactness of the distilled graph on Lava.

Graphs are hand-built NIR graphs with seeded random weights (`tests/helpers/nir_graphs.py`); inputs are seeded
random spikes (synthetic).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.nir_graphs import recurrent_graph, two_layer_graph
from spikeport.errors import SpikeportError
from spikeport.export import FloatTrace, parse_nir, simulate_float, write_nir
from spikeport.nir_import import random_spikes
from spikeport.simulators import run_reference
from spikeport.targets import quantize
from spikeport.train.distill import LayerTeacher, distill, spike_agreement_by_layer


def _quantized(graph, *, samples: int = 12, steps: int = 40, seed: int = 0):
    net = parse_nir(graph)
    x = random_spikes(net.input_size, samples=samples, steps=steps, rate=0.2, seed=seed)
    deploy, _ = quantize(net, calibration_inputs=x)
    return net, deploy, x


@pytest.mark.parametrize("case", ["feed-forward", "recurrent with Affine biases"])
def test_teacher_forced_layers_fed_the_integer_run_reproduce_the_reference_exactly(case):
    """The layer-alone forward is the chip's arithmetic: fed the reference's own spikes as the 'teacher', every
    layer (recurrent loop and bias axon included) gives the reference's spikes and v bit for bit."""
    rng = np.random.default_rng(8)
    graph = (
        two_layer_graph(rng)
        if case == "feed-forward"
        else recurrent_graph(rng, n_in=16, hidden=20, n_out=4, affine_biases=True)
    )
    net, deploy, x = _quantized(graph)
    record = run_reference(deploy, x)
    scales = deploy.metadata["scales"]
    as_teacher = {
        name: FloatTrace(
            spikes=record.populations[name].spikes.astype(np.float64),
            cur=record.populations[name].u / scales[name],
            v=record.populations[name].v / scales[name],
        )
        for name in net.populations
    }
    teacher = LayerTeacher(deploy, net, x, as_teacher)
    assert {layer.name for layer in teacher.layers} == set(net.populations)
    assert all(lag == 0 for lag in teacher.lags.values()), "these graphs have Loihi's timing (Delay nodes)"
    with torch.no_grad():
        for layer in teacher.layers:
            spikes, v = teacher.layer_run(layer, torch.arange(len(x)))
            np.testing.assert_array_equal(spikes.numpy(), record.populations[layer.name].spikes)
            np.testing.assert_array_equal(v.numpy(), record.populations[layer.name].v)


@pytest.fixture(scope="module")
def distilled():
    net, deploy, x = _quantized(two_layer_graph(np.random.default_rng(0)), samples=16)
    return net, deploy, x, distill(deploy, net, x, epochs=6, lr=1.0, batch_size=4, seed=0)


def test_distillation_changes_only_dense_mantissas_and_improves_agreement(distilled):
    net, deploy, x, result = distilled
    assert result.kept_epoch > 0, "distillation should find weights that agree better on this graph"
    before, after = result.agreement[0], result.agreement[result.kept_epoch]
    assert after["lif"] > before["lif"]
    graph = result.graph
    changed = [d.name for d in deploy.synapses if not np.array_equal(d.weights, graph.nodes[d.name].weights)]
    assert changed, "some mantissas must move"
    for name, node in deploy.nodes.items():  # everything but the Dense weights is the quantizer's
        if node.kind != "dense_int":
            assert graph.nodes[name] == node
        else:
            assert graph.nodes[name].weight_exp == node.weight_exp
    # the kept agreement is measured, not assumed: rerun the reference on the distilled graph
    float_run = simulate_float(net, x)
    spiking = {n: p.spiking for n, p in net.populations.items()}
    assert spike_agreement_by_layer(run_reference(graph, x), float_run, {n: 0 for n in spiking}, spiking) == after


def test_distillation_is_deterministic(distilled):
    net, deploy, x, result = distilled
    again = distill(deploy, net, x, epochs=6, lr=1.0, batch_size=4, seed=0)
    assert again.kept_epoch == result.kept_epoch and again.loss == result.loss
    for dense in deploy.synapses:
        np.testing.assert_array_equal(again.graph.nodes[dense.name].weights, result.graph.nodes[dense.name].weights)


@pytest.mark.lava
def test_distilled_graph_runs_bit_exact_on_lava(distilled):
    from spikeport.validate import validate_graph

    _, _, x, result = distilled
    comparisons = validate_graph(result.graph, x[:4])
    assert comparisons[0].bit_exact, comparisons[0].summary()
    assert comparisons[0].values_compared > 0


def test_distill_refuses_zero_epochs_and_graphs_without_scales():
    net, deploy, x = _quantized(two_layer_graph(np.random.default_rng(1)), samples=2, steps=10)
    with pytest.raises(SpikeportError, match="--distill takes a number of epochs >= 1"):
        distill(deploy, net, x, epochs=0)
    bare = type(deploy)(**{**vars(deploy), "metadata": {"dt": net.dt}})
    with pytest.raises(SpikeportError, match=r"no scale in the deploy graph's metadata"):
        distill(bare, net, x, epochs=1)


def test_import_distill_prints_agreement_before_and_after(tmp_path, capsys):
    from spikeport.cli import main

    path = write_nir(two_layer_graph(np.random.default_rng(0)), tmp_path / "two.nir")
    assert main(["import", str(path), "--samples", "16", "--steps", "40", "--distill", "2"]) == 0
    out = capsys.readouterr().out
    assert "lif: " in out and "before distillation -> " in out
    with pytest.raises(SystemExit) as exited:  # argparse: EPOCHS >= 1
        main(["import", str(path), "--distill", "0"])
    assert exited.value.code == 2 and "argument --distill: must be >= 1" in capsys.readouterr().err
