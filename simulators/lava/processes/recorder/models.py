"""The `fixed_pt` model of `StateRecorder`."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyRefPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from spikeport.simulators.lava.processes.recorder.process import StateRecorder

SPIKES, U, V = 0, 1, 2  # rows of a recorded step


@implements(proc=StateRecorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStateRecorderModelFixed(PyLoihiProcessModel):
    """Writes spikes in the spiking phase and u, v (after the step's update) in the management phase."""

    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    u_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32, precision=24)
    v_ref: PyRefPort = LavaPyType(PyRefPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        size = proc_params.get("file_size") or proc_params["shape"][0]
        self._buffer = np.memmap(
            proc_params["path"], dtype=np.int64, mode="r+", shape=(proc_params["num_steps"], 3, size)
        )
        columns = proc_params.get("columns")
        self._cols = slice(None) if columns is None else np.asarray(columns, dtype=np.int64)

    def run_spk(self) -> None:
        self._buffer[self.time_step - 1, SPIKES, self._cols] = self.s_in.recv()

    def post_guard(self) -> bool:
        return True

    def run_post_mgmt(self) -> None:
        self._buffer[self.time_step - 1, U, self._cols] = self.u_ref.read()
        self._buffer[self.time_step - 1, V, self._cols] = self.v_ref.read()
