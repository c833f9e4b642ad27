r"""The skeleton spiking decoder: input spikes -> dense -> LIF -> dense -> leaky integrator readout.

Neurons are Norse cells used as they are (`norse.torch.LIFCell`, `norse.torch.LICell`), trained with surrogate
gradients. The attribute names (`config`, `fc_in`, `lif`, `fc_out`, `readout`) are an interface: the NIR
exporter reads them.

Time. One network step is one encoder time bin; `dt_s` is the integration step that Norse multiplies into the
decay terms, so only the ratios `dt_s / tau_*` matter (defaults: 1 ms steps, tau_syn 5 steps, tau_mem 10
steps).

Continuous model (both layers; the LIF adds the threshold and reset):

.. math::
    \tau_{syn} \dot{i} = -i + \tau_{syn} \sum_k w x_k \delta(t - t_k), \qquad
    \tau_{mem} \dot{v} = (v_{leak} - v) + i, \qquad
    v > v_{th} \Rightarrow \text{spike}, \; v \leftarrow v_{reset}

Exact discrete update, read from the installed Norse 1.1.0 source
(`norse/torch/functional/lif.py::lif_feed_forward_step`, `leaky_integrator.py::li_feed_forward_step`).
With :math:`x_t` the weighted input at step t, :math:`\alpha = dt/\tau_{syn}`, :math:`\beta = dt/\tau_{mem}`:

LIF (hidden layer, `LIFCell`)::

    j_t   = i_{t-1} + x_t                                  # 1. input added to the current first
    v'_t  = v_{t-1} + beta * ((v_leak - v_{t-1}) + j_t)    # 2. membrane uses the *new* current
    i_t   = j_t * (1 - alpha)                              # 3. current decays after use
    z_t   = H(v'_t - v_th)           (H(0) = 0: spike only if v'_t > v_th strictly)
    v_t   = (1 - z_t) * v'_t + z_t * v_reset               # 4. reset to v_reset (not subtract)

So an input at step t reaches v at the same step t; there is no synaptic delay inside Norse. In Loihi terms
u_t := j_t = (1 - alpha) u_{t-1} + x_t (decay, then add) and v_t = (1 - beta) v_{t-1} + beta u_t: the same
recursion as Loihi's CUBA neuron with du = alpha, dv = beta and the input scaled by beta. The one-step
delay of Loihi's Dense connection has no counterpart here and must be accounted for by the exporter (it
shifts every layer by one step). Initial state: v = v_leak = 0, i = 0.

LI (readout, `LICell`), same order without threshold::

    j_t = i_{t-1} + x_t;   v_t = v_{t-1} + beta_r * ((v_leak - v_{t-1}) + j_t);   i_t = (1 - alpha_r) j_t

so the readout also adds the input to its current *before* updating v, and returns v_t.

Synaptic delay. Norse has none, Loihi's Dense has one step. `SpikingDecoder` delays the output of each dense
layer by `config.synaptic_delay_steps` (default 1) before it reaches the neurons, so x_t above is the weighted
input of step t - 1 and the model trains with exactly the timing it will have on the chip.

Gradient notes (Norse 1.1.0): `method="super"` uses SuperSpike, whose backward is
grad / (|v - v_th| + 1)**2; it ignores `alpha` (the value is stored but unused), so `surrogate_alpha` only
matters if Norse changes. The reset in `lif_feed_forward_step` is not detached, so gradients flow through it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import norse.torch
import torch
from torch import Tensor, nn

from spikeport.simulators.timing import delayed
from spikeport.train.models.decoder.config import DecoderConfig
from spikeport.train.neurons import lif_cell

__all__ = ["DecoderConfig", "DecoderOutput", "SpikingDecoder"]


class DecoderOutput(NamedTuple):
    """What `SpikingDecoder.forward` returns."""

    logits: Tensor
    """Shape (batch, n_classes): readout membrane voltage averaged over time."""
    hidden_spikes: Tensor
    """Shape (batch, T, n_hidden), 0/1 float: hidden LIF spikes."""
    readout_v: Tensor
    """Shape (batch, T, n_classes): readout membrane voltage per step."""


class SpikingDecoder(nn.Module):
    """Feed-forward spiking classifier: Linear -> LIFCell -> Linear -> LICell, logits = mean readout voltage.

    Args:
        config: Sizes and constants.
        seed: Seed of the weight initialisation (a private `torch.Generator`; global RNG state is untouched).
    """

    def __init__(self, config: DecoderConfig, *, seed: int = 0) -> None:
        super().__init__()
        self.config = config
        with torch.random.fork_rng(devices=[]):  # nn.Linear's default init would consume the global RNG
            fc_in = nn.Linear(config.n_inputs, config.n_hidden, bias=False)
            fc_out = nn.Linear(config.n_hidden, config.n_classes, bias=False)
        self.fc_in = fc_in
        self.lif = lif_cell(
            dt_s=config.dt_s,
            tau_syn_s=config.tau_syn_s,
            tau_mem_s=config.tau_mem_s,
            v_th=config.v_th,
            surrogate_alpha=config.surrogate_alpha,
        )
        self.fc_out = fc_out
        self.readout = norse.torch.LICell(
            norse.torch.LIParameters(
                tau_syn_inv=torch.as_tensor(1.0 / config.readout_tau_syn_s),
                tau_mem_inv=torch.as_tensor(1.0 / config.readout_tau_mem_s),
                v_leak=torch.as_tensor(0.0),
            ),
            dt=config.dt_s,
        )
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            in_std = config.init_gain / math.sqrt(0.2 * config.n_inputs)
            self.fc_in.weight.normal_(0.0, in_std, generator=gen)
            self.fc_out.weight.normal_(0.0, 1.0 / math.sqrt(config.n_hidden), generator=gen)

    def forward(self, spikes: Tensor) -> DecoderOutput:
        """Run the network over a batch of spike trains.

        Args:
            spikes: Shape (batch, T, n_inputs), 0/1 of any real or integer dtype.

        Returns:
            Logits, hidden spikes and readout voltages (see `DecoderOutput`).

        Raises:
            ValueError: If the input does not have shape (batch, T, n_inputs).
        """
        if spikes.ndim != 3 or spikes.shape[2] != self.config.n_inputs:
            raise ValueError(
                f"SpikingDecoder.forward: expected input of shape (batch, T, {self.config.n_inputs}), "
                f"got {tuple(spikes.shape)}"
            )
        x = spikes.to(self.fc_in.weight.dtype)
        delay = self.config.synaptic_delay_steps
        currents = delayed(self.fc_in(x), delay, time_dim=1)  # (batch, T, n_hidden), all steps at once
        lif_state = li_state = None
        hidden, volts = [], []
        for t in range(x.shape[1]):
            z, lif_state = self.lif(currents[:, t], lif_state)
            hidden.append(z)
        hidden_spikes = torch.stack(hidden, dim=1)
        readout_in = delayed(self.fc_out(hidden_spikes), delay, time_dim=1)
        for t in range(x.shape[1]):
            v, li_state = self.readout(readout_in[:, t], li_state)
            volts.append(v)
        readout_v = torch.stack(volts, dim=1)
        return DecoderOutput(logits=readout_v.mean(dim=1), hidden_spikes=hidden_spikes, readout_v=readout_v)
