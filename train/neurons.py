"""The norse neuron cells spikeport's layers are built from, with one set of conventions.

Every spiking layer uses norse 1.1's `LIFCell` the same way: v_leak = v_reset = 0, the SuperSpike surrogate
("super"), time constants in seconds and the integration step `dt_s` (its exact discrete update is documented
in `spikeport.train.models.decoder.model`). Building them in one place keeps the layers, and their NIR exports,
consistent.
"""

from __future__ import annotations

import norse.torch
import torch

__all__ = ["lif_cell"]


def lif_cell(*, dt_s: float, tau_syn_s: float, tau_mem_s: float, v_th: float, surrogate_alpha: float):
    """A norse `LIFCell` (current-based LIF, reset to 0) with spikeport's conventions."""
    return norse.torch.LIFCell(
        norse.torch.LIFParameters(
            tau_syn_inv=torch.as_tensor(1.0 / tau_syn_s),
            tau_mem_inv=torch.as_tensor(1.0 / tau_mem_s),
            v_th=torch.as_tensor(v_th),
            v_leak=torch.as_tensor(0.0),
            v_reset=torch.as_tensor(0.0),
            method="super",
            alpha=torch.as_tensor(surrogate_alpha),
        ),
        dt=dt_s,
    )
