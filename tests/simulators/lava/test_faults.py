"""Lava under faults: `spikeport validate` on Lava, ended by a signal or a dead worker, ends soon and leaves nothing.

Each test runs the real command in its own session (so its process group is known), on a graph with enough samples
to take minutes, waits until Lava's workers run, then delivers the fault. It checks: the command ends within
`BOUND_S` (no hang), with the designed exit code and exactly one line on stderr (no traceback, from the command or
its workers); no process of its group is left running; none of the shared-memory segments it mapped is left in
/dev/shm; its temporary directory (TMPDIR, where the recorder's memory maps live) is empty.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers.graphs import one_layer
from helpers.procfs import proc_stat
from helpers.terminal import FOREGROUND_CLI
from spikeport.ir import save_deploy_graph

pytestmark = pytest.mark.lava

BOUND_S = 30  # from the fault to the command's end; the teardown takes about a second
START_S = 90  # for the command to import torch and Lava, run the reference and start Lava's workers
LAVA_PROCESSES = 6  # the shared-memory manager, RingBuffer, Dense, LIF, StateRecorder, the runtime service


# Sends SIGTERM to the command from inside its 4th fork (Lava's 3rd worker): a signal that arrives during a
# fork is handled in the fork hooks, where Python drops exceptions, so the guard must deliver it again later.
SIGTERM_IN_A_FORK = """
import os, signal
_forks = []
def _signal_in_fourth_fork():
    _forks.append(1)
    if len(_forks) == 4:
        os.kill(os.getpid(), signal.SIGTERM)
os.register_at_fork(before=_signal_in_fourth_fork)
"""

# Kills Lava's 3rd worker (the 4th fork) as soon as it exists: Lava's start then waits for it forever.
SIGKILL_A_STARTING_WORKER = """
import os, signal
_forks = []
os.register_at_fork(
    before=lambda: _forks.append(1), after_in_child=lambda: len(_forks) == 4 and os.kill(os.getpid(), signal.SIGKILL)
)
"""


_stat = proc_stat


def _processes_in_group(pgid: int) -> dict[int, list[str]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None and fields[2] == str(pgid):
            found[int(entry.name)] = fields
    return found


def _lava_processes(command: subprocess.Popen) -> list[int]:
    """The command's forked children (Lava's), oldest first: not the resource tracker, which is exec'd."""
    children = []
    for pid, fields in _processes_in_group(command.pid).items():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if fields[1] == str(command.pid) and b"resource_tracker" not in cmdline:
            children.append((int(fields[19]), pid))  # start time, in clock ticks since boot
    return [pid for _, pid in sorted(children)]


def _mapped_segments(pid: int) -> set[str]:
    try:
        return {line.split()[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines() if "/dev/shm/" in line}
    except OSError:
        return set()


class Command:
    """A long Lava run (`spikeport validate` unless other `args` are given), in its own session and TMPDIR."""

    def __init__(self, tmp_path: Path, fault: str = "", args: list[str] | None = None) -> None:
        if args is None:
            graph = tmp_path / "graph.deploy.npz"
            save_deploy_graph(one_layer([[1, 2]], du=4095, dv=0, vth=3), graph)
            args = ["validate", str(graph), "--samples", "5000", "--steps", "50", "--no-progress"]
        self.tmp = tmp_path / "tmp"
        self.tmp.mkdir()
        self.process = subprocess.Popen(
            [sys.executable, "-c", FOREGROUND_CLI, fault, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, "TMPDIR": str(self.tmp)},
        )
        self.pid = self.process.pid
        self.segments: set[str] = set()

    def wait_for_lava(self) -> list[int]:
        """Wait until all of Lava's processes run and the first samples go; returns them, oldest first."""
        deadline = time.monotonic() + START_S
        while len(workers := _lava_processes(self.process)) < LAVA_PROCESSES:
            assert self.process.poll() is None, f"the command ended early: {self.process.communicate()[1]}"
            assert time.monotonic() < deadline, f"Lava's processes did not start within {START_S} s"
            time.sleep(0.1)
        time.sleep(1.0)  # into the run loop
        self.segments = _mapped_segments(self.pid)
        assert self.segments, "Lava's channels should be shared-memory segments mapped by the command"
        return workers

    def finish(self) -> tuple[int, list[str]]:
        """Wait for the end (at most BOUND_S); returns the exit code and the lines on stderr."""
        try:
            _, stderr = self.process.communicate(timeout=BOUND_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.communicate()
            pytest.fail(f"the command hung: still running {BOUND_S} s after the fault")
        return self.process.returncode, stderr.splitlines()

    def assert_nothing_left(self) -> None:
        deadline = time.monotonic() + 10  # the resource tracker exits once the command has
        while (running := {p: f for p, f in _processes_in_group(self.pid).items() if f[0] != "Z"}) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.1)
        assert running == {}, f"processes left running: {running}"
        assert [s for s in self.segments if Path(s).exists()] == [], "shared-memory segments left in /dev/shm"
        assert list(self.tmp.iterdir()) == [], "files left in the temporary directory"


def _one_line(lines: list[str]) -> str:
    assert len(lines) == 1, "expected exactly one line on stderr, got:\n" + "\n".join(lines)
    assert "Traceback" not in lines[0]
    return lines[0]


@pytest.mark.parametrize("to_group", [False, True], ids=["to-command", "to-group-like-timeout"])
def test_sigterm_stops_every_lava_process(tmp_path, to_group):
    """SIGTERM (kill, CI, job schedulers; `timeout` signals the whole group): exit 143 after the clean-up."""
    command = Command(tmp_path)
    command.wait_for_lava()
    (os.killpg if to_group else os.kill)(command.pid, signal.SIGTERM)
    code, lines = command.finish()
    assert code == 128 + signal.SIGTERM
    processes = f"Lava's runtime and its {LAVA_PROCESSES} processes were shut down"
    assert _one_line(lines) == f"spikeport validate: stopped by SIGTERM; {processes}"
    command.assert_nothing_left()


def test_ctrl_c_prints_one_line_and_stops_every_lava_process(tmp_path):
    """Ctrl-C signals the whole foreground group: the workers ignore it, the command cleans up and exits 130."""
    command = Command(tmp_path)
    command.wait_for_lava()
    os.killpg(command.pid, signal.SIGINT)
    code, lines = command.finish()
    assert code == 128 + signal.SIGINT
    assert _one_line(lines).startswith("spikeport validate: stopped by SIGINT; ")
    command.assert_nothing_left()


def test_a_killed_worker_is_reported_instead_of_a_hang(tmp_path):
    """The out-of-memory killer's SIGKILL to one worker: a SimulationError naming it (exit 2), within seconds."""
    command = Command(tmp_path)
    victim = command.wait_for_lava()[-1]  # the last one started: Lava's runtime service
    os.kill(victim, signal.SIGKILL)
    start = time.monotonic()
    code, lines = command.finish()
    assert code == 2
    line = _one_line(lines)
    assert line.startswith("spikeport validate: error: ") and "Lava failed on sample " in line
    assert f"Lava's runtime service (LoihiPyRuntimeService), pid {victim}, was killed by SIGKILL" in line
    assert time.monotonic() - start < BOUND_S
    command.assert_nothing_left()


def test_sigterm_during_a_fork_is_not_lost(tmp_path):
    """A signal while Lava forks its workers: delivered once the fork is done, so the command still stops."""
    command = Command(tmp_path, fault=SIGTERM_IN_A_FORK)
    code, lines = command.finish()
    assert code == 128 + signal.SIGTERM
    assert _one_line(lines).startswith("spikeport validate: stopped by SIGTERM; ")
    command.assert_nothing_left()


def test_a_worker_killed_while_lava_starts_is_reported_instead_of_a_hang(tmp_path):
    """A worker dead before Lava's start has heard from it: reported (exit 2), and the start is abandoned."""
    command = Command(tmp_path, fault=SIGKILL_A_STARTING_WORKER)
    code, lines = command.finish()
    assert code == 2
    line = _one_line(lines)
    assert "Lava failed while compiling and starting the processes" in line and "was killed by SIGKILL" in line
    command.assert_nothing_left()


def test_an_interrupted_simulate_leaves_the_previous_record_and_manifest_intact(tmp_path):
    """SIGTERM during `spikeport simulate --backend lava`: the record of the previous good run (and the manifest
    entry that vouches for it) keep their bytes, and the interrupted run leaves nothing behind."""
    from spikeport.integrity import MANIFEST_FILE, RunManifest
    from spikeport.rundir import save_data

    run = tmp_path / "run"
    run.mkdir()
    rng = np.random.default_rng(0)
    save_deploy_graph(one_layer([[1, 2]], du=4095, dv=0, vth=3), run / "model.deploy.npz")
    x_test = rng.integers(0, 2, (5000, 50, 2))
    arrays = {"x_train": x_test[:4], "y_train": np.zeros(4, int), "x_test": x_test, "y_test": np.zeros(5000, int)}
    save_data(run, arrays, {"class_names": ["a", "b"], "synthetic": True, "description": "test data"})
    manifest = RunManifest(run)
    manifest.record("data.npz", "train")
    manifest.record("model.deploy.npz", "quantize", inputs=("data.npz",))
    (run / "record_lava.npz").write_bytes(b"the previous good record")
    manifest.record("record_lava.npz", "simulate --backend lava", inputs=("model.deploy.npz", "data.npz"))
    before = {name: (run / name).read_bytes() for name in ("record_lava.npz", MANIFEST_FILE)}

    command = Command(tmp_path, args=["simulate", str(run), "--backend", "lava", "--no-progress"])
    command.wait_for_lava()
    os.kill(command.pid, signal.SIGTERM)
    code, lines = command.finish()
    assert code == 128 + signal.SIGTERM
    assert _one_line(lines).startswith("spikeport simulate: stopped by SIGTERM; ")
    command.assert_nothing_left()
    assert {name: (run / name).read_bytes() for name in before} == before
    assert sorted(p.name for p in run.iterdir()) == ["data.npz", MANIFEST_FILE, "model.deploy.npz", "record_lava.npz"]
