"""Simulation speed: spikeport's reference simulator (batched) against Lava `fixed_pt` (sample by sample).

The same random 2-layer networks and inputs go through both backends; the script prints samples/s of each,
their ratio, and whether the two records are bit-exact on the samples both ran.

- Lava compiles the network once and runs the samples back to back (`run_lava` over the samples); its time
  includes compiling and starting the runtime, once per call. At large batches only `--lava-samples` samples
  are run on Lava (Lava's cost is linear in samples) and its samples/s is computed from those; the output says so.
- The reference runs the whole batch in one call; after one untimed warm-up call on the same batch (torch
  start-up, first touch of the output memory), the median of `--repeat` timed calls is reported.
- Networks: small = 100-200-10, medium = 1000-2000-100; T = 100 steps; inputs spike with probability 0.1.

Example: `python benchmarks/simulate_speed.py --networks small medium --batches 1 256`
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
from spikeport.simulators.compare import compare_runs
from spikeport.simulators.lava import run_lava
from spikeport.simulators.record import RunRecord
from spikeport.simulators.reference import run_reference

NETWORKS = {"small": (100, 200, 10), "medium": (1000, 2000, 100)}


def make_network(n_in: int, n_hidden: int, n_out: int, seed: int) -> DeployGraph:
    """A random 2-layer LIF network with mixed-sign 8-bit weights; thresholds scale with sqrt(fan-in) so that
    both layers spike at a few percent."""
    rng = np.random.default_rng(seed)
    return DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=n_in),
            "d1": DenseInt(name="d1", weights=rng.integers(-128, 128, (n_hidden, n_in))),
            "hidden": LIFInt(
                name="hidden", size=n_hidden, du=1024, dv=256, vth=int(150 * n_in**0.5),
                bias_mant=rng.integers(-8, 9, n_hidden), bias_exp=2,
            ),
            "d2": DenseInt(name="d2", weights=rng.integers(-128, 128, (n_out, n_hidden))),
            "out": LIFInt(name="out", size=n_out, du=1024, dv=256, vth=int(80 * n_hidden**0.5)),
        },
        edges=[("in", "d1"), ("d1", "hidden"), ("hidden", "d2"), ("d2", "out")],
        output="out",
        metadata={"benchmark": "simulate_speed"},
    )  # fmt: skip


def first_samples(record: RunRecord, n: int) -> RunRecord:
    """The record of the first `n` samples."""
    from spikeport.simulators.record import PopulationTrace

    pops = {name: PopulationTrace(spikes=t.spikes[:n], u=t.u[:n], v=t.v[:n]) for name, t in record.populations.items()}
    return RunRecord(backend=record.backend, populations=pops)


def bench(name: str, batch: int, args: argparse.Namespace) -> dict:
    n_in, n_hidden, n_out = NETWORKS[name]
    graph = make_network(n_in, n_hidden, n_out, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    x = (rng.random((batch, args.steps, n_in)) < args.rate).astype(np.int64)
    ref = run_reference(graph, x)  # warm-up
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        ref = run_reference(graph, x)
        times.append(time.perf_counter() - start)
    ref_s = float(np.median(times))

    n_lava = min(batch, args.lava_samples)
    start = time.perf_counter()
    lava = run_lava(graph, x[:n_lava])
    lava_s = time.perf_counter() - start

    comparison = compare_runs(first_samples(ref, n_lava), lava)
    rates = {pop: float(np.abs(ref.populations[pop].spikes).mean()) for pop in ("hidden", "out")}
    return {
        "network": f"{name} {n_in}-{n_hidden}-{n_out}",
        "batch": batch,
        "ref_sps": batch / ref_s,
        "ref_s": ref_s,
        "lava_n": n_lava,
        "lava_sps": n_lava / lava_s,
        "lava_s": lava_s,
        "exact": comparison.bit_exact,
        "summary": comparison.summary().splitlines()[0],
        "rates": rates,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", nargs="+", choices=sorted(NETWORKS), default=["small", "medium"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 256], help="reference batch sizes")
    parser.add_argument("--steps", type=int, default=100, help="time steps per sample (default 100)")
    parser.add_argument("--rate", type=float, default=0.1, help="input spike probability per step (default 0.1)")
    parser.add_argument(
        "--lava-samples", type=int, default=16,
        help="at most this many samples of each batch run on Lava (default 16); samples/s is computed from them",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="timed reference calls per batch (median)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print(
        f"T={args.steps} steps, input rate {args.rate}, seed {args.seed}; reference: median of {args.repeat} calls "
        "after a warm-up; Lava: one call, including its compile"
    )
    all_exact = True
    for name in args.networks:
        for batch in args.batches:
            r = bench(name, batch, args)
            all_exact &= r["exact"]
            lava_note = f"{r['lava_n']} samples in {r['lava_s']:.2f} s"
            if r["lava_n"] < r["batch"]:
                lava_note += f", timed on {r['lava_n']} of {r['batch']} samples"
            print(
                f"{r['network']:>22} batch {r['batch']:>4}: reference {r['ref_sps']:9.1f} samples/s "
                f"({r['ref_s']:.2f} s) | Lava {r['lava_sps']:6.2f} samples/s ({lava_note}) | "
                f"ratio {r['ref_sps'] / r['lava_sps']:7.1f}x | "
                f"{'bit-exact' if r['exact'] else 'MISMATCH'} on {r['lava_n']} samples | "
                f"spike rates hidden {r['rates']['hidden']:.3f} out {r['rates']['out']:.3f}"
            )
            if not r["exact"]:
                print("    " + r["summary"])
    return 0 if all_exact else 1


if __name__ == "__main__":
    sys.exit(main())
