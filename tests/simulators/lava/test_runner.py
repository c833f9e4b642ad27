"""`run_lava` failure handling: a failed run raises `SimulationError` naming the cause and leaves no process behind.

Lava runs every process model in a forked child process, plus a shared-memory manager process. Failures are
provoked by monkeypatching: a process model's `run_spk` (inherited by the forked children) or the runner's
between-sample reset (in this process). Left-over processes are looked for twice: `multiprocessing.active_children()`
and a scan of /proc for children of this process (Python's resource tracker, started once per interpreter by
shared memory and shared by every later run, is not Lava's and is ignored).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from helpers.graphs import one_layer
from spikeport.errors import SimulationError
from spikeport.simulators.lava import import_lava, run_lava

pytestmark = pytest.mark.lava

DEADLINE_S = 120


def _children() -> list[str]:
    """Processes whose parent is this process (zombies included), except multiprocessing's resource tracker."""
    me, found = str(os.getpid()), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # exited meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        if fields[1] == me and "resource_tracker" not in cmdline:
            found.append(f"pid {entry.name} state {fields[0]}: {cmdline.strip()[:80]}")
    return found


def _assert_no_lava_process_left() -> None:
    assert multiprocessing.active_children() == []
    assert _children() == []


@contextmanager
def _deadline(seconds: int):
    """Fail instead of hanging: Lava's graceful stop used to wait forever after a process model raised."""

    def expire(signum, frame):
        raise TimeoutError(f"run_lava did not return within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def graph_and_inputs():
    return one_layer([[1, 2]], du=4095, dv=0, vth=3), np.ones((3, 6, 2), dtype=np.int64)


def test_successful_run_leaves_no_process(graph_and_inputs):
    graph, inputs = graph_and_inputs
    with _deadline(DEADLINE_S):
        record = run_lava(graph, inputs)
    assert record.num_samples == 3
    _assert_no_lava_process_left()


def test_process_model_error_raises_simulation_error_and_leaves_no_process(graph_and_inputs, monkeypatch):
    """A process model raising inside Lava's child process: the cause is in the message, every process is gone."""
    import_lava()
    from spikeport.simulators.lava.processes.recorder import models

    def explode(self):
        raise RuntimeError("recorder exploded on purpose")

    monkeypatch.setattr(models.PyStateRecorderModelFixed, "run_spk", explode)
    graph, inputs = graph_and_inputs
    with _deadline(DEADLINE_S), pytest.raises(SimulationError) as failure:
        run_lava(graph, inputs)
    message = str(failure.value)
    assert "sample 0 of 3" in message and "'pop'" in message
    assert "recorder exploded on purpose" in message
    _assert_no_lava_process_left()


def test_error_between_samples_raises_simulation_error_and_leaves_no_process(graph_and_inputs, monkeypatch):
    """An error in this process while Lava's runtime is up (resetting states before sample 1)."""
    from spikeport.simulators.lava import runner

    def fail(network):
        raise ValueError("state reset failed on purpose")

    monkeypatch.setattr(runner, "_zero_states", fail)
    graph, inputs = graph_and_inputs
    with _deadline(DEADLINE_S), pytest.raises(SimulationError, match=r"sample 1 of 3.*state reset failed on purpose"):
        run_lava(graph, inputs)
    _assert_no_lava_process_left()


def test_runs_work_again_after_a_failure(graph_and_inputs, monkeypatch):
    """A failed run leaves nothing behind that breaks the next one: the next run is complete and exact."""
    from spikeport.simulators.compare import compare_runs
    from spikeport.simulators.lava import runner
    from spikeport.simulators.reference import run_reference

    graph, inputs = graph_and_inputs
    with monkeypatch.context() as patch:
        patch.setattr(runner, "_zero_states", lambda network: (_ for _ in ()).throw(ValueError("boom")))
        with _deadline(DEADLINE_S), pytest.raises(SimulationError):
            run_lava(graph, inputs)
    with _deadline(DEADLINE_S):
        lava = run_lava(graph, inputs)
    assert compare_runs(run_reference(graph, inputs), lava).bit_exact
    _assert_no_lava_process_left()


def test_signal_handlers_are_restored_after_runs(graph_and_inputs, monkeypatch):
    """The guard's SIGINT/SIGTERM/SIGHUP handlers are active only while Lava's runtime is, after a failure too."""
    from spikeport.simulators.lava import runner

    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    before = {s: signal.getsignal(s) for s in handled}
    graph, inputs = graph_and_inputs
    with _deadline(DEADLINE_S):
        run_lava(graph, inputs)
    assert {s: signal.getsignal(s) for s in handled} == before
    monkeypatch.setattr(runner, "_zero_states", lambda network: (_ for _ in ()).throw(ValueError("boom")))
    with _deadline(DEADLINE_S), pytest.raises(SimulationError):
        run_lava(graph, inputs)
    assert {s: signal.getsignal(s) for s in handled} == before


def test_a_worker_killed_in_process_is_a_simulation_error_not_a_hang(graph_and_inputs):
    """SIGKILL to Lava's newest process (its runtime service) while `run_lava` runs in this process's main thread."""
    graph, _ = graph_and_inputs
    killed = []

    def kill_the_newest_lava_process():
        deadline = time.monotonic() + DEADLINE_S
        while len(pids := sorted(int(c.split()[1]) for c in _children())) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        killed.append(pids[-1])
        os.kill(pids[-1], signal.SIGKILL)

    killer = threading.Thread(target=kill_the_newest_lava_process)
    killer.start()
    with _deadline(DEADLINE_S), pytest.raises(SimulationError, match="was killed by SIGKILL") as failure:
        run_lava(graph, np.ones((2000, 50, 2), dtype=np.int64))
    killer.join()
    assert f"runtime service (LoihiPyRuntimeService), pid {killed[0]}" in str(failure.value)
    _assert_no_lava_process_left()


def test_error_while_building_processes_is_a_simulation_error(graph_and_inputs, monkeypatch):
    """Lava refusing a parameter when the processes are built (before any runtime exists) is reported as such."""
    from spikeport.simulators.lava import runner

    def refuse(graph, inputs, paths):
        raise ValueError("Reset offset must be positive.")

    monkeypatch.setattr(runner, "build_network", refuse)
    graph, inputs = graph_and_inputs
    with pytest.raises(SimulationError, match=r"while building the processes of the graph .*Reset offset"):
        run_lava(graph, inputs)
    _assert_no_lava_process_left()


def test_hundred_samples_of_a_three_layer_network_compile_once(monkeypatch):
    """100 samples run back to back on one compiled network, bit-exact to the reference sample by sample."""
    import_lava()
    from lava.magma.compiler.compiler import Compiler

    from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
    from spikeport.simulators import compare_runs, run_reference

    rng = np.random.default_rng(20)
    sizes = [12, 16, 12, 4]
    nodes = {"in": SpikeInput(name="in", size=sizes[0])}
    edges, previous = [], "in"
    for layer, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        nodes[f"w{layer}"] = DenseInt(name=f"w{layer}", weights=rng.integers(-120, 200, (n_out, n_in)), weight_exp=-1)
        nodes[f"p{layer}"] = LIFInt(name=f"p{layer}", size=n_out, du=1000, dv=500, vth=40)
        edges += [(previous, f"w{layer}"), (f"w{layer}", f"p{layer}")]
        previous = f"p{layer}"
    graph = DeployGraph(nodes=nodes, edges=edges, output=previous)
    inputs = (rng.random((100, 20, sizes[0])) < 0.3).astype(np.int64)
    compiles = []
    original = Compiler.compile
    monkeypatch.setattr(Compiler, "compile", lambda self, *a, **k: compiles.append(1) or original(self, *a, **k))
    record = run_lava(graph, inputs)
    assert len(compiles) == 1
    assert record.num_samples == 100
    assert all(record.spike_counts(p.name).sum() > 0 for p in graph.populations), "every layer must be active"
    comparison = compare_runs(run_reference(graph, inputs), record)
    assert comparison.bit_exact, comparison.summary()
    _assert_no_lava_process_left()
