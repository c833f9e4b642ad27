"""Runs a deploy graph on Lava's CPU backend (`Loihi2SimCfg(select_tag="fixed_pt")`) and records every step.

The network is compiled once; samples are played back-to-back, one `run` of `steps` per sample, with every
state (u, v, synaptic buffers) zeroed between samples, so each sample starts exactly as the reference's does.
The runtime is always stopped, after an error or an interrupt too, so no Lava process outlives the call.
"""

from __future__ import annotations

import os
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
        runtime_owner, failed, k = None, True, 0
        try:
            network = build_network(graph, x, paths)
            runtime_owner = network.source
            config = Loihi2SimCfg(select_tag="fixed_pt")
            for k in tqdm(range(samples), desc="Lava fixed_pt", unit="sample", disable=not progress, leave=False):
                if k:
                    _zero_states(network)
                runtime_owner.run(condition=RunSteps(num_steps=steps), run_cfg=config)
            failed = False
        except Exception as exc:
            where = "while building the processes" if runtime_owner is None else f"on sample {k} of {samples}"
            causes = "".join(f"; in a Lava process: {c}" for c in _process_errors(runtime_owner))
            raise SimulationError(
                f"Lava failed {where} of the graph with output {graph.output!r}: {type(exc).__name__}: {exc}{causes}"
            ) from exc
        finally:
            if runtime_owner is not None:
                _stop(runtime_owner, failed=failed)
        pops = {}
        for pop in graph.populations:
            data = np.array(np.memmap(paths[pop.name], dtype=np.int64, mode="r", shape=(samples * steps, 3, pop.size)))
            data = data.reshape(samples, steps, 3, pop.size)
            pops[pop.name] = PopulationTrace(spikes=data[:, :, 0], u=data[:, :, 1], v=data[:, :, 2])
    return RunRecord(backend="lava", populations=pops, wall_time_s=time.perf_counter() - start)


def _actors(runtime) -> list:
    infrastructure = getattr(runtime, "_messaging_infrastructure", None)
    return list(getattr(infrastructure, "actors", None) or ())


def _process_errors(process) -> list[str]:
    """The last traceback line of every Lava process that raised (Lava itself only logs them at INFO level)."""
    errors = []
    for actor in _actors(getattr(process, "runtime", None)):
        error = getattr(actor, "_exception", None)
        if error is None and not getattr(actor, "_is_done", True):
            error = actor.exception
        if error is not None:
            errors.append(str(error[1]).strip().splitlines()[-1])
    return errors


def _stop(process, *, failed: bool) -> None:
    """Stop Lava's runtime so that no Lava process outlives the call.

    After a successful run this is Lava's own `stop()`. After a failure that would wait forever: it asks every
    runtime service for a TERMINATED reply, and once a process model has raised, Lava has already joined the
    processes that would answer. So a failed (or interrupted) run is torn down directly, with lava-nc 0.10.0
    internals: actor processes still alive are terminated and joined, then the messaging infrastructure (its
    shared-memory manager process) and the watchdog are stopped, and the runtime is marked stopped so that
    Lava's `__del__` does not try the graceful stop again.
    """
    runtime = getattr(process, "runtime", None)
    if runtime is None:
        return
    if not failed:
        if getattr(runtime, "_is_started", False):
            process.stop()
        return
    for actor in _actors(runtime):
        if actor._parent_pid == os.getpid() and not getattr(actor, "_is_done", False):
            if actor.is_alive():
                actor.terminate()
            actor.join()
    infrastructure = getattr(runtime, "_messaging_infrastructure", None)
    if infrastructure is not None and getattr(infrastructure, "smm", None) is not None:
        infrastructure.stop()
    watchdog = getattr(runtime, "_watchdog_manager", None)
    if watchdog is not None:
        watchdog.stop()
    runtime._is_started = runtime._is_running = False
