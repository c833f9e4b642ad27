r"""ISAM-MTL (arXiv 2501.18089) as a spiking network: a shared spiking 1-D convolutional encoder with a label-guided
variational latent, a reconstruction decoder used only in training, and per-subject Hebbian memories.

Inference path (what is deployed; attribute names are the interface `spikeport.train.models.isam.nir` reads)::

    input spikes (n_features x n_electrodes) -> conv (1-D, along electrodes) -> delay -> lif (LIF)
      -> fc_mu (Linear) -> delay -> latent (LIF) -> memory (per subject, Hebbian) -> class

Time runs through the LIF dynamics; the 1-D convolution is spatial (along the electrode axis) so that it is one
stateless synapse per step that the chip holds as a Dense connection (`spikeport.export.nir_lowering` composes
NIR's Conv1d into a matrix). A temporal convolution would need several delays per neuron pair, which one Loihi
synapse cannot carry (docs/isam-mtl.md).

Variational latent. q(z | x) = N(mu(x), diag(sigma^2)), mu(x) the trial mean of the latent input current fc_mu(h)
and sigma a learned per-neuron scale. In training the sample z = mu + sigma * eps (eps drawn once per trial) is
fed as a constant extra current to the latent LIF neurons (the reparameterization trick), so the latent spikes see
the noise; at inference the noise is off (z = mu), which keeps the deployed network deterministic. The prior is
conditioned on the label (label guidance, as in identifiable VAEs): p(z | y) = N(m_y, I) with learned class means.

Timing as the decoder family: norse `LIFCell`s (`spikeport.train.neurons.lif_cell`) and one step of synaptic delay
per connection, so the float model and the chip share one timing. Weights are fake-quantized per tensor to
`weight_bits` in the forward pass (straight-through), so the 8-bit deployment loses little.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from spikeport.simulators.timing import delayed
from spikeport.train.layers.associative_memory import HebbianAssociativeMemory, MemoryConfig, Normalization
from spikeport.train.models.isam.config import IsamConfig
from spikeport.train.neurons import lif_cell

__all__ = ["IsamModel", "IsamOutput", "fake_quant", "readout_counts"]


class IsamOutput(NamedTuple):
    """What `IsamModel.forward` returns."""

    latent_spikes: Tensor
    """(batch, T, n_latent) 0/1: the latent LIF spikes (the memory's input)."""
    hidden_spikes: Tensor
    """(batch, T, n_hidden) 0/1: spikes of the convolutional LIF layer."""
    mu: Tensor
    """(batch, n_latent): mean of q(z | x), the trial mean of the latent input current."""
    log_sigma: Tensor
    """(n_latent,): log standard deviation of q(z | x)."""


def fake_quant(weight: Tensor, bits: int) -> Tensor:
    """Per-tensor symmetric rounding to 2**(bits-1) - 1 levels per sign, straight-through (the chip's 8-bit mixed
    mantissas hold 127 magnitudes at step 2, `spikeport.ir.formats`)."""
    peak = weight.detach().abs().max()
    if peak == 0:
        return weight
    step = peak / (2 ** (bits - 1) - 1)
    return weight + (torch.round(weight / step) * step - weight).detach()


def readout_counts(latent_spikes: Tensor, delay: int) -> Tensor:
    """Latent spike counts that reach the memory's accumulator within the sample's T steps: steps 0 .. T-1-delay.

    The deployed accumulator receives a spike of step t at step t + delay, so its v at the last step sums exactly
    these; the float model uses the same counts, for learning and for recall (`Readout.ARGMAX_LAST_V`).
    """
    steps = latent_spikes.shape[1]
    return latent_spikes[:, : max(steps - delay, 0)].sum(dim=1)


class IsamModel(nn.Module):
    """Shared spiking encoder, training-only decoder, label-conditioned prior and per-subject memories.

    Args:
        config: Sizes and constants.
        seed: Seed of the weight initialisation (a private generator; global RNG state is untouched).
    """

    def __init__(self, config: IsamConfig, *, seed: int = 0) -> None:
        super().__init__()
        self.config = config
        c = config
        with torch.random.fork_rng(devices=[]):  # default inits would consume the global RNG
            self.conv = nn.Conv1d(c.n_features, c.conv_channels, c.kernel_size, padding=c.kernel_size // 2, bias=False)
            self.fc_mu = nn.Linear(c.n_hidden, c.n_latent, bias=False)
            self.dec_fc = nn.Linear(c.n_latent, c.decoder_channels * c.n_electrodes)
            self.deconv = nn.ConvTranspose1d(
                c.decoder_channels, c.n_features, c.kernel_size, padding=c.kernel_size // 2
            )
        neuron = {"dt_s": c.dt_s, "tau_syn_s": c.tau_syn_s, "tau_mem_s": c.tau_mem_s, "v_th": c.v_th}
        self.lif = lif_cell(**neuron, surrogate_alpha=100.0)
        self.latent = lif_cell(**neuron, surrogate_alpha=100.0)
        self.log_sigma = nn.Parameter(torch.full((c.n_latent,), -1.0))
        self.prior_mu = nn.Parameter(torch.zeros(c.n_classes, c.n_latent))
        self.prototypes = nn.Parameter(torch.zeros(c.n_classes, c.n_latent))
        self.memory = HebbianAssociativeMemory(
            MemoryConfig(c.n_latent, c.n_classes, eta=c.eta, normalization=Normalization(c.normalization))
        )
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            fan_conv = c.n_features * c.kernel_size
            self.conv.weight.normal_(0.0, 2.5 / math.sqrt(0.2 * fan_conv), generator=gen)
            self.fc_mu.weight.normal_(0.0, 2.5 / math.sqrt(0.1 * c.n_hidden), generator=gen)
            self.prior_mu.normal_(0.0, 0.5, generator=gen)
            self.prototypes.uniform_(0.0, 1.0, generator=gen)

    def forward(self, spikes: Tensor, *, noise: Tensor | None = None) -> IsamOutput:
        """Run the encoder over (batch, T, n_inputs) spikes; `noise` (batch, n_latent) ~ N(0, 1) samples q(z | x).

        Raises:
            ValueError: If the input does not have shape (batch, T, n_inputs).
        """
        c = self.config
        if spikes.ndim != 3 or spikes.shape[2] != c.n_inputs:
            raise ValueError(f"IsamModel.forward: expected input (batch, T, {c.n_inputs}), got {tuple(spikes.shape)}")
        batch, steps = spikes.shape[:2]
        x = spikes.to(torch.float32).reshape(batch * steps, c.n_features, c.n_electrodes)
        conv = nn.functional.conv1d(x, fake_quant(self.conv.weight, c.weight_bits), padding=c.kernel_size // 2)
        currents = delayed(conv.reshape(batch, steps, c.n_hidden), c.synaptic_delay_steps, time_dim=1)
        hidden_spikes = self._run(self.lif, currents)
        mu_t = delayed(
            nn.functional.linear(hidden_spikes, fake_quant(self.fc_mu.weight, c.weight_bits)),
            c.synaptic_delay_steps,
            time_dim=1,
        )
        mu = mu_t.mean(dim=1)
        drive = mu_t if noise is None else mu_t + (self.log_sigma.exp() * noise)[:, None, :]
        latent_spikes = self._run(self.latent, drive)
        return IsamOutput(latent_spikes, hidden_spikes, mu, self.log_sigma)

    @staticmethod
    def _run(cell, currents: Tensor) -> Tensor:
        state, out = None, []
        for t in range(currents.shape[1]):
            z, state = cell(currents[:, t], state)
            out.append(z)
        return torch.stack(out, dim=1)

    def reconstruct(self, latent_spikes: Tensor) -> Tensor:
        """The decoder (training only): latent rates per window -> input rates (batch, windows, n_features, L)."""
        c = self.config
        rates = window_means(latent_spikes, c.recon_windows)  # (batch, W, n_latent)
        batch, windows = rates.shape[:2]
        hidden = torch.relu(self.dec_fc(rates)).reshape(batch * windows, c.decoder_channels, c.n_electrodes)
        return self.deconv(hidden).reshape(batch, windows, c.n_features, c.n_electrodes)

    def counts(self, latent_spikes: Tensor) -> Tensor:
        """Memory input: `readout_counts` with the model's synaptic delay."""
        return readout_counts(latent_spikes, self.config.synaptic_delay_steps)


def window_means(values: Tensor, windows: int) -> Tensor:
    """(batch, T, n) -> (batch, windows, n): means over `windows` contiguous, nearly equal time windows."""
    steps = values.shape[1]
    bounds = [round(i * steps / windows) for i in range(windows + 1)]
    return torch.stack([values[:, a:b].mean(dim=1) for a, b in itertools.pairwise(bounds)], dim=1)
