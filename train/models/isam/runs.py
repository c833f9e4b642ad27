"""A trained ISAM-MTL run as adapt and evaluate read it: model, data, deploy graph, and trials per subject."""

from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spikeport.checks import check_task_data
from spikeport.errors import CorruptFileError, InputDataError, ModelFamilyError, SpikeportError
from spikeport.files import read_npz

__all__ = ["IsamRun", "load_run"]

DATA_FILE, MODEL_FILE, DEPLOY_FILE = "data.npz", "model.pt", "model.deploy.npz"
"""The run-directory artifacts read here (the names `spikeport.rundir` writes)."""


@dataclass(frozen=True)
class IsamRun:
    """The parts of a run directory adapt/evaluate need."""

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

    @property
    def n_classes(self) -> int:
        return len(self.info["class_names"])

    @property
    def training_subjects(self) -> list[int]:
        return sorted(int(s) for s in np.unique(self.data["subjects_train"]))

    @property
    def heldout_subjects(self) -> list[int]:
        return [int(s) for s in self.info.get("heldout_subjects", [])]

    def deploy_graph(self):
        """The quantized graph (`spikeport quantize` must have run)."""
        from spikeport.ir import load_deploy_graph

        path = self.run_dir / DEPLOY_FILE
        if not path.is_file():
            raise SpikeportError(f"{path} not found; run `spikeport export` and `spikeport quantize` on {self.run_dir}")
        return load_deploy_graph(path)

    def trials(self, subject: int, *, option: str = "--subject") -> tuple[np.ndarray, np.ndarray]:
        """All encoded trials (x, y) of a subject: held-out subjects from x_heldout, training ones from both splits.

        Raises:
            InputDataError: naming `option` if the run has no such subject.
        """
        if "subjects_heldout" in self.data:
            rows = self.data["subjects_heldout"] == subject
            if rows.any():
                return self.data["x_heldout"][rows], self.data["y_heldout"][rows]
        rows_train = self.data["subjects_train"] == subject
        rows_test = self.data["subjects_test"] == subject
        if not rows_train.any() and not rows_test.any():
            known = self.heldout_subjects + self.training_subjects
            raise InputDataError(
                f"{option} {subject}: this {self.label} run has no such subject; choose one of "
                f"{', '.join(map(str, known))} (held-out first: {self.heldout_subjects or 'none'})"
            )
        x = np.concatenate([self.data["x_train"][rows_train], self.data["x_test"][rows_test]])
        y = np.concatenate([self.data["y_train"][rows_train], self.data["y_test"][rows_test]])
        return x, y


def load_run(run_dir: Path) -> IsamRun:
    """Model and data of a trained isam-mtl run.

    Read with the file layer's tools (`read_npz`, `check_task_data`, `torch.load` after a CRC check), because
    `spikeport.rundir` and the run manifest belong to the pipeline layer above `spikeport.train`; the manifest's
    staleness checks therefore do not run here.

    Raises:
        CorruptFileError: If data.npz or model.pt is missing, damaged or not spikeport's.
        ModelFamilyError: If the run was trained with another family.
    """
    import torch

    from spikeport.train.models import get_family

    run_dir = Path(run_dir)
    model_path = run_dir / MODEL_FILE
    if not model_path.is_file():
        raise CorruptFileError(f"{model_path} not found; run `spikeport train --model isam-mtl --out {run_dir}` first")
    try:
        with zipfile.ZipFile(model_path) as archive:
            damaged = archive.testzip()
        saved = None if damaged else torch.load(model_path, weights_only=True)
    except (OSError, RuntimeError, ValueError, zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        raise CorruptFileError(f"{model_path} is damaged or not a model file: {exc}") from exc
    if not isinstance(saved, dict) or "config" not in saved or "state_dict" not in saved:
        raise CorruptFileError(f"{model_path} is damaged or not a spikeport model file; re-run `spikeport train`")
    if saved.get("family") != "isam-mtl":
        raise ModelFamilyError(f"{run_dir} holds a {saved.get('family', 'decoder')!r} model, not isam-mtl")
    model = get_family("isam-mtl").load_model(saved["config"], saved["state_dict"])
    data = read_npz(run_dir / DATA_FILE, "data file")
    check_task_data(data, source=str(run_dir / DATA_FILE))
    return IsamRun(run_dir=run_dir, model=model, data=data, info=json.loads(str(data["info"])))
