"""Fixtures of the EEG data tests: small recordings written by MNE itself, and the shared EEGMMIDB folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from eeg_files import SHARED_DATA, make_raw


@pytest.fixture
def fif_file(tmp_path: Path) -> Path:
    path = tmp_path / "rec_raw.fif"
    make_raw().save(path, fmt="double", verbose=False)
    return path


@pytest.fixture
def edf_file(tmp_path: Path) -> Path:
    import mne

    path = tmp_path / "rec.edf"
    mne.export.export_raw(path, make_raw(seed=1), fmt="edf", verbose=False)
    return path


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "MNE-eegbci-data").is_dir():
        pytest.skip(f"real EEGMMIDB recordings not found in {SHARED_DATA.resolve()} (see ../shared/docs/data.md)")
    return SHARED_DATA.resolve()
