"""Per-subject standardization and a causal delta (threshold-crossing) spike encoding of EEG epochs.

Standardization: each subject's channels are z-scored with the mean and standard deviation of *that subject's
training trials only* (never test trials, never labels); a subject with no training trial (the held-out subject
of leave-one-subject-out without calibration) gets the statistics pooled over the training trials, and the
choice is recorded.

Encoding: a delta modulator per channel, the send-on-delta code of event cameras and of the EEG encoders in
neuromorphic BCI work (e.g. Corradi & Indiveri 2015, IEEE TBioCAS 9(5), "asynchronous delta modulator"). A
reference level starts at 0 (the standardized mean); at every sample the signal's distance from it is cut into
whole thresholds, the reference moves by that many thresholds, and an "up" (or "down") event is emitted when it
moved up (down). One network step is `step_seconds` of recording (a whole number of samples); an input neuron
spikes at a step when its channel had at least one event of its polarity within that step's samples. Step t
depends only on samples up to the end of bin t, so encoding a prefix of a recording gives the prefix of the
encoding, and a deployed network can consume a live stream step by step with the latency of one bin.

Input neuron order: channel-major, the two polarities adjacent ("C3:+", "C3:-", "C4:+", ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spikeport.errors import DataSourceError
from spikeport.train.data.eeg.preprocess import EEGTrials
from spikeport.train.synthetic import EEGDataset

__all__ = ["DeltaSpikeEncoder", "SpikeArrays", "Standardizer", "spike_arrays"]


@dataclass(frozen=True)
class Standardizer:
    """Per-subject channel means and standard deviations, fitted on training trials."""

    subject_ids: np.ndarray
    """Shape (subjects,), int64: subjects with their own statistics."""
    mean: np.ndarray
    """Shape (subjects, channels)."""
    std: np.ndarray
    """Shape (subjects, channels); zero spreads replaced by 1."""
    pooled_mean: np.ndarray
    """Shape (channels,): over all training trials, for subjects without training trials."""
    pooled_std: np.ndarray
    """Shape (channels,)."""

    @classmethod
    def fit(cls, dataset: EEGDataset, train_idx: np.ndarray) -> Standardizer:
        """Statistics per subject from the trials `train_idx` of `dataset` (the EEG only; labels are not read).

        Raises:
            DataSourceError: If `train_idx` is empty.
        """
        train_idx = np.asarray(train_idx, dtype=np.int64)
        if train_idx.size == 0:
            raise DataSourceError("Standardizer.fit: train_idx is empty; standardization needs training trials")
        data, subjects = dataset.data[train_idx], dataset.subjects[train_idx]
        ids = np.unique(subjects)
        means = np.stack([data[subjects == s].mean(axis=(0, 2)) for s in ids])
        stds = np.stack([data[subjects == s].std(axis=(0, 2)) for s in ids])
        pooled_mean, pooled_std = data.mean(axis=(0, 2)), data.std(axis=(0, 2))
        return cls(
            subject_ids=ids.astype(np.int64),
            mean=means,
            std=np.where(stds > 0, stds, 1.0),
            pooled_mean=pooled_mean,
            pooled_std=np.where(pooled_std > 0, pooled_std, 1.0),
        )

    def transform(self, dataset: EEGDataset) -> tuple[np.ndarray, list[int]]:
        """Standardized data (trials, channels, samples) and the subjects that fell back to pooled statistics."""
        out = np.empty_like(dataset.data)
        pooled = []
        for s in np.unique(dataset.subjects):
            rows = dataset.subjects == s
            known = np.flatnonzero(self.subject_ids == s)
            if known.size:
                mean, std = self.mean[known[0]], self.std[known[0]]
            else:
                mean, std = self.pooled_mean, self.pooled_std
                pooled.append(int(s))
            out[rows] = (dataset.data[rows] - mean[:, None]) / std[:, None]
        return out, pooled


@dataclass(frozen=True)
class DeltaSpikeEncoder:
    """Causal up/down delta modulator on standardized EEG; see the module docstring."""

    threshold: float = 1.0
    """Reference step in standard deviations of the subject's training EEG."""
    step_seconds: float = 0.025
    """Recording time of one network step; must be a whole number of samples at the data's rate."""

    def __post_init__(self) -> None:
        if not self.threshold > 0:
            raise DataSourceError(f"DeltaSpikeEncoder.threshold: must be positive, got {self.threshold}")
        if not self.step_seconds > 0:
            raise DataSourceError(f"DeltaSpikeEncoder.step_seconds: must be positive, got {self.step_seconds}")

    def samples_per_step(self, sfreq: float) -> int:
        """Samples per step at `sfreq`.

        Raises:
            DataSourceError: If `step_seconds * sfreq` is not a whole number >= 1.
        """
        n = self.step_seconds * sfreq
        if round(n) < 1 or abs(n - round(n)) > 1e-9:
            raise DataSourceError(
                f"DeltaSpikeEncoder.step_seconds: {self.step_seconds} s is {n:g} samples at {sfreq:g} Hz; choose a "
                f"multiple of {1 / sfreq:g} s"
            )
        return round(n)

    def encode(self, data: np.ndarray, sfreq: float) -> np.ndarray:
        """Spikes (trials, steps, 2 * channels), uint8, from standardized data (trials, channels, samples).

        A trailing part of a step (fewer samples than one step) is dropped.
        """
        if np.ndim(data) != 3:
            raise DataSourceError(
                f"DeltaSpikeEncoder.encode: expected (trials, channels, samples), got {np.shape(data)}"
            )
        k = self.samples_per_step(sfreq)
        n_trials, n_ch, n_samples = data.shape
        n_steps = n_samples // k
        ref = np.zeros((n_trials, n_ch))
        moves = np.zeros((n_trials, n_ch, n_steps * k), dtype=np.int64)
        for t in range(n_steps * k):
            n = np.trunc((data[:, :, t] - ref) / self.threshold)
            ref += n * self.threshold
            moves[:, :, t] = n
        moves = moves.reshape(n_trials, n_ch, n_steps, k)
        up, down = (moves > 0).any(axis=-1), (moves < 0).any(axis=-1)
        spikes = np.stack([up, down], axis=-1)  # (trials, channels, steps, 2)
        return np.ascontiguousarray(spikes.transpose(0, 2, 1, 3).reshape(n_trials, n_steps, 2 * n_ch), dtype=np.uint8)

    @staticmethod
    def input_names(ch_names: tuple[str, ...]) -> tuple[str, ...]:
        """One name per input neuron, in the order of `encode`'s last axis."""
        return tuple(f"{c}:{sign}" for c in ch_names for sign in "+-")


@dataclass(frozen=True)
class SpikeArrays:
    """Spike-encoded trials in the form of spikeport's `TaskData` arrays, before a model's own train/test split."""

    x: np.ndarray
    """Shape (trials, steps, inputs), uint8 0/1 spikes."""
    y: np.ndarray
    """Shape (trials,), int64 class indices."""
    subjects: np.ndarray
    """Shape (trials,), int64 subject id of each trial."""
    info: dict[str, Any] = field(default_factory=dict)
    """class_names, input_names, step_seconds, source, synthetic (False for recordings), description, and the
    preprocessing, standardization and encoding settings."""


def spike_arrays(
    trials: EEGTrials | EEGDataset,
    train_idx: np.ndarray,
    encoder: DeltaSpikeEncoder | None = None,
) -> SpikeArrays:
    """Standardize per subject (statistics from `train_idx` only) and delta-encode every trial.

    Args:
        trials: Preprocessed trials (from a reader) or a plain dataset (e.g. the synthetic one, band-passed first).
        train_idx: Indices of the training trials; only they set the standardization statistics.
        encoder: The spike encoder; None: `DeltaSpikeEncoder()`.

    Returns:
        All trials encoded, in the order of the dataset.
    """
    encoder = encoder if encoder is not None else DeltaSpikeEncoder()
    dataset = trials.dataset if isinstance(trials, EEGTrials) else trials
    meta = dict(trials.meta) if isinstance(trials, EEGTrials) else {"source": "dataset", "synthetic": dataset.synthetic}
    std = Standardizer.fit(dataset, train_idx)
    z, pooled = std.transform(dataset)
    x = encoder.encode(z, dataset.sfreq)
    info = {
        **meta,
        "synthetic": bool(dataset.synthetic),
        "description": dataset.description,
        "class_names": list(dataset.class_names),
        "input_names": list(encoder.input_names(dataset.ch_names)),
        "ch_names": list(dataset.ch_names),
        "sfreq": dataset.sfreq,
        "step_seconds": encoder.step_seconds,
        "num_steps": int(x.shape[1]),
        "encoding": {
            "kind": "delta (threshold crossing), up/down per channel, causal",
            "threshold_sd": encoder.threshold,
            "samples_per_step": encoder.samples_per_step(dataset.sfreq),
        },
        "standardization": {
            "kind": "per subject, channel mean/sd from that subject's training trials",
            "pooled_for_subjects": pooled,
        },
    }
    return SpikeArrays(x=x, y=dataset.labels.copy(), subjects=dataset.subjects.copy(), info=info)
