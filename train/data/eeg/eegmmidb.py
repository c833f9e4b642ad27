"""EEG Motor Movement/Imagery Dataset (EEGMMIDB, PhysioNet; Schalk et al. 2004) through MNE's own loader.

Files are located by `mne.datasets.eegbci.load_data(subject, runs, path=PATH, update_path=False)` in MNE's cache
layout (`PATH/MNE-eegbci-data/files/eegmmidb/1.0.0/S001/S001R04.edf`), read by `mne.io.read_raw_edf`, and their
channel names fixed by `eegbci.standardize` ('C3..' -> 'C3'). Offline, a missing file is an error that names it;
with `download=True` MNE fetches it from PhysioNet.

Run-to-class mapping (PhysioNet's description of the dataset, and `mne.datasets.eegbci.load_data`'s notes): in
every run T0 is rest, and T1/T2 are
  runs 3, 7, 11 (executed) and 4, 8, 12 (imagined): T1 = left fist, T2 = right fist;
  runs 5, 9, 13 (executed) and 6, 10, 14 (imagined): T1 = both fists, T2 = both feet.
Executed and imagined movements share class names, so `kinds=("imagined", "executed")` pools them (the
sensorimotor rhythm changes of imagery and execution are alike, Pfurtscheller & Neuper 1997, Neurosci. Lett. 239);
the run of each trial is kept, so a protocol may still separate them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import MappingProxyType

from spikeport.errors import DataSourceError
from spikeport.train.data.eeg.events import EventMapping
from spikeport.train.data.eeg.preprocess import EEGTrials, PreprocessConfig, trials_from_raws

__all__ = ["EEGMMIDB_RUNS", "EEGMMIDB_TASKS", "eegmmidb_file", "eegmmidb_runs", "load_eegmmidb"]

EEGMMIDB_RUNS: MappingProxyType[tuple[str, str], tuple[int, ...]] = MappingProxyType(
    {
        ("left_right", "executed"): (3, 7, 11),
        ("left_right", "imagined"): (4, 8, 12),
        ("fists_feet", "executed"): (5, 9, 13),
        ("fists_feet", "imagined"): (6, 10, 14),
    }
)
"""(task, kind) -> run numbers, per PhysioNet's EEGMMIDB description."""

EEGMMIDB_TASKS: MappingProxyType[str, EventMapping] = MappingProxyType(
    {
        "left_right": EventMapping.from_pairs({"T1": "left_fist", "T2": "right_fist"}),
        "fists_feet": EventMapping.from_pairs({"T1": "both_fists", "T2": "both_feet"}),
    }
)
"""Task -> the meaning of T1/T2 in its runs (T0, rest, is not a trial)."""

_VERSION_DIR = ("MNE-eegbci-data", "files", "eegmmidb", "1.0.0")  # MNE's cache layout (eegbci.load_data)


def eegmmidb_runs(task: str, kinds: Sequence[str]) -> tuple[int, ...]:
    """Run numbers of a task ("left_right" or "fists_feet") and kinds ("imagined", "executed"), sorted.

    Raises:
        DataSourceError: On an unknown task or kind, naming it.
    """
    if task not in EEGMMIDB_TASKS:
        raise DataSourceError(f"eegmmidb task: {task!r} is unknown; choose one of {sorted(EEGMMIDB_TASKS)}")
    if not kinds:
        raise DataSourceError("eegmmidb kinds: empty; choose 'imagined', 'executed' or both")
    for kind in kinds:
        if (task, kind) not in EEGMMIDB_RUNS:
            raise DataSourceError(f"eegmmidb kinds: {kind!r} is unknown; choose 'imagined' and/or 'executed'")
    return tuple(sorted(r for kind in dict.fromkeys(kinds) for r in EEGMMIDB_RUNS[(task, kind)]))


def eegmmidb_file(path: str | Path, subject: int, run: int) -> Path:
    """Where `eegbci.load_data(subject, run, path=path)` keeps (or would download) one run."""
    return Path(path).joinpath(*_VERSION_DIR, f"S{subject:03d}", f"S{subject:03d}R{run:02d}.edf")


def load_eegmmidb(
    path: str | Path,
    subjects: Sequence[int],
    *,
    task: str = "left_right",
    kinds: Sequence[str] = ("imagined",),
    runs: Sequence[int] | None = None,
    missing: str = "error",
    download: bool = False,
    cfg: PreprocessConfig | None = None,
) -> EEGTrials:
    """Epoched trials of EEGMMIDB subjects.

    Args:
        path: Folder that holds (or receives) `MNE-eegbci-data`, as `eegbci.load_data`'s `path`.
        subjects: Subject numbers 1-109; each becomes the trial's subject id.
        task: "left_right" (left vs right fist) or "fists_feet" (both fists vs both feet).
        kinds: "imagined", "executed", or both (pooled: same classes; the run of each trial is kept).
        runs: A subset of the task's runs; None: all of them.
        missing: "error" (default): a run not on disk is an error; "skip": use the runs that are on disk (a subject
            with none of them is still an error). Ignored with `download=True`.
        download: Let MNE download missing runs from PhysioNet (needs internet).
        cfg: Preprocessing; None: the defaults (17 motor channels, 8-30 Hz causal, 80 Hz, 0.5-2.5 s).

    Raises:
        DataSourceError: Naming subject, run and path of a missing file, or a bad task, kind, run or `missing`.
    """
    import mne
    from mne.datasets import eegbci

    task_runs = eegmmidb_runs(task, kinds)
    chosen = task_runs if runs is None else tuple(int(r) for r in runs)
    bad = [r for r in chosen if r not in task_runs]
    if bad:
        raise DataSourceError(f"eegmmidb runs: {bad} are not runs of task {task!r} {list(kinds)}; use {task_runs}")
    if missing not in ("error", "skip"):
        raise DataSourceError(f"eegmmidb missing: {missing!r}; choose 'error' or 'skip'")
    if not subjects:
        raise DataSourceError("eegmmidb subjects: none given; name subjects 1-109 (e.g. --subjects 1 2 3 6)")
    raws, used = [], {}
    for subject in (int(s) for s in subjects):
        if not 1 <= subject <= 109:
            raise DataSourceError(f"eegmmidb subject {subject}: EEGMMIDB has subjects 1-109")
        present = [r for r in chosen if download or eegmmidb_file(path, subject, r).is_file()]
        absent = [r for r in chosen if r not in present]
        if absent and (missing == "error" or not present):
            first = eegmmidb_file(path, subject, absent[0])
            raise DataSourceError(
                f"eegmmidb subject {subject} run(s) {absent}: {first} not found (offline); with internet "
                "MNE downloads them (download=True), or load only the runs on disk (missing='skip')"
            )
        for file in eegbci.load_data(subject, present, path=str(path), update_path=False, verbose=False):
            raw = mne.io.read_raw_edf(file, preload=True, verbose=False)
            eegbci.standardize(raw)
            run = int(Path(file).stem.split("R")[-1])
            raws.append((raw, subject, run, Path(file).name))
        used[subject] = present
    mapping = EEGMMIDB_TASKS[task]
    return trials_from_raws(
        raws, mapping, cfg if cfg is not None else PreprocessConfig(), source="eegmmidb",
        description=(
            f"EEGMMIDB (PhysioNet, Schalk et al. 2004) task {task} {'+'.join(kinds)}, subjects {list(used)}, "
            "read by mne.datasets.eegbci"
        ),
        extra_meta={"task": task, "kinds": list(kinds), "runs_used": {str(s): r for s, r in used.items()}},
    )  # fmt: skip
