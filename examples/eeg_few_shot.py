"""Few-shot calibration of a new subject's EEG decoder on the chip (the isam-mtl family).

What it does: trains the ISAM-MTL encoder (a spiking encoder shared by all subjects, one Hebbian associative
memory per subject) on some subjects, deploys it to Loihi fixed point, then learns a new subject's memory from a
few trials per class with the plastic readout running on the simulated chip (`spikeport adapt --backend lava`):
the integer reference and Lava learn the same weights after every epoch, or the command fails. It prints the
accuracy on the new subject's other trials and writes RUN/adapt_SUBJECT.json.

Run it from the repository root:

    .venv/bin/python examples/eeg_few_shot.py                      # SYNTHETIC EEG: a held-out subject
    .venv/bin/python examples/eeg_few_shot.py --data-path DIR --subjects 1 3 --subject 6   # EEGMMIDB recordings

DIR holds EEGMMIDB in MNE's cache layout (DIR/MNE-eegbci-data/...; PhysioNet's EEG Motor Movement/Imagery
Dataset, which `mne.datasets.eegbci.load_data` downloads). Options: --shots K (trials per class, default 5),
--epochs N (default 5), --backend reference|lava (default lava), --out RUN. Exit code: that of the failing command.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path


def spikeport_cli(*args: str) -> str:
    """Run a `spikeport` command as in a shell; print its output; stop with its exit code if it fails."""
    print("$ spikeport", " ".join(args), flush=True)
    done = subprocess.run([sys.executable, "-m", "spikeport", *args], capture_output=True, text=True, check=False)
    print(done.stdout + done.stderr, flush=True)
    if done.returncode != 0:
        raise SystemExit(done.returncode)
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-path", help="EEGMMIDB folder (MNE's cache layout); default: SYNTHETIC EEG")
    parser.add_argument("--subjects", nargs="+", default=["1", "3"], help="recorded training subjects (1 3)")
    parser.add_argument("--subject", help="subject to calibrate (default: the first held-out synthetic subject)")
    parser.add_argument("--shots", default="5", help="trials per class to learn from (5)")
    parser.add_argument("--epochs", default="5", help="encoder training epochs (5)")
    parser.add_argument("--backend", default="lava", choices=("reference", "lava"), help="simulator (lava)")
    default_out = Path(os.environ.get("SPIKEPORT_EXAMPLE_OUT", "runs/examples")) / "eeg_few_shot"
    parser.add_argument("--out", type=Path, default=default_out, help=f"run directory (default {default_out})")
    args = parser.parse_args(argv)

    run = str(args.out)
    if args.data_path:
        data = ["--data", "eegmmidb", "--data-path", args.data_path, "--subjects", *args.subjects]
        if args.subject is None:
            parser.error("--subject: give the recorded subject to calibrate (one not in --subjects)")
    else:  # SYNTHETIC: 3 training subjects of 12 trials per class (and held-out subjects of the same seed)
        data = ["--subjects", "3", "--trials-per-class", "12"]
    spikeport_cli("train", "--model", "isam-mtl", "--out", run, "--epochs", args.epochs, *data)
    spikeport_cli("export", run)
    spikeport_cli("quantize", run)
    adapt = ["--shots", args.shots, "--backend", args.backend]
    adapt += ["--subject", args.subject] if args.subject else []
    adapt += ["--data-path", args.data_path] if args.data_path else []
    written = re.search(r"adapt_\d+\.json", spikeport_cli("adapt", run, *adapt))  # "wrote RUN/adapt_S.json"
    if written is None:
        raise SystemExit("spikeport adapt did not say which file it wrote")
    result = json.loads((args.out / written.group()).read_text())
    for backend, scores in result["results"].items():
        print(f"subject {result['subject']}, {backend}: accuracy {scores['accuracy']:.3f} on {result['n_test']} trials")
    if args.backend == "lava":
        agreement = result["reference_vs_lava"]
        print(f"Lava learned the reference's weights after every epoch: {agreement['memory_equal']}")
        return 0 if agreement["memory_equal"] and agreement["predictions_equal"] else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
