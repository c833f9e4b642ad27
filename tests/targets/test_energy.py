"""The energy model: every figure is counts x the chip file's constants, sourced, and serialisable."""

from __future__ import annotations

import json
from dataclasses import fields

import numpy as np
import pytest

from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
from spikeport.simulators.record import PopulationTrace, RunRecord
from spikeport.targets.chip import load_baseline, load_chip
from spikeport.targets.energy import EnergyModelError, EnergyReport, estimate_energy
from spikeport.targets.opcount import OpCounts, PopulationOps, SynapseOps, SynopConvention, count_ops

STEPS, DT_S = 3, 1e-3


@pytest.fixture
def counts() -> OpCounts:
    """The hand-checked tiny case of test_opcount: per sample 7 synops, 3.5 packets, 2 active, 4 inactive."""
    graph = DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=3),
            "d": DenseInt(name="d", weights=np.array([[1, 0, 2], [0, 0, 3]])),
            "p": LIFInt(name="p", size=2, du=4095, dv=0, vth=10),
        },
        edges=[("in", "d"), ("d", "p")],
        output="p",
    )
    inputs = np.array([[[1, 0, 1], [0, 1, 0], [0, 0, 0]], [[1, 1, 1], [0, 0, 0], [1, 0, 0]]])
    spikes = np.array([[[0, 0], [1, 0], [0, 1]], [[0, 0], [1, 1], [0, 0]]], dtype=np.int8)
    zeros = np.zeros(spikes.shape, np.int64)
    record = RunRecord(backend="hand", populations={"p": PopulationTrace(spikes=spikes, u=zeros, v=zeros)})
    return count_ops(graph, inputs, record)


def test_dynamic_energy_is_counts_times_chip_constants(counts: OpCounts) -> None:
    chip = load_chip("loihi")
    energy = chip.energy
    assert energy is not None
    report = estimate_energy(counts, chip, steps_per_sample=STEPS, dt_s=DT_S)
    per = counts.per_sample()
    expected = [
        per["synops"] * energy.synop.value,
        per["active_updates"] * energy.neuron_update_active.value,
        per["inactive_updates"] * energy.neuron_update_inactive.value,
        per["spike_packets"] * energy.spike_within_tile.value,
    ]
    assert [t.energy_pj for t in report.dynamic_terms] == pytest.approx(expected)
    assert [t.coefficient for t in report.dynamic_terms] == [
        energy.synop,
        energy.neuron_update_active,
        energy.neuron_update_inactive,
        energy.spike_within_tile,
    ]
    assert report.dynamic_pj == pytest.approx(sum(expected))
    assert report.synops == per["synops"] and report.neuron_updates == per["neuron_updates"]
    assert not report.per_op_proxy


def test_latency_and_static_energy_follow_the_chip_figures(counts: OpCounts) -> None:
    chip = load_chip("loihi")
    assert chip.timing is not None and chip.power is not None
    report = estimate_energy(counts, chip, steps_per_sample=STEPS, dt_s=DT_S)
    synops_per_step = counts.per_step()["synops"]
    step_s = max(chip.timing.barrier_min.value, synops_per_step * chip.timing.synop_time.value) * 1e-9
    assert report.latency.step_s == pytest.approx(step_s)
    assert report.latency.inference_s == pytest.approx(STEPS * step_s)
    power = chip.power.static_per_chip.value
    points = {p.name: p for p in report.operating_points}
    assert points["fastest"].static_pj == pytest.approx(power * STEPS * step_s * 1e12)
    assert points["real_time"].static_pj == pytest.approx(power * STEPS * DT_S * 1e12)
    assert points["real_time"].feasible
    # one population of 2 neurons: one core of 128 is the lower-bound estimate
    assert report.cores_used == 1
    gated = points["real_time_power_gated"]
    assert gated.estimate and gated.static_power.basis == "derived"
    assert gated.static_pj == pytest.approx(power / chip.limits.cores_per_chip.value * STEPS * DT_S * 1e12)
    for p in report.operating_points:
        assert p.total_pj == pytest.approx(p.static_pj + report.dynamic_pj)


def test_effective_convention_and_scaling_to_longer_inferences(counts: OpCounts) -> None:
    chip = load_chip("loihi")
    base = estimate_energy(counts, chip, steps_per_sample=STEPS, dt_s=DT_S)
    eff = estimate_energy(counts, chip, steps_per_sample=STEPS, dt_s=DT_S, synop_convention=SynopConvention.EFFECTIVE)
    assert eff.dynamic_terms[0].count == counts.per_sample()["synops_effective"]
    longer = estimate_energy(counts, chip, steps_per_sample=2 * STEPS, dt_s=DT_S)
    assert longer.dynamic_pj == pytest.approx(2 * base.dynamic_pj)
    assert any("scaled" in n for n in longer.notes)


def test_loihi2_refuses_without_proxy_and_labels_the_proxy(counts: OpCounts) -> None:
    loihi, loihi2 = load_chip("loihi"), load_chip("loihi2")
    with pytest.raises(EnergyModelError, match=r"proxy=load_chip\('loihi'\)"):
        estimate_energy(counts, loihi2, steps_per_sample=STEPS, dt_s=DT_S)
    report = estimate_energy(counts, loihi2, steps_per_sample=STEPS, dt_s=DT_S, proxy=loihi)
    assert report.per_op_proxy and report.per_op_chip == "loihi" and report.chip == "loihi2"
    reference = estimate_energy(counts, loihi, steps_per_sample=STEPS, dt_s=DT_S)
    assert report.dynamic_pj == pytest.approx(reference.dynamic_pj)
    for term in report.dynamic_terms:
        assert term.coefficient.basis == "proxy" and "proxy" in term.coefficient.note
    assert report.latency.barrier.basis == "proxy"
    assert loihi2.power is not None
    assert report.operating_points[0].static_power == loihi2.power.static_per_chip
    assert report.notes[0].startswith("PROXY")
    assert any("PROXY" in line for line in report.summary_lines())
    with pytest.raises(EnergyModelError, match="has its own per-op figures"):
        estimate_energy(counts, loihi, steps_per_sample=STEPS, dt_s=DT_S, proxy=loihi)


def test_report_json_round_trips_with_sources(counts: OpCounts) -> None:
    report = estimate_energy(counts, load_chip("loihi"), steps_per_sample=STEPS, dt_s=DT_S, baseline=load_baseline())
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert list(data) == [f.name for f in fields(EnergyReport)]
    for term in data["dynamic_terms"] + data["baseline_terms"]:
        assert term["coefficient"]["source"]
    for point in data["operating_points"]:
        assert point["static_power"]["source"]
    assert data["latency"]["barrier"]["source"]
    lines = report.summary_lines()
    assert lines and all(isinstance(line, str) for line in lines)
    assert any("Davies" in line for line in lines)


def test_baseline_context_uses_dense_macs_and_effective_acs(counts: OpCounts) -> None:
    base = load_baseline()
    report = estimate_energy(counts, load_chip("loihi"), steps_per_sample=STEPS, dt_s=DT_S, baseline=base)
    mac, ac = report.baseline_terms
    per = counts.per_sample()
    assert mac.energy_pj == pytest.approx(per["synops_dense"] * base.mac.value)
    assert ac.energy_pj == pytest.approx(per["synops_effective"] * base.ac.value)


def test_worked_example_order_of_magnitude() -> None:
    """The worked example of energy-constants.md.

    276 effective ACs and 52 neuron updates per 4 ms step cost about 9-12 nJ per step on Loihi per-op figures,
    2-3 uW dynamic at 250 steps/s, against ~104 mW static (4-5 orders of magnitude).
    """
    samples, steps = 1, 250
    syn = SynapseOps(
        name="d",
        source="in",
        target="p",
        fan_out=52,
        samples=samples,
        source_events=0,
        synops=0,
        synops_effective=276 * steps,
        synops_dense=0,
    )
    pop = PopulationOps(
        name="p",
        size=52,
        samples=samples,
        spikes=3 * steps,
        neuron_updates=52 * steps,
        active_updates=3 * steps,
        inactive_updates=49 * steps,
    )
    counts = OpCounts(
        samples=samples, steps=steps, input_name="in", input_spikes=0, synapses=(syn,), populations=(pop,)
    )
    report = estimate_energy(
        counts, load_chip("loihi"), steps_per_sample=steps, dt_s=4e-3, synop_convention=SynopConvention.EFFECTIVE
    )
    per_step_nj = report.dynamic_pj / steps / 1e3
    assert 9 <= per_step_nj <= 12
    real_time = next(p for p in report.operating_points if p.name == "real_time")
    dynamic_w = report.dynamic_pj * 1e-12 / real_time.inference_s
    assert 2e-6 <= dynamic_w <= 3e-6
    assert 1e4 <= real_time.static_power.value / dynamic_w <= 1e5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps_per_sample": 0}, "steps_per_sample"),
        ({"dt_s": 0.0}, "dt_s"),
        ({"synop_convention": SynopConvention.DENSE}, "DENSE"),
        ({"tiles_used": 33}, "tiles_used"),
        ({"cores_used": 0}, "cores_used"),
    ],
    ids=["steps", "dt", "dense", "tiles", "cores"],
)
def test_bad_arguments_are_refused(counts: OpCounts, kwargs: dict, match: str) -> None:
    args = {"steps_per_sample": STEPS, "dt_s": DT_S} | kwargs
    with pytest.raises(EnergyModelError, match=match):
        estimate_energy(counts, load_chip("loihi"), **args)


def test_barrier_interpolates_between_the_published_ends(counts: OpCounts) -> None:
    chip = load_chip("loihi")
    assert chip.timing is not None
    lo, hi = chip.timing.barrier_min.value, chip.timing.barrier_max.value
    mid_tiles = (chip.timing.barrier_min_tiles.value + chip.timing.barrier_max_tiles.value) / 2
    report = estimate_energy(counts, chip, steps_per_sample=STEPS, dt_s=DT_S, tiles_used=int(mid_tiles))
    frac = (int(mid_tiles) - chip.timing.barrier_min_tiles.value) / (
        chip.timing.barrier_max_tiles.value - chip.timing.barrier_min_tiles.value
    )
    assert report.latency.barrier.value == pytest.approx(lo + frac * (hi - lo))
    assert report.latency.barrier.basis == "derived"


def test_multi_chip_static_power_and_infeasible_real_time(counts: OpCounts) -> None:
    chip = load_chip("loihi")
    assert chip.power is not None
    cores = chip.limits.cores_per_chip.as_int() + 1
    report = estimate_energy(counts, chip, steps_per_sample=STEPS, dt_s=1e-9, cores_used=cores)
    assert report.chips_used == 2
    real_time = next(p for p in report.operating_points if p.name == "real_time")
    assert real_time.static_power.value == pytest.approx(2 * chip.power.static_per_chip.value)
    assert not real_time.feasible
    assert any("not feasible" in n for n in report.notes)
