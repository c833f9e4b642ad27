"""Mapping onto cores: core counts from the per-core limits, the limiting resource, and violations named exactly."""

from __future__ import annotations

import itertools
import math
import re
from importlib import resources

import numpy as np
import pytest

from spikeport.errors import ChipCapacityError
from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
from spikeport.targets.chip import load_chip, parse_chip
from spikeport.targets.mapping import map_graph, synapse_bits

LOIHI = load_chip("loihi")


def _chain(*sizes: int, weight=1, bits: int = 8) -> DeployGraph:
    """input(sizes[0]) -> Dense -> pop1(sizes[1]) -> Dense -> ... with constant weights."""
    nodes = {"in": SpikeInput(name="in", size=sizes[0])}
    edges, prev = [], "in"
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        w = np.full((n_out, n_in), weight, dtype=np.int64)
        nodes[f"d{i}"] = DenseInt(name=f"d{i}", weights=w, num_weight_bits=bits)
        nodes[f"p{i}"] = LIFInt(name=f"p{i}", size=n_out, du=4095, dv=0, vth=10)
        edges += [(prev, f"d{i}"), (f"d{i}", f"p{i}")]
        prev = f"p{i}"
    return DeployGraph(nodes=nodes, edges=edges, output=prev)


def _chip_with(**limits: int):
    """Loihi's file with some `[limits.<key>]` values replaced: a user chip file exploring limits."""
    text = resources.files("spikeport.targets.chips").joinpath("loihi.toml").read_text(encoding="utf-8")
    for key, value in limits.items():
        text, n = re.subn(rf"(\[limits\.{key}\]\nvalue = )\d+", rf"\g<1>{value}", text)
        assert n == 1, key
    return parse_chip(text, origin="user.toml")


def test_a_fitting_model_reports_its_core_count_and_utilization() -> None:
    # the demo's shape: 64 inputs -> 64 LIF -> 2 readout, mixed-sign 8-bit weights (9 stored bits)
    graph = _chain(64, 64, 2, weight=-1)
    graph = DeployGraph(
        nodes={**graph.nodes, "d0": DenseInt(name="d0", weights=np.tile([[-1, 1]], (64, 32)))},
        edges=graph.edges, output=graph.output,
    )  # fmt: skip
    m = map_graph(graph, LOIHI)
    assert (m.cores_used, m.chips_used, m.tiles_used) == (2, 1, 1)
    hidden, out = m.layers
    assert (hidden.cores, hidden.neurons_per_core, hidden.bound) == (1, 64, "layer size")
    assert hidden.need == {"neurons": 64, "synaptic_memory": 64 * 64 * 9 // 8, "input_axons": 64, "output_axons": 64}
    assert hidden.utilization["synaptic_memory"] == pytest.approx(4608 / 131072)
    assert out.need["synaptic_memory"] == math.ceil(64 * 2 * 8 / 8)  # inhibitory-only weights: no sign bit
    d = m.to_dict()
    assert d["cores_used"] == 2 and d["layers"]["p0"]["cores"] == 1
    assert d["limits"]["synaptic_memory"]["value"] == 131072 and d["utilization"]["neurons"] == 64 / 1024


def test_a_large_layer_is_split_by_neurons_per_core() -> None:
    m = map_graph(_chain(10, 3000), LOIHI)
    (layer,) = m.layers
    assert (layer.cores, layer.neurons_per_core, layer.bound) == (3, 1024, "neurons")
    assert [layer.core_of(j) for j in (0, 1023, 1024, 2999)] == [0, 0, 1, 2]


def test_synaptic_memory_bounds_neurons_per_core() -> None:
    # 1000 inputs x 8 bits (excitatory) = 1000 bytes per neuron: 131 neurons fill 128 KiB
    m = map_graph(_chain(1000, 1024), LOIHI)
    (layer,) = m.layers
    assert (layer.neurons_per_core, layer.bound, layer.cores) == (131, "synaptic_memory", math.ceil(1024 / 131))
    assert layer.need["synaptic_memory"] == 131_000 <= 131072


def test_bits_per_synapse_follow_the_memory_model() -> None:
    formats = LOIHI.formats
    excit = DenseInt(name="e", weights=np.ones((2, 2), dtype=np.int64), num_weight_bits=5)
    mixed = DenseInt(name="m", weights=np.array([[1, -1]]), num_weight_bits=8)
    delayed = DenseInt(name="d", weights=np.ones((1, 2), dtype=np.int64), delays=np.array([[0, 3]]))
    assert [synapse_bits(n, formats) for n in (excit, mixed, delayed)] == [5, 9, 8 + 6]


def test_output_axons_bound_a_layer_that_fans_out_to_many_cores() -> None:
    chip = _chip_with(output_axons_per_core=8, compartments_per_core=4)
    m = map_graph(_chain(2, 8, 16), chip)  # p1 spans 4 cores, so each p0 neuron needs 4 output axons
    p0, p1 = m.layers
    assert p1.cores == 4
    assert (p0.neurons_per_core, p0.bound, p0.cores, p0.need["output_axons"]) == (2, "output_axons", 4, 8)


def test_an_oversized_layer_names_the_layer_resource_need_and_limit() -> None:
    with pytest.raises(ChipCapacityError) as info:
        map_graph(_chain(5000, 4), LOIHI)
    message = str(info.value)
    assert "layer 'p0' does not fit one core of Intel Loihi: input axons needs 5000 axons" in message
    assert "the limit is 4096 axons per core (limits.input_axons_per_core)" in message


def test_one_neuron_over_the_synaptic_memory_is_a_violation() -> None:
    chip = _chip_with(synaptic_memory_per_core=100)
    with pytest.raises(ChipCapacityError, match=r"layer 'p0' .*synaptic memory needs 200 bytes .*the limit is 100 "
                       r"bytes per core \(limits\.synaptic_memory_per_core\)"):  # fmt: skip
        map_graph(_chain(200, 3), chip)


def test_loihi2_limits_are_derived_per_chip_figures() -> None:
    m = map_graph(_chain(100, 20000), load_chip("loihi2"))
    limits = m.limits
    assert limits["neurons"].value == 1_000_000 // 128 and limits["neurons"].basis == "derived"
    assert limits["synaptic_memory"].unit == "synapses" and limits["synaptic_memory"].value == 120_000_000 // 128
    assert "input_axons" not in limits and m.tiles_used is None
    assert m.layers[0].cores == math.ceil(20000 / 7812)


def test_plastic_connections_and_attention_blocks_are_mapped_and_counted() -> None:
    from helpers.random_attention import random_attention_case
    from helpers.random_plastic import random_plastic_case
    from spikeport.simulators import run_reference
    from spikeport.targets.conventions import count_layers

    case = random_plastic_case(1, t_epoch=2)
    m = map_graph(case.graph, LOIHI)
    (conn,) = [c for c in case.graph.connections]
    (demand,) = m.layers[-1].incoming
    assert demand.plastic and demand.bits_per_synapse == 9  # 8-bit mixed-sign plastic weights
    counts = count_layers(case.graph, case.inputs, run_reference(case.graph, case.inputs), m)
    steps = case.inputs.shape[1]
    per_step = next(la for la in counts.layers if la.name == conn.name).per_step["learning_updates"]
    expected = [conn.in_size * conn.out_size if (t + 1) % 2 == 0 else 0 for t in range(steps)]
    assert per_step.tolist() == expected

    case = random_attention_case(2)
    att = next(c for c in case.graph.connections if c.kind == "spike_attention_int")
    m = map_graph(case.graph, LOIHI)
    block = m.layer(att.name)  # the block's own units: Q, K, V, kv, attn (N x D each) and D gate sums
    assert block.neurons == 5 * att.n_tokens * att.n_features + att.n_features and block.cores >= 1
    assert m.cores_used == sum(la.cores for la in m.layers)
