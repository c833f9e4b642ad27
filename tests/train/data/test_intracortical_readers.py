"""Each intracortical layout round-trips a small file the test writes in that format; broken files fail clearly.

The files are written with the format's own tools, independently of the readers: h5py for a MATLAB v7.3 file
with object-reference cell arrays (NeuroBench), scipy.io.savemat with a struct array (TrialData), pynwb's
NWBHDF5IO (NWB).
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.sparse

from spikeport.errors import InputDataError
from spikeport.train.data.intracortical import bin_recording, detect_layout, read_recording, read_recordings

# ---------------------------------------------------------------- NeuroBench (MATLAB v7.3 = HDF5 + user block)


def _mat73_header() -> bytes:
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Tue Dec  1 12:00:00 2026 HDF5 schema 1.00 ."
    return text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"


def _nb_content(seed: int = 0):
    rng = np.random.default_rng(seed)
    t = 100.0 + np.arange(500) * 0.004  # 2 s at 250 Hz, starting at 100 s as real sessions do
    finger = np.stack(
        [rng.normal(0, 0.1, t.size), np.cumsum(rng.normal(0, 0.05, t.size)), np.cumsum(rng.normal(0, 0.05, t.size))]
    )  # (3, T): z, -x, -y
    target = np.zeros((2, t.size))
    target[:, 120:] = [[5.0], [3.0]]
    target[:, 300:] = [[-4.0], [1.0]]
    channels = ["M1 001", "M1 002", "M1 003"]
    # spikes[channel][unit]: unit 0 unsorted, unit 1 sorted; channel 2 has an empty sorted unit
    spikes = [[np.sort(rng.uniform(t[0], t[-1], n)) for n in counts] for counts in ([40, 12], [25, 7], [30, 0])]
    return t, finger, target, channels, spikes


def write_neurobench(
    path: Path, *, drop: str | None = None, rename: str | None = None, t_len: int | None = None, seed: int = 0
) -> dict:
    """Write a NeuroBench-style v7.3 .mat file; `drop`/`rename` spoil one field, `t_len` truncates `t`."""
    t, finger, target, channels, spikes = _nb_content(seed)
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")

        def key(name: str) -> str:
            return f"{name}_renamed" if name == rename else name

        def put(name: str, data: np.ndarray) -> None:
            if name != drop:
                f.create_dataset(key(name), data=data).attrs["MATLAB_class"] = np.bytes_("double")

        put("t", t[None, : t_len or t.size])
        put("finger_pos", finger)
        put("cursor_pos", finger[1:3] * 10)
        put("target_pos", target)
        if drop != "chan_names":
            names = f.create_dataset(key("chan_names"), (1, len(channels)), dtype=h5py.ref_dtype)
            for i, name in enumerate(channels):
                ds = refs.create_dataset(f"c{i}", data=np.array([ord(c) for c in name], dtype=np.uint16)[:, None])
                ds.attrs["MATLAB_class"] = np.bytes_("char")
                names[0, i] = ds.ref
        if drop != "spikes":
            cells = f.create_dataset(key("spikes"), (2, len(channels)), dtype=h5py.ref_dtype)  # MATLAB channels x units
            cells.attrs["MATLAB_class"] = np.bytes_("cell")
            for ch, units in enumerate(spikes):
                for u, times in enumerate(units):
                    if times.size:
                        ds = refs.create_dataset(f"s{ch}_{u}", data=times[None, :])
                    else:
                        ds = refs.create_dataset(f"s{ch}_{u}", data=np.zeros(2, dtype=np.uint64))
                        ds.attrs["MATLAB_empty"] = np.uint8(1)
                    cells[u, ch] = ds.ref
    with path.open("r+b") as fh:
        fh.write(_mat73_header())
    return {"t": t, "finger": finger, "target": target, "channels": channels, "spikes": spikes}


def test_neurobench_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "indy_20160630_01.mat"
    truth = write_neurobench(path)
    assert detect_layout(path) == "neurobench"
    rec = read_recording(path)
    assert rec.source == "neurobench" and rec.subject == "indy" and rec.session == "indy_20160630_01"
    assert not rec.synthetic
    assert rec.unit_names == tuple(truth["channels"])
    for got, units in zip(rec.spike_times, truth["spikes"], strict=True):
        np.testing.assert_array_equal(got, np.sort(np.concatenate(units)))
    np.testing.assert_array_equal(rec.time_s, truth["t"])
    np.testing.assert_array_equal(rec.column("pos_x"), -truth["finger"][1])
    np.testing.assert_array_equal(rec.column("pos_y"), -truth["finger"][2])
    np.testing.assert_allclose(rec.column("vel_x")[1:], np.diff(-truth["finger"][1]) / np.diff(truth["t"]))
    np.testing.assert_array_equal(rec.trial_start_s, truth["t"][[0, 120, 300]])  # one trial per target
    np.testing.assert_allclose(rec.trial_stop_s, [truth["t"][120], truth["t"][300], truth["t"][-1] + 0.004])
    sorted_units = read_recording(path, merge_units=False)
    assert sorted_units.unit_names == ("M1 001 u0", "M1 001 u1", "M1 002 u0", "M1 002 u1", "M1 003 u0")
    np.testing.assert_array_equal(sorted_units.spike_times[1], truth["spikes"][0][1])


@pytest.mark.parametrize(
    ("spoil", "field"),
    [
        ({"drop": "finger_pos"}, "finger_pos"),
        ({"rename": "spikes"}, "spikes"),
        ({"drop": "chan_names"}, "chan_names"),
        ({"t_len": 400}, "finger_pos"),
    ],
)
def test_neurobench_mislabeled_names_the_field(tmp_path: Path, spoil: dict, field: str) -> None:
    path = tmp_path / "bad.mat"
    write_neurobench(path, **spoil)
    with pytest.raises(InputDataError, match=f"'{field}'") as err:
        read_recording(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_neurobench_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cut.mat"
    write_neurobench(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputDataError, match=re.escape("cut.mat")) as err:
        read_recording(path, "neurobench")
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- TrialData (MAT v5 struct array)

TD_FIELDS = (
    "monkey",
    "date",
    "bin_size",
    "target_direction",
    "idx_trial_start",
    "idx_go_cue",
    "pos",
    "vel",
    "acc",
    "M1_spikes",
    "M1_unit_guide",
)


def write_trialdata(
    path: Path,
    *,
    n_trials: int = 4,
    units: int = 5,
    rename: dict | None = None,
    vel_short: int | None = None,
    sparse: bool = False,
    seed: int = 1,
) -> list[dict]:
    """Write a TrialData file: `trial_data`, a 1 x n struct array; `rename` renames fields, `vel_short` spoils one."""
    rng = np.random.default_rng(seed)
    rename = rename or {}
    names = [rename.get(f, f) for f in TD_FIELDS]
    trials = []
    arr = np.zeros((1, n_trials), dtype=[(n, object) for n in names])
    for i in range(n_trials):
        n = int(rng.integers(8, 14))
        trial = {
            "monkey": "Chewie",
            "date": "20161005",
            "bin_size": 0.01,
            "target_direction": i * np.pi / 4,
            "idx_trial_start": 1.0,
            "idx_go_cue": np.nan if i == 2 else float(n // 2),
            "pos": rng.normal(size=(n, 2)),
            "vel": rng.normal(size=(n, 2)),
            "acc": rng.normal(size=(n, 2)),
            "M1_spikes": rng.poisson(0.7, size=(n, units)).astype(np.float64),
            "M1_unit_guide": np.column_stack([np.arange(1, units + 1), np.ones(units)]),
        }
        if vel_short is not None and i == vel_short:
            trial["vel"] = trial["vel"][:-1]
        trials.append(trial)
        for name, key in zip(names, TD_FIELDS, strict=True):
            arr[0, i][name] = scipy.sparse.csc_matrix(trial[key]) if sparse and key == "M1_spikes" else trial[key]
    scipy.io.savemat(path, {"trial_data": arr})
    return trials


def test_trialdata_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "Chewie_CO_20161005.mat"
    trials = write_trialdata(path)
    assert detect_layout(path) == "trialdata"
    rec = read_recording(path)
    assert rec.source == "trialdata" and rec.subject == "Chewie" and rec.session == "20161005"
    assert rec.unit_names[0] == "M1 ch1u1" and rec.count_bin_s == 0.01
    np.testing.assert_array_equal(rec.counts, np.concatenate([t["M1_spikes"] for t in trials]).astype(np.int64))
    np.testing.assert_array_equal(rec.column("vel_y"), np.concatenate([t["vel"][:, 1] for t in trials]))
    lengths = np.array([len(t["pos"]) for t in trials])
    np.testing.assert_allclose(rec.trial_start_s, np.concatenate([[0], np.cumsum(lengths)[:-1]]) * 0.01)
    np.testing.assert_allclose(rec.trial_stop_s, np.cumsum(lengths) * 0.01)
    np.testing.assert_array_equal(rec.trial_info["idx_trial_start"], [0, 0, 0, 0])  # 1-based -> 0-based
    expected_go = [lengths[i] // 2 - 1 if i != 2 else -1 for i in range(4)]
    np.testing.assert_array_equal(rec.trial_info["idx_go_cue"], expected_go)
    np.testing.assert_allclose(rec.trial_info["target_direction"], np.arange(4) * np.pi / 4)
    np.testing.assert_array_equal(rec.segment_of_sample, np.repeat(np.arange(4), lengths))
    coarse = bin_recording(rec, 0.02)  # two bins summed within each trial, partial last bin dropped
    first = trials[0]["M1_spikes"]
    np.testing.assert_array_equal(coarse.counts[0], first[0] + first[1])
    assert coarse.n_bins == int(np.sum(lengths // 2))


def test_trialdata_sparse_counts(tmp_path: Path) -> None:
    """TrialData files may store the counts as MATLAB sparse matrices."""
    path = tmp_path / "sparse.mat"
    trials = write_trialdata(path, sparse=True)
    rec = read_recording(path)
    np.testing.assert_array_equal(rec.counts, np.concatenate([t["M1_spikes"] for t in trials]).astype(np.int64))


def test_trialdata_squeezed_shapes(tmp_path: Path) -> None:
    """One trial and one unit: savemat/loadmat squeezing must not lose the (bins, units) shape."""
    path = tmp_path / "one.mat"
    trials = write_trialdata(path, n_trials=1, units=1)
    rec = read_recording(path, "trialdata")
    assert rec.counts.shape == (len(trials[0]["pos"]), 1) and rec.n_trials == 1


@pytest.mark.parametrize(
    ("spoil", "field"),
    [
        ({"rename": {"M1_spikes": "M1_spks"}}, "M1_spikes"),
        ({"rename": {"bin_size": "binsize"}}, "bin_size"),
        ({"vel_short": 2}, "vel"),
    ],
)
def test_trialdata_mislabeled_names_the_field(tmp_path: Path, spoil: dict, field: str) -> None:
    path = tmp_path / "bad_td.mat"
    write_trialdata(path, **spoil)
    with pytest.raises(InputDataError, match=f"'{field}'") as err:
        read_recording(path)
    assert "bad_td.mat" in str(err.value) and "trial" in str(err.value)


def test_trialdata_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cut_td.mat"
    write_trialdata(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(InputDataError, match=re.escape("cut_td.mat")):
        read_recording(path)


# ---------------------------------------------------------------- NWB (pynwb)


def write_nwb(
    path: Path, *, with_trials: bool = True, with_behaviour: bool = True, vel_only: bool = False, seed: int = 2
) -> dict:
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.behavior import Position, SpatialSeries
    from pynwb.file import Subject

    rng = np.random.default_rng(seed)
    nwb = NWBFile(
        session_description="test reaching",
        identifier="id-1",
        session_id="Jenkins-2009",
        session_start_time=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
        subject=Subject(subject_id="Jenkins"),
    )
    spikes = [np.sort(rng.uniform(0, 3, n)) for n in (30, 11, 52)]
    for times in spikes:
        nwb.add_unit(spike_times=times)
    t = np.arange(0, 3, 0.001)
    pos = np.cumsum(rng.normal(size=(t.size, 2)), axis=0) * 0.01
    vel = rng.normal(size=(t.size, 2))
    if vel_only:  # only a velocity series, in acquisition, on a regular time base (rate, no timestamps)
        nwb.add_acquisition(TimeSeries(name="hand_vel", data=vel, rate=1000.0, starting_time=0.0, unit="m/s"))
    elif with_behaviour:
        behavior = nwb.create_processing_module("behavior", "hand kinematics")
        behavior.add(
            Position(
                spatial_series=SpatialSeries(name="hand_pos", data=pos, timestamps=t, reference_frame="screen centre")
            )
        )
        behavior.add(TimeSeries(name="hand_vel", data=vel, timestamps=t, unit="m/s"))
    if with_trials:
        nwb.add_trial_column("target_direction", "reach direction, rad")
        for k, (a, b) in enumerate([(0.1, 0.9), (1.0, 1.8), (2.0, 2.9)]):
            nwb.add_trial(start_time=a, stop_time=b, target_direction=k * 0.5)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return {"spikes": spikes, "t": t, "pos": pos, "vel": vel}


def test_nwb_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub-Jenkins_ses-full.nwb"
    truth = write_nwb(path)
    assert detect_layout(path) == "nwb"
    rec = read_recording(path)
    assert rec.source == "nwb" and rec.subject == "Jenkins" and rec.session == "Jenkins-2009"
    assert rec.n_units == 3
    for got, want in zip(rec.spike_times, truth["spikes"], strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(rec.time_s, truth["t"])
    np.testing.assert_array_equal(rec.behaviour[:, 0:2], truth["pos"])
    np.testing.assert_array_equal(rec.behaviour[:, 2:4], truth["vel"])
    np.testing.assert_array_equal(rec.trial_start_s, [0.1, 1.0, 2.0])
    np.testing.assert_array_equal(rec.trial_info["target_direction"], [0.0, 0.5, 1.0])


def test_nwb_velocity_only_in_acquisition(tmp_path: Path) -> None:
    path = tmp_path / "vel.nwb"
    truth = write_nwb(path, vel_only=True)
    rec = read_recording(path)
    np.testing.assert_allclose(rec.time_s, truth["t"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(rec.behaviour[:, 2:4], truth["vel"])
    np.testing.assert_allclose(rec.column("pos_x")[1:], np.cumsum(truth["vel"][1:, 0] * 0.001), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("spoil", "field"), [({"with_trials": False}, "trials"), ({"with_behaviour": False}, "hand_pos")]
)
def test_nwb_mislabeled_names_the_field(tmp_path: Path, spoil: dict, field: str) -> None:
    path = tmp_path / "bad.nwb"
    write_nwb(path, **spoil)
    with pytest.raises(InputDataError, match=field):
        read_recording(path)


def test_nwb_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cut.nwb"
    write_nwb(path)
    path.write_bytes(path.read_bytes()[:4000])
    with pytest.raises(InputDataError, match=re.escape("cut.nwb")) as err:
        read_recording(path, "nwb")
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- detection, naming the layout, folders


def test_wrong_layout_named_by_the_caller(tmp_path: Path) -> None:
    nwb, td = tmp_path / "a.nwb", tmp_path / "b.mat"
    write_nwb(nwb)
    write_trialdata(td)
    with pytest.raises(InputDataError, match="NeuroBench file lacks the field 't'"):
        read_recording(nwb, "neurobench")
    with pytest.raises(InputDataError, match=re.escape("b.mat")):
        read_recording(td, "nwb")
    with pytest.raises(InputDataError, match=re.escape("a.nwb")):
        read_recording(nwb, "trialdata")
    junk = tmp_path / "c.mat"
    junk.write_bytes(b"not a recording at all")
    with pytest.raises(InputDataError, match="not a MAT v5"):
        detect_layout(junk)


def test_folder_of_sessions(tmp_path: Path) -> None:
    write_neurobench(tmp_path / "indy_1.mat", seed=0)
    write_neurobench(tmp_path / "indy_2.mat", seed=3)
    (tmp_path / "notes.txt").write_text("ignored")
    recs = read_recordings(tmp_path, "neurobench")
    assert [r.session for r in recs] == ["indy_1", "indy_2"]
    assert not np.array_equal(recs[0].spike_times[0], recs[1].spike_times[0])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputDataError, match=re.escape("no .mat or .nwb")):
        read_recordings(tmp_path / "empty")
