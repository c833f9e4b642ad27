"""Train/test splits of intracortical sessions that never put one trial on both sides.

* `split_trials_in_time`: one session, trials in time order; the first `train_fraction` of them train, the rest
  test (NeuroBench and the issue use 80 % / 20 %). Time order, not a random draw, because neighbouring bins are
  strongly correlated: a random split would leak.
* `split_sessions`: several sessions; named sessions are held out whole.
* `split_first_minutes`: adaptation to a new session; trials that end within the first `minutes` of the session
  adapt the model, all later trials evaluate it.
The bin-level selections (`bins_of_trials`) keep only bins inside the chosen trials.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spikeport.errors import InputDataError
from spikeport.train.data.intracortical.binning import BinnedSession

__all__ = ["bins_of_trials", "split_first_minutes", "split_sessions", "split_trials_in_time"]


def split_trials_in_time(n_trials: int, train_fraction: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) trial indices: the first round(train_fraction * n) trials, then the rest.

    Raises:
        InputDataError: fewer than 2 trials, or a fraction that leaves one side empty.
    """
    if not 0.0 < train_fraction < 1.0:
        raise InputDataError(f"train fraction must be in (0, 1), got {train_fraction}")
    n_train = round(train_fraction * n_trials)
    if n_trials < 2 or not 0 < n_train < n_trials:
        raise InputDataError(f"cannot split {n_trials} trials {train_fraction:.0%} / {1 - train_fraction:.0%} in "
                             "time order: need at least one trial on each side")
    return np.arange(n_train, dtype=np.int64), np.arange(n_train, n_trials, dtype=np.int64)


def split_sessions(sessions: Sequence[str], test_sessions: Sequence[str] | int = 1) -> tuple[list[int], list[int]]:
    """(train, test) session positions: `test_sessions` names the held-out sessions, or counts the last ones.

    Raises:
        InputDataError: a named session does not exist, or one side would be empty.
    """
    sessions = list(sessions)
    if isinstance(test_sessions, int):
        if not 0 < test_sessions < len(sessions):
            raise InputDataError(f"cannot hold out {test_sessions} of {len(sessions)} sessions; keep >= 1 on each side")
        test = list(range(len(sessions) - test_sessions, len(sessions)))
    else:
        unknown = [s for s in test_sessions if s not in sessions]
        if unknown:
            raise InputDataError(f"unknown test sessions {unknown}; the data holds {sessions}")
        test = [i for i, s in enumerate(sessions) if s in test_sessions]
        if not test or len(test) == len(sessions):
            raise InputDataError("session split needs at least one training and one test session")
    return [i for i in range(len(sessions)) if i not in test], test


def split_first_minutes(session: BinnedSession, minutes: float) -> tuple[np.ndarray, np.ndarray]:
    """(adapt, evaluate) trial indices: trials ending within the first `minutes` of the session, then the rest.

    Raises:
        InputDataError: `minutes` is not positive, or it leaves no trial on one side.
    """
    rec = session.recording
    if not minutes > 0:
        raise InputDataError(f"adaptation time must be positive, got {minutes} minutes")
    cut = rec.time_s[0] + 60.0 * minutes
    adapt = np.flatnonzero(rec.trial_stop_s <= cut + 1e-9)
    evaluate = np.flatnonzero(rec.trial_stop_s > cut + 1e-9)
    if adapt.size == 0 or evaluate.size == 0:
        length = (rec.trial_stop_s[-1] - rec.time_s[0]) / 60.0
        raise InputDataError(f"session {rec.session!r} lasts {length:.2f} min: the first {minutes:g} min leave no "
                             "trial to " + ("adapt on" if adapt.size == 0 else "evaluate on"))
    return adapt.astype(np.int64), evaluate.astype(np.int64)


def bins_of_trials(session: BinnedSession, trials: np.ndarray) -> np.ndarray:
    """Indices of the bins that lie in the given trials, in time order."""
    return np.flatnonzero(np.isin(session.trial, np.asarray(trials, dtype=np.int64))).astype(np.int64)
