"""A trained run directory as a family's `adapt` and `evaluate` hooks read it: model, data arrays, provenance.

Read with the file layer's tools (`read_npz`, `check_task_data`, `torch.load` after a zip CRC check), because
`spikeport.rundir` and the run manifest belong to the pipeline layer above `spikeport.train`; the manifest's
staleness checks therefore do not run here. Families subclass `TrainedRun` for their own accessors.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from spikeport.checks import check_task_data
from spikeport.errors import CorruptFileError, ModelFamilyError, SpikeportError
from spikeport.files import read_npz

__all__ = ["DATA_FILE", "DEPLOY_FILE", "MODEL_FILE", "TrainedRun", "load_trained_run"]

DATA_FILE, MODEL_FILE, DEPLOY_FILE = "data.npz", "model.pt", "model.deploy.npz"
"""The run-directory artifacts read here (the names `spikeport.rundir` writes)."""

RunT = TypeVar("RunT", bound="TrainedRun")


@dataclass(frozen=True)
class TrainedRun:
    """The parts of a run directory that adaptation and evaluation need."""

    run_dir: Path
    model: Any
    data: dict[str, np.ndarray]
    info: dict[str, Any]

    @property
    def synthetic(self) -> bool:
        return bool(self.info.get("synthetic", False))

    @property
    def label(self) -> str:
        """'SYNTHETIC' or 'recorded': every result says which."""
        return "SYNTHETIC" if self.synthetic else "recorded"

    def deploy_graph(self):
        """The quantized graph (`spikeport export` and `spikeport quantize` must have run)."""
        from spikeport.ir import load_deploy_graph

        path = self.run_dir / DEPLOY_FILE
        if not path.is_file():
            raise SpikeportError(
                f"{path} not found; run `spikeport export {self.run_dir}` and `spikeport quantize {self.run_dir}` first"
            )
        return load_deploy_graph(path)


def load_trained_run(run_dir: Path, family: str, run_type: type[RunT]) -> RunT:
    """Model and data of a run trained by `family`, as `run_type` (a `TrainedRun` subclass).

    Raises:
        CorruptFileError: If data.npz or model.pt is missing, damaged or not spikeport's.
        ModelFamilyError: If the run was trained with another family.
    """
    import torch

    from spikeport.train.models import get_family

    run_dir = Path(run_dir)
    model_path = run_dir / MODEL_FILE
    if not model_path.is_file():
        raise CorruptFileError(f"{model_path} not found; run `spikeport train --model {family} --out {run_dir}` first")
    try:
        with zipfile.ZipFile(model_path) as archive:
            damaged = archive.testzip()
        saved = None if damaged else torch.load(model_path, weights_only=True)
    except (OSError, RuntimeError, ValueError, zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        raise CorruptFileError(f"{model_path} is damaged or not a model file: {exc}") from exc
    if not isinstance(saved, dict) or "config" not in saved or "state_dict" not in saved:
        raise CorruptFileError(f"{model_path} is damaged or not a spikeport model file; re-run `spikeport train`")
    if saved.get("family") != family:
        raise ModelFamilyError(f"{run_dir} holds a {saved.get('family', 'decoder')!r} model, not {family}")
    model = get_family(family).load_model(saved["config"], saved["state_dict"])
    data = read_npz(run_dir / DATA_FILE, "data file")
    check_task_data(data, source=str(run_dir / DATA_FILE))
    return run_type(run_dir=run_dir, model=model, data=data, info=json.loads(str(data["info"])))
