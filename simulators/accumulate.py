"""Exact synaptic input at float speed: each connection's accumulation precision, and event-driven sums.

Precision plan. Every partial sum of a connection's product, in any summation order, is bounded by
B = max|x| * max_j sum_i |W[j, i]| (x: what the source sends, 1 for spikes; W: the effective weights of one delay
group). float32 holds every integer of magnitude <= 2**24 and float64 every one <= 2**53 (their significands have 24
and 53 bits), so a connection accumulates in float32 if B < 2**24, in float64 if B < 2**53, and in int64 otherwise
(an int64 sum that wraps is still exact modulo 2**32, which is all the int32 channel keeps). `precision_plan` states
the choice per connection; `RunRecord.precision` carries it.

Event-driven accumulation. Binary spikes are sparse (a few percent of neurons per step), so instead of a dense
product the input of every (step, sample) row is the sum of the weight rows of the neurons that spiked
(`torch.nn.functional.embedding_bag`, one bag per row): the same integers, summed in another order, which the bound
above makes exact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from spikeport.ir.formats import NumberFormats
from spikeport.simulators import kernels
from spikeport.simulators.saturation import SaturationTally

if TYPE_CHECKING:  # the reference imports this module
    from spikeport.simulators.reference import PreparedSynapse

__all__ = ["FLOAT32_EXACT", "FLOAT64_EXACT", "SpikeEvents", "accumulation_dtype", "population_input", "precision_plan"]

FLOAT32_EXACT = 2.0**24
FLOAT64_EXACT = 2.0**53
EVENT_DENSITY = 0.2
"""Below this fraction of active (step, sample, neuron) entries the sum is event-driven; above it a dense product is
cheaper (measured on 2 cores with benchmarks/simulate_speed.py networks: at 10% activity the event-driven sum of the
1000-2000 layer takes about 0.7x the dense product's time)."""


def accumulation_dtype(bound: float) -> torch.dtype:
    """The narrowest dtype whose sums of integers below `bound` (in magnitude) are all exact."""
    if bound < FLOAT32_EXACT:
        return torch.float32
    return torch.float64 if bound < FLOAT64_EXACT else torch.int64


def _group_bound(weights_t: torch.Tensor, max_payload: float) -> float:
    """max|x| * max_j sum_i |W^T[i, j]|: the largest partial sum of one delay group's product."""
    if not weights_t.numel():
        return 0.0
    return float(max_payload) * float(weights_t.abs().sum(dim=0).max())


def connection_dtype(syn: PreparedSynapse, max_payload: float) -> torch.dtype:
    """The widest dtype any delay group of `syn` accumulates in (its stated precision)."""
    widths = [accumulation_dtype(_group_bound(w, max_payload)) for _, w in syn.weights_t_by_delay]
    order = (torch.float32, torch.float64, torch.int64)
    return max(widths, key=order.index, default=torch.float32)


def precision_plan(synapses: Iterable[PreparedSynapse], max_payload: Mapping[str, float]) -> dict[str, str]:
    """Connection name -> "float32", "float64" or "int64": the dtype its partial sums are computed in.

    Args:
        synapses: the prepared connections.
        max_payload: source name -> the largest |value| it sends (1 for spikes; the input's largest |payload|).
    """
    names = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64"}
    plan: dict[str, str] = {}
    for syn in synapses:
        if hasattr(syn, "deliver"):  # attention: float64 integer arithmetic, no product (simulators/attention.py)
            plan[syn.name] = "float64"
            continue
        dtype = names[connection_dtype(syn, 1.0 if not syn.graded else max_payload.get(syn.source, 1.0))]
        order = ("float32", "float64", "int64")  # a split source (decay groups) keeps its widest piece
        plan[syn.name] = max(plan.get(syn.name, dtype), dtype, key=order.index)
    return plan


class SpikeEvents:
    """A source's spikes (steps, samples, n), time-major, with the events of each (step, sample) row on demand."""

    def __init__(self, spikes: torch.Tensor) -> None:
        self.spikes = spikes
        self.steps, self.samples, self.size = spikes.shape
        self._events: tuple[torch.Tensor, np.ndarray] | None = None
        self._float: dict[torch.dtype, torch.Tensor] = {}
        self.density = float(torch.count_nonzero(spikes)) / max(1, spikes.numel())

    def events(self) -> tuple[torch.Tensor, np.ndarray]:
        """(column of every non-zero entry in row-major order, index of each row's first event; one more at the end)."""
        if self._events is None:
            flat = np.flatnonzero(self.spikes.numpy().reshape(-1))
            rows, cols = np.divmod(flat, self.size)
            starts = np.zeros(self.steps * self.samples + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows, minlength=self.steps * self.samples), out=starts[1:])
            self._events = (torch.from_numpy(cols), starts)
        return self._events

    def as_float(self, dtype: torch.dtype, graded: bool) -> torch.Tensor:
        """The spikes as `dtype` values (binary: 1 for any non-zero), shape (steps * samples, n)."""
        key = (dtype, graded)
        if key not in self._float:
            values = self.spikes if graded else self.spikes != 0
            self._float[key] = values.reshape(-1, self.size).to(dtype)
        return self._float[key]


def _binary_sum(events: SpikeEvents, weights_t: torch.Tensor, delay: int, dtype: torch.dtype) -> torch.Tensor:
    """sum of W^T rows of the neurons active at step t - 1 - delay, for every (step t, sample); (steps * samples, n)."""
    steps, samples = events.steps, events.samples
    lag = (1 + delay) * samples  # rows that receive nothing yet
    used = max(0, steps * samples - lag)
    n_out = weights_t.shape[1]
    weights = weights_t.to(dtype).contiguous()  # embedding_bag reads rows: a transposed view is 20x slower
    if dtype is not torch.int64 and events.density < EVENT_DENSITY:
        cols, starts = events.events()
        offsets = np.concatenate([np.zeros(min(lag, steps * samples), np.int64), starts[:used]])
        return F.embedding_bag(cols[: starts[used]], weights, torch.from_numpy(offsets), mode="sum")
    out = torch.zeros(steps * samples, n_out, dtype=dtype)
    if used:
        torch.mm(events.as_float(dtype, graded=False)[:used], weights, out=out[lag:])
    return out


def _graded_sum(events: SpikeEvents, syn: PreparedSynapse, weights_t, delay: int) -> tuple[torch.Tensor, object]:
    """The shifted sums of a graded synapse (`kernels.dense_accumulate_counted`, float64) and its wrap count.

    The product is taken over every step, as `reference._synaptic_input` (and Lava) compute it, so the kernel sees
    the payload range `precision_plan` states and counts the wraps of the last steps too, whose sums arrive after
    the run.
    """
    steps, samples = events.steps, events.samples
    lag = min(steps, 1 + delay) * samples
    out = torch.zeros(steps * samples, weights_t.shape[1], dtype=torch.float64)
    x = events.spikes.reshape(steps * samples, -1).to(torch.float64)
    acc, wrapped = kernels.dense_accumulate_counted(
        x, weights_t, weight_exp=syn.weight_exp, graded=True, delayed=syn.delayed, formats=syn.formats
    )
    out[lag:] = acc[: steps * samples - lag]
    return out, wrapped


def _shift_(x: torch.Tensor, exponent: int) -> torch.Tensor:
    """`kernels.shift` in place (x << e, or floor(x / 2**-e)): exact for the integers the plan keeps exact."""
    if exponent > 0:
        return x.mul_(float(2**exponent))
    if exponent < 0:
        return x.div_(float(2**-exponent)).floor_()
    return x


def _bounded(x: torch.Tensor, bound: float, formats: NumberFormats, tally: SaturationTally, name: str):
    """`x` into the channel width, counting overflows at `name`; skipped when `bound` proves it changes nothing."""
    if bound < 2.0 ** (formats.channel_bits - 1) - 1:
        return x
    if x.dtype is torch.float32:
        x = x.to(torch.float64)
    x, count = kernels.bound_counted(x, formats.channel_bits, formats.channel_overflow)
    tally.add_channel(name, count)
    return x


def synapse_input(syn: PreparedSynapse, events: SpikeEvents, tally: SaturationTally) -> tuple[torch.Tensor, float]:
    """What `syn` delivers at every step, (steps * samples, n_out), exact as `reference._synaptic_input`; and a
    bound on its magnitude (each delay group is shifted, delayed and added; the sum enters the channel)."""
    bounds = [
        math.inf if syn.graded else _group_bound(w, 1.0) * 2.0 ** max(syn.weight_exp, 0)
        for _, w in syn.weights_t_by_delay
    ]
    bound = sum(bounds)
    work = torch.float32 if bound < FLOAT32_EXACT else torch.float64  # float32: no sum or shift can round
    total = None
    for delay, weights_t in syn.weights_t_by_delay:
        if syn.graded:
            part, wrapped = _graded_sum(events, syn, weights_t, delay)
            tally.add_channel(syn.name, wrapped)
        else:
            part = _binary_sum(events, weights_t, delay, accumulation_dtype(_group_bound(weights_t, 1.0)))
            part = _shift_(part.to(work), syn.weight_exp)  # int64 sums of spikes stay far below 2**53
        total = part.to(work) if total is None else total.add_(part.to(work))
    total = _bounded(total, bound, syn.formats, tally, syn.name)
    return total, min(bound, 2.0 ** (syn.formats.channel_bits - 1))


def population_input(
    name: str,
    size: int,
    synapses: list[PreparedSynapse],
    events: Mapping[str, SpikeEvents],
    formats: NumberFormats,
    tally: SaturationTally,
    shape: tuple[int, int],
) -> tuple[torch.Tensor, float]:
    """The summed, channel-bounded input of population `name` at every step, (steps, samples, size), and a bound."""
    steps, samples = shape
    total, bound = None, 0.0
    for syn in synapses:
        part, part_bound = synapse_input(syn, events[syn.source], tally)
        if total is None:
            total, bound = part, part_bound
            continue
        bound += part_bound
        if bound >= FLOAT32_EXACT:
            total, part = total.to(torch.float64), part.to(torch.float64)
        total = _bounded(total + part, bound, formats, tally, name)
        bound = min(bound, 2.0 ** (formats.channel_bits - 1))
    if total is None:
        return torch.zeros(steps, samples, size, dtype=torch.float32), 0.0
    return total.reshape(steps, samples, size), bound
