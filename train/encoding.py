"""Deterministic spike encoding of EEG band power for the spiking decoder.

Pipeline per trial, channel and frequency band:

1. Band-pass with `mne.filter.filter_data` (zero-phase FIR), squared Hilbert envelope (instantaneous power).
2. Mean power in `num_steps` equal, contiguous time bins covering [tmin_s, tmax_s), then the natural log: one
   feature per bin.
3. z-score each (channel, band) feature. With `normalization="subject"` the mean and standard deviation
   are taken per subject over all of that subject's trials and bins. This removes each subject's gain and
   noise level, the main nuisance between subjects. The statistics use the EEG only, never the labels, so
   the same step is legitimate at test time and on unlabelled calibration data. `normalization="global"`
   pools all subjects.
4. Rate code each z-scored feature on two input neurons, one for positive and one for negative deviations,
   with a sigma-delta (integrate-and-fire) modulator: per step the accumulator gains
   `spike_gain * max(±z, 0)` (capped at 1), and the neuron spikes and subtracts 1 whenever the accumulator
   reaches 1. The accumulator starts at 0.5, so the spike count over a constant drive is the rounded
   running integral. No randomness: the same input always gives the same spikes, which makes bit-exact
   comparisons across simulators possible.

Input neuron order is feature-major with the two polarities adjacent: for channel c and band b the names are
"<c>:<lo>-<hi>Hz:+" then "<c>:<lo>-<hi>Hz:-"; channels in dataset order, bands in config order within a
channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import mne
import numpy as np
from scipy.signal import hilbert

from spikeport.train.synthetic import EEGDataset

__all__ = ["BandPowerSpikeEncoder", "FittedEncoder", "sigma_delta"]

_POWER_FLOOR = 1e-30  # V**2; keeps log finite on flat (e.g. zero-padded) signals


def _band_label(band: tuple[float, float]) -> str:
    return f"{band[0]:g}-{band[1]:g}Hz"


@dataclass(frozen=True)
class BandPowerSpikeEncoder:
    """Configuration of the band-power spike encoder; `fit` learns the normalisation statistics."""

    bands: tuple[tuple[float, float], ...] = ((8.0, 12.0), (18.0, 26.0))
    """Pass bands (low, high) in Hz; defaults are the mu and beta bands."""
    num_steps: int = 32
    """Time bins per trial, which are also the spiking network's time steps."""
    channels: tuple[str, ...] | None = None
    """Channel names to encode, in this order; None takes all channels of the dataset."""
    normalization: Literal["subject", "global"] = "subject"
    """Per-subject (label-free) or pooled z-scoring of the log band power."""
    spike_gain: float = 0.5
    """Spikes per step per unit of z-score (a z of 2 saturates at one spike per step)."""
    tmin_s: float = 0.5
    """Start of the analysed window, seconds from the epoch start. Motor-imagery ERD needs about 0.5 s after
    the cue to develop, so earlier bins mostly add noise; filtering still uses the whole epoch."""
    tmax_s: float | None = None
    """End of the analysed window in seconds; None means the end of the epoch."""

    def __post_init__(self) -> None:
        if self.num_steps < 1:
            raise ValueError(f"BandPowerSpikeEncoder.num_steps: must be >= 1, got {self.num_steps}")
        if not self.bands or any(not 0 < lo < hi for lo, hi in self.bands):
            raise ValueError(f"BandPowerSpikeEncoder.bands: need 0 < low < high for each band, got {self.bands}")
        if self.normalization not in ("subject", "global"):
            raise ValueError(
                f"BandPowerSpikeEncoder.normalization: expected 'subject' or 'global', got {self.normalization!r}"
            )
        if self.tmin_s < 0 or (self.tmax_s is not None and self.tmax_s <= self.tmin_s):
            raise ValueError(
                f"BandPowerSpikeEncoder: need 0 <= tmin_s < tmax_s, got tmin_s={self.tmin_s}, tmax_s={self.tmax_s}"
            )
        if not self.spike_gain > 0:
            raise ValueError(f"BandPowerSpikeEncoder.spike_gain: must be positive, got {self.spike_gain}")

    def log_power(self, dataset: EEGDataset) -> tuple[np.ndarray, tuple[str, ...]]:
        """Binned log band power, before normalisation.

        Args:
            dataset: Trials to analyse.

        Returns:
            The features, shape (trials, num_steps, channels * bands), float64, log(V**2), and their names.

        Raises:
            ValueError: If a configured channel is missing, a band reaches Nyquist, or the analysed window
                holds fewer than `num_steps` samples.
        """
        ch_names = self.channels if self.channels is not None else dataset.ch_names
        missing = [c for c in ch_names if c not in dataset.ch_names]
        if missing:
            raise ValueError(f"BandPowerSpikeEncoder: channels {missing} not in the dataset ({dataset.ch_names})")
        n_total = dataset.data.shape[2]
        start = round(self.tmin_s * dataset.sfreq)
        stop = n_total if self.tmax_s is None else min(n_total, round(self.tmax_s * dataset.sfreq))
        if stop - start < self.num_steps:
            raise ValueError(
                f"BandPowerSpikeEncoder: the window {self.tmin_s}-{self.tmax_s} s holds "
                f"{max(stop - start, 0)} of {n_total} samples, fewer than num_steps={self.num_steps}; "
                "widen the window or lower num_steps"
            )
        if max(hi for _, hi in self.bands) >= dataset.sfreq / 2:
            raise ValueError(f"BandPowerSpikeEncoder.bands: {self.bands} reach Nyquist ({dataset.sfreq / 2} Hz)")
        picks = [dataset.ch_names.index(c) for c in ch_names]
        x = np.ascontiguousarray(dataset.data[:, picks, :])
        edges = np.linspace(start, stop, self.num_steps + 1).round().astype(np.int64)
        per_band = []
        for lo, hi in self.bands:
            filtered = mne.filter.filter_data(x, dataset.sfreq, lo, hi, verbose=False)
            power = np.abs(hilbert(filtered, axis=-1)) ** 2
            binned = np.add.reduceat(power[..., :stop], edges[:-1], axis=-1) / np.diff(edges)
            per_band.append(np.log(np.maximum(binned, _POWER_FLOOR)))
        feats = np.stack(per_band, axis=2)  # (trials, channels, bands, steps)
        feats = feats.reshape(x.shape[0], -1, self.num_steps).transpose(0, 2, 1)
        names = tuple(f"{c}:{_band_label(b)}" for c in ch_names for b in self.bands)
        return np.ascontiguousarray(feats), names

    def fit(self, dataset: EEGDataset) -> FittedEncoder:
        """Learn the z-score statistics from the EEG of `dataset` (labels are not read).

        Args:
            dataset: Trials, typically the training split.

        Returns:
            The fitted encoder.
        """
        feats, names = self.log_power(dataset)
        subjects = np.unique(dataset.subjects) if self.normalization == "subject" else np.zeros(0, np.int64)
        stats = [_moments(feats[dataset.subjects == s]) for s in subjects]
        n_feat = feats.shape[2]
        means = np.stack([m for m, _ in stats]) if stats else np.zeros((0, n_feat))
        stds = np.stack([sd for _, sd in stats]) if stats else np.ones((0, n_feat))
        glob_mean, glob_std = _moments(feats)
        return FittedEncoder(
            config=self,
            feature_names=names,
            subject_ids=subjects.astype(np.int64),
            subject_mean=means,
            subject_std=stds,
            global_mean=glob_mean,
            global_std=glob_std,
        )


def _moments(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation per feature over trials and steps; a zero spread becomes 1."""
    mean = feats.mean(axis=(0, 1))
    std = feats.std(axis=(0, 1))
    return mean, np.where(std > 0, std, 1.0)


@dataclass(frozen=True)
class FittedEncoder:
    """A `BandPowerSpikeEncoder` with its learned normalisation; `encode` turns trials into spikes.

    Subjects not seen in `fit` are normalised with statistics computed from their own trials in the dataset
    being encoded (label-free calibration); under `normalization="global"` the pooled statistics are used.
    """

    config: BandPowerSpikeEncoder
    """The encoder configuration."""
    feature_names: tuple[str, ...]
    """One "<channel>:<lo>-<hi>Hz" name per feature."""
    subject_ids: np.ndarray
    """Shape (subjects,), int64: subjects with their own statistics (empty for global normalisation)."""
    subject_mean: np.ndarray
    """Shape (subjects, features), float64: mean log power per subject."""
    subject_std: np.ndarray
    """Shape (subjects, features), float64: standard deviation of log power per subject."""
    global_mean: np.ndarray
    """Shape (features,), float64: mean log power over all fitted trials."""
    global_std: np.ndarray
    """Shape (features,), float64: standard deviation over all fitted trials."""

    def __post_init__(self) -> None:
        for name in ("subject_ids", "subject_mean", "subject_std", "global_mean", "global_std"):
            arr = np.array(getattr(self, name), copy=True)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def n_inputs(self) -> int:
        """Number of input neurons: two per feature."""
        return 2 * len(self.feature_names)

    @property
    def input_names(self) -> tuple[str, ...]:
        """Name of each input neuron, e.g. "C3:8-12Hz:+", in the order of the last axis of `encode`."""
        return tuple(f"{name}:{sign}" for name in self.feature_names for sign in "+-")

    def features(self, dataset: EEGDataset) -> np.ndarray:
        """Normalised log band power, shape (trials, num_steps, features), float64 (z-scores)."""
        feats, names = self.config.log_power(dataset)
        if names != self.feature_names:
            raise ValueError(
                f"FittedEncoder: dataset gives features {names[:4]}..., fitted on {self.feature_names[:4]}..."
            )
        out = np.empty_like(feats)
        for s in np.unique(dataset.subjects):
            rows = dataset.subjects == s
            known = np.flatnonzero(self.subject_ids == s)
            if self.config.normalization == "global":
                mean, std = self.global_mean, self.global_std
            elif known.size:
                mean, std = self.subject_mean[known[0]], self.subject_std[known[0]]
            else:
                mean, std = _moments(feats[rows])
            out[rows] = (feats[rows] - mean) / std
        return out

    def encode(self, dataset: EEGDataset) -> np.ndarray:
        """Encode trials as input spikes.

        Args:
            dataset: Trials with the channels the encoder was fitted on.

        Returns:
            Spikes of shape (trials, num_steps, n_inputs), uint8, values 0 or 1.
        """
        z = self.features(dataset)
        drive = np.stack([np.maximum(z, 0.0), np.maximum(-z, 0.0)], axis=-1).reshape(*z.shape[:2], -1)
        return sigma_delta(drive * self.config.spike_gain)


def sigma_delta(rate: np.ndarray) -> np.ndarray:
    """Deterministic integrate-and-fire rate code along axis 1.

    Args:
        rate: Spikes per step wanted, shape (trials, steps, inputs); values are clipped to [0, 1].

    Returns:
        Spikes of the same shape, uint8. The accumulator starts at 0.5, adds the rate each step and emits a
        spike (subtracting 1) when it reaches 1, so the count up to step t is floor(0.5 + cumulative rate),
        the cumulative rate rounded half up.

    Raises:
        ValueError: If `rate` is not three-dimensional.
    """
    if np.ndim(rate) != 3:
        raise ValueError(f"sigma_delta: expected rates of shape (trials, steps, inputs), got {np.shape(rate)}")
    rate = np.clip(rate, 0.0, 1.0)
    acc = np.full((rate.shape[0], rate.shape[2]), 0.5)
    spikes = np.zeros(rate.shape, dtype=np.uint8)
    for t in range(rate.shape[1]):
        acc += rate[:, t]
        fire = acc >= 1.0
        acc -= fire
        spikes[:, t] = fire
    return spikes
