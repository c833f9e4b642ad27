"""ISAM-MTL's data: the built-in SYNTHETIC multi-subject motor imagery (default) and recorded EEG, as spikes.

Synthetic runs generate `n_subjects` training subjects (split stratified by subject and class into x_train/x_test)
and `HELDOUT_SUBJECTS` further subjects of the same seed that the encoder never sees (x_heldout), for few-shot
adaptation (`spikeport adapt`, `spikeport evaluate --protocol few-shot`). The difficulty (`ERD_SCALE`,
`NOISE_SCALE`) is chosen and documented in docs/isam-mtl.md.

Input layout: the band-power encoder's neurons are electrode-major; they are reordered feature-major
(index = feature * n_electrodes + electrode) so that one time step is the (n_features, n_electrodes) signal the
1-D convolution runs along (NIR's Conv1d, C order).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikeport.errors import InputDataError
from spikeport.train.models.family import RunConfig, TaskData

__all__ = ["ERD_SCALE", "HELDOUT_SUBJECTS", "NOISE_SCALE", "encode_dataset", "make_isam_data", "synthetic_dataset"]

HELDOUT_SUBJECTS = 4
"""Synthetic subjects generated after the training subjects, never used in training."""
ERD_SCALE = 1.4
"""Synthetic difficulty: factor on the ERD depth (`make_synthetic_motor_imagery(erd_scale=...)`)."""
NOISE_SCALE = 1.0
"""Synthetic difficulty: factor on background and sensor noise."""


def feature_major(n_electrodes: int, n_features: int) -> np.ndarray:
    """Column order turning electrode-major inputs (e * F + f) into feature-major ones (f * L + e)."""
    return np.array([e * n_features + f for f in range(n_features) for e in range(n_electrodes)], dtype=np.int64)


def synthetic_dataset(
    n_subjects: int,
    trials_per_class: int,
    seed: int,
    *,
    first_subject: int = 0,
    erd_scale: float = ERD_SCALE,
    noise_scale: float = NOISE_SCALE,
):
    """The run's raw SYNTHETIC EEG (training subjects, or held-out ones with first_subject = n_subjects)."""
    from spikeport.train.synthetic import make_synthetic_motor_imagery

    return make_synthetic_motor_imagery(
        n_subjects=n_subjects,
        trials_per_class=trials_per_class,
        seed=seed,
        erd_scale=erd_scale,
        noise_scale=noise_scale,
        first_subject=first_subject,
    )


def encode_dataset(encoder, dataset) -> np.ndarray:
    """Spikes (trials, steps, n_features * n_electrodes) in the feature-major order."""
    spikes = encoder.encode(dataset)
    n_electrodes = len(encoder.config.channels or dataset.ch_names)
    order = feature_major(n_electrodes, spikes.shape[2] // n_electrodes)
    return np.ascontiguousarray(spikes[:, :, order])


def make_isam_data(cfg: RunConfig) -> TaskData:
    """The run's data: synthetic (default) or a recorded source through `spikeport.train.models.isam.sources`."""
    if cfg.data != "synthetic":
        from spikeport.train.models.isam.sources import recorded_data

        return recorded_data(cfg)
    from spikeport.train.encoding import BandPowerSpikeEncoder
    from spikeport.train.split import split_trials

    dataset = synthetic_dataset(cfg.n_subjects, cfg.trials_per_class, cfg.seed)
    heldout = synthetic_dataset(HELDOUT_SUBJECTS, cfg.trials_per_class, cfg.seed, first_subject=cfg.n_subjects)
    train_idx, test_idx = split_trials(dataset, test_fraction=cfg.test_fraction, seed=cfg.seed)
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise InputDataError(
            f"--trials-per-class {cfg.trials_per_class} leaves the {'test' if len(test_idx) == 0 else 'training'} "
            "split empty; use --trials-per-class 4 or more"
        )
    encoder = BandPowerSpikeEncoder(num_steps=cfg.num_steps).fit(dataset.subset(train_idx))
    n_features = len(encoder.config.bands) * 2
    names = encoder.input_names
    order = feature_major(len(dataset.ch_names), n_features)
    info: dict[str, Any] = {
        "source": "synthetic",
        "synthetic": True,
        "description": dataset.description,
        "class_names": list(dataset.class_names),
        "input_names": [names[i] for i in order],
        "n_features": n_features,
        "electrodes": list(dataset.ch_names),
        "n_subjects": cfg.n_subjects,
        "trials_per_class": cfg.trials_per_class,
        "heldout_subjects": list(range(cfg.n_subjects, cfg.n_subjects + HELDOUT_SUBJECTS)),
        "erd_scale": ERD_SCALE,
        "noise_scale": NOISE_SCALE,
        "num_steps": cfg.num_steps,
        "test_fraction": cfg.test_fraction,
        "seed": cfg.seed,
        "time_bin_s": (dataset.times[-1] + 1 / dataset.sfreq - encoder.config.tmin_s) / cfg.num_steps,
    }
    info["step_seconds"] = info["time_bin_s"]  # one network step = one time bin (the report's real time uses it)
    return TaskData(
        x_train=encode_dataset(encoder, dataset.subset(train_idx)),
        y_train=dataset.labels[train_idx],
        x_test=encode_dataset(encoder, dataset.subset(test_idx)),
        y_test=dataset.labels[test_idx],
        info=info,
        extra={
            "subjects_train": dataset.subjects[train_idx],
            "subjects_test": dataset.subjects[test_idx],
            "x_heldout": encode_dataset(encoder, heldout),
            "y_heldout": heldout.labels,
            "subjects_heldout": heldout.subjects,
        },
    )
