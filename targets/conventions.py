"""Per-layer, per-step counts of a simulated run in every counting convention the literature uses.

The conventions (docs/energy.md "Counting conventions"; sources cited per convention below):

- `synops_fan_out` ("spikes x fan-out"): per step, source events x the connection's out_size (zero weights too).
- `effective_acs`, `effective_macs`, `dense` (NeuroBench): per step, (non-zero input, non-zero weight) pairs; an AC
  when every input value of that step (all samples) is in {-1, 0, 1}, else a MAC; `dense` counts every pair.
  Weights are the ones Lava's Dense stores (`simulators.kernels.effective_weights`).
- `rate_flops_sops` (Spikformer / Spike-driven Transformer): SOP = firing rate of the layer's input x T x FLOPs,
  FLOPs = in_size x out_size (one dense evaluation); for the first (encoding) layer the convention charges MACs
  instead: `rate_flops_macs` = FLOPs x T. (Summed over a layer, rate x T x FLOPs equals spikes x fan-out.)
- neuron updates (every neuron, every step), active updates, learning updates (plastic synapses updated), spike
  packets (one per source event and destination core, from a `CoreMapping`) and the inter-tile share of them.

Every count is a mean per sample; `per_step` arrays are means per sample at each step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from spikeport.errors import IRValidationError
from spikeport.ir import DenseInt, DeployGraph, LIFInt, LIFResetInt, SpikeInput, TernaryLIFInt
from spikeport.ir.attention import AttentionInt
from spikeport.ir.kinds import KindTable
from spikeport.ir.plastic import PlasticDenseInt
from spikeport.simulators.kernels import effective_weights
from spikeport.targets.mapping import KIND_TABLE as MAPPER_TABLE
from spikeport.targets.mapping import CoreMapping
from spikeport.targets.opcount_attention import attention_counts

if TYPE_CHECKING:
    from spikeport.simulators.record import RunRecord

CONVENTIONS = {
    "synops_fan_out": "spikes x fan-out: per step, source events x out_size (zero weights included)",
    "effective_acs": "NeuroBench effective ACs: (non-zero input, non-zero weight) pairs where inputs are in {-1,0,1}",
    "effective_macs": "NeuroBench effective MACs: (non-zero input, non-zero weight) pairs with graded inputs",
    "dense": "NeuroBench dense: every (input, weight) pair, every step",
    "rate_flops_sops": "rate x FLOPs (Spikformer): input firing rate x T x in_size x out_size, non-first layers",
    "rate_flops_macs": "rate x FLOPs (Spikformer): FLOPs x T of the first (encoding) layer, charged as MACs",
}
"""Synaptic-operation conventions by key, as the report names them."""


@dataclass(frozen=True)
class LayerCounts:
    """Counts of one node: `per_step[metric]` is the mean per sample at each step (length = steps)."""

    name: str
    kind: str
    role: str
    size: int
    """Neurons (source, population) or synapses in_size x out_size (connection)."""
    per_step: Mapping[str, np.ndarray]
    source: str = ""
    target: str = ""

    def total(self, metric: str) -> float:
        """Mean per sample over all steps (per inference of the counted length)."""
        return float(np.sum(self.per_step[metric])) if metric in self.per_step else 0.0

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "role": self.role, "size": self.size}
        if self.source:
            out |= {"source": self.source, "target": self.target}
        out["per_inference"] = {m: self.total(m) for m in self.per_step}
        out["per_step"] = {m: _summary(a) for m, a in self.per_step.items()}
        return out


def _summary(a: np.ndarray) -> dict[str, object]:
    a = np.asarray(a, dtype=np.float64)
    return {"mean": float(a.mean()), "min": float(a.min()), "max": float(a.max()), "series": [float(x) for x in a]}


@dataclass(frozen=True)
class RunCounts:
    """Per-layer counts of one run, with whole-network totals and the footprint at the deployed bit widths."""

    samples: int
    steps: int
    layers: tuple[LayerCounts, ...]
    footprint: Mapping[str, object] = field(default_factory=dict)

    def total(self, metric: str) -> float:
        """Sum over layers of the per-inference mean."""
        return float(sum(layer.total(metric) for layer in self.layers))

    def activation_sparsity(self) -> float:
        """NeuroBench's activation sparsity: zero outputs / all outputs of every population, step and sample."""
        pops = [la for la in self.layers if la.role == "population"]
        outputs = sum(la.size * self.steps for la in pops)
        return 1.0 - sum(la.total("spikes") for la in pops) / outputs if outputs else 0.0

    def to_dict(self) -> dict[str, object]:
        metrics = sorted({m for la in self.layers for m in la.per_step})
        return {
            "samples": self.samples,
            "steps": self.steps,
            "conventions": dict(CONVENTIONS),
            "totals_per_inference": {m: self.total(m) for m in metrics},
            "activation_sparsity": self.activation_sparsity(),
            "footprint": dict(self.footprint),
            "layers": {la.name: la.to_dict() for la in self.layers},
        }


def _per_step(events: np.ndarray, samples: int) -> np.ndarray:
    """(samples, steps, n) activity -> (steps,) mean non-zero events per sample."""
    return np.count_nonzero(events, axis=(0, 2)).astype(np.float64) / samples


def _source_activity(node: SpikeInput, inputs: np.ndarray, record: RunRecord) -> np.ndarray:
    return inputs


def _population_activity(node: LIFInt, inputs: np.ndarray, record: RunRecord) -> np.ndarray:
    if node.name not in record.populations:
        raise IRValidationError(f"population {node.name!r} is not in the {record.backend!r} record; record it")
    return np.asarray(record.populations[node.name].spikes)


def _dense_counts(
    node: DenseInt, x: np.ndarray, first: bool, traffic: tuple | None, stored: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per-step counts of a Dense connection whose source activity is `x` (samples, steps, in_size); `stored`:
    the weights as the chip stores them (default: Lava Dense's `effective_weights`)."""
    samples, steps, _ = x.shape
    active = (x != 0).astype(np.int64)
    stored = effective_weights(node.weights, node.num_weight_bits) if stored is None else stored
    nonzero_col = np.count_nonzero(stored, axis=0).astype(np.int64)
    events = active.sum(axis=(0, 2)).astype(np.float64) / samples
    effective = np.einsum("stj,j->t", active, nonzero_col).astype(np.float64) / samples
    binary = np.all((x == 0) | (x == 1) | (x == -1), axis=(0, 2))
    flops = float(node.in_size * node.out_size)
    rate = events / node.in_size
    out = {
        "source_events": events,
        "synops_fan_out": events * node.out_size,
        "effective_acs": np.where(binary, effective, 0.0),
        "effective_macs": np.where(binary, 0.0, effective),
        "dense": np.full(steps, flops),
        "rate_flops_sops": np.zeros(steps) if first else rate * flops,
        "rate_flops_macs": np.full(steps, flops) if first else np.zeros(steps),
        "learning_updates": np.zeros(steps),
    }
    if traffic is not None:
        packets, inter = traffic
        out["spike_packets"] = np.einsum("stj,j->t", active, packets).astype(np.float64) / samples
        out["inter_tile_packets"] = np.einsum("stj,j->t", active, inter).astype(np.float64) / samples
    return out


def _plastic_counts(node: PlasticDenseInt, x: np.ndarray, first: bool, traffic: tuple | None) -> dict[str, np.ndarray]:
    """A plastic connection: spikes cross it as a binary Dense (effective ACs with the initial weights as stored on
    the first step, mixed sign); every synapse is updated at the end of each epoch (global step t % t_epoch == 0,
    counted per sample from step 1)."""
    out = _dense_counts(node, x, first, traffic, stored=(node.weights >> 1) << 1)  # MIXED: lowest bit dropped
    epoch_end = (np.arange(1, x.shape[1] + 1) % node.t_epoch) == 0
    out["learning_updates"] = np.where(epoch_end, float(node.in_size * node.out_size), 0.0)
    return out


KIND_TABLE: KindTable = KindTable(
    "the per-step counter",
    {
        SpikeInput.kind: _source_activity,
        DenseInt.kind: _dense_counts,
        PlasticDenseInt.kind: _plastic_counts,
        AttentionInt.kind: attention_counts,
        LIFInt.kind: _population_activity,
        LIFResetInt.kind: _population_activity,
        TernaryLIFInt.kind: _population_activity,
    },
)
"""By role: a SOURCE's or POPULATION's `(node, inputs, record) -> activity (samples, steps, size)`; a
CONNECTION's `(node, source activity, is_first_layer, traffic or None) -> {metric: per-step array}` where traffic
is (packets per source neuron, inter-tile packets per source neuron)."""


def _traffic(graph: DeployGraph, conn, mapping: CoreMapping) -> tuple[np.ndarray, np.ndarray]:
    """Packets and inter-tile packets per source neuron: one packet per destination core of the target layer."""
    src = graph.source_of(conn)
    names = {la.name for la in mapping.layers}  # an attention block's own units take its spikes first
    dst = mapping.layer(conn.name if conn.name in names else graph.target_of(conn).name)
    cores = np.arange(dst.first_core, dst.first_core + dst.cores)
    packets = np.full(src.out_size, dst.cores, dtype=np.int64)
    inter = np.zeros(src.out_size, dtype=np.int64)
    if mapping.cores_per_tile is not None and src.name != graph.input.name:  # host input: injection not modelled
        lay = mapping.layer(src.name)
        src_tiles = np.array([lay.core_of(j) for j in range(src.out_size)]) // mapping.cores_per_tile
        inter = (src_tiles[:, None] != (cores // mapping.cores_per_tile)[None, :]).sum(axis=1).astype(np.int64)
    return packets, inter


def footprint(graph: DeployGraph, weight_bits: int | None = None) -> dict[str, object]:
    """Bytes of the deployed network: synapses as the memory model stores them (`targets.mapping`) and the
    neurons' u and v registers. `weight_bits` overrides the bits per synapse (32: a float32 model's weights)."""
    per_layer: dict[str, int] = {}
    for c in graph.connections:
        demand = MAPPER_TABLE.handler(c)(c, graph.source_of(c).name, graph.formats)
        bits = weight_bits if weight_bits is not None else demand.bits_per_synapse
        synapses = demand.in_size * c.out_size + demand.internal_synapses
        per_layer[c.name] = -(-synapses * bits // 8)
    state_bits = graph.formats.u_bits + graph.formats.v_bits
    neurons = sum(int(p.size) for p in graph.populations)
    weights = sum(per_layer.values())
    state = -(-neurons * state_bits // 8)
    return {
        "weights_bytes": weights,
        "weights_bytes_per_layer": per_layer,
        "state_bytes": state,
        "state_bits_per_neuron": state_bits,
        "total_bytes": weights + state,
    }


def count_layers(
    graph: DeployGraph, inputs: np.ndarray, record: RunRecord, mapping: CoreMapping | None = None
) -> RunCounts:
    """Count a run of `graph` per layer and per step in every convention (`CONVENTIONS`).

    Args:
        graph: the simulated deploy graph.
        inputs: the run's input, (samples, steps, n_in).
        record: the run's record with every population's spikes.
        mapping: the graph on a chip (`map_graph`); adds `spike_packets` and `inter_tile_packets`.

    Raises:
        IRValidationError: shapes disagree or a population is missing from the record.
        UnsupportedNodeError: a node kind without an entry in `KIND_TABLE`.
    """
    x = np.asarray(inputs)
    if x.ndim != 3 or x.shape[2] != graph.input.out_size:
        raise IRValidationError(f"inputs must have shape (samples, steps, {graph.input.out_size}), got {x.shape}")
    samples, steps = int(x.shape[0]), int(x.shape[1])
    activity, layers = {}, []
    for node in [graph.input, *graph.populations]:
        act = np.asarray(KIND_TABLE.handler(node)(node, x, record))
        if act.shape != (samples, steps, node.out_size):
            raise IRValidationError(f"{node.name!r}: activity shape {act.shape} != {(samples, steps, node.out_size)}")
        activity[node.name] = act
        if node is not graph.input:
            spikes = _per_step(act, samples)
            per = {"spikes": spikes, "neuron_updates": np.full(steps, float(node.size)), "active_updates": spikes}
            layers.append(LayerCounts(node.name, node.kind, "population", int(node.size), per))
    src_counts = LayerCounts(
        graph.input.name, graph.input.kind, "source", graph.input.out_size, {"input_events": _per_step(x, samples)}
    )
    for conn in graph.connections:
        src = graph.source_of(conn)
        traffic = _traffic(graph, conn, mapping) if mapping is not None else None
        per = KIND_TABLE.handler(conn)(conn, activity[src.name], src.name == graph.input.name, traffic)
        size = int(conn.in_size * conn.out_size)
        layers.append(LayerCounts(conn.name, conn.kind, "connection", size, per, src.name, graph.target_of(conn).name))
    return RunCounts(samples, steps, (src_counts, *layers), footprint(graph))
