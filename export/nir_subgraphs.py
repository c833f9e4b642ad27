"""Nested NIR graphs (a `nir.NIRGraph` used as a node, as snnTorch writes recurrent layers) made flat.

A subgraph node's inner nodes are inlined as "SUBGRAPH.NODE" and its inner Input and Output nodes, which only
pass their signal on, are removed: every edge into the subgraph goes to the successors of the Input it names,
every edge out of it leaves from the predecessors of the Output it names. Outer edges may name the subgraph itself
(when it has one Input / one Output) or an inner Input / Output as "SUBGRAPH.INPUT" / "SUBGRAPH.OUTPUT", the two
spellings in use. The graph's own metadata is kept; a subgraph's metadata is recorded under the graph metadata key
`subgraphs` (name -> metadata) so nothing a writer stored is lost.
"""

from __future__ import annotations

import nir

from spikeport.errors import IRValidationError


def has_subgraphs(graph: nir.NIRGraph) -> bool:
    return any(isinstance(node, nir.NIRGraph) for node in graph.nodes.values())


def inline_subgraphs(graph: nir.NIRGraph) -> nir.NIRGraph:
    """The same network with every nested `NIRGraph` node inlined (recursively); `graph` itself is not changed."""
    if not has_subgraphs(graph):
        return graph
    nodes: dict[str, nir.NIRNode] = {}
    entries: dict[str, list[str]] = {}  # outer endpoint name -> the inner nodes an edge into it reaches
    exits: dict[str, list[str]] = {}  # outer endpoint name -> the inner nodes an edge out of it leaves from
    edges: list[tuple[str, str]] = []
    sub_meta: dict[str, dict] = {}
    for name, node in graph.nodes.items():
        if not isinstance(node, nir.NIRGraph):
            nodes[name] = node
            continue
        inner = inline_subgraphs(node)
        if node.metadata:
            sub_meta[name] = dict(node.metadata)
        sub_meta.update({f"{name}.{k}": v for k, v in (inner.metadata or {}).get("subgraphs", {}).items()})
        ports_in = [n for n, inner_node in inner.nodes.items() if isinstance(inner_node, nir.Input)]
        ports_out = [n for n, inner_node in inner.nodes.items() if isinstance(inner_node, nir.Output)]
        for a, b in inner.edges:
            for end in (a, b):
                if end not in inner.nodes:
                    raise IRValidationError(
                        f"NIR subgraph {name!r}: edge {a!r} -> {b!r} names {end!r}, which is not one of its nodes"
                    )
        for port in ports_in:
            entries[f"{name}.{port}"] = [f"{name}.{b}" for a, b in inner.edges if a == port]
        for port in ports_out:
            exits[f"{name}.{port}"] = [f"{name}.{a}" for a, b in inner.edges if b == port]
        if len(ports_in) == 1:
            entries[name] = entries[f"{name}.{ports_in[0]}"]
        if len(ports_out) == 1:
            exits[name] = exits[f"{name}.{ports_out[0]}"]
        ports = set(ports_in) | set(ports_out)
        nodes.update({f"{name}.{n}": inner_node for n, inner_node in inner.nodes.items() if n not in ports})
        edges += [(f"{name}.{a}", f"{name}.{b}") for a, b in inner.edges if a not in ports and b not in ports]
        through = [(a, b) for a, b in inner.edges if a in ports_in and b in ports_out]
        if through:
            raise IRValidationError(
                f"NIR subgraph {name!r}: its Input {through[0][0]!r} feeds its Output {through[0][1]!r} directly; "
                "spikeport needs every subgraph input to reach a node inside it"
            )
    for a, b in graph.edges:
        sources = exits.get(a, [a])
        targets = entries.get(b, [b])
        for end in (a, b):
            if end not in nodes and end not in entries and end not in exits:
                subgraph = end.split(".", 1)[0]
                if subgraph in graph.nodes and isinstance(graph.nodes[subgraph], nir.NIRGraph):
                    raise IRValidationError(
                        f"NIR edge {a!r} -> {b!r}: subgraph {subgraph!r} has no single Input/Output named by "
                        f"{end!r}; name one of its Input or Output nodes as '{subgraph}.NAME'"
                    )
        edges += [(s, t) for s in sources for t in targets]
    metadata = dict(graph.metadata or {})
    if sub_meta:
        metadata["subgraphs"] = sub_meta
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)
