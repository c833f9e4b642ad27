"""Atomic file writes: every artifact spikeport writes appears whole or not at all.

A writer fills a temporary file in the target's own directory (so the final rename stays on one file system),
which is then renamed over the target with `os.replace`, an atomic step on POSIX. If the writer raises or the
process is interrupted, the temporary file is removed and the previous file at the target is left untouched.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from spikeport.errors import CorruptFileError, SpikeportError

# What numpy and zipfile raise on damaged archives (flag bits and versions a corrupt header can claim included).
_DAMAGED = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError)


def atomic_write(path: str | Path, write: Callable[[Path], None], *, binary_suffix: str = ".tmp") -> Path:
    """Call `write(tmp_path)` to fill a temporary file, then rename it to `path`; returns `path`.

    Args:
        path: the file to create or replace.
        write: fills the file at the path it is given (it may open it by name, as `nir.write` and `np.savez` do).
        binary_suffix: suffix of the temporary file (some writers, such as `np.savez`, append `.npz` otherwise).

    Raises:
        SpikeportError: the target's folder cannot be created or written, or the target is a directory.
    """
    path = Path(path)
    if path.is_dir():
        raise SpikeportError(f"cannot write {str(path)!r}: it is a directory; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=binary_suffix)
    except OSError as exc:
        blocker = next((parent for parent in path.parents if parent.is_file()), None)
        reason = f"{str(blocker)!r} is a file, not a directory" if blocker else exc.strerror or exc
        raise SpikeportError(f"cannot write {str(path)!r}: {reason}") from exc
    os.close(fd)
    try:
        os.chmod(tmp, _mode_for(path))  # mkstemp creates 0600; give the file the mode a plain open() would
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _mode_for(path: Path) -> int:
    """The permission bits of the file being replaced, or those a new file gets under the process's umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_json(path: str | Path, payload: dict) -> Path:
    """Write JSON atomically with sorted keys and indentation, so equal content gives equal bytes."""

    def fill(tmp: Path) -> None:
        with tmp.open("w") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True)
            handle.write("\n")

    return atomic_write(path, fill)


def read_npz(path: str | Path, what: str) -> dict[str, np.ndarray]:
    """Every array of an `.npz` file (no pickles), or one `CorruptFileError` naming the file and `what` it is.

    Args:
        path: the file.
        what: what the file should be, for the message (e.g. "run record", "deploy graph").
    """
    path = Path(path)
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "does not exist"
        raise CorruptFileError(f"{what} {str(path)!r} {problem}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except _DAMAGED as exc:
        raise CorruptFileError(f"{what} {str(path)!r} is damaged or not a {what} (.npz): {exc}") from exc


def read_array(path: str | Path, option: str) -> np.ndarray:
    """The array of a user's `.npy` file (no pickles), or one `CorruptFileError` naming the file and the option.

    Shared by every command option that takes the user's own arrays (`--inputs`, `--labels`, `--calibration`), so
    they all fail the same way. Shape and values are checked by the caller (`spikeport.checks`).

    Args:
        path: the `.npy` file (an `.npz` with exactly one array is accepted too).
        option: the command-line option or argument that named the file, for the message (e.g. "--inputs").
    """
    path = Path(path)
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "does not exist"
        raise CorruptFileError(f"{option} {str(path)!r} {problem}; give a .npy file")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                if len(loaded.files) != 1:
                    raise CorruptFileError(
                        f"{option} {str(path)!r} holds {len(loaded.files)} arrays ({', '.join(loaded.files)}); "
                        "give a .npy file or an .npz with one array"
                    )
                return loaded[loaded.files[0]]
        return loaded
    except _DAMAGED as exc:
        raise CorruptFileError(f"{option} {str(path)!r} is damaged or not a NumPy array file (.npy): {exc}") from exc


__all__ = ["atomic_write", "read_array", "read_npz", "write_json"]
