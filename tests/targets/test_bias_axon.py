"""Affine biases into CubaLIF/CubaLI enter the synaptic current through the always-on bias axon."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.nir_graphs import recurrent_graph
from spikeport.agreement import float_int_agreement
from spikeport.export import parse_nir
from spikeport.nir_import import random_spikes
from spikeport.simulators import run_reference
from spikeport.targets import quantize
from spikeport.targets.bias_axon import BIAS_SOURCE, chip_current_decay, plan_bias
from spikeport.targets.chip import load_chip

FORMATS = load_chip("loihi").formats


def _net(input_delay_steps: int = 1):
    graph = recurrent_graph(
        np.random.default_rng(8), n_in=16, hidden=20, n_out=4, affine_biases=True, input_delay_steps=input_delay_steps
    )
    return parse_nir(graph)


def test_lag_zero_plan_reproduces_the_float_current_transient_exactly_in_real_arithmetic():
    """u_c[t] = d u_c[t-1] + w [t >= 1] plus the voltage bias B equals u[t] = d u[t-1] + c at every step
    (weights c * d on the mantissa grid: du = 2047 gives d = 1/2, c * d = 64 * (100, -60, 200))."""
    c = np.array([12800.0, -7680.0, 25600.0])
    d = chip_current_decay(2047, 3, FORMATS)
    plan = plan_bias(c, d, 0, 8, FORMATS)
    np.testing.assert_array_equal(plan.mantissa[:, 0], [100, -60, 200])
    w = FORMATS.effective_weights(plan.mantissa, 8)[:, 0] * 2.0 ** (6 + plan.weight_exp)
    u_float, u_chip = np.zeros(3), np.zeros(3)
    for t in range(30):
        u_float = d * u_float + c
        u_chip = d * u_chip + (w if t >= 1 else 0)
        np.testing.assert_allclose(u_chip + plan.voltage_bias, u_float, rtol=1e-12, atol=1e-6)
    assert plan.delay == 0 and plan.timing_exact


def test_the_rounding_residual_of_the_axon_weight_is_folded_into_the_voltage_bias_at_steady_state():
    c = np.array([5000.0, -3000.0, 12345.0])
    d = chip_current_decay(3276, 3, FORMATS)  # d = 819/4096
    plan = plan_bias(c, d, 0, 8, FORMATS)
    w = FORMATS.effective_weights(plan.mantissa, 8)[:, 0] * 2.0 ** (6 + plan.weight_exp)
    assert np.all(np.abs(w - c * d) > 0)  # not on the grid
    np.testing.assert_allclose(w / (1 - d) + plan.voltage_bias, c / (1 - d), rtol=1e-12)


def test_a_population_lagging_by_k_steps_gets_its_bias_through_a_delay_of_k_minus_one():
    plan = plan_bias(np.full(4, 4000.0), np.full(4, 0.8), 3, 8, FORMATS)
    assert plan.delay == 2
    np.testing.assert_array_equal(plan.target, np.full(4, 4000.0))  # no decay compensation when lagging


def test_affine_biases_go_into_the_current_not_only_the_voltage_bias():
    net = _net()
    x = random_spikes(16, samples=8, steps=40, rate=0.2, seed=0)
    graph, report = quantize(net, calibration_inputs=x, behaviour_search=False)
    assert BIAS_SOURCE in graph.nodes and graph.nodes[BIAS_SOURCE].size == 1
    axon = next(p.bias_axon for p in report.populations if p.name == "lif")
    assert axon is not None and (BIAS_SOURCE, axon) in graph.edges and (axon, "lif") in graph.edges
    # the axon neuron fires at every step of every sample
    record = run_reference(graph, x)
    assert np.all(record.populations[BIAS_SOURCE].spikes == 1)
    # the transient is now right: the recurrent graph reached only ~92% with the voltage-bias fold
    lif = next(a for a in float_int_agreement(net, graph, x, record) if a.name == "lif")
    assert lif.spike_agreement > 0.96


def test_the_report_lists_the_approximations_of_each_layer_with_their_sizes():
    net = _net()
    x = random_spikes(16, samples=4, steps=30, rate=0.2, seed=1)
    _, report = quantize(net, calibration_inputs=x, behaviour_search=False)
    lif = next(p for p in report.populations if p.name == "lif")
    kinds = {a.kind: a for a in lif.approximations}
    assert {"decay rounding", "threshold mantissa", "weight mantissa", "bias"} <= set(kinds)
    assert kinds["decay rounding"].size == max(lif.decay_u_error, lif.decay_v_error)
    assert kinds["threshold mantissa"].size == lif.vth_rel_error
    lines = "\n".join(report.summary_lines())
    assert "approximation: decay rounding" in lines and "biases into the current via" in lines
    assert report.to_dict()["populations"][0]["approximations"][0]["kind"] == "decay rounding"


@pytest.mark.lava
@pytest.mark.parametrize("input_delay_steps", [0, 1])
def test_affine_biases_into_cubalif_are_bit_exact_on_lava(input_delay_steps):
    """Lag 1 (plain axon) and lag 0 (decay-compensated axon): Lava equals the reference."""
    from spikeport.validate import validate_graph

    net = _net(input_delay_steps)
    x = random_spikes(16, samples=3, steps=25, rate=0.2, seed=2)
    graph, report = quantize(net, calibration_inputs=x)
    assert next(p.bias_axon for p in report.populations if p.name == "lif") is not None
    comparisons = validate_graph(graph, x)
    assert comparisons[0].bit_exact, comparisons[0].summary()
