"""RAT-SNN timings on SYNTHETIC reaching: training, adaptation, and per-step latency of the deployed model.

Runs the pipeline in a run directory (`--out`, default a temporary one): `spikeport train --model rat-snn` (timed),
export, quantize, then adapt (`adapt_run`, what `spikeport adapt RUN --minutes M` calls; it returns the readout
refit and ridge times). The deployed graph then runs `--windows` held-out test windows on the integer reference and on
Lava `fixed_pt` (one Lava run per window, as `spikeport simulate` does); per-step latency = wall time / (windows x
steps), Lava's including its per-run start-up and tear-down (it is reported separately from a one-window run). Ridge
is timed on the same training split for comparison. Everything is wall-clock on this machine's CPU.

Example: `python benchmarks/rat_snn.py --windows 24`
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def _timed(argv: list[str]) -> float:
    from spikeport.cli import main

    start = time.perf_counter()
    if main(argv) != 0:
        raise SystemExit(f"spikeport {' '.join(argv)} failed")
    return time.perf_counter() - start


def run(out: Path, windows: int, minutes: float, epochs: int | None) -> dict:
    import numpy as np

    from spikeport.files import read_npz
    from spikeport.ir import load_deploy_graph
    from spikeport.train.baselines.ridge import train_ridge
    from spikeport.train.models.rat_snn.adapt import adapt_run
    from spikeport.train.models.rat_snn.data import reload_split
    from spikeport.train.models.rat_snn.deploy import run_backend

    run_dir = str(out)
    extra = ["--epochs", str(epochs)] if epochs else []
    facts = {"train_s": _timed(["train", "--out", run_dir, "--model", "rat-snn", "--no-progress", *extra])}
    facts["export_quantize_s"] = _timed(["export", run_dir]) + _timed(["quantize", run_dir, "--no-progress"])
    start = time.perf_counter()
    adaptation = adapt_run(out, {"minutes": minutes}, False)
    facts["adapt_call_s"] = time.perf_counter() - start
    facts["adapt_readout_fit_s"] = adaptation["timings_s"]["readout_fit_s"]
    facts["adapt_ridge_s"] = adaptation["timings_s"]["ridge_s"]
    facts["adapt_r2"] = {k: v["r2_mean"] for k, v in adaptation["results"].items()}
    facts["adapt_snn_at_least_ridge"] = adaptation["snn_at_least_ridge"]
    facts["adapt_lava_equals_reference"] = adaptation["reference_vs_lava"]["predictions_equal"]

    data = read_npz(out / "data.npz", "data file")
    info = json.loads(str(data["info"]))
    split = reload_split(info)
    start = time.perf_counter()
    train_ridge(split.train.x, split.train.y, split.test.x, split.test.y)
    facts["ridge_train_split_s"] = time.perf_counter() - start

    graph = load_deploy_graph(out / "model.deploy.npz")
    x = data["x_test"][:windows]
    steps = int(x.shape[1])
    reference = run_backend(graph, x, "reference")
    one = run_backend(graph, x[:1], "lava")
    lava = run_backend(graph, x, "lava")
    facts["windows"], facts["steps_per_window"] = len(x), steps
    facts["reference_us_per_step"] = 1e6 * reference.seconds / (len(x) * steps)
    facts["lava_ms_per_step"] = 1e3 * lava.seconds / (len(x) * steps)
    facts["lava_one_window_s"] = one.seconds
    facts["lava_equals_reference"] = bool(np.array_equal(lava.predictions, reference.predictions))
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="run directory (default: a temporary one)")
    parser.add_argument("--windows", type=int, default=24, help="test windows for the latency runs (24)")
    parser.add_argument("--minutes", type=float, default=1.0, help="adaptation minutes (1)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (the family's default)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        facts = run(args.out or Path(tmp) / "run", args.windows, args.minutes, args.epochs)
    print("rat-snn on SYNTHETIC reaching (wall clock, this machine):")
    for key, value in facts.items():
        print(f"  {key:<22} {value:.4g}" if isinstance(value, float) else f"  {key:<22} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
