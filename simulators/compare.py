"""Comparing two runs of the same graph: bit-exact, or the first mismatch with everything needed to find it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeport.simulators.record import RECORDED_VARS, RunRecord


@dataclass(frozen=True)
class Mismatch:
    """The earliest differing value: by sample, then step, then population order, variable and neuron."""

    sample: int
    step: int
    """0-based step within the sample (Lava's time step minus one)."""
    population: str
    neuron: int
    variable: str
    value_a: int
    value_b: int

    def describe(self, name_a: str, name_b: str) -> str:
        return (
            f"first mismatch: sample {self.sample}, step {self.step}, layer {self.population!r}, "
            f"neuron {self.neuron}, {self.variable}: {name_a}={self.value_a} {name_b}={self.value_b}"
        )


@dataclass(frozen=True)
class Comparison:
    """Result of `compare_runs`."""

    name_a: str
    name_b: str
    values_compared: int
    values_differing: int
    differing_by_population: dict[str, dict[str, int]]
    first_mismatch: Mismatch | None

    @property
    def bit_exact(self) -> bool:
        return self.values_differing == 0

    def summary(self) -> str:
        """One human-readable paragraph: verdict, counts, and the first mismatch if any."""
        verdict = "BIT-EXACT" if self.bit_exact else "MISMATCH"
        lines = [
            f"{verdict}: {self.name_a} vs {self.name_b}, {self.values_compared} values compared "
            f"(spikes, u, v), {self.values_differing} differ"
        ]
        for pop, counts in self.differing_by_population.items():
            lines.append(f"  {pop}: " + ", ".join(f"{var} {n} differ" for var, n in counts.items()))
        if self.first_mismatch is not None:
            lines.append("  " + self.first_mismatch.describe(self.name_a, self.name_b))
        return "\n".join(lines)


def compare_runs(a: RunRecord, b: RunRecord) -> Comparison:
    """Compare spikes, u and v of every population at every step; shapes and populations must agree."""
    if list(a.populations) != list(b.populations):
        raise ValueError(f"runs record different populations: {list(a.populations)} vs {list(b.populations)}")
    compared = differing = 0
    by_pop: dict[str, dict[str, int]] = {}
    candidates: list[tuple[tuple[int, int, int, int, int], Mismatch]] = []
    for pop_index, (name, trace_a) in enumerate(a.populations.items()):
        trace_b = b.populations[name]
        for var_index, var in enumerate(RECORDED_VARS):
            xa, xb = trace_a.var(var), trace_b.var(var)
            if xa.shape != xb.shape:
                raise ValueError(f"population {name!r}, {var}: shapes differ, {xa.shape} vs {xb.shape}")
            diff = xa != xb
            compared += diff.size
            count = int(diff.sum())
            if not count:
                continue
            differing += count
            by_pop.setdefault(name, {})[var] = count
            sample, step, neuron = (int(i) for i in np.argwhere(diff)[0])
            key = (sample, step, pop_index, var_index, neuron)
            mismatch = Mismatch(
                sample, step, name, neuron, var, int(xa[sample, step, neuron]), int(xb[sample, step, neuron])
            )
            candidates.append((key, mismatch))
    first = min(candidates, key=lambda item: item[0])[1] if candidates else None
    return Comparison(a.backend, b.backend, compared, differing, by_pop, first)
