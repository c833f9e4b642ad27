"""The fast reference path: exact against the float64 path, its precision plan stated, u and v recorded on request."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings

from helpers.graphs import two_layer
from helpers.random_graphs import EDGE_CASES, graph_cases, random_case
from spikeport.errors import IRValidationError, SpikeportWarning
from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
from spikeport.simulators import accumulate, kernels
from spikeport.simulators.compare import compare_runs
from spikeport.simulators.lif_step import CHUNK_ELEMENTS
from spikeport.simulators.record import RunRecord, load_record, save_record
from spikeport.simulators.reference import run_reference


def _runs(graph: DeployGraph, inputs: np.ndarray) -> tuple[RunRecord, RunRecord]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpikeportWarning)
        return run_reference(graph, inputs), run_reference(graph, inputs, fast=False)


def _assert_same(fast: RunRecord, slow: RunRecord) -> None:
    comparison = compare_runs(fast, slow)
    assert comparison.bit_exact, comparison.summary()
    assert dict(fast.saturation) == dict(slow.saturation)
    assert dict(fast.precision) == dict(slow.precision)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graph_cases())
def test_fast_path_equals_the_float64_path(case) -> None:
    """Every spike, u, v and saturation count of random graphs (every edge case knob) is the same on both paths."""
    _assert_same(*_runs(case.graph, case.inputs))


@pytest.mark.parametrize("name", [*EDGE_CASES, "random"])
def test_fast_path_equals_the_float64_path_on_every_edge_case(name: str) -> None:
    """One random graph per edge case of the Lava sweep (tests/helpers/random_graphs.py), pinned as the sweep does."""
    overrides = dict(EDGE_CASES[name][0]) if name in EDGE_CASES else {}
    case = random_case(7, **overrides)
    _assert_same(*_runs(case.graph, case.inputs))


def _layer(n_in: int, n_out: int, weights: np.ndarray, **lif) -> DeployGraph:
    return DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=n_in, num_message_bits=lif.pop("bits", 0)),
            "d": DenseInt(name="d", weights=weights, num_message_bits=lif.pop("msg", 0)),
            "out": LIFInt(name="out", size=n_out, du=lif.pop("du", 0), dv=lif.pop("dv", 0), vth=lif.pop("vth", 100)),
        },
        edges=[("in", "d"), ("d", "out")],
        output="out",
    )


def test_saturating_run_counts_the_same_on_both_paths() -> None:
    """Inputs that saturate v and wrap u every few steps: the fast path falls back to the exact step there."""
    rng = np.random.default_rng(3)
    graph = _layer(600, 20, np.full((20, 600), 255), du=4095 - 8, dv=0, vth=131071)
    x = (rng.random((3, 40, 600)) < 0.97).astype(np.int64)
    fast, slow = _runs(graph, x)
    _assert_same(fast, slow)
    assert fast.saturation["out"]["v_saturated"] > 0 and fast.saturation["out"]["u_wrapped"] > 0


def test_precision_is_stated_per_connection() -> None:
    """Binary spikes through 8-bit weights: float32; graded payloads whose sums pass 2**24 / 2**53: float64 / int64."""
    graph = two_layer(n_in=6, n_hidden=5, n_out=3)
    record = run_reference(graph, np.ones((1, 4, 6), dtype=np.int64))
    assert dict(record.precision) == {"d1": "float32", "d2": "float32"}
    weights = np.full((2, 4), 255)
    for payload, expected in ((2**10, "float32"), (2**20, "float64"), (2**45, "int64")):
        graded = _layer(4, 2, weights, bits=24, msg=24)
        x = np.full((1, 3, 4), payload, dtype=np.int64)
        fast, slow = _runs(graded, x)
        assert fast.precision == {"d": expected}
        _assert_same(fast, slow)


def test_int64_sums_are_exact_modulo_the_channel() -> None:
    """Graded sums beyond 2**53 wrap to int32 as numpy's int64 arithmetic does (float64 would round them)."""
    weights = np.array([[255, 255, 255, 253]])
    x = np.array([[[2**45 + 1, 2**45 + 3, 2**45 + 5, 2**45 + 7]]], dtype=np.int64)
    spikes = torch.as_tensor(x[0], dtype=torch.float64)
    acc = kernels.dense_accumulate(spikes, torch.as_tensor(weights.T, dtype=torch.float64), weight_exp=0, graded=True)
    exact = (x[0].astype(np.int64) @ weights.T.astype(np.int64) + 2**31) % 2**32 - 2**31
    assert acc.numpy().astype(np.int64).tolist() == exact.tolist()


def test_accumulation_dtype_boundaries() -> None:
    assert accumulate.accumulation_dtype(2.0**24 - 1) is torch.float32
    assert accumulate.accumulation_dtype(2.0**24) is torch.float64
    assert accumulate.accumulation_dtype(2.0**53) is torch.int64


def test_lean_record_keeps_spikes_and_the_named_states() -> None:
    """states=[output]: every population's spikes and the output's u, v equal the full record's; the rest is None."""
    rng = np.random.default_rng(0)
    graph = two_layer(n_in=30, n_hidden=CHUNK_ELEMENTS // 40, n_out=4)  # hidden runs in several sample blocks
    x = (rng.random((5, 12, 30)) < 0.3).astype(np.int64)
    full = run_reference(graph, x)
    lean = run_reference(graph, x, states=[graph.output])
    for name, trace in full.populations.items():
        assert np.array_equal(lean.populations[name].spikes, trace.spikes)
    assert np.array_equal(lean.populations["o"].v, full.populations["o"].v)
    assert np.array_equal(lean.populations["o"].u, full.populations["o"].u)
    assert lean.populations["h"].u is None and not lean.populations["h"].has_states
    with pytest.raises(ValueError, match="states=True"):
        lean.populations["h"].var("v")
    assert np.array_equal(lean.predictions("o"), full.predictions("o"))
    none = run_reference(graph, x, states=False)
    assert all(t.u is None for t in none.populations.values())
    assert np.array_equal(none.populations["o"].spikes, full.populations["o"].spikes)


def test_lean_record_round_trips(tmp_path) -> None:
    graph = two_layer()
    x = np.ones((2, 5, 4), dtype=np.int64)
    lean = run_reference(graph, x, states=["o"])
    save_record(lean, tmp_path / "r.npz")
    loaded = load_record(tmp_path / "r.npz")
    assert loaded.populations["h"].u is None
    assert np.array_equal(loaded.populations["o"].v, lean.populations["o"].v)


def test_states_naming_a_missing_population_is_refused() -> None:
    with pytest.raises(IRValidationError, match="'nope'"):
        run_reference(two_layer(), np.ones((1, 2, 4), dtype=np.int64), states=["nope"])
