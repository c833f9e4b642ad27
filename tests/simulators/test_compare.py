"""`compare_runs`: verdicts, counts, and the first mismatch by sample, step, layer order, variable and neuron."""

from __future__ import annotations

import numpy as np
import pytest

from spikeport.errors import RecordMismatchError
from spikeport.simulators import PopulationTrace, RunRecord, compare_runs


def _record(backend: str, traces: dict[str, dict[str, np.ndarray]]) -> RunRecord:
    return RunRecord(backend=backend, populations={k: PopulationTrace(**v) for k, v in traces.items()})


def _zeros(samples: int = 2, steps: int = 5, neurons: int = 3) -> dict[str, np.ndarray]:
    return {name: np.zeros((samples, steps, neurons), dtype=np.int64) for name in ("spikes", "u", "v")}


def test_identical_runs_are_bit_exact():
    a = _record("reference", {"h": _zeros(), "o": _zeros()})
    b = _record("lava", {"h": _zeros(), "o": _zeros()})
    result = compare_runs(a, b)
    assert result.bit_exact and result.first_mismatch is None
    assert result.values_compared == 2 * 3 * (2 * 5 * 3)
    assert result.summary().startswith("BIT-EXACT: reference vs lava")


def test_first_mismatch_is_the_earliest_step_and_names_layer_neuron_and_values():
    hidden, out = _zeros(), _zeros()
    out["v"][0, 1, 2] = 7  # sample 0, step 1, later layer
    hidden["u"][0, 3, 0] = -4  # sample 0, step 3, earlier layer: later in time, so not first
    hidden["spikes"][1, 0, 1] = 1  # a later sample
    b = _record("lava", {"h": hidden, "o": out})
    result = compare_runs(_record("reference", {"h": _zeros(), "o": _zeros()}), b)
    assert not result.bit_exact and result.values_differing == 3
    first = result.first_mismatch
    assert (first.sample, first.step, first.population, first.neuron, first.variable) == (0, 1, "o", 2, "v")
    assert (first.value_a, first.value_b) == (0, 7)
    text = result.summary()
    assert "MISMATCH" in text and "step 1, layer 'o', neuron 2, v: reference=0 lava=7" in text
    assert result.differing_by_population == {"h": {"spikes": 1, "u": 1}, "o": {"v": 1}}


def test_records_of_different_populations_raise_naming_both_layouts():
    a = _record("reference", {"h": _zeros(), "o": _zeros()})
    b = _record("lava", {"h": _zeros(), "x": _zeros(neurons=4)})
    with pytest.raises(RecordMismatchError) as info:
        compare_runs(a, b)
    message = str(info.value)
    assert "'reference' {'h': (2, 5, 3), 'o': (2, 5, 3)}" in message
    assert "'lava' {'h': (2, 5, 3), 'x': (2, 5, 4)}" in message
    assert "same deploy graph" in message


def test_records_of_different_shapes_raise_naming_population_variable_and_shapes():
    a = _record("reference", {"h": _zeros(steps=5)})
    b = _record("lava", {"h": _zeros(steps=6)})
    with pytest.raises(RecordMismatchError, match=r"population 'h' spikes has shape \(2, 5, 3\) in 'reference' but "
                       r"\(2, 6, 3\) in 'lava'"):  # fmt: skip
        compare_runs(a, b)
