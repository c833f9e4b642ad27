"""Reader of intracortical NWB files (e.g. DANDI 000128, MC_Maze of the Neural Latents Benchmark), via pynwb.

Layout read:
* `units` table with a `spike_times` column (seconds), one row per unit;
* behaviour: a hand position and/or velocity time series, looked up by name (`hand_pos`, `hand_vel`, then
  `finger_*`, `cursor_*`) in the `behavior` processing module (directly, or inside a `Position` /
  `BehavioralTimeSeries` container) and then in `acquisition`; data (T, >= 2), time base from `timestamps` or
  `starting_time` + `rate`. Velocity comes from the velocity series when present, otherwise from position by
  backward differences; position is integrated from velocity only when no position series exists;
* `trials` table (`start_time`, `stop_time`; `target_direction` kept when present, NaN elsewhere).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from spikeport.errors import InputDataError
from spikeport.train.data.intracortical.recording import (
    KINEMATICS,
    SYNTHETIC_NOTE,
    Recording,
    kinematics_from_position,
)

__all__ = ["read_nwb"]

EFFECTORS = ("hand", "finger", "cursor")


def read_nwb(path: str | Path) -> Recording:
    """Read an NWB file with units, a hand (or finger/cursor) kinematic series and trials into a `Recording`.

    Raises:
        InputDataError: unreadable or truncated file, no units table or `spike_times`, no position or velocity
            series, a series whose timestamps do not match its data, or no trials table; names file and field.
    """
    from pynwb import NWBHDF5IO

    path = Path(path)
    field = ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pynwb warns about cached namespaces and missing optional fields
            with NWBHDF5IO(str(path), "r") as io:
                nwb = io.read()
                field = "units"
                names, trains = _units(nwb, path)
                field = "behavior"
                t, pos, vel, effector = _kinematics(nwb, path)
                field = "trials"
                starts, stops, info = _trials(nwb, path)
                subject = getattr(getattr(nwb, "subject", None), "subject_id", None) or path.stem
                session = nwb.session_id or nwb.identifier or path.stem
                synthetic = (nwb.notes or "") == SYNTHETIC_NOTE
    except InputDataError:
        raise
    except Exception as exc:  # pynwb/hdmf/h5py raise many types on damaged files; each becomes one line here
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        part = f"field {field!r} of " if field else ""
        raise InputDataError(f"{path}: cannot read {part}the NWB file (truncated or damaged?): {msg}") from exc
    kin = kinematics_from_position(pos, t)
    if vel is not None:
        kin[:, 2:4] = vel
        kin[1:, 4:6] = np.diff(vel, axis=0) / np.diff(t)[:, None]
        kin[0, 4:6] = kin[1, 4:6]
    return Recording(
        source="nwb", path=str(path), subject=str(subject), session=str(session), unit_names=tuple(names),
        spike_times=tuple(trains), time_s=t, behaviour=kin, behaviour_names=KINEMATICS,
        trial_start_s=starts, trial_stop_s=stops, trial_info=info, synthetic=synthetic,
        description=f"{'SYNTHETIC ' if synthetic else ''}NWB {path.name}: {len(names)} units, {effector} kinematics, "
                    f"{starts.size} trials",
    )


def _units(nwb, path: Path) -> tuple[list[str], list[np.ndarray]]:
    units = nwb.units
    if units is None or len(units) == 0:
        raise InputDataError(f"{path}: NWB file has no 'units' table (spike times per unit)")
    if "spike_times" not in units.colnames:
        raise InputDataError(f"{path}: NWB 'units' table lacks the column 'spike_times'")
    ids = list(units.id[:])
    trains = [np.asarray(units.get_unit_spike_times(i), dtype=np.float64) for i in range(len(ids))]
    return [f"unit{u}" for u in ids], trains


def _series_candidates(nwb):
    behavior = nwb.processing.get("behavior") if nwb.processing else None
    containers = list(behavior.data_interfaces.values()) if behavior is not None else []
    containers += list(nwb.acquisition.values())
    for item in containers:
        yield item.name, item
        for attr in ("spatial_series", "time_series"):
            yield from (getattr(item, attr, None) or {}).items()


def _kinematics(nwb, path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str]:
    series = {}
    for name, item in _series_candidates(nwb):
        if hasattr(item, "data") and name not in series:
            series[name] = item
    for effector in EFFECTORS:
        pos_s, vel_s = series.get(f"{effector}_pos"), series.get(f"{effector}_vel")
        if pos_s is None and vel_s is None:
            continue
        main = pos_s if pos_s is not None else vel_s
        t, main_data = _timed(main, path)
        if pos_s is not None and vel_s is not None:
            t_vel, vel = _timed(vel_s, path)
            if t_vel.shape != t.shape or np.max(np.abs(t_vel - t)) > 1e-9:
                vel = np.stack([np.interp(t, t_vel, vel[:, k]) for k in range(2)], axis=1)
            return t, main_data, vel, effector
        if pos_s is not None:
            return t, main_data, None, effector
        pos = np.concatenate([np.zeros((1, 2)), np.cumsum(main_data[1:] * np.diff(t)[:, None], axis=0)])
        return t, pos, main_data, effector
    wanted = [f"{e}_{k}" for e in EFFECTORS for k in ("pos", "vel")]
    raise InputDataError(f"{path}: NWB file has no behaviour series named one of {wanted} in "
                         f"processing['behavior'] or acquisition; found {sorted(series)}")


def _timed(series, path: Path) -> tuple[np.ndarray, np.ndarray]:
    data = np.asarray(series.data[:], dtype=np.float64)
    if data.ndim != 2 or data.shape[1] < 2:
        raise InputDataError(f"{path}: NWB series {series.name!r} has shape {data.shape}; expected (T, >= 2)")
    if series.timestamps is not None:
        t = np.asarray(series.timestamps[:], dtype=np.float64)
    elif series.rate:
        t = float(series.starting_time or 0.0) + np.arange(data.shape[0]) / float(series.rate)
    else:
        raise InputDataError(f"{path}: NWB series {series.name!r} has neither timestamps nor a rate")
    if t.shape != (data.shape[0],):
        raise InputDataError(f"{path}: NWB series {series.name!r} has {data.shape[0]} samples but {t.size} "
                             "timestamps; the time base does not match")
    return t, data[:, :2]


def _trials(nwb, path: Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    trials = nwb.trials
    if trials is None or len(trials) == 0:
        raise InputDataError(f"{path}: NWB file has no 'trials' table (start_time, stop_time per trial)")
    starts = np.asarray(trials["start_time"][:], dtype=np.float64)
    stops = np.asarray(trials["stop_time"][:], dtype=np.float64)
    order = np.argsort(starts, kind="stable")
    info = {}
    if "target_direction" in trials.colnames:
        info["target_direction"] = np.asarray(trials["target_direction"][:], dtype=np.float64)[order]
    return starts[order], stops[order], info
