"""CSP+LDA on the same trials as ISAM-MTL, through `spikeport.train.baselines.csp_lda`.

The adapter band-passes the raw epochs to 8-30 Hz (mu and beta) from 0.5 s after the cue, as the spike encoder's
analysis window does, then calls the shared `csp_lda_fit_predict`. LDA needs two trials per class, so K = 1 rows
have no baseline.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["csp_lda", "filtered"]


def filtered(dataset) -> np.ndarray:
    """Band-passed 8-30 Hz epochs from 0.5 s after the cue (trials, channels, samples)."""
    import mne

    start = round(0.5 * dataset.sfreq)
    return mne.filter.filter_data(dataset.data, dataset.sfreq, 8.0, 30.0, verbose="ERROR")[:, :, start:]


def csp_lda(
    x: np.ndarray, labels: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray, n_classes: int
) -> tuple[np.ndarray | None, float]:
    """CSP+LDA trained on `train_idx` of band-passed epochs `x` (`filtered`), predicting `test_idx`.

    Returns (predictions, seconds); predictions are None when a class has fewer than 2 training trials (LDA cannot
    be fitted).
    """
    from spikeport.train.baselines.csp_lda import csp_lda_fit_predict

    if np.bincount(labels[train_idx], minlength=n_classes).min() < 2:
        return None, 0.0
    start = time.perf_counter()
    predictions = csp_lda_fit_predict(x[train_idx], labels[train_idx], x[test_idx])
    return predictions, time.perf_counter() - start
