"""A trained rat-snn run as adapt and evaluate read it: model, data arrays, provenance and the deploy graph."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spikeport.train.models.trained_run import TrainedRun, load_trained_run

__all__ = ["RatSnnRun", "load_run"]

@dataclass(frozen=True)
class RatSnnRun(TrainedRun):
    """A rat-snn run, with the scale of its targets."""

    @property
    def y_scale(self) -> float:
        """Targets were divided by this (the training velocity's std, `data.py`)."""
        return float(self.info.get("y_scale", 1.0))


def load_run(run_dir: Path) -> RatSnnRun:
    """Model and data of a trained rat-snn run (`spikeport.train.models.trained_run`).

    Raises:
        CorruptFileError: If data.npz or model.pt is missing, damaged or not spikeport's.
        ModelFamilyError: If the run was trained with another family.
    """
    return load_trained_run(run_dir, "rat-snn", RatSnnRun)
