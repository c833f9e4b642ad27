"""Subject-aware splits of trials: leave-one-subject-out, within-subject, few-shot K per class.

Generic over subject ids and labels (any modality). Every split is a pair of sorted, disjoint int64 index arrays
into the trial list; randomness comes only from `numpy.random.default_rng(seed)`, so a seed fixes the split.
Within a subject, trials are drawn per class (stratified), so class proportions are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeport.errors import DataSourceError

__all__ = ["Split", "few_shot_split", "loso_splits", "within_subject_folds", "within_subject_split"]


@dataclass(frozen=True)
class Split:
    """One train/test division of the trials."""

    name: str
    """E.g. "loso:3", "within:1", "few-shot:1:K=5"."""
    train: np.ndarray
    """Sorted int64 indices of training trials."""
    test: np.ndarray
    """Sorted int64 indices of test trials, disjoint from `train`."""
    test_subject: int | None = None
    """The subject the test trials belong to (None when they mix subjects)."""


def _check(subjects: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    subjects, labels = np.asarray(subjects), np.asarray(labels)
    if subjects.ndim != 1 or subjects.shape != labels.shape:
        raise DataSourceError(f"splits: subjects {subjects.shape} and labels {labels.shape} must be equal 1-D arrays")
    return subjects.astype(np.int64), labels.astype(np.int64)


def _subject_rows(subjects: np.ndarray, subject: int) -> np.ndarray:
    rows = np.flatnonzero(subjects == subject)
    if rows.size == 0:
        raise DataSourceError(
            f"splits: subject {subject} has no trials (subjects present: {np.unique(subjects).tolist()})"
        )
    return rows


def _sorted(parts: list[np.ndarray]) -> np.ndarray:
    return np.sort(np.concatenate(parts).astype(np.int64)) if parts else np.zeros(0, dtype=np.int64)


def loso_splits(subjects: np.ndarray, labels: np.ndarray) -> list[Split]:
    """One split per subject: train on every other subject, test on all of that subject's trials.

    Raises:
        DataSourceError: If fewer than two subjects are present.
    """
    subjects, _ = _check(subjects, labels)
    ids = np.unique(subjects)
    if ids.size < 2:
        raise DataSourceError(f"splits: leave-one-subject-out needs at least two subjects, got {ids.tolist()}")
    return [
        Split(f"loso:{s}", np.flatnonzero(subjects != s).astype(np.int64), _subject_rows(subjects, s), int(s))
        for s in ids
    ]


def within_subject_split(
    subjects: np.ndarray, labels: np.ndarray, subject: int, *, test_fraction: float = 0.25, seed: int = 0
) -> Split:
    """Stratified random split of one subject's trials: round(test_fraction * n_c) test trials of each class c.

    Raises:
        DataSourceError: If test_fraction is not in (0, 1), the subject has no trials, or a class would leave no
            training or no test trial.
    """
    subjects, labels = _check(subjects, labels)
    if not 0.0 < test_fraction < 1.0:
        raise DataSourceError(f"splits: test_fraction must be in (0, 1), got {test_fraction}")
    rows = _subject_rows(subjects, subject)
    rng = np.random.default_rng([seed, int(subject)])
    train, test = [], []
    for c in np.unique(labels[rows]):
        members = rng.permutation(rows[labels[rows] == c])
        n_test = round(test_fraction * members.size)
        if n_test < 1 or n_test >= members.size:
            raise DataSourceError(
                f"splits: subject {subject} class {c} has {members.size} trials; test_fraction {test_fraction} "
                "leaves no training or no test trial"
            )
        test.append(members[:n_test])
        train.append(members[n_test:])
    return Split(f"within:{subject}", _sorted(train), _sorted(test), int(subject))


def within_subject_folds(
    subjects: np.ndarray, labels: np.ndarray, subject: int, *, n_folds: int = 5, seed: int = 0
) -> list[Split]:
    """Stratified k-fold cross-validation within one subject: the test sets partition the subject's trials.

    Each class's trials are permuted (seeded) and dealt to the folds in turn, so every trial is tested exactly once
    and pooled predictions over the folds score all of the subject's trials (a tighter interval than one split).

    Raises:
        DataSourceError: If n_folds < 2 or a class has fewer trials than folds.
    """
    subjects, labels = _check(subjects, labels)
    if n_folds < 2:
        raise DataSourceError(f"splits: n_folds must be >= 2, got {n_folds}")
    rows = _subject_rows(subjects, subject)
    rng = np.random.default_rng([seed, int(subject)])
    fold_of = np.empty(rows.size, dtype=np.int64)
    for c in np.unique(labels[rows]):
        members = np.flatnonzero(labels[rows] == c)
        if members.size < n_folds:
            raise DataSourceError(
                f"splits: subject {subject} class {c} has {members.size} trials, fewer than n_folds={n_folds}"
            )
        fold_of[rng.permutation(members)] = np.arange(members.size) % n_folds
    return [
        Split(f"within:{subject}:fold{f}", rows[fold_of != f].astype(np.int64), rows[fold_of == f].astype(np.int64),
              int(subject))
        for f in range(n_folds)
    ]  # fmt: skip


def few_shot_split(subjects: np.ndarray, labels: np.ndarray, subject: int, shots: int, *, seed: int = 0) -> Split:
    """K trials per class of one subject for calibration (train); the subject's remaining trials are the test set.

    The shots are the first K of a per-class permutation fixed by (seed, subject), so the shots of a smaller K are
    a subset of those of a larger K (accuracy-versus-K curves compare nested calibration sets).

    Raises:
        DataSourceError: If shots < 1 or a class of the subject has no more than `shots` trials (nothing to test).
    """
    subjects, labels = _check(subjects, labels)
    if int(shots) < 1:
        raise DataSourceError(f"splits: shots must be >= 1, got {shots}")
    rows = _subject_rows(subjects, subject)
    rng = np.random.default_rng([seed, int(subject)])
    train = []
    for c in np.unique(labels[rows]):
        members = rows[labels[rows] == c]
        if members.size <= shots:
            raise DataSourceError(
                f"splits: subject {subject} class {c} has {members.size} trials, need more than shots={shots}"
            )
        train.append(rng.permutation(members)[:shots])
    train_idx = _sorted(train)
    return Split(
        f"few-shot:{subject}:K={shots}", train_idx, np.setdiff1d(rows, train_idx).astype(np.int64), int(subject)
    )
