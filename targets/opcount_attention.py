"""Operation counts of an `AttentionInt` node: accumulates by stage, and no multiplications.

Every input of the block is a binary spike, and so is every signal inside it (Q, K, V, kv, the gate, attn), so
each operation is the accumulate of a stored weight (or of a unit spike) into one neuron's input, or a comparison:
NeuroBench's effective ACs, never MACs (Yik et al., "NeuroBench", arXiv:2304.04640, Nature Communications 2025;
docs/energy.md). Counted, at the step each operation happens (spikeport's reference order):

- projections: for each active input (token n, channel i), the non-zero weights of column i of W_q, W_k, W_v;
- kv: each K and each V spike reaching its AND unit; the gate: each kv spike into its channel's column sum;
- attn: each Q spike reaching its AND unit and each gate spike reaching the N units of its channel;
- output projection: for each attn spike, the non-zero weights of its column of W_o.

`dense` counts every (input, weight) pair of the per-token projections plus one operation per unit and step, what
an equivalent dense evaluation would do. The internal signals come from re-running the integer reference
(`spikeport.simulators.attention.attention_trace`) on the node's source activity, so the counts are exact.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from spikeport.ir import DeployGraph
from spikeport.ir.attention import AttentionInt
from spikeport.simulators.attention import attention_trace
from spikeport.simulators.timing import delayed

if TYPE_CHECKING:
    from spikeport.targets.opcount import SynapseOps

__all__ = ["attention_counts", "attention_ops", "count_attention"]


def _per_step(x) -> np.ndarray:
    """Sum over samples and every axis after time, as float64 (samples, steps, ...) -> (steps,)."""
    a = np.asarray(x, dtype=np.float64)
    return a.reshape(a.shape[0], a.shape[1], -1).sum(axis=(0, 2))


def attention_ops(node: AttentionInt, source_activity: np.ndarray) -> dict[str, np.ndarray]:
    """Per-step totals over all samples, by stage: `{stage: (steps,) array}` plus "accumulates" and "multiplies".

    Args:
        node: the block.
        source_activity: (samples, steps, N * D) activity of its source (any non-zero value is a spike).
    """
    x = np.asarray(source_activity)
    samples, steps, _ = x.shape
    n, dim, d = node.n_tokens, node.n_features, node.delay
    tr = attention_trace(node, x)
    active = (x != 0).reshape(samples, steps, n, dim).astype(np.float64)
    nnz = np.count_nonzero(node.weights, axis=1).sum(axis=0).astype(np.float64)  # per input channel, Q + K + V
    stages = {
        "projections": np.einsum("stni,i->t", active, nnz),
        "kv": _per_step(delayed(tr.k, d, time_dim=1)) + _per_step(delayed(tr.v, d, time_dim=1)),
        "gate": _per_step(delayed(tr.kv, d, time_dim=1)),
        "attn": _per_step(delayed(tr.q, 3 * d, time_dim=1)) + n * _per_step(delayed(tr.g, d, time_dim=1)),
        "output_projection": np.zeros(steps),
    }
    if node.out_weights is not None:
        nnz_out = np.count_nonzero(node.out_weights, axis=0).astype(np.float64)
        attn = delayed(tr.attn, d, time_dim=1).numpy()
        stages["output_projection"] = np.einsum("stni,i->t", attn, nnz_out)
    stages["accumulates"] = sum(stages.values())
    stages["multiplies"] = np.zeros(steps)  # binary spikes everywhere: no product is ever formed
    return stages


def attention_counts(
    node: AttentionInt, source_activity: np.ndarray, first: bool, traffic: tuple | None
) -> dict[str, np.ndarray]:
    """Per-step counts (means per sample) in the per-step counter's conventions (`spikeport.targets.conventions`).

    Same keys as a Dense's: effective ACs are every accumulate of `attention_ops`, effective MACs are 0.
    """
    x = np.asarray(source_activity)
    samples, steps, _ = x.shape
    n, dim = node.n_tokens, node.n_features
    ops = attention_ops(node, x)
    active = (x != 0).astype(np.int64)
    events = active.sum(axis=(0, 2)).astype(np.float64) / samples
    projections = 3 + int(node.out_weights is not None)
    flops = float(projections * n * dim * dim)  # per-token D x D matrices, not kron(I_N, W)
    out = {
        "source_events": events,
        "synops_fan_out": events * 3 * dim,
        "effective_acs": ops["accumulates"] / samples,
        "effective_macs": ops["multiplies"] / samples,
        "dense": np.full(steps, flops + 3.0 * n * dim + dim),  # + kv, attn units and the column sums' compares
        "rate_flops_sops": np.zeros(steps) if first else events / (n * dim) * flops,
        "rate_flops_macs": np.full(steps, flops) if first else np.zeros(steps),
        "learning_updates": np.zeros(steps),
    }
    if traffic is not None:
        packets, inter = traffic
        out["spike_packets"] = np.einsum("stj,j->t", active, packets).astype(np.float64) / samples
        out["inter_tile_packets"] = np.einsum("stj,j->t", active, inter).astype(np.float64) / samples
    return out


def count_attention(
    graph: DeployGraph, node: AttentionInt, events: dict[str, np.ndarray], samples: int, steps: int
) -> SynapseOps:
    """The op counter's (`spikeport.targets.opcount`) entry: the Q, K, V projections' synaptic operations from the
    source's events per neuron (the later stages need the spike trains: `attention_ops`, `attention_counts`);
    `synops_dense` counts every per-token weight pair of all projections, the output projection included."""
    from spikeport.targets.opcount import SynapseOps  # lazy: opcount imports this module for its table

    source = graph.source_of(node).name
    per_neuron = np.asarray(events[source], dtype=np.int64).reshape(node.n_tokens, node.n_features)
    nnz = np.count_nonzero(node.weights, axis=1).sum(axis=0).astype(np.int64)  # per input channel, Q + K + V
    source_events = int(per_neuron.sum())
    return SynapseOps(
        name=node.name,
        source=source,
        target=graph.target_of(node).name,
        fan_out=3 * node.n_features,
        samples=samples,
        source_events=source_events,
        synops=source_events * 3 * node.n_features,
        synops_effective=int((per_neuron @ nnz).sum()),
        synops_dense=(3 + node.output_projection) * node.n_tokens * node.n_features**2 * steps * samples,
    )
