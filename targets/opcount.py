"""Operation counts of a deploy graph, taken from simulated activity (a `RunRecord` plus the input spikes).

Conventions (the literature disagrees; every count says which one it is, see docs/energy.md):

- **synops** ("spikes x fan-out"): every non-zero event of a synapse's source at every step, times the
  synapse's `out_size` (zero weights included). An event is a spike (1, or +-1 for TernaryLIF) or a non-zero
  graded payload.
- **synops_effective**: the same events, each times the number of non-zero weights in its source neuron's
  column, using the weights Lava's Dense actually stores (clipped and truncated by sign mode and
  `num_weight_bits`, `simulators.kernels.effective_weights`).
- **synops_dense** (NeuroBench "dense"): every (input, weight) pair at every step, whatever the activity:
  `in_size * out_size * steps` per sample, the MACs of the equivalent dense network evaluated every step.
- **neuron updates**: every neuron of every population at every step; "active" where the neuron spiked at that
  step, "inactive" otherwise.

Events are counted at the step they are emitted; a synaptic delay does not move or drop them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

from spikeport.errors import IRValidationError
from spikeport.ir import DenseInt, DeployGraph, LIFInt, LIFResetInt, SpikeInput, TernaryLIFInt
from spikeport.ir.kinds import KindTable
from spikeport.ir.plastic import PlasticDenseInt
from spikeport.simulators.kernels import effective_weights
from spikeport.targets.opcount_attention import count_attention

if TYPE_CHECKING:
    from spikeport.simulators.record import RunRecord


class SynopConvention(Enum):
    """Which synaptic-operation count a figure uses."""

    FAN_OUT = "spikes x fan-out"
    EFFECTIVE = "effective (non-zero weights)"
    DENSE = "dense (all weight pairs, every step)"


def _counts_dict(obj: object) -> dict[str, int]:
    return {f.name: getattr(obj, f.name) for f in fields(obj) if f.metadata.get("count")}  # type: ignore[arg-type]


def _count():
    return field(metadata={"count": True})


@dataclass(frozen=True)
class SynapseOps:
    """Counts of one synapse node, summed over all samples and steps."""

    name: str
    source: str
    target: str
    fan_out: int
    """The synapse's `out_size`: synapses driven by one source event."""
    samples: int
    source_events: int = _count()
    """Non-zero events of the source (input or population) at any step."""
    synops: int = _count()
    """source_events x fan_out ("spikes x fan-out")."""
    synops_effective: int = _count()
    """Sum over source events of the non-zero weights in that source neuron's column."""
    synops_dense: int = _count()
    """in_size x out_size x steps x samples (NeuroBench "dense")."""

    def totals(self) -> dict[str, int]:
        """The counts over all samples."""
        return _counts_dict(self)

    def per_sample(self) -> dict[str, float]:
        """The counts averaged over samples."""
        return {k: v / self.samples for k, v in self.totals().items()}


@dataclass(frozen=True)
class PopulationOps:
    """Counts of one neuron population, summed over all samples and steps."""

    name: str
    size: int
    samples: int
    spikes: int = _count()
    """Steps at which a neuron emitted a (non-zero) spike."""
    neuron_updates: int = _count()
    """size x steps x samples: every neuron is updated every step."""
    active_updates: int = _count()
    """Updates at which the neuron spiked (equal to `spikes`)."""
    inactive_updates: int = _count()
    """neuron_updates - active_updates."""

    def totals(self) -> dict[str, int]:
        """The counts over all samples."""
        return _counts_dict(self)

    def per_sample(self) -> dict[str, float]:
        """The counts averaged over samples."""
        return {k: v / self.samples for k, v in self.totals().items()}


@dataclass(frozen=True)
class OpCounts:
    """Operation counts of one simulated run: per synapse node, per population and overall."""

    samples: int
    steps: int
    """Steps per sample in the run that was counted."""
    input_name: str
    input_spikes: int
    """Non-zero events of the graph's input over all samples and steps."""
    synapses: tuple[SynapseOps, ...]
    populations: tuple[PopulationOps, ...]

    def _sum(self, nodes: tuple, name: str) -> int:
        return int(sum(getattr(n, name) for n in nodes))

    @property
    def spike_packets(self) -> int:
        """Source events delivered to synapse nodes (one per event and outgoing synapse node)."""
        return self._sum(self.synapses, "source_events")

    @property
    def synops(self) -> int:
        return self._sum(self.synapses, "synops")

    @property
    def synops_effective(self) -> int:
        return self._sum(self.synapses, "synops_effective")

    @property
    def synops_dense(self) -> int:
        return self._sum(self.synapses, "synops_dense")

    @property
    def spikes(self) -> int:
        """Spikes of all populations (the input's are in `input_spikes`)."""
        return self._sum(self.populations, "spikes")

    @property
    def neuron_updates(self) -> int:
        return self._sum(self.populations, "neuron_updates")

    @property
    def active_updates(self) -> int:
        return self._sum(self.populations, "active_updates")

    @property
    def inactive_updates(self) -> int:
        return self._sum(self.populations, "inactive_updates")

    def synops_for(self, convention: SynopConvention) -> int:
        """Total synaptic operations under `convention`."""
        return {
            SynopConvention.FAN_OUT: self.synops,
            SynopConvention.EFFECTIVE: self.synops_effective,
            SynopConvention.DENSE: self.synops_dense,
        }[convention]

    def totals(self) -> dict[str, int]:
        """Overall counts over all samples."""
        names = ("input_spikes", "spike_packets", "synops", "synops_effective", "synops_dense", "spikes")
        names += ("neuron_updates", "active_updates", "inactive_updates")
        return {name: int(getattr(self, name)) for name in names}

    def per_sample(self) -> dict[str, float]:
        """Overall counts averaged over samples."""
        return {k: v / self.samples for k, v in self.totals().items()}

    def per_step(self) -> dict[str, float]:
        """Overall counts averaged over samples and steps."""
        return {k: v / (self.samples * self.steps) for k, v in self.totals().items()}

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form with a stable key order."""
        return {
            "samples": self.samples,
            "steps": self.steps,
            "input": self.input_name,
            "conventions": {c.name.lower(): c.value for c in SynopConvention},
            "totals": self.totals(),
            "per_sample": self.per_sample(),
            "synapses": {
                s.name: {
                    "source": s.source,
                    "target": s.target,
                    "fan_out": s.fan_out,
                    "totals": s.totals(),
                    "per_sample": s.per_sample(),
                }
                for s in self.synapses
            },
            "populations": {
                p.name: {"size": p.size, "totals": p.totals(), "per_sample": p.per_sample()} for p in self.populations
            },
        }


def _check_activity(name: str, array: np.ndarray, shape: tuple[int, int, int], what: str) -> np.ndarray:
    if array.shape != shape:
        raise IRValidationError(
            f"{what} {name!r}: activity has shape {array.shape}, expected (samples, steps, size) = {shape}; "
            "pass the inputs the record was simulated with"
        )
    return array


def _events(activity: np.ndarray) -> np.ndarray:
    """Non-zero events per neuron over all samples and steps (a spike, +-1 spike or non-zero payload is one)."""
    return np.count_nonzero(activity, axis=(0, 1)).astype(np.int64)


def _count_spike_input(source: SpikeInput, inputs: np.ndarray) -> np.ndarray:
    """Events per input neuron; every non-zero payload of a graded input counts as one event."""
    samples, steps = int(inputs.shape[0]), int(inputs.shape[1])
    return _events(_check_activity(source.name, inputs, (samples, steps, source.size), "input"))


def _count_lif(pop: LIFInt, record: RunRecord, samples: int, steps: int) -> tuple[np.ndarray, PopulationOps]:
    """Events per neuron and the update counts of a LIF-type population (ternary -1 spikes count as events)."""
    if pop.name not in record.populations:
        raise IRValidationError(
            f"population {pop.name!r} is not in the {record.backend!r} record "
            f"(has {list(record.populations)}); record every population to count operations"
        )
    spikes = np.asarray(record.populations[pop.name].spikes)
    events = _events(_check_activity(pop.name, spikes, (samples, steps, pop.size), "population"))
    active = int(events.sum())
    updates = pop.size * steps * samples
    ops = PopulationOps(
        name=pop.name,
        size=pop.size,
        samples=samples,
        spikes=active,
        neuron_updates=updates,
        active_updates=active,
        inactive_updates=updates - active,
    )
    return events, ops


def _count_dense(
    graph: DeployGraph, dense: DenseInt, events: dict[str, np.ndarray], samples: int, steps: int
) -> SynapseOps:
    """Synaptic operations of a `Dense`/`DelayDense` node under every `SynopConvention`."""
    source = graph.source_of(dense).name
    nonzero_per_column = np.count_nonzero(effective_weights(dense.weights, dense.num_weight_bits), axis=0)
    source_events = int(events[source].sum())
    return SynapseOps(
        name=dense.name,
        source=source,
        target=graph.target_of(dense).name,
        fan_out=dense.out_size,
        samples=samples,
        source_events=source_events,
        synops=source_events * dense.out_size,
        synops_effective=int(events[source] @ nonzero_per_column.astype(np.int64)),
        synops_dense=dense.in_size * dense.out_size * steps * samples,
    )


@dataclass(frozen=True)
class PlasticSynapseOps(SynapseOps):
    """`SynapseOps` of a plastic connection, plus its learning updates."""

    learning_updates: int = _count()
    """Synapses x completed epochs: Lava's learning engine evaluates the rule for every synapse at every epoch end
    (`LearningRuleApplierBitApprox.apply` over the whole matrix), whether or not it changes."""


def _count_plastic(
    graph: DeployGraph, node: PlasticDenseInt, events: dict[str, np.ndarray], samples: int, steps: int
) -> PlasticSynapseOps:
    """Spikes cross it as a Dense with its initial non-zero weights; learning adds one update per synapse and epoch."""
    ops = _count_dense(graph, node, events, samples, steps)  # type: ignore[arg-type]  (same fields as a Dense)
    updates = node.in_size * node.out_size * (samples * steps // node.t_epoch)
    return PlasticSynapseOps(**{f.name: getattr(ops, f.name) for f in fields(ops)}, learning_updates=updates)


KIND_TABLE: KindTable = KindTable(
    "the op counter",
    {
        SpikeInput.kind: _count_spike_input,
        DenseInt.kind: _count_dense,
        LIFInt.kind: _count_lif,
        LIFResetInt.kind: _count_lif,
        TernaryLIFInt.kind: _count_lif,
        PlasticDenseInt.kind: _count_plastic,
        "spike_attention_int": count_attention,  # AttentionInt: its projections (stages: opcount_attention)
    },
)
"""How each node kind is counted, by role: a SOURCE's `(node, inputs) -> events per neuron`; a POPULATION's
`(node, record, samples, steps) -> (events per neuron, PopulationOps)`; a CONNECTION's
`(graph, node, events by source name, samples, steps) -> SynapseOps`. A reset LIF is counted like a plain one:
the reset is part of the neuron update, not an extra operation."""


def count_ops(graph: DeployGraph, inputs: np.ndarray, record: RunRecord) -> OpCounts:
    """Count the operations a run of `graph` performed.

    Args:
        graph: the deploy graph that was simulated.
        inputs: the input the run was given, shape (samples, steps, n_in): spikes or graded payloads.
        record: the run's record; needs the spikes of every population, shape (samples, steps, size).

    Returns:
        OpCounts with totals over all samples (ints); per-sample means via `per_sample()`.

    Raises:
        IRValidationError: a population is missing from the record, or shapes disagree.
        UnsupportedNodeError: the graph holds a node kind with no entry in `KIND_TABLE`.
    """
    x = np.asarray(inputs)
    if x.ndim != 3:
        raise IRValidationError(f"inputs must have shape (samples, steps, n_in), got {x.shape}")
    samples, steps = int(x.shape[0]), int(x.shape[1])
    source = graph.input
    # events[name][j]: non-zero events of neuron j of `name`, over all samples and steps
    events = {source.name: KIND_TABLE.handler(source)(source, x)}
    populations = []
    for pop in graph.populations:
        events[pop.name], ops = KIND_TABLE.handler(pop)(pop, record, samples, steps)
        populations.append(ops)
    synapses = [KIND_TABLE.handler(c)(graph, c, events, samples, steps) for c in graph.connections]
    return OpCounts(
        samples=samples,
        steps=steps,
        input_name=source.name,
        input_spikes=int(events[source.name].sum()),
        synapses=tuple(synapses),
        populations=tuple(populations),
    )
