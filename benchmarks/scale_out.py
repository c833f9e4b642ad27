"""Scaling out: Lava on 1 vs N worker processes, and data-parallel training on 1 vs 2 torchrun processes.

Every configuration runs in a fresh process started by this script, so each pays its own start-up (importing Lava,
compiling the network, spawning workers) inside the measured call, and the ratios are measured in the same run:

- Lava: `run_lava(graph, inputs, workers=N)` on the 100-200-10 network of `simulate_speed.py` (random inputs,
  spike probability 0.1); samples/s over the whole call (start-up included), and whether the record of N workers
  is identical (every spike, u and v) to that of one.
- Training: the decoder family on its SYNTHETIC data, in one process and under
  `torchrun --standalone --nproc_per_node 2` (gloo; `spikeport.train.distributed`); seconds per epoch of
  `family.train` on rank 0 and the test accuracy of the trained model.
- Peak memory: the highest total proportional set size (Pss, from /proc/PID/smaps_rollup; resident size where that
  is unreadable) of the configuration's whole process tree (the command, its workers or ranks, Lava's processes),
  sampled every 50 ms.
- CPU: user + system seconds of the configuration's process tree, start-up included: how much of the machine it
  used. On a machine busy with other work, N workers share the cores with it and the speed-up shrinks (the load
  average at the start is printed).

Example: `python benchmarks/scale_out.py --workers 2 --samples 96 --steps 50 --epochs 4`
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()


def _tree_memory_mib(root: int) -> float:
    """Total Pss (or RSS) of `root` and its descendants now, in MiB (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in tree:
                tree.add(child)
                frontier.append(child)
    total_kib = 0
    for pid in tree:
        total_kib += _memory_kib(pid)
    return total_kib / 1024


def _memory_kib(pid: int) -> int:
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return 0


def run_measured(command: list[str]) -> tuple[float, float]:
    """Run `command` to its end (it must exit 0); returns the peak memory of its process tree in MiB and the CPU
    seconds (user + system) of the tree, start-up included."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    peak, done = [0.0], threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], _tree_memory_mib(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    done.set()
    sampler.join()
    if process.returncode != 0:
        sys.exit(f"benchmark step failed ({' '.join(command[:6])} ...): {stderr.strip()[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return peak[0], cpu


# -- Lava ----------------------------------------------------------------------------------------------------------


def small_network():
    """The 100-200-10 network of `simulate_speed.make_network(100, 200, 10, seed=0)`, built the same way."""
    from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput

    rng = np.random.default_rng(0)
    return DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=100),
            "d1": DenseInt(name="d1", weights=rng.integers(-128, 128, (200, 100))),
            "hidden": LIFInt(name="hidden", size=200, du=1024, dv=256, vth=1500, bias_mant=rng.integers(-8, 9, 200),
                             bias_exp=2),
            "d2": DenseInt(name="d2", weights=rng.integers(-128, 128, (10, 200))),
            "out": LIFInt(name="out", size=10, du=1024, dv=256, vth=int(80 * 200**0.5)),
        },
        edges=[("in", "d1"), ("d1", "hidden"), ("hidden", "d2"), ("d2", "out")],
        output="out",
    )  # fmt: skip


def lava_child(workers: int, samples: int, steps: int, out: Path) -> None:
    """In a fresh process: run Lava with `workers`, save the record and the seconds of the call."""
    from spikeport.simulators import save_record
    from spikeport.simulators.lava import run_lava

    graph = small_network()
    inputs = (np.random.default_rng(1).random((samples, steps, 100)) < 0.1).astype(np.int64)
    start = time.perf_counter()
    record = run_lava(graph, inputs, workers=workers)
    seconds = time.perf_counter() - start
    save_record(record, out / f"record-{workers}.npz")
    (out / f"lava-{workers}.json").write_text(json.dumps({"seconds": seconds}))


def bench_lava(workers: int, samples: int, steps: int, out: Path) -> None:
    from spikeport.simulators import load_record

    results = {}
    for n in (1, workers):
        child = [sys.executable, str(HERE), "--child", "lava", "--workers", str(n)]
        peak, cpu = run_measured([*child, "--samples", str(samples), "--steps", str(steps), "--out", str(out)])
        results[n] = (json.loads((out / f"lava-{n}.json").read_text())["seconds"], peak, cpu)
    one, many = load_record(out / "record-1.npz"), load_record(out / f"record-{workers}.npz")
    identical = list(one.populations) == list(many.populations) and all(
        np.array_equal(one.populations[p].var(v), many.populations[p].var(v))
        for p in one.populations
        for v in ("spikes", "u", "v")
    )
    (t1, m1, c1), (tn, mn, cn) = results[1], results[workers]
    print(f"Lava fixed_pt, 100-200-10, {samples} samples x {steps} steps (start-up included):")
    print(f"  1 worker : {samples / t1:7.2f} samples/s ({t1:.1f} s), peak memory {m1:.0f} MiB, CPU {c1:.0f} s")
    print(f"  {workers} workers: {samples / tn:7.2f} samples/s ({tn:.1f} s), peak memory {mn:.0f} MiB, CPU {cn:.0f} s")
    print(f"  speed-up {workers} vs 1 workers: {t1 / tn:.2f}x; memory ratio {mn / m1:.2f}x; "
          f"identical record: {'yes' if identical else 'NO'}")  # fmt: skip


# -- training ------------------------------------------------------------------------------------------------------


def train_child(args: argparse.Namespace, out: Path) -> None:
    """In a fresh process (or each torchrun rank): train the decoder; rank 0 saves seconds/epoch and accuracy."""
    from spikeport.train import distributed
    from spikeport.train.models import get_family
    from spikeport.train.tasks import task_metrics

    family = get_family("decoder")
    cfg = family.run_config(
        seed=0, n_subjects=args.subjects, trials_per_class=args.trials, num_steps=args.train_steps,
        n_hidden=args.hidden, epochs=args.epochs,
    )  # fmt: skip
    with distributed.process_group():
        data = family.make_data(cfg)
        model = family.build_model(family.make_config(cfg, data), cfg.seed)
        with distributed.data_parallel():
            start = time.perf_counter()
            history = family.train(model, data, seed=cfg.seed, epochs=cfg.epochs, progress=False)
            seconds = time.perf_counter() - start
        if distributed.is_main():
            metrics = task_metrics(family.task, family.predict(model, data.x_test), data.y_test)
            result = {"epoch_s": seconds / len(history.loss), "accuracy": metrics["accuracy"], "n": len(data.y_train)}
            (out / f"train-{distributed.world_size()}.json").write_text(json.dumps(result))


def bench_training(args: argparse.Namespace, out: Path) -> None:
    options = ["--subjects", str(args.subjects), "--trials", str(args.trials), "--train-steps", str(args.train_steps)]
    options += ["--hidden", str(args.hidden), "--epochs", str(args.epochs), "--out", str(out)]
    child = [str(HERE), "--child", "train", *options]
    m1, _ = run_measured([sys.executable, *child])
    m2, _ = run_measured(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *child]
    )
    one, two = (json.loads((out / f"train-{n}.json").read_text()) for n in (1, 2))
    print(f"Decoder training (SYNTHETIC, {one['n']} trials, hidden {args.hidden}, {args.epochs} epochs, batch 32):")
    print(f"  1 process          : {one['epoch_s']:.2f} s/epoch, test accuracy {one['accuracy']:.3f}, "
          f"peak memory {m1:.0f} MiB")  # fmt: skip
    print(f"  torchrun, 2 ranks  : {two['epoch_s']:.2f} s/epoch, test accuracy {two['accuracy']:.3f}, "
          f"peak memory {m2:.0f} MiB")  # fmt: skip
    print(f"  speed-up 2 vs 1: {one['epoch_s'] / two['epoch_s']:.2f}x; accuracy difference "
          f"{two['accuracy'] - one['accuracy']:+.3f}; memory ratio {m2 / m1:.2f}x")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="Lava workers to compare with one (default 2)")
    parser.add_argument("--samples", type=int, default=96, help="Lava samples (default 96)")
    parser.add_argument("--steps", type=int, default=50, help="Lava steps per sample (default 50)")
    parser.add_argument("--subjects", type=int, default=4, help="training: synthetic subjects (default 4)")
    parser.add_argument("--trials", type=int, default=40, help="training: trials per class and subject (default 40)")
    parser.add_argument("--train-steps", type=int, default=50, help="training: steps per trial (default 50)")
    parser.add_argument("--hidden", type=int, default=128, help="training: hidden neurons (default 128)")
    parser.add_argument("--epochs", type=int, default=4, help="training epochs (default 4)")
    parser.add_argument("--only", choices=("lava", "train"), default=None, help="run one part only")
    parser.add_argument("--child", choices=("lava", "train"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "lava":
        return lava_child(args.workers, args.samples, args.steps, args.out)
    if args.child == "train":
        return train_child(args, args.out)
    cores, load = os.cpu_count(), os.getloadavg()[0]
    print(f"{cores} CPU cores, load average {load:.1f} at the start (other work on the machine slows every line)")
    with tempfile.TemporaryDirectory(prefix="spw-bench-") as folder:
        if args.only in (None, "lava"):
            bench_lava(args.workers, args.samples, args.steps, Path(folder))
        if args.only in (None, "train"):
            bench_training(args, Path(folder))


if __name__ == "__main__":
    main()
