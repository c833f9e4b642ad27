"""RAT-SNN as a model family: 2-D velocity regression from intracortical spikes (synthetic reaching by default).

Data: `data.py` (`--data synthetic|trialdata|neurobench|nwb`, `--data-path`; split by trials in time order).
Training: `fit.py` (stepwise pretraining: first session -> first subject's sessions -> all subjects).
`spikeport adapt RUN --minutes M`: `adapt.py`; `spikeport evaluate RUN`: `evaluate.py` (docs/rat-snn.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spikeport.train.models.family import SYNTHETIC_FIELDS, ModelFamily, RunConfig, TaskData, TrainResult
from spikeport.train.models.rat_snn.config import RatSnnConfig
from spikeport.train.models.rat_snn.data import BIN_S, MAX_TEST, MAX_TRAIN, make_reaching_data
from spikeport.train.models.readout import Readout
from spikeport.train.tasks import TaskKind

__all__ = ["BIN_S", "MAX_TEST", "MAX_TRAIN", "RAT_SNN", "make_reaching_data"]


def _config(cfg: RunConfig, data: TaskData) -> RatSnnConfig:
    return RatSnnConfig(n_inputs=int(data.x_train.shape[2]), n_encoder=cfg.n_hidden, n_outputs=data.y_train.shape[1])


def _build(config: RatSnnConfig, seed: int):
    from spikeport.train.models.rat_snn.model import RatSNN

    return RatSNN(config, seed=seed)


def _train(model, data: TaskData, *, seed: int, epochs: int | None, progress: bool) -> TrainResult:
    from spikeport.train.models.rat_snn.fit import DEFAULT_EPOCHS, fit

    history = fit(model, np.asarray(data.x_train), np.asarray(data.y_train),
                  sessions=data.extra.get("sessions_train"), subjects=data.extra.get("subjects_train"),
                  epochs=epochs or DEFAULT_EPOCHS, seed=seed, progress=progress)
    return TrainResult(loss=history.loss, train_metric=history.loss)


def _predict(model, x: np.ndarray) -> np.ndarray:
    from spikeport.train.models.rat_snn.fit import predict

    return predict(model, x)


def _adapt(run_dir: Path, options: Mapping[str, Any], progress: bool) -> Mapping[str, Any]:
    from spikeport.train.models.rat_snn.adapt import adapt_run

    return adapt_run(run_dir, options, progress)


def _evaluate(run_dir: Path, options: Mapping[str, Any], progress: bool) -> Mapping[str, Any]:
    from spikeport.train.models.rat_snn.evaluate import evaluate_run

    return evaluate_run(run_dir, options, progress)


def _to_nir(model, info: dict[str, Any]):
    from spikeport.train.models.rat_snn.export_nir import rat_snn_to_nir

    return rat_snn_to_nir(model, info)


RAT_SNN = ModelFamily(
    name="rat-snn",
    summary="RAT-SNN: multi-timescale LIF -> spike-driven attention -> integrator readout, 2-D reach velocity",
    task=TaskKind.REGRESSION,
    readout=Readout.LAST_V,
    config_type=RatSnnConfig,
    make_data=make_reaching_data,
    make_config=_config,
    build_model=_build,
    train=_train,
    predict=_predict,
    to_nir=_to_nir,
    defaults={
        "n_subjects": 1,
        "trials_per_class": 80,
        "test_fraction": 0.2,
        "num_steps": 10,
        "n_hidden": 256,  # the refit's adapted R²: 64 -> 0.728, 128 -> 0.735, 256 -> 0.736, 512 -> 0.735
        "finetune_epochs": 0,
    },
    data_sources=("synthetic", "trialdata", "neurobench", "nwb"),
    data_fields={
        "synthetic": SYNTHETIC_FIELDS,
        **dict.fromkeys(("trialdata", "neurobench", "nwb"), frozenset({"data_path", "data_files", "num_steps"})),
    },
    adapt=_adapt,
    evaluate=_evaluate,
    adapt_options=frozenset({"data_path", "minutes"}),  # the readout refit is closed-form: no seed
    evaluate_options=frozenset({"protocol", "data_path", "backends", "seed"}),
)
"""Registered in `spikeport.train.models.registry`; tests/pipeline/test_rat_snn_family.py runs it end to end."""
