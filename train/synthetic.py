"""Seedable SYNTHETIC multi-subject motor-imagery EEG: spikeport's built-in default data.

Why it exists: the pipeline (train, export, quantize, simulate) needs data that is always available, fast
to make and identical on every machine. Nothing here is a recording; results on it say that the machinery
works, not that a decoder works on people.

Physiology modelled (simplified on purpose):

* Sources. Four sensorimotor rhythm generators, mu (8-13 Hz, the "rolandic alpha") and beta (18-26 Hz) over
  the left and right hand areas (under C3 and C4; beta slightly anterior), plus a class-independent
  posterior alpha generator (the classic distractor for the mu band) and a few spatially smooth background
  generators. Rhythms are band-limited Gaussian noise (a Gaussian spectral line), which gives waxing and
  waning bursts.
* Event-related desynchronization (ERD). From about 0.5 s after the cue (t = 0), imagery of one hand lowers
  mu and beta amplitude over the *contralateral* hemisphere (left hand -> right hemisphere, C4; right hand
  -> C3), by a depth that varies per subject ("responsiveness") and per trial; the ipsilateral side shows a
  small increase (ERS), as described by Pfurtscheller & Lopes da Silva (1999). The depth (up to 70 % of
  the mu amplitude) is stronger than in most real recordings, so that a small model learns the task in
  seconds; per-trial jitter and noise keep it from being trivial (a linear decoder gets about 0.9).
* Background. 1/f ("pink") sensor noise per channel plus spatially smooth pink background sources.
* Volume conduction. A forward matrix of Gaussian fall-off with scalp distance maps sources to 16 sensorimotor
  10-10 channels.
* Subjects differ in source positions and forward weights (a perturbed forward matrix), in their individual
  mu and beta peak frequencies, in overall gain (skull and impedance) and in noise level. Every trial also
  has a common gain on the sensorimotor rhythms, so absolute power alone is a poor feature; the hemispheric
  contrast is not.

Determinism: one `numpy.random.SeedSequence(seed)` spawns one child per subject, so the same seed gives the
same bytes, and subject k's trials do not depend on how many subjects are generated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

__all__ = ["CHANNEL_POSITIONS", "EEGDataset", "make_synthetic_motor_imagery"]

CHANNEL_POSITIONS: MappingProxyType[str, tuple[float, float]] = MappingProxyType(
    {
        "FC3": (-0.5, 0.25),
        "FCz": (0.0, 0.25),
        "FC4": (0.5, 0.25),
        "C5": (-0.75, 0.0),
        "C3": (-0.5, 0.0),
        "C1": (-0.25, 0.0),
        "Cz": (0.0, 0.0),
        "C2": (0.25, 0.0),
        "C4": (0.5, 0.0),
        "C6": (0.75, 0.0),
        "CP3": (-0.5, -0.25),
        "CPz": (0.0, -0.25),
        "CP4": (0.5, -0.25),
        "P3": (-0.5, -0.5),
        "Pz": (0.0, -0.5),
        "P4": (0.5, -0.5),
    }
)
"""Flat scalp coordinates (x: left to right, y: back to front) of the channels, in units where neighbouring
10-10 electrodes are 0.25 apart; used only to build the synthetic forward matrix."""

CLASS_NAMES: tuple[str, str] = ("left_hand", "right_hand")
_MICROVOLT = 1e-6
_SCALE_V = 10.0 * _MICROVOLT  # one model unit of source amplitude at the sensor, in volts


@dataclass(frozen=True)
class EEGDataset:
    """Epoched EEG trials with labels and subject ids.

    Arrays are copied and made read-only on construction, so a dataset cannot change after it is made.
    """

    data: np.ndarray
    """Shape (trials, channels, samples), float64, volts."""
    labels: np.ndarray
    """Shape (trials,), int64, index into `class_names`."""
    subjects: np.ndarray
    """Shape (trials,), int64, subject id of each trial."""
    sfreq: float
    """Sampling frequency in Hz."""
    ch_names: tuple[str, ...]
    """One name per channel, in the order of axis 1 of `data`."""
    class_names: tuple[str, ...]
    """One name per class; `labels` index into it."""
    synthetic: bool
    """True when the data were generated rather than recorded."""
    description: str = field(default="")
    """Free text on the origin of the data (for synthetic data it says SYNTHETIC)."""

    def __post_init__(self) -> None:
        data = np.array(self.data, dtype=np.float64, copy=True)
        labels = np.array(self.labels, copy=True)
        subjects = np.array(self.subjects, copy=True)
        if data.ndim != 3:
            raise ValueError(f"EEGDataset.data: expected shape (trials, channels, samples), got {data.shape}")
        n_trials, n_channels, _ = data.shape
        for name, arr in (("labels", labels), ("subjects", subjects)):
            if arr.shape != (n_trials,) or not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(
                    f"EEGDataset.{name}: expected an integer array of shape ({n_trials},), got {arr.dtype} {arr.shape}"
                )
        if len(self.ch_names) != n_channels:
            raise ValueError(f"EEGDataset.ch_names: {len(self.ch_names)} names for {n_channels} channels")
        if n_trials and (labels.min() < 0 or labels.max() >= len(self.class_names)):
            raise ValueError(
                f"EEGDataset.labels: values must lie in [0, {len(self.class_names) - 1}] "
                f"(one per class name), got [{labels.min()}, {labels.max()}]"
            )
        if not self.sfreq > 0:
            raise ValueError(f"EEGDataset.sfreq: must be positive, got {self.sfreq}")
        labels = labels.astype(np.int64)
        subjects = subjects.astype(np.int64)
        for name, arr in (("data", data), ("labels", labels), ("subjects", subjects)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "sfreq", float(self.sfreq))
        object.__setattr__(self, "ch_names", tuple(self.ch_names))
        object.__setattr__(self, "class_names", tuple(self.class_names))

    @property
    def n_trials(self) -> int:
        """Number of trials."""
        return int(self.data.shape[0])

    @property
    def times(self) -> np.ndarray:
        """Sample times in seconds from the start of the epoch, shape (samples,)."""
        return np.arange(self.data.shape[2]) / self.sfreq

    def subset(self, mask_or_indices: np.ndarray | list[int] | list[bool]) -> EEGDataset:
        """Return the trials picked by a boolean mask or by integer indices, in that order.

        Args:
            mask_or_indices: A boolean mask of length `n_trials` or an array of trial indices.

        Returns:
            A new dataset with the same metadata and only the chosen trials.

        Raises:
            ValueError: If a boolean mask has the wrong length or the selector is neither bool nor integer.
        """
        sel = np.asarray(mask_or_indices)
        if sel.dtype == np.bool_:
            if sel.shape != (self.n_trials,):
                raise ValueError(f"EEGDataset.subset: mask of shape {sel.shape}, expected ({self.n_trials},)")
            sel = np.flatnonzero(sel)
        elif sel.size == 0:
            sel = sel.astype(np.int64)
        elif not np.issubdtype(sel.dtype, np.integer):
            raise ValueError(f"EEGDataset.subset: expected a boolean mask or integer indices, got {sel.dtype}")
        return EEGDataset(
            data=self.data[sel],
            labels=self.labels[sel],
            subjects=self.subjects[sel],
            sfreq=self.sfreq,
            ch_names=self.ch_names,
            class_names=self.class_names,
            synthetic=self.synthetic,
            description=self.description,
        )


def _shaped_noise(rng: np.random.Generator, n: int, n_samples: int, gain: np.ndarray) -> np.ndarray:
    """Gaussian noise of unit expected variance with amplitude spectrum `gain` (length n_samples // 2 + 1)."""
    spectrum = np.fft.rfft(rng.standard_normal((n, n_samples)), axis=-1) * gain
    scale = np.sqrt(2.0 * np.sum(gain**2) / n_samples)
    return np.fft.irfft(spectrum, n=n_samples, axis=-1) / scale


def _rhythm(rng: np.random.Generator, n: int, n_samples: int, sfreq: float, f0: float, bw: float) -> np.ndarray:
    """Band-limited bursts: Gaussian noise with a Gaussian spectral line at `f0` Hz of width `bw` Hz."""
    freqs = np.fft.rfftfreq(n_samples, 1.0 / sfreq)
    return _shaped_noise(rng, n, n_samples, np.exp(-0.5 * ((freqs - f0) / bw) ** 2))


def _pink(rng: np.random.Generator, n: int, n_samples: int, sfreq: float) -> np.ndarray:
    """1/f noise (power ~ 1/f above 1 Hz, flat below, no DC)."""
    freqs = np.fft.rfftfreq(n_samples, 1.0 / sfreq)
    gain = 1.0 / np.sqrt(np.maximum(freqs, 1.0))
    gain[0] = 0.0
    return _shaped_noise(rng, n, n_samples, gain)


def _forward(rng: np.random.Generator, sources: np.ndarray, ch_pos: np.ndarray, jitter: float) -> np.ndarray:
    """Forward matrix (channels, sources): Gaussian fall-off with distance; positions, weights perturbed."""
    pos = sources[:, :2] + rng.normal(0.0, jitter, size=(len(sources), 2))
    d2 = np.sum((ch_pos[:, None, :] - pos[None, :, :]) ** 2, axis=-1)
    gains = np.exp(-0.5 * d2 / sources[None, :, 2] ** 2)
    return gains * rng.lognormal(0.0, 0.15, size=gains.shape)


def _erd_envelope(
    rng: np.random.Generator, times: np.ndarray, depth: np.ndarray, onset_range: tuple[float, float]
) -> np.ndarray:
    """Amplitude factor (trials, samples): 1 before the onset, then a smooth step to 1 - depth."""
    onset = rng.uniform(*onset_range, size=(len(depth), 1))
    step = 1.0 / (1.0 + np.exp(-(times[None, :] - onset) / 0.08))
    return 1.0 - depth[:, None] * step


def _make_subject(
    rng: np.random.Generator,
    trials_per_class: int,
    sfreq: float,
    n_samples: int,
    erd_scale: float = 1.0,
    noise_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate one subject's trials; returns data (trials, channels, samples) in volts and labels.

    `erd_scale` multiplies the ERD/ERS depths and `noise_scale` the background and sensor noise after every random
    draw, so the defaults (1.0) give bit-identical trials and other values change difficulty, not the draws.
    """
    n = 2 * trials_per_class
    times = np.arange(n_samples) / sfreq
    ch_pos = np.array(list(CHANNEL_POSITIONS.values()))
    labels = rng.permutation(np.repeat(np.arange(2, dtype=np.int64), trials_per_class))

    # Subject traits: peak frequencies, gain, noise level, how strongly ERD shows.
    mu_f = rng.uniform(9.0, 12.0)
    beta_f = rng.uniform(19.0, 24.0)
    gain = rng.lognormal(0.0, 0.3)
    noise = rng.uniform(0.8, 1.3)
    responsiveness = rng.uniform(0.6, 1.0)

    # Sources: (x, y, spatial spread). mu L/R, beta L/R, posterior alpha.
    rhythm_src = np.array([[-0.5, 0.0, 0.3], [0.5, 0.0, 0.3], [-0.45, 0.1, 0.3], [0.45, 0.1, 0.3], [0.0, -0.8, 0.4]])
    fwd = _forward(rng, rhythm_src, ch_pos, jitter=0.08)
    n_bg = 6
    bg_src = np.column_stack([rng.uniform(-1, 1, n_bg), rng.uniform(-0.9, 0.5, n_bg), np.full(n_bg, 0.6)])
    fwd_bg = _forward(rng, bg_src, ch_pos, jitter=0.0)

    # Rhythms (trials, samples), each hemisphere with a slightly different peak.
    common = rng.lognormal(0.0, 0.35, size=n)  # trial-wise gain shared by all sensorimotor rhythms
    mu = [_rhythm(rng, n, n_samples, sfreq, mu_f + d, 0.7) for d in rng.uniform(-0.4, 0.4, 2)]
    beta = [_rhythm(rng, n, n_samples, sfreq, beta_f + d, 1.5) for d in rng.uniform(-1.0, 1.0, 2)]
    alpha = _rhythm(rng, n, n_samples, sfreq, rng.uniform(9.5, 11.0), 0.8)
    alpha *= rng.lognormal(0.0, 0.4, size=(n, 1))

    # ERD: contralateral decrease, small ipsilateral increase; per-trial depth jitter.
    depth = responsiveness * rng.uniform(0.4, 1.0, size=n)
    onsets = (0.3, 0.8)
    envelopes = []
    for hemi in (0, 1):  # 0 = left hemisphere (C3), 1 = right hemisphere (C4)
        contra = labels == 1 - hemi  # right hand (1) -> left hemisphere (0), and vice versa
        mu_depth = np.minimum(np.where(contra, 0.7 * depth, -0.1 * depth) * erd_scale, 0.95)
        beta_depth = np.minimum(np.where(contra, 0.4 * depth, -0.05 * depth) * erd_scale, 0.95)
        envelopes.append((_erd_envelope(rng, times, mu_depth, onsets), _erd_envelope(rng, times, beta_depth, onsets)))

    amps = np.array([1.0, 1.0, 0.5, 0.5, 1.2])
    rhythms = (
        np.stack(
            [
                common[:, None] * envelopes[0][0] * mu[0],
                common[:, None] * envelopes[1][0] * mu[1],
                common[:, None] * envelopes[0][1] * beta[0],
                common[:, None] * envelopes[1][1] * beta[1],
                alpha,
            ],
            axis=1,
        )
        * amps[None, :, None]
    )
    background = _pink(rng, n * n_bg, n_samples, sfreq).reshape(n, n_bg, n_samples)
    sensor = _pink(rng, n * len(ch_pos), n_samples, sfreq).reshape(n, len(ch_pos), n_samples)

    data = (
        np.einsum("cs,nst->nct", fwd, rhythms)
        + noise * noise_scale * 0.8 * np.einsum("cs,nst->nct", fwd_bg, background)
        + noise * noise_scale * 0.4 * sensor
    )
    return data * gain * _SCALE_V, labels


def make_synthetic_motor_imagery(
    *,
    n_subjects: int = 4,
    trials_per_class: int = 40,
    sfreq: float = 160.0,
    duration_s: float = 3.0,
    seed: int = 0,
    erd_scale: float = 1.0,
    noise_scale: float = 1.0,
    first_subject: int = 0,
) -> EEGDataset:
    """Generate SYNTHETIC two-class (left vs. right hand) motor-imagery EEG for several subjects.

    Each trial is an epoch starting at the imagery cue. See the module docstring for the model.

    Args:
        n_subjects: Number of simulated subjects (ids 0 .. n_subjects - 1).
        trials_per_class: Trials of each class per subject.
        sfreq: Sampling frequency in Hz (160 Hz matches the EEGMMIDB recordings).
        duration_s: Epoch length in seconds.
        seed: Seed of the generator; the same seed gives identical arrays.
        erd_scale: Difficulty: factor on the ERD/ERS depths (contralateral depth capped at 0.95); 1.0 is the
            decoder's default task. Changes no random draw.
        noise_scale: Difficulty: factor on background and sensor noise amplitude; changes no random draw.
        first_subject: Generate subjects first_subject .. first_subject + n_subjects - 1 of the seed's sequence
            (subject k is the same whatever else is generated), e.g. held-out subjects after the training ones.

    Returns:
        An `EEGDataset` with `synthetic=True`, trials ordered by subject, classes shuffled within a subject.

    Raises:
        ValueError: If a count is not positive or the epoch has fewer than 2 samples.
    """
    n_samples = round(duration_s * sfreq)
    if n_subjects < 1 or trials_per_class < 1 or n_samples < 2 or sfreq <= 0 or first_subject < 0:
        raise ValueError(
            "make_synthetic_motor_imagery: need n_subjects >= 1, trials_per_class >= 1 and at least 2 "
            f"samples per epoch; got {n_subjects}, {trials_per_class}, {duration_s} s * {sfreq} Hz"
        )
    if not (erd_scale > 0 and noise_scale > 0):
        raise ValueError(
            f"make_synthetic_motor_imagery: erd_scale and noise_scale must be > 0, got {erd_scale}, {noise_scale}"
        )
    children = np.random.SeedSequence(seed).spawn(first_subject + n_subjects)[first_subject:]
    parts = [
        _make_subject(np.random.default_rng(child), trials_per_class, sfreq, n_samples, erd_scale, noise_scale)
        for child in children
    ]
    data = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    subjects = np.repeat(np.arange(first_subject, first_subject + n_subjects, dtype=np.int64), 2 * trials_per_class)
    return EEGDataset(
        data=data,
        labels=labels,
        subjects=subjects,
        sfreq=sfreq,
        ch_names=tuple(CHANNEL_POSITIONS),
        class_names=CLASS_NAMES,
        synthetic=True,
        description=(
            f"SYNTHETIC motor-imagery EEG (not a recording): {n_subjects} simulated subjects x "
            f"{trials_per_class} trials per class, {sfreq:g} Hz, {duration_s:g} s from the cue, seed {seed}"
            + (f", subjects from {first_subject}" if first_subject else "")
            + (f", ERD x{erd_scale:g}" if erd_scale != 1.0 else "")
            + (f", noise x{noise_scale:g}" if noise_scale != 1.0 else "")
            + "; "
            "contralateral mu/beta ERD over C3/C4 on 1/f background (spikeport.train.synthetic)."
        ),
    )
