"""Operation counts from simulated activity, checked against hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from spikeport.errors import IRValidationError
from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput, TernaryLIFInt
from spikeport.simulators.record import PopulationTrace, RunRecord
from spikeport.simulators.reference import run_reference
from spikeport.targets.opcount import SynopConvention, count_ops


def _trace(spikes: list) -> PopulationTrace:
    s = np.array(spikes, dtype=np.int8)
    return PopulationTrace(spikes=s, u=np.zeros(s.shape, np.int64), v=np.zeros(s.shape, np.int64))


def _tiny_graph() -> DeployGraph:
    return DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=3),
            "d": DenseInt(name="d", weights=np.array([[1, 0, 2], [0, 0, 3]])),
            "p": LIFInt(name="p", size=2, du=4095, dv=0, vth=10),
        },
        edges=[("in", "d"), ("d", "p")],
        output="p",
    )


TINY_INPUTS = np.array(
    [
        [[1, 0, 1], [0, 1, 0], [0, 0, 0]],  # sample 0, steps 0..2
        [[1, 1, 1], [0, 0, 0], [1, 0, 0]],  # sample 1
    ],
    dtype=np.int8,
)
TINY_SPIKES = [
    [[0, 0], [1, 0], [0, 1]],
    [[0, 0], [1, 1], [0, 0]],
]


def test_tiny_graph_counts_match_hand_computation() -> None:
    """2 samples x 3 steps, input of 3 neurons, W = [[1, 0, 2], [0, 0, 3]] (n_out=2, n_in=3), population of 2.

    Input events per input neuron (over both samples): n0 at (s0,t0), (s1,t0), (s1,t2) = 3;
    n1 at (s0,t1), (s1,t0) = 2; n2 at (s0,t0), (s1,t0) = 2; total 7.
    - synops (spikes x fan-out) = 7 x out_size 2 = 14.
    - effective: non-zero weights per column = [1, 0, 2] (W is excitatory, 8 bits: Lava stores it unchanged),
      so 3*1 + 2*0 + 2*2 = 7.
    - dense = in 3 x out 2 x 3 steps x 2 samples = 36.
    Population spikes: s0 at t1 (n0), t2 (n1); s1 at t1 (n0, n1): 4 spikes.
    - neuron updates = 2 neurons x 3 steps x 2 samples = 12; active = 4; inactive = 8.
    Per sample (/2): input 3.5, synops 7, effective 3.5, dense 18, updates 6, active 2, inactive 4.
    """
    record = RunRecord(backend="reference", populations={"p": _trace(TINY_SPIKES)})
    counts = count_ops(_tiny_graph(), TINY_INPUTS, record)
    assert (counts.samples, counts.steps, counts.input_name) == (2, 3, "in")
    assert counts.totals() == {
        "input_spikes": 7,
        "spike_packets": 7,
        "synops": 14,
        "synops_effective": 7,
        "synops_dense": 36,
        "spikes": 4,
        "neuron_updates": 12,
        "active_updates": 4,
        "inactive_updates": 8,
    }
    assert counts.per_sample() == {
        "input_spikes": 3.5,
        "spike_packets": 3.5,
        "synops": 7.0,
        "synops_effective": 3.5,
        "synops_dense": 18.0,
        "spikes": 2.0,
        "neuron_updates": 6.0,
        "active_updates": 2.0,
        "inactive_updates": 4.0,
    }
    (syn,) = counts.synapses
    assert (syn.name, syn.source, syn.target, syn.fan_out) == ("d", "in", "p", 2)
    assert syn.totals() == {"source_events": 7, "synops": 14, "synops_effective": 7, "synops_dense": 36}
    (pop,) = counts.populations
    assert pop.per_sample() == {"spikes": 2.0, "neuron_updates": 6.0, "active_updates": 2.0, "inactive_updates": 4.0}
    assert all(type(v) is int for v in counts.totals().values())
    assert counts.synops_for(SynopConvention.EFFECTIVE) == 7


def test_two_layers_ternary_and_truncated_weights() -> None:
    """1 sample x 2 steps: in(2) -d1-> h(2, ternary) -d2-> o(1).

    d1 = [[1, -2], [0, 4]] is mixed-sign, so Lava drops the lowest bit: stored [[0, -2], [0, 4]]; non-zero
    per column = [0, 2]. Input events: n0 at t0 and t1, n1 at t1 -> 3 events; synops = 3 x 2 = 6;
    effective = 2*0 + 1*2 = 2. h spikes +1 (n0, t0) and -1 (n1, t1): 2 events; d2 = [[5, 7]] (excitatory,
    kept): non-zero per column [1, 1]; synops = 2 x 1 = 2, effective = 2. o spikes once (t1).
    Totals: synops 8, effective 4, dense (2*2 + 2*1) x 2 steps = 12, packets 3 + 2 = 5, spikes 3,
    updates (2 + 1) x 2 = 6, active 3, inactive 3.
    """
    graph = DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=2),
            "d1": DenseInt(name="d1", weights=np.array([[1, -2], [0, 4]])),
            "h": TernaryLIFInt(name="h", size=2, du=4095, dv=0, vth=10, vth_lo=-10),
            "d2": DenseInt(name="d2", weights=np.array([[5, 7]])),
            "o": LIFInt(name="o", size=1, du=4095, dv=0, vth=10),
        },
        edges=[("in", "d1"), ("d1", "h"), ("h", "d2"), ("d2", "o")],
        output="o",
    )
    inputs = np.array([[[1, 0], [1, 1]]])
    populations = {"h": _trace([[[1, 0], [0, -1]]]), "o": _trace([[[0], [1]]])}
    record = RunRecord(backend="hand", populations=populations)
    counts = count_ops(graph, inputs, record)
    assert counts.totals() == {
        "input_spikes": 3,
        "spike_packets": 5,
        "synops": 8,
        "synops_effective": 4,
        "synops_dense": 12,
        "spikes": 3,
        "neuron_updates": 6,
        "active_updates": 3,
        "inactive_updates": 3,
    }
    assert [s.synops_effective for s in counts.synapses] == [2, 2]


@pytest.mark.parametrize("seed", [0, 1], ids=lambda s: f"seed{s}")
def test_counts_agree_with_a_reference_run(seed: int) -> None:
    rng = np.random.default_rng(seed)
    graph = DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=20),
            "d1": DenseInt(name="d1", weights=rng.integers(-60, 60, (15, 20))),
            "h": LIFInt(name="h", size=15, du=3000, dv=200, vth=40),
            "d2": DenseInt(name="d2", weights=rng.integers(0, 60, (4, 15))),
            "o": LIFInt(name="o", size=4, du=3000, dv=200, vth=40),
        },
        edges=[("in", "d1"), ("d1", "h"), ("h", "d2"), ("d2", "o")],
        output="o",
    )
    inputs = (rng.random((3, 40, 20)) < 0.2).astype(np.int8)
    record = run_reference(graph, inputs)
    counts = count_ops(graph, inputs, record)
    h_spikes = int(record.spike_counts("h").sum())
    assert counts.synops == int(inputs.sum()) * 15 + h_spikes * 4
    assert counts.spikes == h_spikes + int(record.spike_counts("o").sum())
    assert counts.active_updates + counts.inactive_updates == counts.neuron_updates == (15 + 4) * 40 * 3
    assert counts.synops_effective <= counts.synops <= counts.synops_dense


def test_missing_population_and_bad_shapes_are_refused() -> None:
    graph = _tiny_graph()
    with pytest.raises(IRValidationError, match=r"population 'p' is not in the 'x' record"):
        count_ops(graph, TINY_INPUTS, RunRecord(backend="x", populations={"q": _trace(TINY_SPIKES)}))
    record = RunRecord(backend="reference", populations={"p": _trace(TINY_SPIKES)})
    with pytest.raises(IRValidationError, match=r"input 'in'.*\(2, 3, 3\)"):
        count_ops(graph, TINY_INPUTS[:, :, :2], record)
    with pytest.raises(IRValidationError, match=r"population 'p'.*\(2, 2, 2\)"):
        count_ops(graph, TINY_INPUTS[:, :2], record)


def test_to_dict_is_json_ready() -> None:
    import json

    record = RunRecord(backend="reference", populations={"p": _trace(TINY_SPIKES)})
    data = count_ops(_tiny_graph(), TINY_INPUTS, record).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["synapses"]["d"]["per_sample"]["synops"] == 7.0
