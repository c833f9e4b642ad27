"""`fit_readout`, the closed-form readout refit of `spikeport adapt` (rat-snn), and loading rat-snn models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikeport.train.models.rat_snn.config import RatSnnConfig
from spikeport.train.models.rat_snn.fit import predict
from spikeport.train.models.rat_snn.model import RatSNN
from spikeport.train.models.rat_snn.readout_fit import TAU_GRID_POINTS, fit_readout


def _model(seed: int) -> RatSNN:
    return RatSNN(RatSnnConfig(n_inputs=12, n_encoder=16, n_outputs=2), seed=seed)


def test_refit_recovers_weights_and_time_constants_on_its_grid() -> None:
    """Targets made by a readout whose time constants lie on the grid: the refit finds them (as a pair) and predicts
    the targets almost exactly (R² > 0.999; ridge's smallest penalty shrinks the weights a little)."""
    x = np.random.default_rng(0).poisson(0.6, (400, 8, 12)).clip(0, 15).astype(np.uint8)
    teacher = _model(1)
    cfg = teacher.readout.config
    syn = np.geomspace(*cfg.tau_syn_range_s, TAU_GRID_POINTS)
    mem = np.geomspace(*cfg.tau_mem_range_s, TAU_GRID_POINTS)
    teacher.readout.set_time_constants(0, syn[1], mem[4])
    teacher.readout.set_time_constants(1, syn[5], mem[0])
    y = predict(teacher, x)
    student = _model(1)
    with torch.no_grad():
        for module in (student.fc_out, student.fc_skip, student.fc_direct):
            module.weight.normal_()
    fit = fit_readout(student, x, y)
    pred = predict(student, x)
    r2 = 1 - ((pred - y) ** 2).sum(0) / ((y - y.mean(0)) ** 2).sum(0)
    assert np.all(r2 > 0.999), r2
    # two cascaded leaky stages: swapping tau_syn and tau_mem only rescales the kernel, which the weights absorb
    chosen = [sorted(pair) for pair in zip(fit.tau_syn_s, fit.tau_mem_s, strict=True)]
    assert chosen == [pytest.approx(sorted(p), rel=1e-6) for p in ((syn[1], mem[4]), (syn[5], mem[0]))]
    assert fit.features == 16 + 16 + 12 and min(fit.validation_r2) > 0.999


def test_refit_needs_enough_windows() -> None:
    with pytest.raises(ValueError, match="at least 10 windows"):
        fit_readout(_model(0), np.zeros((5, 4, 12)), np.zeros((5, 2)))


def test_time_constants_outside_the_range_or_neuron_index_are_refused() -> None:
    from spikeport.errors import IRValidationError

    readout = _model(0).readout
    low, high = readout.config.tau_syn_range_s
    with pytest.raises(IRValidationError, match="tau_syn_s"):
        readout.set_time_constants(0, high * 2, low)
    with pytest.raises(IRValidationError, match=r"neuron 2 not in 0\.\.1"):
        readout.set_time_constants(2, low, low)


def test_a_model_file_of_another_version_is_refused_in_one_line() -> None:
    """A rat-snn model.pt from before the input-to-readout path (no `fc_direct`) names the fix, not a traceback."""
    from dataclasses import asdict

    from spikeport.errors import CorruptFileError
    from spikeport.train.models import get_family

    model = _model(0)
    old = {k: v for k, v in model.state_dict().items() if not k.startswith("fc_direct")}
    with pytest.raises(CorruptFileError, match=r"re-run `spikeport train`") as caught:
        get_family("rat-snn").load_model(asdict(model.config), old)
    assert "fc_direct" in str(caught.value) and "\n" not in str(caught.value)
