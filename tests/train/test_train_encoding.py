"""Tests of the band-power spike encoder (spikeport.train.encoding)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikeport.train import BandPowerSpikeEncoder, EEGDataset, make_synthetic_motor_imagery, sigma_delta


@pytest.fixture(scope="module")
def ds() -> EEGDataset:
    return make_synthetic_motor_imagery(n_subjects=3, trials_per_class=20, seed=3)


@pytest.fixture(scope="module")
def spikes(ds: EEGDataset) -> np.ndarray:
    return BandPowerSpikeEncoder().fit(ds).encode(ds)


def _with(ds: EEGDataset, **changes: object) -> EEGDataset:
    fields = dict(
        data=ds.data,
        labels=ds.labels,
        subjects=ds.subjects,
        sfreq=ds.sfreq,
        ch_names=ds.ch_names,
        class_names=ds.class_names,
        synthetic=ds.synthetic,
        description=ds.description,
    )
    return EEGDataset(**{**fields, **changes})


def test_output_is_binary_uint8_with_expected_shape(ds: EEGDataset, spikes: np.ndarray) -> None:
    fitted = BandPowerSpikeEncoder().fit(ds)
    assert spikes.shape == (ds.n_trials, 32, fitted.n_inputs)
    assert fitted.n_inputs == 16 * 2 * 2
    assert spikes.dtype == np.uint8
    assert set(np.unique(spikes)) == {0, 1}
    assert 0.05 < spikes.mean() < 0.5  # informative, not silent and not saturated


def test_input_names_follow_the_documented_order(ds: EEGDataset) -> None:
    names = BandPowerSpikeEncoder().fit(ds).input_names
    assert names[:4] == ("FC3:8-12Hz:+", "FC3:8-12Hz:-", "FC3:18-26Hz:+", "FC3:18-26Hz:-")
    assert "C3:8-12Hz:+" in names and len(set(names)) == len(names) == 64


def test_encoding_is_deterministic(ds: EEGDataset, spikes: np.ndarray) -> None:
    again = BandPowerSpikeEncoder().fit(ds).encode(ds)
    np.testing.assert_array_equal(again, spikes)


def test_fit_does_not_read_labels(ds: EEGDataset, spikes: np.ndarray) -> None:
    shuffled = _with(ds, labels=np.random.default_rng(0).permutation(ds.labels))
    fitted = BandPowerSpikeEncoder().fit(shuffled)
    np.testing.assert_array_equal(fitted.encode(ds), spikes)


def test_subject_normalisation_removes_subject_gain(ds: EEGDataset) -> None:
    gain = np.where(ds.subjects == 1, 10.0, 1.0)[:, None, None]
    scaled = _with(ds, data=ds.data * gain)
    per_subject = BandPowerSpikeEncoder()
    np.testing.assert_allclose(per_subject.fit(scaled).features(scaled), per_subject.fit(ds).features(ds), atol=1e-8)
    pooled = BandPowerSpikeEncoder(normalization="global")
    assert not np.allclose(pooled.fit(scaled).features(scaled), pooled.fit(ds).features(ds))


def test_unseen_subject_is_calibrated_on_its_own_trials(ds: EEGDataset) -> None:
    fitted = BandPowerSpikeEncoder().fit(ds.subset(ds.subjects < 2))
    z = fitted.features(ds.subset(ds.subjects == 2))
    np.testing.assert_allclose(z.mean(axis=(0, 1)), 0.0, atol=1e-9)
    np.testing.assert_allclose(z.std(axis=(0, 1)), 1.0, atol=1e-9)


def test_class_effect_survives_encoding(ds: EEGDataset, spikes: np.ndarray) -> None:
    """Left-hand ERD lowers mu power over C4: more "C4 mu below average" spikes than for the right hand."""
    names = BandPowerSpikeEncoder().fit(ds).input_names
    counts = spikes.sum(axis=1)
    c4_low = counts[:, names.index("C4:8-12Hz:-")]
    c3_low = counts[:, names.index("C3:8-12Hz:-")]
    left, right = ds.labels == 0, ds.labels == 1
    assert c4_low[left].mean() > c4_low[right].mean() + 2
    assert c3_low[right].mean() > c3_low[left].mean() + 2


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=64), min_size=1, max_size=40),
)
def test_sigma_delta_count_is_rounded_cumulative_rate(levels: list[int]) -> None:
    rate = np.array(levels, dtype=np.float64)[None, :, None] / 64  # dyadic: exact in floating point
    spikes = sigma_delta(rate)
    counts = np.cumsum(spikes[0, :, 0].astype(np.int64))
    expected = np.floor(0.5 + np.cumsum(rate[0, :, 0])).astype(np.int64)
    np.testing.assert_array_equal(counts, expected)


def test_sigma_delta_clips_rates_to_one_spike_per_step() -> None:
    spikes = sigma_delta(np.array([[[3.0, -1.0, 0.0]]]).repeat(5, axis=1))
    np.testing.assert_array_equal(spikes[0].sum(axis=0), [5, 0, 0])


def test_rejects_bad_configurations(ds: EEGDataset) -> None:
    with pytest.raises(ValueError, match="Nyquist"):
        BandPowerSpikeEncoder(bands=((8.0, 90.0),)).fit(ds)
    with pytest.raises(ValueError, match="num_steps"):
        BandPowerSpikeEncoder(num_steps=1000).fit(ds)
    with pytest.raises(ValueError, match="not in the dataset"):
        BandPowerSpikeEncoder(channels=("O1",)).fit(ds)
    with pytest.raises(ValueError, match="bands"):
        BandPowerSpikeEncoder(bands=((12.0, 8.0),))
