"""On-chip learning in the integer reference, the chunking a Lava run of a plastic graph needs, and adaptation.

How samples stream through a graph with `PlasticDenseInt` connections (both backends): one long run, sample after
sample in the order given (a batch of one), the global step counter running on. At the start of every sample
after the first, neuron states (u, v) and synaptic buffers are zeroed, exactly as for static graphs, while the
learning state carries on: weights, traces, within-epoch spike times and the random generators. Epochs are
counted in global steps (step t ends an epoch when t % t_epoch == 0), so an epoch may span a sample boundary
unless t_epoch divides the steps per sample. The weights after every epoch are recorded in
`RunRecord.weights[name]`, shape (epochs, n_out, n_in).

`adapt_on_chip` is the interface for few-shot calibration (used by the ISAM-MTL family): stream K shots with
teacher spikes through the graph on the reference or on Lava, then `with_learned_weights` freezes the result into
a static graph that classifies test trials with exactly the learned weights.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import torch

from spikeport.errors import IRValidationError, UnsupportedNodeError
from spikeport.ir import DenseInt, DeployGraph
from spikeport.ir.formats import LOIHI_FORMATS, NumberFormats
from spikeport.ir.graph import warn_clipped_weights
from spikeport.ir.plastic import PlasticDenseInt
from spikeport.simulators import saturation
from spikeport.simulators.learning_engine import LearningEngine, truncate_mixed
from spikeport.simulators.record import PopulationTrace, RunRecord
from spikeport.simulators.saturation import SaturationTally


def plastic_connections(graph: DeployGraph) -> list[PlasticDenseInt]:
    """The graph's plastic connections, in graph order."""
    return [c for c in graph.connections if isinstance(c, PlasticDenseInt)]


def is_plastic(graph: DeployGraph) -> bool:
    """True if any connection of `graph` learns."""
    return bool(plastic_connections(graph))


def check_plastic(graph: DeployGraph) -> None:
    """Raise if a plastic graph cannot run: teacher channels outside the input, or per-neuron decays."""
    n_in = graph.input.out_size
    for node in plastic_connections(graph):
        if node.teacher_offset >= 0 and node.teacher_offset + node.out_size > n_in:
            raise IRValidationError(
                f"node {node.name!r}: teacher_offset {node.teacher_offset} + {node.out_size} teacher channels "
                f"exceed the {n_in} channels of input {graph.input.name!r}"
            )
    for pop in graph.populations if is_plastic(graph) else ():  # non-plastic graphs run grouped decays
        if np.ndim(getattr(pop, "du", 0)) or np.ndim(getattr(pop, "dv", 0)):
            raise UnsupportedNodeError(
                f"population {pop.name!r} has per-neuron decays, which plastic graphs do not support yet; "
                "give it one du and dv"
            )


def teacher_spikes(node: PlasticDenseInt, inputs: np.ndarray) -> np.ndarray:
    """The teacher spikes of `node` in `inputs` (..., n_in) as booleans (..., n_out); all False without a teacher."""
    if node.teacher_offset < 0:
        return np.zeros((*inputs.shape[:-1], node.out_size), dtype=bool)
    return inputs[..., node.teacher_offset : node.teacher_offset + node.out_size] != 0


def prepare_plastic(graph: DeployGraph, node: PlasticDenseInt):
    """The reference's `PreparedSynapse` of a plastic node: its first-step truncated weights, until an update."""
    from spikeport.simulators.reference import PreparedSynapse

    weights_t = torch.as_tensor(truncate_mixed(node.weights).T.astype(np.float64))
    return PreparedSynapse(
        source=graph.source_of(node).name,
        target=graph.target_of(node).name,
        weights_t_by_delay=((0, weights_t),),
        weight_exp=node.weight_exp,
        graded=False,
        delayed=False,
        name=node.name,
        formats=graph.formats,
        weights_clipped=0,
    )


def run_plan(graph: DeployGraph, samples: int, steps: int) -> list[tuple[bool, int, bool]]:
    """How a backend splits a run: (zero states first, steps to run, read learned weights after) per chunk.

    Chunks end at every sample boundary and, for plastic graphs, at every epoch end; a static graph gets one
    chunk per sample (zeroed before every sample but the first).
    """
    total = samples * steps
    cuts = {k * steps for k in range(1, samples + 1)}
    epochs = {node.t_epoch for node in plastic_connections(graph)}
    for t_epoch in epochs:
        cuts |= set(range(t_epoch, total + 1, t_epoch))
    plan, start = [], 0
    for end in sorted(cuts):
        plan.append((start > 0 and start % steps == 0, end - start, any(end % e == 0 for e in epochs)))
        start = end
    return plan


def stack_learned(graph: DeployGraph, history: Mapping[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """Per plastic node, its weights after each epoch stacked into (epochs, n_out, n_in) int64 (epochs may be 0)."""
    return {
        node.name: np.stack(history[node.name]).astype(np.int64)
        if history[node.name]
        else np.zeros((0, *node.weights.shape), dtype=np.int64)
        for node in plastic_connections(graph)
    }


def _stream(graph, synapses, populations, x: np.ndarray, tally):
    """Run every sample after the other, one global step at a time; returns traces and learned weights."""
    from spikeport.simulators.reference import _accumulate, _channel

    samples, steps, _ = x.shape
    engines = {node.name: LearningEngine(node) for node in plastic_connections(graph)}
    teachers = {node.name: teacher_spikes(node, x) for node in plastic_connections(graph)}
    learned = {name: [] for name in engines}
    xt = torch.as_tensor(x, dtype=torch.float64)
    max_delay = max((d for s in synapses for d, _ in s.weights_t_by_delay), default=0)
    size = {p.pop.name: p.pop.size for p in populations}
    record = {name: torch.zeros(3, samples, steps, n, dtype=torch.float64) for name, n in size.items()}
    stacked = [torch.cat([w for _, w in syn.weights_t_by_delay], dim=1) for syn in synapses]
    slots = [torch.tensor([d for d, _ in syn.weights_t_by_delay]) for syn in synapses]
    t = 0
    for s in range(samples):  # zeroed states and buffers per sample, as Lava's runner sets them
        buffers = [torch.zeros(1, max_delay + 2, size[syn.target], dtype=torch.float64) for syn in synapses]
        state = {name: (torch.zeros(1, n, dtype=torch.float64),) * 2 for name, n in size.items()}
        for k in range(steps):
            t += 1
            a_in = {name: torch.zeros(1, n, dtype=torch.float64) for name, n in size.items()}
            for syn, buf in zip(synapses, buffers, strict=True):
                delivered = _channel(buf[:, 0], syn.formats, tally, syn.name)
                a_in[syn.target] = _channel(a_in[syn.target] + delivered, syn.formats, tally, syn.target)
            current = {graph.input.name: xt[s : s + 1, k]}
            for pop in populations:
                u, v = state[pop.pop.name]
                u, v, spikes = pop.step(u, v, a_in[pop.pop.name], t, tally)
                state[pop.pop.name] = (u, v)
                current[pop.pop.name] = spikes
                record[pop.pop.name][:, s, k] = torch.stack((spikes[0], u[0], v[0]))
            for i, syn in enumerate(synapses):
                buf = torch.roll(buffers[i], -1, dims=1)
                buf[:, -1] = 0
                acc = _accumulate(syn, current[syn.source], stacked[i], tally)  # this step's weights
                buf.index_add_(1, slots[i], acc.reshape(1, len(slots[i]), -1))
                buffers[i] = buf
                engine = engines.get(syn.name)
                if engine is not None and engine.step(t, current[syn.source][0].numpy(), teachers[syn.name][s, k]):
                    learned[syn.name].append(engine.weights.copy())  # used from step t + 1 on
                    stacked[i] = torch.as_tensor(engine.weights.T.astype(np.float64))
    return {name: tuple(r) for name, r in record.items()}, stack_learned(graph, learned)


def run_plastic_reference(graph: DeployGraph, inputs: np.ndarray, *, strict: bool = False) -> RunRecord:
    """`run_reference` for a graph with plastic connections (samples stream in one run, see the module doc).

    Raises:
        IRValidationError: the inputs do not fit the graph, or teacher channels lie outside the input.
        UnsupportedNodeError: a node kind the reference lacks, or a population with per-neuron decays.
        SaturationError: `strict` and a value saturated or wrapped.
    """
    from spikeport.simulators import reference

    start = time.perf_counter()
    x = reference.check_inputs(graph, inputs)
    check_plastic(graph)
    synapses = [reference.KIND_TABLE.handler(c)(graph, c) for c in graph.connections]
    populations = [reference.population_step(p, graph.formats) for p in graph.populations]
    clipped = {syn.name: syn.weights_clipped for syn in synapses}
    if strict:
        saturation.check_strict({n: {saturation.WEIGHTS_CLIPPED: c} for n, c in clipped.items()}, "the reference run")
    warn_clipped_weights(graph, "the reference run", clipped)
    tally = SaturationTally(graph.formats, (p.name for p in graph.populations), clipped)
    with torch.no_grad():
        traces, weights = _stream(graph, synapses, populations, x, tally)
    counts = tally.counts(graph.nodes)
    if strict:
        saturation.check_strict(counts, f"the reference run of {x.shape[0]} samples x {x.shape[1]} steps")
    pops = {}
    for pop in graph.populations:
        s, u, v = traces[pop.name]
        pops[pop.name] = PopulationTrace(spikes=s.numpy().astype(np.int8), u=u.numpy(), v=v.numpy())
    elapsed = time.perf_counter() - start
    return RunRecord(backend="reference", populations=pops, saturation=counts, weights=weights, wall_time_s=elapsed)


class Adaptation(NamedTuple):
    """What `adapt_on_chip` returns."""

    per_epoch: dict[str, np.ndarray]
    """Plastic node name -> learned weights after every epoch, int64 (epochs, n_out, n_in)."""
    final: dict[str, np.ndarray]
    """Plastic node name -> weights at the end of the run (the last epoch's, or the first-step truncated initial
    weights if no epoch ended), int64 (n_out, n_in)."""
    record: RunRecord
    """The whole run (spikes, u, v of every population during adaptation, and `weights`)."""


def with_teacher(graph: DeployGraph, inputs: np.ndarray, teacher: np.ndarray | Mapping[str, np.ndarray]) -> np.ndarray:
    """`inputs` (samples, steps, n_in) with the teacher spikes written into each plastic node's teacher channels.

    `teacher` is one (samples, steps, n_out) array when the graph has one plastic node with a teacher, else a
    mapping from node name to such an array.
    """
    x = np.array(inputs, dtype=np.int64, copy=True)
    nodes = [n for n in plastic_connections(graph) if n.teacher_offset >= 0]
    if not isinstance(teacher, Mapping):
        if len(nodes) != 1:
            raise IRValidationError(
                f"teacher spikes given as one array, but the graph has {len(nodes)} plastic nodes with a teacher; "
                "pass a mapping from node name to teacher spikes"
            )
        teacher = {nodes[0].name: teacher}
    for node in nodes:
        if node.name not in teacher:
            continue
        spikes = np.asarray(teacher[node.name])
        want = (*x.shape[:2], node.out_size)
        if spikes.shape != want:
            raise IRValidationError(f"teacher spikes of node {node.name!r} must have shape {want}, got {spikes.shape}")
        x[..., node.teacher_offset : node.teacher_offset + node.out_size] = spikes != 0
    return x


def adapt_on_chip(
    graph: DeployGraph,
    shots_inputs: np.ndarray,
    shots_teacher: np.ndarray | Mapping[str, np.ndarray] | None = None,
    *,
    backend: str = "reference",
    progress: bool = False,
) -> Adaptation:
    """Few-shot adaptation on the simulated chip: stream the shots with their teacher spikes, learn on the fly.

    Args:
        graph: a deploy graph with at least one `PlasticDenseInt` (its teacher channels are input channels).
        shots_inputs: (shots, steps, n_in) input spikes of the K shots, streamed one after another in one run
            (states zeroed between shots, learning state carried on; module doc).
        shots_teacher: (shots, steps, n_out) teacher spikes, written into the teacher channels of the (single)
            plastic node, or a mapping node name -> such array; None keeps the channels of `shots_inputs`.
        backend: "reference" (the integer reference) or "lava" (Lava `LearningDense`, `fixed_pt`); both give the
            same weights after every epoch.
        progress: show a progress bar (Lava only).

    Returns:
        `Adaptation(per_epoch, final, record)`. Classify test trials with the learned weights through
        `with_learned_weights(graph, adaptation.final)` and `run_reference` / `run_lava` of that static graph.

    Raises:
        IRValidationError: no plastic node, or inputs or teacher spikes that do not fit the graph.
        SimulationError: Lava failed (backend "lava").
    """
    if not is_plastic(graph):
        raise IRValidationError("adapt_on_chip needs a graph with a plastic connection (PlasticDenseInt)")
    x = shots_inputs if shots_teacher is None else with_teacher(graph, shots_inputs, shots_teacher)
    if backend == "reference":
        record = run_plastic_reference(graph, x)
    elif backend == "lava":
        from spikeport.simulators.lava.runner import run_lava

        record = run_lava(graph, x, progress=progress)
    else:
        raise IRValidationError(f"backend must be 'reference' or 'lava', got {backend!r}")
    final = {
        node.name: (record.weights[node.name][-1] if len(record.weights[node.name]) else truncate_mixed(node.weights))
        for node in plastic_connections(graph)
    }
    return Adaptation(per_epoch=dict(record.weights), final=final, record=record)


def frozen_dense(node: PlasticDenseInt, weights: np.ndarray, formats: NumberFormats = LOIHI_FORMATS) -> DenseInt:
    """A static `DenseInt` that delivers exactly what `node` delivers with `weights` (learned, possibly odd).

    Stored as they are when Lava's Dense keeps them (`effective_weights`: e.g. even mixed-sign weights, or
    non-negative ones); otherwise doubled with `weight_exp - 1`, which is exact (shifting a sum of doubled weights
    by one more bit gives the same integer) when every weight lies in [-128, 127].

    Raises:
        UnsupportedNodeError: no static Dense holds the weights exactly (odd mixed-sign weights beyond [-128, 127]).
    """
    w = np.asarray(weights, dtype=np.int64)
    if w.shape != node.weights.shape:
        raise IRValidationError(f"learned weights of {node.name!r} must have shape {node.weights.shape}, got {w.shape}")
    for stored, exp in ((w, node.weight_exp), (2 * w, node.weight_exp - 1)):
        if exp >= formats.weight_exp_range[0] and np.array_equal(formats.effective_weights(stored, 8), stored):
            return DenseInt(name=node.name, weights=stored, weight_exp=exp)
    raise UnsupportedNodeError(
        f"node {node.name!r}: learned weights are odd and span [{w.min()}, {w.max()}], beyond [-128, 127], so no "
        "static Dense holds them exactly; lower the learning rate or the initial weights"
    )


def with_learned_weights(graph: DeployGraph, weights: Mapping[str, np.ndarray]) -> DeployGraph:
    """`graph` with each plastic node named in `weights` replaced by a static, exactly equivalent `DenseInt`."""
    unknown = set(weights) - {n.name for n in plastic_connections(graph)}
    if unknown:
        raise IRValidationError(f"no plastic node named {sorted(unknown)} in the graph")
    nodes = {
        name: frozen_dense(node, weights[name], graph.formats) if name in weights else node
        for name, node in graph.nodes.items()
    }
    return dataclasses.replace(graph, nodes=nodes, metadata=dict(graph.metadata))


__all__ = [
    "Adaptation",
    "adapt_on_chip",
    "check_plastic",
    "frozen_dense",
    "is_plastic",
    "plastic_connections",
    "prepare_plastic",
    "run_plan",
    "run_plastic_reference",
    "stack_learned",
    "teacher_spikes",
    "with_learned_weights",
    "with_teacher",
]
