"""The fused LIF update of the fast reference path: a population's whole run in a few in-place integer ops per step.

u and v of every neuron live side by side in one (2, samples, n) integer tensor (int32 where the formats and the
input's range bound every intermediate below 2**31, int64 otherwise). One step is

    uv <- trunc(uv * keep / 2**decay_bits)        (one float64 product, truncated by the cast back to integers)
    u += a << act_shift;  v += u + bias;  spike = v > vth << act_shift;  v[spike] <- 0

which is `kernels.lif_update` exactly as long as no value leaves its format: every decayed value is no larger than
the state it came from, so the channel sums can only overflow if u or v leaves its (narrower) range. Whether they
can is checked per step (one min/max of u and v), and skipped on steps where the bound propagated from the last
check (|u'| <= keep_u |u| + max|a << act_shift|, |v'| <= keep_v |v| + |u'| + max|bias|) proves it cannot happen.
A step that does leave a range is recomputed from the previous state by the population's exact `PopulationStep.step`,
which also counts every saturation and wrap into the run's tally; a fast step has nothing to count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from spikeport.ir import LIFResetInt, TernaryLIFInt
from spikeport.ir.formats import NumberFormats, Overflow
from spikeport.simulators import decay_split, kernels
from spikeport.simulators.saturation import SaturationTally

if TYPE_CHECKING:  # the reference imports this module
    from spikeport.simulators.reference import PopulationStep

__all__ = ["CHUNK_ELEMENTS", "FusedLIF", "inside_range"]

CHUNK_ELEMENTS = 2**15
"""Samples are run in blocks of at most this many u and v values: small enough to stay in a core's cache from one
op of a step to the next, and below torch's parallel grain (32768 values), so each op runs on the calling thread
without a barrier; a (256, 2000) population as one block ran about 4x slower per value on 2 busy cores."""


def inside_range(bits: int, policy: Overflow) -> tuple[int, int]:
    """The integers `kernels.bound(x, bits, policy)` leaves unchanged, as (lowest, highest)."""
    half = 2 ** (bits - 1)
    if policy is Overflow.SATURATE:
        return -(half - 1), half - 1
    if policy is Overflow.WRAP_ONCE:
        return -half + 1, half
    return -half, half - 1


class FusedLIF:
    """Runs one population of a feed-forward graph over every step at once (see the module doc)."""

    def __init__(self, step: PopulationStep) -> None:
        pop, f = step.pop, step.formats
        self.step, self.pop, self.formats = step, pop, f
        keeps = np.empty((2, pop.size), dtype=np.float64)
        for group in pop.decay_groups():
            keeps[:, group.neurons] = np.array(kernels.decay_keeps(group.du, group.dv, f), dtype=np.float64)[:, None]
        self.keep_max = (
            float(keeps[0].max(initial=0.0)) / f.decay_unity,
            float(keeps[1].max(initial=0.0)) / f.decay_unity,
        )
        self.keep = torch.from_numpy(keeps / f.decay_unity).reshape(2, 1, pop.size)
        self.bias = step.bias.to(torch.int64)
        self.bias_max = float(self.bias.abs().max()) if self.bias.numel() else 0.0
        self.ternary = isinstance(pop, TernaryLIFInt)
        self.theta = int(pop.vth) << f.act_shift
        self.theta_lo = int(getattr(pop, "vth_lo", 0)) * 2**f.act_shift
        self.reset = (
            (pop.reset_interval, pop.reset_offset % pop.reset_interval) if isinstance(pop, LIFResetInt) else None
        )
        self.u_range = inside_range(f.u_bits, f.u_overflow)
        self.v_range = inside_range(f.v_bits, f.v_overflow)
        self.u_safe = min(-self.u_range[0], self.u_range[1]) - 1  # |u| below this is inside, with a rounding margin
        self.v_safe = min(-self.v_range[0], self.v_range[1]) - 1

    @staticmethod
    def supports(step: PopulationStep, formats: NumberFormats) -> bool:
        """True for the kinds whose update this class reproduces (plain, reset and ternary LIF)."""
        from spikeport.simulators.reference import PopulationStep, ResetLIFStep, TernaryLIFStep

        return type(step) in (PopulationStep, ResetLIFStep, TernaryLIFStep) and step.formats == formats

    def state_dtype(self, a_max: float) -> torch.dtype:
        """int32 if no raw intermediate (|v| + |u| + |a << act_shift| + |bias|) can reach 2**31, else int64."""
        f = self.formats
        peak = 2.0 ** (f.u_bits - 1) + 2.0 ** (f.v_bits - 1) + a_max * 2**f.act_shift + self.bias_max
        return torch.int32 if peak < 2.0**31 - 1 else torch.int64

    def run(
        self, a: torch.Tensor, tally: SaturationTally, states: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Every step of the population for input `a` (steps, samples, n) of integers (channel-bounded).

        Returns (spikes, u, v): spikes time-major (steps, samples, n), bool (int8 for ternary); u and v as int64
        (samples, steps, n) if `states`, else None.
        """
        f = self.formats
        steps, samples, n = a.shape
        flat = a.reshape(steps, -1)
        if flat.shape[1]:  # amax and amin: two vectorized passes, faster than aminmax along a dim
            a_max_step = torch.maximum(flat.amax(dim=1).abs(), flat.amin(dim=1).abs()).to(torch.float64)
        else:
            a_max_step = torch.zeros(steps, dtype=torch.float64)
        a_max_step = a_max_step * 2**f.act_shift
        a_max = float(a_max_step.max()) if steps else 0.0
        if a_max > 2.0 ** (f.channel_bits - 1) - 1:  # a << act_shift wraps somewhere: the exact step does it all
            return self._run_exact(a, tally, states)
        dtype = self.state_dtype(a_max / 2**f.act_shift)
        a_int = a.to(dtype)
        spikes = torch.empty(steps, samples, n, dtype=torch.int8 if self.ternary else torch.bool)
        us = torch.empty(samples, steps, n, dtype=torch.int64) if states else None
        vs = torch.empty_like(us) if states else None
        chunk = max(1, CHUNK_ELEMENTS // max(1, 2 * n))  # samples whose u and v stay in cache across ops
        for first in range(0, samples, chunk):
            rows = slice(first, min(samples, first + chunk))
            self._run_rows(a_int[:, rows], a_max_step.tolist(), spikes[:, rows], tally, us, vs, rows)
        return spikes, us, vs

    def _run_rows(self, a_int, a_max_step, spikes, tally, us, vs, rows: slice) -> None:
        """Every step for one block of samples: spikes into `spikes`, u and v into `us`, `vs` (if given)."""
        _, samples, n = a_int.shape
        prev = torch.zeros(2, samples, n, dtype=a_int.dtype)
        cur = torch.empty_like(prev)
        decayed = torch.empty(2, samples, n, dtype=torch.float64)
        bias = self.bias.to(a_int.dtype) if self.bias_max else None
        scale, (ku, kv) = 2**self.formats.act_shift, self.keep_max
        bounds = [0.0, 0.0]  # proven bounds on |u| and |v| of `prev`
        for k, a_max_k in enumerate(a_max_step):
            if self.reset is not None and (k + 1) % self.reset[0] == self.reset[1]:
                prev.zero_()
                bounds = [0.0, 0.0]
            torch.mul(prev, self.keep, out=decayed)
            cur.copy_(decayed)  # the cast truncates toward zero: Lava's decay
            u, v = cur[0], cur[1]
            u.add_(a_int[k], alpha=scale)
            v.add_(u)
            if bias is not None:
                v.add_(bias)
            bu = ku * bounds[0] + a_max_k + 1.0
            bv = kv * bounds[1] + bu + self.bias_max + 1.0
            bounds = [bu, bv]
            if bu >= self.u_safe or bv >= self.v_safe:  # the bound cannot rule out an overflow: look
                bounds = self._checked(prev, cur, a_int[k], k, tally)
            self._spike(v, spikes[k])
            if us is not None:
                us[rows, k].copy_(u)
                vs[rows, k].copy_(v)
            prev, cur = cur, prev

    def _spike(self, v: torch.Tensor, out: torch.Tensor) -> None:
        """Spikes of this step into `out`, and v <- 0 where the neuron spiked."""
        if self.ternary:
            out.copy_((v > self.theta).to(torch.int8) - (v < self.theta_lo).to(torch.int8))
            v.masked_fill_(out != 0, 0)
        else:
            torch.gt(v, self.theta, out=out)
            v.masked_fill_(out, 0)

    def _checked(self, prev, cur, a_k, k: int, tally: SaturationTally) -> list[float]:
        """Bounds on |u| and |v| of `cur`, after replacing it by the exact update if the fast one left a range."""
        (u_lo, u_hi), (v_lo, v_hi) = self._extremes(cur)
        u_ok = self.u_range[0] <= u_lo and u_hi <= self.u_range[1]
        if not (u_ok and self.v_range[0] <= v_lo and v_hi <= self.v_range[1]):
            step = self.step  # the exact update from the previous state, counting what it bounds
            u, v = step._reset(prev[0].to(torch.float64), prev[1].to(torch.float64), k + 1)
            u, v = decay_split.lif_update(step.pop, u, v, a_k.to(torch.float64), step.bias, step.formats, tally)
            cur[0].copy_(u)
            cur[1].copy_(v)
            (u_lo, u_hi), (v_lo, v_hi) = self._extremes(cur)
        return [float(max(-u_lo, u_hi)), float(max(-v_lo, v_hi))]

    @staticmethod
    def _extremes(uv: torch.Tensor) -> tuple[tuple[int, int], tuple[int, int]]:
        """((min u, max u), (min v, max v)) of a (2, samples, n) state."""
        u_lo, u_hi = torch.aminmax(uv[0])
        v_lo, v_hi = torch.aminmax(uv[1])
        return (int(u_lo), int(u_hi)), (int(v_lo), int(v_hi))

    def _run_exact(self, a: torch.Tensor, tally: SaturationTally, states: bool):
        """The whole run by `PopulationStep.step` in float64 (when the input itself overflows the channel)."""
        steps, samples, n = a.shape
        step = self.step
        u = torch.zeros(samples, n, dtype=torch.float64)
        v = torch.zeros_like(u)
        spikes = torch.empty(steps, samples, n, dtype=torch.int8 if self.ternary else torch.bool)
        us = torch.empty(samples, steps, n, dtype=torch.int64) if states else None
        vs = torch.empty_like(us) if states else None
        for k in range(steps):
            u, v, s = step.step(u, v, a[k].to(torch.float64), k + 1, tally)
            spikes[k] = s.to(spikes.dtype)
            if states:
                us[:, k], vs[:, k] = u, v
        return spikes, us, vs
