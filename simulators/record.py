"""What a simulator run leaves: spikes and states of every population at every step, the same for every backend."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from spikeport.errors import CorruptFileError
from spikeport.files import atomic_write, read_npz

RECORDED_VARS = ("spikes", "u", "v")
_WEIGHTS = "__weights__"  # learned weights are stored as "__weights__/<connection>"


@dataclass(frozen=True, kw_only=True)
class PopulationTrace:
    """One population's recorded activity; every array has shape (samples, steps, neurons)."""

    spikes: np.ndarray
    """int8: 1 (or -1 for TernaryLIF) where the neuron spiked at that step."""
    u: np.ndarray | None
    """int64: synaptic current after the step; None if the run did not record it (`run_reference(states=...)`)."""
    v: np.ndarray | None
    """int64: membrane voltage after the step (after reset); None if the run did not record it."""

    def __post_init__(self) -> None:
        for name in RECORDED_VARS:
            if name != "spikes" and getattr(self, name) is None:
                continue
            array = np.asarray(getattr(self, name), dtype=np.int8 if name == "spikes" else np.int64)
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    @property
    def has_states(self) -> bool:
        """True if u and v were recorded."""
        return self.u is not None and self.v is not None

    def var(self, name: str) -> np.ndarray:
        """A recorded variable by name ('spikes', 'u' or 'v'); ValueError if the run did not record it."""
        value = getattr(self, name)
        if value is None:
            raise ValueError(
                f"{name} was not recorded for this population: run the reference with states=True (or name the "
                "population in states=...) to record u and v"
            )
        return value


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """A run of a deploy graph on one backend, keyed by population name (in graph order)."""

    backend: str
    populations: Mapping[str, PopulationTrace]
    saturation: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Population or connection name -> variable -> how many values the chip's formats saturated, wrapped or
    clipped in this run (`spikeport.simulators.saturation`); empty when the backend does not count (Lava)."""
    weights: Mapping[str, np.ndarray] = field(default_factory=dict, compare=False)
    """Plastic connection name -> its learned weights after every epoch, int64 (epochs, n_out, n_in); empty for
    graphs that do not learn (`spikeport.simulators.learning`)."""
    wall_time_s: float = field(default=0.0, compare=False)
    precision: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Connection name -> the dtype its synaptic sums were computed in ("float32", "float64" or "int64"), each
    chosen so that every partial sum is exact (`spikeport.simulators.accumulate`); empty for backends that do not
    state it (Lava: int32/int64 numpy)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "populations", MappingProxyType(dict(self.populations)))
        learned = {str(k): np.asarray(w, dtype=np.int64) for k, w in dict(self.weights).items()}
        object.__setattr__(self, "weights", MappingProxyType(learned))
        counts = {str(name): MappingProxyType(_counts(name, v)) for name, v in dict(self.saturation).items()}
        object.__setattr__(self, "saturation", MappingProxyType(counts))
        object.__setattr__(
            self, "precision", MappingProxyType({str(k): str(v) for k, v in dict(self.precision).items()})
        )

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


def _counts(name: object, variables: object) -> dict[str, int]:
    """One node's saturation counts as {variable: int}, or ValueError if they are not non-negative integers."""
    if not isinstance(variables, Mapping):
        raise ValueError(f"saturation counts of {name!r} must be a mapping of variable to count, got {variables!r}")
    out = {}
    for var, n in variables.items():
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"saturation count {name!r} {var!r} must be a non-negative integer, got {n!r}")
        out[str(var)] = int(n)
    return out


def save_record(record: RunRecord, path) -> None:
    """Write a run record to a `.npz` file (one array per population and variable), atomically."""
    arrays = {
        f"{pop}/{var}": getattr(trace, var)
        for pop, trace in record.populations.items()
        for var in RECORDED_VARS
        if getattr(trace, var) is not None  # a population recorded without u and v stores spikes only
    }
    arrays |= {f"{_WEIGHTS}/{name}": w for name, w in record.weights.items()}

    def fill(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            np.savez_compressed(
                handle,
                __backend__=np.array(record.backend),
                __order__=np.array(list(record.populations)),
                __saturation__=np.array(json.dumps({name: dict(v) for name, v in record.saturation.items()})),
                **arrays,
            )

    atomic_write(path, fill)


def load_record(path) -> RunRecord:
    """Read a run record written by `save_record`; a damaged or foreign file raises `CorruptFileError`."""
    data = read_npz(path, "run record")

    def has(name: str) -> bool:  # u and v are both stored or both left out (`states`)
        return f"{name}/u" in data or f"{name}/v" in data

    try:
        order = [str(name) for name in data["__order__"]]
        backend = str(data["__backend__"])
        arrays = {f"{name}/{var}": data[f"{name}/{var}"] for name in order for var in RECORDED_VARS[:1]}
        arrays |= {f"{name}/{var}": data[f"{name}/{var}"] for name in order for var in RECORDED_VARS[1:] if has(name)}
    except KeyError as exc:
        raise CorruptFileError(f"run record {str(path)!r} lacks the array {exc}; was it written by spikeport?") from exc
    shapes = {key: array.shape for key, array in arrays.items()}
    if not order:
        raise CorruptFileError(f"run record {str(path)!r} holds no populations")
    for name in order:
        own = {shapes[key] for var in RECORDED_VARS if (key := f"{name}/{var}") in shapes}
        if len(own) != 1 or len(next(iter(own))) != 3:
            raise CorruptFileError(
                f"run record {str(path)!r}: population {name!r} has spikes/u/v of shapes {sorted(own)}, expected one "
                "(samples, steps, neurons) shape"
            )
    if len({shapes[f"{name}/spikes"][:2] for name in order}) != 1:
        raise CorruptFileError(f"run record {str(path)!r}: populations disagree on (samples, steps)")
    pops = {name: PopulationTrace(**{var: arrays.get(f"{name}/{var}") for var in RECORDED_VARS}) for name in order}
    learned = {key[len(_WEIGHTS) + 1 :]: data[key] for key in data if key.startswith(f"{_WEIGHTS}/")}
    if any(w.ndim != 3 for w in learned.values()):
        raise CorruptFileError(f"run record {str(path)!r}: learned weights must have shape (epochs, n_out, n_in)")
    return RunRecord(backend=backend, populations=pops, saturation=_load_saturation(data, path), weights=learned)


def _load_saturation(data: Mapping[str, np.ndarray], path) -> Mapping[str, Mapping[str, int]]:
    """The saturation counts of a record file; {} for files written before records carried them."""
    if "__saturation__" not in data:
        return {}
    try:
        counts = json.loads(str(data["__saturation__"]))
        if not isinstance(counts, dict):
            raise ValueError(f"expected a mapping of node to counts, got {counts!r}")
        return {name: _counts(name, variables) for name, variables in counts.items()}
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise CorruptFileError(f"run record {str(path)!r}: the saturation counts are damaged: {exc}") from exc
