"""A chain of stateless NIR nodes between two neuron nodes lowered into one `Synapse` (W, b, delays).

A synapse is the unbranched chain of stateless linear nodes on the way from the input or a population to a
population. Every signal is flattened in C order, and the chain is composed into one dense matrix W (n_out, n_in)
from the maps of `spikeport.export.nir_node_maps`, one constant bias b (n_out,) and the delays d (n_out, n_in) in
steps; a population fed by the input or another population with no node in between gets the identity. Loihi's
Dense always delays by one step, so a synapse with d steps becomes a Dense (d = 1) or a DelayDense with delay
d - 1 (`spikeport.targets.quantize`).

| chain node      | effect                                                                                  |
|-----------------|-----------------------------------------------------------------------------------------|
| Linear, Affine, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten, Scale | their linear map (`nir_node_maps`) |
| Delay           | identity; adds round(delay / dt) steps                                                  |

Delays must be whole steps, and every path from a source neuron to a target neuron through the chain must see the
same delay (so elementwise delays are uniform per source neuron or per target neuron, or sit where paths do not
merge).
"""

from __future__ import annotations

import nir
import numpy as np
from scipy import sparse

from spikeport.errors import IRValidationError
from spikeport.export.network import Synapse
from spikeport.export.nir_node_maps import elementwise, node_map

__all__ = ["CHAIN_NODES", "MAX_SYNAPSE_ENTRIES", "lower_chain"]

CHAIN_NODES = (
    nir.Linear,
    nir.Affine,
    nir.Conv1d,
    nir.Conv2d,
    nir.SumPool2d,
    nir.AvgPool2d,
    nir.Flatten,
    nir.Scale,
    nir.Delay,
)
"""The stateless NIR node types a chain between two neuron nodes may hold."""
MAX_SYNAPSE_ENTRIES = 2**26
"""Largest composed synapse matrix (n_out * n_in entries, 512 MiB in float64): chains are unrolled into dense
matrices, so bigger ones would exhaust memory long before they fit a chip's cores."""


def _uniform(delay) -> bool:
    values = np.asarray(delay, dtype=np.float64).reshape(-1)
    return values.size <= 1 or bool(np.all(values == values[0]))


def _delay_steps(graph: nir.NIRGraph, names: list[str], shape: tuple[int, ...], dt: float) -> np.ndarray:
    """Delay nodes on a signal of `shape`: their summed delays in whole steps, per element (flattened)."""
    total = np.zeros(int(np.prod(shape)), dtype=np.int64)
    for name in names:
        seconds = elementwise(name, "delay", np.asarray(graph.nodes[name].delay, dtype=np.float64), shape)
        if not np.all(np.isfinite(seconds)) or np.any(seconds < 0):
            raise IRValidationError(f"NIR node {name!r}: delay must be finite and >= 0, got {seconds}")
        steps = np.round(seconds / dt)
        if np.any(np.abs(seconds / dt - steps) > 1e-6):
            raise IRValidationError(f"NIR node {name!r}: delay {seconds} s is not a whole number of steps of dt={dt} s")
        total += steps.astype(np.int64)
    return total


def _compose_delays(name: str, matrix, reach: np.ndarray, delay: np.ndarray, delay_nodes: list[str]):
    """Carry per-(element, source neuron) delays through a linear node; every path must keep one delay.

    reach: bool (n, n_src), whether any path of nonzero weights leads from the source neuron to the element;
    delay: int (n, n_src), that path's delay in steps (meaningful where reach).
    """
    structure = sparse.csr_matrix(matrix != 0, dtype=np.int64)
    paths = reach.astype(np.int64)
    count, first, second = structure @ paths, structure @ (paths * delay), structure @ (paths * delay * delay)
    mixed = second * count != first * first  # the delays of the merged paths have nonzero variance
    if np.any(mixed):
        out, src = (int(i[0]) for i in np.nonzero(mixed))
        raise IRValidationError(
            f"NIR node {name!r}: paths from source neuron {src} to its output {out} pass different delays of the "
            f"Delay nodes {delay_nodes}; spikeport needs one delay per source-target pair: make those delays uniform "
            "or put per-neuron delays next to the source or the target population"
        )
    return count > 0, np.where(count > 0, first // np.maximum(count, 1), 0)


def _check_dense_size(source: str, path: tuple[str, ...], target: str, at: str, n_out: int, n_in: int) -> None:
    entries = n_out * n_in
    if entries > MAX_SYNAPSE_ENTRIES:
        route = " -> ".join([source, *path, target])
        raise IRValidationError(
            f"NIR path {route}: at node {at!r} the synapse becomes a dense {n_out} x {n_in} matrix ({entries:,} "
            f"entries, {entries * 8 / 2**30:.1f} GiB); spikeport unrolls linear chains into dense connections of at "
            f"most {MAX_SYNAPSE_ENTRIES:,} entries: reduce the input size or the layer widths, or split the layer"
        )


def lower_chain(
    graph: nir.NIRGraph,
    name: str,
    source: str,
    path: tuple[str, ...],
    target: str,
    shapes: dict[str, tuple[int, ...]],
    target_size: int,
    dt: float,
) -> Synapse:
    """Compose the chain `path` from `source` to `target` into one synapse named `name`.

    Args:
        graph: The (flat) NIR graph holding the chain's nodes.
        name: The synapse's name.
        source: The input node or the source population.
        path: The chain's node names in signal order (may be empty: the identity).
        target: The target population.
        shapes: The shape of the signal every source and population emits (by node name).
        target_size: The number of neurons of `target`.
        dt: Simulation step in seconds (Delay nodes are in seconds).

    Raises:
        IRValidationError: Shapes that do not fit, delays that are not whole steps or differ between the paths of
            one source-target pair, a matrix above `MAX_SYNAPSE_ENTRIES`.
    """
    shape = shapes[source]
    n_src = int(np.prod(shape))
    delay_nodes = [n for n in path if isinstance(graph.nodes[n], nir.Delay)]
    per_path = any(not _uniform(graph.nodes[n].delay) for n in delay_nodes)
    weight = bias = None  # weight None: the identity so far
    reach, delay, uniform_delay = None, None, 0
    if per_path:
        reach, delay = np.eye(n_src, dtype=bool), np.zeros((n_src, n_src), dtype=np.int64)
    for node_name in path:
        node = graph.nodes[node_name]
        if isinstance(node, nir.Delay):
            steps = _delay_steps(graph, [node_name], shape, dt)
            if per_path:
                delay = delay + steps[:, None]
            else:
                uniform_delay += int(steps[0])
            continue
        matrix, node_bias, shape = node_map(node_name, node, shape)
        if matrix is None:
            continue
        _check_dense_size(source, path, target, node_name, int(np.prod(shape)), n_src)
        if weight is None:
            weight = matrix.toarray() if sparse.issparse(matrix) else np.array(matrix, dtype=np.float64)
        else:
            weight = matrix @ weight
        bias = matrix @ bias if bias is not None else None
        if node_bias is not None:
            bias = node_bias if bias is None else bias + node_bias
        if per_path:
            reach, delay = _compose_delays(node_name, matrix, reach, delay, delay_nodes)
    n_out = int(np.prod(shape))
    if n_out != target_size:
        route = " -> ".join([source, *path, target])
        raise IRValidationError(
            f"NIR path {route}: {(path or (source,))[-1]!r} gives {n_out} values (shape {shape}) but {target!r} has "
            f"{target_size} neurons (shape {shapes[target]})"
        )
    if weight is None:
        _check_dense_size(source, path, target, target, n_out, n_src)
    weight = np.eye(n_src) if weight is None else np.asarray(weight, dtype=np.float64)
    if per_path:
        # entries without a path (zero weights) take the smallest delay of their row: no spurious zero delays
        row_min = np.where(reach, delay, np.iinfo(np.int64).max).min(axis=1)
        row_min = np.where(reach.any(axis=1), row_min, int(delay[reach].min()) if reach.any() else 0)
        delay_steps = np.where(reach, delay, row_min[:, None]).astype(np.int64)
    else:
        delay_steps = np.full((n_out, n_src), uniform_delay, dtype=np.int64)
    return Synapse(
        name=name, source=source, target=target, weight=weight, bias=bias, delay_steps=delay_steps, nodes=path
    )
