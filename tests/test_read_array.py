"""`spikeport.files.read_array`: the one reader of a user's own arrays (--inputs, --labels, --calibration)."""

from __future__ import annotations

import numpy as np
import pytest

from spikeport.errors import CorruptFileError
from spikeport.files import read_array


def test_reads_npy_and_single_array_npz(tmp_path):
    x = np.arange(24, dtype=np.int8).reshape(2, 3, 4)
    np.save(tmp_path / "x.npy", x)
    np.savez(tmp_path / "x.npz", only=x)
    assert np.array_equal(read_array(tmp_path / "x.npy", "--inputs"), x)
    assert np.array_equal(read_array(tmp_path / "x.npz", "--inputs"), x)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_text("not numpy"), "damaged or not a NumPy array file"),
        (lambda p: np.save(p, np.array([{"a": 1}], dtype=object)), "damaged or not a NumPy array file"),
    ],
)
def test_bad_files_name_the_option(tmp_path, make, expected):
    path = tmp_path / "bad.npy"
    make(path)
    with pytest.raises(CorruptFileError, match=expected) as info:
        read_array(path, "--labels")
    assert str(info.value).startswith("--labels ")


def test_npz_with_several_arrays_is_refused(tmp_path):
    np.savez(tmp_path / "two.npz", a=np.zeros(2), b=np.ones(2))
    with pytest.raises(CorruptFileError, match=r"holds 2 arrays \(a, b\)"):
        read_array(tmp_path / "two.npz", "--calibration")
