"""From recordings to train/test windows in one call, with the split rule of the issue.

* One session: trials in time order, the first `train_fraction` train, the rest test (`split_trials_in_time`).
* Several sessions, `test_sessions` given (names, or a count of the last sessions): those sessions test whole,
  the others train whole (`split_sessions`).
* Several sessions, `test_sessions` None: every session is split by trials in time order and the parts pooled,
  so every session appears in both sets but no trial does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spikeport.errors import InputDataError
from spikeport.train.data.intracortical.binning import BinnedSession, bin_recording
from spikeport.train.data.intracortical.files import LAYOUTS, read_recordings
from spikeport.train.data.intracortical.recording import Recording
from spikeport.train.data.intracortical.splits import bins_of_trials, split_sessions, split_trials_in_time
from spikeport.train.data.intracortical.synthetic import SyntheticReachingConfig, make_synthetic_reaching
from spikeport.train.data.intracortical.taskdata import Windows, concat_windows, session_windows

__all__ = ["SplitWindows", "load_recordings", "split_windows"]


@dataclass(frozen=True)
class SplitWindows:
    """Train and test samples and the binned sessions they came from."""

    train: Windows
    test: Windows
    sessions: tuple[BinnedSession, ...]
    """Binned sessions, indexed by `Windows.session`."""
    rule: str
    """The split rule applied, in words."""


def split_windows(recordings: Sequence[Recording], *, bin_s: float, steps: int, train_fraction: float = 0.8,
                  test_sessions: Sequence[str] | int | None = None) -> SplitWindows:
    """Bin every recording at `bin_s`, split (see the module docstring) and cut causal windows of `steps` bins."""
    sessions = tuple(bin_recording(r, bin_s) for r in recordings)
    subjects = list(dict.fromkeys(r.subject for r in recordings))
    train, test = [], []

    def add(target: list, k: int, trials: np.ndarray) -> None:
        s = sessions[k]
        target.append(session_windows(s, bins_of_trials(s, trials), steps, session_id=k,
                                      subject_id=subjects.index(s.recording.subject)))

    if len(sessions) > 1 and test_sessions is not None:
        train_ids, test_ids = split_sessions([r.session for r in recordings], test_sessions)
        for k in train_ids:
            add(train, k, np.arange(sessions[k].recording.n_trials))
        for k in test_ids:
            add(test, k, np.arange(sessions[k].recording.n_trials))
        rule = f"sessions {[recordings[k].session for k in test_ids]} held out whole"
    else:
        for k, s in enumerate(sessions):
            tr, te = split_trials_in_time(s.recording.n_trials, train_fraction)
            add(train, k, tr)
            add(test, k, te)
        rule = (f"trials in time order: first {train_fraction:.0%} train, last {1 - train_fraction:.0%} test"
                + (" in every session" if len(sessions) > 1 else ""))
    return SplitWindows(train=concat_windows(train), test=concat_windows(test), sessions=sessions, rule=rule)


def load_recordings(source: str, path: str | None = None, files: Sequence[str] = (), *, seed: int = 0,
                    synthetic: SyntheticReachingConfig | None = None) -> list[Recording]:
    """The sessions of a run's data source (`RunConfig.data`, `.data_path`, `.data_files`).

    "synthetic" generates them (`synthetic` config, `seed`); a layout name reads `path` (a file or a folder) or the
    named `files` with that layout's reader; "auto" detects the layout of every file.

    Raises:
        InputDataError: an unknown source, a layout without a path, or any reader error.
    """
    if source == "synthetic":
        return make_synthetic_reaching(synthetic, seed)
    if source not in (*LAYOUTS, "auto"):
        raise InputDataError(f"unknown intracortical data source {source!r}; choose synthetic, auto or "
                             f"{', '.join(LAYOUTS)}")
    if path is None and not files:
        raise InputDataError(f"--data {source} reads recordings: give a file or folder with --data-path")
    return read_recordings(path or ".", None if source == "auto" else source, tuple(files))
