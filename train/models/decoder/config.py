"""The spiking decoder's configuration: sizes and neuron constants (no torch, so that it loads fast)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DecoderConfig"]


@dataclass(frozen=True)
class DecoderConfig:
    """Sizes and neuron constants of `SpikingDecoder`; physical constants in seconds."""

    n_inputs: int
    """Input neurons (spike channels), e.g. `FittedEncoder.n_inputs`."""
    n_hidden: int = 64
    """Hidden LIF neurons."""
    n_classes: int = 2
    """Readout units, one per class."""
    dt_s: float = 1e-3
    """Integration step of one network step, in seconds."""
    tau_syn_s: float = 5e-3
    """Hidden synaptic current time constant, seconds."""
    tau_mem_s: float = 1e-2
    """Hidden membrane time constant, seconds."""
    v_th: float = 1.0
    """Hidden firing threshold (dimensionless; v_leak = v_reset = 0)."""
    readout_tau_syn_s: float = 5e-3
    """Readout synaptic current time constant, seconds."""
    readout_tau_mem_s: float = 2e-2
    """Readout membrane time constant, seconds."""
    surrogate_alpha: float = 100.0
    """Sharpness passed to Norse's SuperSpike surrogate (unused by Norse 1.1.0, see the module docstring)."""
    synaptic_delay_steps: int = 1
    """Steps between a spike and its effect on the next layer's current. 1 reproduces Loihi's Dense, which delivers
    at step t+1 what it received at step t, so the trained model and the chip share one timing (exported as NIR
    `Delay` nodes of `synaptic_delay_steps * dt_s`)."""
    init_gain: float = 1.5
    """fc_in weights start as N(0, (init_gain / sqrt(n_inputs * 0.2))**2), sized for ~20 % input activity."""

    def __post_init__(self) -> None:
        for name in ("n_inputs", "n_hidden", "n_classes"):
            if getattr(self, name) < 1:
                raise ValueError(f"DecoderConfig.{name}: must be >= 1, got {getattr(self, name)}")
        for name in ("dt_s", "tau_syn_s", "tau_mem_s", "readout_tau_syn_s", "readout_tau_mem_s", "v_th"):
            if not getattr(self, name) > 0:
                raise ValueError(f"DecoderConfig.{name}: must be positive, got {getattr(self, name)}")
        for name in ("tau_syn_s", "tau_mem_s", "readout_tau_syn_s", "readout_tau_mem_s"):
            if getattr(self, name) < self.dt_s:
                raise ValueError(
                    f"DecoderConfig.{name}={getattr(self, name)} is shorter than dt_s={self.dt_s}; the Euler "
                    "step would overshoot (decay factor below 0). Use tau >= dt_s."
                )
