"""Builds the Lava process graph of a deploy graph from Lava's stock `fixed_pt` processes.

Every node maps to one stock process with the same integer parameters: `SpikeInput` to `io.source.RingBuffer`,
`DenseInt` to `Dense` (or `DelayDense` with delays), `LIFInt` / `LIFResetInt` / `TernaryLIFInt` to `LIF` /
`LIFReset` / `TernaryLIF`. A `StateRecorder` per population records spikes, u and v.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeport.ir import DenseInt, DeployGraph, LIFInt, LIFResetInt, TernaryLIFInt


@dataclass
class LavaNetwork:
    """The built processes, by deploy-graph node name."""

    source: object
    synapses: dict[str, object]
    populations: dict[str, object]
    recorders: dict[str, object]

    def all_processes(self) -> list[object]:
        return [self.source, *self.synapses.values(), *self.populations.values(), *self.recorders.values()]


def _population(pop: LIFInt):
    from lava.proc.lif.process import LIF, LIFReset, TernaryLIF

    common = dict(
        shape=(pop.size,),
        du=pop.du,
        dv=pop.dv,
        bias_mant=pop.bias_mant.astype(np.int32),
        bias_exp=pop.bias_exp,
        name=pop.name,
    )
    if isinstance(pop, TernaryLIFInt):
        return TernaryLIF(vth_hi=pop.vth, vth_lo=pop.vth_lo, **common)
    if isinstance(pop, LIFResetInt):
        return LIFReset(vth=pop.vth, reset_interval=pop.reset_interval, reset_offset=pop.reset_offset, **common)
    return LIF(vth=pop.vth, **common)


def _synapse(dense: DenseInt):
    from lava.proc.dense.process import DelayDense, Dense

    common = dict(
        weights=dense.weights.astype(np.int32),
        weight_exp=dense.weight_exp,
        num_weight_bits=dense.num_weight_bits,
        num_message_bits=dense.num_message_bits,
        name=dense.name,
    )
    if dense.delays is not None:
        return DelayDense(delays=dense.delays.astype(int), **common)  # Lava insists on dtype int
    return Dense(**common)


def build_network(graph: DeployGraph, inputs: np.ndarray, recorder_paths: dict[str, str]) -> LavaNetwork:
    """Create and connect the processes; `inputs` is (samples, steps, n_in), played back-to-back."""
    from lava.proc.io.source import RingBuffer

    from spikeport.simulators.lava.processes.recorder.process import StateRecorder

    samples, steps, size = inputs.shape
    played = inputs.transpose(2, 0, 1).reshape(size, samples * steps).astype(np.int32)
    source = RingBuffer(data=played)
    populations = {pop.name: _population(pop) for pop in graph.populations}
    synapses = {dense.name: _synapse(dense) for dense in graph.synapses}
    for dense in graph.synapses:
        src = graph.source_of(dense)
        sender = source if src.name == graph.input.name else populations[src.name]
        sender.s_out.connect(synapses[dense.name].s_in)
        synapses[dense.name].a_out.connect(populations[graph.target_of(dense).name].a_in)
    recorders = {}
    for pop in graph.populations:
        rec = StateRecorder(
            size=pop.size, num_steps=samples * steps, path=recorder_paths[pop.name], name=f"rec_{pop.name}"
        )
        populations[pop.name].s_out.connect(rec.s_in)
        rec.u_ref.connect_var(populations[pop.name].u)
        rec.v_ref.connect_var(populations[pop.name].v)
        recorders[pop.name] = rec
    return LavaNetwork(source=source, synapses=synapses, populations=populations, recorders=recorders)
