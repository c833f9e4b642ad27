"""The one delay convention: out[t] = x[t - d] along the named time axis, zeros for t < d, same length."""

from __future__ import annotations

import pytest
import torch

from spikeport.simulators.timing import delayed

STEPS = 6


@pytest.mark.parametrize("steps", [0, 1, 2, STEPS - 1, STEPS, STEPS + 3])
@pytest.mark.parametrize("time_dim", [0, 1, -2])
def test_delayed_shifts_along_the_named_axis_with_zeros_first(steps, time_dim):
    # value = 100 * t + 10 * i + j, so every entry names its own step: the expected output is written from that
    x = torch.arange(STEPS)[:, None, None] * 100 + torch.arange(3)[None, :, None] * 10 + torch.arange(2)[None, None, :]
    x = x.movedim(0, time_dim).to(torch.int32)
    out = delayed(x, steps, time_dim=time_dim)
    assert out.shape == x.shape and out.dtype == torch.int32
    out_t = out.movedim(time_dim, 0)
    for t in range(STEPS):
        expected = (t - steps) * 100 + torch.arange(3)[:, None] * 10 + torch.arange(2)[None, :]
        expected = expected if t >= steps else torch.zeros(3, 2, dtype=torch.int64)
        torch.testing.assert_close(out_t[t], expected.to(torch.int32), rtol=0, atol=0)


def test_zero_delay_returns_the_input_itself():
    x = torch.ones(4, 2)
    assert delayed(x, 0, time_dim=0) is x


@pytest.mark.parametrize("steps", [1, 3, 8])
def test_gradients_reach_the_kept_steps_only(steps):
    x = torch.randn(2, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(steps), requires_grad=True)
    delayed(x, steps, time_dim=1).sum().backward()
    kept = max(5 - steps, 0)
    expected = torch.zeros_like(x)
    expected[:, :kept] = 1.0
    torch.testing.assert_close(x.grad, expected, rtol=0, atol=0)


def test_negative_delay_is_refused():
    with pytest.raises(ValueError, match=r"delay must be >= 0 steps, got -1"):
        delayed(torch.zeros(3), -1, time_dim=0)
