"""Reference simulator vs Lava `fixed_pt`: a sweep over random network-and-input cases, bit for bit.

A *case* is one random network with one input sample. Each network is compiled once by Lava and runs
`--samples-per-network` samples back to back (every state is zeroed between samples, so samples are independent
runs); networks cycle through every named edge case of `tests/helpers/random_graphs.py` (`EDGE_CASES`, each pinned
in turn with everything else random) and unconstrained random networks. Network i uses seed `--seed` + i.

Prints one line "N cases, M mismatches", then how many cases exercised each feature (edge cases marked *), the
first mismatches if any, and edge-case networks that happened not to show their feature. Exit status 1 on any
mismatch. The same sweep is the slow test `tests/simulators/test_equiv_reference_vs_lava.py::test_sweep_1000_cases`.

Example: `python benchmarks/equivalence_sweep.py --cases 1000`
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the shared generator in tests/helpers

from helpers.equivalence import run_sweep
from helpers.random_graphs import EDGE_CASES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1000, help="network-and-sample cases to compare (default 1000)")
    parser.add_argument("--seed", type=int, default=100_000, help="seed of the first network (default 100000)")
    parser.add_argument("--samples-per-network", type=int, default=4, help="input samples per network (default 4)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)

    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    result = run_sweep(args.cases, seed=args.seed, samples_per_network=args.samples_per_network, log=log)
    print(result.summary_line())
    print(f"{result.networks} networks, {result.seconds:.0f} s; cases exercising each feature (* = named edge case):")
    targets = {feature for _, feature in EDGE_CASES.values()}
    for feature in sorted(set(result.coverage) | targets):
        print(f"  {'*' if feature in targets else ' '} {feature:<28} {result.coverage.get(feature, 0):>6}")
    for text in result.mismatches[:5]:
        print("\n" + text)
    if result.missed_edge_cases:
        print(f"\nedge-case networks that did not show their feature: {', '.join(result.missed_edge_cases)}")
    return 1 if result.mismatched_cases else 0


if __name__ == "__main__":
    sys.exit(main())
