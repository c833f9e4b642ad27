"""The Python 3.11 fix for lava-nc 0.10.0 (spikeport.simulators.lava.compat)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
from spikeport.simulators.lava import compat

pytestmark = pytest.mark.lava


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the defect only exists on Python >= 3.11")
def test_lava_fails_on_311_without_the_fix():
    result = _python("import lava.magma.compiler.var_model")
    assert result.returncode != 0
    assert "mutable default" in result.stderr and "ByteEncoder" in result.stderr


def test_fix_makes_lava_importable_with_independent_defaults():
    code = (
        "from spikeport.simulators.lava import import_lava; import_lava();"
        "from lava.magma.compiler.var_model import CoreEncoder, ChipEncoder, AxonEncoder;"
        "a, b = CoreEncoder(), CoreEncoder(); a.x.base = 5;"
        "assert b.x.base == 0 and a.x is not b.x, 'defaults shared';"
        "print(ChipEncoder().z, AxonEncoder().hi)"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert "ByteEncoder(base=0, len=0, ptr=0)" in result.stdout


def test_install_is_idempotent():
    compat.install()
    compat.install()
    assert sum(isinstance(f, compat.LavaVarModelFinder) for f in sys.meta_path) <= 1


def test_patch_rejects_unexpected_lava_source():
    with pytest.raises(ImportError, match=r"expects lava-nc 0\.10\.0"):
        compat.patch_var_model_source("from dataclasses import dataclass, InitVar\nx: ByteEncoder = ByteEncoder()\n")


def test_lif_dense_network_runs_on_lava_fixed_pt():
    """One input neuron -> Dense(w=10) -> LIF(du=4095, dv=0, vth=1): u = 10 << 6 = 640 one step after each
    input spike; v accumulates 640 per such step and spikes when v > 64, i.e. at every step after an input spike."""
    from spikeport.simulators.lava import run_lava

    graph = DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=1),
            "w": DenseInt(name="w", weights=np.array([[10]])),
            "n": LIFInt(name="n", size=1, du=4095, dv=0, vth=1),
        },
        edges=[("in", "w"), ("w", "n")],
        output="n",
    )
    inputs = np.array([[[1], [0], [1], [0], [0]]])
    record = run_lava(graph, inputs)
    trace = record.populations["n"]
    assert trace.u[0, :, 0].tolist() == [0, 640, 0, 640, 0]
    assert trace.spikes[0, :, 0].tolist() == [0, 1, 0, 1, 0]
    assert trace.v[0, :, 0].tolist() == [0, 0, 0, 0, 0]


def test_lava_imports_after_the_program_fixed_the_fork_start_method():
    code = (
        "import multiprocessing as mp; mp.set_start_method('fork');"
        "from spikeport.simulators.lava import import_lava; import_lava();"
        "from lava.proc.lif.process import LIF; print('ok', mp.get_start_method())"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", "fork"]


def test_a_non_fork_start_method_is_a_clear_error():
    code = (
        "import multiprocessing as mp; mp.set_start_method('spawn');"
        "from spikeport.simulators.lava import import_lava; import_lava()"
    )
    result = _python(code)
    assert result.returncode != 0
    assert "needs the 'fork' multiprocessing start method" in result.stderr
