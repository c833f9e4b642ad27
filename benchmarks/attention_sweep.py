"""Spike-driven attention on Lava vs spikeport's integer reference, bit for bit, over random configurations.

Each case is one random `AttentionInt` graph (input -> attention -> output units) with its inputs, drawn by
`tests/helpers/random_attention.py` from seed `--seed` + i: 1..8 tokens of 1..8 channels, internal delay 1..3,
gate threshold, Q/K/V registers (weights, exponents, decays, thresholds, biases), with or without the output
projection, input rate, steps and samples. Both backends run every case; prints one line per case (unless
`--quiet`), then "N cases, M mismatches" and how many cases had output spikes. Exit status 1 on any mismatch.
The same sweep is the slow test `tests/simulators/lava/test_attention_lava.py::test_attention_sweep_...`.

Example: `python benchmarks/attention_sweep.py --cases 100`
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared generator in tests/helpers

from helpers.random_attention import attention_sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100, help="random configurations to compare (default 100)")
    parser.add_argument("--seed", type=int, default=1000, help="seed of the first case (default 1000)")
    parser.add_argument("--quiet", action="store_true", help="no line per case")
    args = parser.parse_args(argv)

    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if not args.quiet:
            print(line, flush=True)

    start = time.perf_counter()
    mismatches = attention_sweep(args.cases, first_seed=args.seed, log=log)
    active = sum(not line.endswith(", 0 output spikes") for line in lines)
    print(f"{args.cases} cases, {len(mismatches)} mismatches ({time.perf_counter() - start:.0f} s)")
    print(f"{active} of {args.cases} cases had output spikes")
    for text in mismatches[:5]:
        print("\n" + text)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
