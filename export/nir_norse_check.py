"""Cross-check of spikeport's float reading of a NIR graph against norse's own NIR reader (`norse.torch.from_nir`).

spikeport's float interpreter (`simulate_float`) defines what an imported graph means; this check runs a second,
independent implementation of the NIR equations on the same graph and compares spikes, population by population.
It runs on the graph as spikeport wrote it back (`network_to_nir`: flat, standard nodes, seconds), cut after each
population, so convolutions and other frameworks' conventions have already been read once; what it checks is the
neuron and synapse semantics.

norse 1.1's `from_nir` supports Affine/Linear, IF, LIF and CubaLIF, but no Delay, LI or CubaLI, ignores `r` of
LIF/IF and feeds `v_leak` of a CubaLIF into its synaptic current as well. A population is compared when every node
on its paths from the input is one norse reads the same way (r = 1, zero v_leak), no loop is among them, and all
paths carry the same delay: the Delay nodes are then removed and norse's spikes compared `lag` steps earlier
(unless a bias sits on a delayed path: spikeport feeds biases from step 0, like Loihi's neuron bias, which a
shifted comparison cannot reproduce).
"""

from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np

from spikeport.export.network import ParsedNetwork
from spikeport.export.nir_network import network_to_nir

NORSE_NEURONS = (nir.CubaLIF, nir.LIF, nir.IF)


@dataclass(frozen=True)
class NorseCheck:
    """One population's spikes in spikeport's float run against norse's `from_nir` run of the same graph."""

    population: str
    lag: int
    """Steps of Delay removed on the way from the input (norse runs without them)."""
    spike_agreement: float | None
    """Fraction of (sample, step, neuron) with equal spikes; None when not applicable."""
    reason: str = ""
    """Why norse cannot run this population (empty when it was compared)."""

    def describe(self) -> str:
        if self.spike_agreement is None:
            return f"{self.population}: not compared ({self.reason})"
        unit = "step" if self.lag == 1 else "steps"
        shifted = f", Delay nodes removed, compared {self.lag} {unit} earlier" if self.lag else ""
        return f"{self.population}: spikes agree {self.spike_agreement:.2%} with norse.from_nir{shifted}"


def _unsupported(name: str, node: nir.NIRNode) -> str:
    if isinstance(node, nir.Input | nir.Linear | nir.Affine | nir.Delay):
        return ""
    if not isinstance(node, NORSE_NEURONS):
        return f"norse's from_nir has no {type(node).__name__} ({name!r})"
    if isinstance(node, nir.LIF | nir.IF) and not np.allclose(node.r, 1.0):
        return f"norse's from_nir ignores r of {type(node).__name__} ({name!r})"
    if isinstance(node, nir.CubaLIF | nir.LIF) and not np.allclose(node.v_leak, 0.0):
        return f"norse's from_nir reads v_leak differently ({name!r})"
    return ""


def _ancestors(graph: nir.NIRGraph, name: str) -> set[str]:
    found, pending = {name}, [name]
    while pending:
        node = pending.pop()
        for a, b in graph.edges:
            if b == node and a not in found:
                found.add(a)
                pending.append(a)
    return found


def _lags(graph: nir.NIRGraph, nodes: set[str], dt: float) -> dict[str, set[int]] | None:
    """Per node, the set of total Delay steps on paths from the input; None if the nodes contain a loop."""
    lags: dict[str, set[int]] = {n: set() for n in nodes}
    lags[next(n for n in nodes if isinstance(graph.nodes[n], nir.Input))] = {0}
    for _ in range(len(nodes) + 1):
        changed = False
        for a, b in graph.edges:
            if a in nodes and b in nodes:
                own = graph.nodes[b]
                extra = round(float(np.max(own.delay)) / dt) if isinstance(own, nir.Delay) else 0
                new = {lag + extra for lag in lags[a]} - lags[b]
                if new:
                    lags[b] |= new
                    changed = True
        if not changed:
            return lags
    return None


def _truncated(graph: nir.NIRGraph, keep: set[str], output: str) -> nir.NIRGraph:
    """The nodes `keep` without their Delay nodes (edges rewired around them), with an Output after `output`."""
    delays = {n for n in keep if isinstance(graph.nodes[n], nir.Delay)}
    edges = [(a, b) for a, b in graph.edges if a in keep and b in keep]
    for d in delays:
        into = [a for a, b in edges if b == d]
        out_of = [b for a, b in edges if a == d]
        edges = [(a, b) for a, b in edges if d not in (a, b)] + [(a, b) for a in into for b in out_of]
    nodes = {n: graph.nodes[n] for n in graph.nodes if n in keep and n not in delays}
    size = int(np.size(graph.nodes[output].v_threshold))
    nodes["norse_check_output"] = nir.Output(output_type={"output": np.array([size])})
    return nir.NIRGraph(nodes=nodes, edges=[*edges, (output, "norse_check_output")], type_check=False)


def _run_norse(graph: nir.NIRGraph, inputs: np.ndarray, dt: float) -> np.ndarray:
    import logging

    import torch
    from norse.torch import from_nir

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # from_nir logs a warning per parameter it reads differently
    try:
        module = from_nir(graph, dt=dt, ignore_warnings=True).double()
    finally:
        root.setLevel(level)
    state, out = None, []
    with torch.no_grad():
        for t in range(inputs.shape[1]):
            spikes, state = module(torch.as_tensor(inputs[:, t], dtype=torch.float64), state)
            out.append(spikes.numpy())
    return np.stack(out, axis=1)


def norse_cross_check(net: ParsedNetwork, inputs: np.ndarray, float_spikes: dict[str, np.ndarray]) -> list[NorseCheck]:
    """Compare every spiking population that norse can run with spikeport's float spikes.

    Args:
        net: the parsed network.
        inputs: (samples, steps, n_in) input spikes.
        float_spikes: population name -> (samples, steps, n) spikes of `simulate_float(net, inputs)`.
    """
    graph = network_to_nir(net)
    checks = []
    for name, pop in net.populations.items():
        if not pop.spiking:
            checks.append(NorseCheck(name, 0, None, f"non-spiking {pop.kind}: norse's from_nir has no LI/CubaLI"))
            continue
        keep = _ancestors(graph, name)
        reason = next((r for r in (_unsupported(n, graph.nodes[n]) for n in sorted(keep)) if r), "")
        lags = None if reason else _lags(graph, keep, net.dt)
        if not reason and lags is None:
            reason = "a loop on the way from the input (norse's from_nir runs no recurrence)"
        elif not reason and len(lags[name]) != 1:
            reason = f"paths from the input with different delays {sorted(lags[name])}"
        if reason:
            checks.append(NorseCheck(name, 0, None, reason))
            continue
        (lag,) = lags[name]
        biased = [n for n in sorted(keep) if isinstance(graph.nodes[n], nir.Affine) and np.any(graph.nodes[n].bias)]
        if lag and biased:
            reason = (
                f"bias of {biased[0]!r} on a delayed path: spikeport applies it from step 0 (a neuron bias on "
                "Loihi), so removing the Delay nodes changes the first steps"
            )
            checks.append(NorseCheck(name, 0, None, reason))
            continue
        theirs = _run_norse(_truncated(graph, keep, name), inputs, net.dt)
        steps = inputs.shape[1] - lag
        ours = float_spikes[name][:, lag:]
        agreement = float(np.mean(ours == theirs[:, :steps])) if ours.size else 1.0
        checks.append(NorseCheck(name, lag, agreement))
    return checks
