"""Quantization-aware fine-tuning: train a deploy graph's integer weights through the chip's own arithmetic.

The forward pass *is* the integer reference simulator (`spikeport.simulators.reference`), run on tensors that
carry gradients: floors, truncations and wrap-arounds pass gradients straight through, spikes use a surrogate
gradient, and the weights are float parameters rounded (straight-through) on every pass onto the mantissa grid of
their synapse's sign mode, then taken as Lava's Dense uses them (`NumberFormats.effective_weights`). Because the
forward pass and the deployed simulator are one function, a model fine-tuned here deploys with
exactly the accuracy it showed in training, and Lava reproduces it bit for bit.

The loss follows the graph's readout (`metadata["readout"]`, see `spikeport.train.models.readout`): cross-entropy
of the readout's outputs for classification, mean squared error for regression. Batches, Adam and the history come
from the shared loop (`spikeport.train.loop`). `KIND_TABLE` states what fine-tuning does with every node kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from spikeport.errors import UnsupportedNodeError
from spikeport.ir import DeployGraph, Node
from spikeport.ir.formats import NumberFormats, WeightGrid, sign_mode
from spikeport.ir.kinds import KindTable, Unsupported
from spikeport.simulators import PopulationTrace, RunRecord, reference
from spikeport.train.loop import BatchResult, train_loop
from spikeport.train.models.readout import Readout, readout_of, readout_scale
from spikeport.train.tasks import TaskKind

__all__ = [
    "KIND_TABLE", "IntegerNetwork", "IntegerTrainingHistory", "finetune_integer", "integer_predictions", "synapse_grid",
]  # fmt: skip


def _source(node: Node) -> None:
    """The input: its spikes are fed as given (nothing to train)."""


def _trainable_dense(node: Node) -> None:
    """A binary Dense synapse: its mantissas become trainable parameters (weight_exp stays fixed)."""
    if node.delays is not None or node.num_message_bits:
        raise UnsupportedNodeError(
            f"synapse {node.name!r}: fine-tuning supports plain binary Dense synapses only "
            f"(got delays={'set' if node.delays is not None else None}, num_message_bits={node.num_message_bits})"
        )


def _fixed_population(node: Node) -> None:
    """A LIF population: its parameters stay fixed; spikes pass the surrogate gradient of the integer kernels."""


KIND_TABLE: KindTable[Callable[[Node], None]] = KindTable(
    "integer training forward",
    {
        "spike_input": _source,
        "dense_int": _trainable_dense,
        "lif_int": _fixed_population,
        "lif_reset_int": Unsupported(
            "the periodic state reset is not trained through; fine-tuning is verified for LIFInt populations only"
        ),
        "ternary_lif_int": Unsupported("ternary spikes have no surrogate gradient in the integer kernels"),
        "plastic_dense_int": Unsupported(
            "its weights are learned on chip by its rule, not by gradient; freeze them first "
            "(spikeport.simulators.learning.with_learned_weights)"
        ),
        "spike_attention_int": Unsupported(
            "spike-driven attention's AND units and gate have no surrogate gradient in the integer kernels; "
            "fine-tune the float layer (train/layers/attention.py) and re-export"
        ),
    },
)
"""What fine-tuning does with each node kind (a handler checks the node), or why it refuses the kind."""


@dataclass(frozen=True)
class IntegerTrainingHistory:
    """Per-epoch loss and training metric of `finetune_integer`."""

    loss: tuple[float, ...]
    """Mean loss per sample (cross-entropy, or mean squared error in float units for regression)."""
    train_metric: tuple[float, ...]
    """Running training accuracy (classification) or mean squared error (regression) per epoch."""
    metric_name: str = "accuracy"
    """'accuracy' or 'mse'."""

    @property
    def train_accuracy(self) -> tuple[float, ...]:
        """The training metric of a classification fine-tuning (kept under its former name)."""
        return self.train_metric


def synapse_grid(dense: Node, formats: NumberFormats) -> WeightGrid:
    """The mantissa grid of a deploy-graph Dense: the grid of the sign mode Lava infers from its stored weights.

    The quantizer puts an all-positive synapse on the excitatory grid ([0, 255] in steps of 1 at 8 bits) and an
    all-negative one on the inhibitory grid ([-255, 0]); only mixed-sign synapses use the coarser mixed grid
    (even values in [-256, 254]). Rounding every synapse onto the mixed grid would move 255 to 254 and -255 to -256.
    """
    return formats.weight_grid(sign_mode(dense.weights), dense.num_weight_bits)


def _on_grid(weights: torch.Tensor, grid: WeightGrid, num_weight_bits: int, formats: NumberFormats) -> torch.Tensor:
    """Round onto the synapse's grid, then take the weights Lava's Dense would use (`effective_weights`), with
    gradients passed straight through both steps.

    Clamping to a single-sign grid keeps the sign mode, so `effective_weights` changes nothing there; it matters for
    a mixed-grid matrix that training has turned single-signed (-256 in an all-non-positive matrix becomes -255,
    as in Lava's inhibitory mode), so the forward pass uses exactly the deployed integers in every case.
    """
    step = float(grid.step)
    rounded = torch.clamp(torch.round(weights.detach() / step) * step, float(grid.low), float(grid.high))
    used = formats.effective_weights(rounded.numpy().astype(np.int64), num_weight_bits)
    return weights + (torch.as_tensor(used, dtype=weights.dtype) - weights).detach()


class IntegerNetwork(torch.nn.Module):
    """A deploy graph whose Dense weights are trainable; `forward` runs the integer reference simulator.

    Raises:
        UnsupportedNodeError: If the graph has a node kind `KIND_TABLE` refuses, or a cycle.
    """

    def __init__(self, graph: DeployGraph) -> None:
        super().__init__()
        for node in graph.nodes.values():
            KIND_TABLE.handler(node)(node)
        if reference.has_cycle(graph):
            raise UnsupportedNodeError("fine-tuning supports feed-forward graphs only")
        self.graph = graph
        # torch refuses "." in parameter names, which inlined NIR extension blocks put in node names
        # ("attention.kv", "memory.readout"): keyed by synapse index; `parameter_keys` maps names to keys.
        self.parameter_keys = {d.name: f"w{i}" for i, d in enumerate(graph.synapses)}
        self.grids = {d.name: synapse_grid(d, graph.formats) for d in graph.synapses}
        # start from the weights Lava uses (`effective_weights`), so the forward pass equals the reference at once
        self.weights = torch.nn.ParameterDict(
            {
                self.parameter_keys[d.name]: torch.nn.Parameter(
                    torch.tensor(graph.formats.effective_weights(d.weights, d.num_weight_bits), dtype=torch.float64)
                )
                for d in graph.synapses
            }
        )
        self.readout: Readout = readout_of(graph.metadata)
        self.readout_scale = readout_scale(graph)

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        """Readout voltage per step, (samples, steps, n_out), in the chip's integer units."""
        return self._traces(spikes)[self.graph.output][2]

    def record(self, spikes: np.ndarray) -> RunRecord:
        """Spikes, u and v of every population, as the training-time forward pass computes them."""
        with torch.no_grad():
            traces = self._traces(torch.as_tensor(np.asarray(spikes), dtype=torch.float64))
        pops = {}
        for pop in self.graph.populations:  # in graph order, as the reference records them
            s, u, v = traces[pop.name]
            pops[pop.name] = PopulationTrace(spikes=s.numpy().astype(np.int8), u=u.numpy(), v=v.numpy())
        return RunRecord(backend="training-forward", populations=pops)

    def deployed_weights(self, name: str) -> torch.Tensor:
        """The integer weights synapse `name` uses in the forward pass (what `to_graph` stores), with gradients."""
        dense = self.graph.nodes[name]
        weights = self.weights[self.parameter_keys[name]]
        return _on_grid(weights, self.grids[name], dense.num_weight_bits, self.graph.formats)

    def _traces(self, spikes: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        synapses = [
            reference.PreparedSynapse(
                source=self.graph.source_of(d).name,
                target=self.graph.target_of(d).name,
                weights_t_by_delay=((0, self.deployed_weights(d.name).T),),
                weight_exp=d.weight_exp,
                graded=False,
                delayed=False,
                name=d.name,
                formats=self.graph.formats,
            )
            for d in self.graph.synapses
        ]
        populations = [reference.PopulationStep(p, formats=self.graph.formats) for p in self.graph.populations]
        return reference.simulate_feedforward(self.graph.input.name, synapses, populations, spikes)

    def to_graph(self) -> DeployGraph:
        """The deploy graph with the current weights, exactly as the forward pass uses them."""
        nodes = dict(self.graph.nodes)
        for dense in self.graph.synapses:
            with torch.no_grad():
                mantissas = self.deployed_weights(dense.name).numpy().astype(np.int64)
            nodes[dense.name] = replace(dense, weights=mantissas)
        return DeployGraph(
            nodes=nodes,
            edges=self.graph.edges,
            output=self.graph.output,
            chip=self.graph.chip,
            formats=self.graph.formats,
            metadata={**self.graph.metadata, "integer_finetuned": True},
        )


def integer_predictions(network: IntegerNetwork, spikes: np.ndarray) -> np.ndarray:
    """Predictions of the training-time forward pass through the graph's readout (as for any RunRecord)."""
    with torch.no_grad():
        v = network(torch.as_tensor(np.asarray(spikes), dtype=torch.float64))
    return network.readout.predict(v.numpy(), network.readout_scale)


def finetune_integer(
    graph: DeployGraph,
    spikes: np.ndarray,
    targets: np.ndarray,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 0.5,
    seed: int = 0,
    progress: bool = True,
) -> tuple[IntegerNetwork, IntegerTrainingHistory]:
    """Fine-tune the Dense mantissas of a feed-forward deploy graph on (spikes, targets) with the integer forward.

    Args:
        graph: a quantized graph (e.g. from `quantize`); its neuron parameters and weight exponents stay fixed,
            and its recorded readout selects the loss.
        spikes: (samples, steps, n_in) binary inputs.
        targets: (samples,) class indices, or (samples, n_out) values for a regression readout.
        epochs, batch_size: passes and samples per step of the shared loop; lr: Adam step in mantissa units.
        seed: seeds the batch order.

    Returns:
        The trained network (`.to_graph()` gives the deploy graph) and the loss/metric history.

    Raises:
        UnsupportedNodeError: If the graph cannot be fine-tuned (see `KIND_TABLE`).
    """
    network = IntegerNetwork(graph)
    x = torch.as_tensor(np.asarray(spikes), dtype=torch.float64)
    regression = network.readout.task is TaskKind.REGRESSION
    y = torch.as_tensor(np.asarray(targets), dtype=torch.float64 if regression else torch.int64)

    def step(batch: torch.Tensor) -> BatchResult:
        outputs = network.readout.outputs(network(x[batch]), network.readout_scale)
        if regression:
            squared = ((outputs - y[batch]) ** 2).mean(dim=1)
            loss = squared.mean()
            metric = float(squared.detach().sum())
        else:
            loss = torch.nn.functional.cross_entropy(outputs, y[batch])
            metric = int((outputs.argmax(dim=1) == y[batch]).sum())
        return BatchResult(loss=loss, loss_sum=float(loss.detach()) * len(batch), metric_sum=metric)

    history = train_loop(
        network.parameters(),
        step,
        len(y),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        progress=progress,
        desc="integer fine-tuning",
    )
    return network, IntegerTrainingHistory(history.loss, history.metric, "mse" if regression else "accuracy")
