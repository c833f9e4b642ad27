"""Train/test split of trials, stratified by subject and class."""

from __future__ import annotations

import numpy as np

from spikeport.train.synthetic import EEGDataset

__all__ = ["split_trials"]


def split_trials(
    dataset_or_n: EEGDataset | int, *, test_fraction: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Random train/test split of trial indices, stratified by (subject, class) when given a dataset.

    Every (subject, class) group contributes round(test_fraction * group size) trials to the test set, so both
    sets keep the subject and class proportions. Given a plain count n, trials 0..n-1 are split unstratified.

    Args:
        dataset_or_n: A dataset (stratified split) or a number of trials.
        test_fraction: Share of each group that goes to the test set, in (0, 1).
        seed: Seed of `np.random.default_rng`.

    Returns:
        (train, test): sorted int64 index arrays, disjoint, covering all trials.

    Raises:
        ValueError: If test_fraction is not in (0, 1) or n is negative.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"split_trials: test_fraction must be in (0, 1), got {test_fraction}")
    if isinstance(dataset_or_n, EEGDataset):
        pairs = np.column_stack([dataset_or_n.subjects, dataset_or_n.labels])
        keys = np.unique(pairs, axis=0, return_inverse=True)[1].reshape(-1)
    else:
        if int(dataset_or_n) < 0:
            raise ValueError(f"split_trials: number of trials must be >= 0, got {dataset_or_n}")
        keys = np.zeros(int(dataset_or_n), dtype=np.int64)
    rng = np.random.default_rng(seed)
    test = []
    for key in np.unique(keys):
        members = np.flatnonzero(keys == key)
        n_test = round(test_fraction * len(members))
        test.append(rng.permutation(members)[:n_test])
    test_idx = np.sort(np.concatenate(test)) if test else np.zeros(0, dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(len(keys)), test_idx)
    return train_idx.astype(np.int64), test_idx.astype(np.int64)
