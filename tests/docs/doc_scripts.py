"""Running the documentation's scripts (tutorials, examples) as a user would: `python SCRIPT` from the repository root.

Each script runs in its own process with its outputs sent to a temporary folder of the test (SPIKEPORT_TUTORIAL_OUT,
SPIKEPORT_EXAMPLE_OUT) and matplotlib on its file backend; the test sees the exit code and the printed output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = (ROOT / ".." / "shared" / "data").resolve()
"""The EEGMMIDB recordings of the project's machines, in MNE's cache layout (tests skip without them)."""
SCRIPT_TIMEOUT_S = 1800


def run_script(script: Path, out: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `script` with the test's Python from the repository root, its outputs under `out`; the finished process."""
    environment = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "SPIKEPORT_TUTORIAL_OUT": str(out),
        "SPIKEPORT_EXAMPLE_OUT": str(out),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )


def explain(done: subprocess.CompletedProcess) -> str:
    """The end of a script's output, for an assertion message."""
    return f"exit code {done.returncode}\n--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}"
