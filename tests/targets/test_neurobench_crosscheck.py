"""spikeport's effective ACs/MACs, dense ops, activation sparsity and footprint equal NeuroBench's own metrics.

NeuroBench (neurobench 2.3.0, `neurobench.metrics.workload` / `static`) measures a torch model through hooks on its
connection layers (`nn.Linear`) and activation layers. The model here replays one integer reference run of a
deploy graph: at every step each connection is an `nn.Linear` holding the weights Lava's Dense stores, applied to
the recorded activity of its source, and each population is an activation module that emits the population's
recorded spikes. NeuroBench then counts that activity with its own code, and the numbers must equal
`spikeport.targets.conventions.count_layers` on the same run.

Footprint: NeuroBench counts parameter bytes at their dtype. spikeport's footprint at the deployed bit widths
equals it where the deployed width is a torch dtype (8-bit excitatory weights as uint8); a float32 model's weights
equal spikeport's count at 32 bits. Widths that are not a dtype (5-bit weights, the 9th sign bit of mixed-sign
weights) have no NeuroBench counterpart; they are checked by hand in test_counts_hand.py.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("neurobench", reason="neurobench is a test dependency (pip install neurobench==2.3.0 --no-deps)")

from neurobench.benchmarks import Benchmark  # noqa: E402
from neurobench.metrics.static import Footprint  # noqa: E402
from neurobench.metrics.workload import ActivationSparsity, SynapticOperations  # noqa: E402
from neurobench.models import TorchModel  # noqa: E402
from torch import nn  # noqa: E402

from helpers.graphs import two_layer  # noqa: E402
from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput  # noqa: E402
from spikeport.simulators import run_reference  # noqa: E402
from spikeport.simulators.kernels import effective_weights  # noqa: E402
from spikeport.targets.conventions import count_layers, footprint  # noqa: E402


class ReplayNeurons(nn.Module):
    """An activation layer that outputs a population's recorded spikes, one step per call."""

    def __init__(self, spikes: np.ndarray) -> None:
        super().__init__()
        self.spikes = torch.tensor(spikes, dtype=torch.float32)  # a plain attribute: not a parameter or buffer
        self.t = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.spikes[:, self.t]
        self.t += 1
        return out


class Replay(nn.Module):
    """The deploy graph as NeuroBench sees it: Linear connections and replayed spiking activations."""

    def __init__(self, graph: DeployGraph, record, dtype=torch.float32) -> None:
        super().__init__()
        self.graph = graph
        self.fc = nn.ModuleDict()
        for c in graph.connections:
            layer = nn.Linear(c.in_size, c.out_size, bias=False)
            w = torch.tensor(effective_weights(c.weights, c.num_weight_bits), dtype=dtype)
            layer.weight = nn.Parameter(w, requires_grad=dtype.is_floating_point)
            self.fc[c.name] = layer
        self.act = nn.ModuleDict({p.name: ReplayNeurons(record.populations[p.name].spikes) for p in graph.populations})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for act in self.act.values():
            act.t = 0
        for t in range(x.shape[1]):
            out = {self.graph.input.name: x[:, t]}
            for pop in self.graph.populations:  # feed-forward order
                incoming = [c for c in self.graph.connections if self.graph.target_of(c).name == pop.name]
                drive = sum(self.fc[c.name](out[self.graph.source_of(c).name]) for c in incoming)
                out[pop.name] = self.act[pop.name](drive)
        return out[self.graph.output]


def _neurobench(model: nn.Module, x: np.ndarray) -> dict:
    wrapped = TorchModel(model)
    wrapped.add_activation_module(ReplayNeurons)
    data = torch.utils.data.TensorDataset(torch.tensor(x, dtype=torch.float32), torch.zeros(len(x)))
    loader = torch.utils.data.DataLoader(data, batch_size=len(x), shuffle=False)
    bench = Benchmark(wrapped, loader, [], [], [[Footprint], [SynapticOperations, ActivationSparsity]])
    return bench.run(quiet=True)


@pytest.fixture(scope="module")
def run():
    """SYNTHETIC: a seeded random 2-layer graph (mixed-sign 8-bit, then 5-bit delayed weights) and input spikes."""
    graph = two_layer(n_in=12, n_hidden=16, n_out=4, seed=3)
    rng = np.random.default_rng(7)
    x = (rng.random((6, 20, 12)) < 0.3).astype(np.int64)
    record = run_reference(graph, x)
    return graph, x, record


def test_effective_acs_macs_dense_and_sparsity_equal_neurobench(run) -> None:
    graph, x, record = run
    counts = count_layers(graph, x, record)
    assert counts.total("effective_acs") > 0 and 0 < counts.activation_sparsity() < 1  # a run with activity
    nb = _neurobench(Replay(graph, record), x)
    ops = nb["SynapticOperations"]
    assert ops["Effective_ACs"] == pytest.approx(counts.total("effective_acs"), rel=0, abs=1e-9)
    assert ops["Effective_MACs"] == pytest.approx(counts.total("effective_macs"), rel=0, abs=1e-9) == 0.0
    assert ops["Dense"] == pytest.approx(counts.total("dense"), rel=0, abs=1e-9)
    assert nb["ActivationSparsity"] == pytest.approx(counts.activation_sparsity(), rel=0, abs=1e-12)
    assert nb["Footprint"] == footprint(graph, weight_bits=32)["weights_bytes"]  # float32 weights: 4 bytes each


def test_graded_inputs_are_macs_for_both(run) -> None:
    graph, _, _ = run
    x = np.random.default_rng(1).integers(0, 4, (5, 10, 12))  # graded payloads 0..3
    graded = DeployGraph(
        nodes={**graph.nodes, "in": SpikeInput(name="in", size=12, num_message_bits=8)},
        edges=graph.edges, output=graph.output, metadata=graph.metadata,
    )  # fmt: skip
    record = run_reference(graded, x)
    counts = count_layers(graded, x, record)
    nb = _neurobench(Replay(graded, record), x)["SynapticOperations"]
    assert counts.total("effective_macs") > 0
    assert nb["Effective_MACs"] == pytest.approx(counts.total("effective_macs"), rel=0, abs=1e-9)
    assert nb["Effective_ACs"] == pytest.approx(counts.total("effective_acs"), rel=0, abs=1e-9)


def test_footprint_at_the_deployed_8_bit_width_equals_neurobench() -> None:
    graph = DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=10),
            "d": DenseInt(name="d", weights=np.arange(70).reshape(7, 10) % 200),
            "p": LIFInt(name="p", size=7, du=4095, dv=0, vth=10),
        },
        edges=[("in", "d"), ("d", "p")],
        output="p",
    )
    record = run_reference(graph, np.zeros((1, 2, 10), np.int64))
    model = Replay(graph, record, dtype=torch.uint8)  # 8-bit excitatory weights stored as one byte each
    assert Footprint()(TorchModel(model)) == footprint(graph)["weights_bytes"] == 70
