"""Counting the values a run saturates or wraps, per population or connection and per variable.

The counts are what the reference simulator saw while it ran (`RunRecord.saturation`): node name -> variable ->
how many values the chip's number formats changed (a value counts once per neuron, step and sample). Variables:

- a population: `v_saturated` (v clipped to +-(2**23 - 1) under the Loihi formats), `u_wrapped` (u's single
  24-bit correction), `channel_wrapped` (the int32 arithmetic of its input sum and its update wrapped);
- a connection: `weights_clipped` (stored mantissas beyond the clip range of the weights' sign mode, which the
  chip clips; counted once per run, not per step) and `channel_wrapped` (the int32 wraps of graded sums and
  products, and of what it delivers each step).

The suffix follows the formats' overflow policy: a state that wraps is `_wrapped`, one that clips `_saturated`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch

from spikeport.errors import SaturationError
from spikeport.ir.formats import NumberFormats, Overflow
from spikeport.simulators.kernels import LIFUpdate

WEIGHTS_CLIPPED = "weights_clipped"

Counts = Mapping[str, Mapping[str, int]]
"""Node name -> variable -> count."""

_MEANING = {
    "v_saturated": "membrane voltages v clipped to the v range",
    "v_wrapped": "membrane voltages v wrapped",
    "u_wrapped": "synaptic currents u wrapped by the u range",
    "u_saturated": "synaptic currents u clipped to the u range",
    "channel_wrapped": "values wrapped by the int32 channel arithmetic",
    "channel_saturated": "values clipped by the channel arithmetic",
    WEIGHTS_CLIPPED: "stored weights beyond the chip's mantissa range, clipped",
}


def _suffix(policy: Overflow) -> str:
    return "saturated" if policy is Overflow.SATURATE else "wrapped"


def _may_count(count: torch.Tensor | int) -> bool:
    """False for the plain int 0 that the kernels return when nothing overflowed (nothing to add)."""
    return not isinstance(count, int) or count != 0


def variable_names(formats: NumberFormats) -> tuple[str, str, str]:
    """The names of a population's v, u and channel counts under `formats`, e.g. ('v_saturated', 'u_wrapped', ...)."""
    return (
        f"v_{_suffix(formats.v_overflow)}",
        f"u_{_suffix(formats.u_overflow)}",
        f"channel_{_suffix(formats.channel_overflow)}",
    )


class SaturationTally:
    """The running counts of one run: every population and connection starts at zero (weights: as stored).

    Counts are added as 0-dim tensors or ints and summed lazily, so the hot loop never waits on a conversion.
    """

    def __init__(self, formats: NumberFormats, populations: Iterable[str], clipped_weights: Mapping[str, int]) -> None:
        self.v_name, self.u_name, self.channel_name = variable_names(formats)
        self._counts: dict[str, dict[str, torch.Tensor | int]] = {}
        for name, clipped in clipped_weights.items():
            self._counts[name] = {WEIGHTS_CLIPPED: int(clipped), self.channel_name: 0}
        for name in populations:
            self._counts[name] = {self.v_name: 0, self.u_name: 0, self.channel_name: 0}

    def add_channel(self, name: str, count: torch.Tensor | int) -> None:
        """Add `count` channel overflows to node `name`."""
        if _may_count(count):
            self._counts[name][self.channel_name] = self._counts[name][self.channel_name] + count

    def add_lif(self, name: str, update: LIFUpdate) -> None:
        """Add the overflows of one `kernels.lif_update_counted` step of population `name`."""
        counts = self._counts[name]
        for variable, count in (
            (self.v_name, update.v_overflows),
            (self.u_name, update.u_overflows),
            (self.channel_name, update.channel_overflows),
        ):
            if _may_count(count):
                counts[variable] = counts[variable] + count

    def counts(self, order: Iterable[str]) -> dict[str, dict[str, int]]:
        """The final counts as ints, nodes in `order` (graph order)."""
        return {name: {var: int(n) for var, n in self._counts[name].items()} for name in order if name in self._counts}


def total(counts: Counts) -> int:
    """Every count added up (0: nothing saturated, wrapped or clipped)."""
    return sum(n for variables in counts.values() for n in variables.values())


def first_overflow(counts: Counts) -> tuple[str, str, int] | None:
    """The first (node, variable, count) with a non-zero count, in the mapping's order, or None."""
    return next(((name, var, n) for name, variables in counts.items() for var, n in variables.items() if n), None)


def describe(counts: Counts) -> str:
    """The non-zero counts as "h v_saturated 1234, d1 weights_clipped 3", or "none"."""
    parts = [f"{name} {var} {n}" for name, variables in counts.items() for var, n in variables.items() if n]
    return ", ".join(parts) if parts else "none"


def check_strict(counts: Counts, where: str) -> None:
    """Raise `SaturationError` naming the first non-zero count of `counts` (and all of them), if there is one.

    Args:
        counts: node -> variable -> count, in graph order.
        where: what produced the counts, for the message (e.g. "the reference run of 'model.deploy.npz'").
    """
    first = first_overflow(counts)
    if first is None:
        return
    name, var, n = first
    raise SaturationError(
        f"strict: {where}: {name!r} {var} {n} ({_MEANING.get(var, var)}); all counts: {describe(counts)}. The "
        "deploy graph's values exceed the chip's number formats: lower the input or weight scale (re-quantize), "
        "or run without strict to accept it"
    )


__all__ = [
    "WEIGHTS_CLIPPED",
    "Counts",
    "SaturationTally",
    "check_strict",
    "describe",
    "first_overflow",
    "total",
    "variable_names",
]
