"""The integer reference simulator: analytic goldens of every kernel, execution-order equivalence, and properties.

Each golden is derived by hand in its docstring from the semantics in ../shared/docs/loihi-fixed-point.md:
an input spike of step k reaches the population's u at step k + 1 (delay d: k + 1 + d), and per step

    u = trunc(u * (4096 - (du + 1)) / 4096) + (a << 6), one 24-bit correction
    v = clip(trunc(v * (4096 - dv) / 4096) + u + bias, +-(2**23 - 1));  spike if v > vth << 6, then v = 0.

Steps in these tests are 0-based sample steps (Lava's time step minus one).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from helpers.graphs import one_layer, pulses
from helpers.random_graphs import graph_cases
from spikeport.errors import IRValidationError
from spikeport.simulators import kernels
from spikeport.simulators.compare import compare_runs
from spikeport.simulators.reference import run_reference

SETTINGS = settings(
    max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip


def _trace(graph, inputs, pop="pop"):
    record = run_reference(graph, inputs)
    trace = record.populations[pop]
    return trace.spikes[0, :, :], trace.u[0, :, :], trace.v[0, :, :]


@pytest.mark.parametrize("stepwise", [False, True], ids=["layerwise", "stepwise"])
def test_constant_input_reaches_threshold_at_hand_computed_step(stepwise):
    """One neuron, weight 1, an input spike every step, du=4095 (memoryless u), dv=0 (no leak), vth=10.

    a_0 = 0 and a_k = 1 for k >= 1, so u_0 = 0 and u_k = 1 << 6 = 64; v_k = v_(k-1) + 64 = 64 k.
    The neuron spikes when v > vth << 6 = 640, i.e. 64 k > 640: first at k = 11, where v resets to 0. v then
    restarts from 0 (u is not reset), so it spikes every 11 steps: at 11, 22, 33 within 40 steps.
    """
    graph = one_layer([[1]], du=4095, dv=0, vth=10)
    record = run_reference(graph, np.ones((1, 40, 1), dtype=np.int64), stepwise=stepwise)
    trace = record.populations["pop"]
    np.testing.assert_array_equal(np.flatnonzero(trace.spikes[0, :, 0]), [11, 22, 33])
    np.testing.assert_array_equal(trace.u[0, :, 0], [0] + [64] * 39)
    np.testing.assert_array_equal(trace.v[0, :12, 0], [64 * k for k in range(11)] + [0])


def test_mixed_sign_weights_lose_their_lowest_bit():
    """W = [3, -3, 255] is mixed-sign: Lava drops 8 - 8 + 1 = 1 low bit by floor, 3 -> 2, -3 -> -4, 255 -> 254.

    Input j fires alone at step j, so u_(j+1) = W_eff[j] << 6 = [128, -256, 16256] (du=4095, memoryless).
    An all-non-negative matrix is excitatory and keeps every bit.
    """
    _, u, v = _trace(one_layer([[3, -3, 255]]), pulses(5, 3, {0: [1, 0, 0], 1: [0, 1, 0], 2: [0, 0, 1]}))
    np.testing.assert_array_equal(u[:, 0], [0, 128, -256, 16256, 0])
    np.testing.assert_array_equal(v, u)  # dv=4096, no bias: v = u
    np.testing.assert_array_equal(kernels.effective_weights(np.array([[3, 255, 1]])), [[3, 255, 1]])


def test_weights_clip_by_sign_mode():
    """Clip ranges: mixed [-256, 255], excitatory [0, 255], inhibitory [-255, 0] (clipped on -W)."""
    np.testing.assert_array_equal(kernels.effective_weights(np.array([[300, -300]])), [[254, -256]])
    np.testing.assert_array_equal(kernels.effective_weights(np.array([[300, 7]])), [[255, 7]])
    np.testing.assert_array_equal(kernels.effective_weights(np.array([[-300, -7]])), [[-255, -7]])


def test_inhibitory_truncation_rounds_toward_zero():
    """W = [-3, -255, -1] is inhibitory; with 7 bits Lava truncates |W| by 1 bit: 3 -> 2, 255 -> 254, 1 -> 0.

    So W_eff = [-2, -254, 0] (a floor would give [-4, -256, -2]); one-hot inputs give u = 64 W_eff.
    """
    _, u, _ = _trace(
        one_layer([[-3, -255, -1]], num_weight_bits=7), pulses(5, 3, {0: [1, 0, 0], 1: [0, 1, 0], 2: [0, 0, 1]})
    )
    np.testing.assert_array_equal(u[:, 0], [0, -128, -16256, 0, 0])


@pytest.mark.parametrize(
    ("bits", "expected"),
    [(1, [0, 0, 128, 128]), (4, [0, 0, 128, 240])],
    ids=["1bit", "4bit"],
)
def test_low_precision_excitatory_weights(bits, expected):
    """Excitatory W = [1, 128, 255] at `bits` bits keeps the top bits: drop 8 - bits low bits (floor).

    1 bit: [1, 128, 255] >> 7 << 7 = [0, 128, 128]; 4 bits: >> 4 << 4 = [0, 128, 240]. u_(j+1) = W_eff[j] << 6.
    """
    _, u, _ = _trace(
        one_layer([[1, 128, 255]], num_weight_bits=bits), pulses(4, 3, {0: [1, 0, 0], 1: [0, 1, 0], 2: [0, 0, 1]})
    )
    np.testing.assert_array_equal(u[:, 0], [64 * w for w in expected])


def test_weight_exp_shifts_the_whole_sum_with_floor():
    """W = [-1, -1], weight_exp = -1: the step's sum is shifted right (floor), not each weight.

    Step 0: input [1, 0] -> a_1 = -1 >> 1 = -1 (floor(-0.5); truncation would give 0).
    Step 1: input [1, 1] -> a_2 = -2 >> 1 = -1 (per-weight floor would give -2, truncation 0).
    u = a << 6 (du=4095): [0, -64, -64, 0].
    """
    _, u, _ = _trace(one_layer([[-1, -1]], weight_exp=-1), pulses(4, 2, {0: [1, 0], 1: [1, 1]}))
    np.testing.assert_array_equal(u[:, 0], [0, -64, -64, 0])


def test_positive_weight_exp_scales_up():
    """W = [3], weight_exp = 7: a = 3 << 7 = 384, u = 384 << 6 = 24576."""
    _, u, _ = _trace(one_layer([[3]], weight_exp=7), pulses(2, 1, {0: 1}))
    np.testing.assert_array_equal(u[:, 0], [0, 24576])


def test_u_wraps_once_at_24_bits():
    """W = 255, weight_exp = 7, an input every step, du = -1 (no current leak: keep 4096, u carried exactly).

    a = 255 << 7 = 32640 and a << 6 = 2088960 per step, so u_k = 2088960 k: 2088960, 4177920, 6266880,
    8355840 (<= 2**23 = 8388608). At k = 5, 10444800 > 2**23 wraps once: 10444800 - 2**24 = -6332416, then
    -6332416 + 2088960 = -4243456. dv = 4096 and no bias: v = u, which never exceeds vth << 6 = 8388544.
    """
    _, u, v = _trace(one_layer([[255]], weight_exp=7, du=-1), np.ones((1, 7, 1), dtype=np.int64))
    np.testing.assert_array_equal(u[:, 0], [0, 2088960, 4177920, 6266880, 8355840, -6332416, -4243456])
    np.testing.assert_array_equal(v, u)


def test_u_correction_is_single_not_modulo():
    """13 inputs of weight 255 fire once with weight_exp 7: a = 13 * 32640 = 424320, a << 6 = 27156480 > 2**24.

    Lava subtracts 2**24 once: u_1 = 27156480 - 16777216 = 10379264, still above 2**23 (a modulo-2**24 wrap
    would give -6397952). v_1 = 10379264 clips to 2**23 - 1 = 8388607 > vth << 6 = 8388544: a spike, v = 0.
    """
    spikes, u, v = _trace(one_layer(np.full((1, 13), 255), weight_exp=7), pulses(3, 13, {0: 1}))
    np.testing.assert_array_equal(u[:, 0], [0, 10379264, 0])
    np.testing.assert_array_equal(spikes[:, 0], [0, 1, 0])
    np.testing.assert_array_equal(v[:, 0], [0, 0, 0])


def test_v_saturates_at_minus_2_pow_23_plus_1():
    """No input, bias_mant = -4096 << 7 = -524288 per step, dv = 0: v_k = -524288 (k + 1) until the clip.

    v_14 = -7864320; v_15 would be -8388608 and clips to -(2**23 - 1) = -8388607, where it stays. (A positive
    clip is always followed by a spike, since vth << 6 <= 8388544 < 2**23 - 1, so it is never recorded.)
    """
    graph = one_layer([[0]], dv=0, bias_mant=[-4096], bias_exp=7)
    _, u, v = _trace(graph, np.zeros((1, 18, 1), dtype=np.int64))
    np.testing.assert_array_equal(v[13:, 0], [-7340032, -7864320, -8388607, -8388607, -8388607])
    assert not u.any()


def test_negative_bias_exp_floors():
    """bias = bias_mant >> 3 for bias_exp = -3: [-5, 5, -8, 4095] -> [-1, 0, -1, 511] (floor, not truncation).

    dv = 4096 makes v memoryless, so v = bias at every step.
    """
    graph = one_layer(np.zeros((4, 1)), bias_mant=[-5, 5, -8, 4095], bias_exp=-3)
    _, _, v = _trace(graph, np.zeros((1, 3, 1), dtype=np.int64))
    np.testing.assert_array_equal(v, [[-1, 0, -1, 511]] * 3)


def test_decays_truncate_toward_zero():
    """u: W = -1 once, du = 4094 keeps 4096 - 4095 = 1/4096 of u: u_1 = -64, u_2 = trunc(-64 / 4096) = 0 (floor: -1).

    v: dv = 4095 keeps 1/4096 of v: v_1 = u_1 = -64 (v_0 = 0), v_2 = trunc(-64 / 4096) + u_2 = 0.
    """
    _, u, v = _trace(one_layer([[-1]], du=4094, dv=4095), pulses(3, 1, {0: 1}))
    np.testing.assert_array_equal(u[:, 0], [0, -64, 0])
    np.testing.assert_array_equal(v[:, 0], [0, -64, 0])


def test_graded_payloads_multiply_the_weights():
    """Graded input (8-bit payloads), W = [3, 2]: payloads [5, 7] at step 0 give a_1 = 15 + 14 = 29, u_1 = 1856."""
    graph = one_layer([[3, 2]], num_message_bits=8)
    _, u, _ = _trace(graph, pulses(3, 2, {0: [5, 7]}))
    np.testing.assert_array_equal(u[:, 0], [0, 1856, 0])


def test_binary_synapse_counts_any_payload_as_one():
    """A binary synapse (num_message_bits = 0) fed graded payloads counts any non-zero payload as one spike."""
    from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput

    graph = DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=2, num_message_bits=8),
            "syn": DenseInt(name="syn", weights=[[3, 2]]),
            "pop": LIFInt(name="pop", size=1, du=4095, dv=4096, vth=2**17 - 1),
        },
        edges=[("in", "syn"), ("syn", "pop")],
        output="pop",
    )
    _, u, _ = _trace(graph, pulses(2, 2, {0: [5, -7]}))
    np.testing.assert_array_equal(u[:, 0], [0, 64 * 5])


@pytest.mark.parametrize("stepwise", [False, True], ids=["layerwise", "stepwise"])
def test_delays_0_and_63(stepwise):
    """DelayDense with delays [0, 63], both inputs firing at step 0: arrivals at steps 1 and 1 + 63 = 64."""
    graph = one_layer([[1, 1]], delays=[[0, 63]])
    record = run_reference(graph, pulses(66, 2, {0: 1}), stepwise=stepwise)
    u = record.populations["pop"].u[0, :, 0]
    np.testing.assert_array_equal(np.flatnonzero(u), [1, 64])
    assert u[1] == u[64] == 64


def test_lif_reset_zeroes_u_and_v_on_its_phase():
    """LIFReset(interval 4, offset 1), du = -1 (u integrates), an input every step.

    Lava's step is t = k + 1; states are zeroed before the update when t % 4 == 1, i.e. k = 0, 4, 8. Within a
    period u grows by 64 per step from the reset: k = 0: 0 (a_0 = 0), then 64, 128, 192; k = 4: 0 + 64, ...
    """
    graph = one_layer([[1]], kind="reset", du=-1, reset_interval=4, reset_offset=1)
    _, u, v = _trace(graph, np.ones((1, 12, 1), dtype=np.int64))
    np.testing.assert_array_equal(u[:, 0], [0, 64, 128, 192, 64, 128, 192, 256, 64, 128, 192, 256])
    np.testing.assert_array_equal(v, u)


def test_ternary_lif_spikes_both_ways():
    """TernaryLIF, vth = 1, vth_lo = -1 (thresholds +-64), dv = 0, bias +-40 and 0, no input.

    Neuron 0: v = -40, -80 < -64: a -1 spike at k = 1, v = 0, and again every second step. Neuron 1 mirrors it
    with +1 spikes. Neuron 2 (bias 0) never spikes.
    """
    graph = one_layer(np.zeros((3, 1)), kind="ternary", dv=0, vth=1, vth_lo=-1, bias_mant=[-40, 40, 0])
    spikes, _, v = _trace(graph, np.zeros((1, 6, 1), dtype=np.int64))
    np.testing.assert_array_equal(spikes[:, 0], [0, -1, 0, -1, 0, -1])
    np.testing.assert_array_equal(spikes[:, 1], [0, 1, 0, 1, 0, 1])
    assert not spikes[:, 2].any()
    np.testing.assert_array_equal(v[:, 0], [-40, 0, -40, 0, -40, 0])


def test_inputs_are_validated():
    """Wrong shapes, fractional or non-finite values, non-binary spikes and a reset interval not dividing the steps
    are refused."""
    graph = one_layer([[1, 1]])
    with pytest.raises(IRValidationError, match="shape"):
        run_reference(graph, np.zeros((1, 4, 3)))
    with pytest.raises(IRValidationError, match="fractional"):
        run_reference(graph, np.full((1, 4, 2), 0.5))
    for bad in (np.inf, np.nan):
        with pytest.raises(IRValidationError, match="NaN or infinite"):
            run_reference(one_layer([[1, 1]], num_message_bits=24), np.full((1, 4, 2), bad))
    with pytest.raises(IRValidationError, match="binary"):
        run_reference(graph, np.full((1, 4, 2), 2))
    reset = one_layer([[1]], kind="reset", reset_interval=3)
    with pytest.raises(IRValidationError, match="reset_interval 3 must divide"):
        run_reference(reset, np.zeros((1, 4, 1)))


@SETTINGS
@given(case=graph_cases(topology="chain", extra_synapse=False) | graph_cases(topology="fanin", extra_synapse=False))
def test_layerwise_equals_stepwise_on_feed_forward_graphs(case):
    """Both execution orders of the reference give identical records on any feed-forward graph."""
    layerwise = run_reference(case.graph, case.inputs, stepwise=False)
    stepwise = run_reference(case.graph, case.inputs, stepwise=True)
    comparison = compare_runs(layerwise, stepwise)
    assert comparison.bit_exact, f"{case!r}\n{comparison.summary()}"


@SETTINGS
@given(case=graph_cases())
def test_states_stay_in_their_bit_ranges(case):
    """v stays within +-(2**23 - 1); u within int32 (the single correction may leave 24 bits, never 32); spikes
    are 0/1, or -1/0/1 for TernaryLIF."""
    record = run_reference(case.graph, case.inputs)
    for pop in case.graph.populations:
        trace = record.populations[pop.name]
        assert np.abs(trace.v).max() <= 2**23 - 1, pop.name
        assert trace.u.min() >= -(2**31) and trace.u.max() < 2**31, pop.name
        allowed = (-1, 0, 1) if pop.kind == "ternary_lif_int" else (0, 1)
        assert np.isin(trace.spikes, allowed).all(), pop.name


@SETTINGS
@given(case=graph_cases(bias_mode="zero"))
def test_without_bias_or_current_v_never_grows(case):
    """With zero bias, in every step where a neuron's current u is 0, |v| does not grow (decay truncates toward
    zero, and a spike or reset only sets v to 0). With no input at all, every state stays 0."""
    record = run_reference(case.graph, case.inputs)
    for pop in case.graph.populations:
        trace = record.populations[pop.name]
        v_prev = np.concatenate([np.zeros_like(trace.v[:, :1]), trace.v[:, :-1]], axis=1)
        idle = trace.u == 0
        assert (np.abs(trace.v[idle]) <= np.abs(v_prev[idle])).all(), pop.name
    silent = run_reference(case.graph, np.zeros_like(case.inputs))
    for trace in silent.populations.values():
        assert not trace.u.any() and not trace.v.any() and not trace.spikes.any()
