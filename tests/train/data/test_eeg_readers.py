"""Reading MNE-readable recordings (FIF, EDF written by MNE) with an event mapping, and the errors on bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eeg_files import EVENTS, ONSETS_S, SFREQ, make_raw
from scipy.signal import butter, sosfilt

from spikeport.errors import DataSourceError, MissingDependencyError
from spikeport.train.data.eeg import PreprocessConfig, load_bci_iv_2a, load_recordings, parse_event_mapping
from spikeport.train.data.eeg.readers import load_bci_iv_2a_moabb

CFG = PreprocessConfig(channels=("C3", "Cz", "C4"), band_hz=(8.0, 30.0), resample_hz=80.0, tmin_s=0.5, tmax_s=2.5)


def _expected_epochs(raw_data: np.ndarray, picks: list[int]) -> np.ndarray:
    """The same preprocessing computed independently with scipy: causal Butterworth, cut, decimate by 2."""
    sos = butter(4, [8.0, 30.0], btype="bandpass", fs=SFREQ, output="sos")
    filt = sosfilt(sos, raw_data[picks], axis=-1)
    out = []
    for onset, ev in zip(ONSETS_S, EVENTS, strict=True):
        if ev == "T0":
            continue
        start = round((onset + 0.5) * SFREQ)
        out.append(filt[:, start : start + 320 : 2])
    return np.stack(out)


def test_fif_read_back_matches_independent_preprocessing(fif_file: Path) -> None:
    trials = load_recordings([fif_file], "T1=left,T2=right", subject_ids=[7], cfg=CFG)
    ds = trials.dataset
    assert ds.class_names == ("left", "right")
    assert ds.labels.tolist() == [0, 1, 0, 1, 1]  # T0 (rest) is not mapped, so it is not a trial
    assert ds.subjects.tolist() == [7] * 5 and ds.sfreq == 80.0 and ds.ch_names == ("C3", "Cz", "C4")
    assert not ds.synthetic and trials.meta["events"] == "T1=left,T2=right"
    raw = make_raw()
    expected = _expected_epochs(raw.get_data(), [1, 2, 3])
    assert ds.data.shape == expected.shape == (5, 3, 160)
    np.testing.assert_allclose(ds.data, expected, rtol=0, atol=1e-12)


def test_edf_export_read_back_with_mapping(edf_file: Path, fif_file: Path) -> None:
    trials = load_recordings([edf_file, fif_file], "T2=b, T1=a", cfg=CFG)
    ds = trials.dataset
    assert ds.class_names == ("b", "a")  # class order follows the mapping string
    assert ds.labels.tolist() == [1, 0, 1, 0, 0] * 2
    assert ds.subjects.tolist() == [1] * 5 + [2] * 5  # one subject per file by default
    assert trials.runs.tolist() == [1] * 5 + [2] * 5
    # EDF stores 16-bit integers: the read-back signal equals the original to the EDF resolution
    expected = _expected_epochs(make_raw(seed=1).get_data(), [1, 2, 3])
    assert np.max(np.abs(ds.data[:5] - expected)) < 0.01 * np.max(np.abs(expected))


def test_all_eeg_channels_drop_eog(fif_file: Path) -> None:
    ds = load_recordings([fif_file], "T1=left,T2=right", cfg=PreprocessConfig(channels=None)).dataset
    assert ds.ch_names == ("FC3", "C3", "Cz", "C4", "CP3")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("T1=left,T2", "'T2'"),
        ("T1=left,=right", "'=right'"),
        ("T1=left,T1=right", "'T1' is mapped twice"),
        ("T1=left,T2=left", "only the class"),
        ("T1=a=b,T2=c", "'T1=a=b'"),
        ("", "empty"),
    ],
)
def test_bad_mapping_names_the_entry(text: str, needle: str) -> None:
    with pytest.raises(DataSourceError, match="--events") as info:
        parse_event_mapping(text, field="--events")
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_mapping_round_trip() -> None:
    m = parse_event_mapping(" T1 = left , 769=left, T2=right ")
    assert dict(m.event_to_class) == {"T1": "left", "769": "left", "T2": "right"}
    assert m.class_names == ("left", "right") and m.label_of("769") == 0
    assert parse_event_mapping(m.as_string()) == m


def test_errors_name_the_problem(fif_file: Path, tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=r"nope\.edf: no such file"):
        load_recordings([tmp_path / "nope.edf"], "T1=a,T2=b")
    with pytest.raises(DataSourceError, match=r"channels \['C5'\] are not in the recording"):
        load_recordings([fif_file], "T1=a,T2=b", cfg=PreprocessConfig(channels=("C3", "C5")))
    with pytest.raises(DataSourceError, match=r"none of the mapped events \['X1', 'X2'\].*'T0', 'T1', 'T2'"):
        load_recordings([fif_file], "X1=a,X2=b")
    with pytest.raises(DataSourceError, match="subject_ids: 2 subject ids for 1 files"):
        load_recordings([fif_file], "T1=a,T2=b", subject_ids=[1, 2])
    with pytest.raises(DataSourceError, match=r"resample_hz: 70.0 Hz does not divide"):
        load_recordings([fif_file], "T1=a,T2=b", cfg=PreprocessConfig(resample_hz=70.0, channels=None))
    bad = tmp_path / "junk.edf"
    bad.write_bytes(b"not an edf file at all")
    with pytest.raises(DataSourceError, match=r"junk\.edf: MNE cannot read it"):
        load_recordings([bad], "T1=a,T2=b")


def test_bci_iv_2a_missing_file_and_session(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=r"bci_iv_2a subject 3 session T: .*A03T.gdf not found"):
        load_bci_iv_2a(tmp_path, [3])
    with pytest.raises(DataSourceError, match="session: 'E' is not supported"):
        load_bci_iv_2a(tmp_path, [3], session="E")


def test_moabb_is_optional() -> None:
    pytest.importorskip("pytest")  # always present; the branch below depends on moabb
    try:
        import moabb  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match="moabb is not installed"):
            load_bci_iv_2a_moabb([1])
    else:
        pytest.skip("moabb is installed; its download path is not exercised offline")


def test_bci_iv_2a_unreadable_gdf(tmp_path: Path) -> None:
    (tmp_path / "A01T.gdf").write_bytes(b"GDF 2.20" + bytes(300))
    with pytest.raises(DataSourceError, match=r"bci_iv_2a .*A01T\.gdf: MNE cannot read it as GDF"):
        load_bci_iv_2a(tmp_path, [1])


def test_load_source_dispatch(fif_file: Path) -> None:
    from spikeport.train.data.eeg import load_source

    trials = load_source("mne", files=[str(fif_file)], events="T1=left,T2=right", subjects=[4])
    assert trials.dataset.subjects.tolist() == [4] * 5 and trials.meta["source"] == "mne"
    with pytest.raises(DataSourceError, match="--data: 'xyz' is not a recorded-EEG source"):
        load_source("xyz")
    with pytest.raises(DataSourceError, match="--data mne: needs --files"):
        load_source("mne", files=[str(fif_file)])
    with pytest.raises(DataSourceError, match="--data eegmmidb: needs --data-path"):
        load_source("eegmmidb")
