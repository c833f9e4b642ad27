"""Loihi `fixed_pt` integer arithmetic as torch functions: the one definition the reference simulator uses.

Values are float64 tensors that hold integers. float64 represents every integer below 2**53 exactly, and the
largest intermediate here is a 32-bit state times a 13-bit decay factor (< 2**45), so the arithmetic is exact;
it lets the same code run batched matrix products through BLAS and carry straight-through gradients when used
as a quantization-aware training forward (floor/trunc/wrap pass gradients through unchanged).

The semantics are those of lava-nc 0.10.0's `PyLifModelBitAcc` and `PyDenseModelBitAcc`, measured in
../shared/docs/loihi-fixed-point.md and restated in docs/fixed-point.md, including Lava's int32 channel
wrap-around and its single (non-modulo) 24-bit correction of `u`.
"""

from __future__ import annotations

import numpy as np
import torch

DECAY_SHIFT = 12  # decays are fractions of 2**12
ACT_SHIFT = 6  # synaptic input and threshold are MSB-aligned by 2**6
UV_HALF_RANGE = 2**23  # u and v are 24-bit signed
V_LIMIT = UV_HALF_RANGE - 1
INT32_HALF = 2.0**31


def _straight_through(x: torch.Tensor, rounded: torch.Tensor) -> torch.Tensor:
    """`rounded` in the forward pass, the gradient of `x` in the backward pass."""
    return x + (rounded - x).detach() if x.requires_grad else rounded


def floor_(x: torch.Tensor) -> torch.Tensor:
    """Floor with a straight-through gradient."""
    return _straight_through(x, torch.floor(x))


def trunc_(x: torch.Tensor) -> torch.Tensor:
    """Round toward zero with a straight-through gradient."""
    return _straight_through(x, torch.trunc(x))


def wrap_int32(x: torch.Tensor) -> torch.Tensor:
    """Two's-complement wrap into int32, as numpy int32 arithmetic and Lava's int32 channels do."""
    if not x.requires_grad and x.numel():
        low, high = torch.aminmax(x)
        if low >= -INT32_HALF and high < INT32_HALF:
            return x  # nothing to wrap: one pass instead of five
    return _straight_through(x, x - 2.0**32 * torch.floor((x + INT32_HALF) / 2.0**32))


def shift(x: torch.Tensor, exponent: int) -> torch.Tensor:
    """`x << exponent` for exponent > 0, `x >> -exponent` (floor) otherwise."""
    if exponent > 0:
        return x * float(2**exponent)
    return floor_(x / float(2**-exponent)) if exponent < 0 else x


def decay(x: torch.Tensor, keep: int) -> torch.Tensor:
    """`sign(x * keep) * (|x * keep| >> 12)`: multiply by keep/4096 and round toward zero."""
    return trunc_(x * float(keep) / float(2**DECAY_SHIFT))


def effective_bias(bias_mant: np.ndarray, bias_exp: int) -> torch.Tensor:
    """`bias_mant << bias_exp` (or `>> -bias_exp`) in Lava's int32 arithmetic."""
    bias = torch.tensor(np.asarray(bias_mant, dtype=np.int64), dtype=torch.float64)
    return wrap_int32(shift(bias, int(bias_exp)))


def lif_update(
    u: torch.Tensor,
    v: torch.Tensor,
    a_in: torch.Tensor,
    *,
    du: int,
    dv: int,
    bias: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of Loihi's CUBA LIF sub-threshold dynamics; returns the new (u, v) before spiking and reset.

    u <- wrap24(int32(decay(u, 4096 - (du + 1))) + int32(a_in << 6)); the 24-bit wrap is a single correction.
    v <- clip(int32(decay(v, 4096 - dv) + u + bias), -(2**23 - 1), 2**23 - 1).
    """
    u = wrap_int32(wrap_int32(decay(u, 2**DECAY_SHIFT - (du + 1))) + wrap_int32(a_in * float(2**ACT_SHIFT)))
    u = torch.where(
        u > UV_HALF_RANGE, u - 2 * UV_HALF_RANGE, torch.where(u <= -UV_HALF_RANGE, u + 2 * UV_HALF_RANGE, u)
    )
    v = wrap_int32(wrap_int32(decay(v, 2**DECAY_SHIFT - dv)) + u + bias)
    return u, torch.clamp(v, -V_LIMIT, V_LIMIT)


def spikes_binary(v: torch.Tensor, vth: int) -> torch.Tensor:
    """1.0 where v > vth << 6, else 0.0.

    When `v` carries gradients (quantization-aware training) the backward pass uses a fast-sigmoid surrogate,
    d spike / d v = 1 / (w * (1 + |v - theta| / w)**2) with width w = max(theta, 64), the SuperSpike form
    (Zenke & Ganguli, Neural Computation 30(6), 2018) in the chip's integer units.
    """
    theta = float(vth << ACT_SHIFT)
    spikes = (v > theta).to(v.dtype)
    if not v.requires_grad:
        return spikes
    width = max(theta, 64.0)
    soft = (v - theta) / (width + torch.abs(v - theta))  # derivative: the surrogate above
    return spikes + (soft - soft.detach())


def spikes_ternary(v: torch.Tensor, vth_hi: int, vth_lo: int) -> torch.Tensor:
    """+1 where v > vth_hi << 6, -1 where v < vth_lo << 6, else 0 (TernaryLIF)."""
    hi = (v > float(vth_hi * 2**ACT_SHIFT)).to(v.dtype)
    lo = (v < float(vth_lo * 2**ACT_SHIFT)).to(v.dtype)
    return hi - lo


def reset_spiked(v: torch.Tensor, spikes: torch.Tensor) -> torch.Tensor:
    """v <- 0 where the neuron spiked (u is not reset)."""
    return torch.where(spikes != 0, torch.zeros_like(v), v)


def sign_mode(weights: np.ndarray) -> str:
    """Lava's sign mode of a weight matrix: 'excitatory' if min >= 0, 'inhibitory' if max <= 0, else 'mixed'."""
    if weights.size == 0 or weights.min() >= 0:
        return "excitatory"
    return "inhibitory" if weights.max() <= 0 else "mixed"


def effective_weights(weights: np.ndarray, num_weight_bits: int = 8) -> np.ndarray:
    """The weights Lava's Dense actually uses: clipped to 8 bits by sign mode, then truncated.

    Clip: mixed [-256, 255], excitatory [0, 255], inhibitory [-255, 0]. Truncation drops
    `8 - num_weight_bits (+1 if mixed)` low bits (floor; toward zero for inhibitory weights).
    """
    w = np.asarray(weights, dtype=np.int64)
    mode = sign_mode(w)
    mixed = mode == "mixed"
    if mode == "inhibitory":
        w = -w
    w = np.clip(w, -256 if mixed else 0, 255)
    drop = 8 - num_weight_bits + int(mixed)
    w = (w >> drop) << drop
    return -w if mode == "inhibitory" else w


def _sum_of_wrapped_products(spikes: torch.Tensor, weights_t: torch.Tensor) -> torch.Tensor:
    """`sum_j int32(spikes[..., j] * W^T[j, :])`, exact: each product wraps to int32, the sum does not."""
    largest = float(spikes.abs().max()) * float(weights_t.abs().max()) if spikes.numel() and weights_t.numel() else 0.0
    if largest < INT32_HALF:  # no product can wrap: one exact matrix product
        return spikes @ weights_t
    flat = spikes.reshape(-1, spikes.shape[-1])
    rows = max(1, 2**22 // max(1, weights_t.numel()))  # bound the (rows, n_in, n_out) temporary
    out = torch.cat([wrap_int32(chunk[:, :, None] * weights_t).sum(dim=1) for chunk in flat.split(rows)])
    return out.reshape(*spikes.shape[:-1], weights_t.shape[1])


def dense_accumulate(
    spikes: torch.Tensor, weights_t: torch.Tensor, *, weight_exp: int, graded: bool, delayed: bool = False
) -> torch.Tensor:
    """Dense synaptic input from one step's spikes: `shift(spikes @ W^T, weight_exp)` as Lava computes it.

    Binary mode counts any non-zero input as 1 and sums exactly. Graded mode differs between Lava's models:
    `Dense` takes numpy's int32 dot product, so the whole sum wraps to int32 before the shift; `DelayDense`
    (`delayed=True`) multiplies elementwise in int32 (each product wraps) and sums in int64, so the sum is
    shifted before it wraps (when it enters the int32 buffer). The two agree unless payload x weight sums leave
    int32 and `weight_exp` < -6. `weights_t` is W transposed, shape (n_in, n_out).
    """
    if graded:
        if delayed:
            return shift(_sum_of_wrapped_products(spikes, weights_t), weight_exp)
        return shift(wrap_int32(_matmul(spikes, weights_t)), weight_exp)
    if spikes.requires_grad:  # QAT passes 0/1 spikes
        return shift(spikes @ weights_t, weight_exp)
    active = spikes != 0
    if (
        not weights_t.requires_grad
        and weights_t.numel()
        and float(weights_t.abs().sum(dim=0).max()) < FLOAT32_EXACT  # exact in float32, see _matmul
    ):
        return shift((active.to(torch.float32) @ weights_t.to(torch.float32)).to(torch.float64), weight_exp)
    return shift(active.to(weights_t.dtype) @ weights_t, weight_exp)


FLOAT32_EXACT = 2.0**24  # float32 holds every integer of magnitude <= 2**24


def _matmul(x: torch.Tensor, weights_t: torch.Tensor) -> torch.Tensor:
    """`x @ weights_t` of integer-valued float64 tensors, in float32 where that is exact (about twice as fast).

    Every partial sum of output j, in any summation order, is bounded by max|x| * sum_i |W^T[i, j]|; below 2**24
    all of them, and all products, are integers that float32 represents exactly (for binary spikes max|x| = 1).
    """
    if x.requires_grad or weights_t.requires_grad or not x.numel() or not weights_t.numel():
        return x @ weights_t
    bound = float(x.abs().max()) * float(weights_t.abs().sum(dim=0).max())
    if bound >= FLOAT32_EXACT:
        return x @ weights_t
    return (x.to(torch.float32) @ weights_t.to(torch.float32)).to(torch.float64)
