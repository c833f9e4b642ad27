"""Float simulation of a parsed NIR graph: the unquantized reference that integer runs are checked against.

It runs the discrete form documented in `spikeport.export.network` in float64, batched over samples. For a
spikeport `SpikingDecoder` it reproduces the torch model's forward pass; for imported graphs it is the
"what the float model means" side of the float-vs-integer comparison, and the quantizer calibrates ranges on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeport.errors import UnsupportedNodeError
from spikeport.export.network import ParsedNetwork


@dataclass(frozen=True)
class FloatTrace:
    """One population's float activity, each array (samples, steps, neurons)."""

    spikes: np.ndarray
    cur: np.ndarray
    """The synaptic current in units of v per step (Loihi's u up to scale)."""
    v: np.ndarray


def update_order(net: ParsedNetwork) -> list[str]:
    """Populations in an order where every zero-delay source is updated before its target within a step."""
    pending, order = list(net.populations), []
    while pending:
        ready = [
            p
            for p in pending
            if not any(s.target == p and s.source in pending and np.any(s.delay_steps == 0) for s in net.synapses)
        ]
        if not ready:
            raise UnsupportedNodeError(f"populations {pending} form a loop without delay; add a Delay node to the loop")
        order.append(ready[0])
        pending.remove(ready[0])
    return order


def simulate_float(net: ParsedNetwork, inputs: np.ndarray) -> dict[str, FloatTrace]:
    """Run `net` on `inputs` (samples, steps, n_in); returns every population's trace by name."""
    x = np.asarray(inputs, dtype=np.float64)
    samples, steps, _ = x.shape
    pops = net.populations
    outputs = {net.input_name: x, **{n: np.zeros((samples, steps, p.size)) for n, p in pops.items()}}
    cur = {n: np.zeros((samples, p.size)) for n, p in pops.items()}
    v = {n: np.zeros((samples, p.size)) for n, p in pops.items()}
    record = {n: ([], []) for n in pops}
    groups = [
        (syn, [(int(d), syn.weight * (syn.delay_steps == d)) for d in np.unique(syn.delay_steps)])
        for syn in net.synapses
    ]
    for t in range(steps):
        for name in update_order(net):
            p = pops[name]
            drive = np.zeros((samples, p.size))
            for syn, by_delay in groups:
                if syn.target != name:
                    continue
                for d, w in by_delay:
                    if t - d >= 0:
                        drive += outputs[syn.source][:, t - d] @ w.T
                if syn.bias is not None:
                    drive += syn.bias
            cur[name] = (1 - p.beta) * cur[name] + p.gain * drive
            v[name] = (1 - p.alpha) * v[name] + cur[name] + p.bias
            spikes = (v[name] > p.v_th).astype(np.float64)
            v[name] = np.where(spikes > 0, 0.0, v[name])
            outputs[name][:, t] = spikes
            record[name][0].append(cur[name])
            record[name][1].append(v[name])
    return {n: FloatTrace(outputs[n], np.stack(record[n][0], axis=1), np.stack(record[n][1], axis=1)) for n in pops}
