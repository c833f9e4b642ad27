"""Lava on several worker processes (`run_lava(..., workers=N)`, `--workers N`): the record of one runtime, merged
in sample order; refused where it cannot hold; and a worker that fails, is killed, or a Ctrl-C, stops every worker
with one line and leaves no process (looked for by session in /proc), shared memory or temporary file behind.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from helpers.graphs import two_layer
from helpers.procfs import proc_stat
from helpers.random_plastic import random_plastic_case
from helpers.terminal import FOREGROUND_CLI
from spikeport.cli import main
from spikeport.errors import MissingDependencyError, SpikeportError
from spikeport.ir import save_deploy_graph
from spikeport.simulators.lava import run_lava
from spikeport.simulators.lava.shard import split_samples

START_S = 120  # for the command and its workers to import torch and Lava and start their runtimes (a busy machine)
BOUND_S = 40  # from the fault to the command's end


def _inputs(samples: int, steps: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((samples, steps, 4)) < 0.3).astype(np.int64)


_stat = proc_stat


def _in_session(sid: int) -> dict[int, list[str]]:
    """Running (not zombie) processes of session `sid`: a worker makes its own process group, not a session."""
    found = {}
    for entry in Path("/proc").iterdir():
        fields = _stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and fields[3] == str(sid) and fields[0] != "Z":
            found[int(entry.name)] = fields
    return found


def _children(pid: int) -> list[int]:
    """Running children of `pid`, except multiprocessing's resource tracker (one per interpreter, not a worker's)."""
    return [
        p
        for p in _in_session(os.getsid(pid))
        if (_stat(p) or ["", ""])[1] == str(pid) and "resource_tracker" not in _cmdline(p)
    ]


def test_shards_are_contiguous_cover_every_sample_and_differ_by_at_most_one():
    assert split_samples(10, 3) == [(0, 3), (3, 7), (7, 10)]
    assert split_samples(2, 4) == [(0, 1), (1, 2)]  # never an empty worker
    for samples in range(1, 30):
        for parts in range(1, 8):
            shards = split_samples(samples, parts)
            assert [a for a, _ in shards][1:] == [b for _, b in shards][:-1] and shards[0][0] == 0
            assert shards[-1][1] == samples and len(shards) == min(parts, samples)
            assert max(b - a for a, b in shards) - min(b - a for a, b in shards) <= 1


def test_a_plastic_graph_is_refused_naming_workers():
    case = random_plastic_case(3, samples=3)
    with pytest.raises(SpikeportError, match=r"--workers 2: the graph learns .*use --workers 1"):
        run_lava(case.graph, case.inputs, workers=2)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_a_bad_worker_count_is_refused(bad):
    with pytest.raises(SpikeportError, match="--workers must be an integer >= 1"):
        run_lava(two_layer(), _inputs(2, 3), workers=bad)


def test_cli_refuses_workers_outside_lava_and_below_one(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["validate", str(tmp_path), "--workers", "0"])
    assert exc.value.code == 2 and "--workers: must be >= 1, got 0" in capsys.readouterr().err
    assert main(["simulate", str(tmp_path), "--backend", "reference", "--workers", "2"]) == 2
    assert "--workers 2 applies to --backend lava only" in capsys.readouterr().err


@pytest.mark.lava
def test_two_workers_give_the_record_of_one_and_leave_no_process():
    graph, x = two_layer(), _inputs(5, 12)
    one = run_lava(graph, x)
    two = run_lava(graph, x, workers=2)
    assert list(two.populations) == list(one.populations) and two.backend == one.backend == "lava"
    for name, trace in one.populations.items():
        for var in ("spikes", "u", "v"):
            got = two.populations[name].var(var)
            assert got.dtype == trace.var(var).dtype and np.array_equal(got, trace.var(var)), (name, var)
    assert multiprocessing.active_children() == [] and _children(os.getpid()) == []


@pytest.mark.lava
def test_an_error_in_a_worker_is_raised_once_naming_the_worker_and_its_samples():
    """The worker raises (here: a Lava configuration it cannot build); every worker is stopped, nothing is left."""
    with pytest.raises(MissingDependencyError) as exc:
        run_lava(two_layer(), _inputs(4, 3), workers=2, config="loihi2-hw")
    message = str(exc.value)
    assert message.startswith("Lava worker ") and "(samples " in message and "\n" not in message
    assert "--lava-config loihi2-hw needs Intel's Loihi extension" in message
    assert multiprocessing.active_children() == [] and _children(os.getpid()) == []


@pytest.fixture
def short_tmp():
    """A short TMPDIR for the command: Lava's manager listens on a socket below it (AF_UNIX: at most 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="spw-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


class _Command:
    """`spikeport validate --workers 2` on a graph with enough samples to take minutes, in its own session."""

    def __init__(self, tmp_path: Path, short_tmp: Path) -> None:
        graph = tmp_path / "graph.deploy.npz"
        save_deploy_graph(two_layer(), graph)
        self.tmp = short_tmp
        args = ["validate", str(graph), "--samples", "4000", "--steps", "50", "--workers", "2", "--no-progress"]
        self.process = subprocess.Popen(
            [sys.executable, "-c", FOREGROUND_CLI, "", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, "TMPDIR": str(self.tmp)},
        )
        self.pid = self.process.pid

    def wait_for_workers(self) -> list[int]:
        """The two workers, once each runs Lava (has forked Lava's processes) and a second has passed."""
        deadline = time.monotonic() + START_S
        while True:
            assert self.process.poll() is None, f"the command ended early: {self.process.communicate()[1]}"
            assert time.monotonic() < deadline, f"the workers' Lava runtimes did not start within {START_S} s"
            workers = _children(self.pid)
            if len(workers) == 2 and all(len(_children(w)) >= 5 for w in workers):
                time.sleep(1.0)
                return workers
            time.sleep(0.2)

    def finish(self) -> tuple[int, str]:
        try:
            _, stderr = self.process.communicate(timeout=BOUND_S)
        except subprocess.TimeoutExpired:
            for pid in _in_session(self.pid):  # the workers have process groups of their own
                os.kill(pid, signal.SIGKILL)
            self.process.communicate()
            pytest.fail(f"the command hung: still running {BOUND_S} s after the fault")
        lines = stderr.splitlines()
        assert len(lines) == 1 and "Traceback" not in lines[0], "expected one line on stderr, got:\n" + stderr
        return self.process.returncode, lines[0]

    def assert_nothing_left(self) -> None:
        deadline = time.monotonic() + 10  # the command's resource tracker exits once the command has
        while (running := _in_session(self.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert running == {}, f"processes left running: {running}"
        assert list(self.tmp.iterdir()) == [], "files left in the temporary directory"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.lava
@pytest.mark.slow
def test_a_killed_worker_stops_the_others_with_one_line_and_leaves_nothing(tmp_path, short_tmp):
    command = _Command(tmp_path, short_tmp)
    victim = command.wait_for_workers()[1]
    segments = {line.split()[-1] for p in _children(victim) for line in _maps(p) if "/dev/shm/" in line}
    os.kill(victim, signal.SIGKILL)
    code, line = command.finish()
    assert code == 2
    assert line.startswith("spikeport validate: error: Lava worker 2 of 2 (samples 2000..3999) ")
    assert "was killed by SIGKILL" in line and "the other workers were stopped" in line
    command.assert_nothing_left()
    assert segments and [s for s in segments if Path(s).exists()] == [], "shared memory of the killed worker left"


@pytest.mark.lava
@pytest.mark.slow
def test_ctrl_c_stops_every_worker_with_one_line_and_leaves_nothing(tmp_path, short_tmp):
    command = _Command(tmp_path, short_tmp)
    command.wait_for_workers()
    os.killpg(command.pid, signal.SIGINT)  # the terminal's foreground group: the command, not its workers
    code, line = command.finish()
    assert code == 128 + signal.SIGINT
    assert line == "spikeport validate: stopped by SIGINT; the 2 Lava workers were shut down"
    command.assert_nothing_left()


def _maps(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/maps").read_text().splitlines()
    except OSError:
        return []
