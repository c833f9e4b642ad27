"""Lava on several worker processes: the samples are split into contiguous shards, one per worker.

Samples of a static graph are independent (every state is zeroed between samples), so worker k runs samples
[start_k, stop_k) through its own Lava runtime (compiled once per worker, as `runner.run_lava` does) and writes its
traces into the shared result files at those rows; the merged record is row for row the one a single runtime gives.
Plastic graphs learn across samples and stay on one runtime (`workers > 1` is refused).

Workers are forked, after this process has imported Lava, so they start in milliseconds with torch and Lava already
imported (spawned workers spent 5-15 s each re-importing them); they run no torch code, and Lava itself forks its
processes from a process that has torch loaded in the same way. They are not daemonic, because Lava forks its own
processes inside each of them. Each worker makes itself a process-group leader first, so it and everything Lava
forks for it can be stopped together, takes the default signal handlers back, and sends its stderr and its
temporary files to a folder of this call, so nothing it or a killed Lava process leaves outlives the call.

Stopping, whatever the cause (Ctrl-C, SIGTERM or SIGHUP here, a worker that failed or died): every worker gets
SIGTERM, which its `LavaRuntimeGuard` turns into a clean teardown; a worker still there after `STOP_S`, and the
processes of a worker's group that outlive it, are killed.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from spikeport import errors
from spikeport.errors import Interrupted, SimulationError, SpikeportError
from spikeport.ir import DeployGraph, load_deploy_graph, save_deploy_graph
from spikeport.simulators import learning
from spikeport.simulators.record import PopulationTrace, RunRecord

__all__ = ["concat_records", "run_sharded", "split_samples"]

STOP_S = 15.0  # how long a worker may take to tear its Lava runtime down after SIGTERM (about 1 s measured)
GROUP_S = 3.0  # how long the rest of a worker's group (Lava's processes, its resource tracker) may take to exit
PARENT_POLL_S = 0.5  # how often a worker checks that its parent is alive
POLL_S = 0.2  # how often the parent checks that its workers are alive
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def split_samples(samples: int, parts: int) -> list[tuple[int, int]]:
    """Contiguous (start, stop) shards of `samples` rows over at most `parts` parts, sizes differing by at most 1."""
    bounds = np.linspace(0, samples, min(parts, samples) + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def concat_records(records: list[RunRecord], wall_time_s: float = 0.0) -> RunRecord:
    """One record of the records of consecutive sample shards, in order (static graphs: no learned weights)."""
    if any(r.weights for r in records):
        raise SimulationError("records of a plastic graph cannot be concatenated: its samples depend on each other")
    names = list(records[0].populations)
    pops = {
        name: PopulationTrace(
            **{var: np.concatenate([r.populations[name].var(var) for r in records]) for var in ("spikes", "u", "v")}
        )
        for name in names
    }
    saturation: dict[str, dict[str, int]] = {}
    for record in records:
        for where, counts in record.saturation.items():
            for var, count in counts.items():
                saturation.setdefault(where, {})[var] = saturation.get(where, {}).get(var, 0) + int(count)
    return RunRecord(backend=records[0].backend, populations=pops, saturation=saturation, wall_time_s=wall_time_s)


@dataclass(frozen=True)
class _Job:
    """What one worker runs: rows [start, stop) of the saved inputs, into the shared trace files."""

    index: int
    start: int
    stop: int
    folder: str  # this call's folder: graph, inputs, traces, and the workers' temporary files and stderr
    config: str
    shapes: dict[str, tuple[int, ...]]  # population -> shape of its trace file (samples, steps, 3, size)


def run_sharded(graph: DeployGraph, inputs: np.ndarray, *, workers: int, progress: bool, config: str) -> RunRecord:
    """Run `inputs` (already checked) on `workers` Lava runtimes in worker processes; merged in sample order.

    Raises `SpikeportError` naming `--workers` for a plastic graph, `SimulationError` naming the worker and its
    samples when one fails or dies, and `Interrupted` on SIGINT, SIGTERM or SIGHUP, after every worker stopped.
    """
    if learning.is_plastic(graph):
        names = ", ".join(repr(node.name) for node in learning.plastic_connections(graph))
        raise SpikeportError(
            f"--workers {workers}: the graph learns (plastic connection {names}), so each sample depends on the ones "
            "before it and Lava must run them in order on one runtime; use --workers 1 (workers=1)"
        )
    samples, steps, _ = inputs.shape
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="spw-") as folder:  # short: Lava's manager socket lives under it
        save_deploy_graph(graph, Path(folder) / "graph.deploy.npz")
        np.save(Path(folder) / "inputs.npy", inputs)
        shapes = {pop.name: (samples, steps, 3, pop.size) for pop in graph.populations}
        for k, shape in enumerate(shapes.values()):
            np.lib.format.open_memmap(Path(folder) / f"trace-{k}.npy", mode="w+", dtype=np.int64, shape=shape).flush()
        jobs = [_Job(k, a, b, folder, config, shapes) for k, (a, b) in enumerate(split_samples(samples, workers))]
        _Pool(jobs, graph.output).run(samples, progress)
        pops = {}
        for k, name in enumerate(shapes):
            data = np.load(Path(folder) / f"trace-{k}.npy")
            pops[name] = PopulationTrace(spikes=data[:, :, 0], u=data[:, :, 1], v=data[:, :, 2])
    return RunRecord(backend="lava", populations=pops, wall_time_s=time.perf_counter() - start)


class _Pool:
    """The worker processes of one call, their pipes, and how they are stopped."""

    def __init__(self, jobs: list[_Job], output: str) -> None:
        self.jobs, self.output = jobs, output
        self.processes: list[multiprocessing.Process] = []
        self.pipes: list[multiprocessing.connection.Connection] = []
        self.done: set[int] = set()
        self.signum: int | None = None
        self.armed = False  # whether a signal raises now (not while starting workers, nor while stopping them)
        self.warned: set[tuple[str, str]] = set()

    def run(self, samples: int, progress: bool) -> None:
        installed = self._install_signals()
        try:
            from spikeport.simulators.lava import import_lava

            import_lava()  # once, here: the forked workers inherit it (and a missing Lava fails once, here)
            context = multiprocessing.get_context("fork")
            for job in self.jobs:
                receive, send = context.Pipe(duplex=False)
                process = context.Process(target=_work, args=(send, job), name=f"spikeport-lava-worker-{job.index}")
                process.start()
                send.close()
                self.processes.append(process)
                self.pipes.append(receive)
            self._arm()
            with tqdm(total=samples, desc=f"Lava fixed_pt x{len(self.jobs)}", disable=not progress, leave=False) as bar:
                while len(self.done) < len(self.jobs):
                    self._step(bar)
        finally:
            self.armed = False
            try:
                self._stop()
            finally:
                for signum, previous in installed.items():
                    signal.signal(signum, previous)
        self._arm()  # a signal during the stop is raised once everything is stopped

    def _step(self, bar) -> None:
        """Read every message there is, then look for a worker that ended without sending its result.

        A worker's end is polled (`is_alive`) rather than waited on: its sentinel and its pipe stay open as long as
        any process Lava forked from it lives, so they say nothing about a worker killed under its Lava runtime.
        """
        waiting = [k for k in range(len(self.jobs)) if k not in self.done]
        multiprocessing.connection.wait([self.pipes[k] for k in waiting], timeout=POLL_S)
        for k in waiting:
            ended = self._drain(k, bar)
            if k not in self.done and (ended or not self.processes[k].is_alive()):
                ended = self._drain(k, bar)  # what it sent just before its end
                if k not in self.done:
                    self.processes[k].join(STOP_S)
                    raise self._failure(k, self._ended(self.processes[k].exitcode))

    def _drain(self, k: int, bar) -> bool:
        """Handle the messages worker k has sent; True if its pipe is closed (it has exited)."""
        while k not in self.done and self.pipes[k].poll():
            try:
                message = self.pipes[k].recv()
            except EOFError:
                return True
            self._receive(k, message, bar)
        return False

    def _receive(self, k: int, message: tuple, bar) -> None:
        kind = message[0]
        if kind == "sample":
            bar.update(1)
        elif kind == "done":
            self.done.add(k)
            for category, text in message[1]:
                found = getattr(errors, category, None)
                if (category, text) not in self.warned:
                    self.warned.add((category, text))
                    known = isinstance(found, type) and issubclass(found, Warning)
                    warnings.warn(text, found if known else UserWarning, stacklevel=2)
        elif kind == "error":
            raise self._failure(k, message[2], getattr(errors, message[1], SimulationError))

    def _failure(self, k: int, cause: str, kind: type[SpikeportError] = SimulationError) -> SpikeportError:
        job = self.jobs[k]
        where = f"Lava worker {k + 1} of {len(self.jobs)} (samples {job.start}..{job.stop - 1})"
        log = _last_line(Path(job.folder) / f"stderr-{k}.txt")
        detail = f" (its last words: {log})" if log and log not in cause else ""
        if not (isinstance(kind, type) and issubclass(kind, SpikeportError)):
            kind = SimulationError
        return kind(
            f"{where} of the graph with output {self.output!r}: {cause}{detail}; the other workers were stopped"
        )

    @staticmethod
    def _ended(code: int | None) -> str:
        if code is None or code >= 0:
            return f"exited with code {code} before sending its result"
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else f"signal {-code}"
        oom = " (the kernel's out-of-memory killer does this; see `dmesg`)" if -code == signal.SIGKILL else ""
        return f"was killed by {name}{oom}"

    # -- stopping ----------------------------------------------------------------------------------------------

    def _stop(self) -> None:
        """Stop every worker (SIGTERM: its guard tears Lava down), then anything left in their process groups."""
        for process in self.processes:
            if process.is_alive():
                _signal(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_S
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                _signal(process.pid, signal.SIGKILL, group=True)
                process.join()
        for process in self.processes:
            _empty_group(process.pid)
        for pipe in self.pipes:
            pipe.close()

    def _install_signals(self) -> dict[int, object]:
        installed: dict[int, object] = {}
        if threading.current_thread() is not threading.main_thread():
            return installed
        for signum in HANDLED_SIGNALS:
            previous = signal.getsignal(signum)
            if previous is None or previous == signal.SIG_IGN:
                continue  # set outside Python, or ignored by the host: leave it
            installed[signum] = previous
            signal.signal(signum, self._on_signal)
        return installed

    def _on_signal(self, signum: int, frame) -> None:
        if self.signum is None:
            self.signum = signum
        if self.armed:
            self.armed = False
            raise self._interrupted()

    def _arm(self) -> None:
        self.armed = True
        if self.signum is not None:
            self.armed = False
            raise self._interrupted()

    def _interrupted(self) -> Interrupted:
        name = signal.Signals(self.signum).name
        return Interrupted(self.signum, f"stopped by {name}; the {len(self.jobs)} Lava workers were shut down")


def _signal(pid: int, signum: int, *, group: bool = False) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum) if group else os.kill(pid, signum)


def _empty_group(pgid: int) -> None:
    """Wait until a worker's process group has no running process: SIGTERM first (Lava's processes take its
    default action; the resource tracker ignores it and still unlinks the shared memory a killed process left,
    then exits), then, after `GROUP_S`, SIGKILL."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        if not _running_in_group(pgid):
            return
        _signal(pgid, signum, group=True)
        deadline = time.monotonic() + GROUP_S
        while time.monotonic() < deadline and _running_in_group(pgid):
            time.sleep(0.05)


def _running_in_group(pgid: int) -> bool:
    """Whether any process of group `pgid` is running (zombies, which an init that does not reap leaves, are not)."""
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:  # no /proc: ask the kernel (counts zombies too)
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def _last_line(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


# -- in the worker process --------------------------------------------------------------------------------------


def _work(pipe: multiprocessing.connection.Connection, job: _Job) -> None:
    """A worker's main: run rows [start, stop) on Lava, write the traces, report "done" or the error."""
    os.setpgid(0, 0)  # first: everything Lava forks from here on is in this worker's group
    for signum in HANDLED_SIGNALS:  # not the parent's (inherited by the fork); the Lava guard installs its own
        signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)
    # Lava's recorder files and multiprocessing's folders (the socket of Lava's manager: AF_UNIX paths must stay
    # under 108 bytes, hence no deeper folder) go to the call's folder, removed with it whatever ends this worker
    tempfile.tempdir = job.folder
    log = os.open(Path(job.folder) / f"stderr-{job.index}.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 2)  # tracebacks of Lava's processes, resource-tracker notes: read back for the error message
    _own_resource_tracker()
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        from spikeport.simulators.lava.runner import run_lava

        graph = load_deploy_graph(Path(job.folder) / "graph.deploy.npz")
        x = np.load(Path(job.folder) / "inputs.npy", mmap_mode="r")[job.start : job.stop]
        with warnings.catch_warnings(record=True) as caught:
            record = run_lava(graph, np.asarray(x), config=job.config, on_sample=lambda: pipe.send(("sample",)))
        for k, name in enumerate(job.shapes):
            trace = np.lib.format.open_memmap(Path(job.folder) / f"trace-{k}.npy", mode="r+")
            pop = record.populations[name]
            for var, column in (("spikes", 0), ("u", 1), ("v", 2)):
                trace[job.start : job.stop, :, column] = pop.var(var)
            trace.flush()
        pipe.send(("done", [(w.category.__name__, str(w.message)) for w in caught]))
    except Interrupted as exc:
        sys.exit(exc.exit_code)  # stopped by the parent (or the host): the parent knows why
    except KeyboardInterrupt:
        sys.exit(128 + signal.SIGINT)
    except SpikeportError as exc:
        pipe.send(("error", type(exc).__name__, str(exc)))
        sys.exit(1)
    except BaseException as exc:  # an unexpected failure still reaches the parent as one line
        pipe.send(("error", "SimulationError", f"{type(exc).__name__}: {exc}"))
        sys.exit(1)


def _own_resource_tracker() -> None:
    """Make this worker start a resource tracker of its own (in its group, writing to its stderr file) instead of
    using the parent's, which it inherits: the shared memory of a killed worker's Lava runtime is then
    unlinked by its tracker once the group is gone, and the tracker's note about it stays out of the command's
    stderr. Relies on `multiprocessing.resource_tracker` internals (CPython 3.11), as `teardown` does on Lava's."""
    from multiprocessing import resource_tracker

    tracker = resource_tracker._resource_tracker
    if tracker._fd is not None:
        os.close(tracker._fd)
    tracker._fd = tracker._pid = None  # the next registration starts a new tracker


def _watch_parent(parent: int) -> None:
    """Stop this worker (SIGTERM: a clean Lava teardown) if its parent dies without stopping it."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os.kill(os.getpid(), signal.SIGTERM)
