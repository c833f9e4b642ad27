"""A NIR graph read as a network of synapses and neuron populations in one discrete-time form.

Every supported neuron node becomes a `Population` with the same per-step update (dt from the graph):

    x[t]   = sum over synapses of W @ out_source[t - d]     d: the synapse's delay in steps (NIR Delay nodes)
    cur[t] = (1 - beta) * cur[t-1] + gain * x[t]
    v[t]   = (1 - alpha) * v[t-1] + cur[t] + bias
    spike where v[t] > v_th, then v[t] <- 0

| NIR node | beta        | alpha     | gain                 | bias                      |
|----------|-------------|-----------|----------------------|---------------------------|
| CubaLIF  | dt/tau_syn  | dt/tau_mem| dt/tau_mem * r * w_in| dt/tau_mem * v_leak       |
| CubaLI   | dt/tau_syn  | dt/tau_mem| dt/tau_mem * r * w_in| dt/tau_mem * v_leak (no spikes) |
| LIF      | 1           | dt/tau    | dt/tau * r           | dt/tau * v_leak           |
| LI       | 1           | dt/tau    | dt/tau * r           | dt/tau * v_leak (no spikes) |
| IF       | 1           | 0         | r                    | 0                         |

This is norse's forward-Euler discretization (see `spikeport.export.nir_io`) written so that it is exactly
Loihi's CUBA LIF with u = cur and v = v, which is what makes quantization a pure change of units. A synapse is a
Linear or Affine node, optionally preceded and/or followed by Delay nodes; Loihi's Dense always delays by one step,
so a synapse with d steps becomes a Dense (d = 1) or a DelayDense with delay d - 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np

from spikeport.errors import IRValidationError, UnsupportedNodeError
from spikeport.export.nir_io import graph_dt

NEURON_NODES = (nir.CubaLIF, nir.CubaLI, nir.LIF, nir.LI, nir.IF)
SYNAPSE_NODES = (nir.Linear, nir.Affine)
SUPPORTED = "Input, Output, Linear, Affine, Delay (next to a Linear/Affine), CubaLIF, CubaLI, LIF, LI, IF"


@dataclass(frozen=True)
class Synapse:
    """A Linear/Affine node between a source (the input or a population) and a target population."""

    name: str
    source: str
    target: str
    weight: np.ndarray
    """float, (n_out, n_in), as in the NIR node."""
    bias: np.ndarray | None
    """float, (n_out,), a constant input current per step (Affine), or None."""
    delay_steps: np.ndarray
    """int, (n_out, n_in): steps from a source spike to its effect on the target (Delay nodes; 0 without)."""


@dataclass(frozen=True)
class Population:
    """A neuron node in the discrete form of the module docstring (per-neuron arrays)."""

    name: str
    kind: str
    beta: np.ndarray
    alpha: np.ndarray
    gain: np.ndarray
    bias: np.ndarray
    v_th: np.ndarray
    """inf for non-spiking nodes (CubaLI, LI)."""

    @property
    def size(self) -> int:
        return int(self.alpha.shape[0])

    @property
    def spiking(self) -> bool:
        return bool(np.all(np.isfinite(self.v_th)))


@dataclass(frozen=True)
class ParsedNetwork:
    """A NIR graph as input size, populations and synapses, with the output population and dt."""

    input_name: str
    input_size: int
    populations: dict[str, Population]
    synapses: list[Synapse]
    output: str
    dt: float


def _params(name: str, node: nir.NIRNode, *fields: str) -> dict[str, np.ndarray]:
    out = {}
    for field in fields:
        value = np.atleast_1d(np.asarray(getattr(node, field), dtype=np.float64))
        if not np.all(np.isfinite(value)) and not (field == "v_threshold" and np.all(np.isposinf(value))):
            raise IRValidationError(f"NIR node {name!r}: parameter {field!r} contains NaN or infinite values")
        out[field] = value
    return out


def _population(name: str, node: nir.NIRNode, dt: float) -> Population:
    kind = type(node).__name__
    if isinstance(node, nir.CubaLIF | nir.CubaLI):
        p = _params(name, node, "tau_syn", "tau_mem", "r", "v_leak", "w_in")
        alpha, beta = dt / p["tau_mem"], dt / p["tau_syn"]
        gain = alpha * p["r"] * np.broadcast_to(p["w_in"], alpha.shape)
    elif isinstance(node, nir.LIF | nir.LI):
        p = _params(name, node, "tau", "r", "v_leak")
        alpha = dt / p["tau"]
        beta, gain = np.ones_like(alpha), alpha * p["r"]
    else:  # IF
        p = _params(name, node, "r", "v_threshold")
        alpha, beta, gain = np.zeros_like(p["r"]), np.ones_like(p["r"]), p["r"]
        p["v_leak"] = np.zeros_like(alpha)
    if np.any(alpha < 0) or np.any(alpha > 1) or np.any(beta <= 0) or np.any(beta > 1):
        raise IRValidationError(
            f"NIR node {name!r}: time constants must be >= dt ({dt} s); got decays alpha in "
            f"[{alpha.min():.3g}, {alpha.max():.3g}], beta in [{beta.min():.3g}, {beta.max():.3g}]"
        )
    if isinstance(node, nir.CubaLI | nir.LI):
        v_th = np.full_like(alpha, np.inf)
    else:
        v_th = _params(name, node, "v_threshold")["v_threshold"] * np.ones_like(alpha)
        v_reset = np.asarray(getattr(node, "v_reset", 0.0), dtype=np.float64)
        if np.any(v_reset != 0):
            raise UnsupportedNodeError(f"NIR node {name!r}: v_reset must be 0 (Loihi resets v to 0), got {v_reset}")
    return Population(name=name, kind=kind, beta=beta, alpha=alpha, gain=gain, bias=alpha * p["v_leak"], v_th=v_th)


def parse_nir(graph: nir.NIRGraph, *, dt: float | None = None) -> ParsedNetwork:
    """Validate a NIR graph and read it into a `ParsedNetwork`.

    Args:
        graph: the NIR graph.
        dt: simulation step in seconds; defaults to the graph's recorded `dt`.

    Raises:
        UnsupportedNodeError: a node type spikeport cannot map (the message lists the supported ones).
        IRValidationError: missing dt, dangling edges, shape mismatches, NaN/inf parameters.
    """
    dt = dt if dt is not None else graph_dt(graph)
    if dt is None or not dt > 0:
        raise IRValidationError("the NIR graph records no positive 'dt' in its metadata; pass dt explicitly")
    for src, dst in graph.edges:
        for end in (src, dst):
            if end not in graph.nodes:
                raise IRValidationError(f"NIR edge {src!r} -> {dst!r}: node {end!r} does not exist (dangling edge)")
    inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    outputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise UnsupportedNodeError(f"spikeport needs one Input and one Output node, found {inputs} and {outputs}")
    populations, synapses = {}, []
    for name, node in graph.nodes.items():
        if isinstance(node, NEURON_NODES):
            populations[name] = _population(name, node, dt)
        elif not isinstance(node, (*SYNAPSE_NODES, nir.Delay, nir.Input, nir.Output)):
            raise UnsupportedNodeError(
                f"NIR node {name!r} has type {type(node).__name__}, which spikeport does not support; "
                f"supported: {SUPPORTED}"
            )
    input_size = int(np.prod(graph.nodes[inputs[0]].input_type["input"]))
    sizes = {inputs[0]: input_size, **{n: p.size for n, p in populations.items()}}
    for name, node in graph.nodes.items():
        if isinstance(node, SYNAPSE_NODES):
            synapses.append(_synapse(graph, name, node, sizes, dt))
    used_delays = {d for syn in synapses for d in syn_delay_nodes(graph, syn.name)}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.Delay) and name not in used_delays:
            raise UnsupportedNodeError(
                f"NIR Delay node {name!r} must sit directly before or after a Linear/Affine node"
            )
    output_sources = [a for a, b in graph.edges if b == outputs[0]]
    if len(output_sources) != 1 or output_sources[0] not in populations:
        raise UnsupportedNodeError(f"the Output node must be fed by exactly one neuron node, got {output_sources}")
    return ParsedNetwork(inputs[0], input_size, populations, synapses, output_sources[0], float(dt))


def _walk_delays(graph: nir.NIRGraph, start: str, forward: bool) -> tuple[list[str], str | None]:
    """Follow single edges through Delay nodes from `start`; returns (delay nodes passed, first other node)."""
    passed, node = [], start
    while True:
        nxt = [b for a, b in graph.edges if a == node] if forward else [a for a, b in graph.edges if b == node]
        if len(nxt) != 1:
            return passed, None
        if not isinstance(graph.nodes[nxt[0]], nir.Delay):
            return passed, nxt[0]
        passed.append(nxt[0])
        node = nxt[0]


def syn_delay_nodes(graph: nir.NIRGraph, name: str) -> list[str]:
    """The Delay nodes that belong to synapse `name` (before and after it)."""
    return _walk_delays(graph, name, False)[0] + _walk_delays(graph, name, True)[0]


def _delay_steps(graph: nir.NIRGraph, names: list[str], size: int, dt: float) -> np.ndarray:
    total = np.zeros(size, dtype=np.int64)
    for name in names:
        seconds = np.broadcast_to(np.asarray(graph.nodes[name].delay, dtype=np.float64), (size,))
        if not np.all(np.isfinite(seconds)) or np.any(seconds < 0):
            raise IRValidationError(f"NIR node {name!r}: delay must be finite and >= 0, got {seconds}")
        steps = np.round(seconds / dt)
        if np.any(np.abs(seconds / dt - steps) > 1e-6):
            raise IRValidationError(f"NIR node {name!r}: delay {seconds} s is not a whole number of steps of dt={dt} s")
        total += steps.astype(np.int64)
    return total


def _synapse(graph: nir.NIRGraph, name: str, node: nir.NIRNode, sizes: dict[str, int], dt: float) -> Synapse:
    weight = np.asarray(node.weight, dtype=np.float64)
    bias = np.asarray(node.bias, dtype=np.float64) if isinstance(node, nir.Affine) else None
    for field, value in (("weight", weight), ("bias", bias)):
        if value is not None and not np.all(np.isfinite(value)):
            raise IRValidationError(f"NIR node {name!r}: {field} contains NaN or infinite values")
    before, src = _walk_delays(graph, name, False)
    after, dst = _walk_delays(graph, name, True)
    populations = [n for n in sizes if not isinstance(graph.nodes[n], nir.Input)]
    if src not in sizes or dst not in populations:
        raise UnsupportedNodeError(
            f"NIR node {name!r} ({type(node).__name__}) must connect the input or a neuron node to a neuron node "
            f"(through Delay nodes at most); it has source {src!r} and target {dst!r}"
        )
    if weight.ndim != 2 or weight.shape != (sizes[dst], sizes[src]):
        raise IRValidationError(
            f"NIR edge {src!r} -> {name!r} -> {dst!r}: weight shape {weight.shape} does not match "
            f"({sizes[dst]}, {sizes[src]})"
        )
    delays = _delay_steps(graph, before, sizes[src], dt)[None, :] + _delay_steps(graph, after, sizes[dst], dt)[:, None]
    return Synapse(name=name, source=src, target=dst, weight=weight, bias=bias, delay_steps=delays)
