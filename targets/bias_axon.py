"""Synaptic biases that enter the current, as NIR puts them: an always-on source neuron with its own weights.

NIR adds an Affine bias b to the synaptic input, so in the float form (`spikeport.export.simulate_float`) the
current of a CubaLIF or CubaLI neuron builds up as cur[t] = d * cur[t-1] + gain * b (d = 1 - beta) and only reaches
gain * b / beta at steady state. Folding b into the voltage bias (the quantizer's former choice) is therefore exact
only at steady state. Here one extra `LIFInt` of one neuron ("the bias axon": bias 1 above threshold 0, memoryless)
spikes at every step from the first, and a `DenseInt` from it into each population with biases carries them into u.
Both are stock Lava processes, so the reference and Lava run them bit-true with no simulator change.

Timing (docs/fixed-point.md): the axon spikes at chip step 0 and its Dense delivers at step 1 + delay. A population
whose integer run lags the float run by k >= 1 steps (`population_lags`) gets the float step-0 bias at chip step k,
so the delay is k - 1 and the weight is c = S * gain * b. A population with lag 0 cannot receive anything at step 0;
there the weight is c * d and the voltage bias c: with u_c[t] = d * u_c[t-1] + c * d * [t >= 1] the chip's
u_c[t] + c equals the float u[t] = d * u[t-1] + c at every step (by induction), exact up to integer rounding.
Both cases share one formula for the voltage bias, B = (c - w) / (1 - d) for the delivered weight w, which also
folds the mantissa rounding residual of w into the 13-bit voltage bias (at steady state).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeport.export import ParsedNetwork
from spikeport.ir import DenseInt, LIFInt
from spikeport.ir.formats import NumberFormats, WeightGrid, sign_mode

BIAS_SOURCE = "bias_axon"
"""Name of the always-on source population (made unique against the network's names)."""


@dataclass(frozen=True)
class BiasPlan:
    """How one population's biases reach it: the axon's weights into u and what is left for the voltage bias."""

    mantissa: np.ndarray | None
    """int (n, 1) axon weights, or None when no weight rounds to a non-zero mantissa (no axon synapse)."""
    weight_exp: int
    delay: int
    """DelayDense delay of the axon synapse (lag - 1, or 0)."""
    voltage_bias: np.ndarray
    """float (n,), integer v units per step: to be added to the population's voltage bias and rounded."""
    target: np.ndarray
    """float (n,), integer u units: the weight the axon should deliver (c, or c * d at lag 0)."""
    grid: WeightGrid
    timing_exact: bool
    """False where the chip cannot deliver the float bias transient (no current leak: du = -1 with lag 0)."""


def population_lags(net: ParsedNetwork) -> dict[str, int]:
    """Steps each population's integer run lags the float run: one per zero-delay synapse on the longest path from
    the input (Loihi's Dense adds one step); the same rule as `spikeport.agreement.step_shifts`."""
    lag = {net.input_name: 0}
    for _ in range(len(net.populations) + 1):
        for syn in net.synapses:
            if syn.source in lag and syn.source != syn.target:
                step = lag[syn.source] + int(np.all(syn.delay_steps == 0))
                lag[syn.target] = max(lag.get(syn.target, 0), step)
    return {name: lag.get(name, 0) for name in net.populations}


def unique_name(net: ParsedNetwork, base: str) -> str:
    """`base`, with underscores appended until no population, synapse or input of `net` has that name."""
    taken = {net.input_name, *net.populations, *(s.name for s in net.synapses)}
    while base in taken:
        base += "_"
    return base


def bias_source(name: str) -> LIFInt:
    """One neuron that spikes at every step from the first: v = u + 1 > 0 with threshold 0, v reset to 0."""
    return LIFInt(name=name, size=1, du=4095, dv=4096, vth=0, bias_mant=np.ones(1, dtype=np.int64), bias_exp=0)


def chip_current_decay(du: int | np.ndarray, size: int, formats: NumberFormats) -> np.ndarray:
    """Per neuron, the factor d that u is multiplied by per step on the chip: (unity - (du + 1)) / unity."""
    unity = formats.decay_unity
    return (unity - (np.broadcast_to(np.asarray(du, dtype=np.float64), (size,)) + 1)) / unity


def plan_bias(
    current: np.ndarray, decay: np.ndarray, lag: int, num_weight_bits: int, formats: NumberFormats
) -> BiasPlan:
    """Axon weights and voltage bias for the per-step current increments `current` (integer u units per step).

    Args:
        current: c per neuron, S * gain * (summed synapse biases), in integer units of u per step.
        decay: d per neuron, the chip's factor on u per step (`chip_current_decay`).
        lag: the population's lag in steps (`population_lags`).
        num_weight_bits: the weight precision of the graph.
        formats: the chip's number formats.
    """
    target = current * decay if lag == 0 else current
    grid = formats.weight_grid(sign_mode(target), num_weight_bits)
    peak = float(np.max(np.abs(target), initial=0))
    unit, exp = 2.0**formats.act_shift, 0
    # Non-negative exponents only: a negative one floors the delivered sum, which loses what it would gain.
    while exp < formats.weight_exp_range[1] and peak / (unit * 2**exp) > grid.limit:
        exp += 1
    denom = unit * 2**exp
    low, high = max(grid.low, -grid.limit), min(grid.high, grid.limit)
    mant = np.clip(np.round(target / denom / grid.step) * grid.step, low, high).astype(np.int64)
    delivered = formats.effective_weights(mant[:, None], num_weight_bits)[:, 0] * denom
    leaky = decay < 1
    voltage = np.where(leaky, (current - delivered) / np.where(leaky, 1 - decay, 1), 0.0)
    return BiasPlan(
        mantissa=mant[:, None] if np.any(mant) else None,
        weight_exp=exp,
        delay=max(lag - 1, 0),
        target=target,
        grid=grid,
        voltage_bias=voltage if np.any(mant) else np.where(leaky, current / np.where(leaky, 1 - decay, 1), 0.0),
        timing_exact=bool(lag > 0 or np.all(leaky)),
    )


def axon_synapse(name: str, plan: BiasPlan, num_weight_bits: int) -> DenseInt:
    """The Dense (or DelayDense, for lag >= 2) from the bias axon into one population."""
    assert plan.mantissa is not None
    delays = np.full(plan.mantissa.shape, plan.delay, dtype=np.int64) if plan.delay else None
    return DenseInt(
        name=name,
        weights=plan.mantissa,
        weight_exp=plan.weight_exp,
        num_weight_bits=num_weight_bits,
        delays=delays,
    )
