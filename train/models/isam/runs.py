"""A trained ISAM-MTL run as adapt and evaluate read it: model, data, deploy graph, and trials per subject."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikeport.errors import InputDataError
from spikeport.train.models.trained_run import TrainedRun, load_trained_run

__all__ = ["IsamRun", "load_run"]

@dataclass(frozen=True)
class IsamRun(TrainedRun):
    """An isam-mtl run, with its subjects and their trials."""

    @property
    def n_classes(self) -> int:
        return len(self.info["class_names"])

    @property
    def training_subjects(self) -> list[int]:
        return sorted(int(s) for s in np.unique(self.data["subjects_train"]))

    @property
    def heldout_subjects(self) -> list[int]:
        return [int(s) for s in self.info.get("heldout_subjects", [])]

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
    """Model and data of a trained isam-mtl run (`spikeport.train.models.trained_run`).

    Raises:
        CorruptFileError: If data.npz or model.pt is missing, damaged or not spikeport's.
        ModelFamilyError: If the run was trained with another family.
    """
    return load_trained_run(run_dir, "isam-mtl", IsamRun)
