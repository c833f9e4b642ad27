"""`AttentionInt`: spike-driven self-attention (SDSA) as one deploy-graph node, in integer registers.

Source of the layer: M. Yao et al., "Spike-driven Transformer", NeurIPS 2023 (arXiv:2307.01694); its exact float
update with Loihi's delays is in `spikeport.train.layers.attention`. This node holds the whole block from its input
spikes to the input current of the block's output units, so its size grows linearly with the number of tokens N
(one D x D matrix per projection, shared over tokens, instead of the kron(I_N, W) matrices of the unrolled view).

Role: CONNECTION. The block reads binary spikes (from the graph input or a population) exactly as a synapse does,
and delivers an integer current to one population: the block's output units. That keeps `DeployGraph`'s role
rules unchanged (a connection joins a spike source to a population; populations receive from connections), needs
no identity synapse in front of the block, and leaves the block's output spikes in an ordinary population that
records, compares and feeds a readout like any other. Integer semantics (d = `delay`, x the source spikes,
all signals of token n and channel j; docs/fixed-point.md, "Spike-driven attention")::

    a_p[t] = shift(sum_i weights[p, j, i] * x[t - d, n, i], weight_exp[p])       p in (Q, K, V); only adds
    Q, K, V = Loihi CUBA LIF (du[p], dv[p], vth[p], bias_mant[p, j] << bias_exp[p]) driven by a_p
    kv[t]   = K[t - d] AND V[t - d]
    g[t]    = (sum_n kv[t - d, n]) > gate_threshold                          per channel: a count and a compare
    attn[t] = Q[t - 3d] AND g[t - d]
    out[t]  = attn[t]                                       (no output projection: the target relays it)
    out[t]  = shift(sum_i out_weights[j, i] * attn[t - d, n, i], out_weight_exp)   (with output projection)

`out[t]` is what the target population receives at step t. SDSA never mixes channels, so a split into heads
changes nothing and the node has no head count (as the layer has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from spikeport.errors import IRValidationError
from spikeport.ir.formats import LOIHI_FORMATS, NumberFormats
from spikeport.ir.kinds import Role
from spikeport.ir.nodes import Node, _check_range, _coerce_ints, _int_array, register_node

__all__ = ["PROJECTIONS", "AttentionInt"]

PROJECTIONS = ("q", "k", "v")
"""The order of the projections along the first axis of `AttentionInt`'s per-projection fields."""


@register_node
@dataclass(frozen=True, kw_only=True)
class AttentionInt(Node):
    """Spike-driven self-attention over `n_tokens` tokens of `n_features` channels (module docstring).

    Signals are flattened token-major (index n * n_features + j), as the NIR extension block lays them out.
    """

    kind: ClassVar[str] = "spike_attention_int"
    role: ClassVar[Role] = Role.CONNECTION
    n_tokens: int
    """N: tokens."""
    n_features: int
    """D: channels of the input, of Q, K, V and of the output."""
    delay: int
    """d >= 1: steps each connection inside the block takes (Loihi's Dense: 1). Q -> attn takes 3d."""
    weights: np.ndarray
    """int, (3, D, D): Q, K, V projection mantissas [out, in], shared over tokens, used exactly as stored."""
    weight_exp: np.ndarray
    """int, (3,): shift of each projection's accumulated input (as Dense's weight_exp)."""
    du: np.ndarray
    """int, (3,): current decay of the Q, K, V neurons (Lava's du)."""
    dv: np.ndarray
    """int, (3,): voltage decay of the Q, K, V neurons (Lava's dv)."""
    vth: np.ndarray
    """int, (3,): threshold mantissas of the Q, K, V neurons (spike where v > vth << 6)."""
    bias_mant: np.ndarray
    """int, (3, D): per-channel bias mantissas (the folded branch's bias), the same for every token."""
    bias_exp: np.ndarray
    """int, (3,): bias exponents."""
    gate_threshold: int
    """g = 1 where more than this many tokens have K AND V (the float threshold rounded down: counts are ints)."""
    out_weights: np.ndarray | None = None
    """int, (D, D) output projection mantissas, or None for a block without output projection."""
    out_weight_exp: int = 0
    """Shift of the output projection's accumulated input."""

    def __post_init__(self) -> None:
        _coerce_ints(self, "n_tokens", "n_features", "delay", "gate_threshold", "out_weight_exp")
        n, dim = self.n_tokens, self.n_features
        if n < 1 or dim < 1:
            raise IRValidationError(f"node {self.name!r}: n_tokens and n_features must be >= 1, got {n} and {dim}")
        shapes = {
            "weights": (3, dim, dim), "weight_exp": (3,), "du": (3,), "dv": (3,), "vth": (3,),
            "bias_mant": (3, dim), "bias_exp": (3,),
        }  # fmt: skip
        if self.out_weights is not None:
            shapes["out_weights"] = (dim, dim)
        for field_name, shape in shapes.items():
            array = _int_array(field_name, self.name, getattr(self, field_name), len(shape))
            if array.shape != shape:
                raise IRValidationError(f"node {self.name!r}: {field_name} must have shape {shape}, got {array.shape}")
            object.__setattr__(self, field_name, array)
        self.check_formats(LOIHI_FORMATS)

    def check_formats(self, formats: NumberFormats) -> None:
        """Every register against `formats`; the message names the field and its range."""
        name = self.name
        magnitude = (1 << formats.weight_mant_bits) - 1
        _check_range(name, "weights", self.weights, -magnitude, magnitude, "8-bit magnitude and a sign")
        if self.out_weights is not None:
            _check_range(name, "out_weights", self.out_weights, -magnitude, magnitude, "8-bit magnitude and a sign")
        _check_range(name, "weight_exp", self.weight_exp, *formats.weight_exp_range)
        _check_range(name, "out_weight_exp", self.out_weight_exp, *formats.weight_exp_range)
        _check_range(name, "du", self.du, *formats.du_range)
        _check_range(name, "dv", self.dv, *formats.dv_range)
        _check_range(name, "vth", self.vth, 0, formats.vth_max, "lower the threshold scale")
        _check_range(name, "bias_mant", self.bias_mant, *formats.bias_mant_range)
        _check_range(name, "bias_exp", self.bias_exp, *formats.bias_exp_range)
        _check_range(name, "delay", self.delay, 1, formats.delay_max + 1, "each internal connection takes 1..64 steps")
        _check_range(name, "gate_threshold", self.gate_threshold, 0, formats.vth_max)
        # the largest projection input, shifted by act_shift into u, must stay inside the int32 channel
        per_input = magnitude * 2 ** (formats.weight_exp_max + formats.act_shift)
        limit = (2 ** (formats.channel_bits - 1) - 1) // per_input
        _check_range(name, "n_features", self.n_features, 1, limit, "a projection's summed input would wrap int32")

    @property
    def in_size(self) -> int:
        return self.n_tokens * self.n_features

    @property
    def out_size(self) -> int:
        return self.n_tokens * self.n_features

    @property
    def output_projection(self) -> bool:
        """True when the block ends with the output projection (the target is then the output LIF neurons)."""
        return self.out_weights is not None

    @property
    def latency(self) -> int:
        """Steps from an input spike to the first output current it can affect: 4d, 5d with output projection."""
        return (5 if self.output_projection else 4) * self.delay
