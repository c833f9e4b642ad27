"""The fast order of the reference simulator for feed-forward graphs: exact integers at float speed.

Population by population (as `reference.simulate_feedforward`, the float64 path that quantization-aware training
differentiates through), but time-major and with three savings that change no value:

- each connection accumulates in the narrowest exact dtype (`accumulate.precision_plan`), event-driven where its
  source's spikes are sparse;
- each population runs the fused integer update of `lif_step.FusedLIF`;
- u and v are recorded only for the populations asked for, so a run that needs spikes and the readout keeps
  (steps x samples x neurons) bytes per population instead of three float64 traces.

Every saturation and wrap is still counted into the run's `SaturationTally`: where a bound proves nothing can
overflow nothing is checked, and a step that could is recomputed by the exact float64 kernels.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import numpy as np
import torch

from spikeport.simulators import accumulate, decay_split
from spikeport.simulators.lif_step import FusedLIF
from spikeport.simulators.saturation import SaturationTally

if TYPE_CHECKING:  # the reference imports this module
    from spikeport.simulators.reference import PopulationStep, PreparedSynapse

__all__ = ["Trace", "run_fast", "supports"]

Trace = tuple[np.ndarray, np.ndarray | None, np.ndarray | None]
"""(spikes int8, u int64 or None, v int64 or None), each (samples, steps, neurons)."""


def supports(synapses: list[PreparedSynapse], populations: list[PopulationStep]) -> bool:
    """True if every connection is a plain (Dense) product and every population a kind `FusedLIF` runs."""
    if any(hasattr(syn, "deliver") for syn in synapses):  # attention delivers whole trains by its own arithmetic
        return False
    return all(FusedLIF.supports(p, p.formats) for p in populations)


def run_fast(
    input_name: str,
    synapses: list[PreparedSynapse],
    populations: list[PopulationStep],
    x: np.ndarray,
    tally: SaturationTally,
    states: Collection[str],
) -> dict[str, Trace]:
    """Run a feed-forward graph on int64 inputs `x` (samples, steps, n_in); u and v only for `states`.

    Same arithmetic, counts and spikes as `reference.simulate_feedforward` (see the module doc).
    """
    samples, steps = x.shape[:2]
    graded_input = any(s.source == input_name and s.graded for s in synapses)
    source = torch.from_numpy(np.ascontiguousarray(x.transpose(1, 0, 2)))
    events = {input_name: accumulate.SpikeEvents(source if graded_input else source != 0)}
    synapses = decay_split.split_sources(synapses, populations)
    traces: dict[str, Trace] = {}
    pending = [p.pop.name for p in populations]
    while pending:
        ready = next(name for name in pending if all(s.source in events for s in synapses if s.target == name))
        pending.remove(ready)
        step = next(p for p in populations if p.pop.name == ready)
        incoming = [s for s in synapses if s.target == ready]
        a_in, _ = accumulate.population_input(
            ready, step.pop.size, incoming, events, step.formats, tally, (steps, samples)
        )
        keep = ready in states
        spikes, u, v = FusedLIF(step).run(a_in, tally, keep)
        del a_in
        events[ready] = accumulate.SpikeEvents(spikes)
        record = torch.empty(samples, steps, step.pop.size, dtype=torch.int8)
        record.copy_(spikes.permute(1, 0, 2))
        traces[ready] = (record.numpy(), u.numpy() if keep else None, v.numpy() if keep else None)
    return traces
