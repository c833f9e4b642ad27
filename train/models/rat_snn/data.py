"""RAT-SNN data: a run's sessions as causal spike windows (`spikeport.train.data.intracortical`), and new sessions.

`make_reaching_data` (the family's data hook) loads the run's sessions (`--data synthetic|trialdata|neurobench|nwb`),
bins them at `BIN_S` (or a whole multiple of a file's count bin, `bin_width`), cuts causal windows of `num_steps`
bins and splits every session by trials in time order (first 1 - test_fraction train, the rest test; no trial on
both sides). Targets are the velocity at each window's last bin divided by the training targets' standard deviation
(`info["y_scale"]`), so both outputs weigh alike in the loss and the readout's range is about one. Training windows
are thinned evenly to at most `MAX_TRAIN`, test windows to `MAX_TEST` (the pipeline simulates the test split on
Lava, one window per run); everything needed to rebuild the full split is kept in `info`, so that `evaluate`
reloads every window and trains its baselines on the same split.

Synthetic runs generate `SESSIONS_PER_SUBJECT` sessions per subject (`--subjects`-many subjects, `--trials-per-class`
trials each) with the generator's drift between sessions. `new_session` is the session `adapt` adapts to: for a
synthetic run, the next session of the first subject, generated from the run's seed (one more step of drift, never
seen in training), with `HELDOUT_TRIALS` trials; for a recorded run, the first recording under `--data-path`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from spikeport.checks import max_payload
from spikeport.errors import InputDataError
from spikeport.train.models.family import RunConfig, TaskData

__all__ = [
    "BIN_S", "HELDOUT_TRIALS", "INPUT_MESSAGE_BITS", "MAX_TEST", "MAX_TRAIN", "SESSIONS_PER_SUBJECT", "bin_width",
    "clipped_counts", "make_reaching_data", "network_inputs", "new_session", "reload_split", "thin",
]  # fmt: skip

BIN_S = 0.02
"""Time bin, seconds (NeuroBench's primate-reaching task also bins spikes for its decoders)."""
MAX_TRAIN, MAX_TEST = 20000, 24
"""At most this many training windows (the default SYNTHETIC run has about 17300) and test windows in data.npz."""
SESSIONS_PER_SUBJECT = 3
"""Synthetic sessions per subject: pretraining goes session -> subject -> all subjects over them."""
HELDOUT_TRIALS = 90
"""Trials of the held-out synthetic session (about 3 minutes): `--minutes` 1 adapts, the rest evaluates."""
N_UNITS = 24
"""Units of a synthetic session."""

SYNTHETIC_OVERRIDES: dict[str, Any] = {}
"""Further `SyntheticReachingConfig` fields for every synthetic session made here (empty: the generator's defaults).
Tests shorten trials with it (rest_s, hold_s, move_s); a run records them in `info["synthetic_overrides"]`, and
adapt / evaluate regenerate its sessions with the recorded values."""


INPUT_MESSAGE_BITS = 4
"""The network reads each unit's spike count per bin as a graded spike (payload 0..15, Loihi 2's graded spikes;
larger counts are clipped and their share reported in `info["clipped_fraction"]`). Binary input (0/1 per 20 ms bin)
loses information: ridge on binary windows of the SYNTHETIC held-out session scores 0.693 mean R² against 0.737 on
counts, and the SNN gained 0.024 from counts (docs/rat-snn.md). Only the encoding layer multiplies by the payload."""


def network_inputs(counts: np.ndarray, info: Mapping[str, Any]) -> np.ndarray:
    """Spike counts as the run's network reads them: clipped to the graded payload range of
    `info["input_message_bits"]` (runs without it read binary spikes: 1 where a unit fired at least once)."""
    return np.minimum(counts, max_payload(int(info.get("input_message_bits", 0)))).astype(np.uint8)


def clipped_counts(counts: np.ndarray, info: Mapping[str, Any]) -> list[str]:
    """The line reporting counts that `network_inputs` clips to the graded payload's range (a saturation), or none."""
    top = max_payload(int(info.get("input_message_bits", 0)))
    n = int(np.count_nonzero(np.asarray(counts) > top))
    if not n:
        return []
    return [f"  SATURATED: {n} spike counts above {top} per bin clipped to {top} (the graded input's range)"]


def thin(n: int, limit: int) -> np.ndarray:
    """At most `limit` indices spread evenly over range(n), in order."""
    return np.unique(np.linspace(0, n - 1, min(n, limit)).round().astype(np.int64)) if n else np.arange(0)


def bin_width(recordings) -> float:
    """`BIN_S`, or for recordings that hold counts in coarser or incommensurate bins (TrialData files) the
    smallest whole multiple of their count bin that is at least `BIN_S`."""
    counts = [r.count_bin_s for r in recordings if r.count_bin_s]
    if not counts:
        return BIN_S
    base = max(counts)
    return base * max(1, int(np.ceil(BIN_S / base - 1e-9)))


def _synthetic_config(n_subjects: int, trials: int, sessions: int, overrides: Mapping[str, Any] | None = None):
    from spikeport.train.data.intracortical import SyntheticReachingConfig

    extra = {k: tuple(v) if isinstance(v, list) else v for k, v in (overrides or {}).items()}
    return SyntheticReachingConfig(n_subjects=n_subjects, sessions_per_subject=sessions, trials_per_session=trials,
                                   n_units=N_UNITS, **extra)


def _recordings(info: Mapping[str, Any], data_path: str | None = None):
    from spikeport.train.data.intracortical import load_recordings

    if info["data"] == "synthetic":
        cfg = _synthetic_config(int(info["n_subjects"]), int(info["trials_per_session"]), SESSIONS_PER_SUBJECT,
                                info.get("synthetic_overrides"))
        return load_recordings("synthetic", seed=int(info["seed"]), synthetic=cfg)
    return load_recordings(info["data"], data_path or info.get("data_path"), tuple(info.get("data_files", ())))


def reload_split(info: Mapping[str, Any], data_path: str | None = None):
    """The run's full `SplitWindows` with raw counts (before thinning and binarizing), rebuilt from `info`."""
    from spikeport.train.data.intracortical import split_windows

    return split_windows(_recordings(info, data_path), bin_s=float(info["bin_s"]), steps=int(info["steps"]),
                         train_fraction=float(info["train_fraction"]))


def make_reaching_data(cfg: RunConfig) -> TaskData:
    """The run's reaching data as regression `TaskData` (module docstring)."""
    from spikeport.train.data.intracortical import to_task_data

    if not 0.0 < cfg.test_fraction < 1.0:
        raise InputDataError(f"--test-fraction must be in (0, 1), got {cfg.test_fraction}")
    info: dict[str, Any] = {
        "data": cfg.data, "data_path": cfg.data_path, "data_files": list(cfg.data_files), "seed": cfg.seed,
        "n_subjects": cfg.n_subjects, "trials_per_session": cfg.trials_per_class, "steps": cfg.num_steps,
        "train_fraction": 1.0 - cfg.test_fraction, "input_message_bits": INPUT_MESSAGE_BITS,
    }  # fmt: skip
    if cfg.data == "synthetic":
        info["synthetic_overrides"] = dict(SYNTHETIC_OVERRIDES)
        info["bin_s"] = BIN_S
    else:
        info["bin_s"] = bin_width(_recordings({**info, "bin_s": BIN_S}))
    split = reload_split(info)
    data = to_task_data(split.train, split.test, sessions=split.sessions, max_count=max_payload(INPUT_MESSAGE_BITS))
    train, test = thin(len(data.y_train), MAX_TRAIN), thin(len(data.y_test), MAX_TEST)
    scale = float(np.std(data.y_train[train])) or 1.0
    extra = {k: v[train if k.endswith("_train") else test] for k, v in data.extra.items()}
    info = {**data.info, **info, "y_scale": scale, "split_rule": split.rule}
    info["description"] = f"{info['description']}; velocity / {scale:.4g} (training std)"
    return TaskData(x_train=data.x_train[train], y_train=data.y_train[train] / scale, x_test=data.x_test[test],
                    y_test=data.y_test[test] / scale, info=info, extra=extra)


def new_session(info: Mapping[str, Any], data_path: str | None):
    """The recording `adapt` adapts to (module docstring).

    Raises:
        InputDataError: naming --data-path: given for a synthetic run, missing for a recorded one, or a session
            whose channel count differs from the run's.
    """
    if info["data"] == "synthetic":
        if data_path is not None:
            raise InputDataError(f"--data-path {data_path}: this run is SYNTHETIC; its held-out session is generated "
                                 "from the run's seed, omit --data-path")
        from spikeport.train.data.intracortical import make_synthetic_reaching

        cfg = _synthetic_config(1, HELDOUT_TRIALS, SESSIONS_PER_SUBJECT + 1, info.get("synthetic_overrides"))
        return make_synthetic_reaching(cfg, int(info["seed"]))[SESSIONS_PER_SUBJECT]  # subject 0's next session
    if data_path is None:
        raise InputDataError("--data-path: this run was trained on recordings; give the file (or folder) of the new "
                             "session to adapt to")
    from spikeport.train.data.intracortical import load_recordings

    recording = load_recordings(info["data"], data_path)[0]
    expected = len(info["input_names"])
    if len(recording.unit_names) != expected:
        raise InputDataError(f"--data-path {data_path}: the session has {len(recording.unit_names)} channels, the run "
                             f"was trained on {expected}; adapt needs the same channels")
    return recording
