"""Multi-timescale populations on Lava: one stock `LIF` process per decay group, Dense split by rows and columns.

A Lava `LIF` process has one `du` and one `dv`. A `LIFInt` with per-neuron decays is therefore built as one process
per `LIFInt.decay_groups()` entry (named `POP[gK]`, K in group order), and every `DenseInt` touching it as one Dense
(or DelayDense) process per (source group, target group) pair (named `SYN[I->J]`), holding the rows of the target
group's neurons and the columns of the source group's. Lava adds the pieces arriving on one port, which is what the
reference simulator computes (`spikeport.simulators.decay_split`: each source group's sum is shifted on its own).

Lava picks a Dense's sign mode from its own weights, so a piece of a mixed-sign matrix may be excitatory or
inhibitory; each piece is given the whole matrix's effective weights (`kernels.effective_weights`, what Lava keeps
of the mantissas) and is checked to keep them unchanged in its own mode. It always does except for a -256 (what
mixed truncation makes of -255) in a piece without positive weights: that piece is sent as half the weights with
weight_exp + 1, which delivers the same integers (`_halved`). All-zero pieces get no process, except one per target
group that would otherwise receive nothing (a process not connected to the input is not compiled by Lava).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from spikeport.errors import UnsupportedNodeError
from spikeport.ir import DenseInt, LIFInt, Node
from spikeport.ir.formats import NumberFormats
from spikeport.simulators import kernels

__all__ = ["Part", "dense_pieces", "population_parts"]


@dataclass(frozen=True)
class Part:
    """One Lava process's share of a deploy-graph node: the node it is built from and its neurons' indices."""

    node: Node
    neurons: np.ndarray


def population_parts(node: Node, size: int) -> list[Part]:
    """The parts a population (or the input) is built as: one per decay group of a `LIFInt`, else the whole."""
    groups = node.decay_groups() if isinstance(node, LIFInt) else ()
    if len(groups) < 2:
        return [Part(node, np.arange(size))]
    return [
        Part(
            replace(
                node,
                name=f"{node.name}[g{k}]",
                size=len(g.neurons),
                du=g.du,
                dv=g.dv,
                bias_mant=node.bias_mant[g.neurons],
            ),
            g.neurons,
        )
        for k, g in enumerate(groups)
    ]


def dense_pieces(
    conn: Node, sources: list[Part], targets: list[Part], formats: NumberFormats
) -> list[tuple[Node, int, int]]:
    """(node, source part, target part) for each process `conn` is built as; the node itself if nothing is split.

    Raises:
        UnsupportedNodeError: a connection kind other than `DenseInt` touches a grouped population, or a piece
            would change its effective weights in its own sign mode.
    """
    if len(sources) == 1 and len(targets) == 1:
        return [(conn, 0, 0)]
    if not isinstance(conn, DenseInt):
        raise UnsupportedNodeError(
            f"connection {conn.name!r} ({conn.kind}) touches a population with several decay groups, which Lava runs "
            "as several LIF processes; only dense_int connections can be split between them"
        )
    effective = kernels.effective_weights(conn.weights, conn.num_weight_bits, formats).astype(np.int64)
    pieces = []
    for i, src in enumerate(sources):
        for j, tgt in enumerate(targets):
            rows, cols = np.ix_(tgt.neurons, src.neurons)
            weights, exp = effective[rows, cols], conn.weight_exp
            if not np.any(weights) and (i < len(sources) - 1 or any(p[2] == j for p in pieces)):
                continue  # nothing to deliver: no process, but each target group keeps one (Lava compiles
                # only processes connected to the input)
            if not _kept(weights, conn.num_weight_bits, formats):
                weights, exp = _halved(conn, weights, formats, f"its piece from decay group {i} to group {j}")
            delays = None if conn.delays is None else conn.delays[rows, cols]
            name = f"{conn.name}[{i}->{j}]"
            pieces.append((replace(conn, name=name, weights=weights, weight_exp=exp, delays=delays), i, j))
    return pieces


def _kept(weights: np.ndarray, bits: int, formats: NumberFormats) -> bool:
    return bool(np.array_equal(kernels.effective_weights(weights, bits, formats), weights))


def _halved(conn: DenseInt, weights: np.ndarray, formats: NumberFormats, what: str) -> tuple[np.ndarray, int]:
    """(weights / 2, weight_exp + 1) for a piece whose effective mixed-sign weights its own sign mode would change.

    Only a -256 among non-positive weights does (Lava's inhibitory range ends at -255). Mixed-sign effective
    weights are all even, and a sum S of even weights gives (S/2) << (e+1) == S << e and (S/2) >> (k-1) == S >> k
    (floor) exactly, so the halved piece delivers the same integers.
    """
    half = weights // 2
    if (
        np.any(weights % 2)
        or conn.weight_exp >= formats.weight_exp_range[1]
        or not _kept(half, conn.num_weight_bits, formats)
    ):
        raise UnsupportedNodeError(
            f"connection {conn.name!r}: {what} would change its weights in its own sign mode; keep mantissas "
            "within +-254"
        )
    return half, conn.weight_exp + 1
