"""RAT-SNN: multi-timescale LIF encoder -> spike-driven attention -> non-spiking integrator readout.

A re-parametrized self-attention SNN for intracortical decoding (issue 10): input spikes (recorded units, one step
per time bin; graded: the unit's spike count in the bin, `data.INPUT_MESSAGE_BITS`) drive a Linear into an encoder of
multi-timescale LIF neurons (`MultiTimescaleLIF`: per-neuron learned tau_syn and tau_mem), a Linear into N x D token
LIF neurons, spike-driven self-attention over the N tokens (`SpikeDrivenAttention`, accumulate-only), and a Linear
into non-spiking leaky integrators whose learned time constants are per output; the prediction is their voltage at
the window's last step (`Readout.LAST_V`: the causal decoder's output for the window's last bin; the window mean
lagged the target and cost about 0.05 R² on SYNTHETIC reaching). A second Linear from the encoder into the
integrators (a residual path) keeps the readout driven while the attention is silent, so that training starts from a
non-zero gradient and calibration sees the readout's range. A third, from the input into the integrators
(`fc_direct`, part of the encoding layer), carries the counts' linear evidence that spiking layers pass on lossily
(it raised the adapted R² on the SYNTHETIC held-out session by 0.018).

Timing is Loihi's: every Linear between two neuron layers delivers one step later (`delayed(..., 1)`), as the NIR
graph's Delay nodes say and Loihi's Dense does; the attention block delays internally (its own docstring). The
token layer exists because Lava's attention process reads one spike port, while a multi-timescale population
runs as one LIF process per decay group (docs/fixed-point.md, "Grouping by decay").
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from spikeport.simulators.timing import delayed
from spikeport.train.layers.attention import AttentionConfig, SpikeDrivenAttention
from spikeport.train.layers.multi_timescale import MultiTimescaleLIF, TimescaleConfig
from spikeport.train.models.rat_snn.config import RatSnnConfig

__all__ = ["RatOutput", "RatSNN"]


class RatOutput(NamedTuple):
    outputs: Tensor
    """(batch, n_outputs): readout voltage at the last step."""
    readout_v: Tensor
    """(batch, T, n_outputs)."""
    encoder_spikes: Tensor
    """(batch, T, n_encoder)."""
    attention_spikes: Tensor
    """(batch, T, n_tokens * n_features)."""


class RatSNN(nn.Module):
    """The model of the module docstring; `forward` takes (batch, T, n_inputs) spikes."""

    def __init__(self, config: RatSnnConfig, seed: int = 0) -> None:
        super().__init__()
        self.config = config
        torch.manual_seed(seed)
        c = config
        size = c.n_tokens * c.n_features
        self.fc_in = nn.Linear(c.n_inputs, c.n_encoder, bias=False)
        self.encoder = MultiTimescaleLIF(
            TimescaleConfig(
                size=c.n_encoder,
                dt_s=c.dt_s,
                tau_syn_range_s=c.encoder_tau_syn_range_s,
                tau_mem_range_s=c.encoder_tau_mem_range_s,
                v_th=c.v_th,
            )
        )
        self.fc_tok = nn.Linear(c.n_encoder, size, bias=False)
        token_syn, token_mem = (c.token_tau_syn_s,) * 2, (c.token_tau_mem_s,) * 2
        self.tokens = MultiTimescaleLIF(  # one time constant pair for all (a degenerate range): one LIF process
            TimescaleConfig(size=size, dt_s=c.dt_s, tau_syn_range_s=token_syn, tau_mem_range_s=token_mem, v_th=c.v_th)
        )
        self.attention = SpikeDrivenAttention(
            AttentionConfig(n_features=c.n_features, dt_s=c.dt_s, attn_threshold=c.attn_threshold), seed=seed
        )
        self.fc_out = nn.Linear(size, c.n_outputs, bias=False)
        self.fc_skip = nn.Linear(c.n_encoder, c.n_outputs, bias=False)
        self.fc_direct = nn.Linear(c.n_inputs, c.n_outputs, bias=False)
        low, high = c.readout_tau_range_s
        self.readout = MultiTimescaleLIF(
            TimescaleConfig(size=c.n_outputs, dt_s=c.dt_s, tau_syn_range_s=(low, high), tau_mem_range_s=(low, high),
                            spiking=False)
        )  # fmt: skip
        with torch.no_grad():  # inputs are sparse spikes: start with currents that make the encoder fire
            self.fc_in.weight.mul_(4.0)
            self.fc_tok.weight.mul_(4.0)
            self.fc_direct.weight.mul_(0.1)  # counts reach the readout unfiltered: start small

    def forward(self, x: Tensor) -> RatOutput:
        c = self.config
        xt = x.to(torch.float32).transpose(0, 1)  # (T, B, n_inputs)
        enc = self.encoder(delayed(self.fc_in(xt), 1, time_dim=0))
        tok = self.tokens(delayed(self.fc_tok(enc.to(torch.float32)), 1, time_dim=0))
        steps, batch = tok.shape[:2]
        att = self.attention(tok.reshape(steps, batch, c.n_tokens, c.n_features)).spikes
        att = att.reshape(steps, batch, -1).to(torch.float32)
        drive = self.fc_out(att) + self.fc_skip(enc.to(torch.float32)) + self.fc_direct(xt)
        v = self.readout(delayed(drive, 1, time_dim=0)).to(torch.float32)
        return RatOutput(
            outputs=v[-1],
            readout_v=v.transpose(0, 1),
            encoder_spikes=enc.transpose(0, 1),
            attention_spikes=att.transpose(0, 1),
        )
