"""Lava backend: runs a deploy graph as Lava processes on the `fixed_pt` CPU models.

Lava is imported lazily, so `import spikeport` works without it; importing this package installs the Python
3.11 fix in `compat` (an import hook; it imports nothing), so any later Lava import is fixed.
"""

from __future__ import annotations

from spikeport.errors import MissingDependencyError
from spikeport.simulators.lava import compat

__all__ = ["import_lava", "run_lava"]

# Cheap (no Lava import): every module under spikeport.simulators.lava may import Lava safely from here on.
compat.install()


def import_lava() -> None:
    """Install the 3.11 fix and import Lava's runtime, or raise `MissingDependencyError` naming the fix."""
    try:
        compat.import_runtime()
        import lava.magma.core.run_configs  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(
            f"lava-nc is not importable ({exc}); run `make install` to install lava-nc 0.10.0"
        ) from exc


def run_lava(graph, inputs, *, progress: bool = False, config: str = "cpu", workers: int = 1, **kwargs):
    """Run a deploy graph on Lava, on `workers` worker processes (1: in this process, the default); see
    `spikeport.simulators.lava.runner.run_lava`."""
    from spikeport.simulators.lava.runner import run_lava as _run

    return _run(graph, inputs, progress=progress, config=config, workers=workers, **kwargs)
