r"""Spike-driven self-attention (SDSA): attention from spikes with only additions and logic, Loihi's timing.

Source: M. Yao, J. Hu, Z. Zhou, L. Yuan, Y. Tian, B. Xu, G. Li, "Spike-driven Transformer", NeurIPS 2023
(arXiv:2307.01694), whose SDSA is

.. math::
    \mathrm{SDSA}(Q, K, V) = Q \otimes \mathrm{SN}\big(\mathrm{SUM}_c(K \otimes V)\big)

with Q, K, V binary (N tokens x D channels), :math:`\otimes` the element-wise product (AND on spikes),
:math:`\mathrm{SUM}_c` the sum over tokens of each channel and SN a spiking threshold unit. The cost is linear in N
and every operation is an accumulate of a unit spike or a comparison, which is what maps onto neuromorphic cores
(papers.md, "Spiking attention that needs no multiplication"). Channels never mix inside SDSA, so splitting
channels into heads changes nothing and there is no head parameter.

Exact discrete update. x[t] is the input spike tensor (B, N, D) at step t, d = `synaptic_delay_steps`, any term
with a negative time index is 0, H(u) = 1 if u > 0 else 0 (strict, as Norse's threshold), and the per-token
projections P_* (shared over tokens) are ``P(u) = W u`` (plus a bias b after folding a re-parameterized branch)::

    Q[t]  = LIF_q(P_q(x[t - d]))      K[t] = LIF_k(P_k(x[t - d]))      V[t] = LIF_v(P_v(x[t - d]))
    kv[t] = H(K[t - d] + V[t - d] - 1.5)                       # K AND V, per token and channel
    s[t]  = sum_n kv[t - d, n]                                 # (B, D): column sum over tokens
    g[t]  = H(s[t] - attn_threshold)                           # gate: SN of the column sum
    a[t]  = H(Q[t - 3d] + g[t - d] - 1.5)                      # Q AND g, g broadcast over tokens
    o[t]  = LIF_o(P_o(a[t - d]))                               # only with `output_projection`

LIF_* is Norse 1.1's `LIFCell` with the update documented in `spikeport.train.models.decoder.model` (input added
to the current, then v integrates the new current, reset to 0). kv, g and a are memoryless threshold units
(`spikeport.train.layers.delay.threshold_unit`: a CubaLIF with tau_syn = tau_mem = dt, v_th 1.5 or
attn_threshold), trained with the SuperSpike surrogate. On binary spikes H(K + V - 1.5) = K AND V = K * V.

Alignment. Each connection between two layers of units costs d: K, V -> kv costs d, kv -> g costs d (the column
sum is a connection), g -> a costs d. The gate that reaches a at step t stems from K, V of step t - 3d, so the
Q -> a connection carries 3d: its own d plus an alignment delay of 2d. Then, exactly,

    a[t] = SDSA(Q[t - 3d], K[t - 3d], V[t - 3d])     (0 for t < 3d)

and, counting the projections, a[t] depends on x only up to step t - 4d (latency 4d, 5d to o).

Re-parameterization (RAT SNN, papers.md; RepVGG, Ding et al., CVPR 2021): with `reparameterize=True` each
projection trains as two parallel branches, W_a x + BN(W_b x). In eval mode BN is the affine map
gamma * (z - mu) / sqrt(var + eps) + beta, so `fold()` merges the branches into one W and bias b that give the
same currents; the bias is a constant input at every step (NIR `Affine` semantics), because the branches act on
the already delayed input.

Exporter interface (attribute names are the contract): `config`, `q_proj`/`k_proj`/`v_proj`/`o_proj`
(`ReparamLinear`: `linear.weight` (D_out, D_in), `linear.bias` or None, `folded_weight_bias()`),
`q_lif`/`k_lif`/`v_lif`/`o_lif` (`norse.torch.LIFCell`), `AND_THRESHOLD`, and the delay properties. In NIR on a
(N * D) C-order signal, a per-token projection is kron(I_N, W), the column sum kron(ones(1, N), I_D), the
broadcast kron(ones(N, 1), I_D), each followed by a `Delay` of its steps * dt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import norse.torch
import torch
from torch import Tensor, nn

from spikeport.simulators.timing import delayed
from spikeport.train.layers.delay import threshold_unit
from spikeport.train.neurons import lif_cell

__all__ = ["AttentionConfig", "AttentionOutput", "ReparamLinear", "SpikeDrivenAttention", "attention_accumulates"]


@dataclass(frozen=True)
class AttentionConfig:
    """Size, neuron constants and options of `SpikeDrivenAttention`; physical constants in seconds."""

    n_features: int
    """D: input channels, and channels of Q, K, V and the output."""
    dt_s: float = 1e-3
    """Integration step of one network step, in seconds."""
    tau_syn_s: float = 5e-3
    """Synaptic current time constant of the Q, K, V (and output) LIF neurons, seconds."""
    tau_mem_s: float = 1e-2
    """Membrane time constant of those LIF neurons, seconds."""
    v_th: float = 1.0
    """Firing threshold of those LIF neurons (v_leak = v_reset = 0)."""
    surrogate_alpha: float = 100.0
    """Passed to Norse's SuperSpike surrogate (unused by Norse 1.1.0, see `spikeport.train.models.decoder.model`)."""
    synaptic_delay_steps: int = 1
    """d: steps every connection between two layers of units delays its output (Loihi's Dense: 1)."""
    attn_threshold: float = 0.5
    """Gate threshold on the column sum of K AND V: g = 1 where more than this many tokens have K AND V
    (0.5: at least one)."""
    output_projection: bool = False
    """Add the block's output projection: Linear (per token) -> LIF, as in the Spike-driven Transformer."""
    reparameterize: bool = False
    """Train each projection as two parallel branches W_a x + BN(W_b x), merged by `SpikeDrivenAttention.fold`."""
    init_gain: float = 1.5
    """Projection weights start as N(0, (init_gain / sqrt(n_features * 0.2))**2), sized for ~20 % input activity."""

    def __post_init__(self) -> None:
        if self.n_features < 1:
            raise ValueError(f"AttentionConfig.n_features: must be >= 1, got {self.n_features}")
        for name in ("dt_s", "tau_syn_s", "tau_mem_s", "v_th", "init_gain"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"AttentionConfig.{name}: must be positive and finite, got {value}")
        for name in ("tau_syn_s", "tau_mem_s"):
            if getattr(self, name) < self.dt_s:
                raise ValueError(
                    f"AttentionConfig.{name}={getattr(self, name)} is shorter than dt_s={self.dt_s}; the Euler step "
                    "would overshoot (decay factor below 0). Use tau >= dt_s."
                )
        if not isinstance(self.synaptic_delay_steps, int) or self.synaptic_delay_steps < 0:
            raise ValueError(
                f"AttentionConfig.synaptic_delay_steps: must be an int >= 0, got {self.synaptic_delay_steps!r}"
            )
        if not (math.isfinite(self.attn_threshold) and self.attn_threshold >= 0):
            raise ValueError(
                f"AttentionConfig.attn_threshold: must be finite and >= 0 (a negative threshold opens the gate "
                f"without any token), got {self.attn_threshold}"
            )


class AttentionOutput(NamedTuple):
    """What `SpikeDrivenAttention.forward` returns; every tensor holds 0/1 floats, time first."""

    spikes: Tensor
    """(T, B, N, D): the layer output, `o` with `output_projection`, else `attn`."""
    q: Tensor
    """(T, B, N, D): Q spikes."""
    k: Tensor
    """(T, B, N, D): K spikes."""
    v: Tensor
    """(T, B, N, D): V spikes."""
    kv: Tensor
    """(T, B, N, D): K AND V (of the delayed K, V)."""
    g: Tensor
    """(T, B, D): the gate, SN of the column sum of kv."""
    attn: Tensor
    """(T, B, N, D): SDSA output, Q (aligned) AND g (broadcast over tokens)."""


class ReparamLinear(nn.Module):
    """Per-token projection W x, or while re-parameterized W_a x + BN(W_b x), which `fold` merges into W x + b.

    Args:
        n_in: Input channels.
        n_out: Output channels.
        reparameterize: Add the parallel branch `branch` -> `norm` (BatchNorm1d with its default init).
        std: Standard deviation of the initial weights (both branches).
        generator: Source of the initial weights.
    """

    def __init__(self, n_in: int, n_out: int, *, reparameterize: bool, std: float, generator: torch.Generator) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):  # nn.Linear's default init would consume the global RNG
            self.linear = nn.Linear(n_in, n_out, bias=False)
            self.branch = nn.Linear(n_in, n_out, bias=False) if reparameterize else None
        self.norm = nn.BatchNorm1d(n_out) if reparameterize else None
        with torch.no_grad():
            self.linear.weight.normal_(0.0, std, generator=generator)
            if self.branch is not None:
                self.branch.weight.normal_(0.0, std, generator=generator)

    @property
    def folded(self) -> bool:
        """True when the projection is a single `linear` (never re-parameterized, or folded)."""
        return self.branch is None

    def forward(self, x: Tensor) -> Tensor:
        """Project the last dimension of `x` (..., n_in) to (..., n_out)."""
        out = self.linear(x)
        if self.branch is not None and self.norm is not None:
            z = self.branch(x)
            out = out + self.norm(z.reshape(-1, z.shape[-1])).reshape(z.shape)
        return out

    def folded_weight_bias(self) -> tuple[Tensor, Tensor | None]:
        """The single (weight (n_out, n_in), bias (n_out,) or None) equal to this projection in eval mode.

        Computed in float64 from BN's running statistics, then cast to the weight's dtype; detached copies.
        """
        weight = self.linear.weight.detach()
        bias = None if self.linear.bias is None else self.linear.bias.detach().clone()
        if self.branch is None or self.norm is None:
            return weight.clone(), bias
        norm = self.norm
        scale = norm.weight.detach().double() / torch.sqrt(norm.running_var.double() + norm.eps)
        merged = weight.double() + scale[:, None] * self.branch.weight.detach().double()
        shift = norm.bias.detach().double() - scale * norm.running_mean.double()
        if bias is not None:
            shift = shift + bias.double()
        return merged.to(weight.dtype), shift.to(weight.dtype)

    def fold(self) -> None:
        """Replace the two branches by one `linear` with the merged weight and bias (eval-mode equivalence)."""
        if self.folded:
            return
        weight, bias = self.folded_weight_bias()
        merged = nn.Linear(
            weight.shape[1], weight.shape[0], bias=bias is not None, dtype=weight.dtype, device=weight.device
        )
        with torch.no_grad():
            merged.weight.copy_(weight)
            if bias is not None:
                merged.bias.copy_(bias)
        self.linear, self.branch, self.norm = merged, None, None


class SpikeDrivenAttention(nn.Module):
    """Spike-driven self-attention over tokens, with Loihi's one-step synaptic delays (module docstring).

    Args:
        config: Size, constants and options.
        seed: Seed of the weight initialisation (a private `torch.Generator`; global RNG state is untouched).
    """

    AND_THRESHOLD = 1.5
    """Threshold of the AND units kv and attn: the sum of two binary spikes exceeds it only if both are 1."""

    def __init__(self, config: AttentionConfig, *, seed: int = 0) -> None:
        super().__init__()
        self.config = config
        n = config.n_features
        gen = torch.Generator().manual_seed(seed)
        std = config.init_gain / math.sqrt(0.2 * n)

        def projection() -> ReparamLinear:
            return ReparamLinear(n, n, reparameterize=config.reparameterize, std=std, generator=gen)

        self.q_proj, self.k_proj, self.v_proj = projection(), projection(), projection()
        self.q_lif, self.k_lif, self.v_lif = self._lif(), self._lif(), self._lif()
        self.o_proj = projection() if config.output_projection else None
        self.o_lif = self._lif() if config.output_projection else None

    def _lif(self) -> norse.torch.LIFCell:
        cfg = self.config
        return lif_cell(
            dt_s=cfg.dt_s,
            tau_syn_s=cfg.tau_syn_s,
            tau_mem_s=cfg.tau_mem_s,
            v_th=cfg.v_th,
            surrogate_alpha=cfg.surrogate_alpha,
        )

    @property
    def q_delay_steps(self) -> int:
        """Delay of the Q -> attn connection: 3d (its own d plus the 2d alignment with the gate path)."""
        return 3 * self.config.synaptic_delay_steps

    @property
    def latency_steps(self) -> int:
        """Steps from an input x[t] to the first output step it can affect: 4d, or 5d with the output projection."""
        return (5 if self.config.output_projection else 4) * self.config.synaptic_delay_steps

    @property
    def folded(self) -> bool:
        """True when every projection is a single linear map (ready for export)."""
        return all(p.folded for p in self._projections())

    def _projections(self) -> list[ReparamLinear]:
        return [p for p in (self.q_proj, self.k_proj, self.v_proj, self.o_proj) if p is not None]

    def fold(self) -> SpikeDrivenAttention:
        """Merge every re-parameterized projection into one linear map; outputs are unchanged in eval mode.

        Returns:
            self, switched to eval mode (BatchNorm's running statistics are what gets folded).
        """
        self.eval()
        for proj in self._projections():
            proj.fold()
        return self

    def forward(self, x: Tensor) -> AttentionOutput:
        """Run the layer over a batch of token spike trains.

        Args:
            x: Shape (T, B, N, n_features), 0/1 of any real or integer dtype.

        Returns:
            Output and internal spike trains (see `AttentionOutput`).

        Raises:
            ValueError: If `x` does not have shape (T, B, N, n_features) or holds NaN/inf.
        """
        d, n = self.config.synaptic_delay_steps, self.config.n_features
        if x.ndim != 4 or x.shape[-1] != n:
            raise ValueError(
                f"SpikeDrivenAttention.forward: expected input of shape (T, B, N, {n}), got {tuple(x.shape)}"
            )
        x = x.to(self.q_proj.linear.weight.dtype)
        if not torch.isfinite(x).all():
            raise ValueError("SpikeDrivenAttention.forward: the input contains NaN or infinite values")
        x_in = delayed(x, d, time_dim=0)
        q = _run_lif(self.q_lif, self.q_proj(x_in))
        k = _run_lif(self.k_lif, self.k_proj(x_in))
        v = _run_lif(self.v_lif, self.v_proj(x_in))
        kv = threshold_unit(delayed(k, d, time_dim=0) + delayed(v, d, time_dim=0), self.AND_THRESHOLD)
        g = threshold_unit(delayed(kv.sum(dim=2), d, time_dim=0), self.config.attn_threshold)
        gate = delayed(g, d, time_dim=0).unsqueeze(2)  # broadcast over tokens
        attn = threshold_unit(delayed(q, self.q_delay_steps, time_dim=0) + gate, self.AND_THRESHOLD)
        spikes = attn
        if self.o_proj is not None and self.o_lif is not None:
            spikes = _run_lif(self.o_lif, self.o_proj(delayed(attn, d, time_dim=0)))
        return AttentionOutput(spikes=spikes, q=q, k=k, v=v, kv=kv, g=g, attn=attn)


def _run_lif(cell: norse.torch.LIFCell, currents: Tensor) -> Tensor:
    """Spikes (T, ...) of `cell` driven by `currents` (T, ...), starting from rest."""
    state, spikes = None, []
    for t in range(currents.shape[0]):
        z, state = cell(currents[t], state)
        spikes.append(z)
    return torch.stack(spikes)


def attention_accumulates(out: AttentionOutput, synaptic_delay_steps: int) -> int:
    """Accumulates the attention stage (Q, K, V -> attn) performed within the T simulated steps.

    Every delivered spike adds 1 to one unit's input and every unit then compares with its threshold; there are no
    multiplications. Counted: each K and V spike delivered to its kv unit, each kv spike into its column sum, each Q
    spike delivered to its attn unit, and each gate spike into all N attn units of its channel. The projections'
    synaptic operations are not counted here (they are ordinary spike-driven accumulates of weights).

    Args:
        out: A forward pass of `SpikeDrivenAttention` with the given delay.
        synaptic_delay_steps: That layer's d.
    """
    d = synaptic_delay_steps
    n_tokens = out.q.shape[2]
    total = delayed(out.k, d, time_dim=0).sum() + delayed(out.v, d, time_dim=0).sum()
    total = total + delayed(out.kv, d, time_dim=0).sum() + delayed(out.q, 3 * d, time_dim=0).sum()
    total = total + n_tokens * delayed(out.g, d, time_dim=0).sum()
    return int(total.item())
