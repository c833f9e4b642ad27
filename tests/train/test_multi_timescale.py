"""The multi-timescale LIF layer: learnable per-neuron time constants, kept in range, exported to NIR intact."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

from spikeport.errors import IRValidationError
from spikeport.export import parse_nir
from spikeport.train.layers.multi_timescale import MultiTimescaleLIF, TimescaleConfig

DT = 1e-3


def _toy_task(seed: int = 0, steps: int = 40, batch: int = 16):
    """Poisson input spikes; targets: the summed input low-pass filtered with a fast (2 ms) and a slow (30 ms) time
    constant, so the network needs two time scales (synthetic, for the test)."""
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(steps, batch, 4, generator=gen) < 0.2).float()
    drive = x.sum(dim=2)
    targets = []
    for tau in (2.0, 30.0):
        y, trace = torch.zeros(batch), []
        for t in range(steps):
            y = y * (1 - 1 / tau) + drive[t] / tau
            trace.append(y)
        targets.append(torch.stack(trace))
    return x, torch.stack(targets, dim=2)


class _Net(torch.nn.Module):
    def __init__(self, hidden: MultiTimescaleLIF) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc_in, self.hidden, self.fc_out = torch.nn.Linear(4, 16), hidden, torch.nn.Linear(16, 2)
        self.readout = MultiTimescaleLIF(TimescaleConfig(size=2, dt_s=DT, spiking=False))

    def forward(self, x):
        return self.readout(self.fc_out(self.hidden(self.fc_in(x) * 2.0)))


def test_taus_start_equal_and_become_distinct_while_the_loss_drops() -> None:
    cfg = TimescaleConfig(size=16, dt_s=DT)
    hidden = MultiTimescaleLIF(cfg, tau_syn_s=np.full(16, 4e-3), tau_mem_s=np.full(16, 8e-3))
    net = _Net(hidden)
    x, y = _toy_task()
    before_syn = hidden.tau_syn().detach().numpy().copy()
    assert np.unique(np.round(before_syn, 12)).size == 1
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    losses = []
    for _ in range(12):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    tau_syn, tau_mem = hidden.tau_syn().detach().numpy(), hidden.tau_mem().detach().numpy()
    # learned: at least 8 distinct time constants (differing by more than 1 us), all inside their ranges
    assert np.unique(np.round(tau_mem, 6)).size >= 8 and np.unique(np.round(tau_syn, 6)).size >= 8
    for tau, (low, high) in ((tau_syn, cfg.tau_syn_range_s), (tau_mem, cfg.tau_mem_range_s)):
        assert np.all(tau >= low) and np.all(tau <= high)


def test_taus_cannot_leave_their_range() -> None:
    cfg = TimescaleConfig(size=3, dt_s=DT, tau_syn_range_s=(1e-3, 8e-3))
    layer = MultiTimescaleLIF(cfg)
    with torch.no_grad():
        layer.raw_tau_syn.copy_(torch.tensor([-1e4, 0.0, 1e4], dtype=torch.float64))
    assert layer.tau_syn().tolist() == pytest.approx([1e-3, np.sqrt(8) * 1e-3, 8e-3], rel=1e-12)


def test_nir_round_trip_keeps_per_neuron_taus(tmp_path) -> None:
    cfg = TimescaleConfig(size=10, dt_s=DT)
    rng = np.random.default_rng(3)
    tau_syn = rng.uniform(1e-3, 3.2e-2, 10)
    tau_mem = rng.uniform(2e-3, 6.4e-2, 10)
    layer = MultiTimescaleLIF(cfg, tau_syn_s=tau_syn, tau_mem_s=tau_mem)
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([10])}),
            "lif": layer.to_nir(),
            "output": nir.Output(output_type={"output": np.array([10])}),
        },
        edges=[("input", "lif"), ("lif", "output")],
        metadata={"dt": DT},
    )
    nir.write(tmp_path / "mt.nir", graph)
    node = nir.read(tmp_path / "mt.nir").nodes["lif"]
    assert isinstance(node, nir.CubaLIF)
    np.testing.assert_allclose(node.tau_syn, tau_syn, rtol=1e-11)
    np.testing.assert_allclose(node.tau_mem, tau_mem, rtol=1e-11)
    back = MultiTimescaleLIF.from_nir(node, cfg)
    np.testing.assert_allclose(back.tau_syn().detach().numpy(), tau_syn, rtol=1e-9)
    np.testing.assert_allclose(back.tau_mem().detach().numpy(), tau_mem, rtol=1e-9)
    pop = parse_nir(nir.read(tmp_path / "mt.nir")).populations["lif"]  # the float IR: one decay per neuron
    np.testing.assert_allclose(pop.beta, DT / tau_syn, rtol=1e-11)
    np.testing.assert_allclose(pop.alpha, DT / tau_mem, rtol=1e-11)
    np.testing.assert_allclose(pop.gain, DT / tau_mem, rtol=1e-11)  # w_in = tau_syn/dt: gain = alpha


def test_forward_is_norse_lif_with_per_neuron_decays() -> None:
    """One neuron per time constant against the update written out by hand (docstring)."""
    cfg = TimescaleConfig(size=3, dt_s=DT, v_th=0.5)
    tau_syn, tau_mem = np.array([1e-3, 4e-3, 3.2e-2]), np.array([2e-3, 1e-2, 6.4e-2])
    layer = MultiTimescaleLIF(cfg, tau_syn_s=tau_syn, tau_mem_s=tau_mem)
    x = torch.tensor([[[1.0, 1.0, 1.0]], [[0.0, 0.0, 0.0]], [[2.0, 2.0, 2.0]]], dtype=torch.float64)
    out = layer(x).detach().numpy()[:, 0]
    beta, alpha = DT / tau_syn, DT / tau_mem
    i, v, expected = np.zeros(3), np.zeros(3), []
    for x_t in x.numpy()[:, 0]:
        j = i + x_t
        v = v + alpha * (-v + j)
        i = (1 - beta) * j
        z = (v > 0.5).astype(float)
        v = np.where(z > 0, 0.0, v)
        expected.append(z)
    np.testing.assert_array_equal(out, np.array(expected))
    assert np.array(expected).sum() > 0  # some neuron spiked, so the comparison covers the threshold


def test_bad_ranges_are_refused_naming_the_field() -> None:
    with pytest.raises(IRValidationError, match="tau_mem_range_s"):
        TimescaleConfig(size=2, dt_s=1e-3, tau_mem_range_s=(5e-4, 1e-2))
    with pytest.raises(IRValidationError, match="tau_syn_s"):
        MultiTimescaleLIF(TimescaleConfig(size=2), tau_syn_s=np.array([1e-3, 1.0]))
