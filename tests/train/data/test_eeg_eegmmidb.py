"""EEGMMIDB through MNE's own loader, offline from ../shared/data: trial counts, classes, runs, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spikeport.errors import DataSourceError
from spikeport.train.data.eeg import EEGMMIDB_RUNS, eegmmidb_runs, load_eegmmidb, spike_arrays, within_subject_split

pytestmark = pytest.mark.data


def test_run_table() -> None:
    assert EEGMMIDB_RUNS[("left_right", "imagined")] == (4, 8, 12)
    assert EEGMMIDB_RUNS[("left_right", "executed")] == (3, 7, 11)
    assert EEGMMIDB_RUNS[("fists_feet", "imagined")] == (6, 10, 14)
    assert EEGMMIDB_RUNS[("fists_feet", "executed")] == (5, 9, 13)
    assert eegmmidb_runs("left_right", ("imagined", "executed")) == (3, 4, 7, 8, 11, 12)
    with pytest.raises(DataSourceError, match="eegmmidb task: 'hands'"):
        eegmmidb_runs("hands", ("imagined",))
    with pytest.raises(DataSourceError, match="eegmmidb kinds: 'dreamed'"):
        eegmmidb_runs("left_right", ("dreamed",))


def test_subjects_1_and_2_imagined_left_right(shared_data: Path) -> None:
    trials = load_eegmmidb(shared_data, [1, 2], missing="skip")
    ds = trials.dataset
    assert ds.class_names == ("left_fist", "right_fist") and not ds.synthetic
    # 15 cues (T1/T2) per run: subject 1 runs 4, 8, 12 (8+7, 8+7, 7+8), subject 2 only run 4 offline (7+8)
    assert np.unique(ds.subjects, return_counts=True)[1].tolist() == [45, 15]
    assert np.bincount(ds.labels[ds.subjects == 1]).tolist() == [23, 22]
    assert np.bincount(ds.labels[ds.subjects == 2]).tolist() == [7, 8]
    assert trials.runs.tolist() == [4] * 15 + [8] * 15 + [12] * 15 + [4] * 15
    assert trials.meta["runs_used"] == {"1": [4, 8, 12], "2": [4]} and trials.meta["dropped_events"] == 0
    assert ds.sfreq == 80.0 and ds.data.shape == (60, 17, 160)
    assert "C3" in ds.ch_names and "C4" in ds.ch_names  # eegbci.standardize fixed 'C3..'
    split = within_subject_split(ds.subjects, ds.labels, 1, seed=0)
    arrays = spike_arrays(trials, split.train)
    assert arrays.x.shape == (60, 80, 34) and arrays.info["step_seconds"] == 0.025
    assert arrays.info["source"] == "eegmmidb" and arrays.info["synthetic"] is False
    assert 0.05 < arrays.x.mean() < 0.6


def test_executed_runs_pool_with_imagined(shared_data: Path) -> None:
    trials = load_eegmmidb(shared_data, [1], kinds=("imagined", "executed"), runs=[3, 4])
    assert trials.runs.tolist() == [3] * 15 + [4] * 15
    assert trials.dataset.class_names == ("left_fist", "right_fist")


def test_missing_run_names_subject_run_and_path(shared_data: Path) -> None:
    with pytest.raises(DataSourceError) as info:
        load_eegmmidb(shared_data, [2], runs=[8])
    msg = str(info.value)
    assert "subject 2 run(s) [8]" in msg and "S002R08.edf not found" in msg and "MNE downloads them" in msg
    with pytest.raises(DataSourceError, match="subject 4 run"):  # subject 4 has no left/right run at all
        load_eegmmidb(shared_data, [4], missing="skip")
