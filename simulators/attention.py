"""The integer reference of `AttentionInt` (spike-driven self-attention as one connection node).

The block's semantics are in `spikeport.ir.attention` and docs/fixed-point.md ("Spike-driven attention"). This
module computes them over whole spike trains at once, batched over samples in torch float64 (every value is an
integer well inside float64's exact range): the projections are sums of weight columns over active inputs, the
Q, K, V neurons run `kernels.lif_update` (Loihi's CUBA LIF, bit-exact to Lava), and the attention itself is ANDs
of 0/1 spikes, a count over tokens and a comparison. After the Q, K, V projections (and the output projection,
a second spike-driven sum of weights) nothing is multiplied.

The reference simulator (`spikeport.simulators.reference`) calls `PreparedAttention.deliver` where it would take
a Dense synapse's product: the node's output at step t is what its target population receives at step t. The
Lava process (`spikeport.simulators.lava.processes.attention`) is an independent step-by-step implementation of
the same semantics; tests/simulators/lava/test_attention_lava.py compares the two bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from spikeport.errors import IRValidationError
from spikeport.ir import DeployGraph
from spikeport.ir.attention import AttentionInt
from spikeport.ir.formats import LOIHI_FORMATS, NumberFormats
from spikeport.simulators import kernels
from spikeport.simulators.saturation import SaturationTally
from spikeport.simulators.timing import delayed

__all__ = ["AttentionTrace", "PreparedAttention", "attention_trace", "prepare_attention", "refuse_stepwise"]


class AttentionTrace(NamedTuple):
    """Every signal of one run of an `AttentionInt`, float64 0/1 (out: integer currents), time on axis 1."""

    out: torch.Tensor
    """(samples, steps, N * D): what the target population receives at each step."""
    q: torch.Tensor
    """(samples, steps, N, D): Q spikes."""
    k: torch.Tensor
    """(samples, steps, N, D): K spikes."""
    v: torch.Tensor
    """(samples, steps, N, D): V spikes."""
    kv: torch.Tensor
    """(samples, steps, N, D): K AND V."""
    g: torch.Tensor
    """(samples, steps, D): the gate."""
    attn: torch.Tensor
    """(samples, steps, N, D): Q AND gate."""


def _projection(spikes: torch.Tensor, weights: np.ndarray, exponent: int) -> torch.Tensor:
    """Per token: the sum of weight columns over active inputs, shifted by `exponent` (as Dense's weight_exp)."""
    acc = spikes @ torch.as_tensor(weights.T.astype(np.float64))  # sums of integer weights, exact in float64
    return kernels.shift(acc, int(exponent))


def _lif_run(
    node: AttentionInt, p: int, a_in: torch.Tensor, formats: NumberFormats, tally: SaturationTally | None
) -> torch.Tensor:
    """Spikes (samples, steps, N, D) of projection `p`'s neurons driven by `a_in` (same shape), from rest."""
    samples, steps, n, dim = a_in.shape
    bias = kernels.effective_bias(node.bias_mant[p], int(node.bias_exp[p]), formats).repeat(n)
    du, dv, vth = int(node.du[p]), int(node.dv[p]), int(node.vth[p])
    u = torch.zeros(samples, n * dim, dtype=torch.float64)
    v = torch.zeros_like(u)
    spikes = torch.empty(samples, steps, n * dim, dtype=torch.float64)
    for t in range(steps):
        a = a_in[:, t].reshape(samples, n * dim)
        if tally is None:
            u, v = kernels.lif_update(u, v, a, du=du, dv=dv, bias=bias, formats=formats)
        else:
            update = kernels.lif_update_counted(u, v, a, du=du, dv=dv, bias=bias, formats=formats)
            tally.add_lif(node.name, update)
            u, v = update.u, update.v
        s = kernels.spikes_binary(v, vth, formats)
        v = kernels.reset_spiked(v, s)
        spikes[:, t] = s
    return spikes.reshape(samples, steps, n, dim)


def attention_trace(
    node: AttentionInt,
    source_spikes: torch.Tensor | np.ndarray,
    formats: NumberFormats = LOIHI_FORMATS,
    tally: SaturationTally | None = None,
) -> AttentionTrace:
    """Run `node` on the spikes of its source, shape (samples, steps, N * D); any non-zero value is a spike.

    With a `tally` (whose counts hold the node's name), the u wraps, v saturations and channel wraps of the Q, K,
    V neurons are counted under the node's name.
    """
    # np.require copies only a read-only array (torch warns on those: its tensors are writable)
    x = (
        source_spikes
        if torch.is_tensor(source_spikes)
        else torch.as_tensor(np.require(source_spikes, requirements="W"))
    )
    n, dim, d = node.n_tokens, node.n_features, node.delay
    if x.ndim != 3 or x.shape[2] != n * dim:
        raise IRValidationError(
            f"node {node.name!r}: source spikes must have shape (samples, steps, {n * dim}), got {tuple(x.shape)}"
        )
    samples, steps = x.shape[:2]
    tokens = (x != 0).to(torch.float64).reshape(samples, steps, n, dim)
    q, k, v = (
        _lif_run(node, p, delayed(_projection(tokens, node.weights[p], node.weight_exp[p]), d, time_dim=1),
                 formats, tally)
        for p in range(3)
    )  # fmt: skip
    kv = delayed(k, d, time_dim=1) * delayed(v, d, time_dim=1)  # AND of 0/1 spikes
    g = (delayed(kv.sum(dim=2), d, time_dim=1) > node.gate_threshold).to(torch.float64)  # a count and a compare
    attn = delayed(q, 3 * d, time_dim=1) * delayed(g, d, time_dim=1).unsqueeze(2)  # AND with the gate
    out = attn
    if node.out_weights is not None:
        out = _projection(delayed(attn, d, time_dim=1), node.out_weights, node.out_weight_exp)
    return AttentionTrace(out.reshape(samples, steps, n * dim), q, k, v, kv, g, attn)


@dataclass(frozen=True)
class PreparedAttention:
    """What the reference simulator keeps of an `AttentionInt`; it delivers through `deliver`, not a product."""

    node: AttentionInt
    source: str
    target: str
    name: str
    formats: NumberFormats = LOIHI_FORMATS
    weights_t_by_delay: tuple = ()
    """Empty: the node has no dense matrix, so the simulator's Dense path adds nothing for it."""
    weights_clipped: int = 0
    """The node's weights are used as stored (checked against the formats), never clipped."""

    def deliver(self, source_spikes: torch.Tensor, tally: SaturationTally | None = None) -> torch.Tensor:
        """(samples, steps, N * D): the target's input at every step, given the source's spikes."""
        if tally is not None:  # the Q, K, V neurons' overflows are counted under the node's name
            _lif_counts(tally, self)
        with torch.no_grad():
            return attention_trace(self.node, source_spikes.detach(), self.formats, tally).out


def _lif_counts(tally: SaturationTally, prepared: PreparedAttention) -> None:
    """Give the node's tally entry the u and v counters its neurons add to (a connection starts without them)."""
    counts = tally._counts[prepared.name]
    counts.setdefault(tally.u_name, 0)
    counts.setdefault(tally.v_name, 0)


def refuse_stepwise(prepared: list) -> None:
    """Raise `IRValidationError` naming the first attention node among the reference's prepared connections: the
    step-by-step order (recurrent graphs, `run_reference(stepwise=True)`) has no whole spike trains to give it."""
    for item in prepared:
        if isinstance(item, PreparedAttention):
            raise IRValidationError(
                f"node {item.name!r} ({item.node.kind}): the reference simulator runs spike-driven attention in its "
                "feed-forward order only; run the graph with stepwise=False (and without recurrent loops)"
            )


def prepare_attention(graph: DeployGraph, node: AttentionInt) -> PreparedAttention:
    """The reference simulator's handler for `AttentionInt` (a CONNECTION kind).

    Raises:
        IRValidationError: the graph has recurrent loops: the reference runs the block over whole spike trains,
            which only its feed-forward order provides.
    """
    from spikeport.simulators.reference import has_cycle  # lazy: reference imports this module

    if has_cycle(graph):
        raise IRValidationError(
            f"node {node.name!r} ({node.kind}): the reference simulator runs spike-driven attention in feed-forward "
            "graphs only; this graph has recurrent loops. Move the recurrence out of the path through the block"
        )
    return PreparedAttention(
        node=node,
        source=graph.source_of(node).name,
        target=graph.target_of(node).name,
        name=node.name,
        formats=graph.formats,
    )
