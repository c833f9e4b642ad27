"""Continuous spike streams of whole recordings, for running a deployed network online (`evaluate --streaming`).

The same causal chain as the epoched trials, applied to a whole run instead of cut windows: pick channels,
forward-only band-pass, decimate, standardize with a subject's fitted statistics, delta-encode. The stream's step
t covers samples [t * k, (t + 1) * k) of the decimated run (k = samples per step), and each cue is reported as the
step in which it falls, so a consumer can score a decision made d steps after the cue with a latency of
d * step_seconds. Decimation here starts at the run's first sample, while epochs start theirs at the window start:
the two sample grids differ by less than one original sample period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spikeport.errors import DataSourceError
from spikeport.train.data.eeg.encode import DeltaSpikeEncoder, Standardizer
from spikeport.train.data.eeg.events import EventMapping
from spikeport.train.data.eeg.preprocess import PreprocessConfig, preprocess_raw

__all__ = ["SpikeStream", "stream_from_raw"]


@dataclass(frozen=True)
class SpikeStream:
    """One recording encoded as a single spike train, with its cues."""

    spikes: np.ndarray
    """Shape (steps, inputs), uint8 0/1."""
    cue_steps: np.ndarray
    """Shape (cues,), int64: the step in which each mapped cue falls."""
    labels: np.ndarray
    """Shape (cues,), int64: class of each cue."""
    step_seconds: float
    """Recording time of one step."""
    info: dict[str, Any] = field(default_factory=dict)
    """input_names, class_names, sfreq, subject, and the settings used."""


def stream_from_raw(
    raw: Any,
    mapping: EventMapping,
    standardizer: Standardizer,
    subject: int,
    *,
    cfg: PreprocessConfig | None = None,
    encoder: DeltaSpikeEncoder | None = None,
) -> SpikeStream:
    """Encode a whole continuous recording (an `mne.io.Raw`, changed in place) as one causal spike stream.

    Args:
        raw: The recording, with annotations for its cues.
        mapping: Cue events and their classes.
        standardizer: Fitted statistics; `subject`'s own if it has any, else the pooled ones.
        subject: Subject id whose statistics apply.
        cfg: Preprocessing (the one the standardizer's trials were made with); None: defaults.
        encoder: The spike encoder; None: `DeltaSpikeEncoder()`.

    Raises:
        DataSourceError: On missing channels, a non-causal rate or step, or no mapped cue in the recording.
    """
    import mne

    cfg = cfg if cfg is not None else PreprocessConfig()
    encoder = encoder if encoder is not None else DeltaSpikeEncoder()
    preprocess_raw(raw, cfg, where="stream")
    sfreq = float(raw.info["sfreq"])
    k = cfg.decimation(sfreq)
    rate = sfreq / k
    per_step = encoder.samples_per_step(rate)
    data = raw.get_data()[:, ::k]
    known = np.flatnonzero(standardizer.subject_ids == subject)
    mean = standardizer.mean[known[0]] if known.size else standardizer.pooled_mean
    std = standardizer.std[known[0]] if known.size else standardizer.pooled_std
    if mean.shape[0] != data.shape[0]:
        raise DataSourceError(f"stream: {data.shape[0]} channels, but the standardizer was fitted on {mean.shape[0]}")
    spikes = encoder.encode(((data - mean[:, None]) / std[:, None])[None], rate)[0]
    wanted = {ev: i + 1 for i, ev in enumerate(mapping.event_to_class) if ev in set(raw.annotations.description)}
    if not wanted:
        raise DataSourceError(
            f"stream: none of the mapped events {list(mapping.event_to_class)} occur in the recording"
        )
    events, _ = mne.events_from_annotations(raw, event_id=wanted, verbose=False)
    code_to_event = {code: ev for ev, code in wanted.items()}
    onsets = events[:, 0] - raw.first_samp
    cue_steps = (onsets // k) // per_step
    keep = cue_steps < spikes.shape[0]
    return SpikeStream(
        spikes=spikes,
        cue_steps=cue_steps[keep].astype(np.int64),
        labels=np.array([mapping.label_of(code_to_event[c]) for c in events[keep, 2]], dtype=np.int64),
        step_seconds=encoder.step_seconds,
        info={
            "input_names": list(encoder.input_names(tuple(raw.ch_names))),
            "class_names": list(mapping.class_names),
            "sfreq": rate,
            "subject": int(subject),
            "standardization": "subject" if known.size else "pooled",
            "preprocessing": cfg.as_dict(),
            "threshold_sd": encoder.threshold,
        },
    )
