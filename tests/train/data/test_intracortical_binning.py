"""Binning, causal windows and splits of intracortical sessions."""

from __future__ import annotations

import numpy as np
import pytest

from spikeport.errors import InputDataError
from spikeport.train.data.intracortical import (
    KINEMATICS,
    Recording,
    bin_recording,
    bins_of_trials,
    causal_windows,
    split_first_minutes,
    split_sessions,
    split_trials_in_time,
    split_windows,
)


def _recording(
    spikes: list[np.ndarray],
    *,
    duration: float = 1.0,
    dt: float = 0.001,
    trials: tuple[tuple[float, float], ...] = ((0.0, 0.5), (0.5, 1.0)),
) -> Recording:
    t = np.arange(0, duration, dt)
    behaviour = np.column_stack([t, 2 * t, np.ones_like(t), 2 * np.ones_like(t), np.zeros_like(t), np.zeros_like(t)])
    return Recording(
        source="synthetic",
        path=None,
        subject="s",
        session="d",
        unit_names=tuple(f"u{i}" for i in range(len(spikes))),
        spike_times=tuple(spikes),
        time_s=t,
        behaviour=behaviour,
        behaviour_names=KINEMATICS,
        trial_start_s=np.array([a for a, _ in trials]),
        trial_stop_s=np.array([b for _, b in trials]),
        synthetic=True,
    )


def test_bin_counts_and_behaviour_exact() -> None:
    rec = _recording([np.array([0.0, 0.0035, 0.004, 0.0199, 0.5]), np.array([0.013])])
    binned = bin_recording(rec, 0.004)
    assert binned.n_bins == 250
    np.testing.assert_array_equal(binned.counts[:6, 0], [2, 1, 0, 0, 1, 0])  # [0,4) ms holds 0 and 3.5 ms
    np.testing.assert_array_equal(binned.counts[:6, 1], [0, 0, 0, 1, 0, 0])
    assert binned.counts[125, 0] == 1 and binned.counts.sum() == 6
    # behaviour = mean of the 1 ms samples in each bin: pos_x = t, so bin b holds mean(4b, .., 4b+3) ms
    np.testing.assert_allclose(binned.column("pos_x")[:3], [0.0015, 0.0055, 0.0095])
    np.testing.assert_array_equal(binned.trial[[0, 124, 125, 249]], [0, 0, 1, 1])


def test_bin_width_checks() -> None:
    rec = _recording([np.array([0.1])])
    with pytest.raises(InputDataError, match="positive"):
        bin_recording(rec, 0.0)
    with pytest.raises(InputDataError, match="longer than the recording"):
        bin_recording(rec, 5.0)


def test_causal_windows_never_use_later_bins() -> None:
    rng = np.random.default_rng(0)
    counts = rng.poisson(1.0, size=(40, 3))
    segment = np.repeat([0, 1], [25, 15])
    steps = 6
    windows = causal_windows(counts, segment, steps)
    for t in range(40):
        for lag in range(steps):
            src = t - (steps - 1 - lag)
            want = counts[src] if src >= 0 and segment[src] == segment[t] else np.zeros(3)
            np.testing.assert_array_equal(windows[t, lag], want)
    # changing any bin after t leaves the window of t unchanged
    changed = counts.copy()
    changed[20:] += 7
    np.testing.assert_array_equal(causal_windows(changed, segment, steps)[:20], windows[:20])
    assert not np.array_equal(causal_windows(changed, segment, steps)[20], windows[20])


def test_split_trials_in_time_disjoint_and_ordered() -> None:
    train, test = split_trials_in_time(10)
    np.testing.assert_array_equal(train, np.arange(8))
    np.testing.assert_array_equal(test, [8, 9])
    with pytest.raises(InputDataError, match="at least one trial on each side"):
        split_trials_in_time(1)


def test_split_windows_single_session_keeps_trials_apart() -> None:
    rng = np.random.default_rng(1)
    trials = tuple((k * 0.1, (k + 1) * 0.1) for k in range(10))
    rec = _recording([np.sort(rng.uniform(0, 1, 200)) for _ in range(4)], trials=trials)
    sw = split_windows([rec], bin_s=0.01, steps=3)
    assert set(sw.train.trial) == set(range(8)) and set(sw.test.trial) == {8, 9}
    assert sw.train.bin.max() < sw.test.bin.min()  # train strictly before test in time
    assert len(sw.train.bin) + len(sw.test.bin) == 100
    np.testing.assert_array_equal(
        sw.train.x[5], causal_windows(sw.sessions[0].counts, sw.sessions[0].segment, 3, np.array([5]))[0]
    )


def test_session_split_and_first_minutes() -> None:
    assert split_sessions(["a", "b", "c"], 1) == ([0, 1], [2])
    assert split_sessions(["a", "b", "c"], ["a"]) == ([1, 2], [0])
    with pytest.raises(InputDataError, match="unknown test sessions"):
        split_sessions(["a", "b"], ["z"])
    trials = tuple((k * 30.0, (k + 1) * 30.0) for k in range(6))  # 3 minutes of 30 s trials
    rec = _recording([np.array([1.0])], duration=180.0, dt=0.01, trials=trials)
    binned = bin_recording(rec, 0.5)
    adapt, evaluate = split_first_minutes(binned, 1.0)
    np.testing.assert_array_equal(adapt, [0, 1])
    np.testing.assert_array_equal(evaluate, [2, 3, 4, 5])
    bins = bins_of_trials(binned, adapt)
    assert binned.bin_start_s[bins].max() < 60.0
    with pytest.raises(InputDataError, match="no trial to evaluate"):
        split_first_minutes(binned, 10.0)
