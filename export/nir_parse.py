"""Read a NIR graph into the float intermediate form: topology, validation and `parse_nir`.

`parse_nir` inlines nested subgraphs (`spikeport.export.nir_subgraphs`), checks the graph's shape (one Input, one
Output, no dangling edges, only supported node types), reads every neuron node into a `Population`
(`spikeport.export.nir_neurons`), finds the unbranched chains of linear nodes between the input or a population
and a population, and lowers each into one `Synapse` (`spikeport.export.nir_lowering`). Loops of connections
without delay get one step (`_delay_loops`). The result is a `ParsedNetwork` (`spikeport.export.network`).
"""

from __future__ import annotations

import dataclasses
import warnings

import nir
import numpy as np

from spikeport.errors import IRValidationError, SpikeportWarning, UnsupportedNodeError
from spikeport.export.network import ParsedNetwork, Synapse
from spikeport.export.nir_io import graph_dt
from spikeport.export.nir_lowering import CHAIN_NODES, lower_chain
from spikeport.export.nir_neurons import NEURON_NODES, TAU_CONVENTIONS, neuron_shape, read_population
from spikeport.export.nir_node_maps import shape_of
from spikeport.export.nir_origin import DT_HINTS, RESETS, guess_exporter, neuron_nodes
from spikeport.export.nir_subgraphs import inline_subgraphs

__all__ = ["SUPPORTED", "parse_nir"]

SUPPORTED = (
    "Input, Output, CubaLIF, CubaLI, LIF, LI, IF, Threshold, nested NIRGraph subgraphs, and between neuron nodes "
    "unbranched chains of Linear, Affine, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten, Scale, Delay"
)
"""The NIR node types `parse_nir` reads, as error messages list them."""


def _scalar_node_size(graph: nir.NIRGraph, name: str) -> int | None:
    """The output size of the Linear/Affine feeding a neuron node through Delay nodes at most, if that is > 1."""
    node = name
    while True:
        sources = [a for a, b in graph.edges if b == node]
        if len(sources) != 1:
            return None
        node = sources[0]
        kind = graph.nodes[node]
        if isinstance(kind, nir.Linear | nir.Affine):
            size = int(np.shape(kind.weight)[0])
            return size if size > 1 else None
        if not isinstance(kind, nir.Delay):
            return None


def parse_nir(
    graph: nir.NIRGraph, *, dt: float | None = None, tau_convention: str = "seconds", reset: str | None = None
) -> ParsedNetwork:
    """Validate a NIR graph and read it into a `ParsedNetwork`.

    Nested NIRGraph nodes are inlined first (`spikeport.export.nir_subgraphs`). Neuron nodes (CubaLIF, CubaLI, LIF,
    LI, IF, Threshold) become populations; the chain of linear nodes (Linear, Affine, Conv1d, Conv2d, SumPool2d,
    AvgPool2d, Flatten, Scale, Delay) between the input or a population and a population
    becomes one `Synapse` with a dense weight matrix, named after its first non-Delay node (a direct edge gives
    the identity, named "SOURCE_to_TARGET"). The neuron table is in `spikeport.export.nir_neurons`, the linear
    maps and shape rules in `spikeport.export.nir_node_maps`, the delay rules in `spikeport.export.nir_lowering`.

    Args:
        graph: the NIR graph.
        dt: simulation step in seconds; defaults to the graph's recorded `dt`.
        tau_convention: "seconds" (NIR) or "norse" (time constants as norse <= 1.1's `to_nir` writes them).
        reset: what a spike does to v, which NIR cannot record (`spikeport.export.nir_origin`): None, what the
            file says (v_reset; a `SpikeportWarning` if the graph looks like a framework whose default reset
            subtracts the threshold), "zero" (the same, stated by the caller, no warning), or "subtract", refused:
            the chip resets to zero.

    Raises:
        UnsupportedNodeError: a node type spikeport cannot map (the message lists the supported ones), or linear
            nodes that branch, merge, loop, or do not lead from the input or a neuron node to a neuron node;
            `reset="subtract"` for a graph with spiking neurons.
        IRValidationError: missing dt (the message names the step the exporter assumed), dangling edges, shape
            mismatches, NaN/inf parameters, delays that are not whole steps or differ between the paths of one
            source-target pair, a chain too large to unroll (`MAX_SYNAPSE_ENTRIES`).
    """
    if tau_convention not in TAU_CONVENTIONS:
        raise IRValidationError(f"tau_convention must be one of {TAU_CONVENTIONS}, got {tau_convention!r}")
    if reset is not None and reset not in RESETS:
        raise IRValidationError(f"reset must be one of {RESETS} (CLI: --reset), got {reset!r}")
    if dt is not None and not (np.isfinite(dt) and dt > 0):
        raise IRValidationError(f"dt must be a positive, finite step in seconds, got {dt} (CLI: --dt)")
    try:
        recorded = graph_dt(graph)
    except IRValidationError:
        if dt is None:
            raise
        recorded = float("nan")  # recorded but unreadable, and overridden by the caller's dt
    exporter = guess_exporter(graph) if recorded is None and tau_convention == "seconds" else None
    if dt is None and recorded is None:
        hint = exporter.dt_hint() if exporter is not None else f"the exporters that record none: {DT_HINTS}"
        raise IRValidationError(
            f"the NIR graph records no 'dt' in its metadata; give the step in seconds (CLI: --dt); {hint}"
        )
    if dt is None and not (np.isfinite(recorded) and recorded > 0):
        raise IRValidationError(
            f"the NIR graph records dt={recorded}, not a positive step in seconds; give the right one (CLI: --dt, "
            "which overrides it)"
        )
    _check_reset(graph, reset, exporter)
    dt = dt if dt is not None else recorded
    graph = inline_subgraphs(graph)
    for src, dst in graph.edges:
        for end in (src, dst):
            if end not in graph.nodes:
                raise IRValidationError(f"NIR edge {src!r} -> {dst!r}: node {end!r} does not exist (dangling edge)")
    inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    outputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise UnsupportedNodeError(f"spikeport needs one Input and one Output node, found {inputs} and {outputs}")
    populations, shapes = {}, {}
    for name, node in graph.nodes.items():
        if isinstance(node, NEURON_NODES):
            populations[name] = read_population(name, node, dt, tau_convention)
            shapes[name] = neuron_shape(name, node)
            fed = _scalar_node_size(graph, name) if shapes[name] == (1,) else None
            if fed is not None:  # scalar parameters (norse writes them): one value shared by every neuron fed
                populations[name] = populations[name].broadcast(fed)
                shapes[name] = (fed,)
        elif not isinstance(node, (*CHAIN_NODES, nir.Input, nir.Output)):
            raise UnsupportedNodeError(
                f"NIR node {name!r} has type {type(node).__name__}, which spikeport does not support; "
                f"supported: {SUPPORTED}"
            )
    input_name = inputs[0]
    shapes[input_name] = shape_of(input_name, graph.nodes[input_name].input_type["input"])
    input_size = int(np.prod(shapes[input_name]))
    chains = _chains(graph, input_name, populations)
    used = {n for _, path, _ in chains for n in path}
    for name, node in graph.nodes.items():
        if isinstance(node, CHAIN_NODES) and name not in used:
            raise UnsupportedNodeError(
                f"NIR node {name!r} ({type(node).__name__}) is not on a path from the input or a neuron node to a "
                "neuron node; spikeport maps only linear nodes between two of those"
            )
    position = {name: i for i, name in enumerate(graph.nodes)}
    synapses, taken = [], set(graph.nodes)
    for source, path, target in chains:
        named = [n for n in path if not isinstance(graph.nodes[n], nir.Delay)] or list(path)
        name = named[0] if named else _fresh_name(f"{source}_to_{target}", taken)
        taken.add(name)
        syn = lower_chain(graph, name, source, path, target, shapes, populations[target].size, dt)
        synapses.append((position[named[0] if named else target], syn))
    synapses = _delay_loops(input_name, [syn for _, syn in sorted(synapses, key=lambda item: item[0])])
    output_sources = [a for a, b in graph.edges if b == outputs[0]]
    if len(output_sources) != 1 or output_sources[0] not in populations:
        raise UnsupportedNodeError(f"the Output node must be fed by exactly one neuron node, got {output_sources}")
    return ParsedNetwork(input_name, input_size, populations, synapses, output_sources[0], float(dt))


def _check_reset(graph: nir.NIRGraph, reset: str | None, exporter) -> None:
    """Refuse a subtractive reset (the chip cannot run it); warn when the file cannot say which reset was meant."""
    spiking = any(isinstance(node, nir.CubaLIF | nir.LIF | nir.IF) for node in neuron_nodes(graph))
    if reset == "subtract" and spiking:
        raise UnsupportedNodeError(
            "--reset subtract: the chip sets v to 0 at a spike (Loihi's CUBA LIF neuron, Lava's LIF process, "
            "spikeport's LIFInt) and cannot subtract the threshold; retrain the model with reset to zero "
            "(snnTorch: reset_mechanism='zero'; sinabs: reset_fn=MembraneReset()) and import it with --reset zero"
        )
    if reset is None and exporter is not None:
        warnings.warn(
            f"NIR graph: it looks like {exporter.name} ({exporter.evidence}), whose neurons subtract the threshold "
            f"at a spike by default ({exporter.default_reset}); NIR cannot record the reset, so it is read as reset "
            f"to zero, which is what the chip does. A model trained with subtraction spikes differently here: "
            f"retrain it with {exporter.zero_reset}, and pass --reset zero (load_nir(reset='zero')) to confirm",
            SpikeportWarning,
            stacklevel=3,
        )


def _delay_loops(input_name: str, synapses: list[Synapse]) -> list[Synapse]:
    """Synapses with every loop of zero-delay connections given one step of delay on the connection closing it.

    NIR has no discrete time, so a recurrent connection without a Delay node has no defined step; every framework
    that writes such loops (snnTorch's RLeaky/RSynaptic, norse's recurrent cells) feeds back the previous step's
    spikes. The closing connections are found by a depth-first walk from the input in graph order, and named in a
    `SpikeportWarning`.
    """
    instant = {}
    for i, syn in enumerate(synapses):
        if np.any(syn.delay_steps == 0):
            instant.setdefault(syn.source, []).append(i)
    closing, state = set(), {}  # state: 1 on the current path, 2 done

    def visit(node: str) -> None:
        state[node] = 1
        for i in instant.get(node, []):
            target = synapses[i].target
            if state.get(target) == 1:
                closing.add(i)
            elif target not in state:
                visit(target)
        state[node] = 2

    for root in [input_name, *(syn.target for syn in synapses)]:
        if root not in state:
            visit(root)
    if not closing:
        return synapses
    names = ", ".join(f"{synapses[i].name!r} ({synapses[i].source} -> {synapses[i].target})" for i in sorted(closing))
    warnings.warn(
        f"NIR graph: loop without a Delay node; read as one step of delay on {names}, i.e. the previous step's "
        "spikes feed back (as snnTorch and norse run recurrent layers). Add a Delay node to make this explicit",
        SpikeportWarning,
        stacklevel=3,
    )
    return [
        dataclasses.replace(syn, delay_steps=np.where(syn.delay_steps == 0, 1, syn.delay_steps))
        if i in closing
        else syn
        for i, syn in enumerate(synapses)
    ]


def _fresh_name(base: str, taken: set[str]) -> str:
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def _chains(graph: nir.NIRGraph, input_name: str, populations: dict) -> list[tuple[str, tuple[str, ...], str]]:
    """(source, linear nodes in signal order, target) for every path from the input or a population to a
    population through linear nodes only."""
    out_edges: dict[str, list[str]] = {n: [] for n in graph.nodes}
    in_edges: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for a, b in graph.edges:
        out_edges[a].append(b)
        in_edges[b].append(a)
    chains = []
    for source in (input_name, *populations):
        for first in out_edges[source]:
            if isinstance(graph.nodes[first], nir.Output):
                continue
            path, current = [], first
            while isinstance(graph.nodes[current], CHAIN_NODES):
                kind = type(graph.nodes[current]).__name__
                if len(in_edges[current]) != 1:
                    raise UnsupportedNodeError(
                        f"NIR node {current!r} ({kind}) has {len(in_edges[current])} inputs {in_edges[current]}; "
                        "a linear node between neuron nodes must have one input (merge signals at a neuron node)"
                    )
                path.append(current)
                following = out_edges[current]
                if len(following) != 1:
                    raise UnsupportedNodeError(
                        f"NIR node {current!r} ({kind}) has {len(following)} outputs {following}; the linear nodes "
                        "between two neuron nodes must form one unbranched chain (branch at a neuron node instead)"
                    )
                current = following[0]
                if current in path:
                    raise UnsupportedNodeError(
                        f"NIR node {current!r}: the linear nodes {path} form a loop without a neuron node"
                    )
            if current not in populations:
                route = " -> ".join([source, *path, current])
                raise UnsupportedNodeError(
                    f"NIR path {route}: linear nodes must connect the input or a neuron node to a neuron node, "
                    f"but this one ends at {current!r} ({type(graph.nodes[current]).__name__})"
                )
            chains.append((source, tuple(path), current))
    return chains
