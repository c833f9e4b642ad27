"""Grouping a multi-timescale population's neurons by quantized decay: one Loihi LIF process per group.

A Loihi (and Lava `LIF`) process holds one current decay `du` and one voltage decay `dv` for all its neurons, but a
multi-timescale layer learns one time constant per neuron. The quantizer therefore rounds every neuron's decays to
registers (du = round(4096 beta) - 1, dv = round(4096 alpha), as for any population) and groups neurons with equal
(du, dv); the deploy graph's `LIFInt` stores the per-neuron registers, and the reference simulator and the Lava
builder run each group as its own LIF population (`LIFInt.decay_groups`, docs/fixed-point.md "Grouping by decay").

The number of groups is bounded by `max_groups` (default `DEFAULT_MAX_GROUPS`): while there are more, the two
groups whose registers are closest (Chebyshev distance max(|du_a - du_b|, |dv_a - dv_b|); ties: the pair that comes
first in group order) are merged, and the merged group takes the registers of its neurons' mean float decays,
rounded. Groups are ordered by their first neuron. What grouping costs is reported per group (the largest decay
error of its neurons) and, with calibration inputs, as the spike agreement between the float network with the
learned decays and the same float network with the grouped, quantized decays (`grouping_agreement`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from spikeport.errors import QuantizationRangeError
from spikeport.export import ParsedNetwork, simulate_float
from spikeport.ir.formats import NumberFormats

__all__ = [
    "DEFAULT_MAX_GROUPS", "DecayGrouping", "GroupReport", "group_decays", "group_fields", "grouping_agreement",
]  # fmt: skip

DEFAULT_MAX_GROUPS = 16
"""Groups (LIF processes) one population may be split into before neighbouring groups are merged: a Loihi core
holds at most 1024 compartments, so a population split into 16 processes keeps 64 neurons per process on average
(docs/fixed-point.md); `quantize(max_decay_groups=...)` changes it."""


@dataclass(frozen=True)
class GroupReport:
    """One decay group: its registers, its size and the largest decay error of its neurons."""

    du: int
    dv: int
    size: int
    max_decay_u_error: float
    """max over its neurons of |(du + 1)/4096 - beta| (4096: the formats' decay unity)."""
    max_decay_v_error: float
    """max over its neurons of |dv/4096 - alpha|."""


@dataclass(frozen=True)
class DecayGrouping:
    """Per-neuron registers after grouping, each neuron's group and what each group costs."""

    du: np.ndarray
    """int, (n,): the current decay register of each neuron (its group's)."""
    dv: np.ndarray
    """int, (n,): the voltage decay register of each neuron."""
    labels: np.ndarray
    """int, (n,): each neuron's group, an index into `groups` (groups ordered by their first neuron)."""
    groups: tuple[GroupReport, ...]
    merged: int
    """Distinct rounded (du, dv) pairs that `max_groups` merged away (0 when the bound was not reached)."""

    def float_decays(self, formats: NumberFormats) -> tuple[np.ndarray, np.ndarray]:
        """(beta, alpha) per neuron as the chip applies them: ((du + 1)/unity, dv/unity)."""
        return (self.du + 1) / formats.decay_unity, self.dv / formats.decay_unity


def _registers(beta: np.ndarray, alpha: np.ndarray, formats: NumberFormats) -> tuple[np.ndarray, np.ndarray]:
    unity, (du_low, du_high), (dv_low, dv_high) = formats.decay_unity, formats.du_range, formats.dv_range
    du = np.clip(np.round(unity * np.asarray(beta, dtype=np.float64)) - 1, du_low, du_high).astype(np.int64)
    dv = np.clip(np.round(unity * np.asarray(alpha, dtype=np.float64)), dv_low, dv_high).astype(np.int64)
    return du, dv


def group_decays(
    beta: np.ndarray, alpha: np.ndarray, formats: NumberFormats, max_groups: int = DEFAULT_MAX_GROUPS, *, name: str = ""
) -> DecayGrouping:
    """Round each neuron's decays to registers and group equal ones, merging the closest groups beyond `max_groups`.

    Args:
        beta: float, (n,): the current decay per step of each neuron (`Population.beta`).
        alpha: float, (n,): the voltage decay per step.
        formats: the chip's number formats (decay unity and register ranges).
        max_groups: the largest number of groups (LIF processes) allowed, >= 1.
        name: the population's name, for error messages.

    Raises:
        QuantizationRangeError: `max_groups` below 1.
    """
    if max_groups < 1:
        raise QuantizationRangeError(
            f"population {name!r}: max_decay_groups must be >= 1, got {max_groups}; use 1 for one decay per population"
        )
    beta, alpha = np.asarray(beta, dtype=np.float64), np.asarray(alpha, dtype=np.float64)
    du, dv = _registers(beta, alpha, formats)
    pairs = np.stack([du, dv], axis=1)
    _, first, inverse = np.unique(pairs, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # groups by first neuron
    members = [np.flatnonzero(inverse.reshape(-1) == g) for g in order]
    reps = [pairs[m[0]] for m in members]
    distinct = len(members)
    while len(members) > max_groups:
        stacked = np.array(reps)
        dist = np.abs(stacked[:, None, :] - stacked[None, :, :]).max(axis=2).astype(np.float64)
        dist[np.tril_indices(len(members))] = np.inf
        a, b = np.unravel_index(int(np.argmin(dist)), dist.shape)  # row-major: first (a, b) among the closest
        merged = np.sort(np.concatenate([members[a], members[b]]))
        rep_du, rep_dv = _registers(np.mean(beta[merged]), np.mean(alpha[merged]), formats)
        members[a], reps[a] = merged, np.array([int(rep_du), int(rep_dv)])
        del members[b], reps[b]
        order = np.argsort([m[0] for m in members], kind="stable")  # keep groups ordered by first neuron
        members, reps = [members[k] for k in order], [reps[k] for k in order]
    du_out, dv_out = np.empty_like(du), np.empty_like(dv)
    for m, rep in zip(members, reps, strict=True):
        du_out[m], dv_out[m] = rep
    # final groups by equal registers, ordered by first neuron: exactly `LIFInt.decay_groups` of the result
    _, first, labels = np.unique(np.stack([du_out, dv_out], axis=1), axis=0, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    labels = rank[labels.reshape(-1)]
    unity = formats.decay_unity
    groups = []
    for g in range(first.size):
        m = np.flatnonzero(labels == g)
        rep_du, rep_dv = int(du_out[m[0]]), int(dv_out[m[0]])
        groups.append(
            GroupReport(
                du=rep_du,
                dv=rep_dv,
                size=int(m.size),
                max_decay_u_error=float(np.max(np.abs((rep_du + 1) / unity - beta[m]))),
                max_decay_v_error=float(np.max(np.abs(rep_dv / unity - alpha[m]))),
            )
        )
    return DecayGrouping(du=du_out, dv=dv_out, labels=labels, groups=tuple(groups), merged=distinct - len(groups))


def group_fields(grouping: DecayGrouping) -> dict:
    """The quantization report's fields of a grouped population: du, dv per group, the groups and merges."""
    return {
        "du": tuple(g.du for g in grouping.groups),
        "dv": tuple(g.dv for g in grouping.groups),
        "decay_groups": tuple(asdict(g) for g in grouping.groups),
        "decay_groups_merged": grouping.merged,
    }


def grouping_agreement(
    net: ParsedNetwork, groupings: dict[str, DecayGrouping], inputs: np.ndarray, formats: NumberFormats
) -> dict[str, float]:
    """Per grouped population, how closely the float network with grouped decays follows the learned one.

    Both runs are float (`simulate_float`) on `inputs`; the second replaces each grouped population's (beta,
    alpha) by its groups' quantized decays, so the difference is the cost of grouping and decay rounding alone.
    A spiking population reports the fraction of (sample, step, neuron) spike entries that agree; a non-spiking
    one (a readout) 1 - max|v_grouped - v| / max|v| (1.0: identical).
    """
    if not groupings:
        return {}
    pops = dict(net.populations)
    for name, grouping in groupings.items():
        beta, alpha = grouping.float_decays(formats)
        pops[name] = replace(pops[name], beta=beta, alpha=alpha)
    learned, grouped = simulate_float(net, inputs), simulate_float(replace(net, populations=pops), inputs)
    result = {}
    for name in groupings:
        a, b = learned[name], grouped[name]
        if net.populations[name].spiking:
            result[name] = float(np.mean(a.spikes == b.spikes)) if a.spikes.size else 1.0
        else:
            peak = float(np.max(np.abs(a.v), initial=0))
            result[name] = 1.0 - float(np.max(np.abs(a.v - b.v), initial=0)) / peak if peak else 1.0
    return result
