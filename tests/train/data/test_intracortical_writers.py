"""A synthetic session written in each layout reads back as the same session (writers and readers agree)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spikeport.errors import InputDataError
from spikeport.train.data.intracortical import (
    SyntheticReachingConfig,
    bin_recording,
    detect_layout,
    load_recordings,
    make_synthetic_reaching,
)
from spikeport.train.data.intracortical.writers import write_neurobench, write_nwb, write_trialdata

CFG = SyntheticReachingConfig(n_subjects=1, sessions_per_subject=1, trials_per_session=6, n_units=8)


@pytest.fixture(scope="module")
def session():
    return make_synthetic_reaching(CFG, seed=5)[0]


def test_neurobench_file_of_a_synthetic_session(tmp_path: Path, session) -> None:
    path = write_neurobench(session, tmp_path / "synthetic_s0.mat")
    assert detect_layout(path) == "neurobench"
    (back,) = load_recordings("auto", str(path))
    assert back.unit_names == session.unit_names and back.synthetic and "SYNTHETIC" in back.description
    for a, b in zip(back.spike_times, session.spike_times, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(back.behaviour[:, :2], session.behaviour[:, :2], rtol=0, atol=1e-12)
    changed = np.r_[True, np.diff(session.trial_info["target_direction"]) != 0]  # same target twice: one trial
    np.testing.assert_allclose(back.trial_start_s, session.trial_start_s[changed], atol=0.004)


def test_trialdata_file_of_a_synthetic_session(tmp_path: Path, session) -> None:
    path = write_trialdata(session, tmp_path / "td.mat", bin_s=0.02)
    (back,) = load_recordings("trialdata", str(path))
    binned = bin_recording(session, 0.02)
    inside = binned.trial >= 0
    np.testing.assert_array_equal(back.counts, binned.counts[inside])
    np.testing.assert_allclose(back.behaviour, binned.behaviour[inside])
    assert back.n_trials == session.n_trials and back.subject == session.subject and back.synthetic


def test_nwb_file_of_a_synthetic_session(tmp_path: Path, session) -> None:
    path = write_nwb(session, tmp_path / "s.nwb")
    (back,) = load_recordings("nwb", str(path))
    for a, b in zip(back.spike_times, session.spike_times, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.behaviour[:, :4], session.behaviour[:, :4])
    np.testing.assert_array_equal(back.trial_stop_s, session.trial_stop_s)
    assert back.synthetic


def test_load_recordings_checks_its_source() -> None:
    assert load_recordings("synthetic", synthetic=CFG, seed=5)[0].synthetic
    with pytest.raises(InputDataError, match="--data-path"):
        load_recordings("nwb")
    with pytest.raises(InputDataError, match="unknown intracortical data source"):
        load_recordings("edf", "x")
