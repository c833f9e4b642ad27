"""The step-by-step order of the reference simulator, for graphs with recurrent loops.

Every population takes one step, then every synapse takes what its source just emitted and buffers it for delivery
1 + delay steps later (Lava's DelayDense `a_buff`). The arithmetic is the reference's float64 kernels, as in
`reference.simulate_feedforward`; only the order differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from spikeport.ir import DeployGraph
from spikeport.simulators import attention, decay_split
from spikeport.simulators.saturation import SaturationTally

if TYPE_CHECKING:  # the reference imports this module
    from spikeport.simulators.reference import PopulationStep, PreparedSynapse

__all__ = ["run_stepwise"]


def run_stepwise(
    graph: DeployGraph,
    synapses: list[PreparedSynapse],
    populations: list[PopulationStep],
    x: torch.Tensor,
    tally: SaturationTally | None,
) -> dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Run `graph` one step at a time on float64 inputs `x` (samples, steps, n_in); (spikes, u, v) per population."""
    from spikeport.simulators.reference import _accumulate, _channel

    attention.refuse_stepwise(synapses)  # spike-driven attention runs over whole spike trains only
    samples, steps = x.shape[:2]
    synapses = decay_split.split_sources(synapses, populations)
    max_delay = max((d for s in synapses for d, _ in s.weights_t_by_delay), default=0)
    size = {p.pop.name: p.pop.size for p in populations}
    # buffers[i][:, j] is what synapse i delivers j steps from now (Lava's DelayDense a_buff)
    buffers = [
        torch.zeros(samples, max_delay + 2, graph.target_of(d).size, dtype=torch.float64) for d in graph.synapses
    ]
    state = {name: (torch.zeros(samples, n, dtype=torch.float64),) * 2 for name, n in size.items()}
    last_spikes = {name: torch.zeros(samples, n, dtype=torch.float64) for name, n in size.items()}
    record = {name: ([], [], []) for name in size}
    # all delay groups of a synapse in one product: W^T of every delay side by side, and where each group lands
    stacked = [torch.cat([w for _, w in syn.weights_t_by_delay], dim=1) for syn in synapses]
    slots = [torch.tensor([d for d, _ in syn.weights_t_by_delay]) for syn in synapses]
    for k in range(steps):
        a_in = {name: torch.zeros(samples, n, dtype=torch.float64) for name, n in size.items()}
        for syn, buf in zip(synapses, buffers, strict=True):  # each delivery wraps, then their sum (as layerwise)
            delivered = _channel(buf[:, 0], syn.formats, tally, syn.name)
            a_in[syn.target] = _channel(a_in[syn.target] + delivered, syn.formats, tally, syn.target)
        current = {graph.input.name: x[:, k]}
        for pop in populations:
            u, v = state[pop.pop.name]
            u, v, s = pop.step(u, v, a_in[pop.pop.name], k + 1, tally)
            state[pop.pop.name] = (u, v)
            current[pop.pop.name] = s
            for store, value in zip(record[pop.pop.name], (s, u, v), strict=True):
                store.append(value)
        last_spikes = current
        for i, syn in enumerate(synapses):
            buf = torch.roll(buffers[i], -1, dims=1)
            buf[:, -1] = 0
            # elementwise per output after the product, so stacking the groups changes nothing
            acc = _accumulate(syn, last_spikes[syn.source], stacked[i], tally)
            buf.index_add_(1, slots[i], acc.reshape(samples, len(slots[i]), -1))  # a delay may repeat (groups)
            buffers[i] = buf
    return {name: tuple(torch.stack(r, dim=1) for r in rec) for name, rec in record.items()}
