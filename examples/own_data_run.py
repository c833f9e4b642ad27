"""Your own spike data through the whole pipeline: a run directory from arrays, then every stage command on it.

What it does: `spikeport.make_run` trains the default decoder on your arrays and writes a run directory (layout in
docs/run-directory.md); then the ordinary commands run on it as on any run of `spikeport train`: `quantize`,
`simulate` on the integer reference and on Lava, `validate` (exit 0 only when bit-exact) and `report` (accuracy,
operations, energy). It prints each command's output and the test accuracy on the chip.

Run it from the repository root, with your arrays as .npy files (inputs: (samples, steps, channels) of 0/1 spikes
or integer payloads; labels: one class index per sample) and the seconds per step:

    .venv/bin/python examples/own_data_run.py --train-inputs xtr.npy --train-labels ytr.npy \
        --test-inputs xte.npy --test-labels yte.npy --dt 0.004 [--out DIR] [--epochs N]
    .venv/bin/python examples/own_data_run.py      # a small seeded two-class toy set instead of your files

Exit code 0 when the chip's run is bit-exact with the reference, else the failing command's code (2 on bad input).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import spikeport
from spikeport.errors import SpikeportError
from spikeport.files import read_array


def toy_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Two classes of 16-channel spike trains (30 steps) that differ in which half of the channels fires more."""
    rng = np.random.default_rng(seed)

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % 2
        rates = np.where((np.arange(16) < 8) == (y[:, None] == 0), 0.35, 0.08)  # (n, 16)
        return (rng.random((n, 30, 16)) < rates[:, None, :]).astype(np.int8), y

    (x_train, y_train), (x_test, y_test) = split(64), split(8)
    return {"train_inputs": x_train, "train_labels": y_train, "test_inputs": x_test, "test_labels": y_test}


def spikeport_cli(*args: str) -> None:
    """Run a `spikeport` command as in a shell; print its output; stop with its exit code if it fails."""
    print("$ spikeport", " ".join(args), flush=True)
    done = subprocess.run([sys.executable, "-m", "spikeport", *args], capture_output=True, text=True, check=False)
    print(done.stdout + done.stderr, flush=True)
    if done.returncode != 0:
        raise SystemExit(done.returncode)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = ("train_inputs", "train_labels", "test_inputs", "test_labels")
    for name in names:
        parser.add_argument(f"--{name.replace('_', '-')}", help=f"{name.replace('_', ' ')} (.npy)")
    parser.add_argument("--dt", type=float, default=0.004, help="seconds per step of the inputs (default 0.004)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    default_out = Path(os.environ.get("SPIKEPORT_EXAMPLE_OUT", "runs/examples")) / "own_data"
    parser.add_argument("--out", type=Path, default=default_out, help=f"run directory (default {default_out})")
    args = parser.parse_args(argv)

    given = {name: getattr(args, name) for name in names}
    if not any(given.values()):
        arrays = toy_arrays()
        print("no arrays given: using a seeded two-class toy set (16 channels, 30 steps)")
    elif not all(given.values()):
        missing = ", ".join(f"--{n.replace('_', '-')}" for n, v in given.items() if not v)
        print(f"own_data_run: error: give all four arrays; missing {missing}", file=sys.stderr)
        return 2
    try:
        if any(given.values()):
            arrays = {name: read_array(path, f"--{name.replace('_', '-')}") for name, path in given.items()}
        run = spikeport.make_run(args.out, **arrays, dt=args.dt, epochs=args.epochs, seed=0)
    except SpikeportError as exc:
        print(f"own_data_run: error: {exc}", file=sys.stderr)
        return 2
    print(run)

    spikeport_cli("quantize", str(args.out))
    spikeport_cli("simulate", str(args.out), "--backend", "reference")
    spikeport_cli("simulate", str(args.out), "--backend", "lava")
    spikeport_cli("validate", str(args.out))
    spikeport_cli("report", str(args.out))
    report = json.loads((args.out / "report.json").read_text())
    performance = report["performance"]
    on_chip, chance = performance["stages"]["lava"]["accuracy"], performance["chance"]
    print(f"test accuracy on the chip (Lava): {on_chip:.3f} (chance {chance:.3f}); bit-exact: {report['bit_exact']}")
    return 0 if report["bit_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
