"""The run-directory part of the public API (`spikeport.api`): train a model family, make a run directory from
the user's own arrays, and read one back. The layout is documented in docs/run-directory.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from spikeport.errors import ModelFamilyError, SpikeportError
from spikeport.ir.graph import DeployGraph

if TYPE_CHECKING:
    from spikeport.export import ParsedNetwork

__all__ = ["USER_DATA_FAMILIES", "Run", "load_run", "make_run", "train"]

USER_DATA_FAMILIES = ("decoder",)
"""Model families `make_run` trains on arrays alone (the others read their own recordings)."""


@dataclass(frozen=True)
class Run:
    """A run directory (docs/run-directory.md): the artifacts of `train` or `make_run` and the stages after."""

    path: Path

    def __post_init__(self) -> None:
        from spikeport.rundir import open_run

        object.__setattr__(self, "path", Path(self.path))
        open_run(self.path)  # refuses a missing directory or a file, naming `spikeport train`

    def __str__(self) -> str:
        present = sorted(p.name for p in self.path.iterdir() if p.is_file() and p.name != "manifest.json")
        return f"run {self.path}: {', '.join(present) or 'no artifacts'}"

    @property
    def model(self) -> str:
        """The model family of the run's `model.pt`."""
        from spikeport.rundir import model_family_name

        return model_family_name(self.path)

    def data(self) -> dict[str, np.ndarray]:
        """The run's arrays (`data.npz`: x_train, y_train, x_test, y_test, ...), checked against its manifest."""
        from spikeport.rundir import load_data

        return load_data(self.path)

    def inputs(self, split: str = "test") -> np.ndarray:
        """Spike inputs of a split ("train" or "test"), (samples, steps, n_in)."""
        return self.data()[f"x_{_split(split)}"]

    def labels(self, split: str = "test") -> np.ndarray:
        """Labels or targets of a split ("train" or "test")."""
        return self.data()[f"y_{_split(split)}"]

    def network(self) -> ParsedNetwork:
        """The float network of the run's `model.nir` (written by `spikeport export`)."""
        from spikeport.api import load_nir
        from spikeport.rundir import NIR_FILE, require

        return load_nir(require(self.path, NIR_FILE))

    def graph(self) -> DeployGraph:
        """The deploy graph of the run's `model.deploy.npz` (written by `spikeport quantize`)."""
        from spikeport.ir import load_deploy_graph
        from spikeport.rundir import DEPLOY_FILE, require

        return load_deploy_graph(require(self.path, DEPLOY_FILE))


def _split(split: str) -> str:
    if split not in ("train", "test"):
        raise SpikeportError(f"unknown split {split!r}; choose train or test")
    return split


def load_run(path: str | Path) -> Run:
    """A run directory written by `train`, `make_run` or `spikeport train`.

    Raises:
        SpikeportError: the directory does not exist or is a file.
    """
    return Run(Path(path))


_NOT_TRAIN_OPTIONS = {"chip": "quantize(chip=...)", "finetune_epochs": "`spikeport quantize --finetune-epochs`"}


def train(
    model: str = "decoder", *, out: str | Path, progress: bool = False, export: bool = True, **options: object
) -> Run:
    """Train a model family on its default data (synthetic unless `data=` names recordings), as `spikeport train`.

    Args:
        model: the family ("decoder", "isam-mtl", "rat-snn"; `spikeport --help` lists them).
        out: the run directory (created).
        progress: show progress bars.
        export: also write `model.nir` (`spikeport export`), so the run is ready for `quantize`.
        **options: settings of `spikeport.train.models.RunConfig`: seed, data, data_path, subject_ids,
            n_subjects, trials_per_class, num_steps, n_hidden, epochs, test_fraction, data_files, events.

    Returns:
        The `Run`.

    Raises:
        ModelFamilyError: an unknown family or option.
        DataSourceError: recordings that cannot be read.
    """
    from spikeport.pipeline import stage_export, stage_train
    from spikeport.train.models import RunConfig, get_family

    family = get_family(model)
    for name, where in _NOT_TRAIN_OPTIONS.items():
        if name in options:
            raise ModelFamilyError(f"train(): {name} is not a training setting; it applies at {where}")
    known = {f.name for f in dataclasses.fields(RunConfig)} - {"model", *_NOT_TRAIN_OPTIONS}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ModelFamilyError(f"train(): unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    out = Path(out)
    stage_train(out, family.run_config(**options), progress=progress)
    if export:
        stage_export(out)
    return Run(out)


def make_run(
    out: str | Path,
    *,
    train_inputs: np.ndarray,
    train_labels: np.ndarray,
    test_inputs: np.ndarray,
    test_labels: np.ndarray,
    dt: float,
    model: str = "decoder",
    class_names: Sequence[str] | None = None,
    description: str = "user-supplied spike inputs (spikeport.make_run)",
    seed: int = 0,
    epochs: int | None = None,
    n_hidden: int | None = None,
    progress: bool = False,
    export: bool = True,
) -> Run:
    """Make a run directory from the user's own arrays: train a model family on them and export it.

    Afterwards every stage command works on it (`spikeport quantize OUT`, `simulate`, `validate`, `report`), exactly
    as on a run of `spikeport train`; docs/run-directory.md describes the files.

    Args:
        out: the run directory (created).
        train_inputs, test_inputs: (samples, steps, n_in) spike inputs (0/1 or integer payloads).
        train_labels, test_labels: class indices, one per sample.
        dt: seconds of real time per step of the inputs (the report's latency and power are per real time).
        model: the family to train; "decoder" (the only one that trains on arrays alone).
        class_names: one name per class; default "0", "1", ...
        description: what the data is, stored with it and printed by the report.
        seed: seed of weight initialisation and batch order.
        epochs, n_hidden: training epochs and hidden neurons (None: the family's defaults).
        progress: show progress bars.
        export: also write `model.nir`.

    Returns:
        The `Run`.

    Raises:
        InputDataError: arrays of the wrong shape or values (the message names the argument).
        ModelFamilyError: a family that does not train on arrays alone.
    """
    from spikeport.checks import check_spike_inputs, check_targets
    from spikeport.errors import InputDataError
    from spikeport.pipeline import stage_export, stage_train
    from spikeport.train.models import TaskData, get_family

    family = get_family(model)
    if family.name not in USER_DATA_FAMILIES:
        raise ModelFamilyError(
            f"make_run trains {', '.join(USER_DATA_FAMILIES)} on arrays alone; {family.name!r} reads its own "
            f"recordings: use train({family.name!r}, data=..., data_path=...)"
        )
    if not (isinstance(dt, int | float) and np.isfinite(dt) and dt > 0):
        raise InputDataError(f"dt must be a positive number of seconds per step, got {dt!r}")
    x_train = check_spike_inputs(train_inputs, source="train_inputs")
    x_test = check_spike_inputs(test_inputs, source="test_inputs", n_in=x_train.shape[2], n_in_of="train_inputs")
    given = [np.asarray(y) for y in (train_labels, test_labels)]
    if class_names is None:
        top = max((int(y.max()) for y in given if y.size and y.dtype.kind in "iu"), default=1)
        class_names = [str(i) for i in range(max(top + 1, 2))]
    info = {
        "source": "user arrays",
        "synthetic": False,
        "description": description,
        "class_names": [str(name) for name in class_names],
        "input_names": [f"input {i}" for i in range(x_train.shape[2])],
        "step_seconds": float(dt),
        "seed": seed,
    }
    y_train = check_targets(given[0], source="train_labels", field="labels", samples=len(x_train), info=info)
    y_test = check_targets(given[1], source="test_labels", field="labels", samples=len(x_test), info=info)
    data = TaskData(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, info=info)
    config = family.run_config(seed=seed, epochs=epochs, n_hidden=n_hidden, num_steps=int(x_train.shape[1]))
    out = Path(out)
    stage_train(out, config, progress=progress, data=data)
    if export:
        stage_export(out)
    return Run(out)
