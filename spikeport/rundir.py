"""The run directory: artifact names, and reading and writing the artifacts that more than one stage uses.

Every write is atomic (`spikeport.files.atomic_write`). Every read goes through the run's manifest
(`spikeport.integrity.RunManifest`, opened with `open_run`): a missing, foreign, changed or stale artifact is refused
with one line naming the file and the stage to re-run, and an unreadable one raises `CorruptFileError` naming the
file, so the CLI can end any such error in one line.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import zipfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

from spikeport.checks import check_task_data
from spikeport.errors import CorruptFileError, SpikeportError
from spikeport.files import atomic_write, read_npz
from spikeport.integrity import RunManifest

DATA_FILE, MODEL_FILE, NIR_FILE, DEPLOY_FILE = "data.npz", "model.pt", "model.nir", "model.deploy.npz"
QUANT_FILE, TRAIN_FILE, REPORT_FILE = "quantization.json", "training.json", "report.json"

__all__ = [
    "DATA_FILE",
    "DEPLOY_FILE",
    "MODEL_FILE",
    "NIR_FILE",
    "QUANT_FILE",
    "REPORT_FILE",
    "TRAIN_FILE",
    "data_info",
    "load_data",
    "load_model",
    "model_family_name",
    "open_run",
    "read_json",
    "reading",
    "record_name",
    "record_path",
    "require",
    "save_data",
    "save_model",
    "stage_of",
]

_MADE_BY = {
    DATA_FILE: "train",
    MODEL_FILE: "train",
    TRAIN_FILE: "train",
    NIR_FILE: "export",
    DEPLOY_FILE: "quantize",
    QUANT_FILE: "quantize",
    REPORT_FILE: "report",
}


_READ_ERRORS = (
    OSError,
    ValueError,
    KeyError,
    TypeError,
    EOFError,
    zipfile.BadZipFile,
    pickle.UnpicklingError,
    RuntimeError,
)
"""What numpy, json and torch raise on a corrupt, truncated or foreign file."""


def stage_of(name: str) -> str:
    """The command, as a user re-runs it, that writes artifact `name` of a run directory."""
    if name.startswith("record_") and name.endswith(".npz"):
        return f"simulate --backend {name.removeprefix('record_').removesuffix('.npz')}"
    return _MADE_BY.get(name, "train")


def open_run(run_dir: Path) -> RunManifest:
    """The manifest of an existing run directory; a SpikeportError if the directory does not exist."""
    if run_dir.exists() and not run_dir.is_dir():
        raise SpikeportError(f"run directory {str(run_dir)!r} is a file; give the directory `spikeport train` wrote")
    if not run_dir.is_dir():
        raise SpikeportError(
            f"run directory {str(run_dir)!r} does not exist; create one with `spikeport train --out {run_dir}`"
        )
    return RunManifest(run_dir, stage_of=stage_of)


def require(run_dir: Path, name: str, manifest: RunManifest | None = None) -> Path:
    """The path of artifact `name` once the run's manifest has checked it: present, recorded, unchanged since its
    stage wrote it, and made from the current versions of its inputs (`StaleArtifactError` otherwise).

    Args:
        run_dir: the run directory.
        name: the artifact's file name.
        manifest: the run's manifest, if the stage has opened it already.
    """
    return (manifest or open_run(run_dir)).require(name, stage_of(name))


@contextlib.contextmanager
def reading(path: Path, what: str) -> Iterator[None]:
    """Turn the errors of reading a corrupt or foreign file into one `CorruptFileError` naming `path`."""
    try:
        yield
    except SpikeportError:
        raise
    except _READ_ERRORS as exc:
        reason = " ".join(str(exc).split()).split(". ")[0][:160] or type(exc).__name__
        raise CorruptFileError(
            f"{path} is not a readable {what} ({reason}); re-create it with the stage that writes it"
        ) from exc


def save_data(run_dir: Path, arrays: dict[str, np.ndarray], info: dict) -> Path:
    """Write `data.npz`: the arrays, and `info` (provenance) as a JSON string."""

    def fill(tmp: Path) -> None:
        np.savez_compressed(tmp, **arrays, info=np.array(json.dumps(info)))

    return atomic_write(run_dir / DATA_FILE, fill, binary_suffix=".npz")


def load_data(run_dir: Path, manifest: RunManifest | None = None) -> dict[str, np.ndarray]:
    """The encoded inputs and targets of a run directory (checked against its manifest)."""
    path = require(run_dir, DATA_FILE, manifest)
    arrays = read_npz(path, "data file")
    for key in ("x_train", "y_train", "x_test", "y_test", "info"):
        if key not in arrays:
            raise CorruptFileError(f"{path} lacks the array {key!r}; re-create it with `spikeport train`")
    check_task_data(arrays, source=str(path))  # shapes, NaN/inf, labels in the class range (InputDataError)
    return arrays


def data_info(data: dict[str, np.ndarray]) -> dict:
    """The provenance record stored with the data (source, synthetic flag, description, class or output names)."""
    return json.loads(str(data["info"]))


def read_json(path: Path, stage: str) -> dict:
    """A JSON object from `path` (a run directory's `training.json`, `quantization.json`), as it is on disk.

    Check the artifact with `require` first; this only reads it. A missing file names `stage`, which writes it.
    """
    if not path.is_file():
        raise SpikeportError(f"{path} not found; run `spikeport {stage}` for this run directory first")
    with reading(path, "JSON file"):
        payload = json.loads(path.read_text())
    if not isinstance(payload, dict):
        raise CorruptFileError(
            f"{path} holds a JSON {type(payload).__name__}, not an object; re-run `spikeport {stage}`"
        )
    return payload


def record_name(backend: str) -> str:
    """The file name of the record `spikeport simulate --backend BACKEND` writes."""
    return f"record_{backend}.npz"


def record_path(run_dir: Path, backend: str) -> Path:
    """Where `spikeport simulate --backend BACKEND` writes its record."""
    return run_dir / record_name(backend)


def save_model(run_dir: Path, family_name: str, model) -> Path:
    """Write `model.pt`: the family name, the model config (as a dict) and the state dict."""
    import torch

    payload = {"family": family_name, "config": asdict(model.config), "state_dict": model.state_dict()}

    def fill(tmp: Path) -> None:
        # A handle, not the path: given a path, torch.save names its archive after the (random) temporary file.
        with tmp.open("wb") as handle:
            torch.save(payload, handle)

    return atomic_write(run_dir / MODEL_FILE, fill)


def _load_model_file(run_dir: Path, manifest: RunManifest | None) -> dict:
    import torch

    path = require(run_dir, MODEL_FILE, manifest)
    with reading(path, "model file (torch)"):
        with zipfile.ZipFile(path) as archive:  # torch.load does not check the archive's CRCs; a flipped bit
            damaged = archive.testzip()  # in a weight would load as a different model
        if damaged is not None:
            raise CorruptFileError(f"{path} is damaged ({damaged} fails its CRC check); re-run `spikeport train`")
        saved = torch.load(path, weights_only=True)
        if not isinstance(saved, dict) or "config" not in saved or "state_dict" not in saved:
            raise CorruptFileError(f"{path} is not a spikeport model file (no config and state_dict)")
        return saved


def model_family_name(run_dir: Path, manifest: RunManifest | None = None) -> str:
    """The model family of a run directory's `model.pt` (files without one hold the decoder)."""
    from spikeport.train.models import DEFAULT_FAMILY

    return str(_load_model_file(run_dir, manifest).get("family", DEFAULT_FAMILY))


def load_model(run_dir: Path, manifest: RunManifest | None = None):
    """The model family and the trained model (eval mode) of a run directory (checked against its manifest)."""
    from spikeport.train.models import DEFAULT_FAMILY, get_family

    saved = _load_model_file(run_dir, manifest)
    family = get_family(str(saved.get("family", DEFAULT_FAMILY)))
    with reading(run_dir / MODEL_FILE, f"{family.name} model file"):
        return family, family.load_model(saved["config"], saved["state_dict"])
