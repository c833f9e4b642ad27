"""Builds the Lava process graph of a deploy graph from Lava's stock `fixed_pt` processes.

Every node maps to one stock process with the same integer parameters: `SpikeInput` to `io.source.RingBuffer`,
`DenseInt` to `Dense` (or `DelayDense` with delays), `LIFInt` / `LIFResetInt` / `TernaryLIFInt` to `LIF` /
`LIFReset` / `TernaryLIF`. A `StateRecorder` per population records spikes, u and v. Which factory a node gets is
looked up by its kind in `KIND_TABLE`, so a kind without a Lava process fails before anything is built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeport.errors import UnsupportedNodeError
from spikeport.ir import DenseInt, DeployGraph, LIFInt, LIFResetInt, SpikeInput, TernaryLIFInt
from spikeport.ir.formats import LOIHI_FORMATS
from spikeport.ir.kinds import KindTable


@dataclass
class LavaNetwork:
    """The built processes, by deploy-graph node name."""

    source: object
    synapses: dict[str, object]
    populations: dict[str, object]
    recorders: dict[str, object]

    def all_processes(self) -> list[object]:
        return [self.source, *self.synapses.values(), *self.populations.values(), *self.recorders.values()]


def _ring_buffer(source: SpikeInput, played: np.ndarray):
    """The host input: a `RingBuffer` playing `played` (n_in, samples * steps), spikes or graded payloads."""
    from lava.proc.io.source import RingBuffer

    return RingBuffer(data=played)


def _lif_params(pop: LIFInt) -> dict[str, object]:
    return dict(
        shape=(pop.size,),
        du=pop.du,
        dv=pop.dv,
        bias_mant=pop.bias_mant.astype(np.int32),
        bias_exp=pop.bias_exp,
        name=pop.name,
    )


def _lif(pop: LIFInt):
    from lava.proc.lif.process import LIF

    return LIF(vth=pop.vth, **_lif_params(pop))


def _lif_reset(pop: LIFResetInt):
    from lava.proc.lif.process import LIFReset

    return LIFReset(vth=pop.vth, reset_interval=pop.reset_interval, reset_offset=pop.reset_offset, **_lif_params(pop))


def _ternary_lif(pop: TernaryLIFInt):
    from lava.proc.lif.process import TernaryLIF

    return TernaryLIF(vth_hi=pop.vth, vth_lo=pop.vth_lo, **_lif_params(pop))


def _dense(dense: DenseInt):
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


KIND_TABLE: KindTable = KindTable(
    "the Lava builder",
    {
        SpikeInput.kind: _ring_buffer,
        DenseInt.kind: _dense,
        LIFInt.kind: _lif,
        LIFResetInt.kind: _lif_reset,
        TernaryLIFInt.kind: _ternary_lif,
    },
)
"""Process factory per node kind: a SOURCE's takes `(node, played)`, with the (n_in, samples * steps) int32
input to play back; a CONNECTION's or POPULATION's takes the node. Lava is imported inside the factories only."""


def _differences(graph: DeployGraph) -> str:
    ours, loihi = graph.formats.to_dict(), LOIHI_FORMATS.to_dict()
    return ", ".join(f"{key} {ours[key]} (Loihi {loihi[key]})" for key in ours if ours[key] != loihi[key])


def build_network(graph: DeployGraph, inputs: np.ndarray, recorder_paths: dict[str, str]) -> LavaNetwork:
    """Create and connect the processes; `inputs` is (samples, steps, n_in), played back-to-back.

    Raises:
        UnsupportedNodeError: a node's kind has no Lava process in `KIND_TABLE`, or the graph's number formats are
            not the Loihi formats that Lava's stock `fixed_pt` models implement (checked before Lava is imported).
    """
    if graph.formats != LOIHI_FORMATS:
        raise UnsupportedNodeError(
            f"Lava's stock fixed_pt processes implement the Loihi number formats only; this graph (chip "
            f"{graph.chip!r}) uses others, so it cannot run on Lava: {_differences(graph)}"
        )
    factories = {name: KIND_TABLE.handler(node) for name, node in graph.nodes.items()}

    from spikeport.simulators.lava.processes.recorder.process import StateRecorder

    samples, steps, size = inputs.shape
    played = inputs.transpose(2, 0, 1).reshape(size, samples * steps).astype(np.int32)
    source = factories[graph.input.name](graph.input, played)
    populations = {pop.name: factories[pop.name](pop) for pop in graph.populations}
    synapses = {conn.name: factories[conn.name](conn) for conn in graph.connections}
    for conn in graph.connections:
        src = graph.source_of(conn)
        sender = source if src.name == graph.input.name else populations[src.name]
        sender.s_out.connect(synapses[conn.name].s_in)
        synapses[conn.name].a_out.connect(populations[graph.target_of(conn).name].a_in)
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
