"""Float simulation of a parsed NIR graph: the unquantized reference that integer runs are checked against.

It runs the discrete form documented in `spikeport.export.nir_graph` in float64, batched over samples. For a
spikeport `SpikingDecoder` it reproduces the torch model's forward pass; for imported graphs it is the
"what the float model means" side of the float-vs-integer comparison, and the quantizer calibrates ranges on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeport.export.nir_graph import ParsedNetwork


@dataclass(frozen=True)
class FloatTrace:
    """One population's float activity, each array (samples, steps, neurons)."""

    spikes: np.ndarray
    cur: np.ndarray
    """The synaptic current in units of v per step (Loihi's u up to scale)."""
    v: np.ndarray


def simulate_float(net: ParsedNetwork, inputs: np.ndarray) -> dict[str, FloatTrace]:
    """Run `net` on `inputs` (samples, steps, n_in); returns every population's trace by name."""
    x = np.asarray(inputs, dtype=np.float64)
    samples, steps, _ = x.shape
    pops = net.populations
    cur = {n: np.zeros((samples, p.size)) for n, p in pops.items()}
    v = {n: np.zeros((samples, p.size)) for n, p in pops.items()}
    pending = {n: np.zeros((samples, p.size)) for n, p in pops.items()}  # input delivered next step
    record = {n: ([], [], []) for n in pops}
    for t in range(steps):
        emitted = {net.input_name: x[:, t]}
        for name, p in pops.items():
            cur[name] = (1 - p.beta) * cur[name] + p.gain * pending[name]
            v[name] = (1 - p.alpha) * v[name] + cur[name] + p.bias
            spikes = (v[name] > p.v_th).astype(np.float64)
            v[name] = np.where(spikes > 0, 0.0, v[name])
            emitted[name] = spikes
            for store, value in zip(record[name], (spikes, cur[name], v[name]), strict=True):
                store.append(value)
        pending = {n: np.zeros((samples, p.size)) for n, p in pops.items()}
        for syn in net.synapses:
            pending[syn.target] = pending[syn.target] + emitted[syn.source] @ syn.weight.T
            if syn.bias is not None:
                pending[syn.target] = pending[syn.target] + syn.bias
    return {n: FloatTrace(*(np.stack(r, axis=1) for r in record[n])) for n in pops}
