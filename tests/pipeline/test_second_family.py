"""A second model family, registered here and nowhere else, runs through every stage without pipeline or CLI edits.

The family regresses a synthetic 2-D velocity from input spikes (cosine-tuned input neurons, as in motor-cortex
decoding): a LIF layer and an LI readout (the decoder's network with two outputs), trained with mean squared error
on the shared training loop, read out as the mean readout voltage (`Readout.MEAN_V`). Registering it is the only
step: `spikeport train --model velocity`, then export, quantize (with integer fine-tuning), simulate on the
reference and on Lava, validate and report.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from spikeport.cli import main
from spikeport.train.models import (
    ModelFamily,
    Readout,
    RunConfig,
    TaskData,
    TrainResult,
    family_names,
    get_family,
    register_family,
)
from spikeport.train.models.decoder import DecoderConfig
from spikeport.train.tasks import TaskKind

N_INPUTS = 16


def make_velocity_data(cfg: RunConfig) -> TaskData:
    """Samples of a constant 2-D velocity in [-1, 1]^2, encoded by cosine-tuned Bernoulli spike trains."""
    rng = np.random.default_rng(cfg.seed)
    n = cfg.n_subjects * cfg.trials_per_class
    velocity = rng.uniform(-1.0, 1.0, size=(n, 2))
    angles = 2 * np.pi * np.arange(N_INPUTS) / N_INPUTS
    drive = np.clip(velocity @ np.stack([np.cos(angles), np.sin(angles)]), 0.0, None)  # (n, N_INPUTS)
    rate = 0.05 + 0.5 * drive
    spikes = (rng.random((n, cfg.num_steps, N_INPUTS)) < rate[:, None, :]).astype(np.uint8)
    n_test = max(2, round(cfg.test_fraction * n))
    info = {
        "source": "synthetic",
        "synthetic": True,
        "description": "SYNTHETIC 2-D velocity from cosine-tuned spiking inputs (test fixture)",
        "output_names": ["vx", "vy"],
        "input_names": [f"dir{i}" for i in range(N_INPUTS)],
        "seed": cfg.seed,
    }
    return TaskData(
        x_train=spikes[:-n_test],
        y_train=velocity[:-n_test],
        x_test=spikes[-n_test:],
        y_test=velocity[-n_test:],
        info=info,
    )


def _config(cfg: RunConfig, data: TaskData) -> DecoderConfig:
    return DecoderConfig(n_inputs=data.x_train.shape[2], n_hidden=cfg.n_hidden, n_classes=data.y_train.shape[1])


def _build(config: DecoderConfig, seed: int):
    from spikeport.train import SpikingDecoder

    return SpikingDecoder(config, seed=seed)


def _train(model, data: TaskData, *, seed: int, epochs: int | None, progress: bool) -> TrainResult:
    import torch

    from spikeport.train.loop import BatchResult, train_loop

    x = torch.as_tensor(data.x_train, dtype=torch.float32)
    y = torch.as_tensor(data.y_train, dtype=torch.float32)

    def step(batch: torch.Tensor) -> BatchResult:
        squared = ((model(x[batch]).logits - y[batch]) ** 2).mean(dim=1)
        return BatchResult(loss=squared.mean(), loss_sum=squared.sum().detach(), metric_sum=squared.sum().detach())

    model.train()
    history = train_loop(
        model.parameters(), step, len(y), epochs=epochs or 30, batch_size=16, lr=1e-2, seed=seed, progress=progress
    )
    model.eval()
    return TrainResult(loss=history.loss, train_metric=history.metric)


def _predict(model, x: np.ndarray) -> np.ndarray:
    from spikeport.train.models.decoder.fit import outputs

    return outputs(model, x).astype(np.float64)


def _to_nir(model, info):
    from spikeport.export import model_to_nir

    return model_to_nir(model, extra={"output_names": list(info["output_names"])})


VELOCITY = ModelFamily(
    name="velocity",
    summary="LIF + LI readout regressing a synthetic 2-D velocity (test family)",
    task=TaskKind.REGRESSION,
    readout=Readout.MEAN_V,
    config_type=DecoderConfig,
    make_data=make_velocity_data,
    make_config=_config,
    build_model=_build,
    train=_train,
    predict=_predict,
    to_nir=_to_nir,
    defaults={"n_subjects": 1, "trials_per_class": 88, "test_fraction": 0.1, "num_steps": 16, "n_hidden": 16},
)


@pytest.fixture
def velocity_family() -> ModelFamily:
    return register_family(VELOCITY)  # registering the same family again is a no-op


def test_registry_finds_the_new_family_and_rejects_a_clash(velocity_family):
    from spikeport.errors import ModelFamilyError

    assert get_family("velocity") is velocity_family and "velocity" in family_names()
    assert family_names()[0] == "decoder"
    clash = ModelFamily(**{**vars(VELOCITY), "summary": "another family under a taken name"})
    with pytest.raises(ModelFamilyError, match="already registered"):
        register_family(clash)
    with pytest.raises(ModelFamilyError, match=r"unknown model family 'nope'; registered families: decoder,.*velocity"):
        get_family("nope")


@pytest.mark.lava
def test_regression_family_runs_through_every_stage_via_the_cli(velocity_family, tmp_path, capsys):
    run = str(tmp_path / "run")
    assert main(["train", "--out", run, "--model", "velocity", "--epochs", "25", "--no-progress"]) == 0
    assert "trained velocity on SYNTHETIC data: test R²" in capsys.readouterr().out
    assert main(["export", run]) == 0
    assert main(["quantize", run, "--finetune-epochs", "2", "--no-progress"]) == 0
    assert main(["simulate", run, "--backend", "reference"]) == 0
    assert main(["simulate", run, "--backend", "lava", "--no-progress"]) == 0
    assert main(["validate", run, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "readout mean_v (regression): reference and lava predictions agree on 9/9 samples" in out
    assert main(["report", run]) == 0
    report = json.loads((tmp_path / "run" / "report.json").read_text())

    assert report["schema_version"] == 3 and report["model"] == "velocity"
    assert report["bit_exact"] is True
    performance = report["performance"]
    assert (performance["task"], performance["readout"]) == ("regression", "mean_v")
    assert "chance" not in performance
    stages = performance["stages"]
    from spikeport.report import STAGES

    assert set(stages) == set(STAGES)
    for metrics in stages.values():
        assert set(metrics) == {"r2", "r2_mean", "pearson", "pearson_mean"}
        assert len(metrics["r2"]) == len(metrics["pearson"]) == 2
    assert stages["lava"] == stages["quantized_reference"] == stages["integer_training_forward"]
    assert stages["float"]["pearson_mean"] > 0.5, stages["float"]  # it learned the task
    assert stages["quantized_reference"]["pearson_mean"] > 0.5, stages["quantized_reference"]
    assert report["training"]["model"] == "velocity" and "train_mse" in report["quantization"]["integer_finetune"]
    assert any(line.startswith("R²/Pearson r (test, mean of 2 outputs): float ") for line in report["summary"])
