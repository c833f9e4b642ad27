"""ISAM-MTL as a model family: `spikeport train --model isam-mtl` (arXiv 2501.18089; docs/isam-mtl.md).

Training runs both stages: the shared spiking encoder (stage 1) and, with it frozen, one Hebbian memory per
training subject plus the pooled memory (stage 2). The deployed graph is the encoder with the pooled memory's
readout; `spikeport adapt` learns a new subject's memory from K trials per class and `spikeport evaluate` runs the
subject-aware protocols with baselines on the same splits.
"""

from __future__ import annotations

from typing import Any

from spikeport.train.models.family import SYNTHETIC_FIELDS, ModelFamily, RunConfig, TaskData, TrainResult
from spikeport.train.models.isam.config import IsamConfig
from spikeport.train.models.readout import Readout
from spikeport.train.tasks import TaskKind

__all__ = ["ISAM_MTL", "STAGE1_EPOCHS"]

STAGE1_EPOCHS = 30
"""Stage-1 epochs without `--epochs`."""


def _data(cfg: RunConfig) -> TaskData:
    from spikeport.train.models.isam.data import make_isam_data

    return make_isam_data(cfg)


def _config(cfg: RunConfig, data: TaskData) -> IsamConfig:
    n_features = int(data.info["n_features"])
    dt = float(data.info.get("time_bin_s", 1e-3))  # one network step = one time bin of the recording
    return IsamConfig(
        dt_s=dt,
        tau_syn_s=5 * dt,
        tau_mem_s=10 * dt,
        n_features=n_features,
        n_electrodes=int(data.x_train.shape[2]) // n_features,
        n_classes=len(data.info["class_names"]),
        n_latent=cfg.n_hidden,
    )


def _build(config: IsamConfig, seed: int):
    from spikeport.train.models.isam.model import IsamModel

    return IsamModel(config, seed=seed)


def _train(model, data: TaskData, *, seed: int, epochs: int | None, progress: bool) -> TrainResult:
    from spikeport.train.models.isam.fit import fit_encoder, learn_memories

    history = fit_encoder(
        model, data.x_train, data.y_train, epochs=epochs or STAGE1_EPOCHS, seed=seed, progress=progress
    )
    learn_memories(model, data.x_train, data.y_train, data.extra["subjects_train"])
    return TrainResult(loss=history.loss, train_metric=history.train_accuracy)


def _predict(model, x):
    from spikeport.train.models.isam.fit import predict

    return predict(model, x)


def _to_nir(model, info: Any):
    from spikeport.train.models.isam.export_nir import isam_to_nir

    return isam_to_nir(model, info)


def _adapt(run_dir, options, progress):
    from spikeport.train.models.isam.adapt import adapt_run

    return adapt_run(run_dir, options, progress)


def _evaluate(run_dir, options, progress):
    from spikeport.errors import ModelFamilyError
    from spikeport.train.models.isam.evaluate import evaluate_run

    # options that only some protocols read: refused where they would be ignored
    if options.get("streaming"):
        unused = [k for k in ("protocol", "shots", "seed") if options.get(k) is not None]
        if unused:
            raise ModelFamilyError(f"--{unused[0]} does not apply with --streaming (isam-mtl); omit --{unused[0]}")
    if options.get("protocol") == "within":
        unused = [k for k in ("shots", "seed") if options.get(k) is not None]
        if unused:
            raise ModelFamilyError(
                f"--{unused[0]} does not apply to --protocol within (isam-mtl trains on each subject's own "
                f"trials); use --protocol few-shot or loso, or omit --{unused[0]}"
            )

    return evaluate_run(run_dir, options, progress)


ISAM_MTL = ModelFamily(
    name="isam-mtl",
    summary="ISAM-MTL: spiking 1-D conv encoder + per-subject Hebbian memories, few-shot EEG motor imagery",
    task=TaskKind.CLASSIFICATION,
    readout=Readout.ARGMAX_LAST_V,
    config_type=IsamConfig,
    make_data=_data,
    make_config=_config,
    build_model=_build,
    train=_train,
    predict=_predict,
    to_nir=_to_nir,
    defaults={"n_subjects": 6, "trials_per_class": 40, "num_steps": 32, "n_hidden": 24, "finetune_epochs": 0},
    data_sources=("synthetic", "eegmmidb", "mne", "bciiv2a"),
    data_fields={
        "synthetic": SYNTHETIC_FIELDS,
        "eegmmidb": frozenset({"data_path", "subject_ids"}),
        "mne": frozenset({"data_files", "events", "subject_ids"}),
        "bciiv2a": frozenset({"data_path", "subject_ids"}),
    },
    adapt=_adapt,
    evaluate=_evaluate,
    adapt_options=frozenset({"data_path", "subject", "shots", "backend", "seed"}),
    evaluate_options=frozenset({"protocol", "shots", "data_path", "streaming", "backends", "seed"}),
)
"""The ISAM-MTL family (integer fine-tuning off by default: it would train the Hebbian memory by gradient)."""
