"""Readers of recorded EEG through MNE: any MNE-readable file, and BCI Competition IV 2a (GDF, or MOABB).

Files are opened only by MNE (`mne.io.read_raw` picks the reader from the extension: EDF, BDF, GDF, FIF,
BrainVision .vhdr, EEGLAB .set, ...); trials are the recording's annotations named in an event mapping
("T1=left,T2=right"), preprocessed and epoched by `preprocess.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from spikeport.errors import DataSourceError, MissingDependencyError
from spikeport.train.data.eeg.events import EventMapping, parse_event_mapping
from spikeport.train.data.eeg.preprocess import EEGTrials, PreprocessConfig, trials_from_raws

__all__ = [
    "BCI2A_EOG_CHANNELS",
    "BCI2A_EVENTS",
    "load_bci_iv_2a",
    "load_bci_iv_2a_moabb",
    "load_recordings",
    "read_raw_file",
]

BCI2A_EVENTS = "769=left_hand,770=right_hand,771=feet,772=tongue"
"""Cue event codes of BCI Competition IV 2a (Brunner et al. 2008, "BCI Competition 2008 - Graz data set A",
table 2): 769 left hand, 770 right hand, 771 both feet, 772 tongue. Evaluation sessions (*E.gdf) mark cues as
783 (unknown) and need the labels from the separate true-label files."""

BCI2A_EOG_CHANNELS: tuple[str, ...] = ("EOG-left", "EOG-central", "EOG-right")
"""The three EOG channels of the 2a GDF files (Brunner et al. 2008); typed as EOG on reading and dropped."""


def read_raw_file(path: str | Path, *, eog: Sequence[str] = ()) -> Any:
    """Open one recording with `mne.io.read_raw`, preloaded.

    Raises:
        DataSourceError: If the file does not exist or MNE cannot read it (the message names the file).
    """
    import mne

    path = Path(path)
    if not path.is_file():
        raise DataSourceError(
            f"recording {path}: no such file; give an existing EDF/BDF/GDF/FIF/BrainVision/EEGLAB file"
        )
    kwargs: dict[str, Any] = {"preload": True, "verbose": False}
    if eog:
        kwargs["eog"] = list(eog)
    try:
        return mne.io.read_raw(path, **kwargs)
    except Exception as exc:  # any failure inside an MNE reader means an unreadable file
        raise DataSourceError(f"recording {path}: MNE cannot read it ({_first_line(exc)})") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_recordings(
    files: Sequence[str | Path],
    events: str | EventMapping,
    *,
    subject_ids: Sequence[int] = (),
    cfg: PreprocessConfig | None = None,
    source: str = "mne",
) -> EEGTrials:
    """Trials from any MNE-readable recordings and a user-given event mapping.

    Args:
        files: Recordings; each is one run.
        events: "EVENT=class,..." (see `parse_event_mapping`) or a parsed mapping.
        subject_ids: Subject of each file (same length as `files`); empty: each file is its own subject 1, 2, ...
        cfg: Preprocessing; None: the defaults with all EEG channels (arbitrary montages lack the motor picks).
        source: Name recorded in the provenance.

    Raises:
        DataSourceError: On a bad mapping (naming the entry), a missing or unreadable file, a subject list of the
            wrong length, or missing channels or events.
    """
    mapping = parse_event_mapping(events) if isinstance(events, str) else events
    if not files:
        raise DataSourceError(f"{source}: no recordings given; name one or more files (--files)")
    subjects = list(subject_ids) if subject_ids else list(range(1, len(files) + 1))
    if len(subjects) != len(files):
        raise DataSourceError(
            f"subject_ids: {len(subjects)} subject ids for {len(files)} files; give one per file or none"
        )
    cfg = cfg if cfg is not None else PreprocessConfig(channels=None)
    raws = [(read_raw_file(f), int(s), i + 1, str(f)) for i, (f, s) in enumerate(zip(files, subjects, strict=True))]
    return trials_from_raws(
        raws, mapping, cfg, source=source,
        description=f"recorded EEG from {len(files)} file(s) read by MNE, events {mapping.as_string()}",
    )  # fmt: skip


def load_bci_iv_2a(
    folder: str | Path,
    subjects: Sequence[int],
    *,
    session: str = "T",
    cfg: PreprocessConfig | None = None,
) -> EEGTrials:
    """BCI Competition IV 2a from its GDF files (A01T.gdf ... A09E.gdf) through `mne.io.read_raw_gdf`.

    Args:
        folder: Folder holding the files as distributed (`A0<s><session>.gdf`).
        subjects: Subject numbers 1-9.
        session: "T" (training session; cues 769-772 carry the class). The evaluation session "E" marks cues as 783
            without the class, so it is refused here.
        cfg: Preprocessing; None: defaults with all 22 EEG channels at 125 Hz (the 2a montage lacks EEGMMIDB's names).

    Raises:
        DataSourceError: If a file is missing (naming subject, session and path) or a session is not "T".
    """
    import mne

    if session != "T":
        raise DataSourceError(
            f"session: {session!r} is not supported; the 2a evaluation files mark cues as 783 without the class "
            "(the labels ship separately), use session 'T'"
        )
    cfg = cfg if cfg is not None else PreprocessConfig(channels=None, resample_hz=125.0)
    raws = []
    for s in subjects:
        path = Path(folder) / f"A{int(s):02d}{session}.gdf"
        if not path.is_file():
            raise DataSourceError(
                f"bci_iv_2a subject {s} session {session}: {path} not found; download the GDF files from "
                "https://www.bbci.de/competition/iv/ (data set 2a) into that folder"
            )
        try:
            raw = mne.io.read_raw_gdf(path, eog=list(BCI2A_EOG_CHANNELS), preload=True, verbose=False)
        except Exception as exc:  # any failure inside an MNE reader means an unreadable file
            raise DataSourceError(f"bci_iv_2a {path}: MNE cannot read it as GDF ({_first_line(exc)})") from exc
        raws.append((raw, int(s), 1, str(path)))
    return trials_from_raws(
        raws, parse_event_mapping(BCI2A_EVENTS), cfg, source="bci_iv_2a",
        description=f"BCI Competition IV 2a, subjects {list(subjects)}, session {session}, read by mne.io.read_raw_gdf",
        extra_meta={"eog_dropped": list(BCI2A_EOG_CHANNELS)},
    )  # fmt: skip


def load_bci_iv_2a_moabb(subjects: Sequence[int], *, cfg: PreprocessConfig | None = None) -> EEGTrials:
    """BCI Competition IV 2a through MOABB's `BNCI2014_001` (optional; MOABB downloads or finds the data).

    Raises:
        MissingDependencyError: If moabb is not installed.
    """
    try:
        from moabb.datasets import BNCI2014_001
    except ImportError as exc:
        raise MissingDependencyError(
            "moabb is not installed: `pip install moabb` to read BCI IV 2a through BNCI2014_001, or use the GDF "
            "files with load_bci_iv_2a"
        ) from exc
    cfg = cfg if cfg is not None else PreprocessConfig(channels=None, resample_hz=125.0)
    import mne

    dataset = BNCI2014_001()
    data = dataset.get_data(subjects=list(subjects))
    # MOABB annotates cues by class name (left_hand, right_hand, feet, tongue) and types EOG channels as eog.
    mapping = parse_event_mapping("left_hand=left_hand,right_hand=right_hand,feet=feet,tongue=tongue")
    raws = []
    for subject, sessions in sorted(data.items()):
        for session, runs in sorted(sessions.items()):
            for run, raw in sorted(runs.items()):
                raw.load_data()
                if not set(mapping.event_to_class) & set(raw.annotations.description):
                    # older MOABB versions mark cues on a stim channel only: turn them into annotations
                    found = mne.find_events(raw, verbose=False)
                    names = {code: name for name, code in dataset.event_id.items()}
                    raw.set_annotations(mne.annotations_from_events(found, raw.info["sfreq"], event_desc=names))
                raws.append((raw, int(subject), len(raws) + 1, f"BNCI2014_001/{subject}/{session}/{run}"))
    return trials_from_raws(
        raws, mapping, cfg, source="bci_iv_2a_moabb",
        description=f"BCI Competition IV 2a via MOABB BNCI2014_001, subjects {list(subjects)}",
    )  # fmt: skip
