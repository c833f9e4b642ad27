"""Running one case on the reference and on Lava, and the reference-vs-Lava sweep.

A *case* of the sweep is one random network with one input sample. Each network is compiled once by Lava and
run on several samples back to back (the runner zeroes every state between samples), which is how the sweep
reaches a thousand cases in minutes: Lava's start-up (~0.3-0.7 s) is paid per network, each sample costs only
its steps. Networks cycle through `EDGE_CASES` (every edge case pinned in turn, with everything else random)
and unconstrained random networks, so every edge case is run many times with different surroundings.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from helpers.random_graphs import EDGE_CASES, Case, features, random_case
from spikeport.errors import SpikeportWarning
from spikeport.simulators.compare import Comparison, compare_runs
from spikeport.simulators.record import RECORDED_VARS, RunRecord
from spikeport.simulators.reference import run_reference


def run_both(case: Case) -> tuple[RunRecord, RunRecord, Comparison]:
    """Run `case` on the reference and on Lava `fixed_pt`; returns both records and their comparison.

    Random cases put weights beyond the chip's range on purpose (Lava must clip them as the reference does), so the
    clipping warning is silenced here; the counts stay in the reference record.
    """
    from spikeport.simulators.lava import run_lava

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpikeportWarning)
        ref = run_reference(case.graph, case.inputs)
    lava = run_lava(case.graph, case.inputs)
    return ref, lava, compare_runs(ref, lava)


def mismatching_samples(a: RunRecord, b: RunRecord) -> np.ndarray:
    """Boolean per sample: does any spike, u or v of any population differ?"""
    bad = np.zeros(a.num_samples, dtype=bool)
    for name, trace in a.populations.items():
        for var in RECORDED_VARS:
            diff = trace.var(var) != b.populations[name].var(var)
            bad |= diff.reshape(diff.shape[0], -1).any(axis=1)
    return bad


def sweep_plan(index: int) -> tuple[str, dict]:
    """The edge case (or "random") and overrides of the sweep's `index`-th network."""
    names = [*EDGE_CASES, "random"]
    name = names[index % len(names)]
    return name, (dict(EDGE_CASES[name][0]) if name in EDGE_CASES else {})


@dataclass
class SweepResult:
    cases: int = 0
    networks: int = 0
    mismatched_cases: int = 0
    mismatches: list[str] = field(default_factory=list)
    """Summaries (case description + first mismatch) of every mismatching network."""
    coverage: Counter = field(default_factory=Counter)
    """Cases (network x sample) that exercised each feature."""
    missed_edge_cases: list[str] = field(default_factory=list)
    """Edge-case networks whose run did not show the feature they were built for (not a failure by itself)."""
    seconds: float = 0.0

    def summary_line(self) -> str:
        return f"{self.cases} cases, {self.mismatched_cases} mismatches"


def run_sweep(
    num_cases: int, *, seed: int = 0, samples_per_network: int = 4, log: Callable[[str], None] | None = None
) -> SweepResult:
    """Run random networks on both simulators until `num_cases` network-and-sample cases were compared.

    Network `i` uses `random_case(seed + i, samples=samples_per_network, **overrides)` with the overrides of
    `sweep_plan(i)`.
    """
    result = SweepResult()
    start = time.perf_counter()
    index = 0
    while result.cases < num_cases:
        name, overrides = sweep_plan(index)
        case = random_case(seed + index, samples=samples_per_network, **overrides)
        ref, lava, comparison = run_both(case)
        bad = mismatching_samples(ref, lava)
        result.cases += case.inputs.shape[0]
        result.networks += 1
        result.mismatched_cases += int(bad.sum())
        if not comparison.bit_exact:
            result.mismatches.append(f"{case!r}\n{comparison.summary()}")
        seen = features(case, lava)
        for sample_features in seen:
            result.coverage.update(sample_features)
        if name in EDGE_CASES and not any(EDGE_CASES[name][1] in f for f in seen):
            result.missed_edge_cases.append(f"{name} (seed {seed + index})")
        if log is not None and (index + 1) % 25 == 0:
            log(f"  {result.networks} networks, {result.summary_line()}, {time.perf_counter() - start:.0f} s")
        index += 1
    result.seconds = time.perf_counter() - start
    return result
