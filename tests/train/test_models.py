"""Model families' building blocks: task metrics, readouts, the family declaration, the registry, light imports."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
import torch

from spikeport.errors import ModelFamilyError, SpikeportError
from spikeport.simulators import PopulationTrace, RunRecord
from spikeport.train.models import DEFAULT_FAMILY, Readout, RunConfig, get_family, readout_of
from spikeport.train.tasks import TaskKind, chance_level, pearson, r2_score, task_metrics


def test_regression_metrics_on_known_values():
    target = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0]])
    exact = target.copy()
    np.testing.assert_allclose(r2_score(exact, target), [1.0, 1.0])
    mean = np.broadcast_to(target.mean(axis=0), target.shape)
    np.testing.assert_allclose(r2_score(mean, target), [0.0, 0.0])
    # a scaled, shifted copy correlates perfectly but is not exact: SS_res = sum((t - (2t + 1))^2) = sum((t + 1)^2)
    scaled = 2 * target + 1
    np.testing.assert_allclose(pearson(scaled, target), [1.0, 1.0])
    np.testing.assert_allclose(r2_score(scaled, target)[0], 1 - np.sum((target[:, 0] + 1) ** 2) / 5.0)
    np.testing.assert_allclose(pearson(-target, target), [-1.0, -1.0])
    constant = np.ones_like(target)
    assert pearson(constant, target).tolist() == [0.0, 0.0]
    block = task_metrics(TaskKind.REGRESSION, scaled, target)
    assert set(block) == {"r2", "r2_mean", "pearson", "pearson_mean"} and block["pearson_mean"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one shape"):
        r2_score(target[:, :1], target)


def test_r2_of_a_target_constant_up_to_rounding_noise_is_not_huge():
    """A target whose only spread is float rounding (0.1 * 3 vs 0.3) counts as constant, not as SS_tot ~ 1e-32."""
    target = np.array([[0.1 * 3], [0.3], [0.3], [0.1 * 3]])
    assert np.sum((target - target.mean()) ** 2) > 0
    assert r2_score(np.zeros_like(target), target).tolist() == [0.0]
    assert r2_score(target.copy(), target).tolist() == [1.0]


def test_classification_metrics():
    assert task_metrics(TaskKind.CLASSIFICATION, np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])) == {"accuracy": 0.75}
    assert chance_level(np.array([0, 1, 1, 1])) == 0.75


def _record(v: np.ndarray) -> RunRecord:
    trace = PopulationTrace(spikes=np.zeros(v.shape, dtype=np.int8), u=np.zeros_like(v), v=v)
    return RunRecord(backend="test", populations={"out": trace})


def test_readouts_on_a_record():
    # sample 0: sums over steps [5, 6], last step [5, 3]; sample 1: sums [0, 3], last step [-4, 2]
    v = np.array([[[0, 3], [5, 3]], [[4, 1], [-4, 2]]], dtype=np.int64)  # (samples 2, steps 2, neurons 2)
    record = _record(v)
    np.testing.assert_array_equal(Readout.ARGMAX_SUM_V.apply(record, "out", 1.0), [1, 1])
    np.testing.assert_array_equal(Readout.ARGMAX_LAST_V.apply(record, "out", 1.0), [0, 1])
    np.testing.assert_allclose(Readout.MEAN_V.apply(record, "out", 2.0), [[1.25, 1.5], [0.0, 0.75]])
    tied = _record(np.array([[[2, 2]]], dtype=np.int64))
    assert Readout.ARGMAX_SUM_V.apply(tied, "out", 1.0).tolist() == [0]  # ties go to the lowest index
    # the torch outputs used for training have the same argmax as the integer predictions
    for readout in (Readout.ARGMAX_SUM_V, Readout.ARGMAX_LAST_V):
        logits = readout.outputs(torch.tensor(v, dtype=torch.float64), 3.0)
        np.testing.assert_array_equal(logits.argmax(dim=1).numpy(), readout.predict(v, 3.0))
    assert Readout.MEAN_V.task is TaskKind.REGRESSION and Readout.ARGMAX_LAST_V.task is TaskKind.CLASSIFICATION


def test_readout_of_metadata():
    assert readout_of({}) is Readout.ARGMAX_SUM_V
    assert readout_of({"readout": "mean_v"}) is Readout.MEAN_V
    with pytest.raises(SpikeportError, match="unknown readout 'median_v'; expected one of argmax_sum_v"):
        readout_of({"readout": "median_v"})


def test_family_declaration_is_checked_and_gives_run_configs():
    decoder = get_family(DEFAULT_FAMILY)
    assert decoder.run_config() == RunConfig()
    assert decoder.run_config(n_hidden=8, seed=None).n_hidden == 8
    fields = {f.name: getattr(decoder, f.name) for f in dataclasses.fields(decoder)}
    with pytest.raises(ModelFamilyError, match="readout 'mean_v' is for regression"):
        type(decoder)(**{**fields, "readout": Readout.MEAN_V})
    with pytest.raises(ModelFamilyError, match=r"unknown RunConfig fields \['hiden'\]"):
        type(decoder)(**{**fields, "defaults": {"hiden": 3}})


def test_unknown_family_lists_the_registered_ones():
    with pytest.raises(ModelFamilyError, match="unknown model family 'resnet'; registered families: decoder"):
        get_family("resnet")


def test_registry_and_cli_help_load_without_torch():
    code = (
        "import sys; from spikeport.train.models import family_names; from spikeport.cli import build_parser;"
        "build_parser(); print(family_names(), 'torch' in sys.modules, 'norse' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split("\n")[0].endswith("False False"), result.stdout + result.stderr


def test_lazy_train_exports_resolve_to_the_functions():
    import spikeport.train as train
    from spikeport.train.models.decoder import fit as fit_module

    assert train.fit is fit_module.fit and train.split_trials.__module__ == "spikeport.train.split"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = train.nope
