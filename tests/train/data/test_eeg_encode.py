"""Causality of the preprocessing and spike encoding, and per-subject standardization from training trials only."""

from __future__ import annotations

import numpy as np
import pytest
from eeg_files import make_raw

from spikeport.errors import DataSourceError
from spikeport.train.data.eeg import DeltaSpikeEncoder, PreprocessConfig, Standardizer, spike_arrays
from spikeport.train.data.eeg.preprocess import preprocess_raw
from spikeport.train.synthetic import EEGDataset, make_synthetic_motor_imagery


def test_band_pass_is_causal() -> None:
    """Filtering the first part of a recording gives the first part of the filtered recording."""
    cfg = PreprocessConfig(channels=None)
    full = preprocess_raw(make_raw(), cfg).get_data()
    for stop_s in (3.0, 7.3):
        prefix = preprocess_raw(make_raw().crop(tmax=stop_s, include_tmax=False), cfg).get_data()
        np.testing.assert_array_equal(prefix, full[:, : prefix.shape[1]])
    # a zero-phase filter would fail this: it looks ahead
    zero_phase = make_raw().filter(8.0, 30.0, method="iir", verbose=False).get_data()
    zero_prefix = make_raw().crop(tmax=3.0, include_tmax=False).filter(8.0, 30.0, method="iir", verbose=False)
    assert not np.allclose(zero_prefix.get_data(), zero_phase[:, : zero_prefix.n_times])


def test_encoding_of_a_prefix_is_the_prefix_of_the_encoding() -> None:
    rng = np.random.default_rng(3)
    z = rng.standard_normal((4, 5, 160)).cumsum(axis=2) * 0.3
    enc = DeltaSpikeEncoder(threshold=0.5, step_seconds=0.025)
    full = enc.encode(z, 80.0)
    assert full.shape == (4, 80, 10) and full.dtype == np.uint8 and set(np.unique(full)) <= {0, 1}
    for n in (2, 37, 100):  # 37 samples: the trailing half step is dropped
        np.testing.assert_array_equal(enc.encode(z[:, :, :n], 80.0), full[:, : n // 2])


def test_delta_encoder_spikes_by_hand() -> None:
    # one channel, 1 sample per step, threshold 1: x = 0, 1.2, 2.5, 2.0, 0.1, -1.5
    x = np.array([[[0.0, 1.2, 2.5, 2.0, 0.1, -1.5]]])
    spikes = DeltaSpikeEncoder(threshold=1.0, step_seconds=1.0).encode(x, 1.0)
    # reference: 0 -> 1 (up) -> 2 (up) -> 2 -> 1 (down: 0.1 - 2 = -1.9, one threshold) -> -1 (down)
    assert spikes[0, :, 0].tolist() == [0, 1, 1, 0, 0, 0]
    assert spikes[0, :, 1].tolist() == [0, 0, 0, 0, 1, 1]
    assert DeltaSpikeEncoder.input_names(("C3",)) == ("C3:+", "C3:-")


def test_step_must_be_whole_samples() -> None:
    with pytest.raises(DataSourceError, match=r"step_seconds: 0.03 s is 2.4 samples at 80 Hz"):
        DeltaSpikeEncoder(step_seconds=0.03).encode(np.zeros((1, 1, 10)), 80.0)


def test_standardization_uses_only_that_subjects_training_trials() -> None:
    ds = make_synthetic_motor_imagery(n_subjects=2, trials_per_class=4, duration_s=1.0, seed=0)
    train = np.array([0, 1, 2, 8, 9])  # subject 0: trials 0-2, subject 1: trials 8-9
    std = Standardizer.fit(ds, train)
    np.testing.assert_allclose(std.mean[0], ds.data[:3].mean(axis=(0, 2)))
    np.testing.assert_allclose(std.std[1], ds.data[8:10].std(axis=(0, 2)))
    # changing a test trial does not change the statistics
    data = ds.data.copy()
    data[5] *= 100.0
    changed = EEGDataset(data, ds.labels, ds.subjects, ds.sfreq, ds.ch_names, ds.class_names, True)
    np.testing.assert_array_equal(Standardizer.fit(changed, train).mean, std.mean)
    # a subject without training trials falls back to the pooled statistics, and says so
    arrays = spike_arrays(ds, np.arange(8))
    assert arrays.info["standardization"]["pooled_for_subjects"] == [1]
    assert arrays.x.shape == (16, 40, 32) and arrays.y.dtype == np.int64
    assert arrays.info["step_seconds"] == 0.025 and arrays.info["synthetic"] is True
