"""Reader of the Miller lab's "TrialData" MATLAB structs (MAT v5, read with scipy.io.loadmat).

Layout: one variable (usually `trial_data`) holding a 1 x n_trials struct array, one struct per trial, with
* `M1_spikes` (bins x units): spike counts per bin (another area's `<area>_spikes` with `area=`);
* `pos`, `vel`, `acc` (bins x 2): hand kinematics sampled at the same bins;
* `bin_size` (scalar, seconds; e.g. 0.01 or 0.05), equal in every trial;
* `target_direction` (scalar, radians; NaN where undefined);
* `idx_*` (scalars): 1-based bin indices of events (`idx_trial_start`, `idx_go_cue`, `idx_movement_on`, ...),
  NaN or empty where an event did not happen; converted to 0-based here (-1: absent);
* optional `monkey`, `date`, `<area>_unit_guide` (units x 2: channel, unit).

Trials hold their own bins; they are joined end to end on one clock (bin b of the joined data starts at
b * bin_size) and each is a separate segment, so causal windows never reach into the previous trial.
The file is read with `squeeze_me=True, struct_as_record=False` (attribute access); the shapes that squeezing
makes ambiguous (one trial, one unit, one bin) are restored from the trial's `pos` length.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spikeport.errors import InputDataError
from spikeport.train.data.intracortical.recording import KINEMATICS, SYNTHETIC_MARK, Recording

__all__ = ["read_trialdata"]

KIN_FIELDS = ("pos", "vel", "acc")


def read_trialdata(path: str | Path, *, area: str = "M1", variable: str | None = None) -> Recording:
    """Read a TrialData `.mat` file (MAT v5) into a `Recording` with binned counts.

    Args:
        path: the `.mat` file.
        area: brain area whose `<area>_spikes` field holds the counts.
        variable: name of the struct array in the file; None: the first struct array that has trial fields.

    Raises:
        InputDataError: unreadable or truncated file, no struct array, a missing field, or fields whose bin
            counts disagree; the message names the file, the trial and the field.
    """
    import scipy.io

    path = Path(path)
    try:
        mat = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    except (OSError, ValueError, TypeError, EOFError, NotImplementedError, IndexError) as exc:
        raise InputDataError(f"{path}: cannot read the MAT v5 file (truncated, damaged or saved as v7.3?): "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    trials = _find_trials(mat, variable, path)
    synthetic = bool(np.asarray(mat.get(SYNTHETIC_MARK, 0)).reshape(-1)[:1].sum())
    spikes_field = f"{area}_spikes"
    counts, kin, starts, stops, segment, bin_sizes = [], [], [], [], [], []
    events: dict[str, list[float]] = {}
    directions = []
    offset = 0
    for i, trial in enumerate(trials):
        where = f"{path}: trial {i + 1}"
        pos = _kinematic(trial, "pos", where, None)
        n = pos.shape[0]
        kin.append(np.concatenate([pos] + [_kinematic(trial, k, where, n) for k in KIN_FIELDS[1:]], axis=1))
        counts.append(_counts(trial, spikes_field, where, n))
        bin_sizes.append(_scalar(trial, "bin_size", where, required=True))
        directions.append(_scalar(trial, "target_direction", where, required=False))
        for name in (f for f in trial._fieldnames if f.startswith("idx_")):
            value = _scalar(trial, name, where, required=False)
            if not np.isnan(value) and not 1 <= value <= n:
                raise InputDataError(f"{where}: field {name!r} = {value:g} is outside the trial's 1..{n} bins "
                                     "(idx_* are 1-based MATLAB indices)")
            events.setdefault(name, [np.nan] * i).append(value - 1)
        for values in events.values():
            if len(values) < i + 1:
                values.append(np.nan)
        starts.append(offset)
        stops.append(offset + n)
        segment.append(np.full(n, i, dtype=np.int64))
        offset += n
    bin_s = bin_sizes[0]
    if not bin_s > 0 or any(abs(b - bin_s) > 1e-12 for b in bin_sizes):
        raise InputDataError(f"{path}: field 'bin_size' must be one positive value in every trial, found "
                             f"{sorted(set(bin_sizes))[:4]}")
    units = counts[0].shape[1]
    bad = next((i for i, c in enumerate(counts) if c.shape[1] != units), None)
    if bad is not None:
        raise InputDataError(f"{path}: trial {bad + 1}: field {spikes_field!r} has {counts[bad].shape[1]} units, "
                             f"trial 1 has {units}")
    info = {"target_direction": np.asarray(directions, dtype=np.float64)}
    info.update({k: np.where(np.isnan(v), -1, v).astype(np.int64) for k, v in
                 ((k, np.asarray(v, dtype=np.float64)) for k, v in events.items())})
    first = trials[0]
    return Recording(
        source="trialdata", path=str(path), subject=_text(first, "monkey") or path.stem,
        session=_text(first, "date") or path.stem, unit_names=_unit_names(first, area, units),
        counts=np.concatenate(counts, axis=0), count_bin_s=float(bin_s),
        time_s=np.arange(offset, dtype=np.float64) * bin_s, behaviour=np.concatenate(kin, axis=0),
        behaviour_names=KINEMATICS, trial_start_s=np.asarray(starts) * bin_s, trial_stop_s=np.asarray(stops) * bin_s,
        segment_of_sample=np.concatenate(segment), trial_info=info, synthetic=synthetic,
        description=f"{'SYNTHETIC ' if synthetic else ''}TrialData {path.name}: {len(trials)} trials, {units} {area} "
                    f"units, {bin_s * 1e3:g} ms bins",
    )


def _find_trials(mat: dict, variable: str | None, path: Path) -> list:
    names = [variable] if variable else [k for k in mat if not k.startswith("__") and k != SYNTHETIC_MARK]
    for name in names:
        if name not in mat:
            raise InputDataError(f"{path}: no variable {name!r} in the file; it holds "
                                 f"{[k for k in mat if not k.startswith('__')]}")
        value = mat[name]
        items = [value] if _is_struct(value) else list(np.asarray(value, dtype=object).reshape(-1))
        if items and all(_is_struct(t) for t in items):
            return items
    raise InputDataError(f"{path}: no struct array of trials found (expected a variable such as 'trial_data' "
                         "holding one struct per trial)")


def _is_struct(value) -> bool:
    return hasattr(value, "_fieldnames")


def _get(trial, name: str, where: str):
    if name not in trial._fieldnames:
        raise InputDataError(f"{where}: TrialData struct lacks the field {name!r}")
    return getattr(trial, name)


def _kinematic(trial, name: str, where: str, n: int | None) -> np.ndarray:
    value = np.asarray(_get(trial, name, where), dtype=np.float64)
    if value.ndim == 1 and value.size == 2 and n in (None, 1):
        value = value.reshape(1, 2)  # a one-bin trial, squeezed
    if value.ndim != 2 or value.shape[1] < 2:
        raise InputDataError(f"{where}: field {name!r} has shape {value.shape}; expected (bins, 2)")
    if n is not None and value.shape[0] != n:
        raise InputDataError(f"{where}: field {name!r} has {value.shape[0]} bins but 'pos' has {n}; "
                             "the time base does not match")
    return value[:, :2]


def _counts(trial, name: str, where: str, n: int) -> np.ndarray:
    value = _get(trial, name, where)
    value = np.asarray(value.toarray() if hasattr(value, "toarray") else value)  # MATLAB sparse -> dense
    if value.dtype.kind not in "fiub":
        raise InputDataError(f"{where}: field {name!r} must hold numeric counts, found {value.dtype}")
    if value.ndim == 1:  # squeezed: one unit (bins,) or one bin (units,)
        value = value.reshape(n, 1) if value.size == n and n > 1 else value.reshape(1, -1)
    elif value.ndim == 0:
        value = value.reshape(1, 1)
    if value.ndim != 2 or value.shape[0] != n:
        raise InputDataError(f"{where}: field {name!r} has shape {value.shape} but 'pos' has {n} bins; "
                             "expected (bins, units) counts on the same time base")
    if np.any(value < 0) or not np.all(np.isfinite(value)) or np.any(value != np.round(value)):
        raise InputDataError(f"{where}: field {name!r} must hold non-negative integer spike counts")
    return value.astype(np.int64)


def _scalar(trial, name: str, where: str, *, required: bool) -> float:
    if name not in trial._fieldnames:
        if required:
            raise InputDataError(f"{where}: TrialData struct lacks the field {name!r}")
        return float("nan")
    value = np.asarray(getattr(trial, name), dtype=np.float64).reshape(-1)
    if value.size == 0:
        return float("nan")
    if value.size != 1:
        raise InputDataError(f"{where}: field {name!r} must be a scalar, found {value.size} values")
    return float(value[0])


def _text(trial, name: str) -> str:
    value = getattr(trial, name, None) if name in trial._fieldnames else None
    return value.strip() if isinstance(value, str) else ""


def _unit_names(trial, area: str, units: int) -> tuple[str, ...]:
    guide = getattr(trial, f"{area}_unit_guide", None) if f"{area}_unit_guide" in trial._fieldnames else None
    if guide is not None:
        g = np.asarray(guide).reshape(-1, 2) if np.asarray(guide).size == 2 * units else None
        if g is not None:
            return tuple(f"{area} ch{int(c)}u{int(u)}" for c, u in g)
    return tuple(f"{area} unit{k}" for k in range(units))
