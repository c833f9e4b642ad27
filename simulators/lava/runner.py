"""Runs a deploy graph on Lava's CPU backend (`Loihi2SimCfg(select_tag="fixed_pt")`) and records every step.

The network is compiled once; samples are played back-to-back, one `run` of `steps` per sample, with every
state (u, v, synaptic buffers) zeroed between samples, so each sample starts exactly as the reference's does.
`lifecycle.LavaRuntimeGuard` stops the runtime whatever ends the run (an error, a signal, a worker that died), so
no Lava process, shared-memory segment or recorder file outlives the call.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from spikeport.errors import SimulationError, SpikeportError
from spikeport.ir import DeployGraph
from spikeport.simulators import learning
from spikeport.simulators.lava import import_lava
from spikeport.simulators.lava.builder import LavaNetwork, build_network
from spikeport.simulators.lava.configs import make_run_config
from spikeport.simulators.lava.lifecycle import LavaRuntimeGuard
from spikeport.simulators.lava.teardown import runtime_actors
from spikeport.simulators.learning_lava import read_weights
from spikeport.simulators.record import PopulationTrace, RunRecord
from spikeport.simulators.reference import check_inputs


def _zero_states(network: LavaNetwork) -> None:
    for proc in network.populations.values():
        proc.u.set(np.zeros(proc.u.shape, dtype=np.int32))
        proc.v.set(np.zeros(proc.v.shape, dtype=np.int32))
    for proc in network.synapses.values():
        proc.a_buff.set(np.zeros(proc.a_buff.shape, dtype=np.int32))


def run_lava(
    graph: DeployGraph,
    inputs: np.ndarray,
    *,
    progress: bool = False,
    config: str = "cpu",
    workers: int = 1,
    on_sample: Callable[[], object] | None = None,
) -> RunRecord:
    """Run every sample of `inputs` (samples, steps, n_in) on Lava `fixed_pt`; returns a `RunRecord`.

    `config` picks the run configuration (`configs.LAVA_CONFIGS`: "cpu", Lava's CPU `fixed_pt` models, or
    "loihi2-hw", Loihi 2 hardware through Intel's lava-loihi). `workers` > 1 splits the samples over that many
    worker processes, one Lava runtime each, and merges their records in sample order (`shard.run_sharded`; the
    same record as one runtime; plastic graphs are refused). `on_sample` is called after each sample (one runtime).
    Raises `SimulationError` when Lava fails or one of its processes (or a worker) dies, and `Interrupted` when
    SIGINT, SIGTERM or SIGHUP arrives (in the main thread); either way no Lava process, shared memory or temporary
    file is left.
    """
    x = check_inputs(graph, inputs)
    learning.check_plastic(graph)
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 1:
        raise SpikeportError(f"--workers must be an integer >= 1 (worker processes for Lava), got {workers!r}")
    if workers > 1 and len(x) > 1:
        from spikeport.simulators.lava.shard import run_sharded

        return run_sharded(graph, x, workers=int(workers), progress=progress, config=config)
    import_lava()
    from lava.magma.core.run_conditions import RunSteps

    run_cfg = make_run_config(config)  # `config`: simulators/lava/configs.py (fails here if Loihi 2 is absent)

    samples, steps, _ = x.shape
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="spikeport-lava-") as tmp:
        paths = {}
        for pop in graph.populations:
            paths[pop.name] = str(Path(tmp) / f"{len(paths)}.rec")
            np.memmap(paths[pop.name], dtype=np.int64, mode="w+", shape=(samples * steps, 3, pop.size)).flush()
        with LavaRuntimeGuard() as guard:
            network, where = None, "while building the processes"
            try:
                network = build_network(graph, x, paths)
                guard.watch(network.source)
                where = "while compiling and starting the processes"
                network.source.create_runtime(run_cfg=run_cfg)  # compiles, forks
                guard.started()
                learned, done = {node.name: [] for node in learning.plastic_connections(graph)}, 0
                plan = learning.run_plan(graph, samples, steps)  # per sample, and per epoch for plastic graphs
                for zero, chunk, read in tqdm(plan, desc="Lava fixed_pt", disable=not progress, leave=False):
                    where = f"on sample {done // steps} of {samples}"
                    if zero:
                        _zero_states(network)
                    network.source.run(condition=RunSteps(num_steps=chunk))
                    guard.check()
                    done += chunk
                    if on_sample is not None and done % steps == 0:
                        on_sample()
                    for name, weights in (read_weights(graph, network.synapses, done) if read else {}).items():
                        learned[name].append(weights)
                where = "while stopping its runtime"
                guard.close()
            except Exception as exc:
                causes = "".join(f"; in a Lava process: {c}" for c in _process_errors(network))
                cause = str(exc) if isinstance(exc, SimulationError) else f"{type(exc).__name__}: {exc}"
                raise SimulationError(
                    f"Lava failed {where} of the graph with output {graph.output!r}: {cause}{causes}"
                ) from exc
        pops = {}
        for pop in graph.populations:
            data = np.array(np.memmap(paths[pop.name], dtype=np.int64, mode="r", shape=(samples * steps, 3, pop.size)))
            data = data.reshape(samples, steps, 3, pop.size)
            pops[pop.name] = PopulationTrace(spikes=data[:, :, 0], u=data[:, :, 1], v=data[:, :, 2])
    weights = learning.stack_learned(graph, learned)
    return RunRecord(backend="lava", populations=pops, weights=weights, wall_time_s=time.perf_counter() - start)


def _process_errors(network: LavaNetwork | None) -> list[str]:
    """The last traceback line of every Lava process that raised (Lava itself only logs them at INFO level)."""
    errors = []
    for actor in runtime_actors(getattr(network.source, "runtime", None) if network is not None else None):
        error = getattr(actor, "_exception", None)
        if error is None and not getattr(actor, "_is_done", True):
            error = actor.exception
        if error is not None:
            errors.append((str(error[1]).strip().splitlines() or [repr(error[0])])[-1])
    return errors
