"""Keeps a Lava runtime from outliving its command, whatever ends it: normal end, error, signal or a dead worker.

Lava's CPU runtime (lava-nc 0.10.0) forks a worker per process model and a runtime service, starts a shared-memory
manager, and waits on them without timeouts. `LavaRuntimeGuard`, around one runtime: turns SIGINT, SIGTERM and
SIGHUP into `Interrupted` in the main thread (held back until the runtime has started; previous handlers restored
afterwards); makes the forked processes ignore SIGINT and take the default action for SIGTERM and SIGHUP; watches
every worker and the manager from a thread (`waitid` with `WNOWAIT`, so Lava's joins still work) and interrupts
the main thread with a `SimulationError` naming a dead one; and stops the runtime in `close()` (Lava's own
`stop()`) or, otherwise, with `teardown.tear_down`. docs/reliability.md ("Lava under faults") gives the
guarantees, the mechanism and what is not covered.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.process
import os
import signal
import threading
import time
from multiprocessing import popen_fork

from spikeport.errors import Interrupted, SimulationError
from spikeport.simulators.lava.teardown import (
    actor_names,
    manager_process,
    runtime_actors,
    segment_names,
    tear_down,
    unlink_segments,
)

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
WAKE_SIGNAL = signal.SIGINT  # sent by the monitor to the main thread only
POLL_S = 0.1  # how often the monitor looks at the workers
GRACE_S = 1.0  # how long an ordinary-looking worker end may precede its cause (a signal to us, a Lava error)
WAKE_REPEAT_S = 1.0  # the monitor repeats its wake-up until the teardown starts

_active: LavaRuntimeGuard | None = None


def _before_fork() -> None:
    if _active is not None:
        _active._forking = True


def _after_fork_in_parent() -> None:
    if _active is not None:
        _active._forking = False


def _after_fork_in_child() -> None:
    """Runs in every child forked while a guard is active (Lava's workers, the manager): see the module doc."""
    global _active
    guard, _active = _active, None
    if guard is None:
        return
    for signum in guard.installed:
        signal.signal(signum, signal.SIG_IGN if signum == signal.SIGINT else signal.SIG_DFL)


# A signal that arrives during a fork is handled in the fork hooks that run after it (logging's, for one), where
# Python prints and drops any exception. So while forking the handler raises nothing, and the monitor delivers
# the failure once the fork is done. These hooks are registered after logging's (imported by torch before this
# module), so ours run first before a fork and last after it.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)


def _exit_code(process) -> tuple[int, int] | None:
    """A started `multiprocessing` process's pid and exit code (negative: killed by that signal); None while it runs.

    Never reaps: `waitid` with `WNOWAIT` only looks, so Lava's joins still work. A process already reaped
    (multiprocessing reaps dead children whenever it starts another) has its code in `returncode`.
    """
    popen = getattr(process, "_popen", None)  # None before the start, and once closed by Lava's join
    if popen is None or popen.returncode is not None:
        return None if popen is None else (popen.pid, popen.returncode)
    try:
        result = os.waitid(os.P_PID, popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return None  # being reaped just now; its returncode is read next time
    if result is None:
        return None
    return popen.pid, (result.si_status if result.si_code == os.CLD_EXITED else -result.si_status)


def _describe_end(code: int) -> tuple[str, bool]:
    """How a process ended, and whether that looks ordinary enough to wait `GRACE_S` for its cause to show."""
    if code >= 0:
        return ("exited while the run was in progress" if code == 0 else f"exited with code {code}"), code == 0
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    if -code == signal.SIGKILL:
        return f"was killed by {name} (the kernel's out-of-memory killer does this; see `dmesg`)", False
    return f"was killed by {name}", -code in HANDLED_SIGNALS


class LavaRuntimeGuard:
    """Context manager around one Lava runtime; see the module docstring.

    Usage: enter it; `watch(process)` the Lava process whose `create_runtime` starts the runtime; call `started()`
    once it has, `check()` between Lava calls and `close()` after the last one. Leaving the block tears down
    whatever `close()` did not stop (`teardown.tear_down`).
    """

    def __init__(self) -> None:
        self.installed: dict[int, object] = {}  # signal -> handler before ours
        self._owner = None
        self._signum: int | None = None
        self._failure: SimulationError | None = None
        self._waking = False
        self._forking = False
        self._wake_at: float | None = None  # when the monitor (re-)delivers a pending signal or failure
        self._phase = "starting"  # then "running", "stopping" (Lava's own stop) and "teardown"
        self._stopped = False
        self._problems: list[str] = []
        self._done = threading.Event()
        self._monitor: threading.Thread | None = None
        self._main_thread = threading.main_thread().ident
        self._children_before: set[int] = set()
        self._actors_seen = 0

    def __enter__(self) -> LavaRuntimeGuard:
        global _active
        self._children_before = {p.pid for p in multiprocessing.active_children()}
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED_SIGNALS:  # a signal now is only noted ("starting"), and delivered once running
                previous = signal.getsignal(signum)
                if previous is None or (previous == signal.SIG_IGN and signum != WAKE_SIGNAL):
                    continue  # set outside Python (cannot be restored) or ignored by the host: leave it
                self.installed[signum] = previous
                signal.signal(signum, self._on_signal)
            if WAKE_SIGNAL in self.installed:  # the monitor can interrupt the main thread only through it
                self._monitor = threading.Thread(target=self._watch, name="spikeport-lava-monitor", daemon=True)
                self._monitor.start()
        _active = self
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        global _active
        self._phase = "teardown"
        try:
            problems = self._problems + ([] if self._stopped else tear_down(self._runtime(), self._children_before))
        finally:
            self._done.set()
            if self._monitor is not None:
                self._monitor.join()
            _active = None
            self._restore_signals()
        if problems:
            note = "Lava's runtime did not stop cleanly: " + "; ".join(problems)
            if exc is None:
                raise SimulationError(note + "; report this with the output of `ps` and `ls /dev/shm`")
            exc.add_note(note)
        if exc is None and self._signum is not None:
            raise self._interrupted(self._signum)

    def watch(self, process) -> None:
        """Watch the runtime that `process.run` (or `process.create_runtime`) creates from now on."""
        self._owner = process

    def started(self) -> None:
        """Call once Lava's runtime is up (`create_runtime` returned): from now on a signal is raised as it comes.

        Until then a signal is only noted, and raised here: raised while Lava forks its processes, it could orphan
        one forked but not yet recorded. A dead worker is raised at once even while starting, since Lava's start
        would wait for it forever.
        """
        self._phase = "running"
        self.check()

    def check(self) -> None:
        """Raise the signal or worker death seen so far, in case a Lava `except Exception` swallowed it."""
        pending = self._pending()
        if pending is not None:
            raise pending

    def close(self) -> None:
        """Stop the runtime after a clean run with Lava's own `stop()`; still interruptible and watched."""
        runtime = self._runtime()
        self._phase = "stopping"
        if runtime is not None and getattr(runtime, "_is_started", False):
            names = segment_names(runtime)
            self._owner.stop()
            self._problems += unlink_segments(names)
        self.check()
        self._stopped = True

    # -- signals and the monitor -------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame) -> None:
        if signum == WAKE_SIGNAL and self._waking:
            self._waking = False
        elif self.installed.get(signum) == signal.SIG_IGN:
            return  # installed only to receive the monitor's wake-up
        elif self._signum is None:
            self._signum = signum
        if self._pending() is None:
            return
        deliverable = None if _unsafe_to_raise(frame) else self._deliverable()
        self._wake_at = time.monotonic() + (WAKE_REPEAT_S if deliverable is not None else POLL_S)
        if deliverable is not None:
            raise deliverable

    def _pending(self) -> BaseException | None:
        if self._signum is not None:
            return self._interrupted(self._signum)
        return self._failure

    def _deliverable(self) -> BaseException | None:
        """What the handler may raise now: nothing in a fork hook (Python would drop it) or during the teardown,
        and only a dead worker while starting (see `started`)."""
        if self._phase == "teardown" or self._forking:
            return None
        return self._failure if self._phase == "starting" else self._pending()

    def _interrupted(self, signum: int) -> Interrupted:
        runtime = self._runtime()
        count = len(runtime_actors(runtime)) + (manager_process(runtime) is not None)
        workers = f" and its {count} processes" if count else ""
        return Interrupted(signum, f"stopped by {signal.Signals(signum).name}; Lava's runtime{workers} were shut down")

    def _watch(self) -> None:
        """Look for dead workers; (re-)deliver a pending signal or failure until the teardown starts.

        A signal's exception can be lost (raised in a fork hook or a finalizer, or caught by Lava), so the monitor
        delivers it again, through the wake-up signal, every `WAKE_REPEAT_S` until the teardown has begun.
        """
        known: dict[int, tuple[object, str]] = {}
        while not self._done.wait(POLL_S):
            if self._phase == "teardown":
                continue
            if self._signum is None and self._failure is None and not self._look_for_dead(known):
                continue
            if self._wake_at is not None and time.monotonic() >= self._wake_at and self._deliverable() is not None:
                self._wake_at = time.monotonic() + WAKE_REPEAT_S
                self._waking = True
                signal.pthread_kill(self._main_thread, WAKE_SIGNAL)

    def _look_for_dead(self, known: dict[int, tuple[object, str]]) -> bool:
        """Record a worker that died as the failure to raise; True once one is recorded."""
        dead = self._find_dead(known)
        if dead is None:
            return False
        description, ordinary = dead
        # An ordinary-looking end may have a cause that shows soon: our own signal, a Lava error, the run's end.
        if ordinary and (self._done.wait(GRACE_S) or self._signum is not None or self._phase != "running"):
            return False
        self._failure = SimulationError(f"Lava's {description}")
        self._wake_at = time.monotonic()
        return True

    def _find_dead(self, known: dict[int, tuple[object, str]]) -> tuple[str, bool] | None:
        runtime = self._runtime()
        if runtime is None:
            return None
        actors = runtime_actors(runtime)
        if len(actors) != self._actors_seen:
            self._actors_seen = len(actors)
            names = actor_names(runtime)
            for index, actor in enumerate(actors):
                name = names[index] if index < len(names) else f"worker number {index}"
                known.setdefault(id(actor), (actor, name))
            manager = manager_process(runtime)
            if manager is not None:
                known.setdefault(id(manager), (manager, "shared-memory manager"))
        for process, name in known.values():
            if (ended := _exit_code(process)) is not None:
                description, ordinary = _describe_end(ended[1])
                return f"{name}, pid {ended[0]}, {description}", ordinary
        return None

    def _restore_signals(self) -> None:
        for signum, previous in self.installed.items():
            signal.signal(signum, previous)

    def _runtime(self):
        return getattr(self._owner, "runtime", None) if self._owner is not None else None


_UNSAFE_CODES = (LavaRuntimeGuard.__exit__.__code__, multiprocessing.process.BaseProcess.start.__code__)


def _unsafe_to_raise(frame) -> bool:
    """Whether the main thread is where an exception would do harm: in `Process.start` (a process forked but not
    yet recorded would be orphaned) or at the start of `__exit__` (its teardown would be skipped)."""
    while frame is not None:
        if frame.f_code in _UNSAFE_CODES or frame.f_code.co_filename == popen_fork.__file__:
            return True
        frame = frame.f_back
    return False
