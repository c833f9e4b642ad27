"""Multi-timescale populations in the reference simulator: one LIF update and one synapse sum per decay group.

A `LIFInt` whose neurons have different decays (per-neuron `du`/`dv`) runs on Loihi as one LIF process per
decay group (`LIFInt.decay_groups`), so every connection out of it becomes one Dense process per group, and each of
those shifts its own sum by `weight_exp` (a floor for negative exponents) before the target adds them up. The
reference simulator mirrors that: each group's neurons take their group's integer LIF update, and a synapse from a
grouped population is accumulated and shifted per source group (`split_sources`). Connections into a grouped
population need nothing: Lava's per-group Dense pieces compute the same rows. docs/fixed-point.md, "Grouping by
decay", states the semantics.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from spikeport.ir import LIFInt
from spikeport.ir.formats import NumberFormats
from spikeport.simulators import kernels
from spikeport.simulators.saturation import SaturationTally

if TYPE_CHECKING:  # the reference imports this module
    from spikeport.simulators.reference import PopulationStep, PreparedSynapse

__all__ = ["lif_update", "split_sources"]


def lif_update(
    pop: LIFInt,
    u: torch.Tensor,
    v: torch.Tensor,
    a_in: torch.Tensor,
    bias: torch.Tensor,
    formats: NumberFormats,
    tally: SaturationTally | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The integer LIF update of `pop` (states (samples, n)), each decay group with its own du, dv; counts overflows
    into `tally` if one is given."""
    groups = pop.decay_groups()
    if len(groups) == 1:
        return _update(pop.name, u, v, a_in, groups[0].du, groups[0].dv, bias, formats, tally)
    u_out, v_out = torch.empty_like(u), torch.empty_like(v)
    for group in groups:
        idx = torch.as_tensor(group.neurons)
        u_g, v_g = _update(pop.name, u[:, idx], v[:, idx], a_in[:, idx], group.du, group.dv, bias[idx], formats, tally)
        u_out[:, idx], v_out[:, idx] = u_g, v_g
    return u_out, v_out


def _update(name, u, v, a_in, du: int, dv: int, bias, formats: NumberFormats, tally: SaturationTally | None):
    if tally is None:
        return kernels.lif_update(u, v, a_in, du=du, dv=dv, bias=bias, formats=formats)
    update = kernels.lif_update_counted(u, v, a_in, du=du, dv=dv, bias=bias, formats=formats)
    tally.add_lif(name, update)
    return update.u, update.v


def split_sources(synapses: list[PreparedSynapse], populations: list[PopulationStep]) -> list[PreparedSynapse]:
    """`synapses` with every one whose source is a grouped population split into one summand per source group.

    Each (delay, W^T) entry becomes one entry per group with the other groups' rows (source neurons) zeroed, so
    the simulator accumulates and shifts each group's contribution separately, as Lava's per-group Dense processes
    do. Masking by multiplication keeps gradients (the integer training forward calls this too).
    """
    groups = {p.pop.name: p.pop.decay_groups() for p in populations}
    result = []
    for syn in synapses:
        source_groups = groups.get(syn.source, ())
        if len(source_groups) < 2:
            result.append(syn)
            continue
        entries = []
        for delay, weights_t in syn.weights_t_by_delay:
            for group in source_groups:
                mask = torch.zeros(weights_t.shape[0], 1, dtype=weights_t.dtype)
                mask[torch.as_tensor(group.neurons)] = 1.0
                entries.append((delay, weights_t * mask))
        result.append(replace(syn, weights_t_by_delay=tuple(entries)))
    return result
