"""RAT-SNN as a model family: 2-D velocity regression from intracortical spikes (synthetic reaching by default).

Data come from `spikeport.train.data.intracortical` (`--data synthetic|trialdata|neurobench|nwb`, `--data-path`):
binned at `BIN_S` (or a whole multiple of a file's count bin, `_bin_width`), cut into causal windows of
`num_steps` bins, split by the issue's rule (one session: trials in time order, first 1 - test_fraction train),
targets the velocity at each window's last bin divided by the training targets' standard deviation
(`info["y_scale"]`). Windows are thinned evenly to at most `MAX_TRAIN` / `MAX_TEST`
samples, so that the deployed model can be simulated on Lava within a run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spikeport.train.models.family import ModelFamily, RunConfig, TaskData, TrainResult
from spikeport.train.models.rat_snn.config import RatSnnConfig
from spikeport.train.models.readout import Readout
from spikeport.train.tasks import TaskKind

__all__ = ["BIN_S", "MAX_TEST", "MAX_TRAIN", "RAT_SNN", "make_reaching_data"]

BIN_S = 0.02
"""Time bin, seconds (NeuroBench's primate-reaching task also bins spikes for its decoders)."""
MAX_TRAIN, MAX_TEST = 600, 24


def _thin(n: int, limit: int) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, limit)).round().astype(np.int64)) if n else np.arange(0)


def _bin_width(recordings) -> float:
    """`BIN_S`, or for recordings that hold counts in coarser or incommensurate bins (TrialData files) the
    smallest whole multiple of their count bin that is at least `BIN_S`."""
    counts = [r.count_bin_s for r in recordings if r.count_bin_s]
    if not counts:
        return BIN_S
    base = max(counts)
    return base * max(1, int(np.ceil(BIN_S / base - 1e-9)))


def make_reaching_data(cfg: RunConfig) -> TaskData:
    """The run's reaching data as regression `TaskData` (module docstring)."""
    from spikeport.train.data.intracortical import (
        SyntheticReachingConfig,
        load_recordings,
        split_windows,
        to_task_data,
    )

    synthetic = SyntheticReachingConfig(
        n_subjects=cfg.n_subjects, sessions_per_subject=1, trials_per_session=cfg.trials_per_class, n_units=24
    )
    recordings = load_recordings(cfg.data, cfg.data_path, cfg.data_files, seed=cfg.seed, synthetic=synthetic)
    bin_s = _bin_width(recordings)
    split = split_windows(recordings, bin_s=bin_s, steps=cfg.num_steps, train_fraction=1 - cfg.test_fraction)
    data = to_task_data(split.train, split.test, sessions=split.sessions)
    train, test = _thin(len(data.y_train), MAX_TRAIN), _thin(len(data.y_test), MAX_TEST)
    scale = float(np.std(data.y_train[train])) or 1.0
    extra = {k: v[train if k.endswith("_train") else test] for k, v in data.extra.items()}
    info = {**data.info, "y_scale": scale, "split_rule": split.rule, "seed": cfg.seed}
    info["description"] = f"{info['description']}; velocity / {scale:.4g} (training std)"
    return TaskData(
        x_train=data.x_train[train],
        y_train=data.y_train[train] / scale,
        x_test=data.x_test[test],
        y_test=data.y_test[test] / scale,
        info=info,
        extra=extra,
    )


def _config(cfg: RunConfig, data: TaskData) -> RatSnnConfig:
    return RatSnnConfig(n_inputs=int(data.x_train.shape[2]), n_encoder=cfg.n_hidden, n_outputs=data.y_train.shape[1])


def _build(config: RatSnnConfig, seed: int):
    from spikeport.train.models.rat_snn.model import RatSNN

    return RatSNN(config, seed=seed)


def _train(model, data: TaskData, *, seed: int, epochs: int | None, progress: bool) -> TrainResult:
    import torch

    from spikeport.train.loop import BatchResult, train_loop

    x = torch.as_tensor(np.asarray(data.x_train), dtype=torch.float32)
    y = torch.as_tensor(data.y_train, dtype=torch.float32)

    def step(batch: torch.Tensor) -> BatchResult:
        squared = ((model(x[batch]).outputs - y[batch]) ** 2).mean(dim=1)
        return BatchResult(loss=squared.mean(), loss_sum=squared.sum().detach(), metric_sum=squared.sum().detach())

    model.train()
    history = train_loop(
        model.parameters(), step, len(y), epochs=epochs or 15, batch_size=32, lr=1e-2, seed=seed, progress=progress
    )
    model.eval()
    return TrainResult(loss=history.loss, train_metric=history.metric)


def _predict(model, x: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.as_tensor(np.asarray(x), dtype=torch.float32)).outputs.double().numpy()


def _to_nir(model, info: dict[str, Any]):
    from spikeport.train.models.rat_snn.export_nir import rat_snn_to_nir

    return rat_snn_to_nir(model, info)


RAT_SNN = ModelFamily(
    name="rat-snn",
    summary="RAT-SNN: multi-timescale LIF -> spike-driven attention -> integrator readout, 2-D reach velocity",
    task=TaskKind.REGRESSION,
    readout=Readout.MEAN_V,
    config_type=RatSnnConfig,
    make_data=make_reaching_data,
    make_config=_config,
    build_model=_build,
    train=_train,
    predict=_predict,
    to_nir=_to_nir,
    defaults={
        "n_subjects": 1,
        "trials_per_class": 24,
        "test_fraction": 0.2,
        "num_steps": 10,
        "n_hidden": 12,
        "finetune_epochs": 0,
    },
    data_sources=("synthetic", "trialdata", "neurobench", "nwb"),
)
"""Registered in `spikeport.train.models.registry`; tests/pipeline/test_rat_snn_family.py runs it end to end."""
