"""Reader of NeuroBench's primate-reaching files (O'Doherty et al., Zenodo record 583331), MATLAB v7.3 = HDF5.

Layout, as h5py sees a MATLAB v7.3 file (MATLAB's column-major arrays appear transposed):

* `t` (1, T): sample times in seconds, every 4 ms (250 Hz).
* `spikes` (units_per_channel, channels): object references (MATLAB cell array, channels x units), each to a
  (1, n) or (n, 1) float64 vector of spike times in seconds; empty cells are references to a `uint64` (2,) zero
  array with the attribute `MATLAB_empty`. Column 0 of each channel holds the unsorted threshold crossings.
* `chan_names` (1, channels): references to uint16 character arrays (the channel names, e.g. "M1 001").
* `finger_pos` (3 or 6, T): fingertip position (z, -x, -y[, azimuth, elevation, roll]) in cm.
* `cursor_pos` (2, T) and `target_pos` (2, T): cursor and target position (x, y) in mm.

Behaviour: `pos_x = -finger_pos[1]`, `pos_y = -finger_pos[2]` (cm); velocity and acceleration by backward
differences (`kinematics_from_position`), as the files hold positions only. Trials: a trial starts at every sample
where `target_pos` changes (a new reach target) and ends where the next one starts. Units: by default all units
of a channel are merged into one multi-unit train per channel, as NeuroBench's loader does without spike sorting
(`merge_units=False` keeps each non-empty sorted or unsorted unit).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikeport.errors import InputDataError
from spikeport.train.data.intracortical.recording import (
    KINEMATICS,
    SYNTHETIC_MARK,
    Recording,
    kinematics_from_position,
)

__all__ = ["read_neurobench"]

REQUIRED = ("t", "spikes", "chan_names", "finger_pos", "target_pos")
"""Datasets the reader needs; a file without one is rejected naming it."""


def read_neurobench(path: str | Path, *, merge_units: bool = True, subject: str | None = None) -> Recording:
    """Read one NeuroBench primate-reaching session (MATLAB v7.3) into a `Recording`.

    Args:
        path: the `.mat` file.
        merge_units: one multi-unit train per channel (True, NeuroBench's default) or one train per unit.
        subject: subject id; None: the file name's prefix before the first "_" (e.g. "indy").

    Raises:
        InputDataError: the file is not readable HDF5 (truncated, not v7.3), lacks a field, or a field has the
            wrong shape or a time base that does not match `t`; the message names the file and the field.
    """
    import h5py

    path = Path(path)
    field = ""
    try:
        with h5py.File(path, "r") as f:
            for field in REQUIRED:
                if field not in f:
                    raise InputDataError(f"{path}: NeuroBench file lacks the field {field!r} "
                                         f"(needs {', '.join(REQUIRED)}); is it a primate-reaching .mat file?")
            synthetic = bool(f.attrs.get(SYNTHETIC_MARK, 0))
            field = "t"
            t = _matrix(f, "t", path).reshape(-1)
            field = "finger_pos"
            finger = _rows_by_time(f, "finger_pos", t.size, path, min_rows=3)
            field = "target_pos"
            target = _rows_by_time(f, "target_pos", t.size, path, min_rows=2)
            cursor = _rows_by_time(f, "cursor_pos", t.size, path, min_rows=2) if "cursor_pos" in f else None
            field = "chan_names"
            channels = [_char_array(f[ref]) for ref in np.asarray(f["chan_names"][()]).reshape(-1)]
            field = "spikes"
            names, trains = _spike_trains(f, channels, merge_units, path)
    except InputDataError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        part = f"field {field!r} of " if field else ""
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputDataError(f"{path}: cannot read {part}the MATLAB v7.3 file (truncated or damaged?): {msg}") from exc
    if t.size < 2 or np.any(np.diff(t) <= 0):
        raise InputDataError(f"{path}: field 't' must hold >= 2 strictly increasing times in seconds")
    kin = kinematics_from_position(-finger[:, 1:3], t)
    behaviour, behaviour_names = [kin], list(KINEMATICS)
    if cursor is not None:
        behaviour.append(cursor[:, :2])
        behaviour_names += ["cursor_pos_x", "cursor_pos_y"]
    behaviour.append(target[:, :2])
    behaviour_names += ["target_pos_x", "target_pos_y"]
    starts, stops = _trials_from_targets(target[:, :2], t)
    return Recording(
        source="neurobench", path=str(path), subject=subject or path.stem.split("_")[0], session=path.stem,
        unit_names=tuple(names), spike_times=tuple(trains), time_s=t,
        behaviour=np.concatenate(behaviour, axis=1), behaviour_names=tuple(behaviour_names),
        trial_start_s=starts, trial_stop_s=stops, synthetic=synthetic,
        description=f"{'SYNTHETIC ' if synthetic else ''}NeuroBench primate reaching {path.name}: {len(names)} "
                    f"{'channels' if merge_units else 'units'}, {t[-1] - t[0]:.1f} s, {starts.size} reaches",
    )


def _matrix(f, name: str, path: Path) -> np.ndarray:
    data = f[name]
    if not hasattr(data, "dtype") or data.dtype.kind not in "fiu":
        raise InputDataError(f"{path}: field {name!r} must be a numeric array, found {type(data).__name__}")
    return np.asarray(data[()], dtype=np.float64)


def _rows_by_time(f, name: str, n_samples: int, path: Path, *, min_rows: int) -> np.ndarray:
    """A (rows, T) MATLAB (T x rows) matrix as (T, rows), checked against the time base."""
    m = _matrix(f, name, path)
    if m.ndim != 2 or m.shape[0] < min_rows:
        raise InputDataError(f"{path}: field {name!r} has shape {m.shape} in HDF5 order; expected "
                             f"(>= {min_rows}, T), i.e. a MATLAB T x {min_rows} matrix")
    if m.shape[1] != n_samples:
        raise InputDataError(f"{path}: field {name!r} has {m.shape[1]} samples but 't' has {n_samples}; "
                             "the time base does not match")
    return m.T


def _char_array(dataset) -> str:
    codes = np.asarray(dataset[()]).reshape(-1)
    return "".join(chr(int(c)) for c in codes).strip()


def _is_empty(dataset) -> bool:
    return bool(dataset.attrs.get("MATLAB_empty", 0)) or dataset.size == 0


def _spike_trains(f, channels: list[str], merge_units: bool, path: Path) -> tuple[list[str], list[np.ndarray]]:
    refs = f["spikes"]
    if refs.dtype.kind != "O" or refs.ndim != 2:
        raise InputDataError(f"{path}: field 'spikes' must be a MATLAB cell array (object references), found "
                             f"{refs.dtype} of shape {refs.shape}")
    table = np.asarray(refs[()])
    if table.shape[1] != len(channels):
        if table.shape[0] == len(channels):
            table = table.T  # a file written without MATLAB's transpose
        else:
            raise InputDataError(f"{path}: field 'spikes' has shape {table.shape} but 'chan_names' names "
                                 f"{len(channels)} channels")
    names, trains = [], []
    for ch, channel in enumerate(channels):
        unit_trains = []
        for unit in range(table.shape[0]):
            data = f[table[unit, ch]]
            if _is_empty(data):
                continue
            if data.dtype.kind not in "fiu" or min(data.shape, default=1) > 1:
                raise InputDataError(f"{path}: field 'spikes' cell ({ch + 1}, {unit + 1}) must be a vector of "
                                     f"spike times, found {data.dtype} of shape {data.shape}")
            times = np.asarray(data[()], dtype=np.float64).reshape(-1)
            if merge_units:
                unit_trains.append(times)
            else:
                names.append(f"{channel} u{unit}")
                trains.append(np.sort(times))
        if merge_units:
            names.append(channel)
            trains.append(np.sort(np.concatenate(unit_trains)) if unit_trains else np.zeros(0))
    return names, trains


def _trials_from_targets(target: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One trial per target: it starts where `target_pos` changes and ends where the next target appears."""
    changed = np.flatnonzero(np.any(np.abs(np.diff(target, axis=0)) > 1e-9, axis=1)) + 1
    first = np.concatenate([[0], changed])
    dt_end = t[-1] + (t[-1] - t[-2])
    starts = t[first]
    stops = np.concatenate([t[first[1:]], [dt_end]])
    return starts, stops
