"""Rung 3 of the equivalence ladder: the reference simulator against Lava 0.10.0 `fixed_pt`, bit for bit.

Every spike, u and v of every population at every step of every sample must be equal (`compare_runs(...)
.bit_exact`; a failure prints the case and the first divergent sample, step, population, neuron and variable).

Default suite (about a minute; Lava costs ~0.3-0.7 s per network): 25 derandomized hypothesis examples of
random networks, plus one explicit seeded network per named edge case of `helpers.random_graphs.EDGE_CASES`
(du=-1, du=4095, dv=0, dv=4096, u overflow, v saturation both ways, 1-bit weights, inhibitory 5-bit weights,
clipped and mixed weights, weight_exp -8 and 7, negative bias_exp, bias extremes, graded spikes up to 24 bits,
delays 0 and 63, LIFReset, TernaryLIF, vth 0 and max, fan-in, recurrence onto itself and back). Each explicit case
also asserts that its run really exercised its edge case (for example that u overflowed).

Slow (`-m slow`): `test_sweep_1000_cases`. A *case* there is one random network with one input sample: each
network is compiled once by Lava and run on 4 samples back to back (every state is zeroed between samples, so
samples are independent runs of the same network). Networks cycle through every edge case and unconstrained
random ones; the same sweep runs as a script: `python benchmarks/equivalence_sweep.py --cases 1000`.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from helpers.equivalence import run_both, run_sweep
from helpers.random_graphs import EDGE_CASES, Case, features, graph_cases, random_case

pytestmark = pytest.mark.lava

EDGE_SEED = 7000
"""Network i of `EDGE_CASES` uses seed EDGE_SEED + i (in the test id)."""
SWEEP_SEED = 100_000


def _assert_bit_exact(case: Case):
    _, lava, comparison = run_both(case)
    assert comparison.bit_exact, f"{case!r}\n{comparison.summary()}"
    return lava


@settings(
    max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip
@given(case=graph_cases())
def test_random_networks_bit_exact(case):
    """Random networks of 1-3 populations (chains, fan-in, recurrence), all node kinds and register ranges."""
    _assert_bit_exact(case)


@pytest.mark.parametrize(
    ("name", "seed"),
    [(name, EDGE_SEED + i) for i, name in enumerate(EDGE_CASES)],
    ids=[f"{name}-seed{EDGE_SEED + i}" for i, name in enumerate(EDGE_CASES)],
)
def test_edge_case_bit_exact(name, seed):
    """One seeded random network with the edge case pinned; it must be exact and must exercise the edge case."""
    overrides, feature = EDGE_CASES[name]
    case = random_case(seed, **overrides)
    lava = _assert_bit_exact(case)
    seen = set().union(*features(case, lava))
    assert feature in seen, f"{case!r} did not exercise {feature!r} (saw {sorted(seen)}); choose another seed"


@pytest.mark.slow
def test_sweep_1000_cases():
    """0 mismatches over >= 1000 network-and-sample cases, with every edge case exercised (see module doc)."""
    result = run_sweep(1000, seed=SWEEP_SEED, samples_per_network=4)
    assert result.cases >= 1000
    assert not result.mismatches, f"{result.summary_line()}\n" + "\n\n".join(result.mismatches[:5])
    unexercised = sorted({feature for _, feature in EDGE_CASES.values()} - set(result.coverage))
    assert not unexercised, f"edge cases never exercised: {unexercised}"
