"""Runs a deploy graph on Lava's CPU backend (`Loihi2SimCfg(select_tag="fixed_pt")`) and records every step.

The network is compiled once; samples are played back-to-back, one `run` of `steps` per sample, with every
state (u, v, synaptic buffers) zeroed between samples, so each sample starts exactly as the reference's does.
The runtime is always stopped, after an error or an interrupt too, so no Lava process outlives the call.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from spikeport.errors import SimulationError
from spikeport.ir import DeployGraph
from spikeport.simulators.lava import import_lava
from spikeport.simulators.lava.builder import LavaNetwork, build_network
from spikeport.simulators.record import PopulationTrace, RunRecord
from spikeport.simulators.reference import check_inputs


def _zero_states(network: LavaNetwork) -> None:
    for proc in network.populations.values():
        proc.u.set(np.zeros(proc.u.shape, dtype=np.int32))
        proc.v.set(np.zeros(proc.v.shape, dtype=np.int32))
    for proc in network.synapses.values():
        proc.a_buff.set(np.zeros(proc.a_buff.shape, dtype=np.int32))


def run_lava(graph: DeployGraph, inputs: np.ndarray, *, progress: bool = False) -> RunRecord:
    """Run every sample of `inputs` (samples, steps, n_in) on Lava `fixed_pt`; returns a `RunRecord`."""
    x = check_inputs(graph, inputs)
    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    samples, steps, _ = x.shape
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="spikeport-lava-") as tmp:
        paths = {}
        for pop in graph.populations:
            paths[pop.name] = str(Path(tmp) / f"{len(paths)}.rec")
            np.memmap(paths[pop.name], dtype=np.int64, mode="w+", shape=(samples * steps, 3, pop.size)).flush()
        network = build_network(graph, x, paths)
        runtime_owner = network.source
        try:
            config = Loihi2SimCfg(select_tag="fixed_pt")
            for k in tqdm(range(samples), desc="Lava fixed_pt", unit="sample", disable=not progress, leave=False):
                if k:
                    _zero_states(network)
                runtime_owner.run(condition=RunSteps(num_steps=steps), run_cfg=config)
        except Exception as exc:
            raise SimulationError(f"Lava failed while running graph {graph.output!r}: {type(exc).__name__}: {exc}") from exc
        finally:
            _stop(runtime_owner)
        pops = {}
        for pop in graph.populations:
            data = np.array(np.memmap(paths[pop.name], dtype=np.int64, mode="r", shape=(samples * steps, 3, pop.size)))
            data = data.reshape(samples, steps, 3, pop.size)
            pops[pop.name] = PopulationTrace(spikes=data[:, :, 0], u=data[:, :, 1], v=data[:, :, 2])
    return RunRecord(backend="lava", populations=pops, wall_time_s=time.perf_counter() - start)


def _stop(process) -> None:
    runtime = getattr(process, "runtime", None)
    if runtime is not None and getattr(runtime, "_is_started", False):
        process.stop()
