"""Few-shot calibration of a new subject's memory, in float and on the simulated chip.

On the chip (`chip_adapt`), the memory is learned by a plastic connection (`spikeport.ir.plastic.PlasticDenseInt`,
Lava `LearningDense`) through `spikeport.simulators.learning.adapt_on_chip`: the deployed graph's readout synapse
(latent -> accumulator) becomes plastic with zero initial weights and the rule dw = x0 * y0 with one-step epochs,
so W[k, j] gains 1 at every step in which latent neuron j's spike reaches the synapse while teacher k spikes; the
teacher of the shot's class spikes at every step of the shot (extra input channels, `teacher_offset`). That is the
Hebbian rule W[k] += latent spike counts of the class-k shots, in integers. After learning, the host normalizes
the learned rows, centres them (`export_nir.centered`) and writes them as mixed-grid mantissas of a static readout
(the row normalization has no on-chip counterpart); the backend then classifies the test trials with them. The
reference and Lava each learn on their own run, and their weights after every epoch are compared element for
element. See docs/isam-mtl.md.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch

from spikeport.errors import InputDataError
from spikeport.ir import DeployGraph
from spikeport.ir.formats import SignMode
from spikeport.train.layers.associative_memory import HebbianAssociativeMemory
from spikeport.train.models.isam.export_nir import centered
from spikeport.train.models.isam.fit import latent_spikes, learning_counts, memory_counts
from spikeport.train.models.readout import readout_of, readout_scale

__all__ = ["ChipAdaptation", "chip_adapt", "few_shot_split", "float_adapt", "readout_synapse"]


def few_shot_split(labels: np.ndarray, shots: int, seed: int, *, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(shot indices, test indices): `shots` random trials of every class (seeded), the rest for testing.

    Raises:
        InputDataError: naming --shots if a class has no more than `shots` trials (none would be left to test).
    """
    rng = np.random.default_rng(seed)
    picked = []
    for k in range(n_classes):
        members = np.flatnonzero(labels == k)
        if len(members) <= shots:
            raise InputDataError(
                f"--shots {shots}: the subject has {len(members)} trials of class {k}, which leaves none to test; "
                f"use --shots {max(len(members) - 1, 1)} or fewer"
            )
        picked.append(rng.permutation(members)[:shots])
    shot_idx = np.sort(np.concatenate(picked))
    return shot_idx, np.setdiff1d(np.arange(len(labels)), shot_idx)


def float_adapt(model, x_shots: np.ndarray, y_shots: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float model: a fresh memory from the shots (`HebbianAssociativeMemory.adapt`); returns (memory, predictions)."""
    memory = HebbianAssociativeMemory(model.memory.config)
    memory.adapt(0, learning_counts(latent_spikes(model, x_shots)), torch.as_tensor(y_shots))
    predictions = memory.predict(memory_counts(model, latent_spikes(model, x_test)), 0).numpy().astype(np.int64)
    return memory.memory(0).numpy(), predictions


def readout_synapse(graph: DeployGraph):
    """The synapse into the graph's output population (the memory readout)."""
    (synapse,) = [d for d in graph.synapses if graph.target_of(d).name == graph.output]
    return synapse


def _latent_name(graph: DeployGraph) -> str:
    return graph.source_of(readout_synapse(graph)).name


LEARNING_RULE = "x0 * y0"
"""Plastic rule of the memory: +1 per coincidence of a latent spike and the teacher spike in a one-step epoch."""


def learning_graph(graph: DeployGraph, n_classes: int) -> DeployGraph:
    """The deployed graph with n_classes teacher input channels (zero weights elsewhere) and a plastic readout."""
    from spikeport.ir.plastic import PlasticDenseInt

    source = graph.input
    n_in = source.out_size
    nodes = dict(graph.nodes)
    nodes[source.name] = dataclasses.replace(source, size=n_in + n_classes)
    for synapse in graph.synapses:
        if graph.source_of(synapse).name == source.name:
            pad = ((0, 0), (0, n_classes))
            delays = None if synapse.delays is None else np.pad(synapse.delays, pad)
            nodes[synapse.name] = dataclasses.replace(synapse, weights=np.pad(synapse.weights, pad), delays=delays)
    readout = readout_synapse(graph)
    nodes[readout.name] = PlasticDenseInt(
        name=readout.name,
        weights=np.zeros(readout.weights.shape, dtype=np.int64),
        dw=LEARNING_RULE,
        weight_exp=readout.weight_exp,
        t_epoch=1,
        rng_seed=0,
        teacher_offset=n_in,
    )
    return dataclasses.replace(graph, nodes=nodes, metadata={**graph.metadata, "plastic_memory": LEARNING_RULE})


@dataclass(frozen=True)
class ChipAdaptation:
    """What one backend's adaptation produced."""

    memory: np.ndarray
    """(n_classes, n_latent) int64: the memory learned on chip (the plastic weights at the end)."""
    per_epoch: np.ndarray
    """(epochs, n_classes, n_latent) int64: the plastic weights after every epoch."""
    mantissas: np.ndarray
    """(n_classes, n_latent) int64: the readout mantissas written into the graph."""
    predictions: np.ndarray
    """(test trials,) int64: classes of the backend's run with the learned readout."""
    matches_hebbian: bool
    """The learned memory equals onehot(y).T @ (latent spike counts of the shots) of the same run, computed on
    the host from the recorded spikes: the plastic rule is the Hebbian rule."""
    saturated: int
    """How many memory weights differ from those Hebbian counts: the chip's plastic weight limit clipped them
    (too many shots or too many steps per trial for the weight bits)."""
    peak_count: int
    """The largest Hebbian count, for the saturation message."""
    learn_s: float
    """Seconds to run the shots and learn."""
    recall_s: float
    """Seconds to run the test trials."""


def learned_mantissas(memory: np.ndarray, graph: DeployGraph) -> np.ndarray:
    """Row-normalized, centred memory as mixed-grid mantissas with the peak of the graph's current readout."""
    synapse = readout_synapse(graph)
    grid = graph.formats.weight_grid(SignMode.MIXED, synapse.num_weight_bits)
    norms = np.linalg.norm(memory.astype(np.float64), axis=1, keepdims=True)
    weight = centered(np.divide(memory, norms, out=np.zeros(memory.shape), where=norms > 0))
    peak_w = float(np.max(np.abs(weight), initial=0.0))
    peak_m = min(float(np.max(np.abs(synapse.weights), initial=0)), float(grid.limit)) or float(grid.limit)
    if peak_w == 0:
        return np.zeros(memory.shape, dtype=np.int64)
    mant = np.round(weight / peak_w * peak_m / grid.step) * grid.step
    return np.clip(mant, -grid.limit, grid.limit).astype(np.int64)


def with_readout(graph: DeployGraph, mantissas: np.ndarray) -> DeployGraph:
    """The deploy graph with the readout synapse's weights replaced."""
    synapse = readout_synapse(graph)
    nodes = {**graph.nodes, synapse.name: dataclasses.replace(synapse, weights=mantissas)}
    return dataclasses.replace(graph, nodes=nodes, metadata={**graph.metadata, "adapted_readout": True})


def _run(graph: DeployGraph, x: np.ndarray, backend: str, progress: bool):
    if backend == "reference":
        from spikeport.simulators import run_reference

        return run_reference(graph, x)
    from spikeport.simulators.lava import run_lava

    return run_lava(graph, x, progress=progress)


def chip_adapt(
    graph: DeployGraph,
    backend: str,
    x_shots: np.ndarray,
    y_shots: np.ndarray,
    x_test: np.ndarray,
    *,
    n_classes: int,
    progress: bool = False,
) -> ChipAdaptation:
    """Adapt the deployed network on `backend` (module docstring) and classify `x_test` with the learned readout."""
    from spikeport.simulators.learning import adapt_on_chip

    start = time.perf_counter()
    plastic = learning_graph(graph, n_classes)
    x = np.pad(np.asarray(x_shots), ((0, 0), (0, 0), (0, n_classes)))
    teacher = np.repeat(np.eye(n_classes, dtype=np.int64)[np.asarray(y_shots)][:, None, :], x.shape[1], axis=1)
    adaptation = adapt_on_chip(plastic, x, teacher, backend=backend, progress=progress)
    name = readout_synapse(graph).name
    memory, per_epoch = adaptation.final[name].astype(np.int64), adaptation.per_epoch[name].astype(np.int64)
    latent = adaptation.record.populations[_latent_name(graph)].spikes.astype(np.int64)
    onehot = np.eye(n_classes, dtype=np.int64)[np.asarray(y_shots)]
    counts = onehot.T @ latent.sum(axis=1)
    saturated = int(np.count_nonzero(counts != memory))
    mantissas = learned_mantissas(memory, graph)
    adapted = with_readout(graph, mantissas)
    learned = time.perf_counter()
    recall = _run(adapted, x_test, backend, progress)
    predictions = readout_of(adapted.metadata).apply(recall, adapted.output, readout_scale(adapted))
    return ChipAdaptation(
        memory,
        per_epoch,
        mantissas,
        predictions,
        saturated == 0,
        saturated,
        int(counts.max(initial=0)),
        learned - start,
        time.perf_counter() - learned,
    )


def first_difference(a: np.ndarray, b: np.ndarray) -> str | None:
    """The first differing synapse of two per-epoch weight stacks (epochs, n_classes, n_latent), or None."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f"shapes differ: {a.shape} vs {b.shape}"
    diff = np.argwhere(a != b)
    if len(diff) == 0:
        return None
    e, r, c = (int(i) for i in diff[0])
    return f"after epoch {e + 1}, class {r}, latent neuron {c}: {a[e, r, c]} vs {b[e, r, c]}"
