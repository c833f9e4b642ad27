"""The `StateRecorder` process: the Lava side of spikeport's run records."""

from __future__ import annotations

from lava.magma.core.process.ports.ports import InPort, RefPort
from lava.magma.core.process.process import AbstractProcess


class StateRecorder(AbstractProcess):
    """Records one population's spikes (from its `s_out`) and its `u`, `v` Vars (through RefPorts) every step.

    Lava's `Monitor` returns its buffer through `Var.get`, one message per value; for whole datasets that
    dominates the run time. This recorder writes each step straight into a `numpy.memmap` file that the host
    reads after the run, at row `time_step - 1`.

    Args:
        size: number of neurons of the recorded population.
        num_steps: total steps the file has room for (samples x steps per sample).
        path: the memmap file, created by the host with shape (num_steps, 3, size) and dtype int64.
        columns: where this process's neurons go in the file's last axis, which then has `file_size` entries
            (one decay group of a multi-timescale population; several recorders share one file); None: all.
    """

    def __init__(
        self,
        *,
        size: int,
        num_steps: int,
        path: str,
        name: str | None = None,
        columns: list[int] | None = None,
        file_size: int | None = None,
    ) -> None:
        super().__init__(
            shape=(size,), num_steps=num_steps, path=path, name=name, columns=columns, file_size=file_size or size
        )
        self.s_in = InPort(shape=(size,))
        self.u_ref = RefPort(shape=(size,))
        self.v_ref = RefPort(shape=(size,))
