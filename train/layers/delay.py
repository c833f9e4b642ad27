"""Synaptic delays and memoryless threshold units shared by spikeport's trainable layers.

spikeport trains with Loihi's timing: every connection between two neuron layers delivers at step t + d what its
source emitted at step t (`synaptic_delay_steps` d, default 1, as Loihi's Dense; see `spikeport.train.model`).
Layers here keep the time axis first, (T, ...), so a delay is a shift along dim 0 with zeros first.
"""

from __future__ import annotations

from norse.torch.functional.superspike import super_fn
from torch import Tensor, nn

__all__ = ["delayed", "threshold_unit"]


def delayed(x: Tensor, steps: int) -> Tensor:
    """`x` of shape (T, ...) shifted `steps` steps later in time: out[t] = x[t - steps], zeros for t < steps.

    Args:
        x: A time-first tensor (T, ...).
        steps: Delay in steps, >= 0.

    Returns:
        A tensor of the same shape and dtype; gradients flow to the steps that are kept.

    Raises:
        ValueError: If `steps` is negative.
    """
    if steps < 0:
        raise ValueError(f"delayed: the delay must be >= 0 steps, got {steps}")
    if steps == 0:
        return x
    pad = [0, 0] * (x.ndim - 1) + [steps, 0]  # F.pad lists dims last-first; only dim 0 gets zeros in front
    return nn.functional.pad(x, pad)[: x.shape[0]]


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
