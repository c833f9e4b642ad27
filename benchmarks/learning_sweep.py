"""Reference vs Lava `LearningDense` (`fixed_pt`) on random plastic graphs: learned weights and spikes, bit for bit.

Each case is one random plastic graph (`tests/helpers/random_plastic.py`: rule, rates, traces, epoch length, seed,
sizes, one to three samples streamed in one run) run on the integer reference and on Lava; spikes, u, v of every
population at every step and the weights after every epoch are compared. Case i uses seed `--seed` + i.

Prints "N cases, M mismatches", what was compared, and the first mismatches; exit status 1 on any mismatch. The
same sweep is the slow test `tests/simulators/lava/test_learning_lava.py::test_sweep_200_plastic_cases`.

Example: `python benchmarks/learning_sweep.py --cases 200`
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared generator in tests/helpers

from helpers.random_plastic import run_plastic_sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200, help="random plastic cases to compare (default 200)")
    parser.add_argument("--seed", type=int, default=200_000, help="seed of the first case (default 200000)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)

    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    start = time.perf_counter()
    result = run_plastic_sweep(args.cases, seed=args.seed, log=log)
    print(f"{result['cases']} cases, {len(result['mismatches'])} mismatches")
    print(
        f"{result['epochs']} epochs, {result['weights_compared']} learned weight values compared; "
        f"{result['learned']} cases changed their weights; {time.perf_counter() - start:.0f} s"
    )
    for text in result["mismatches"][:5]:
        print("\n" + text)
    return 1 if result["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
