"""Label-free distillation: fine-tune a deploy graph's integer weights so every layer follows its float graph.

The float NIR graph is the teacher; no labels are needed. Each population is run *teacher-forced*: its synapses
receive the float graph's spikes of their sources (recurrent ones included, so every layer is a feed-forward
problem and errors of earlier layers do not compound), shifted by the steps Loihi's Dense adds on the way from the
input (`spikeport.targets.bias_axon.population_lags`). The population itself runs the chip's integer arithmetic:
the same kernels and `PopulationStep` as the reference simulator, on tensors that carry gradients (straight-through
floors, fast-sigmoid surrogate spikes), with its Dense weights rounded straight-through onto their synapse's
mantissa grid and taken as Lava uses them, exactly as in quantization-aware training (`spikeport.train.qat`).

Loss per layer, in float units (integer v divided by the layer's scale S, `graph.metadata["scales"]`):
spiking layers: mean((v_int / S - v_float)^2) / v_th^2 + mean((s_int - s_float)^2); non-spiking readouts:
mean((v_int / S - v_float)^2) / mean(v_float^2). Summed over layers and minimised by normalised gradient steps
in seeded random batches: per step, the weight with the largest gradient moves `lr` mantissa units and the others
proportionally. (Adam moves every weight by about the same amount, so all latent weights cross their rounding
boundaries together and the integer weights jump as a block; a normalised step moves only those that matter.)

Only Dense mantissas change; weight exponents, decays, thresholds and biases stay as quantized, and the stored
weights are the integers the forward pass used. The result is therefore an ordinary deploy graph on the chip's
grid, and Lava runs it bit-exactly like any other (`tests/targets/test_distill.py` checks that). After every epoch
the whole graph is run end to end on the reference simulator; the epoch (or the starting point) whose spiking
layers agree best with the float graph on average is kept, so distillation never returns a graph that agrees
worse on the calibration inputs than the one it was given.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from spikeport.errors import SpikeportError, UnsupportedNodeError
from spikeport.export import FloatTrace, ParsedNetwork, simulate_float
from spikeport.ir import DenseInt, DeployGraph, LIFInt
from spikeport.simulators import RunRecord, decay_split, kernels, reference, run_reference, timing
from spikeport.targets.bias_axon import population_lags
from spikeport.train.qat import _on_grid, synapse_grid  # the one grid rounding of the integer training forward

__all__ = ["DistillResult", "LayerTeacher", "distill", "spike_agreement_by_layer"]


def spike_agreement_by_layer(
    record: RunRecord, float_run: dict[str, FloatTrace], lags: dict[str, int], spiking: dict[str, bool]
) -> dict[str, float]:
    """Fraction of equal (sample, step, neuron) spikes, float vs the integer `record`, per spiking population
    that both runs hold (the integer run shifted back by its lag)."""
    result = {}
    for name, lag in lags.items():
        if not spiking[name] or name not in record.populations:
            continue
        f_spikes = float_run[name].spikes[:, : float_run[name].spikes.shape[1] - lag]
        i_spikes = np.abs(record.populations[name].spikes[:, lag:].astype(np.float64))
        result[name] = float(np.mean(f_spikes == i_spikes)) if f_spikes.size else 1.0
    return result


def _in_integer_time(spikes: np.ndarray, lag: int) -> torch.Tensor:
    """A float spike train as the integer run would see it: `lag` steps later, zeros before."""
    return timing.delayed(torch.as_tensor(np.asarray(spikes, dtype=np.float64)), lag, time_dim=1)


class LayerTeacher(torch.nn.Module):
    """The trainable Dense mantissas of a deploy graph and the teacher-forced integer run of each population.

    Trained: every LIF population the float graph also holds, and the binary Dense synapses into it. Sources that
    the float graph lacks (for example a node the quantizer added) feed their integer reference spikes.

    Raises:
        SpikeportError: the graph records no per-population scales (it was not made by `quantize`).
        UnsupportedNodeError: a synapse into a trained population is not a binary `DenseInt`.
    """

    def __init__(self, graph: DeployGraph, net: ParsedNetwork, inputs: np.ndarray, float_run: dict[str, FloatTrace]):
        super().__init__()
        scales = graph.metadata.get("scales", {})
        self.graph, self.net, self.lags = graph, net, population_lags(net)
        self.layers = [p for p in graph.populations if p.kind == LIFInt.kind and p.name in float_run]
        missing = [p.name for p in self.layers if p.name not in scales]
        if missing:
            raise SpikeportError(
                f"population(s) {missing} have no scale in the deploy graph's metadata; distill a graph made by "
                "`spikeport quantize` or `spikeport import`"
            )
        self.scales = {p.name: float(scales[p.name]) for p in self.layers}
        self.incoming = {p.name: [d for d in graph.synapses if graph.target_of(d).name == p.name] for p in self.layers}
        for dense in (d for ds in self.incoming.values() for d in ds):
            if dense.kind != DenseInt.kind or dense.num_message_bits:
                raise UnsupportedNodeError(
                    f"synapse {dense.name!r} ({dense.kind}): distillation trains binary Dense synapses only"
                )
        trained = [d for ds in self.incoming.values() for d in ds]
        self.keys = {d.name: f"w{i}" for i, d in enumerate(trained)}  # torch refuses "." in parameter names
        self.grids = {d.name: synapse_grid(d, graph.formats) for d in trained}
        self.weights = torch.nn.ParameterDict(
            {
                self.keys[d.name]: torch.nn.Parameter(
                    torch.tensor(graph.formats.effective_weights(d.weights, d.num_weight_bits), dtype=torch.float64)
                )
                for d in trained
            }
        )
        sources = {graph.source_of(d).name for d in trained}
        fallback = None
        if any(s != graph.input.name and s not in float_run for s in sources):
            fallback = run_reference(graph, inputs)
        self.teacher = {}
        for name in sources:
            if name == graph.input.name:
                self.teacher[name] = torch.as_tensor(np.asarray(inputs, dtype=np.float64))
            elif name in float_run:
                self.teacher[name] = _in_integer_time(float_run[name].spikes, self.lags[name])
            else:
                self.teacher[name] = torch.as_tensor(fallback.populations[name].spikes.astype(np.float64))
        self.float_v = {p.name: _in_integer_time(float_run[p.name].v, self.lags[p.name]) for p in self.layers}
        self.float_s = {p.name: _in_integer_time(float_run[p.name].spikes, self.lags[p.name]) for p in self.layers}

    def deployed(self, dense: DenseInt) -> torch.Tensor:
        """The integer weights the forward pass uses for `dense` (what `to_graph` stores), with gradients."""
        weights = self.weights[self.keys[dense.name]]
        return _on_grid(weights, self.grids[dense.name], dense.num_weight_bits, self.graph.formats)

    def _synapse(self, dense: DenseInt) -> reference.PreparedSynapse:
        weights = self.deployed(dense)
        delays = dense.delays if dense.delays is not None else np.zeros(weights.shape, dtype=np.int64)
        groups = tuple(
            (int(d), (weights * torch.as_tensor((delays == d).astype(np.float64))).T) for d in np.unique(delays)
        )
        return reference.PreparedSynapse(
            source=self.graph.source_of(dense).name,
            target=self.graph.target_of(dense).name,
            weights_t_by_delay=groups,
            weight_exp=dense.weight_exp,
            graded=False,
            delayed=dense.delays is not None,
            name=dense.name,
            formats=self.graph.formats,
        )

    def layer_run(self, layer: LIFInt, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(spikes, v) of `layer` over `batch` samples, fed the teacher's spikes, in integer time and units."""
        step = reference.population_step(layer, self.graph.formats)
        formats = self.graph.formats
        synapses = decay_split.split_sources(
            [self._synapse(d) for d in self.incoming[layer.name]],
            [reference.population_step(p, formats) for p in self.graph.populations],
        )
        steps = next(iter(self.teacher.values())).shape[1]
        a_in = torch.zeros(len(batch), steps, layer.size, dtype=torch.float64)
        for syn in synapses:  # as the reference: each synapse's delivery wraps to the channel, then their sum
            spikes, delivered = self.teacher[syn.source][batch], None
            for delay, weights_t in syn.weights_t_by_delay:
                acc = kernels.dense_accumulate(
                    spikes, weights_t, weight_exp=syn.weight_exp, graded=False, delayed=syn.delayed, formats=formats
                )
                acc = timing.delayed(acc, 1 + delay, time_dim=1)
                delivered = acc if delivered is None else delivered + acc
            a_in = kernels.wrap_channel(a_in + kernels.wrap_channel(delivered, formats), formats)
        u = torch.zeros(len(batch), layer.size, dtype=torch.float64)
        v = torch.zeros_like(u)
        spikes, volts = [], []
        for k in range(steps):
            u, v, s = step.step(u, v, a_in[:, k], k + 1)
            spikes.append(s)
            volts.append(v)
        return torch.stack(spikes, dim=1), torch.stack(volts, dim=1)

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        """The summed per-layer distillation loss of `batch` (see the module docstring)."""
        total = torch.zeros((), dtype=torch.float64)
        for layer in self.layers:
            lag = self.lags[layer.name]
            spikes, v = self.layer_run(layer, batch)
            v_int = v[:, lag:] / self.scales[layer.name]
            v_float = self.float_v[layer.name][batch][:, lag:]
            population = self.net.populations[layer.name]
            if population.spiking:
                v_th = float(np.max(population.v_th))
                s_float = self.float_s[layer.name][batch][:, lag:]
                total = total + ((v_int - v_float) ** 2).mean() / v_th**2 + ((spikes[:, lag:] - s_float) ** 2).mean()
            else:
                norm = float((v_float**2).mean()) or 1.0
                total = total + ((v_int - v_float) ** 2).mean() / norm
        return total

    def to_graph(self) -> DeployGraph:
        """The deploy graph with the current weights, exactly the integers the forward pass uses."""
        nodes = dict(self.graph.nodes)
        with torch.no_grad():
            for name in self.keys:
                dense = self.graph.nodes[name]
                nodes[name] = replace(dense, weights=self.deployed(dense).numpy().astype(np.int64))
        return replace(self.graph, nodes=nodes, metadata={**self.graph.metadata, "distilled": True})


@dataclass(frozen=True)
class DistillResult:
    """A distilled deploy graph and how it got there."""

    graph: DeployGraph
    loss: tuple[float, ...]
    """Mean distillation loss per sample, per epoch."""
    agreement: tuple[dict[str, float], ...]
    """End-to-end spike agreement per spiking layer on the calibration inputs: before (index 0), after each epoch."""
    kept_epoch: int
    """The epoch whose weights were kept (0: the quantized graph was already the best)."""


def distill(
    graph: DeployGraph,
    net: ParsedNetwork,
    inputs: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 16,
    lr: float = 0.5,
    seed: int = 0,
    progress: bool = False,
) -> DistillResult:
    """Fine-tune `graph`'s Dense mantissas so each layer's spikes follow the float network `net` on `inputs`.

    Args:
        graph: the quantized graph of `net` (from `quantize`, with its scales in the metadata).
        net: the float network, the teacher.
        inputs: (samples, steps, n_in) calibration spikes; no labels are used.
        epochs: passes over `inputs`, >= 1; batch_size: samples per Adam step; lr: Adam step in mantissa units.
        seed: seeds the batch order (the result is deterministic).

    Raises:
        SpikeportError: `epochs` < 1, or the graph has no scales.
        UnsupportedNodeError: a synapse into a trained population is not a binary Dense.
    """
    if epochs < 1:
        raise SpikeportError(f"--distill takes a number of epochs >= 1, got {epochs}")
    float_run = simulate_float(net, inputs)
    teacher = LayerTeacher(graph, net, inputs, float_run)
    spiking = {name: pop.spiking for name, pop in net.populations.items()}

    def measure(candidate: DeployGraph) -> dict[str, float]:
        return spike_agreement_by_layer(run_reference(candidate, inputs), float_run, teacher.lags, spiking)

    def mean(agreement: dict[str, float]) -> float:
        return float(np.mean(list(agreement.values()))) if agreement else 1.0

    history = [measure(graph)]
    best_graph, best_epoch = graph, 0
    samples = np.asarray(inputs).shape[0]
    generator = torch.Generator().manual_seed(seed)
    parameters = list(teacher.parameters())
    losses = []
    for epoch in tqdm(range(1, epochs + 1), desc="distillation", unit="epoch", disable=not progress, leave=False):
        total = 0.0
        for batch in torch.randperm(samples, generator=generator).split(batch_size):
            loss = teacher.loss(batch)
            grads = torch.autograd.grad(loss, parameters)
            peak = max((float(g.abs().max()) for g in grads), default=0.0)
            if peak > 0:  # normalised step: the weight with the largest gradient moves lr mantissa units
                with torch.no_grad():
                    for p, g in zip(parameters, grads, strict=True):
                        p -= lr * g / peak
            total += float(loss.detach()) * len(batch)
        losses.append(total / samples)
        candidate = teacher.to_graph()  # end to end on the reference: keep the epoch that agrees best
        history.append(measure(candidate))
        if mean(history[-1]) > mean(history[best_epoch]):
            best_graph, best_epoch = candidate, epoch
    return DistillResult(graph=best_graph, loss=tuple(losses), agreement=tuple(history), kept_epoch=best_epoch)
