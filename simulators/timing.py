"""Synaptic delays on whole time series: the one delay convention shared by training and the simulators.

A connection with a delay of d steps delivers at step t what its source emitted at step t - d, and nothing for
t < d (Loihi's Dense delivers with d = 1, a DelayDense with 1 + its delay). On a tensor that holds every step at
once this is a shift along the time axis with zeros in front:

    out[..., t, ...] = x[..., t - d, ...]  for t >= d,    0  for t < d,

over the same number of steps (what would arrive after the last step is dropped). The time axis is always named
by the caller (`time_dim`), since two layouts are in use: the decoder, the simulators and the deploy records keep
samples first, (samples, T, ...), so `time_dim=1`; the trainable layers keep time first as norse does, (T, ...),
so `time_dim=0`.
"""

from __future__ import annotations

import torch

__all__ = ["delayed"]


def delayed(x: torch.Tensor, steps: int, *, time_dim: int) -> torch.Tensor:
    """`x` shifted `steps` steps later along `time_dim`: out[t] = x[t - steps], zeros for t < steps.

    Args:
        x: A tensor holding a time series along `time_dim` (any dtype, integer ones included).
        steps: The delay in steps, >= 0.
        time_dim: The time axis of `x` (negative values count from the end).

    Returns:
        A tensor of the same shape, dtype and device; `x` itself when `steps` is 0. Gradients flow to the steps
        that are kept.

    Raises:
        ValueError: If `steps` is negative.
    """
    steps = int(steps)
    if steps < 0:
        raise ValueError(f"delayed: the delay must be >= 0 steps, got {steps}")
    if steps == 0:
        return x
    length = x.shape[time_dim]
    kept = max(length - steps, 0)
    zeros_shape = list(x.shape)
    zeros_shape[time_dim] = length - kept
    return torch.cat((x.new_zeros(zeros_shape), x.narrow(time_dim, 0, kept)), dim=time_dim)
