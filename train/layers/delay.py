"""Memoryless threshold units shared by spikeport's trainable layers.

spikeport trains with Loihi's timing: every connection between two neuron layers delivers at step t + d what its
source emitted at step t (`synaptic_delay_steps` d, default 1, as Loihi's Dense). The layers keep the time axis
first, (T, ...), and delay with `spikeport.simulators.timing.delayed(x, d, time_dim=0)`, the one delay function
of training and the simulators (re-exported as `spikeport.train.layers.delayed`).
"""

from __future__ import annotations

from norse.torch.functional.superspike import super_fn
from torch import Tensor

__all__ = ["threshold_unit"]


def threshold_unit(drive: Tensor, threshold: float) -> Tensor:
    """A memoryless spiking unit: H(drive - threshold) with H(0) = 0, trained with the SuperSpike surrogate.

    Forward: 1.0 where drive > threshold (strictly, as Norse's LIF threshold), else 0.0. Backward: Norse's
    `super_fn`, grad / (|drive - threshold| + 1)**2 (Zenke & Ganguli, Neural Computation 30, 2018), the surrogate
    the layers' LIF neurons use with `method="super"`, so the whole layer trains with one surrogate family.

    The unit is exactly a Norse `LIFCell` (or NIR `CubaLIF`) with tau_syn = tau_mem = dt, v_leak = v_reset = 0,
    r = w_in = 1 and v_th = threshold: with dt/tau = 1 the current and voltage forget everything each step, so
    v[t] = drive[t]. That is how an exporter can write it with standard neuron nodes.
    """
    return super_fn(drive - threshold)
