"""The spiking decoder as a model family: synthetic motor-imagery EEG, classified by the summed readout voltage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spikeport.errors import InputDataError
from spikeport.train.models.decoder.config import DecoderConfig
from spikeport.train.models.family import ModelFamily, RunConfig, TaskData, TrainResult
from spikeport.train.models.readout import Readout
from spikeport.train.tasks import TaskKind

__all__ = ["DECODER"]


def make_motor_imagery_data(cfg: RunConfig) -> TaskData:
    """Synthetic motor-imagery EEG, split stratified by (subject, class), band-power spike encoded.

    The encoder is fitted on the training trials only. Uses `n_subjects`, `trials_per_class`, `test_fraction`,
    `num_steps` and `seed` of `cfg`.
    """
    from spikeport.train.encoding import BandPowerSpikeEncoder
    from spikeport.train.split import split_trials
    from spikeport.train.synthetic import make_synthetic_motor_imagery

    dataset = make_synthetic_motor_imagery(
        n_subjects=cfg.n_subjects, trials_per_class=cfg.trials_per_class, seed=cfg.seed
    )
    train_idx, test_idx = split_trials(dataset, test_fraction=cfg.test_fraction, seed=cfg.seed)
    if len(train_idx) == 0 or len(test_idx) == 0:
        share, n = cfg.test_fraction, cfg.trials_per_class
        least = next(k for k in range(1, 10_000) if 1 <= round(share * k) < k)
        raise InputDataError(
            f"{n} trials per class and subject leave the {'test' if len(test_idx) == 0 else 'training'} split "
            f"empty (a share {share} of each subject's trials per class is held out); use --trials-per-class "
            f"{least} or more"
        )
    encoder = BandPowerSpikeEncoder(num_steps=cfg.num_steps).fit(dataset.subset(train_idx))
    info = {
        "source": "synthetic" if dataset.synthetic else "recorded",
        "synthetic": bool(dataset.synthetic),
        "description": dataset.description,
        "class_names": list(dataset.class_names),
        "input_names": list(encoder.input_names),
        "n_subjects": cfg.n_subjects,
        "seed": cfg.seed,
    }
    return TaskData(
        x_train=encoder.encode(dataset.subset(train_idx)),
        y_train=dataset.labels[train_idx],
        x_test=encoder.encode(dataset.subset(test_idx)),
        y_test=dataset.labels[test_idx],
        info=info,
        extra={"subjects_train": dataset.subjects[train_idx], "subjects_test": dataset.subjects[test_idx]},
    )


def _config(cfg: RunConfig, data: TaskData) -> DecoderConfig:
    return DecoderConfig(
        n_inputs=int(data.x_train.shape[2]), n_hidden=cfg.n_hidden, n_classes=len(data.info["class_names"])
    )


def _build(config: DecoderConfig, seed: int):
    from spikeport.train.models.decoder.model import SpikingDecoder

    return SpikingDecoder(config, seed=seed)


def _train(model, data: TaskData, *, seed: int, epochs: int | None, progress: bool) -> TrainResult:
    from spikeport.train.models.decoder.fit import fit

    kwargs: dict[str, Any] = {"seed": seed, "progress": progress}
    if epochs is not None:
        kwargs["epochs"] = epochs
    history = fit(model, data.x_train, data.y_train, **kwargs)
    return TrainResult(loss=history.loss, train_metric=history.train_accuracy)


def _predict(model, x):
    from spikeport.train.models.decoder.fit import predict

    return predict(model, x)


def _to_nir(model, info: Mapping[str, Any]):
    from spikeport.export import model_to_nir

    return model_to_nir(model, class_names=tuple(info.get("class_names", ())))


DECODER = ModelFamily(
    name="decoder",
    summary="spiking decoder (dense -> LIF -> dense -> LI) classifying synthetic motor-imagery EEG",
    task=TaskKind.CLASSIFICATION,
    readout=Readout.ARGMAX_SUM_V,
    config_type=DecoderConfig,
    make_data=make_motor_imagery_data,
    make_config=_config,
    build_model=_build,
    train=_train,
    predict=_predict,
    to_nir=_to_nir,
)
"""The built-in family; its defaults are `RunConfig`'s."""
