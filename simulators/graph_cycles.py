"""Whether a deploy graph has recurrent loops (which only the reference's step-by-step order can run)."""

from __future__ import annotations

from spikeport.ir import DeployGraph

__all__ = ["has_cycle"]


def has_cycle(graph: DeployGraph) -> bool:
    """True if some population reaches itself through the graph's synapses (moved out of `reference`)."""
    pops = {p.name for p in graph.populations}
    feeds = {p: set() for p in pops}
    for dense in graph.synapses:
        src = graph.source_of(dense).name
        if src in pops:
            feeds[src].add(graph.target_of(dense).name)
    visiting, done = set(), set()

    def visit(node: str) -> bool:
        if node in done:
            return False
        if node in visiting:
            return True
        visiting.add(node)
        cyclic = any(visit(nxt) for nxt in feeds[node])
        visiting.discard(node)
        done.add(node)
        return cyclic

    return any(visit(p) for p in pops)
