"""CSP+LDA on the same trials as ISAM-MTL, through `spikeport.train.baselines.csp_lda`.

The adapter band-passes the raw epochs to 8-30 Hz (mu and beta) from 0.5 s after the cue, as the spike encoder's
analysis window does, then calls the shared `csp_lda_fit_predict`. LDA needs two trials per class, so K = 1 rows
have no baseline.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["EEGNET_SETTINGS", "EEGNetBaseline", "csp_lda", "filtered"]


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


EEGNET_SETTINGS = {"epochs": 8, "finetune_epochs": 10, "batch_size": 16, "lr": 1e-3, "finetune_lr": 5e-4}
"""EEGNet in `spikeport evaluate`: fewer epochs than `EEGNetConfig`'s defaults (30 + 20) so that a 4-subject LOSO
run fits on 2 CPU cores (docs/isam-mtl.md); the rest is the baseline module's (Adam, kernel 0.5 s, dropout 0.25)."""


def _zscore(x: np.ndarray, stats_rows: np.ndarray) -> np.ndarray:
    """Per-channel z-score of one subject's epochs with the mean and sd of `stats_rows` (no labels used)."""
    ref = x[stats_rows]
    mean = ref.mean(axis=(0, 2), keepdims=True)
    std = ref.std(axis=(0, 2), keepdims=True)
    return (x - mean) / np.where(std > 0, std, 1.0)


class EEGNetBaseline:
    """braindecode's EEGNet (`spikeport.train.baselines.eegnet`) on the same trials as ISAM-MTL.

    Cross-subject: trained on the other subjects' band-passed epochs (each z-scored with its own statistics),
    cached per set of training subjects; fine-tuned: a copy of that model trained further on the held-out subject's
    K shots. Both predict the same test trials; the held-out subject is z-scored with its shots' statistics.
    """

    def __init__(
        self, by_subject: dict[int, tuple[np.ndarray, np.ndarray]], sfreq: float, n_classes: int, seed: int
    ) -> None:
        self.by_subject, self.sfreq, self.n_classes, self.seed = by_subject, sfreq, n_classes, seed
        self._cross: dict[tuple[int, ...], object] = {}

    def _model(self, train_subjects: tuple[int, ...]):
        if train_subjects not in self._cross:
            import torch

            from spikeport.train.baselines.eegnet import EEGNetConfig, _fit, eegnet_class

            cfg = EEGNetConfig()
            x = np.concatenate([_zscore(self.by_subject[s][0], slice(None)) for s in train_subjects])
            y = np.concatenate([self.by_subject[s][1] for s in train_subjects])
            torch.manual_seed(self.seed)
            model = eegnet_class()(
                n_chans=x.shape[1], n_outputs=self.n_classes, n_times=x.shape[2],
                kernel_length=max(2, round(cfg.kernel_length_s * self.sfreq)), drop_prob=cfg.drop_prob,
            )  # fmt: skip
            _fit(model, x, y, epochs=EEGNET_SETTINGS["epochs"], lr=EEGNET_SETTINGS["lr"],
                 batch=EEGNET_SETTINGS["batch_size"], seed=self.seed)  # fmt: skip
            self._cross[train_subjects] = model
        return self._cross[train_subjects]

    def predict(
        self, subject: int, train_subjects: tuple[int, ...], shot_idx: np.ndarray, test_idx: np.ndarray
    ) -> tuple[dict[str, np.ndarray], float]:
        """({"eegnet_cross_subject": pred, "eegnet_finetuned": pred}, seconds) for the subject's test trials."""
        import copy

        from spikeport.train.baselines.eegnet import _fit, _predict

        start = time.perf_counter()
        cross = self._model(tuple(sorted(train_subjects)))
        x, y = self.by_subject[subject]
        z = _zscore(x, shot_idx)
        tuned = copy.deepcopy(cross)
        _fit(tuned, z[shot_idx], y[shot_idx], epochs=EEGNET_SETTINGS["finetune_epochs"],
             lr=EEGNET_SETTINGS["finetune_lr"], batch=EEGNET_SETTINGS["batch_size"], seed=self.seed + 1)  # fmt: skip
        predictions = {
            "eegnet_cross_subject": _predict(cross, z[test_idx]),
            "eegnet_finetuned": _predict(tuned, z[test_idx]),
        }
        return predictions, time.perf_counter() - start
