"""The synthetic reaching generator: deterministic by seed, bell-shaped reaches, drift across sessions, subjects
that differ; and its conversion into regression TaskData."""

from __future__ import annotations

import numpy as np

from spikeport.train.baselines.ridge import train_ridge
from spikeport.train.data.intracortical import SyntheticReachingConfig, make_synthetic_reaching, split_windows
from spikeport.train.data.intracortical.synthetic import synthetic_tuning
from spikeport.train.data.intracortical.taskdata import to_task_data

SMALL = SyntheticReachingConfig(n_subjects=2, sessions_per_subject=2, trials_per_session=12, n_units=16)


def test_deterministic_by_seed_and_labelled() -> None:
    a, b = make_synthetic_reaching(SMALL, seed=3), make_synthetic_reaching(SMALL, seed=3)
    c = make_synthetic_reaching(SMALL, seed=4)
    assert [r.session for r in a] == ["synthetic-s0-d0", "synthetic-s0-d1", "synthetic-s1-d0", "synthetic-s1-d1"]
    for ra, rb in zip(a, b, strict=True):
        np.testing.assert_array_equal(ra.behaviour, rb.behaviour)
        for sa, sb in zip(ra.spike_times, rb.spike_times, strict=True):
            np.testing.assert_array_equal(sa, sb)
    assert not np.array_equal(a[0].spike_times[0], c[0].spike_times[0])
    assert all(r.synthetic and "SYNTHETIC" in r.description for r in a)
    # subject 0 does not depend on how many subjects are generated
    one = make_synthetic_reaching(
        SyntheticReachingConfig(n_subjects=1, sessions_per_subject=2, trials_per_session=12, n_units=16), seed=3
    )
    np.testing.assert_array_equal(one[1].spike_times[5], a[1].spike_times[5])


def test_reaches_have_bell_shaped_speed() -> None:
    rec = make_synthetic_reaching(SMALL, seed=0)[0]
    speed = np.hypot(rec.column("vel_x"), rec.column("vel_y"))
    start, stop = rec.trial_start_s[0], rec.trial_stop_s[0]
    inside = (rec.time_s >= start) & (rec.time_s < stop)
    s = speed[inside]
    peak = int(np.argmax(s))
    assert s[0] == 0.0 and s[-1] == 0.0 and s[peak] > 10.0  # cm/s
    # speed rises monotonically to the first peak (out-reach) from movement onset
    onset = int(np.flatnonzero(s > 0)[0])
    assert np.all(np.diff(s[onset : peak + 1]) >= -1e-9)
    # the position ends back at the centre; pos_x integrates vel_x
    assert np.hypot(rec.column("pos_x")[inside][-1], rec.column("pos_y")[inside][-1]) < 1e-9


def test_drift_across_sessions_and_subjects() -> None:
    cfg = SyntheticReachingConfig(
        n_subjects=2, sessions_per_subject=3, trials_per_session=12, n_units=40, loss=0.2, turnover=0.2
    )
    tuning = synthetic_tuning(cfg, seed=0)
    s0, s2 = tuning[0][0], tuning[0][2]
    assert not np.allclose(s0.depth_hz, s2.depth_hz)  # gains drift
    assert s2.silent.sum() > 0 and s0.silent.sum() == 0  # units are lost
    assert np.sum(s0.preferred_rad != s2.preferred_rad) > 0  # units turn over
    assert not np.allclose(tuning[0][0].preferred_rad, tuning[1][0].preferred_rad)  # subjects differ


def test_drift_hurts_a_decoder_trained_on_another_session() -> None:
    cfg = SyntheticReachingConfig(n_subjects=1, sessions_per_subject=3, trials_per_session=30, n_units=32)
    recs = make_synthetic_reaching(cfg, seed=0)
    within = split_windows([recs[0]], bin_s=0.05, steps=5)
    r_within = train_ridge(within.train.x, within.train.y, within.test.x, within.test.y)
    across = split_windows([recs[0], recs[2]], bin_s=0.05, steps=5, test_sessions=["synthetic-s0-d2"])
    r_across = train_ridge(across.train.x, across.train.y, across.test.x, across.test.y)
    assert r_within.r2.mean() > 0.5
    assert r_across.r2.mean() < r_within.r2.mean() - 0.1


def test_task_data_arrays() -> None:
    recs = make_synthetic_reaching(SMALL, seed=0)
    sw = split_windows(recs, bin_s=0.02, steps=8)
    data = to_task_data(sw.train, sw.test, sessions=sw.sessions)
    assert data.x_train.dtype == np.uint8 and data.x_train.max() == 1 and data.x_train.shape[1:] == (8, 16)
    assert data.y_train.shape == (len(data.x_train), 2) and data.y_test.shape == (len(data.x_test), 2)
    np.testing.assert_array_equal(data.x_train, np.minimum(sw.train.x, 1))
    np.testing.assert_array_equal(data.y_test[:, 1], sw.test.y[:, 1])
    assert data.info["output_names"] == ["vel_x", "vel_y"] and data.info["step_seconds"] == 0.02
    assert data.info["synthetic"] is True and data.info["source"] == "synthetic"
    assert 0.0 < data.info["clipped_fraction"] < 0.5
    assert sorted(set(data.extra["sessions_train"])) == [0, 1, 2, 3]  # every session is split by trials in time
    assert sorted(set(data.extra["subjects_test"])) == [0, 1]
    for k in range(4):  # no trial of a session on both sides
        tr = set(data.extra["trials_train"][data.extra["sessions_train"] == k])
        te = set(data.extra["trials_test"][data.extra["sessions_test"] == k])
        assert tr and te and not tr & te and max(tr) < min(te)
