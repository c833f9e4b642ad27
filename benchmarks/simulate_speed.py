"""Simulation speed: spikeport's reference simulator against a float32 norse forward and Lava `fixed_pt`.

The same random 2-layer networks and inputs go through every backend; the script prints samples/s of each, the
ratios reference/norse and reference/Lava measured in this run, the peak memory of each call, and whether the
reference is bit-exact with Lava on the samples both ran.

- Reference: `run_reference(graph, x, states=[output])`, the record an accuracy needs (spikes of every population,
  u and v of the output); its `precision` (dtype per connection) is printed. The full record (u and v of every
  population) is timed once as well. After one untimed warm-up call, the median of `--repeat` calls is reported.
- norse: a plain float32 forward of the same networks (`norse.torch.LIFBoxCell` per layer, one batched input matmul
  per layer over all steps and samples, no autograd), with the effective integer weights as floats; it records the
  same (hidden spikes, output voltage). Its calls alternate with the reference's, so both see the same machine load.
- Lava compiles the network once and runs the samples back to back (`run_lava` over the samples); its time
  includes compiling and starting the runtime, once per call. At large batches only `--lava-samples` samples
  are run on Lava (Lava's cost is linear in samples) and its samples/s is computed from those; the output says so.
  Exactness: a full-record reference run of those samples is compared with Lava (spikes, u, v of every
  population), and the timed (lean) record's spikes and output u, v are checked equal to it.
- Peak memory: the largest growth of the resident set size (/proc/self/statm, sampled every 2 ms by a thread) over
  its size before one call, each backend in a fresh process (this script with `--memory-of`) after its inputs are
  built. Lava runs in processes of its own, which this does not measure.
- Networks: small = 100-200-10, medium = 1000-2000-100; T = 100 steps; inputs spike with probability 0.1.
  torch runs with `--threads` threads (default 2) for both the reference and norse.

Example: `python benchmarks/simulate_speed.py --networks small medium --batches 1 256`
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable

import numpy as np
import torch

from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
from spikeport.simulators.compare import compare_runs
from spikeport.simulators.kernels import effective_weights
from spikeport.simulators.lava import run_lava
from spikeport.simulators.record import PopulationTrace, RunRecord
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
    pops = {name: PopulationTrace(spikes=t.spikes[:n], u=t.u[:n], v=t.v[:n]) for name, t in record.populations.items()}
    return RunRecord(backend=record.backend, populations=pops)


class PeakMemory:
    """The largest resident-set growth (bytes) of this process while the block runs, sampled by a thread."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0

    def _rss(self) -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * self.page

    def __enter__(self) -> PeakMemory:
        self.base = self._rss()
        self.running = True
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()
        return self

    def _poll(self) -> None:
        while self.running:
            self.peak = max(self.peak, self._rss() - self.base)
            time.sleep(0.002)

    def __exit__(self, *exc) -> None:
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self._rss() - self.base)


def peak_memory(backend: str, name: str, batch: int, args: argparse.Namespace) -> float:
    """Peak resident-set growth (MiB) of one call of `backend` on a fresh copy of this script (`--memory-of`), so
    that memory another backend freed earlier in this process cannot hide it."""
    import subprocess

    command = [sys.executable, __file__, "--memory-of", backend, name, str(batch), "--steps", str(args.steps)]
    command += ["--rate", str(args.rate), "--seed", str(args.seed), "--threads", str(args.threads)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def measure_one(backend: str, name: str, batch: int, args: argparse.Namespace) -> float:
    """The peak memory (MiB) of one call of `backend` ("reference", "full" or "norse"), in this process."""
    graph = make_network(*NETWORKS[name], args.seed)
    x = (np.random.default_rng(args.seed + 1).random((batch, args.steps, NETWORKS[name][0])) < args.rate).astype(
        np.int64
    )
    x_float = torch.as_tensor(x.transpose(1, 0, 2), dtype=torch.float32).contiguous()
    calls = {
        "reference": lambda: run_reference(graph, x, states=[graph.output]),
        "full": lambda: run_reference(graph, x),
        "norse": lambda: norse_forward(graph, x_float),
    }
    import norse.torch  # noqa: F401  (its import is not part of a forward's memory)

    with PeakMemory() as memory, torch.no_grad():
        calls[backend]()
    return memory.peak / 2**20


def norse_forward(graph: DeployGraph, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A float32 norse forward of `graph`'s two layers on time-major spikes `x` (steps, samples, n_in).

    One batched matmul per layer over all steps and samples, then `LIFBoxCell` step by step (dt = 1 ms, the
    membrane decay dv / 4096 per step of the integer graph, threshold 1 on input scaled by the integer threshold).
    Returns (hidden spikes, output voltage), both (steps, samples, n).
    """
    from norse.torch import LIFBoxCell, LIFBoxParameters

    steps, samples = x.shape[:2]
    h = x
    outputs = []
    for dense, pop in (("d1", "hidden"), ("d2", "out")):
        node, lif = graph.nodes[dense], graph.nodes[pop]
        w = torch.as_tensor(effective_weights(node.weights, node.num_weight_bits, graph.formats).T, dtype=torch.float32)
        a = (h.reshape(steps * samples, -1) @ (w / float(lif.vth << 6))).reshape(steps, samples, -1)
        cell = LIFBoxCell(LIFBoxParameters(tau_mem_inv=torch.tensor(1000.0 * lif.dv / 4096), v_th=torch.tensor(1.0)))
        state, spikes, voltages = None, [], []
        for k in range(steps):
            z, state = cell(a[k], state)
            spikes.append(z)
            voltages.append(state.v)
        h = torch.stack(spikes)
        outputs.append(h if pop == "hidden" else torch.stack(voltages))
    return outputs[0], outputs[1]


def timed(call: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def bench(name: str, batch: int, args: argparse.Namespace) -> dict:
    n_in, n_hidden, n_out = NETWORKS[name]
    graph = make_network(n_in, n_hidden, n_out, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    x = (rng.random((batch, args.steps, n_in)) < args.rate).astype(np.int64)
    x_float = torch.as_tensor(x.transpose(1, 0, 2), dtype=torch.float32).contiguous()

    def reference() -> RunRecord:
        return run_reference(graph, x, states=[graph.output])

    with torch.no_grad():
        norse_forward(graph, x_float)  # warm-up of both
    ref = reference()
    ref_times, norse_times = [], []
    for _ in range(2 * args.repeat):  # alternate, so that both see the same load
        seconds, ref = timed(reference)
        ref_times.append(seconds)
        with torch.no_grad():
            norse_times.append(timed(lambda: norse_forward(graph, x_float))[0])
    ref_s, norse_s = float(np.median(ref_times)), float(np.median(norse_times))
    full_s, _ = timed(lambda: run_reference(graph, x))

    n_lava = min(batch, args.lava_samples)
    start = time.perf_counter()
    lava = run_lava(graph, x[:n_lava])
    lava_s = time.perf_counter() - start

    full = run_reference(graph, x[:n_lava])
    comparison = compare_runs(full, lava)
    lean_same = all(
        np.array_equal(ref.populations[p].spikes[:n_lava], full.populations[p].spikes) for p in ref.populations
    ) and all(
        np.array_equal(getattr(ref.populations[graph.output], v)[:n_lava], getattr(full.populations[graph.output], v))
        for v in ("u", "v")
    )
    rates = {pop: float(np.abs(ref.populations[pop].spikes).mean()) for pop in ("hidden", "out")}
    return {
        "network": f"{name} {n_in}-{n_hidden}-{n_out}",
        "batch": batch,
        "ref_sps": batch / ref_s,
        "ref_s": ref_s,
        "ref_mb": peak_memory("reference", name, batch, args),
        "full_sps": batch / full_s,
        "full_mb": peak_memory("full", name, batch, args),
        "norse_sps": batch / norse_s,
        "norse_mb": peak_memory("norse", name, batch, args),
        "lava_n": n_lava,
        "lava_sps": n_lava / lava_s,
        "lava_s": lava_s,
        "exact": comparison.bit_exact and lean_same,
        "summary": comparison.summary().splitlines()[0],
        "rates": rates,
        "precision": dict(ref.precision),
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
    parser.add_argument("--repeat", type=int, default=3, help="timed calls of each per batch (median of 2x this)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--memory-of", nargs=3, metavar=("BACKEND", "NETWORK", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.memory_of:  # a child of `peak_memory`: one call, its peak on the last line
        backend, name, batch = args.memory_of
        print(measure_one(backend, name, int(batch), args))
        return 0

    print(
        f"T={args.steps} steps, input rate {args.rate}, seed {args.seed}, {args.threads} torch threads; reference and "
        f"norse: median of {2 * args.repeat} calls after a warm-up; Lava: one call, including its compile; memory: "
        "peak resident-set growth during one call, in a fresh process"
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
                f"({r['ref_s']:.3f} s, peak {r['ref_mb']:.0f} MiB) | norse float32 {r['norse_sps']:9.1f} samples/s "
                f"(peak {r['norse_mb']:.0f} MiB) | Lava {r['lava_sps']:6.2f} samples/s ({lava_note})\n"
                f"{'':>24}reference/norse {r['ref_sps'] / r['norse_sps']:5.2f}x | reference/Lava "
                f"{r['ref_sps'] / r['lava_sps']:7.1f}x | {'bit-exact' if r['exact'] else 'MISMATCH'} on {r['lava_n']} "
                f"samples | full record (u, v of every population): {r['full_sps']:.1f} samples/s, peak "
                f"{r['full_mb']:.0f} MiB | precision {r['precision']} | spike rates hidden {r['rates']['hidden']:.3f} "
                f"out {r['rates']['out']:.3f}"
            )
            if not r["exact"]:
                print("    " + r["summary"])
    return 0 if all_exact else 1


if __name__ == "__main__":
    sys.exit(main())
