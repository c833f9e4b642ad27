"""Which reader a file needs, from its first bytes (or as the caller names it), and reading folders of sessions.

* MAT v5 (TrialData): the 128-byte header starts with "MATLAB 5.0 MAT-file".
* MATLAB v7.3 (NeuroBench): a 512-byte user block whose text starts with "MATLAB 7.3 MAT-file", then the HDF5
  signature at byte 512.
* NWB: the HDF5 signature at byte 0 and a root attribute `nwb_version` (or `neurodata_type` = "NWBFile").
"""

from __future__ import annotations

from pathlib import Path

from spikeport.errors import InputDataError
from spikeport.train.data.intracortical.recording import Recording

__all__ = ["LAYOUTS", "detect_layout", "read_recording", "read_recordings"]

LAYOUTS: tuple[str, ...] = ("trialdata", "neurobench", "nwb")
"""File layouts the readers understand (values of `--data` besides "synthetic")."""

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
SUFFIXES = (".mat", ".nwb")


def detect_layout(path: str | Path) -> str:
    """The layout of `path` ("trialdata", "neurobench" or "nwb") from its header bytes.

    Raises:
        InputDataError: the file is missing, empty, or none of the three layouts.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(520)
    except OSError as exc:
        raise InputDataError(f"{path}: cannot open the recording: {exc.strerror or exc}") from exc
    if head.startswith(b"MATLAB 5.0 MAT-file"):
        return "trialdata"
    if head.startswith(b"MATLAB 7.3 MAT-file") or head[512:520] == HDF5_SIGNATURE:
        return "neurobench"
    if head.startswith(HDF5_SIGNATURE):
        import h5py

        try:
            with h5py.File(path, "r") as f:
                attrs = dict(f.attrs)
                keys = set(f.keys())
        except OSError as exc:
            raise InputDataError(f"{path}: HDF5 file cannot be opened (truncated or damaged?)") from exc
        kind = attrs.get("neurodata_type", b"")
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        if "nwb_version" in attrs or kind == "NWBFile":
            return "nwb"
        if {"spikes", "t"} <= keys:
            return "neurobench"
        raise InputDataError(f"{path}: HDF5 file is neither NWB (no 'nwb_version' attribute) nor a NeuroBench "
                             "MATLAB v7.3 file (no 'spikes' and 't'); name the layout with --data")
    raise InputDataError(f"{path}: not a MAT v5 (TrialData), MATLAB v7.3 (NeuroBench) or NWB file; "
                         f"the header starts with {head[:20]!r}")


def read_recording(path: str | Path, layout: str | None = None, **options) -> Recording:
    """Read one file with the reader of `layout` (None: detected from the file); `options` go to the reader."""
    path = Path(path)
    layout = layout or detect_layout(path)
    if layout == "trialdata":
        from spikeport.train.data.intracortical.trialdata import read_trialdata

        return read_trialdata(path, **options)
    if layout == "neurobench":
        from spikeport.train.data.intracortical.neurobench import read_neurobench

        return read_neurobench(path, **options)
    if layout == "nwb":
        from spikeport.train.data.intracortical.nwb import read_nwb

        return read_nwb(path, **options)
    raise InputDataError(f"unknown intracortical data layout {layout!r}; choose one of {', '.join(LAYOUTS)}")


def read_recordings(path: str | Path, layout: str | None = None, files: tuple[str, ...] = (),
                    **options) -> list[Recording]:
    """Read a file, or every `.mat`/`.nwb` file of a folder (sorted by name), or the named `files` in it.

    Each file is one session; the list is in file-name order.

    Raises:
        InputDataError: the path does not exist, the folder holds no recording, or a file fails to read.
    """
    path = Path(path)
    if files:
        paths = [Path(f) if Path(f).is_absolute() or not path.is_dir() else path / f for f in files]
    elif path.is_dir():
        paths = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
        if not paths:
            raise InputDataError(f"{path}: folder holds no .mat or .nwb recording")
    elif path.is_file():
        paths = [path]
    else:
        raise InputDataError(f"{path}: no such file or folder of recordings")
    return [read_recording(p, layout, **options) for p in paths]
