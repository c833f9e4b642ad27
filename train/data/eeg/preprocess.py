"""Causal EEG preprocessing with MNE: channel picks, forward-only band-pass, decimation, epoching after the cue.

Everything here runs forward in time on the continuous recording, so a deployed network could apply the same
steps to a live stream sample by sample:

* the band-pass is a Butterworth IIR filter in second-order sections applied with `phase="forward"`
  (`raw.filter(..., method="iir", phase="forward")`, which is `scipy.signal.sosfilt` from a zero state: no
  look-ahead, no padding), on the whole run before it is cut into trials, so trials carry no filter start-up;
* resampling is decimation by an integer factor (keep every k-th sample) after that band-pass, whose upper edge
  must lie below the new Nyquist frequency: it is causal too. A rate that does not divide the recording's rate is
  refused rather than resampled through an FFT, which would look ahead;
* epochs are fixed windows [tmin_s, tmax_s) after each cue (`mne.Epochs`, no baseline correction, since a
  baseline before the cue would be look-behind-only but a baseline mean over the window would look ahead).

Per-subject standardization needs the train/test split, so it lives in `encode.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from spikeport.errors import DataSourceError
from spikeport.train.data.eeg.events import EventMapping
from spikeport.train.synthetic import EEGDataset

__all__ = [
    "MOTOR_CHANNELS",
    "EEGTrials",
    "PreprocessConfig",
    "bandpass_epochs",
    "epoch_raw",
    "preprocess_raw",
    "trials_from_raws",
]

MOTOR_CHANNELS: tuple[str, ...] = (
    "FC3", "FC1", "FCz", "FC2", "FC4", "C5", "C3", "C1", "Cz", "C2", "C4", "C6", "CP3", "CP1", "CPz", "CP2", "CP4",
)  # fmt: skip
"""Sensorimotor 10-10 channels over the hand areas (C3/C4) and their neighbours, present in EEGMMIDB's 64-channel
montage; the usual pick for left/right motor imagery (Pfurtscheller & Neuper 2001, Proc. IEEE 89(7))."""


@dataclass(frozen=True)
class PreprocessConfig:
    """Preprocessing settings; the defaults are those of `docs/data-eeg.md`."""

    channels: tuple[str, ...] | None = MOTOR_CHANNELS
    """Channels to keep, in this order; None keeps every EEG-typed channel (EOG, stim and misc are dropped)."""
    band_hz: tuple[float, float] = (8.0, 30.0)
    """Band-pass edges in Hz: the mu (8-13 Hz) and beta (13-30 Hz) rhythms whose desynchronization marks motor
    imagery (Pfurtscheller & Lopes da Silva 1999, Clin. Neurophysiol. 110(11)); MNE's CSP example uses 7-30 Hz."""
    filter_order: int = 4
    """Butterworth order of the forward-only IIR band-pass."""
    resample_hz: float | None = 80.0
    """Rate after decimation; must divide the recording's rate and exceed twice the upper band edge. None keeps the
    recording's rate. 80 Hz halves EEGMMIDB's 160 Hz; use 125 Hz for BCI IV 2a's 250 Hz."""
    tmin_s: float = 0.5
    """Window start in seconds after the cue (ERD develops about 0.5 s after it)."""
    tmax_s: float = 2.5
    """Window end in seconds after the cue (exclusive); EEGMMIDB cues last 4.1 s, BCI IV 2a imagery 4 s."""

    def __post_init__(self) -> None:
        lo, hi = self.band_hz
        if not 0 < lo < hi:
            raise DataSourceError(f"PreprocessConfig.band_hz: need 0 < low < high, got {self.band_hz}")
        if self.filter_order < 1:
            raise DataSourceError(f"PreprocessConfig.filter_order: must be >= 1, got {self.filter_order}")
        if self.resample_hz is not None and self.resample_hz <= 2 * hi:
            raise DataSourceError(
                f"PreprocessConfig.resample_hz: {self.resample_hz} Hz must exceed twice the band's upper edge {hi} Hz"
            )
        if not self.tmax_s > self.tmin_s:
            raise DataSourceError(f"PreprocessConfig: need tmin_s < tmax_s, got {self.tmin_s} and {self.tmax_s}")
        if self.channels is not None:
            object.__setattr__(self, "channels", tuple(self.channels))

    def decimation(self, sfreq: float) -> int:
        """Integer decimation factor from `sfreq` to `resample_hz` (1 when not resampling)."""
        if self.resample_hz is None:
            return 1
        ratio = sfreq / self.resample_hz
        k = round(ratio)
        if k < 1 or abs(ratio - k) > 1e-9:
            raise DataSourceError(
                f"PreprocessConfig.resample_hz: {self.resample_hz} Hz does not divide the recording's {sfreq:g} Hz; "
                f"choose {sfreq:g}/k Hz (causal decimation) or None"
            )
        return k

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        out = asdict(self)
        out["band_hz"] = list(self.band_hz)
        out["channels"] = None if self.channels is None else list(self.channels)
        out["filter"] = f"Butterworth order {self.filter_order}, IIR, second-order sections, forward only (causal)"
        return out


@dataclass(frozen=True)
class EEGTrials:
    """Epoched, band-passed trials of recorded EEG, with where each trial came from."""

    dataset: EEGDataset
    """Trials (trials, channels, samples) in volts at the decimated rate; `synthetic=False`."""
    runs: np.ndarray
    """Shape (trials,), int64: run (or file) number of each trial."""
    meta: dict[str, Any] = field(default_factory=dict)
    """JSON-ready provenance: source, files, preprocessing, event mapping, dropped events."""


def preprocess_raw(raw: Any, cfg: PreprocessConfig, *, where: str = "recording") -> Any:
    """Pick channels and band-pass a continuous `mne.io.Raw` in place, causally; returns it.

    Raises:
        DataSourceError: If a configured channel is missing or the band reaches the recording's Nyquist frequency.
    """
    if cfg.channels is None:
        raw.pick("eeg")
    else:
        missing = [c for c in cfg.channels if c not in raw.ch_names]
        if missing:
            raise DataSourceError(
                f"{where}: channels {missing} are not in the recording (it has {raw.ch_names[:8]}...); "
                "set the channel picks to names it has, or None for all EEG channels"
            )
        raw.pick(list(cfg.channels))
    sfreq = float(raw.info["sfreq"])
    if cfg.band_hz[1] >= sfreq / 2:
        raise DataSourceError(f"{where}: band {cfg.band_hz} Hz reaches the Nyquist frequency {sfreq / 2:g} Hz")
    cfg.decimation(sfreq)  # refuse a non-causal rate before filtering
    iir = {"order": cfg.filter_order, "ftype": "butter", "output": "sos"}
    raw.filter(*cfg.band_hz, method="iir", iir_params=iir, phase="forward", verbose=False)
    return raw


def bandpass_epochs(dataset: EEGDataset, cfg: PreprocessConfig) -> EEGDataset:
    """The same causal band-pass and decimation applied to already epoched trials (e.g. the synthetic data).

    Each trial is filtered from a zero state at its first sample (no continuous recording to carry the state), so
    its first ~0.3 s hold the filter's start-up; prefer `preprocess_raw` on continuous recordings. Channel picks and
    the window are not applied here.
    """
    import mne

    k = cfg.decimation(dataset.sfreq)
    iir = {"order": cfg.filter_order, "ftype": "butter", "output": "sos"}
    data = mne.filter.filter_data(
        dataset.data, dataset.sfreq, *cfg.band_hz, method="iir", iir_params=iir, phase="forward", verbose=False
    )
    return EEGDataset(
        data=data[:, :, ::k], labels=dataset.labels, subjects=dataset.subjects, sfreq=dataset.sfreq / k,
        ch_names=dataset.ch_names, class_names=dataset.class_names, synthetic=dataset.synthetic,
        description=f"{dataset.description} Band-passed {cfg.band_hz} Hz (causal IIR), decimated by {k}.",
    )  # fmt: skip


def epoch_raw(
    raw: Any, mapping: EventMapping, cfg: PreprocessConfig, *, where: str
) -> tuple[np.ndarray, np.ndarray, int]:
    """Cut a preprocessed raw into trials after each mapped event.

    Returns:
        (data (trials, channels, samples) in volts at the decimated rate, labels (trials,) int64, number of mapped
        events dropped because their window ran past the end of the recording).

    Raises:
        DataSourceError: If the recording holds none of the mapped events.
    """
    import mne

    present = sorted(set(raw.annotations.description))
    wanted = {ev: i + 1 for i, ev in enumerate(mapping.event_to_class) if ev in present}
    if not wanted:
        raise DataSourceError(
            f"{where}: none of the mapped events {list(mapping.event_to_class)} occur in it "
            f"(its annotations are {present}); fix the event mapping"
        )
    events, _ = mne.events_from_annotations(raw, event_id=wanted, verbose=False)
    sfreq = float(raw.info["sfreq"])
    k = cfg.decimation(sfreq)
    n_native = round((cfg.tmax_s - cfg.tmin_s) * sfreq)
    n_native -= n_native % k  # whole output samples only
    if n_native < k:
        raise DataSourceError(f"{where}: the window {cfg.tmin_s}-{cfg.tmax_s} s holds no sample at {sfreq:g} Hz")
    tmax = cfg.tmin_s + (n_native - 1) / sfreq
    epochs = mne.Epochs(
        raw, events, event_id=wanted, tmin=cfg.tmin_s, tmax=tmax, baseline=None, preload=True,
        reject_by_annotation=False, on_missing="ignore", verbose=False,
    )  # fmt: skip
    data = epochs.get_data(copy=True)
    if data.shape[2] != n_native:
        raise DataSourceError(f"{where}: epochs of {data.shape[2]} samples, expected {n_native}")
    code_to_event = {code: ev for ev, code in wanted.items()}
    labels = np.array([mapping.label_of(code_to_event[c]) for c in epochs.events[:, 2]], dtype=np.int64)
    return np.ascontiguousarray(data[:, :, ::k]), labels, len(events) - len(epochs.events)


def trials_from_raws(
    raws: Sequence[tuple[Any, int, int, str]],
    mapping: EventMapping,
    cfg: PreprocessConfig,
    *,
    source: str,
    description: str,
    extra_meta: dict[str, Any] | None = None,
) -> EEGTrials:
    """Preprocess and epoch several recordings into one trial set.

    Args:
        raws: (raw, subject id, run number, file name) per recording; each raw is changed in place.
        mapping: Events that are trials and their classes.
        cfg: Preprocessing settings.
        source: Data source name (e.g. "eegmmidb").
        description: Free text for the dataset.
        extra_meta: Further provenance entries.

    Raises:
        DataSourceError: On a missing channel, event, or a rate mismatch between recordings.
    """
    parts, rates, dropped = [], set(), 0
    for raw, subject, run, name in raws:
        where = f"{source} file {name}"
        preprocess_raw(raw, cfg, where=where)
        data, labels, n_drop = epoch_raw(raw, mapping, cfg, where=where)
        dropped += n_drop
        rates.add(float(raw.info["sfreq"]) / cfg.decimation(float(raw.info["sfreq"])))
        parts.append((data, labels, subject, run, raw.ch_names))
    if len(rates) != 1 or len({tuple(p[4]) for p in parts}) != 1:
        raise DataSourceError(
            f"{source}: recordings differ in rate {sorted(rates)} or channels; pick common channels and a common "
            "resample_hz"
        )
    data = np.concatenate([p[0] for p in parts])
    dataset = EEGDataset(
        data=data,
        labels=np.concatenate([p[1] for p in parts]),
        subjects=np.concatenate([np.full(len(p[1]), p[2], dtype=np.int64) for p in parts]),
        sfreq=rates.pop(),
        ch_names=tuple(parts[0][4]),
        class_names=mapping.class_names,
        synthetic=False,
        description=description,
    )
    runs = np.concatenate([np.full(len(p[1]), p[3], dtype=np.int64) for p in parts])
    meta = {
        "source": source,
        "synthetic": False,
        "files": [name for _, _, _, name in raws],
        "events": mapping.as_string(),
        "class_names": list(mapping.class_names),
        "preprocessing": cfg.as_dict(),
        "dropped_events": dropped,
        **(extra_meta or {}),
    }
    return EEGTrials(dataset=dataset, runs=runs, meta=meta)
