"""Tests of spike-driven self-attention (spikeport.train.layers.attention): AND semantics, delays, folding, ops."""

from __future__ import annotations

import norse.torch
import pytest
import torch

from spikeport.train.layers import (
    AttentionConfig,
    AttentionOutput,
    SpikeDrivenAttention,
    attention_accumulates,
    delayed,
)

D = 16


def _spikes(seed: int, steps: int = 24, batch: int = 3, tokens: int = 5, features: int = D, p: float = 0.3):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, tokens, features, generator=gen) < p).to(torch.uint8)


def _copy_layer(delay: int, threshold: float = 0.5) -> SpikeDrivenAttention:
    """A layer whose LIFs copy their input (tau = dt, v_th 0.5) and whose projections are set by the test."""
    cfg = AttentionConfig(
        n_features=4, tau_syn_s=1e-3, tau_mem_s=1e-3, v_th=0.5, synaptic_delay_steps=delay, attn_threshold=threshold
    )
    layer = SpikeDrivenAttention(cfg)
    eye = torch.eye(4)
    with torch.no_grad():
        layer.k_proj.linear.weight.copy_(eye)
        layer.v_proj.linear.weight.copy_(eye.roll(1, dims=1))  # V[:, j] = x[:, j + 1]
        layer.q_proj.linear.weight.copy_(eye.roll(-1, dims=1))  # Q[:, j] = x[:, j - 1]
    return layer


X0 = torch.tensor([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1]], dtype=torch.float32)  # (N=3, D=4) at step 0


@pytest.mark.parametrize("delay", [1, 2])
def test_hand_set_spikes_give_q_and_gate_of_k_and_v(delay: int) -> None:
    """Derivation (x at step 0 only, rows = tokens):
    K = x;  V = x shifted left by one channel;  K AND V = [[1,0,0,0],[0,1,0,0],[0,0,0,0]];
    column sum [1,1,0,0] -> gate [1,1,0,0];  Q = x shifted right = [[0,1,1,0],[0,0,1,1],[1,0,0,0]];
    Q AND gate = [[0,1,0,0],[0,0,0,0],[1,0,0,0]], all of it at step 4d (latency 4d)."""
    layer = _copy_layer(delay)
    x = torch.zeros(10, 1, 3, 4)
    x[0, 0] = X0
    with torch.no_grad():
        out = layer(x)
    d = delay
    torch.testing.assert_close(out.k[d, 0], X0, rtol=0, atol=0)
    torch.testing.assert_close(out.kv[2 * d, 0], torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0.0]]))
    torch.testing.assert_close(out.g[3 * d, 0], torch.tensor([1, 1, 0, 0.0]))
    expected = torch.tensor([[0, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0.0]])
    torch.testing.assert_close(out.attn[4 * d, 0], expected, rtol=0, atol=0)
    assert layer.latency_steps == 4 * d
    others = torch.cat([out.attn[: 4 * d], out.attn[4 * d + 1 :]])
    assert others.sum() == 0, "the attention output must appear at step 4d only"


def test_gate_threshold_counts_tokens() -> None:
    """With attn_threshold 1.5 a channel needs K AND V in two tokens; X0 has one per channel, so nothing passes."""
    layer = _copy_layer(1, threshold=1.5)
    x = torch.zeros(8, 1, 3, 4)
    x[0, 0] = X0
    x[1, 0] = torch.tensor([[1, 1, 0, 0]] * 3)  # K AND V in channel 0 of all three tokens at step 1
    with torch.no_grad():
        out = layer(x)
    assert out.g[3].sum() == 0
    torch.testing.assert_close(out.g[4, 0], torch.tensor([1, 0, 0, 0.0]))


@pytest.mark.parametrize("delay", [0, 1, 2])
def test_attention_equals_sdsa_of_q_k_v_from_3d_steps_earlier(delay: int) -> None:
    """a[t] = Q[t-3d] AND H(sum_n K[t-3d] AND V[t-3d] - theta): the Q path's 3d aligns it with the gate path."""
    layer = SpikeDrivenAttention(AttentionConfig(n_features=D, synaptic_delay_steps=delay, init_gain=3.0), seed=1)
    with torch.no_grad():
        out = layer(_spikes(0))
    kv0 = out.k * out.v
    g0 = (kv0.sum(dim=2) > layer.config.attn_threshold).float()
    sdsa = out.q * g0.unsqueeze(2)
    assert sdsa.sum() > 0, "the check needs some attention spikes"
    torch.testing.assert_close(out.kv, delayed(kv0, delay, time_dim=0), rtol=0, atol=0)
    torch.testing.assert_close(out.g, delayed(g0, 2 * delay, time_dim=0), rtol=0, atol=0)
    torch.testing.assert_close(out.attn, delayed(sdsa, 3 * delay, time_dim=0), rtol=0, atol=0)
    assert layer.q_delay_steps == 3 * delay


@pytest.mark.parametrize("projection", [False, True])
def test_input_reaches_q_after_d_and_the_output_after_the_latency(projection: bool) -> None:
    cfg = AttentionConfig(n_features=D, synaptic_delay_steps=1, output_projection=projection, init_gain=3.0)
    layer = SpikeDrivenAttention(cfg, seed=2)
    x = _spikes(1, steps=20)
    t0 = 8
    x2 = x.clone()
    x2[t0:] = _spikes(2, steps=20)[t0:]
    with torch.no_grad():
        a, b = layer(x), layer(x2)
    assert torch.equal(a.q[: t0 + 1], b.q[: t0 + 1]) and not torch.equal(a.q, b.q)
    lat = layer.latency_steps
    assert lat == (5 if projection else 4)
    assert torch.equal(a.spikes[: t0 + lat], b.spikes[: t0 + lat])


def test_threshold_units_are_memoryless_norse_lif_cells() -> None:
    """kv and g equal a Norse LIFCell with tau_syn = tau_mem = dt and v_th 1.5 / attn_threshold: the export form."""
    layer = SpikeDrivenAttention(AttentionConfig(n_features=D, init_gain=3.0), seed=3)
    with torch.no_grad():
        out = layer(_spikes(3))

        def lif(drive: torch.Tensor, v_th: float) -> torch.Tensor:
            p = norse.torch.LIFParameters(
                tau_syn_inv=torch.as_tensor(1e3), tau_mem_inv=torch.as_tensor(1e3), v_th=torch.as_tensor(v_th)
            )
            cell, state, zs = norse.torch.LIFCell(p, dt=1e-3), None, []
            for t in range(drive.shape[0]):
                z, state = cell(drive[t], state)
                zs.append(z)
            return torch.stack(zs)

        kv = lif(delayed(out.k, 1, time_dim=0) + delayed(out.v, 1, time_dim=0), 1.5)
        g = lif(delayed(out.kv.sum(dim=2), 1, time_dim=0), 0.5)
    assert out.kv.sum() > 0 and out.g.sum() > 0
    assert torch.equal(kv, out.kv) and torch.equal(g, out.g)


@pytest.mark.parametrize("projection", [False, True])
@pytest.mark.parametrize("reparam", [False, True])
def test_shapes_and_every_spike_train_is_binary(projection: bool, reparam: bool) -> None:
    cfg = AttentionConfig(n_features=D, output_projection=projection, reparameterize=reparam)
    layer = SpikeDrivenAttention(cfg)
    out = layer(_spikes(4, steps=12, batch=2, tokens=7))
    assert isinstance(out, AttentionOutput)
    for name, value in out._asdict().items():
        assert value.shape == ((12, 2, D) if name == "g" else (12, 2, 7, D)), name
        assert set(torch.unique(value).tolist()) <= {0.0, 1.0}, name
    assert (layer.o_proj is not None) == projection and (layer.o_lif is not None) == projection
    if not projection:
        assert out.spikes is out.attn


@pytest.mark.parametrize("reparam", [False, True])
def test_gradients_reach_q_k_v_weights(reparam: bool) -> None:
    layer = SpikeDrivenAttention(AttentionConfig(n_features=D, reparameterize=reparam, init_gain=3.0), seed=4)
    out = layer(_spikes(5))
    (out.attn.mean() + out.g.mean()).backward()
    for name in ("q_proj", "k_proj", "v_proj"):
        proj = getattr(layer, name)
        for weight in [proj.linear.weight] + ([proj.branch.weight] if reparam else []):
            grad = weight.grad
            assert grad is not None and torch.isfinite(grad).all(), name
            assert (grad != 0).float().mean() > 0.5, name


def test_initialisation_is_seeded_and_leaves_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    cfg = AttentionConfig(n_features=D, output_projection=True, reparameterize=True)
    a, b, c = SpikeDrivenAttention(cfg, seed=7), SpikeDrivenAttention(cfg, seed=7), SpikeDrivenAttention(cfg, seed=8)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.k_proj.linear.weight, c.k_proj.linear.weight)
    x = _spikes(6)
    for field_a, field_b in zip(a(x), b(x), strict=True):
        assert torch.equal(field_a, field_b)


def _trained_like_reparam_layer() -> SpikeDrivenAttention:
    """A re-parameterized layer with non-trivial BN affine parameters and running statistics."""
    cfg = AttentionConfig(n_features=D, reparameterize=True, output_projection=True, init_gain=3.0)
    layer = SpikeDrivenAttention(cfg, seed=9)
    gen = torch.Generator().manual_seed(9)
    with torch.no_grad():
        for proj in (layer.q_proj, layer.k_proj, layer.v_proj, layer.o_proj):
            proj.norm.weight.copy_(0.2 + 0.5 * torch.rand(D, generator=gen))
            proj.norm.bias.copy_(0.3 * torch.randn(D, generator=gen))
        layer.train()
        for seed in range(3):
            layer(_spikes(10 + seed))  # updates BN running statistics
    return layer.eval()


def test_fold_merges_branches_with_identical_outputs() -> None:
    layer = _trained_like_reparam_layer()
    x = _spikes(20)
    with torch.no_grad():
        before = layer(x)
        currents_before = {n: getattr(layer, n)(x.float()) for n in ("q_proj", "k_proj", "v_proj", "o_proj")}
        assert not layer.folded
        layer.fold()
        after = layer(x)
    assert layer.folded and not layer.training
    assert before.spikes.sum() > 0 and before.attn.sum() > 0
    for name in AttentionOutput._fields:
        assert torch.equal(getattr(before, name), getattr(after, name)), name
    for name, current in currents_before.items():
        proj = getattr(layer, name)
        assert proj.branch is None and proj.norm is None and proj.linear.bias is not None
        torch.testing.assert_close(proj(x.float()), current, rtol=1e-6, atol=1e-6)


def test_fold_in_float64_matches_to_rounding_and_plain_layer_is_unchanged() -> None:
    layer = _trained_like_reparam_layer().double()
    x = _spikes(21).double()
    with torch.no_grad():
        ref = {n: getattr(layer, n)(x) for n in ("q_proj", "k_proj", "v_proj")}
        layer.fold()
        for name, current in ref.items():
            torch.testing.assert_close(getattr(layer, name)(x), current, rtol=0, atol=1e-9)
    plain = SpikeDrivenAttention(AttentionConfig(n_features=D))
    weight = plain.q_proj.linear.weight.clone()
    plain.fold()
    assert torch.equal(plain.q_proj.linear.weight, weight) and plain.q_proj.linear.bias is None


def _event_driven_sdsa(q, k, v, delay: int, threshold: float) -> tuple[torch.Tensor, int]:
    """SDSA run event by event with Python ints: only `+= 1` per delivered spike and comparisons."""
    steps, batch, tokens, feats = q.shape
    q, k, v = q.int().tolist(), k.int().tolist(), v.int().tolist()
    kv = [[[[0] * feats for _ in range(tokens)] for _ in range(batch)] for _ in range(steps)]
    g = [[[0] * feats for _ in range(batch)] for _ in range(steps)]
    out = torch.zeros(steps, batch, tokens, feats)
    adds = 0
    for t in range(steps):
        for b in range(batch):
            column = [0] * feats
            for n in range(tokens):
                for c in range(feats):
                    acc = 0
                    if t >= delay:
                        for spikes in (k, v):
                            if spikes[t - delay][b][n][c]:
                                acc, adds = acc + 1, adds + 1
                    kv[t][b][n][c] = int(acc > 1.5)
                    if t >= delay and kv[t - delay][b][n][c]:
                        column[c], adds = column[c] + 1, adds + 1
            g[t][b] = [int(s > threshold) for s in column]
            for n in range(tokens):
                for c in range(feats):
                    acc = 0
                    if t >= 3 * delay and q[t - 3 * delay][b][n][c]:
                        acc, adds = acc + 1, adds + 1
                    if t >= delay and g[t - delay][b][c]:
                        acc, adds = acc + 1, adds + 1
                    out[t, b, n, c] = float(acc > 1.5)
    return out, adds


def test_attention_is_accumulate_only_and_the_op_count_matches() -> None:
    """An integer event-driven implementation (additions of unit spikes, comparisons; no multiplication) gives the
    same output, and performs exactly `attention_accumulates` additions."""
    layer = SpikeDrivenAttention(AttentionConfig(n_features=8, init_gain=3.0), seed=11)
    with torch.no_grad():
        out = layer(_spikes(22, steps=16, batch=2, tokens=4, features=8))
    ref, adds = _event_driven_sdsa(out.q, out.k, out.v, delay=1, threshold=0.5)
    assert out.attn.sum() > 0
    assert torch.equal(ref, out.attn)
    assert adds == attention_accumulates(out, 1)


def test_rejects_bad_config_and_input() -> None:
    with pytest.raises(ValueError, match="tau_mem_s"):
        AttentionConfig(n_features=4, tau_mem_s=5e-4)
    with pytest.raises(ValueError, match="synaptic_delay_steps"):
        AttentionConfig(n_features=4, synaptic_delay_steps=-1)
    with pytest.raises(ValueError, match="attn_threshold"):
        AttentionConfig(n_features=4, attn_threshold=-0.5)
    with pytest.raises(ValueError, match="n_features"):
        AttentionConfig(n_features=0)
    layer = SpikeDrivenAttention(AttentionConfig(n_features=4))
    with pytest.raises(ValueError, match=r"shape \(T, B, N, 4\)"):
        layer(torch.zeros(5, 2, 4))
    with pytest.raises(ValueError, match=r"shape \(T, B, N, 4\)"):
        layer(torch.zeros(5, 2, 3, 5))
    with pytest.raises(ValueError, match="NaN"):
        layer(torch.full((5, 2, 3, 4), float("nan")))
