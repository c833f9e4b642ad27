"""Recorded EEG for ISAM-MTL (eegmmidb, mne, bciiv2a): a thin adapter over `spikeport.train.data.eeg`.

The readers, causal preprocessing (picks, forward-only band-pass, decimation, epoching), per-subject
standardization and the causal delta spike encoding are the EEG data package's; this module picks the reader for
`--data`, splits the trials stratified by (subject, class) (`spikeport.train.split.split_trials`, statistics from
the training split only), and lays the spikes out as ISAM-MTL's input: 2 features (up/down events) per electrode,
feature-major (`spikeport.train.models.isam.data.feature_major`). One network step is the encoder's
`step_seconds` of recording (25 ms by default), recorded in the data info as `time_bin_s`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikeport.errors import InputDataError
from spikeport.train.models.family import RunConfig, TaskData

__all__ = ["DEFAULT_SUBJECTS", "encode_new_subject", "load_trials", "recorded_data"]

DEFAULT_SUBJECTS = (1, 2, 3, 6)
"""EEGMMIDB subjects read without --subjects (the shared offline subset)."""
EEGMMIDB_KINDS = ("imagined", "executed")
"""EEGMMIDB runs read: imagined and executed left/right fist pooled (the shared subset holds few imagery runs:
subject 2 only run 4), docs/isam-mtl.md."""


def load_trials(source: str, data_path: str | None, subjects, files=(), events: str | None = None):
    """`EEGTrials` of a recorded source, through the EEG data package's readers."""
    from spikeport.train.data.eeg import load_bci_iv_2a, load_eegmmidb, load_recordings

    if source == "eegmmidb":
        # imagined and executed left/right-fist runs pooled (same classes), only the runs on disk (offline use)
        return load_eegmmidb(data_path, tuple(subjects) or DEFAULT_SUBJECTS, kinds=EEGMMIDB_KINDS, missing="skip")
    if source == "bciiv2a":
        from spikeport.train.data.eeg import PreprocessConfig

        if not subjects:
            raise InputDataError("--data bciiv2a: name the subjects to read with --subjects (1-9)")
        return load_bci_iv_2a(data_path, tuple(subjects), cfg=PreprocessConfig(channels=None, resample_hz=125.0))
    if source == "mne":
        if not files or not events:
            raise InputDataError("--data mne: give the recordings with --files and their classes with --events")
        return load_recordings(files, events, subject_ids=tuple(subjects))
    raise InputDataError(f"--data {source}: not a recorded source of isam-mtl (eegmmidb, mne, bciiv2a)")


def _layout(x: np.ndarray, n_electrodes: int) -> np.ndarray:
    from spikeport.train.models.isam.data import feature_major

    return np.ascontiguousarray(x[:, :, feature_major(n_electrodes, x.shape[2] // n_electrodes)])


def recorded_data(cfg: RunConfig) -> TaskData:
    """Encoded recorded trials of `cfg.data`, split stratified by (subject, class)."""
    from spikeport.train.data.eeg import spike_arrays
    from spikeport.train.split import split_trials

    trials = load_trials(cfg.data, cfg.data_path, cfg.subject_ids, cfg.data_files, cfg.events)
    dataset = trials.dataset
    train_idx, test_idx = split_trials(dataset, test_fraction=cfg.test_fraction, seed=cfg.seed)
    arrays = spike_arrays(trials, train_idx)
    n_electrodes = len(dataset.ch_names)
    x = _layout(arrays.x, n_electrodes)
    names = arrays.info["input_names"]
    from spikeport.train.models.isam.data import feature_major

    info: dict[str, Any] = {
        **{k: v for k, v in arrays.info.items() if k != "input_names"},
        "source": cfg.data,
        "synthetic": False,
        "input_names": [names[i] for i in feature_major(n_electrodes, 2)],
        "n_features": 2,
        "electrodes": list(dataset.ch_names),
        "subject_ids": sorted(int(s) for s in np.unique(dataset.subjects)),
        "heldout_subjects": [],
        "data_path": None if cfg.data_path is None else str(cfg.data_path),
        "data_files": [str(f) for f in cfg.data_files],
        "events": cfg.events,
        "seed": cfg.seed,
        "test_fraction": cfg.test_fraction,
        "time_bin_s": arrays.info["step_seconds"],
    }
    return TaskData(
        x_train=x[train_idx],
        y_train=arrays.y[train_idx],
        x_test=x[test_idx],
        y_test=arrays.y[test_idx],
        info=info,
        extra={"subjects_train": arrays.subjects[train_idx], "subjects_test": arrays.subjects[test_idx]},
    )


def reload_dataset(info: dict, data_path: str | None = None):
    """The run's recorded, preprocessed `EEGDataset` again (for baselines), in the order `recorded_data` read it."""
    path = data_path or info.get("data_path")
    files, events = info.get("data_files", ()), info.get("events")
    return load_trials(info["source"], path, info["subject_ids"], files, events).dataset


def encode_new_subject(info: dict, data_path: str | None, subject: int, labels_split) -> tuple[Any, Any, Any]:
    """A subject the run did not train on: (x, y, (shot_idx, test_idx)), standardized with its shots' statistics.

    `labels_split(y)` returns (shot_idx, test_idx); the shots alone set the subject's standardization.
    """
    from spikeport.train.data.eeg import spike_arrays

    path = data_path or info.get("data_path")
    if path is None:
        raise InputDataError(f"--data-path: give the folder of subject {subject}'s recordings")
    trials = load_trials(info["source"], path, (subject,), info.get("data_files", ()), info.get("events"))
    shot_idx, test_idx = labels_split(trials.dataset.labels)
    arrays = spike_arrays(trials, shot_idx)
    return _layout(arrays.x, len(trials.dataset.ch_names)), arrays.y, (shot_idx, test_idx)
