"""A parsed network written back as a standard, flat NIR graph: the "export" half of import -> export round trips.

`parse_nir` reads any supported graph (other frameworks' conventions, convolutions, nested subgraphs) into one
discrete form; `network_to_nir` writes that form with plain NIR nodes, time constants in seconds, so that

    parse_nir(network_to_nir(parse_nir(g)))  ==  parse_nir(g)         (up to float rounding of dt / (dt / tau))

and a spikeport decoder's own export comes back node for node. Each population becomes the neuron node of its
kind with parameters that reproduce its (alpha, beta, gain, bias, v_th) exactly under the table in
`spikeport.export.nir_neurons`; each synapse becomes a Linear (Affine when it has a bias) named after the synapse
and a Delay "NAME_delay" of its delays in seconds: after the Linear when the delay is one per target neuron
(the usual case), before it when it is one per source neuron. Any other delay pattern is written as one
Linear + Delay per delay value ("NAME_d3", "NAME_d3_delay"), the weights split by delay, which re-imports as
several synapses with the same effect.
Convolutions stay unrolled: the composed dense matrices are what the network is.
"""

from __future__ import annotations

import itertools

import nir
import numpy as np

from spikeport.errors import IRValidationError
from spikeport.export.network import ParsedNetwork, Population, Synapse
from spikeport.export.nir_io import neuron_metadata


def _neuron_node(pop: Population, dt: float) -> nir.NIRNode:
    meta = neuron_metadata(dt)
    zeros = np.zeros(pop.size)
    if pop.kind in ("CubaLIF", "CubaLI"):
        params = dict(
            tau_syn=dt / pop.beta,
            tau_mem=dt / pop.alpha,
            r=np.ones(pop.size),
            v_leak=pop.bias / pop.alpha,
            w_in=pop.gain / (pop.alpha * pop.beta),
            metadata=meta,
        )
        if pop.kind == "CubaLI":
            return nir.CubaLI(**params)
        return nir.CubaLIF(v_threshold=pop.v_th, v_reset=zeros, **params)
    if pop.kind in ("LIF", "LI"):
        params = dict(tau=dt / pop.alpha, r=pop.gain / pop.alpha, v_leak=pop.bias / pop.alpha, metadata=meta)
        return nir.LI(**params) if pop.kind == "LI" else nir.LIF(v_threshold=pop.v_th, v_reset=zeros, **params)
    if pop.kind == "IF":
        return nir.IF(r=pop.gain, v_threshold=pop.v_th, v_reset=zeros, metadata=meta)
    if pop.kind == "Threshold":
        return nir.Threshold(threshold=pop.v_th, metadata=meta)
    raise IRValidationError(f"population {pop.name!r} has kind {pop.kind!r}, which has no NIR neuron node")


def _linear(weight: np.ndarray, bias: np.ndarray | None) -> nir.NIRNode:
    return nir.Linear(weight=weight) if bias is None else nir.Affine(weight=weight, bias=bias)


def _synapse_chains(syn: Synapse, dt: float) -> list[list[tuple[str, nir.NIRNode]]]:
    """The synapse as chains of (node name, node) in signal order; one chain unless delays must be split."""
    delays, weight = syn.delay_steps, syn.weight
    if np.all(delays == delays[:, :1]):  # one delay per target neuron (the usual case: all equal)
        chain = [(syn.name, _linear(weight, syn.bias))]
        if np.any(delays[:, 0] > 0):
            chain.append((f"{syn.name}_delay", nir.Delay(delay=delays[:, 0] * dt)))
        return [chain]
    on_path = weight != 0
    per_source = np.where(on_path, delays, -1).max(axis=0)
    if np.all(~on_path | (delays == per_source[None, :])):  # one delay per source neuron
        delay = nir.Delay(delay=np.maximum(per_source, 0) * dt)
        return [[(f"{syn.name}_delay", delay), (syn.name, _linear(weight, syn.bias))]]
    chains = []
    for i, steps in enumerate(np.unique(delays[on_path])):
        name = f"{syn.name}_d{int(steps)}"
        part = _linear(np.where(delays == steps, weight, 0.0), syn.bias if i == 0 else None)
        chain = [(name, part)] + (
            [(f"{name}_delay", nir.Delay(delay=np.full(weight.shape[0], steps * dt)))] * bool(steps)
        )
        chains.append(chain)
    return chains


def network_to_nir(net: ParsedNetwork, *, metadata: dict | None = None) -> nir.NIRGraph:
    """The network as a flat NIR graph of standard nodes (see the module docstring).

    Args:
        net: a parsed network (from `parse_nir`).
        metadata: graph metadata to store besides `dt` (e.g. spikeport's facts about a decoder).
    """
    nodes: dict[str, nir.NIRNode] = {net.input_name: nir.Input(input_type={"input": np.array([net.input_size])})}
    nodes.update({name: _neuron_node(pop, net.dt) for name, pop in net.populations.items()})
    edges = []
    for syn in net.synapses:
        for chain in _synapse_chains(syn, net.dt):
            for name, node in chain:
                if name in nodes:
                    raise IRValidationError(f"synapse node name {name!r} clashes with another node of the network")
                nodes[name] = node
            names = [syn.source, *(name for name, _ in chain), syn.target]
            edges += list(itertools.pairwise(names))
    output_size = net.populations[net.output].size
    nodes["output"] = nir.Output(output_type={"output": np.array([output_size])})
    edges.append((net.output, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": float(net.dt), **(metadata or {})})


def networks_close(a: ParsedNetwork, b: ParsedNetwork, *, rtol: float = 1e-12) -> bool:
    """True if two parsed networks have the same structure and parameters equal up to `rtol` (delays exactly)."""
    if (a.input_name, a.input_size, a.output, list(a.populations)) != (
        b.input_name,
        b.input_size,
        b.output,
        list(b.populations),
    ) or not np.isclose(a.dt, b.dt, rtol=rtol, atol=0):
        return False
    for name, pop in a.populations.items():
        other = b.populations[name]
        if pop.kind != other.kind:
            return False
        for key in ("beta", "alpha", "gain", "bias", "v_th"):
            if not np.allclose(getattr(pop, key), getattr(other, key), rtol=rtol, atol=0):
                return False
    if len(a.synapses) != len(b.synapses):
        return False
    for s, t in zip(a.synapses, b.synapses, strict=True):
        if (s.name, s.source, s.target) != (t.name, t.source, t.target):
            return False
        if not np.array_equal(s.delay_steps, t.delay_steps) or not np.allclose(s.weight, t.weight, rtol=rtol, atol=0):
            return False
        if (s.bias is None) != (t.bias is None) or (s.bias is not None and not np.allclose(s.bias, t.bias, rtol=rtol)):
            return False
    return True
