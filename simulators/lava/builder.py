"""Builds the Lava process graph of a deploy graph from Lava's stock `fixed_pt` processes.

Every node maps to one stock process with the same integer parameters: `SpikeInput` to `io.source.RingBuffer`,
`DenseInt` to `Dense` (or `DelayDense` with delays), `LIFInt` / `LIFResetInt` / `TernaryLIFInt` to `LIF` /
`LIFReset` / `TernaryLIF`. A `StateRecorder` per population records spikes, u and v. Which factory a node gets is
looked up by its kind in `KIND_TABLE`, so a kind without a Lava process fails before anything is built. A
population with several decay groups becomes one process per group, its connections one per pair of groups
(`spikeport.simulators.lava.decay_split`); its record keeps the population's name and neuron order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spikeport.errors import UnsupportedNodeError
from spikeport.ir import DenseInt, DeployGraph, LIFInt, LIFResetInt, SpikeInput, TernaryLIFInt
from spikeport.ir.formats import LOIHI_FORMATS
from spikeport.ir.kinds import KindTable
from spikeport.simulators import learning_lava
from spikeport.simulators.lava import decay_split
from spikeport.simulators.lava.processes.attention.factory import spike_attention


@dataclass
class LavaNetwork:
    """The built processes, by deploy-graph node name."""

    source: object
    synapses: dict[str, object]
    populations: dict[str, object]
    recorders: dict[str, object]
    teachers: dict[str, object] = field(default_factory=dict)
    """The `RingBuffer` playing each plastic connection's teacher spikes into its `s_in_bap`."""

    def all_processes(self) -> list[object]:
        return [
            self.source,
            *self.synapses.values(),
            *self.populations.values(),
            *self.recorders.values(),
            *self.teachers.values(),
        ]


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
        learning_lava.PlasticDenseInt.kind: learning_lava.learning_dense,
        "spike_attention_int": spike_attention,  # AttentionInt: one SpikeAttention process (linear in tokens)
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
    # one process per decay group of a multi-timescale population (one part otherwise; `decay_split`)
    parts = {pop.name: decay_split.population_parts(pop, pop.size) for pop in graph.populations}
    procs = {name: [factories[name](part.node) for part in node_parts] for name, node_parts in parts.items()}
    populations = {part.node.name: proc for name in procs for part, proc in zip(parts[name], procs[name], strict=True)}
    parts[graph.input.name] = decay_split.population_parts(graph.input, graph.input.out_size)
    procs[graph.input.name] = [source]
    synapses = {}
    for conn in graph.connections:
        src, tgt = graph.source_of(conn).name, graph.target_of(conn).name
        for piece, i, j in decay_split.dense_pieces(conn, parts[src], parts[tgt], graph.formats):
            synapses[piece.name] = factories[conn.name](piece)
            procs[src][i].s_out.connect(synapses[piece.name].s_in)
            synapses[piece.name].a_out.connect(procs[tgt][j].a_in)
    recorders = {}
    for pop in graph.populations:
        for part, proc in zip(parts[pop.name], procs[pop.name], strict=True):
            grouped = len(parts[pop.name]) > 1  # groups share the population's file, each in its own columns
            rec = StateRecorder(
                size=part.node.size,
                num_steps=samples * steps,
                path=recorder_paths[pop.name],
                name=f"rec_{part.node.name}",
                columns=part.neurons.tolist() if grouped else None,
                file_size=pop.size,
            )
            proc.s_out.connect(rec.s_in)
            rec.u_ref.connect_var(proc.u)
            rec.v_ref.connect_var(proc.v)
            recorders[part.node.name] = rec
    teachers = learning_lava.connect_teachers(graph, synapses, played)  # teacher spikes into s_in_bap
    return LavaNetwork(source, synapses, populations, recorders, teachers)
