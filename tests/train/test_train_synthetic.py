"""Tests of the synthetic motor-imagery generator (spikeport.train.synthetic)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt, welch

from spikeport.train import EEGDataset, make_synthetic_motor_imagery


@pytest.fixture(scope="module")
def default_ds() -> EEGDataset:
    return make_synthetic_motor_imagery(seed=0)


def test_same_seed_gives_identical_bytes(default_ds: EEGDataset) -> None:
    again = make_synthetic_motor_imagery(seed=0)
    assert default_ds.data.tobytes() == again.data.tobytes()
    np.testing.assert_array_equal(default_ds.labels, again.labels)
    np.testing.assert_array_equal(default_ds.subjects, again.subjects)


def test_different_seed_gives_different_data(default_ds: EEGDataset) -> None:
    other = make_synthetic_motor_imagery(seed=1)
    assert other.data.shape == default_ds.data.shape
    assert not np.allclose(other.data, default_ds.data)
    assert not np.array_equal(other.labels, default_ds.labels)


def test_subject_data_do_not_depend_on_subject_count(default_ds: EEGDataset) -> None:
    two = make_synthetic_motor_imagery(n_subjects=2, seed=0)
    first_two = default_ds.subset(default_ds.subjects < 2)
    np.testing.assert_array_equal(two.data, first_two.data)
    np.testing.assert_array_equal(two.labels, first_two.labels)


def test_shapes_labels_and_metadata(default_ds: EEGDataset) -> None:
    ds = default_ds
    assert ds.data.shape == (4 * 80, 16, 480)
    assert ds.data.dtype == np.float64
    assert ds.labels.dtype == np.int64 and ds.subjects.dtype == np.int64
    assert ds.sfreq == 160.0
    assert ds.class_names == ("left_hand", "right_hand")
    assert len(ds.ch_names) == 16 and {"C3", "Cz", "C4"} <= set(ds.ch_names)
    for s in range(4):
        counts = np.bincount(ds.labels[ds.subjects == s], minlength=2)
        np.testing.assert_array_equal(counts, [40, 40])
    # Classes are shuffled within a subject, not in blocks.
    assert 0 < np.mean(np.diff(ds.labels[:80]) != 0) < 1
    np.testing.assert_allclose(ds.times[[0, -1]], [0.0, 479 / 160])


def test_marked_as_synthetic(default_ds: EEGDataset) -> None:
    assert default_ds.synthetic is True
    assert "SYNTHETIC" in default_ds.description


def test_amplitude_is_eeg_like_in_volts(default_ds: EEGDataset) -> None:
    rms = np.sqrt(np.mean(default_ds.data**2))
    assert 2e-6 < rms < 100e-6  # microvolt range, stored in volts


def _band_log_power(ds: EEGDataset, channel: str, band: tuple[float, float], tmin_s: float) -> np.ndarray:
    sos = butter(4, band, btype="band", fs=ds.sfreq, output="sos")
    x = sosfiltfilt(sos, ds.data[:, ds.ch_names.index(channel)], axis=-1)
    return np.log(np.mean(x[:, int(tmin_s * ds.sfreq) :] ** 2, axis=-1))


@pytest.mark.parametrize("band", [(8.0, 12.0), (18.0, 26.0)], ids=["mu", "beta"])
def test_contralateral_desynchronization(default_ds: EEGDataset, band: tuple[float, float]) -> None:
    """Left-hand imagery lowers power over C4, right-hand imagery over C3, in every subject."""
    ds = default_ds
    c3 = _band_log_power(ds, "C3", band, tmin_s=1.0)
    c4 = _band_log_power(ds, "C4", band, tmin_s=1.0)
    left, right = ds.labels == 0, ds.labels == 1
    for s in range(4):
        subj = ds.subjects == s
        assert c4[subj & left].mean() < c4[subj & right].mean()
        assert c3[subj & right].mean() < c3[subj & left].mean()
        ratio = c3 - c4
        gap = ratio[subj & left].mean() - ratio[subj & right].mean()
        assert gap > 0.3, f"subject {s}: C3/C4 log-power contrast {gap:.2f} too small"


def test_mu_peak_in_alpha_range_and_subject_specific(default_ds: EEGDataset) -> None:
    ds = default_ds
    freqs, psd = welch(ds.data[:, ds.ch_names.index("C3")], fs=ds.sfreq, nperseg=480, axis=-1)
    band = (freqs >= 6) & (freqs <= 30)
    peaks = [freqs[band][np.argmax(psd[ds.subjects == s].mean(0)[band])] for s in range(4)]
    assert all(8.0 <= p <= 13.0 for p in peaks), peaks
    assert len(set(peaks)) > 1, f"all subjects share one mu peak {peaks}"


def test_subset_by_mask_and_indices(default_ds: EEGDataset) -> None:
    ds = default_ds
    idx = np.array([5, 2, 7])
    sub = ds.subset(idx)
    np.testing.assert_array_equal(sub.data, ds.data[idx])
    np.testing.assert_array_equal(sub.labels, ds.labels[idx])
    assert sub.ch_names == ds.ch_names and sub.synthetic and sub.description == ds.description
    masked = ds.subset(ds.labels == 1)
    assert masked.n_trials == 160 and np.all(masked.labels == 1)
    with pytest.raises(ValueError, match="mask"):
        ds.subset(np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="integer"):
        ds.subset(np.array([0.5]))


def test_dataset_is_read_only_and_validated(default_ds: EEGDataset) -> None:
    with pytest.raises(ValueError):
        default_ds.data[0, 0, 0] = 1.0
    good = dict(
        data=np.zeros((2, 1, 4)),
        labels=np.array([0, 1]),
        subjects=np.array([0, 0]),
        sfreq=100.0,
        ch_names=("C3",),
        class_names=("a", "b"),
        synthetic=True,
    )
    EEGDataset(**good)
    with pytest.raises(ValueError, match="labels"):
        EEGDataset(**{**good, "labels": np.array([0, 2])})
    with pytest.raises(ValueError, match="ch_names"):
        EEGDataset(**{**good, "ch_names": ("C3", "C4")})
    with pytest.raises(ValueError, match="sfreq"):
        EEGDataset(**{**good, "sfreq": 0.0})


def test_rejects_empty_configuration() -> None:
    with pytest.raises(ValueError, match="n_subjects"):
        make_synthetic_motor_imagery(n_subjects=0)
