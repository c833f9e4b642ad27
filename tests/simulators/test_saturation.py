"""Saturation and wrap-around counts of the reference simulator (`RunRecord.saturation`) and its strict mode.

Each count is derived by hand in its test's docstring from the per-step semantics restated in test_reference.py:

    u = wrap_once24(int32(trunc(u * (4096 - (du + 1)) / 4096)) + int32(a << 6))
    v = clip(int32(trunc(v * (4096 - dv) / 4096) + u + bias), +-(2**23 - 1));  spike if v > vth << 6, then v = 0

A count is one value (sample, step, neuron) that a bound changed; weights are counted once per run.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from helpers.graphs import one_layer, pulses
from helpers.random_graphs import graph_cases
from spikeport.errors import CorruptFileError, SaturationError, SpikeportWarning
from spikeport.ir import load_deploy_graph, save_deploy_graph
from spikeport.simulators import compare_runs, load_record, run_reference, save_record
from spikeport.simulators.saturation import describe, total

ORDERS = pytest.mark.parametrize("stepwise", [False, True], ids=["layerwise", "stepwise"])


def _counts(record) -> dict[str, dict[str, int]]:
    return {name: dict(variables) for name, variables in record.saturation.items()}


def _v_saturating_graph():
    """Three neurons, no input, dv = 0 (v integrates), bias_exp = 7, vth at its maximum (theta = 8388544)."""
    return one_layer(np.zeros((3, 1)), dv=0, bias_mant=[-4096, -2048, 4095], bias_exp=7)


def _u_wrapping_graph():
    """W = [255, 0]^T, weight_exp = 7, du = -1 (u integrates exactly), dv = 4096 (v = u)."""
    return one_layer([[255], [0]], weight_exp=7, du=-1)


def _channel_wrapping_graph():
    """1100 inputs of weight 255 and weight_exp 7, all firing once: a << 6 leaves int32."""
    return one_layer(np.full((1, 1100), 255), weight_exp=7)


def _graded_wrapping_graph():
    """Graded (24-bit) payloads 2**23 - 1 on two weights 255: the int32 dot product of Lava's Dense wraps."""
    return one_layer([[255, 255]], num_message_bits=24)


@ORDERS
def test_v_saturation_count_is_exact(stepwise):
    """bias = bias_mant << 7 = [-524288, -262144, 524160]; v_k = bias * (k + 1) until the clip at +-8388607.

    Neuron 0: -524288 * 16 = -8388608 at k = 15 clips, and every later step clips again (-8388607 - 524288):
    40 - 15 = 25 clips. Neuron 1: -262144 * 32 = -8388608 at k = 31: 40 - 31 = 9 clips. Neuron 2: 524160 * 17 =
    8910720 at k = 16 clips to 8388607 > theta, so it spikes and v resets (the clip is never recorded); 17 steps
    later, at k = 33, again: 2 clips. Per sample 25 + 9 + 2 = 36; three samples: 108. u and the channels stay put.
    """
    record = run_reference(_v_saturating_graph(), np.zeros((3, 40, 1), dtype=np.int64), stepwise=stepwise)
    assert _counts(record) == {
        "syn": {"weights_clipped": 0, "channel_wrapped": 0},
        "pop": {"v_saturated": 108, "u_wrapped": 0, "channel_wrapped": 0},
    }
    np.testing.assert_array_equal(np.flatnonzero(record.populations["pop"].spikes[0, :, 2]), [16, 33])


@ORDERS
def test_u_wrap_count_is_exact(stepwise):
    """a = 255 << 7 = 32640 every step from k = 1, a << 6 = 2088960 = 2**13 * 255, so before any correction
    u_k = 2088960 k. The single 24-bit correction fires when the running value passes an odd multiple of 2**23
    (never hit exactly: 255 k would have to be a multiple of 1024): 2088960 k > 2**23 first at k = 5,
    > 3 * 2**23 at k = 13, > 5 * 2**23 at k = 21 (beyond 20 steps). Two wraps per sample, two samples: 4.
    The second neuron (weight 0) never wraps; v = u stays within 24 bits.
    """
    record = run_reference(_u_wrapping_graph(), np.ones((2, 20, 1), dtype=np.int64), stepwise=stepwise)
    assert _counts(record)["pop"] == {"v_saturated": 0, "u_wrapped": 4, "channel_wrapped": 0}
    u = record.populations["pop"].u[0, :, 0]
    assert u[5] == 2088960 * 5 - 2**24 and u[13] == 2088960 * 13 - 2 * 2**24


@ORDERS
def test_int32_wrap_of_the_input_shift_is_counted(stepwise):
    """a_1 = 1100 * 32640 = 35904000 and a << 6 = 2297856000 > 2**31 - 1: it wraps to 2297856000 - 2**32 =
    -1997111296 (one channel wrap). u's single correction adds 2**24: -1980334080 (one u wrap, still beyond 24
    bits), and v = u clips to -8388607 (one v saturation). du = 4095 and dv = 4096 forget it at k = 2.
    """
    record = run_reference(_channel_wrapping_graph(), pulses(3, 1100, {0: 1}), stepwise=stepwise)
    assert _counts(record)["pop"] == {"v_saturated": 1, "u_wrapped": 1, "channel_wrapped": 1}
    assert record.populations["pop"].u[0, 1, 0] == -1997111296 + 2**24


@ORDERS
def test_int32_wrap_of_a_graded_dot_product_is_counted_on_the_connection(stepwise):
    """2 * 255 * (2**23 - 1) = 4278189570 wraps to -16777726 in the int32 dot product (the connection's wrap);
    << 6 gives -1073774464, inside int32; u + 2**24 = -1056997248 (a u wrap) and v clips (a v saturation)."""
    record = run_reference(_graded_wrapping_graph(), pulses(3, 2, {0: [2**23 - 1] * 2}), stepwise=stepwise)
    assert _counts(record) == {
        "syn": {"weights_clipped": 0, "channel_wrapped": 1},
        "pop": {"v_saturated": 1, "u_wrapped": 1, "channel_wrapped": 0},
    }
    assert record.populations["pop"].u[0, 1, 0] == -16777726 * 64 + 2**24


@pytest.mark.parametrize(
    ("weights", "clipped"),
    [([[300, -300, 5]], 2), ([[300, 7, 255]], 1), ([[-300, -7, -256]], 2)],
    ids=["mixed", "excitatory", "inhibitory"],
)
def test_weights_beyond_the_clip_range_warn_and_count(weights, clipped, tmp_path):
    """Clip ranges: mixed [-256, 255], excitatory [0, 255], inhibitory [-255, 0] (so -256 is clipped there)."""
    graph = one_layer(weights)
    with pytest.warns(SpikeportWarning, match=rf"the reference run: connection 'syn' has {clipped} of 3 weights"):
        record = run_reference(graph, pulses(2, 3, {0: 1}))
    assert _counts(record)["syn"] == {"weights_clipped": clipped, "channel_wrapped": 0}
    path = save_deploy_graph(graph, tmp_path / "g.deploy.npz")
    with pytest.warns(SpikeportWarning, match=rf"g.deploy.npz'.*connection 'syn' has {clipped} of 3 weights"):
        load_deploy_graph(path)


def test_strict_raises_naming_the_population_variable_and_count():
    graph = _v_saturating_graph()
    with pytest.raises(SaturationError, match=r"'pop' v_saturated 108 \(membrane voltages"):
        run_reference(graph, np.zeros((3, 40, 1), dtype=np.int64), strict=True)
    with pytest.raises(SaturationError, match=r"'pop' u_wrapped 4"):
        run_reference(_u_wrapping_graph(), np.ones((2, 20, 1), dtype=np.int64), strict=True)


def test_strict_refuses_clipped_weights_before_running():
    with warnings.catch_warnings(), pytest.raises(SaturationError, match=r"before it starts: 'syn' weights_clipped 2"):
        warnings.simplefilter("error")  # the refusal comes first, without a warning
        run_reference(one_layer([[300, -300, 5]]), pulses(2, 3, {0: 1}), strict=True)


def test_a_run_without_saturation_counts_zero_everywhere_and_passes_strict():
    graph = one_layer([[3, -3, 255]], du=4095, dv=0, vth=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        record = run_reference(graph, np.ones((2, 30, 3), dtype=np.int64), strict=True)
    assert _counts(record) == {
        "syn": {"weights_clipped": 0, "channel_wrapped": 0},
        "pop": {"v_saturated": 0, "u_wrapped": 0, "channel_wrapped": 0},
    }
    assert total(record.saturation) == 0 and describe(record.saturation) == "none"
    assert record.populations["pop"].spikes.any()  # it ran and spiked, without saturating


def test_counts_survive_save_and_load(tmp_path):
    record = run_reference(_v_saturating_graph(), np.zeros((1, 40, 1), dtype=np.int64))
    save_record(record, tmp_path / "r.npz")
    loaded = load_record(tmp_path / "r.npz")
    assert _counts(loaded) == _counts(record) and _counts(loaded)["pop"]["v_saturated"] == 36


def test_records_written_without_counts_load_with_none(tmp_path):
    record = run_reference(_v_saturating_graph(), np.zeros((1, 4, 1), dtype=np.int64))
    arrays = {f"pop/{var}": record.populations["pop"].var(var) for var in ("spikes", "u", "v")}
    np.savez(tmp_path / "old.npz", __backend__=np.array("reference"), __order__=np.array(["pop"]), **arrays)
    assert dict(load_record(tmp_path / "old.npz").saturation) == {}
    np.savez(
        tmp_path / "bad.npz", __backend__=np.array("reference"), __order__=np.array(["pop"]),
        __saturation__=np.array('{"pop": {"v_saturated": -1}}'), **arrays,
    )  # fmt: skip
    with pytest.raises(CorruptFileError, match=r"bad.npz'.*saturation counts are damaged.*non-negative"):
        load_record(tmp_path / "bad.npz")


def test_comparison_summary_has_one_saturation_line():
    """The counting run is named; bit-exact runs share its counts, others do not; no counts say so."""
    x = np.zeros((1, 40, 1), dtype=np.int64)
    layerwise = run_reference(_v_saturating_graph(), x, stepwise=False)
    stepwise = run_reference(_v_saturating_graph(), x, stepwise=True)
    lines = compare_runs(layerwise, stepwise).summary().splitlines()
    assert [line.strip() for line in lines if "saturation" in line] == [
        "saturation (counted by reference; reference is bit-exact with it, so they hold for both): pop v_saturated 36"
    ]
    uncounted = type(layerwise)(backend="lava", populations=stepwise.populations)
    assert "saturation (counted by reference; lava is bit-exact" in compare_runs(uncounted, layerwise).summary()
    other = run_reference(one_layer(np.zeros((3, 1)), dv=0, bias_mant=[-4096, -2048, 4000], bias_exp=7), x)
    other = type(other)(backend="lava", populations=other.populations)
    assert "counted by reference only; lava differs" in compare_runs(layerwise, other).summary()
    assert "saturation: not counted" in compare_runs(uncounted, uncounted).summary()


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(case=graph_cases(topology="chain", extra_synapse=False) | graph_cases(topology="fanin", extra_synapse=False))
def test_both_execution_orders_count_the_same(case):
    """Layerwise and stepwise runs of a feed-forward graph count the same overflows at the same nodes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpikeportWarning)
        layerwise = run_reference(case.graph, case.inputs, stepwise=False)
        stepwise = run_reference(case.graph, case.inputs, stepwise=True)
    assert _counts(layerwise) == _counts(stepwise), repr(case)


LAVA_CASES = {
    "v_saturation": (_v_saturating_graph, lambda: np.zeros((2, 40, 1), dtype=np.int64)),
    "u_wrap": (_u_wrapping_graph, lambda: np.ones((2, 20, 1), dtype=np.int64)),
    "channel_wrap": (_channel_wrapping_graph, lambda: pulses(3, 1100, {0: 1})),
    "graded_wrap": (_graded_wrapping_graph, lambda: pulses(3, 2, {0: [2**23 - 1] * 2})),
    "clipped_weights": (lambda: one_layer([[300, -300, 5]], du=-1, dv=0, vth=5), lambda: np.ones((2, 12, 3))),
}


@pytest.mark.lava
@pytest.mark.parametrize("name", list(LAVA_CASES))
def test_reference_stays_bit_exact_with_lava_where_it_saturates(name):
    """On every graph above, the counts are not zero and Lava agrees bit for bit, so they describe its run too."""
    from spikeport.simulators.lava import run_lava

    make_graph, make_inputs = LAVA_CASES[name]
    graph, inputs = make_graph(), make_inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpikeportWarning)
        reference = run_reference(graph, inputs)
    assert total(reference.saturation) > 0
    comparison = compare_runs(reference, run_lava(graph, inputs))
    assert comparison.bit_exact, comparison.summary()
    assert "so they hold for both" in comparison.saturation_line()
