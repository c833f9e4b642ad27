"""The Lava builder's factory for `AttentionInt` nodes (Lava imported only when it is called)."""

from __future__ import annotations

from spikeport.ir.attention import AttentionInt


def spike_attention(node: AttentionInt):
    """A `SpikeAttention` process holding `node`'s registers (`spikeport.simulators.lava.builder.KIND_TABLE`)."""
    from spikeport.simulators.lava.processes.attention.process import SpikeAttention

    return SpikeAttention(
        n_tokens=node.n_tokens,
        n_features=node.n_features,
        delay=node.delay,
        weights=node.weights,
        weight_exp=node.weight_exp,
        du=node.du,
        dv=node.dv,
        vth=node.vth,
        bias_mant=node.bias_mant,
        bias_exp=node.bias_exp,
        gate_threshold=node.gate_threshold,
        out_weights=node.out_weights,
        out_weight_exp=node.out_weight_exp,
        name=node.name,
    )
