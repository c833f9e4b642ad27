"""Subject-aware splits: no overlap, K shots per class, deterministic by seed."""

from __future__ import annotations

import numpy as np
import pytest

from spikeport.errors import DataSourceError
from spikeport.train.data.eeg import few_shot_split, loso_splits, within_subject_split
from spikeport.train.data.eeg.splits import within_subject_folds

SUBJECTS = np.repeat([1, 2, 3, 6], [20, 12, 16, 10])
LABELS = np.concatenate([np.arange(n) % 2 for n in (20, 12, 16, 10)])


def test_loso_covers_every_subject_once() -> None:
    splits = loso_splits(SUBJECTS, LABELS)
    assert [s.test_subject for s in splits] == [1, 2, 3, 6]
    for s in splits:
        assert np.intersect1d(s.train, s.test).size == 0
        assert set(SUBJECTS[s.test]) == {s.test_subject} and s.test_subject not in set(SUBJECTS[s.train])
        assert s.train.size + s.test.size == SUBJECTS.size
    with pytest.raises(DataSourceError, match="at least two subjects"):
        loso_splits(np.ones(4, int), np.array([0, 1, 0, 1]))


def test_within_subject_is_stratified_and_seeded() -> None:
    s = within_subject_split(SUBJECTS, LABELS, 3, test_fraction=0.25, seed=5)
    assert np.intersect1d(s.train, s.test).size == 0
    assert set(SUBJECTS[np.concatenate([s.train, s.test])]) == {3} and s.train.size + s.test.size == 16
    assert np.bincount(LABELS[s.test]).tolist() == [2, 2]
    again = within_subject_split(SUBJECTS, LABELS, 3, test_fraction=0.25, seed=5)
    np.testing.assert_array_equal(s.test, again.test)
    other = [within_subject_split(SUBJECTS, LABELS, 3, seed=k).test.tolist() for k in range(6)]
    assert len({tuple(t) for t in other}) > 1


def test_folds_partition_the_subject() -> None:
    folds = within_subject_folds(SUBJECTS, LABELS, 1, n_folds=5, seed=0)
    tests = np.concatenate([f.test for f in folds])
    assert sorted(tests.tolist()) == np.flatnonzero(SUBJECTS == 1).tolist()
    for f in folds:
        assert np.intersect1d(f.train, f.test).size == 0 and np.bincount(LABELS[f.test]).tolist() == [2, 2]
    with pytest.raises(DataSourceError, match="fewer than n_folds=6"):
        within_subject_folds(SUBJECTS, LABELS, 6, n_folds=6)


@pytest.mark.parametrize("shots", [1, 2, 5])
def test_few_shot_takes_k_per_class_and_tests_the_rest(shots: int) -> None:
    s = few_shot_split(SUBJECTS, LABELS, 2, shots, seed=1)
    assert np.bincount(LABELS[s.train]).tolist() == [shots, shots]
    assert set(SUBJECTS[s.train]) == set(SUBJECTS[s.test]) == {2}
    assert np.intersect1d(s.train, s.test).size == 0 and s.train.size + s.test.size == 12
    np.testing.assert_array_equal(s.train, few_shot_split(SUBJECTS, LABELS, 2, shots, seed=1).train)


def test_few_shot_sets_are_nested_in_k() -> None:
    k1, k2, k5 = (set(few_shot_split(SUBJECTS, LABELS, 1, k, seed=0).train) for k in (1, 2, 5))
    assert k1 <= k2 <= k5


def test_split_errors_name_the_problem() -> None:
    with pytest.raises(DataSourceError, match="subject 6 class 0 has 5 trials, need more than shots=5"):
        few_shot_split(SUBJECTS, LABELS, 6, 5)
    with pytest.raises(DataSourceError, match="subject 4 has no trials"):
        few_shot_split(SUBJECTS, LABELS, 4, 1)
    with pytest.raises(DataSourceError, match="shots must be >= 1"):
        few_shot_split(SUBJECTS, LABELS, 1, 0)
    with pytest.raises(DataSourceError, match=r"test_fraction must be in \(0, 1\)"):
        within_subject_split(SUBJECTS, LABELS, 1, test_fraction=1.0)
