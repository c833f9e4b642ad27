"""Quantization-aware fine-tuning: train a deploy graph's integer weights through the chip's own arithmetic.

The forward pass *is* the integer reference simulator (`spikeport.simulators.reference`), run on tensors that
carry gradients: floors, truncations and wrap-arounds pass gradients straight through, spikes use a surrogate
gradient, and the weights are float parameters rounded onto the chip's mantissa grid (straight-through) on every
pass. Because the forward pass and the deployed simulator are one function, a model fine-tuned here deploys with
exactly the accuracy it showed in training, and Lava reproduces it bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from spikeport.errors import UnsupportedNodeError
from spikeport.ir import DeployGraph
from spikeport.ir.nodes import LIFInt
from spikeport.simulators import PopulationTrace, RunRecord, reference


@dataclass(frozen=True)
class IntegerTrainingHistory:
    """Per-epoch loss and training accuracy of `finetune_integer`."""

    loss: tuple[float, ...]
    train_accuracy: tuple[float, ...]


def _grid(weights: torch.Tensor, num_weight_bits: int) -> torch.Tensor:
    """Round onto the mantissas Lava keeps unchanged in any sign mode (multiples of 2**(9 - bits) in [-256, 254])."""
    step = float(2 ** (9 - num_weight_bits))
    rounded = torch.clamp(torch.round(weights / step) * step, -256.0, 256.0 - step)
    return weights + (rounded - weights).detach()


def _check_supported(graph: DeployGraph) -> None:
    for dense in graph.synapses:
        if dense.delays is not None or dense.num_message_bits:
            raise UnsupportedNodeError(f"synapse {dense.name!r}: fine-tuning supports plain binary Dense synapses only")
    for pop in graph.populations:
        if type(pop) is not LIFInt:
            raise UnsupportedNodeError(f"population {pop.name!r}: fine-tuning supports LIFInt populations only")
    if reference.has_cycle(graph):
        raise UnsupportedNodeError("fine-tuning supports feed-forward graphs only")


class IntegerNetwork(torch.nn.Module):
    """A deploy graph whose Dense weights are trainable; `forward` runs the integer reference simulator."""

    def __init__(self, graph: DeployGraph) -> None:
        super().__init__()
        _check_supported(graph)
        self.graph = graph
        self.weights = torch.nn.ParameterDict(
            {d.name: torch.nn.Parameter(torch.tensor(d.weights, dtype=torch.float64)) for d in graph.synapses}
        )
        scales = graph.metadata.get("scales", {})
        out = graph.nodes[graph.output]
        self.readout_scale = float(scales.get(graph.output, out.vth << 6))

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        """Readout voltage per step, (samples, steps, n_out), in the chip's integer units."""
        return self._traces(spikes)[self.graph.output][2]

    def record(self, spikes: np.ndarray) -> RunRecord:
        """Spikes, u and v of every population, as the training-time forward pass computes them."""
        with torch.no_grad():
            traces = self._traces(torch.as_tensor(np.asarray(spikes), dtype=torch.float64))
        pops = {
            name: PopulationTrace(spikes=s.numpy().astype(np.int8), u=u.numpy(), v=v.numpy())
            for name, (s, u, v) in traces.items()
        }
        return RunRecord(backend="training-forward", populations=pops)

    def _traces(self, spikes: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        synapses = [
            reference.PreparedSynapse(
                source=self.graph.source_of(d).name,
                target=self.graph.target_of(d).name,
                weights_t_by_delay=((0, _grid(self.weights[d.name], d.num_weight_bits).T),),
                weight_exp=d.weight_exp,
                graded=False,
                delayed=False,
            )
            for d in self.graph.synapses
        ]
        populations = [reference.PopulationStep(p) for p in self.graph.populations]
        return reference.simulate_feedforward(self.graph.input.name, synapses, populations, spikes)

    def to_graph(self) -> DeployGraph:
        """The deploy graph with the current weights, exactly as the forward pass uses them."""
        nodes = dict(self.graph.nodes)
        for dense in self.graph.synapses:
            with torch.no_grad():
                mantissas = _grid(self.weights[dense.name], dense.num_weight_bits).numpy().astype(np.int64)
            nodes[dense.name] = replace(dense, weights=mantissas)
        return DeployGraph(
            nodes=nodes,
            edges=self.graph.edges,
            output=self.graph.output,
            chip=self.graph.chip,
            metadata={**self.graph.metadata, "integer_finetuned": True},
        )


def integer_predictions(network: IntegerNetwork, spikes: np.ndarray) -> np.ndarray:
    """Classes predicted by the training-time forward pass (argmax of the summed readout voltage)."""
    with torch.no_grad():
        v = network(torch.as_tensor(np.asarray(spikes), dtype=torch.float64))
    return torch.argmax(v.sum(dim=1), dim=1).numpy()


def finetune_integer(
    graph: DeployGraph,
    spikes: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 0.5,
    seed: int = 0,
    progress: bool = True,
) -> tuple[IntegerNetwork, IntegerTrainingHistory]:
    """Fine-tune the Dense mantissas of a feed-forward deploy graph on (spikes, labels) with the integer forward.

    Args:
        graph: a quantized graph (e.g. from `quantize`); its neuron parameters and weight exponents stay fixed.
        spikes: (samples, steps, n_in) binary inputs; labels: (samples,) class indices.
        epochs, batch_size: the usual; lr: Adam step in mantissa units.
        seed: seeds the batch order.

    Returns:
        The trained network (`.to_graph()` gives the deploy graph) and the loss/accuracy history.
    """
    network = IntegerNetwork(graph)
    x = torch.as_tensor(np.asarray(spikes), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses, accuracies = [], []
    for _ in tqdm(range(epochs), desc="integer fine-tuning", unit="epoch", disable=not progress, leave=False):
        order = torch.randperm(len(y), generator=generator)
        total, correct = 0.0, 0
        for start in range(0, len(y), batch_size):
            batch = order[start : start + batch_size]
            logits = network(x[batch]).mean(dim=1) / network.readout_scale
            loss = torch.nn.functional.cross_entropy(logits, y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
            correct += int((logits.argmax(dim=1) == y[batch]).sum())
        losses.append(total / len(y))
        accuracies.append(correct / len(y))
    return network, IntegerTrainingHistory(tuple(losses), tuple(accuracies))
