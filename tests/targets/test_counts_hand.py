"""Per-layer, per-step counts of a hand-built network equal hand-computed values in every convention."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pytest

from spikeport.errors import ChipSpecError
from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
from spikeport.simulators.record import PopulationTrace, RunRecord
from spikeport.targets.chip import load_chip, parse_chip
from spikeport.targets.conventions import count_layers
from spikeport.targets.mapping import map_graph
from spikeport.targets.opcount import count_ops

# in(3) -d-> p(2) -d2-> q(1). d is excitatory (stored as is); d2 = [[1, -1]] is mixed-sign, so Lava stores it as
# [[0, -2]] (the lowest bit dropped): only p's second neuron drives q in the effective count.
GRAPH = DeployGraph(
    nodes={
        "in": SpikeInput(name="in", size=3),
        "d": DenseInt(name="d", weights=np.array([[1, 0, 2], [0, 0, 3]])),
        "p": LIFInt(name="p", size=2, du=4095, dv=0, vth=10),
        "d2": DenseInt(name="d2", weights=np.array([[1, -1]])),
        "q": LIFInt(name="q", size=1, du=4095, dv=0, vth=10),
    },
    edges=[("in", "d"), ("d", "p"), ("p", "d2"), ("d2", "q")],
    output="q",
)
INPUTS = np.array([[[1, 0, 1], [0, 1, 0], [0, 0, 0]], [[1, 1, 1], [0, 0, 0], [1, 0, 0]]])  # (2 samples, 3 steps, 3)
P_SPIKES = np.array([[[0, 0], [1, 0], [0, 1]], [[0, 0], [1, 1], [0, 0]]], dtype=np.int8)


def _record() -> RunRecord:
    zeros = np.zeros((2, 3, 2), np.int64)
    pops = {
        "p": PopulationTrace(spikes=P_SPIKES, u=zeros, v=zeros),
        "q": PopulationTrace(spikes=np.zeros((2, 3, 1), np.int8), u=zeros[..., :1], v=zeros[..., :1]),
    }
    return RunRecord(backend="hand", populations=pops)


def _steps(counts, layer: str, metric: str) -> list[float]:
    return [float(x) for x in next(la for la in counts.layers if la.name == layer).per_step[metric]]


def test_first_layer_counts_per_step_in_every_convention() -> None:
    c = count_layers(GRAPH, INPUTS, _record())
    # source events per step (mean of 2 samples): t0 (2 + 3) / 2, t1 (1 + 0) / 2, t2 (0 + 1) / 2
    assert _steps(c, "d", "source_events") == [2.5, 0.5, 0.5]
    assert _steps(c, "d", "synops_fan_out") == [5.0, 1.0, 1.0]  # x out_size 2
    # non-zero weights per input column: [1, 0, 2]; t0: (1 + 2) + (1 + 0 + 2), t1: 0, t2: (0) + (1)
    assert _steps(c, "d", "effective_acs") == [3.0, 0.0, 0.5]
    assert _steps(c, "d", "effective_macs") == [0.0, 0.0, 0.0]
    assert _steps(c, "d", "dense") == [6.0, 6.0, 6.0]
    assert _steps(c, "d", "rate_flops_macs") == [6.0, 6.0, 6.0]  # first (encoding) layer: FLOPs x T as MACs
    assert _steps(c, "d", "rate_flops_sops") == [0.0, 0.0, 0.0]
    assert _steps(c, "in", "input_events") == [2.5, 0.5, 0.5]


def test_second_layer_counts_use_the_stored_weights_and_rate_x_flops() -> None:
    c = count_layers(GRAPH, INPUTS, _record())
    assert _steps(c, "p", "spikes") == [0.0, 1.5, 0.5]
    assert _steps(c, "p", "neuron_updates") == [2.0, 2.0, 2.0]
    assert _steps(c, "d2", "synops_fan_out") == [0.0, 1.5, 0.5]
    # stored d2 = [[0, -2]]: t1 sample 1 fires both (1 non-zero weight), t2 sample 0 fires neuron 1 (1)
    assert _steps(c, "d2", "effective_acs") == [0.0, 0.5, 0.5]
    # rate x FLOPs: rate = events / in_size, SOP = rate x FLOPs (2) per step; summed it equals spikes x fan-out
    assert _steps(c, "d2", "rate_flops_sops") == [0.0, 1.5, 0.5]
    assert c.total("rate_flops_sops") == c.total("synops_fan_out") - 7.0  # the first layer is counted as MACs
    assert c.total("learning_updates") == 0.0


def test_totals_sparsity_and_footprint() -> None:
    c = count_layers(GRAPH, INPUTS, _record())
    assert c.total("synops_fan_out") == 7.0 + 2.0
    assert c.total("effective_acs") == 3.5 + 1.0
    assert c.total("dense") == 18.0 + 6.0
    assert c.total("neuron_updates") == 3 * (2 + 1)
    # populations' outputs: (2 + 1) neurons x 3 steps x 2 samples = 18 values, 4 spikes
    assert c.activation_sparsity() == pytest.approx(1 - 4 / 18)
    # d: 6 synapses x 8 bits; d2: 2 synapses x 9 bits (mixed sign) = 18 bits -> 3 bytes; u + v 48 bits x 3 neurons
    assert c.footprint["weights_bytes_per_layer"] == {"d": 6, "d2": 3}
    assert (c.footprint["weights_bytes"], c.footprint["state_bytes"], c.footprint["total_bytes"]) == (9, 18, 27)
    # the same run through the aggregate op counter (totals over samples): the conventions agree
    ops = count_ops(GRAPH, INPUTS, _record())
    assert ops.synops == 2 * c.total("synops_fan_out") and ops.synops_effective == 2 * c.total("effective_acs")


def test_graded_inputs_count_as_macs_per_step() -> None:
    graph = DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=2, num_message_bits=8),
            "d": DenseInt(name="d", weights=np.array([[1, 1]]), num_message_bits=8),
            "p": LIFInt(name="p", size=1, du=4095, dv=0, vth=10),
        },
        edges=[("in", "d"), ("d", "p")],
        output="p",
    )
    x = np.array([[[3, 0], [1, 0], [0, 0]]])  # a graded payload at t0, a 0/1 input at t1
    z = np.zeros((1, 3, 1), np.int64)
    record = RunRecord(backend="hand", populations={"p": PopulationTrace(spikes=z.astype(np.int8), u=z, v=z)})
    c = count_layers(graph, x, record)
    assert _steps(c, "d", "effective_macs") == [1.0, 0.0, 0.0]
    assert _steps(c, "d", "effective_acs") == [0.0, 1.0, 0.0]


def test_spike_packets_and_inter_tile_packets_follow_the_mapping() -> None:
    text = resources.files("spikeport.targets.chips").joinpath("loihi.toml").read_text(encoding="utf-8")
    for key, value in (("compartments_per_core", 1), ("cores_per_tile", 1)):
        text = re.sub(rf"(\[limits\.{key}\]\nvalue = )\d+", rf"\g<1>{value}", text)
    mapping = map_graph(GRAPH, parse_chip(text, origin="tiny.toml"))
    assert [(la.name, la.first_core, la.cores) for la in mapping.layers] == [("p", 0, 2), ("q", 2, 1)]
    c = count_layers(GRAPH, INPUTS, _record(), mapping)
    assert _steps(c, "d", "spike_packets") == [5.0, 1.0, 1.0]  # every input event to both of p's cores
    assert _steps(c, "d", "inter_tile_packets") == [0.0, 0.0, 0.0]  # host injection: not routed between tiles
    assert _steps(c, "d2", "spike_packets") == [0.0, 1.5, 0.5]  # q holds one core
    assert _steps(c, "d2", "inter_tile_packets") == [0.0, 1.5, 0.5]  # p's tiles 0 and 1, q's tile 2
    one_tile = count_layers(GRAPH, INPUTS, _record(), map_graph(GRAPH, load_chip("loihi")))
    assert one_tile.total("inter_tile_packets") == 0.0 and one_tile.total("spike_packets") == 3.5 + 2.0


def test_energy_charges_mapped_packets_and_one_hop_per_inter_tile_packet() -> None:
    from spikeport.targets.energy import estimate_energy

    text = resources.files("spikeport.targets.chips").joinpath("loihi.toml").read_text(encoding="utf-8")
    for key, value in (("compartments_per_core", 1), ("cores_per_tile", 1)):
        text = re.sub(rf"(\[limits\.{key}\]\nvalue = )\d+", rf"\g<1>{value}", text)
    chip = parse_chip(text, origin="tiny.toml")
    mapping = map_graph(GRAPH, chip)
    counts = count_layers(GRAPH, INPUTS, _record(), mapping)
    report = estimate_energy(count_ops(GRAPH, INPUTS, _record()), chip, steps_per_sample=3, dt_s=1e-3,
                             mapping=mapping, layer_counts=counts)  # fmt: skip
    terms = {t.name: t for t in report.dynamic_terms}
    assert terms["spike packets"].count == 7.0 + 2.0 and terms["spike packets"].coefficient.value == 1.7
    assert terms["inter-tile hops"].count == 2.0 and terms["inter-tile hops"].coefficient.value == 3.0
    assert report.cores_used == 3 and report.latency.tiles_used == 3
    with pytest.raises(ChipSpecError, match=r"'limits\.compartments_per_core\.value' must be >= 1"):
        map_graph(
            GRAPH,
            parse_chip(
                text.replace("[limits.compartments_per_core]\nvalue = 1", "[limits.compartments_per_core]\nvalue = 0"),
                origin="z.toml",
            ),
        )
