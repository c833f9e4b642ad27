"""ISAM-MTL's configuration: sizes, neuron constants and loss weights (no torch, so that it loads fast).

Design choices the paper (arXiv 2501.18089) leaves open are documented in docs/isam-mtl.md; the defaults here are
the ones that document motivates.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IsamConfig"]


@dataclass(frozen=True)
class IsamConfig:
    """Sizes and constants of `IsamModel` (flat, so `model.pt` stores it as a plain dict)."""

    n_features: int
    """C_in: input spike channels per electrode (bands x polarities of the band-power encoder)."""
    n_electrodes: int
    """L: electrodes; the 1-D convolution runs along this axis (input neuron index = feature * L + electrode)."""
    n_classes: int = 2
    """Classes (one memory row each)."""
    conv_channels: int = 6
    """C_out of the spiking 1-D convolution (hidden LIF population: conv_channels x n_electrodes)."""
    kernel_size: int = 3
    """Width of the convolution along the electrode axis (odd; padded to keep n_electrodes positions)."""
    n_latent: int = 24
    """Latent LIF neurons (the memory's pre-synaptic population)."""
    dt_s: float = 1e-3
    """Integration step of one network step, seconds (only dt / tau matters; see the decoder's model.py)."""
    tau_syn_s: float = 5e-3
    """Synaptic time constant of both LIF layers, seconds."""
    tau_mem_s: float = 1e-2
    """Membrane time constant of both LIF layers, seconds."""
    v_th: float = 1.0
    """Firing threshold of both LIF layers (v_leak = v_reset = 0)."""
    synaptic_delay_steps: int = 1
    """One-step delay per connection, as Loihi's Dense delivers (trained with the chip's timing)."""
    recon_windows: int = 4
    """The decoder reconstructs the input rates in this many equal time windows of a trial."""
    decoder_channels: int = 6
    """Channels of the transposed convolution's input (latent -> (decoder_channels, n_electrodes))."""
    recon_weight: float = 1.0
    """Weight of the reconstruction loss (mean squared error of input spike rates)."""
    kl_weight: float = 0.05
    """Weight of the KL term KL(q(z|x) || p(z|y)) to the label-conditioned Gaussian prior."""
    guidance_weight: float = 1.0
    """Weight of the label-guidance cross-entropy on the latent spike counts (0 disables the guidance)."""
    label_guided: bool = True
    """False: the prior is N(0, I) for every class and no cross-entropy (the ablation the paper suggests)."""
    eta: float = 1.0
    """Hebbian learning rate of the memories (the argmax does not depend on it)."""
    normalization: str = "rows"
    """Memory readout normalization (`spikeport.train.layers.associative_memory.Normalization` value)."""
    weight_bits: int = 8
    """Weights are fake-quantized to this many bits (per tensor, straight-through) during training."""

    def __post_init__(self) -> None:
        for name in ("n_features", "n_electrodes", "n_classes", "conv_channels", "n_latent", "recon_windows"):
            if getattr(self, name) < 1:
                raise ValueError(f"IsamConfig.{name}: must be >= 1, got {getattr(self, name)}")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise ValueError(f"IsamConfig.kernel_size: must be odd and >= 1, got {self.kernel_size}")
        for name in ("dt_s", "tau_syn_s", "tau_mem_s", "v_th", "eta"):
            if not getattr(self, name) > 0:
                raise ValueError(f"IsamConfig.{name}: must be positive, got {getattr(self, name)}")
        if min(self.tau_syn_s, self.tau_mem_s) < self.dt_s:
            raise ValueError("IsamConfig: tau_syn_s and tau_mem_s must be >= dt_s (the Euler step would overshoot)")
        if self.synaptic_delay_steps < 1:
            raise ValueError("IsamConfig.synaptic_delay_steps: must be >= 1 (Loihi's Dense delays by one step)")
        if not 2 <= self.weight_bits <= 8:
            raise ValueError(f"IsamConfig.weight_bits: must lie in [2, 8], got {self.weight_bits}")

    @property
    def n_inputs(self) -> int:
        """Input neurons: n_features * n_electrodes."""
        return self.n_features * self.n_electrodes

    @property
    def n_hidden(self) -> int:
        """Neurons of the convolutional LIF layer."""
        return self.conv_channels * self.n_electrodes
