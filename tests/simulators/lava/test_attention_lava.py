"""Spike-driven attention on Lava: the `SpikeAttention` process (`fixed_pt`) against the integer reference, bit
for bit, on random configurations (tokens, channels, delays, gate thresholds, registers, seeds) and on the NIR
layer quantized to an `AttentionInt`; and its size, linear in the tokens."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from helpers.random_attention import attention_sweep, compare_attention_case, random_attention_case

pytestmark = pytest.mark.lava


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_attention_graphs_are_bit_exact_on_lava(seed):
    case = random_attention_case(seed, n_tokens=3 + seed, rate=0.5, gate_threshold=0)
    comparison, reference = compare_attention_case(case)
    assert comparison.bit_exact, f"{case.label}: {comparison.summary()}"
    assert reference.populations["out"].spikes.any() or case.graph.nodes["att"].output_projection, case.label


def test_samples_start_from_rest_on_lava():
    """Three samples back to back, the second one silent: every state (ring buffers, Q/K/V u and v) is zeroed."""
    case = random_attention_case(11, n_tokens=4, n_features=3, samples=3, steps=20, rate=0.6, gate_threshold=0)
    case.inputs[1] = 0
    comparison, reference = compare_attention_case(case)
    assert comparison.bit_exact, comparison.summary()
    assert reference.populations["out"].spikes[0].any() and not reference.populations["out"].spikes[1].any()


@pytest.mark.parametrize("output_projection", [False, True])
def test_quantized_nir_layer_runs_bit_true_on_lava(output_projection):
    import nir
    import torch

    from spikeport.export import parse_nir
    from spikeport.simulators import compare_runs, run_reference
    from spikeport.simulators.lava import run_lava
    from spikeport.targets import quantize
    from spikeport.train.layers import AttentionConfig, SpikeDrivenAttention, attention_to_nir

    n, dim, steps = 4, 6, 25
    module = SpikeDrivenAttention(
        AttentionConfig(n_features=dim, output_projection=output_projection, init_gain=2.5), seed=3
    ).eval()
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([n * dim])}), "attention": attention_to_nir(module, n),
               "output": nir.Output(output_type={"output": np.array([n * dim])})},
        edges=[("input", "attention"), ("attention", "output")], metadata={"dt": 1e-3}, type_check=False,
    )  # fmt: skip
    gen = torch.Generator().manual_seed(4)
    x = torch.bernoulli(torch.full((2, steps, n * dim), 0.3), generator=gen).numpy().astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        deploy, _ = quantize(parse_nir(graph), calibration_inputs=x)
    reference = run_reference(deploy, x)
    assert reference.populations[deploy.output].spikes.sum() > 0
    comparison = compare_runs(reference, run_lava(deploy, x))
    assert comparison.bit_exact, comparison.summary()


def test_process_memory_grows_linearly_with_tokens():
    from spikeport.ir import AttentionInt
    from spikeport.simulators.lava.processes.attention.factory import spike_attention

    def var_bytes(n_tokens: int) -> int:
        case = random_attention_case(5, n_tokens=n_tokens, n_features=4)
        node: AttentionInt = case.graph.nodes["att"]
        proc = spike_attention(node)
        return sum(np.asarray(var.init).nbytes for var in proc.vars)

    sizes = [var_bytes(n) for n in (4, 8, 16, 32)]
    steps = np.diff(sizes)
    assert steps[1] == 2 * steps[0] and steps[2] == 2 * steps[1], sizes


@pytest.mark.slow
def test_attention_sweep_is_bit_exact_over_100_random_configurations():
    """Also runnable as `python benchmarks/attention_sweep.py --cases 100`."""
    mismatches = attention_sweep(100, first_seed=1000)
    assert not mismatches, "\n".join(mismatches)


def test_wrapping_and_saturating_neurons_stay_bit_exact_on_lava():
    """Full weights shifted by 7 into leak-free Q, K, V neurons: u wraps (24 bits) and v saturates, and the spikes
    that still come out (threshold 40000 << 6) depend on both."""
    from spikeport.ir import AttentionInt

    dim = 2
    node = AttentionInt(
        name="att", n_tokens=3, n_features=dim, delay=1, weights=np.full((3, dim, dim), 255), weight_exp=[7, 7, 7],
        du=[-1, -1, -1], dv=[0, 0, 0], vth=[40000] * 3, bias_mant=np.full((3, dim), -4096), bias_exp=[3, 3, 3],
        gate_threshold=0,
    )  # fmt: skip
    case = random_attention_case(3, n_tokens=3, n_features=dim, steps=40, samples=2, rate=0.7)
    graph = type(case.graph)(nodes={**case.graph.nodes, "att": node}, edges=case.graph.edges, output="out")
    case = type(case)(label="saturating", graph=graph, inputs=case.inputs)
    comparison, reference = compare_attention_case(case)
    assert comparison.bit_exact, comparison.summary()
    counts = reference.saturation["att"]
    assert counts["u_wrapped"] > 0 and counts["v_saturated"] > 0, counts
    assert reference.populations["out"].spikes.any()
