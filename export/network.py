"""The float intermediate form: a spiking network as synapses and neuron populations in one discrete-time form.

`parse_nir` (`spikeport.export.nir_parse`) reads any supported NIR graph into a `ParsedNetwork`;
`simulate_float` (`spikeport.export.nir_float`) runs it in float64, `network_to_nir` writes it back as standard NIR,
and `spikeport.targets.quantize` turns it into the integer deploy graph, which is a pure change of units because
every population follows the same per-step update (dt from the graph):

    x[t]   = sum over synapses of (W @ out_source[t - d] + b)     d: the synapse's delay in steps
    cur[t] = (1 - beta) * cur[t-1] + gain * x[t]
    v[t]   = (1 - alpha) * v[t-1] + cur[t] + bias
    spike where v[t] > v_th, then v[t] <- 0

This is exactly Loihi's CUBA LIF with u = cur and v = v (`docs/fixed-point.md`). How each NIR neuron node maps
onto (beta, alpha, gain, bias, v_th) is in `spikeport.export.nir_neurons`; how a chain of linear NIR nodes becomes
one synapse (W, b, d) is in `spikeport.export.nir_lowering`. Every signal is flattened in C order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ParsedNetwork", "Population", "Synapse"]


@dataclass(frozen=True)
class Synapse:
    """A chain of linear NIR nodes (or none: the identity) between a source (the input or a population) and a
    target population, composed into one matrix; named after its first non-Delay node."""

    name: str
    source: str
    target: str
    weight: np.ndarray
    """float, (n_out, n_in): the composed linear map from the flattened source to the flattened target."""
    bias: np.ndarray | None
    """float, (n_out,), a constant input per step (Affine, Conv biases through the chain), or None."""
    delay_steps: np.ndarray
    """int, (n_out, n_in): steps from a source spike to its effect on the target (Delay nodes; 0 without)."""
    nodes: tuple[str, ...] = field(default=())
    """The NIR nodes composed into this synapse, in signal order (empty for the identity)."""


@dataclass(frozen=True)
class Population:
    """A neuron node in the discrete form of the module docstring (per-neuron arrays, flattened in C order)."""

    name: str
    kind: str
    """The NIR node type it was read from ("CubaLIF", "CubaLI", "LIF", "LI", "IF", "Threshold")."""
    beta: np.ndarray
    """float, (n,): the current's decay per step (1 forgets the previous current)."""
    alpha: np.ndarray
    """float, (n,): the voltage's decay per step (0 integrates without leak)."""
    gain: np.ndarray
    """float, (n,): factor on the synaptic input x[t] as it enters the current."""
    bias: np.ndarray
    """float, (n,): constant added to v every step."""
    v_th: np.ndarray
    """float, (n,): spike threshold on v; inf for non-spiking nodes (CubaLI, LI)."""

    @property
    def size(self) -> int:
        """The number of neurons."""
        return int(self.alpha.shape[0])

    @property
    def spiking(self) -> bool:
        """Whether the population emits spikes (every threshold finite)."""
        return bool(np.all(np.isfinite(self.v_th)))

    def broadcast(self, size: int) -> Population:
        """The population with every per-neuron array broadcast to `size` neurons (from scalar parameters)."""
        keys = ("beta", "alpha", "gain", "bias", "v_th")
        arrays = {k: np.broadcast_to(getattr(self, k), (size,)).copy() for k in keys}
        return Population(name=self.name, kind=self.kind, **arrays)


@dataclass(frozen=True)
class ParsedNetwork:
    """A NIR graph as input size, populations and synapses, with the output population and dt."""

    input_name: str
    """The Input node's name: the source name of the synapses the input feeds."""
    input_size: int
    """Number of input channels (the Input node's shape, flattened)."""
    populations: dict[str, Population]
    """Populations by name, in the graph's node order."""
    synapses: list[Synapse]
    """Synapses in the graph's node order (of their first non-Delay node, else their target)."""
    output: str
    """The population that feeds the Output node."""
    dt: float
    """Simulation step in seconds."""
