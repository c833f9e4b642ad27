"""One entry point from the command line's data options (`--data`, `--data-path`, `--subjects`, `--files`,
`--events`) to epoched trials, for model families that read recorded EEG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from spikeport.errors import DataSourceError
from spikeport.train.data.eeg.eegmmidb import load_eegmmidb
from spikeport.train.data.eeg.preprocess import EEGTrials, PreprocessConfig
from spikeport.train.data.eeg.readers import load_bci_iv_2a, load_bci_iv_2a_moabb, load_recordings

__all__ = ["DEFAULT_SUBJECTS", "EEG_SOURCES", "load_source"]

EEG_SOURCES: tuple[str, ...] = ("eegmmidb", "bci_iv_2a", "bci_iv_2a_moabb", "mne")
"""Recorded-EEG values of `--data` (the synthetic generator is the families' built-in default)."""

DEFAULT_SUBJECTS: dict[str, tuple[int, ...]] = {
    "eegmmidb": (1, 2, 3, 6),  # the subjects with imagined left/right runs in ../shared/data (docs/data-eeg.md)
    "bci_iv_2a": tuple(range(1, 10)),
    "bci_iv_2a_moabb": tuple(range(1, 10)),
}


def load_source(
    source: str,
    *,
    data_path: str | Path | None = None,
    subjects: Sequence[int] = (),
    files: Sequence[str | Path] = (),
    events: str | None = None,
    cfg: PreprocessConfig | None = None,
    kinds: Sequence[str] = ("imagined",),
    missing: str = "skip",
) -> EEGTrials:
    """Epoched trials of a recorded-EEG source.

    Args:
        source: One of `EEG_SOURCES`.
        data_path: Folder of the data (eegmmidb: the folder holding MNE-eegbci-data; bci_iv_2a: the GDF folder).
        subjects: Subjects to load; empty: `DEFAULT_SUBJECTS[source]` (for "mne": the subject of each file).
        files: Recordings for "mne".
        events: Event mapping for "mne", e.g. "T1=left,T2=right".
        cfg: Preprocessing; None: each reader's default.
        kinds: EEGMMIDB "imagined" and/or "executed" left/right runs.
        missing: EEGMMIDB runs absent on disk: "skip" (default here; the runs used are recorded in `meta`) or
            "error".

    Raises:
        DataSourceError: Naming the option that is missing or wrong.
    """
    if source not in EEG_SOURCES:
        raise DataSourceError(f"--data: {source!r} is not a recorded-EEG source; choose one of {list(EEG_SOURCES)}")
    if source == "mne":
        if not files or not events:
            raise DataSourceError("--data mne: needs --files (recordings) and --events (e.g. 'T1=left,T2=right')")
        return load_recordings(files, events, subject_ids=subjects, cfg=cfg)
    if source != "bci_iv_2a_moabb" and data_path is None:
        raise DataSourceError(f"--data {source}: needs --data-path (the folder that holds the recordings)")
    chosen = tuple(subjects) or DEFAULT_SUBJECTS[source]
    if source == "eegmmidb":
        return load_eegmmidb(data_path, chosen, kinds=kinds, missing=missing, cfg=cfg)
    if source == "bci_iv_2a":
        return load_bci_iv_2a(data_path, chosen, cfg=cfg)
    return load_bci_iv_2a_moabb(chosen, cfg=cfg)
