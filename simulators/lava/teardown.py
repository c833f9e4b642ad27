"""Stops a lava-nc 0.10.0 runtime directly, through its internals: its processes, manager and shared memory.

Lava's own `stop()` asks every runtime service for a reply, which never comes once a worker has died or raised;
`tear_down` asks nothing. It, and the look-ups the guard in `lifecycle` uses, rely on `Runtime` and
`MultiProcessing` internals of lava-nc 0.10.0, as `compat` does for Python 3.11.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
from multiprocessing import resource_tracker, shared_memory

JOIN_S = 2.0  # how long a terminated worker may take to exit before it is killed


def runtime_actors(runtime) -> list:
    """Lava's worker processes (`SystemProcess`) of a runtime, in start order; empty before they exist."""
    infrastructure = getattr(runtime, "_messaging_infrastructure", None)
    return list(getattr(infrastructure, "actors", None) or ())


def _mp_manager(runtime):
    """The `multiprocessing` SharedMemoryManager inside Lava's messaging, or None (not started, or shut down)."""
    return getattr(getattr(getattr(runtime, "_messaging_infrastructure", None), "smm", None), "_manager", None)


def manager_process(runtime):
    """The shared-memory manager's process, or None."""
    return getattr(_mp_manager(runtime), "_process", None)


def segment_names(runtime) -> list[str]:
    """The names of the shared-memory segments the runtime created (its channels)."""
    smm = getattr(getattr(runtime, "_messaging_infrastructure", None), "smm", None)
    return [handle.name for handle in list(getattr(smm, "_shared_memory_handles", None) or ())]


def _manager_temp_dir(runtime) -> str | None:
    """The manager's own multiprocessing temporary folder (its socket's), unless this process uses it too."""
    address = getattr(_mp_manager(runtime), "_address", None)
    if not isinstance(address, str):
        return None
    folder = os.path.dirname(address)
    ours = multiprocessing.current_process()._config.get("tempdir")
    return folder if os.path.basename(folder).startswith("pymp-") and folder != ours else None


def actor_names(runtime) -> list[str]:
    """A description per actor, in the order Lava starts them: process models, then runtime services."""
    from lava.magma.compiler.builders.py_builder import PyProcessBuilder

    executable = getattr(runtime, "_executable", None)
    names = [
        f"worker '{proc.name}' ({type(proc).__name__}, {builder._proc_model.__name__})"
        for proc, builder in getattr(executable, "proc_builders", {}).items()
        if isinstance(builder, PyProcessBuilder)
    ]
    for builder in getattr(executable, "runtime_service_builders", {}).values():
        names.append(f"runtime service ({builder.rs_class.__name__})")
    return names


def tear_down(runtime, children_before: set[int]) -> list[str]:
    """Stop everything a runtime started without asking it anything; returns what could not be done.

    Workers are sent SIGTERM, killed after `JOIN_S` if they linger, and joined; the runtime's ports released; the
    manager shut down; left-over segments unlinked; a dead manager's socket folder removed; Lava processes that
    Lava's lists missed (started since `children_before`, the pids of this process's children then) killed.
    """
    problems: list[str] = []
    if runtime is None:
        return problems
    manager = manager_process(runtime)
    names, manager_dir = segment_names(runtime), _manager_temp_dir(runtime)
    actors = [a for a in runtime_actors(runtime) if a._parent_pid == os.getpid() and not a._is_done]
    for actor in actors:
        _attempt(problems, "terminate a worker", lambda a=actor: a.is_alive() and a.terminate())
    for actor in actors:
        _attempt(problems, "join a worker", lambda a=actor: _join(a))
    _attempt(problems, "release the runtime's ports", runtime.join)
    infrastructure = runtime._messaging_infrastructure
    if infrastructure is not None and infrastructure.smm is not None:
        _attempt(problems, "shut the shared-memory manager down", infrastructure.stop)
    if runtime._watchdog_manager is not None:
        _attempt(problems, "stop Lava's watchdog", runtime._watchdog_manager.stop)
    runtime._is_started = runtime._is_running = False  # so Lava's __del__ does not try its stop()
    problems += unlink_segments(names)
    if manager_dir is not None:  # left behind by a manager that was killed (its socket's folder)
        shutil.rmtree(manager_dir, ignore_errors=True)
    return problems + _sweep(manager, children_before)


def unlink_segments(names: list[str]) -> list[str]:
    """Remove the shared-memory segments a dead manager could not; returns the ones that would not go.

    Each segment was registered with Python's resource tracker when it was created here. While the tracker
    runs, `SharedMemory.unlink` also unregisters it (else the tracker warns about a leak when it exits); a
    tracker killed with the rest (SIGHUP to the process group) is not asked, since that restarts it, noisily.
    """
    problems = []
    tracked = _resource_tracker_alive()
    for name in names:
        try:
            if tracked:
                segment = shared_memory.SharedMemory(name=name)
                segment.close()
                segment.unlink()
            else:
                import _posixshmem  # POSIX-only, like Lava's fork-based runtime

                _posixshmem.shm_unlink("/" + name.lstrip("/"))
        except FileNotFoundError:
            continue  # removed by the manager, as it should be
        except OSError as exc:
            problems.append(f"could not remove shared memory {name}: {exc}")
    return problems


def _sweep(manager, children_before: set[int]) -> list[str]:
    """Kill and reap Lava's processes still running that Lava's lists missed (a signal during their start)."""
    from lava.magma.runtime.message_infrastructure.multiprocessing import SystemProcess

    problems = []
    for child in multiprocessing.active_children():
        if child.pid not in children_before and (isinstance(child, SystemProcess) or child is manager):
            _attempt(problems, f"stop child process {child.pid}", lambda c=child: _kill(c))
    return problems


def _resource_tracker_alive() -> bool:
    """Whether this interpreter's multiprocessing resource tracker is running (checked without reaping it)."""
    pid = getattr(resource_tracker._resource_tracker, "_pid", None)
    if pid is None:
        return False
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
    except ChildProcessError:
        return False


def _attempt(problems: list[str], what: str, action) -> None:
    try:
        action()
    except Exception as exc:  # keep tearing down: one failed step must not leave the rest running
        problems.append(f"could not {what}: {type(exc).__name__}: {exc}")


def _join(actor) -> None:
    """Join a Lava worker within `JOIN_S`, killing it if it lingers, then let Lava collect its result."""
    multiprocessing.Process.join(actor, JOIN_S)
    if actor.is_alive():
        actor.kill()
    actor.join()  # Lava's SystemProcess.join: waits, closes, reads the exception the worker sent, if any


def _kill(process) -> None:
    process.kill()
    process.join(JOIN_S)
