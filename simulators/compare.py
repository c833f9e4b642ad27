"""Comparing two runs of the same graph: bit-exact, or the first mismatch with everything needed to find it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from spikeport.errors import RecordMismatchError
from spikeport.simulators import saturation as sat
from spikeport.simulators.record import RECORDED_VARS, RunRecord


@dataclass(frozen=True)
class Mismatch:
    """The earliest differing value: by sample, then step, then population order (the first run's), variable and
    neuron."""

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
class WeightMismatch:
    """The earliest differing learned weight: by epoch, then connection order, row (post neuron), column (pre)."""

    connection: str
    epoch: int
    """0-based epoch (the weights after the epoch ending at global step (epoch + 1) * t_epoch)."""
    row: int
    column: int
    value_a: int
    value_b: int

    def describe(self, name_a: str, name_b: str) -> str:
        return (
            f"first differing synapse: connection {self.connection!r}, epoch {self.epoch}, row {self.row}, "
            f"column {self.column}: {name_a}={self.value_a} {name_b}={self.value_b}"
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
    saturation: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """The saturation counts of the run that has them (a's if both do; {} if neither counts)."""
    saturation_counted_by: str | None = None
    """The backend whose run counted `saturation` (None if neither did)."""
    weights_compared: int = 0
    """Learned weights compared (every synapse of every plastic connection after every epoch)."""
    weights_differing: int = 0
    first_weight_mismatch: WeightMismatch | None = None

    @property
    def bit_exact(self) -> bool:
        return self.values_differing == 0 and self.weights_differing == 0

    def saturation_line(self) -> str:
        """One line: what saturated, wrapped or was clipped, by whom it was counted and which runs it describes.

        Lava's stock processes count nothing, so the reference's counts describe a Lava run only when the two are
        bit-exact (every value equal, so every saturation happened in both); the line says which case holds.
        """
        counted_by = self.saturation_counted_by
        if counted_by is None:
            return "saturation: not counted (neither run counts it; the reference simulator does)"
        other = self.name_b if counted_by == self.name_a else self.name_a
        if self.bit_exact:
            scope = f"counted by {counted_by}; {other} is bit-exact with it, so they hold for both"
        else:
            scope = f"counted by {counted_by} only; {other} differs and does not count"
        return f"saturation ({scope}): {sat.describe(self.saturation)}"

    def __str__(self) -> str:
        return self.summary()

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
        if self.weights_compared:
            lines.append(
                f"  learned weights: {self.weights_compared} values compared (after every epoch), "
                f"{self.weights_differing} differ"
            )
        if self.first_weight_mismatch is not None:
            lines.append("  " + self.first_weight_mismatch.describe(self.name_a, self.name_b))
        lines.append("  " + self.saturation_line())
        return "\n".join(lines)


def _layout(record: RunRecord) -> dict[str, tuple[int, ...]]:
    """Population name -> spike-trace shape (samples, steps, neurons), in the record's order."""
    return {name: tuple(trace.spikes.shape) for name, trace in record.populations.items()}


def compare_runs(a: RunRecord, b: RunRecord) -> Comparison:
    """Compare spikes, u and v of every population at every step; shapes and populations must agree.

    Populations are matched by name, not by position: two backends may record them in different orders (graph order,
    or the order a simulator computes them in); `a`'s order decides which of two simultaneous mismatches comes first.

    Raises:
        RecordMismatchError: the records hold different populations, or a trace's shape differs; both happen when
            the runs come from different graphs or different inputs.
    """
    if set(a.populations) != set(b.populations):
        raise RecordMismatchError(
            f"cannot compare the {a.backend!r} and {b.backend!r} runs: they record different populations "
            f"(name: (samples, steps, neurons)), {a.backend!r} {_layout(a)} vs {b.backend!r} {_layout(b)}; "
            "run both on the same deploy graph, recording every population"
        )
    compared = differing = 0
    by_pop: dict[str, dict[str, int]] = {}
    candidates: list[tuple[tuple[int, int, int, int, int], Mismatch]] = []
    for pop_index, (name, trace_a) in enumerate(a.populations.items()):
        trace_b = b.populations[name]
        for var_index, var in enumerate(RECORDED_VARS):
            xa, xb = trace_a.var(var), trace_b.var(var)
            if xa.shape != xb.shape:
                raise RecordMismatchError(
                    f"cannot compare the {a.backend!r} and {b.backend!r} runs: population {name!r} {var} has shape "
                    f"{xa.shape} in {a.backend!r} but {xb.shape} in {b.backend!r} (samples, steps, neurons); "
                    "run both on the same inputs and deploy graph"
                )
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
    counted = a if a.saturation else b if b.saturation else None
    weights_compared, weights_differing, first_weight = _compare_weights(a, b)
    return Comparison(
        a.backend,
        b.backend,
        compared,
        differing,
        by_pop,
        first,
        saturation={name: dict(v) for name, v in counted.saturation.items()} if counted else {},
        saturation_counted_by=counted.backend if counted else None,
        weights_compared=weights_compared,
        weights_differing=weights_differing,
        first_weight_mismatch=first_weight,
    )


def _compare_weights(a: RunRecord, b: RunRecord) -> tuple[int, int, WeightMismatch | None]:
    """(values compared, values differing, first mismatch) over the learned weights of both runs."""
    layout_a = {name: w.shape for name, w in a.weights.items()}
    layout_b = {name: w.shape for name, w in b.weights.items()}
    if layout_a != layout_b:
        raise RecordMismatchError(
            f"cannot compare the learned weights of the {a.backend!r} and {b.backend!r} runs: (epochs, n_out, n_in) "
            f"per connection {layout_a} vs {layout_b}; run both on the same plastic graph and inputs"
        )
    compared = differing = 0
    candidates = []
    for index, (name, wa) in enumerate(a.weights.items()):
        diff = wa != b.weights[name]
        compared += diff.size
        differing += int(diff.sum())
        if diff.any():
            epoch, row, column = (int(i) for i in np.argwhere(diff)[0])
            where = (epoch, row, column)
            mismatch = WeightMismatch(name, epoch, row, column, int(wa[where]), int(b.weights[name][where]))
            candidates.append(((epoch, index), mismatch))
    first = min(candidates, key=lambda item: item[0])[1] if candidates else None
    return compared, differing, first
