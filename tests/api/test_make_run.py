"""A run directory from the user's own arrays (`spikeport.make_run`), on which every stage command then works."""

from __future__ import annotations

import json

import numpy as np
import pytest

import spikeport
from spikeport.cli import main
from spikeport.errors import InputDataError, ModelFamilyError, SpikeportError


def _arrays(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two classes of 20-step spike trains on 8 channels: class 0 fires on channels 0-3, class 1 on 4-7."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    rate = np.where(np.arange(8) < 4, 0.6, 0.02)
    rates = np.where(y[:, None] == 1, rate[::-1], rate)
    return (rng.random((n, 20, 8)) < rates[:, None, :]).astype(np.int8), y


@pytest.mark.slow
@pytest.mark.lava
def test_own_arrays_make_a_run_every_stage_command_works_on(tmp_path, capsys):
    (x_train, y_train), (x_test, y_test) = _arrays(48, 0), _arrays(16, 1)
    run = spikeport.make_run(
        tmp_path / "run",
        train_inputs=x_train,
        train_labels=y_train,
        test_inputs=x_test,
        test_labels=y_test,
        dt=4e-3,
        class_names=["left", "right"],
        epochs=30,
        n_hidden=16,
    )
    np.testing.assert_array_equal(run.inputs("test"), x_test)
    np.testing.assert_array_equal(run.labels("train"), y_train)
    assert run.model == "decoder" and run.network().input_size == 8
    for command in (["quantize"], ["simulate"], ["simulate", "--backend", "lava"], ["validate"], ["report"]):
        assert main([command[0], str(run.path), *command[1:]]) == 0, capsys.readouterr().err
    report = json.loads((run.path / "report.json").read_text())
    stages = report["performance"]["stages"]
    assert stages["lava"] == stages["quantized_reference"] and stages["lava"]["accuracy"] >= 0.9
    assert report["performance"]["chance"] == 0.5 and report["data"]["class_names"] == ["left", "right"]
    assert report["latency"]["loihi"]["real_time_s"] == pytest.approx(20 * 4e-3)
    assert spikeport.load_run(run.path).graph().chip == "loihi"


def test_make_run_refuses_bad_arrays_before_training(tmp_path):
    (x, y), out = _arrays(8, 0), tmp_path / "run"
    args = {"train_inputs": x, "train_labels": y, "test_inputs": x, "test_labels": y, "dt": 4e-3}
    with pytest.raises(InputDataError, match=r"test_inputs: inputs has 5 channels .* train_inputs has 8"):
        spikeport.make_run(out, **{**args, "test_inputs": x[:, :, :5]})
    with pytest.raises(InputDataError, match=r"train_labels: labels holds labels \[2\] outside the class range"):
        spikeport.make_run(out, **{**args, "train_labels": np.full(8, 2)}, class_names=["a", "b"])
    with pytest.raises(InputDataError, match="dt must be a positive number of seconds per step"):
        spikeport.make_run(out, **{**args, "dt": 0.0})
    with pytest.raises(ModelFamilyError, match="'rat-snn' reads its own recordings"):
        spikeport.make_run(out, **args, model="rat-snn")
    assert not out.exists()
    with pytest.raises(SpikeportError, match="does not exist; create one with `spikeport train"):
        spikeport.load_run(out)
