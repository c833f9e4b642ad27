"""Loihi `fixed_pt` integer arithmetic as torch functions: the one definition the reference simulator uses.

Values are float64 tensors that hold integers. float64 represents every integer below 2**53 exactly, and the
largest intermediate here is a 32-bit state times a 13-bit decay factor (< 2**45), so the arithmetic is exact;
it lets the same code run batched matrix products through BLAS and carry straight-through gradients when used
as a quantization-aware training forward (floor/trunc/wrap pass gradients through unchanged).

The semantics are those of lava-nc 0.10.0's `PyLifModelBitAcc` and `PyDenseModelBitAcc`, measured against
Lava and written down in docs/fixed-point.md, including Lava's int32 channel
wrap-around and its single (non-modulo) 24-bit correction of `u`. Widths, shifts and overflow policies come
from a `NumberFormats` (`spikeport.ir.formats`; default: the Loihi formats), passed to each function.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from spikeport.ir.formats import LOIHI_FORMATS, NumberFormats, Overflow


def _straight_through(x: torch.Tensor, rounded: torch.Tensor) -> torch.Tensor:
    """`rounded` in the forward pass, the gradient of `x` in the backward pass."""
    return x + (rounded - x).detach() if x.requires_grad else rounded


def floor_(x: torch.Tensor) -> torch.Tensor:
    """Floor with a straight-through gradient."""
    return _straight_through(x, torch.floor(x))


def trunc_(x: torch.Tensor) -> torch.Tensor:
    """Round toward zero with a straight-through gradient."""
    return _straight_through(x, torch.trunc(x))


def bound(x: torch.Tensor, bits: int, policy: Overflow) -> torch.Tensor:
    """Bring `x` into the signed `bits`-bit range by `policy` (see `Overflow`; half = 2**(bits - 1)).

    WRAP: x - 2**bits * floor((x + half) / 2**bits). WRAP_ONCE: x - 2**bits if x > half, x + 2**bits if
    x <= -half. SATURATE: clip(x, -(half - 1), half - 1). Gradients pass straight through (SATURATE: torch.clamp's).
    On a tensor without gradients whose values the policy leaves alone, `x` itself is returned (one pass over
    it instead of several), so `bound(x, ...) is x` tells a caller that nothing overflowed.
    """
    if not x.is_floating_point():
        return _bound_integer(x, bits, policy)
    half = float(2 ** (bits - 1))
    if not x.requires_grad and x.numel():
        low, high = torch.aminmax(x)
        if policy is Overflow.SATURATE:
            inside = low >= -(half - 1) and high <= half - 1
        elif policy is Overflow.WRAP_ONCE:
            inside = low > -half and high <= half
        else:
            inside = low >= -half and high < half
        if inside:
            return x
    if policy is Overflow.SATURATE:
        return torch.clamp(x, -(half - 1), half - 1)
    if policy is Overflow.WRAP_ONCE:
        return torch.where(x > half, x - 2 * half, torch.where(x <= -half, x + 2 * half, x))
    return _straight_through(x, x - 2 * half * torch.floor((x + half) / (2 * half)))


def _bound_integer(x: torch.Tensor, bits: int, policy: Overflow) -> torch.Tensor:
    """`bound` of an integer tensor, in integer arithmetic (exact for int64 sums beyond 2**53)."""
    half = 2 ** (bits - 1)
    if policy is Overflow.SATURATE:
        return torch.clamp(x, -(half - 1), half - 1)
    if policy is Overflow.WRAP_ONCE:
        return torch.where(x > half, x - 2 * half, torch.where(x <= -half, x + 2 * half, x))
    return torch.remainder(x + half, 2 * half) - half


def bound_counted(x: torch.Tensor, bits: int, policy: Overflow) -> tuple[torch.Tensor, torch.Tensor | int]:
    """`bound(x, bits, policy)` and how many values of `x` it changed (0, or a 0-dim tensor holding the count).

    Counting costs nothing when no value overflows (`bound` then returns `x` itself) and one comparison otherwise.
    """
    y = bound(x, bits, policy)
    return y, 0 if y is x else (y != x).sum()


def wrap_channel(x: torch.Tensor, formats: NumberFormats = LOIHI_FORMATS) -> torch.Tensor:
    """What Lava's integer arithmetic and channels do to `x` (int32: a two's-complement wrap)."""
    return bound(x, formats.channel_bits, formats.channel_overflow)


def wrap_int32(x: torch.Tensor) -> torch.Tensor:
    """`wrap_channel` under the Loihi formats: the two's-complement wrap of numpy int32 arithmetic and channels."""
    return wrap_channel(x)


def shift(x: torch.Tensor, exponent: int) -> torch.Tensor:
    """`x << exponent` for exponent > 0, `x >> -exponent` (floor) otherwise."""
    if exponent > 0:
        return x * float(2**exponent)
    return floor_(x / float(2**-exponent)) if exponent < 0 else x


def decay(x: torch.Tensor, keep: int, formats: NumberFormats = LOIHI_FORMATS) -> torch.Tensor:
    """`sign(x * keep) * (|x * keep| >> 12)`: multiply by keep/4096 and round toward zero (12: decay_bits)."""
    return trunc_(x * float(keep) / float(formats.decay_unity))


def decay_keeps(du: int, dv: int, formats: NumberFormats = LOIHI_FORMATS) -> tuple[int, int]:
    """The factors (out of `decay_unity`) that u and v keep per step: unity - (du + 1) and unity - dv (Lava adds
    1 to du)."""
    return formats.decay_unity - (int(du) + 1), formats.decay_unity - int(dv)


def effective_bias(bias_mant: np.ndarray, bias_exp: int, formats: NumberFormats = LOIHI_FORMATS) -> torch.Tensor:
    """`bias_mant << bias_exp` (or `>> -bias_exp`) in Lava's int32 arithmetic."""
    bias = torch.tensor(np.asarray(bias_mant, dtype=np.int64), dtype=torch.float64)
    return wrap_channel(shift(bias, int(bias_exp)), formats)


class LIFUpdate(NamedTuple):
    """One step of `lif_update_counted`: the new states and how many values each bound changed in the step."""

    u: torch.Tensor
    v: torch.Tensor
    u_overflows: torch.Tensor | int
    """Neurons whose u left `u_bits` (WRAP_ONCE: wrapped once by 2**u_bits)."""
    v_overflows: torch.Tensor | int
    """Neurons whose v left `v_bits` (SATURATE: clipped to +-(2**(v_bits - 1) - 1))."""
    channel_overflows: torch.Tensor | int
    """Values the `channel_bits` arithmetic wrapped: the input shifted by act_shift, and the sums into u and v."""


def _lif(u, v, a_in, du: int, dv: int, bias, formats: NumberFormats, count: bool) -> LIFUpdate:
    """The one LIF update; counts overflows only if `count` (otherwise every count is 0 and nothing is compared)."""
    f = formats
    word, policy = f.channel_bits, f.channel_overflow
    channel: torch.Tensor | int = 0

    def in_word(x: torch.Tensor) -> torch.Tensor:
        nonlocal channel
        if not count:
            return bound(x, word, policy)
        y, n = bound_counted(x, word, policy)
        channel = channel + n
        return y

    keep_u, keep_v = decay_keeps(du, dv, f)
    u = in_word(in_word(decay(u, keep_u, f)) + in_word(a_in * float(2**f.act_shift)))
    u, u_over = bound_counted(u, f.u_bits, f.u_overflow) if count else (bound(u, f.u_bits, f.u_overflow), 0)
    v = in_word(in_word(decay(v, keep_v, f)) + u + bias)
    v, v_over = bound_counted(v, f.v_bits, f.v_overflow) if count else (bound(v, f.v_bits, f.v_overflow), 0)
    return LIFUpdate(u, v, u_over, v_over, channel)


def lif_update(
    u: torch.Tensor,
    v: torch.Tensor,
    a_in: torch.Tensor,
    *,
    du: int,
    dv: int,
    bias: torch.Tensor,
    formats: NumberFormats = LOIHI_FORMATS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of Loihi's CUBA LIF sub-threshold dynamics; returns the new (u, v) before spiking and reset.

    With the Loihi formats (int32 arithmetic that wraps, u WRAP_ONCE and v SATURATE at 24 bits):
    u <- wrap24(int32(decay(u, 4096 - (du + 1))) + int32(a_in << 6)); the 24-bit wrap is a single correction.
    v <- clip(int32(decay(v, 4096 - dv) + u + bias), -(2**23 - 1), 2**23 - 1).
    """
    result = _lif(u, v, a_in, du, dv, bias, formats, count=False)
    return result.u, result.v


def lif_update_counted(
    u: torch.Tensor,
    v: torch.Tensor,
    a_in: torch.Tensor,
    *,
    du: int,
    dv: int,
    bias: torch.Tensor,
    formats: NumberFormats = LOIHI_FORMATS,
) -> LIFUpdate:
    """`lif_update` (the same arithmetic) with the number of values each bound changed in the step."""
    return _lif(u, v, a_in, du, dv, bias, formats, count=True)


def spikes_binary(v: torch.Tensor, vth: int, formats: NumberFormats = LOIHI_FORMATS) -> torch.Tensor:
    """1.0 where v > vth << 6, else 0.0.

    When `v` carries gradients (quantization-aware training) the backward pass uses a fast-sigmoid surrogate,
    d spike / d v = 1 / (w * (1 + |v - theta| / w)**2) with width w = max(theta, 64), the SuperSpike form
    (Zenke & Ganguli, Neural Computation 30(6), 2018) in the chip's integer units.
    """
    theta = float(vth << formats.act_shift)
    spikes = (v > theta).to(v.dtype)
    if not v.requires_grad:
        return spikes
    width = max(theta, 64.0)
    soft = (v - theta) / (width + torch.abs(v - theta))  # derivative: the surrogate above
    return spikes + (soft - soft.detach())


def spikes_ternary(v: torch.Tensor, vth_hi: int, vth_lo: int, formats: NumberFormats = LOIHI_FORMATS) -> torch.Tensor:
    """+1 where v > vth_hi << 6, -1 where v < vth_lo << 6, else 0 (TernaryLIF)."""
    hi = (v > float(vth_hi * 2**formats.act_shift)).to(v.dtype)
    lo = (v < float(vth_lo * 2**formats.act_shift)).to(v.dtype)
    return hi - lo


def reset_spiked(v: torch.Tensor, spikes: torch.Tensor) -> torch.Tensor:
    """v <- 0 where the neuron spiked (u is not reset)."""
    return torch.where(spikes != 0, torch.zeros_like(v), v)


def effective_weights(
    weights: np.ndarray, num_weight_bits: int = 8, formats: NumberFormats = LOIHI_FORMATS
) -> np.ndarray:
    """The weights Lava's Dense actually uses: `NumberFormats.effective_weights` (clip by sign mode, truncate).

    Loihi: clip to mixed [-256, 255], excitatory [0, 255], inhibitory [-255, 0]; truncation drops
    `8 - num_weight_bits (+1 if mixed)` low bits (floor; toward zero for inhibitory weights).
    """
    return formats.effective_weights(weights, num_weight_bits)


def _sum_of_wrapped_products(
    spikes: torch.Tensor, weights_t: torch.Tensor, formats: NumberFormats
) -> tuple[torch.Tensor, torch.Tensor | int]:
    """`sum_j int32(spikes[..., j] * W^T[j, :])`, exact: each product wraps to int32, the sum does not.

    Returns the sums and the number of products that wrapped.
    """
    largest = float(spikes.abs().max()) * float(weights_t.abs().max()) if spikes.numel() and weights_t.numel() else 0.0
    if largest < 2.0 ** (formats.channel_bits - 1):  # no product can wrap: one exact matrix product
        return _matmul(spikes, weights_t).to(spikes.dtype), 0
    flat = spikes.reshape(-1, spikes.shape[-1])
    if largest >= FLOAT64_EXACT:  # products beyond float64's integers: wrap them in int64 arithmetic
        flat, weights_t = flat.to(torch.int64), weights_t.to(torch.int64)
    rows = max(1, 2**22 // max(1, weights_t.numel()))  # bound the (rows, n_in, n_out) temporary
    sums, wrapped = [], 0
    for chunk in flat.split(rows):
        products, n = bound_counted(chunk[:, :, None] * weights_t, formats.channel_bits, formats.channel_overflow)
        sums.append(products.sum(dim=1).to(torch.float64))  # wrapped products: their sum stays below 2**53
        wrapped = wrapped + n
    return torch.cat(sums).reshape(*spikes.shape[:-1], weights_t.shape[1]), wrapped


def dense_accumulate(
    spikes: torch.Tensor,
    weights_t: torch.Tensor,
    *,
    weight_exp: int,
    graded: bool,
    delayed: bool = False,
    formats: NumberFormats = LOIHI_FORMATS,
) -> torch.Tensor:
    """Dense synaptic input from one step's spikes: `shift(spikes @ W^T, weight_exp)` as Lava computes it.

    Binary mode counts any non-zero input as 1 and sums exactly. Graded mode differs between Lava's models:
    `Dense` takes numpy's int32 dot product, so the whole sum wraps to int32 before the shift; `DelayDense`
    (`delayed=True`) multiplies elementwise in int32 (each product wraps) and sums in int64, so the sum is
    shifted before it wraps (when it enters the int32 buffer). The two agree unless payload x weight sums leave
    int32 and `weight_exp` < -6. `weights_t` is W transposed, shape (n_in, n_out).
    """
    return dense_accumulate_counted(
        spikes, weights_t, weight_exp=weight_exp, graded=graded, delayed=delayed, formats=formats
    )[0]


def dense_accumulate_counted(
    spikes: torch.Tensor,
    weights_t: torch.Tensor,
    *,
    weight_exp: int,
    graded: bool,
    delayed: bool = False,
    formats: NumberFormats = LOIHI_FORMATS,
) -> tuple[torch.Tensor, torch.Tensor | int]:
    """`dense_accumulate` and how many values its int32 arithmetic wrapped (graded sums or products; binary: 0).

    The wrap of what the synapse finally delivers happens later, where its input enters the channel.
    """
    if graded:
        if delayed:
            sums, wrapped = _sum_of_wrapped_products(spikes, weights_t, formats)
            return shift(sums, weight_exp), wrapped
        sums, wrapped = bound_counted(_matmul(spikes, weights_t), formats.channel_bits, formats.channel_overflow)
        if not sums.is_floating_point():  # int64 sums (beyond 2**53), now inside the channel: exact as float64
            sums = sums.to(torch.float64)
        return shift(sums, weight_exp), wrapped
    if spikes.requires_grad:  # QAT passes 0/1 spikes
        return shift(spikes @ weights_t, weight_exp), 0
    active = spikes != 0
    if (
        not weights_t.requires_grad
        and weights_t.numel()
        and float(weights_t.abs().sum(dim=0).max()) < FLOAT32_EXACT  # exact in float32, see _matmul
    ):
        return shift((active.to(torch.float32) @ weights_t.to(torch.float32)).to(torch.float64), weight_exp), 0
    return shift(active.to(weights_t.dtype) @ weights_t, weight_exp), 0


FLOAT32_EXACT = 2.0**24  # float32 holds every integer of magnitude <= 2**24 (24-bit significand)
FLOAT64_EXACT = 2.0**53  # and float64 every one <= 2**53


def _matmul(x: torch.Tensor, weights_t: torch.Tensor) -> torch.Tensor:
    """`x @ weights_t` of integer-valued float64 tensors, in float32 where that is exact (about twice as fast).

    Every partial sum of output j, in any summation order, is bounded by max|x| * sum_i |W^T[i, j]|; below 2**24
    all of them, and all products, are integers that float32 represents exactly (for binary spikes max|x| = 1).
    """
    if x.requires_grad or weights_t.requires_grad or not x.numel() or not weights_t.numel():
        return x @ weights_t
    peak = float(x.abs().max()) * float(weights_t.abs().sum(dim=0).max())
    if peak >= FLOAT64_EXACT:  # int64: exact modulo 2**64, so modulo the 2**32 an int32 channel keeps
        return x.to(torch.int64) @ weights_t.to(torch.int64)
    if peak >= FLOAT32_EXACT:
        return x @ weights_t
    return (x.to(torch.float32) @ weights_t.to(torch.float32)).to(torch.float64)
