"""Baselines on the same splits as the spiking models: CSP + LDA (MNE + scikit-learn) and braindecode's EEGNet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spikeport.errors import InputDataError
from spikeport.train.baselines.csp_lda import csp_lda_few_shot, csp_lda_fit_predict, csp_lda_within
from spikeport.train.baselines.eegnet import EEGNetConfig, eegnet_class, eegnet_loso
from spikeport.train.data.eeg import PreprocessConfig, load_eegmmidb
from spikeport.train.data.eeg.preprocess import bandpass_epochs
from spikeport.train.evaluation.stats import results_table
from spikeport.train.synthetic import EEGDataset, make_synthetic_motor_imagery

SHARED_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()


def _synthetic(n_subjects: int = 2, trials_per_class: int = 20) -> EEGDataset:
    """Labelled SYNTHETIC trials, band-passed 8-30 Hz and decimated to 80 Hz like the recordings."""
    ds = make_synthetic_motor_imagery(n_subjects=n_subjects, trials_per_class=trials_per_class, duration_s=2.5, seed=0)
    return bandpass_epochs(ds, PreprocessConfig())


def _shuffled(ds: EEGDataset, seed: int) -> EEGDataset:
    labels = ds.labels.copy()
    for s in np.unique(ds.subjects):
        rows = np.flatnonzero(ds.subjects == s)
        labels[rows] = np.random.default_rng(seed).permutation(labels[rows])
    return EEGDataset(ds.data, labels, ds.subjects, ds.sfreq, ds.ch_names, ds.class_names, ds.synthetic)


def _accuracy(preds: dict[int, tuple[np.ndarray, np.ndarray]]) -> float:
    return float(np.mean(np.concatenate([p == y for p, y in preds.values()])))


def test_csp_lda_beats_chance_on_synthetic_and_not_on_shuffled_labels() -> None:
    ds = _synthetic()
    acc = _accuracy(csp_lda_within(ds, n_folds=4, seed=0))
    control = _accuracy(csp_lda_within(_shuffled(ds, 1), n_folds=4, seed=0))
    assert acc > 0.8 and control < 0.7 and acc > control + 0.2


def test_csp_lda_few_shot_and_its_limit() -> None:
    ds = _synthetic(trials_per_class=12)
    preds = csp_lda_few_shot(ds, 5, seed=0)
    assert sorted(preds) == [0, 1] and all(p.size == 14 for p, _ in preds.values())  # 24 - 2 * 5 per subject
    with pytest.raises(InputDataError, match="LDA needs at least 2 per class"):
        csp_lda_fit_predict(ds.data[:2], np.array([0, 1]), ds.data[2:4])


@pytest.mark.data
def test_csp_lda_beats_chance_on_real_subject_1() -> None:
    if not (SHARED_DATA / "MNE-eegbci-data").is_dir():
        pytest.skip(f"real EEGMMIDB recordings not found in {SHARED_DATA}")
    ds = load_eegmmidb(SHARED_DATA, [1], kinds=("imagined", "executed")).dataset
    table = results_table({"csp_lda": csp_lda_within(ds, seed=0)}, n_classes=2)
    row = table["models"]["csp_lda"]["subjects"][0]
    assert row["n"] == 90 and row["accuracy"] > 0.65 and row["p_value"] < 0.01
    control = _accuracy(csp_lda_within(_shuffled(ds, 2), seed=0))
    assert control < row["accuracy"] - 0.1


def test_eegnet_is_braindecodes_and_runs_loso_deterministically() -> None:
    cls = eegnet_class()
    assert cls.__module__.startswith("braindecode.models")
    ds = _synthetic(trials_per_class=6)
    cfg = EEGNetConfig(epochs=1, finetune_epochs=1)
    a = eegnet_loso(ds, 2, subjects=[1], seed=3, cfg=cfg)
    b = eegnet_loso(ds, 2, subjects=[1], seed=3, cfg=cfg)
    assert set(a) == {"eegnet_cross_subject", "eegnet_finetuned"}
    for name in a:
        pred, y = a[name][1]
        assert pred.shape == y.shape == (8,) and pred.dtype == np.int64
        np.testing.assert_array_equal(pred, b[name][1][0])
    np.testing.assert_array_equal(a["eegnet_cross_subject"][1][1], a["eegnet_finetuned"][1][1])  # same test trials


@pytest.mark.slow
def test_eegnet_cross_subject_beats_chance_on_synthetic() -> None:
    ds = _synthetic(n_subjects=4, trials_per_class=30)
    preds = eegnet_loso(ds, 5, subjects=[3], seed=0, cfg=EEGNetConfig(epochs=15, finetune_epochs=10))
    assert _accuracy(preds["eegnet_cross_subject"]) > 0.7
