"""The RAT-SNN configuration (torch-free, so that listing families stays fast)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RatSnnConfig"]


@dataclass(frozen=True)
class RatSnnConfig:
    """Sizes and constants of `RatSNN` (seconds); what `model.pt` stores."""

    n_inputs: int
    """Recorded units (input channels)."""
    n_encoder: int = 16
    """Multi-timescale LIF neurons of the encoder."""
    n_tokens: int = 4
    """N: tokens the attention attends over."""
    n_features: int = 4
    """D: features per token."""
    n_outputs: int = 2
    """Regression outputs (2-D velocity)."""
    dt_s: float = 1e-3
    """Integration step of one network step (one time bin), seconds; only the ratios dt / tau matter."""
    encoder_tau_syn_range_s: tuple[float, float] = (1e-3, 8e-3)
    encoder_tau_mem_range_s: tuple[float, float] = (2e-3, 3.2e-2)
    token_tau_syn_s: float = 2e-3
    token_tau_mem_s: float = 4e-3
    readout_tau_range_s: tuple[float, float] = (1e-3, 3.2e-2)
    """Range of the integrator readout's time constants (both tau_syn and tau_mem; the adaptation's refit picks them
    from a grid over it). Down to one step: on the SYNTHETIC held-out session the refit chose the range's lower end
    for one of each pair (4e-3 -> 1e-3 raised the adapted R² from 0.736 to 0.739, docs/rat-snn.md)."""
    v_th: float = 1.0
    attn_threshold: float = 0.5
