"""CSP + LDA baseline (`mne.decoding.CSP` + scikit-learn's LDA) on band-passed EEG epochs, not spikes.

Common spatial patterns (Ramoser, Mueller-Gerking & Pfurtscheller 2000, IEEE TRE 8(4)) find spatial filters whose
output variance differs most between two classes; the log variance of `n_components` filters feeds a linear
discriminant. This is the standard subject-specific motor-imagery baseline (MNE's "Motor imagery decoding from
EEG data using CSP" example uses the same pipeline on EEGMMIDB). More than two classes use CSP's one-vs-rest
extension inside MNE.

Both covariance estimates are shrunk (Ledoit-Wolf in CSP, automatic shrinkage in LDA) so that few-shot training
with one or two trials per class stays well posed; with tens of trials the shrinkage is small.

Protocols, each scored on one subject's test trials only:
* within-subject: stratified k-fold cross-validation over the subject's trials (`within_subject_folds`), every
  trial tested once by a model that did not see it;
* few-shot: K trials per class of the subject train it, the rest test it (`few_shot_split`), the same split
  the spiking model's adaptation uses for that subject, seed and K.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spikeport.errors import InputDataError
from spikeport.train.data.eeg.splits import Split, few_shot_split, within_subject_folds
from spikeport.train.synthetic import EEGDataset

__all__ = ["CSPLDAConfig", "csp_lda_few_shot", "csp_lda_fit_predict", "csp_lda_on_splits", "csp_lda_within"]


@dataclass(frozen=True)
class CSPLDAConfig:
    """CSP + LDA settings."""

    n_components: int = 4
    """CSP filters kept (the MNE example's 4: two per end of the eigenvalue spectrum)."""
    csp_reg: str | float | None = "ledoit_wolf"
    """Covariance regularization of CSP (`mne.decoding.CSP(reg=...)`)."""
    lda_shrinkage: str | float | None = "auto"
    """LDA shrinkage (`solver="lsqr"`); "auto" is the Ledoit-Wolf estimate."""


def csp_lda_fit_predict(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, cfg: CSPLDAConfig | None = None
) -> np.ndarray:
    """Fit CSP + LDA on epochs (trials, channels, samples) and predict the test epochs' classes (int64)."""
    from mne.decoding import CSP
    from mne.utils import use_log_level
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.pipeline import Pipeline

    cfg = cfg if cfg is not None else CSPLDAConfig()
    counts = np.bincount(np.asarray(y_train))
    if counts[counts > 0].min() < 2:
        raise InputDataError(
            f"CSP+LDA: training classes have {counts.tolist()} trials; LDA needs at least 2 per class (shots >= 2)"
        )
    n_comp = min(cfg.n_components, x_train.shape[1])
    pipe = Pipeline(
        [
            ("csp", CSP(n_components=n_comp, reg=cfg.csp_reg, log=True, norm_trace=False)),
            ("lda", LinearDiscriminantAnalysis(solver="lsqr", shrinkage=cfg.lda_shrinkage)),
        ]
    )
    with use_log_level("error"):  # CSP logs its rank estimate for every fit
        pipe.fit(np.asarray(x_train, dtype=np.float64), np.asarray(y_train))
        return np.asarray(pipe.predict(np.asarray(x_test, dtype=np.float64)), dtype=np.int64)


def csp_lda_on_splits(
    dataset: EEGDataset, splits: Sequence[Split], cfg: CSPLDAConfig | None = None
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Run CSP + LDA on each split; returns test subject -> (predictions, true labels) for `results_table`.

    Splits with the same test subject (cross-validation folds) are pooled: their test predictions are concatenated.
    """
    pooled: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for split in splits:
        pred = csp_lda_fit_predict(
            dataset.data[split.train], dataset.labels[split.train], dataset.data[split.test], cfg
        )
        key = split.test_subject if split.test_subject is not None else len(pooled)
        pooled.setdefault(int(key), []).append((pred, dataset.labels[split.test].copy()))
    return {s: (np.concatenate([p for p, _ in v]), np.concatenate([y for _, y in v])) for s, v in pooled.items()}


def csp_lda_within(
    dataset: EEGDataset, *, n_folds: int = 5, seed: int = 0, cfg: CSPLDAConfig | None = None
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Within-subject CSP + LDA per subject: stratified `n_folds`-fold cross-validation, every trial tested once."""
    splits = [
        split
        for s in np.unique(dataset.subjects)
        for split in within_subject_folds(dataset.subjects, dataset.labels, int(s), n_folds=n_folds, seed=seed)
    ]
    return csp_lda_on_splits(dataset, splits, cfg)


def csp_lda_few_shot(
    dataset: EEGDataset, shots: int, *, seed: int = 0, cfg: CSPLDAConfig | None = None
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Few-shot CSP + LDA for every subject: K trials per class train it, the subject's rest tests it."""
    splits = [
        few_shot_split(dataset.subjects, dataset.labels, int(s), shots, seed=seed) for s in np.unique(dataset.subjects)
    ]
    return csp_lda_on_splits(dataset, splits, cfg)
