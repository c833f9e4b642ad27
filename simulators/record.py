"""What a simulator run leaves: spikes and states of every population at every step, the same for every backend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

RECORDED_VARS = ("spikes", "u", "v")


@dataclass(frozen=True, kw_only=True)
class PopulationTrace:
    """One population's recorded activity; every array has shape (samples, steps, neurons)."""

    spikes: np.ndarray
    """int8: 1 (or -1 for TernaryLIF) where the neuron spiked at that step."""
    u: np.ndarray
    """int64: synaptic current after the step."""
    v: np.ndarray
    """int64: membrane voltage after the step (after reset)."""

    def __post_init__(self) -> None:
        for name in RECORDED_VARS:
            array = np.asarray(getattr(self, name), dtype=np.int8 if name == "spikes" else np.int64)
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    def var(self, name: str) -> np.ndarray:
        """A recorded variable by name ('spikes', 'u' or 'v')."""
        return getattr(self, name)


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """A run of a deploy graph on one backend, keyed by population name (in graph order)."""

    backend: str
    populations: Mapping[str, PopulationTrace]
    wall_time_s: float = field(default=0.0, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "populations", MappingProxyType(dict(self.populations)))

    @property
    def num_samples(self) -> int:
        return next(iter(self.populations.values())).spikes.shape[0]

    @property
    def num_steps(self) -> int:
        return next(iter(self.populations.values())).spikes.shape[1]

    def predictions(self, population: str) -> np.ndarray:
        """Class per sample: argmax of the mean readout voltage (ties go to the lowest index).

        The integer sum over steps is compared, which has the same argmax as the mean and no rounding.
        """
        return np.argmax(self.populations[population].v.sum(axis=1), axis=1)

    def spike_counts(self, population: str) -> np.ndarray:
        """Spikes (absolute, for ternary) per sample and neuron, shape (samples, neurons)."""
        return np.abs(self.populations[population].spikes.astype(np.int64)).sum(axis=1)


def save_record(record: RunRecord, path) -> None:
    """Write a run record to a `.npz` file (one array per population and variable)."""
    arrays = {f"{pop}/{var}": trace.var(var) for pop, trace in record.populations.items() for var in RECORDED_VARS}
    np.savez_compressed(
        path, __backend__=np.array(record.backend), __order__=np.array(list(record.populations)), **arrays
    )


def load_record(path) -> RunRecord:
    """Read a run record written by `save_record`."""
    with np.load(path, allow_pickle=False) as data:
        order = [str(name) for name in data["__order__"]]
        pops = {name: PopulationTrace(**{var: data[f"{name}/{var}"] for var in RECORDED_VARS}) for name in order}
        return RunRecord(backend=str(data["__backend__"]), populations=pops)
