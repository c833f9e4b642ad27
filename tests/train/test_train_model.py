"""Tests of the spiking decoder (`spikeport.train.models.decoder.model`) and the Norse update order it documents."""

from __future__ import annotations

import norse.torch
import numpy as np
import pytest
import torch
from torch import nn

from spikeport.train import DecoderConfig, SpikingDecoder


def _random_spikes(seed: int, batch: int = 8, steps: int = 32, n_inputs: int = 64, p: float = 0.2) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, steps, n_inputs, generator=gen) < p).to(torch.uint8)


def test_forward_shapes_and_logits_are_mean_voltage() -> None:
    model = SpikingDecoder(DecoderConfig(n_inputs=64))
    out = model(_random_spikes(0))
    assert out.logits.shape == (8, 2)
    assert out.hidden_spikes.shape == (8, 32, 64)
    assert out.readout_v.shape == (8, 32, 2)
    torch.testing.assert_close(out.logits, out.readout_v.mean(dim=1))
    assert set(torch.unique(out.hidden_spikes).tolist()) <= {0.0, 1.0}


def test_exporter_interface_attributes() -> None:
    cfg = DecoderConfig(n_inputs=10, n_hidden=7, n_classes=3, tau_syn_s=4e-3, tau_mem_s=8e-3, v_th=0.5)
    model = SpikingDecoder(cfg)
    assert model.config is cfg
    assert isinstance(model.fc_in, nn.Linear) and model.fc_in.bias is None
    assert model.fc_in.weight.shape == (7, 10)
    assert isinstance(model.fc_out, nn.Linear) and model.fc_out.bias is None
    assert model.fc_out.weight.shape == (3, 7)
    assert isinstance(model.lif, norse.torch.LIFCell) and isinstance(model.readout, norse.torch.LICell)
    assert model.lif.dt == cfg.dt_s and model.readout.dt == cfg.dt_s
    assert float(model.lif.p.tau_syn_inv) == pytest.approx(250.0)
    assert float(model.lif.p.tau_mem_inv) == pytest.approx(125.0)
    assert float(model.lif.p.v_th) == 0.5 and float(model.lif.p.v_reset) == 0.0
    assert model.lif.p.method == "super"


def test_gradients_reach_fc_in() -> None:
    model = SpikingDecoder(DecoderConfig(n_inputs=64))
    out = model(_random_spikes(1))
    nn.functional.cross_entropy(out.logits, torch.tensor([0, 1] * 4)).backward()
    grad = model.fc_in.weight.grad
    assert grad is not None and torch.isfinite(grad).all()
    assert (grad != 0).float().mean() > 0.5


def test_hidden_layer_fires_sparsely_at_initialisation() -> None:
    model = SpikingDecoder(DecoderConfig(n_inputs=64))
    with torch.no_grad():
        rate = model(_random_spikes(2, batch=32)).hidden_spikes.mean().item()
    assert 0.02 < rate < 0.3


def test_initialisation_is_seeded_and_leaves_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    a = SpikingDecoder(DecoderConfig(n_inputs=12), seed=5)
    b = SpikingDecoder(DecoderConfig(n_inputs=12), seed=5)
    c = SpikingDecoder(DecoderConfig(n_inputs=12), seed=6)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.fc_in.weight, b.fc_in.weight) and torch.equal(a.fc_out.weight, b.fc_out.weight)
    assert not torch.equal(a.fc_in.weight, c.fc_in.weight)


def _reference_lif(x: np.ndarray, alpha: float, beta: float, v_th: float) -> tuple[np.ndarray, np.ndarray]:
    """The update order written in the model docstring, in float64 numpy."""
    i = v = 0.0
    zs, vs = [], []
    for x_t in x:
        j = i + x_t
        v = v + beta * (-v + j)
        i = j * (1 - alpha)
        z = float(v > v_th)
        v = (1 - z) * v
        zs.append(z)
        vs.append(v)
    return np.array(zs), np.array(vs)


def test_lif_cell_follows_the_documented_update_order() -> None:
    """Input reaches v in the same step, current decays after use, reset to zero on a strict crossing."""
    model = SpikingDecoder(DecoderConfig(n_inputs=1, n_hidden=1))
    x = np.array([3.0, 0.0, 0.0, 0.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0])
    z_ref, v_ref = _reference_lif(x, alpha=0.2, beta=0.1, v_th=1.0)
    assert z_ref.sum() >= 1  # the drive is strong enough to exercise the reset
    state, zs, vs = None, [], []
    with torch.no_grad():
        for x_t in x:
            z, state = model.lif(torch.tensor([[x_t]], dtype=torch.float32), state)
            zs.append(z.item())
            vs.append(state.v.item())
    assert vs[0] == pytest.approx(0.1 * 3.0)  # no delay: the step-0 input already moved v
    np.testing.assert_array_equal(zs, z_ref)
    np.testing.assert_allclose(vs, v_ref, rtol=1e-5, atol=1e-6)


def test_readout_adds_input_to_current_before_updating_v() -> None:
    model = SpikingDecoder(DecoderConfig(n_inputs=1, n_hidden=1, n_classes=1))
    alpha, beta = 1e-3 / 5e-3, 1e-3 / 2e-2
    state, vs = None, []
    with torch.no_grad():
        for x_t in [1.0, 0.0, 0.0]:
            v, state = model.readout(torch.tensor([[x_t]]), state)
            vs.append(v.item())
    j0 = 1.0
    v0 = beta * j0
    j1 = j0 * (1 - alpha)
    v1 = v0 + beta * (-v0 + j1)
    np.testing.assert_allclose(vs[:2], [v0, v1], rtol=1e-6)


def test_rejects_bad_config_and_input_shape() -> None:
    with pytest.raises(ValueError, match="tau_mem_s"):
        DecoderConfig(n_inputs=4, tau_mem_s=5e-4)
    with pytest.raises(ValueError, match="n_hidden"):
        DecoderConfig(n_inputs=4, n_hidden=0)
    model = SpikingDecoder(DecoderConfig(n_inputs=4))
    with pytest.raises(ValueError, match="shape"):
        model(torch.zeros(2, 5, 3))
