"""Small labelled SYNTHETIC recordings for the EEG reader tests, and where the shared EEGMMIDB data live."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHANNELS = ("FC3", "C3", "Cz", "C4", "CP3", "EOG1")
SFREQ = 160.0
ONSETS_S = (2.0, 6.0, 10.0, 14.0, 18.0, 22.0)
EVENTS = ("T1", "T2", "T0", "T1", "T2", "T2")
SHARED_DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def make_raw(seed: int = 0, duration_s: float = 26.0):
    """A labelled SYNTHETIC 6-channel recording (5 EEG + 1 EOG) with T0/T1/T2 annotations, in volts."""
    import mne

    rng = np.random.default_rng(seed)
    n = round(duration_s * SFREQ)
    t = np.arange(n) / SFREQ
    data = 10e-6 * rng.standard_normal((len(CHANNELS), n)) + 20e-6 * np.sin(2 * np.pi * 10 * t)[None, :]
    info = mne.create_info(list(CHANNELS), SFREQ, ch_types=["eeg"] * 5 + ["eog"])
    raw = mne.io.RawArray(data, info, verbose=False)
    raw.set_annotations(mne.Annotations(onset=list(ONSETS_S), duration=[4.0] * len(ONSETS_S), description=list(EVENTS)))
    return raw
