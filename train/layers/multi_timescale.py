r"""A current-based LIF layer whose time constants are learned per neuron (multi-timescale neurons).

Each neuron n has its own synaptic and membrane time constants, trained with the weights by surrogate gradients.
The update is norse 1.1's `lif_feed_forward_step` (the decoder's `LIFCell`, documented in
`spikeport.train.models.decoder.model`) with per-neuron parameters, so the layer is exactly a norse LIF whose
`tau_syn_inv`, `tau_mem_inv` are vectors; the non-spiking variant is norse's `li_feed_forward_step` (a leaky
integrator readout). With beta_n = dt / tau_syn_n and alpha_n = dt / tau_mem_n, per step::

    j = i + x;   v = v + alpha_n (v_leak - v + j);   i = (1 - beta_n) j;   spike where v > v_th, then v = 0

Parameterization. A time constant must stay in [tau_min, tau_max] with tau_min >= dt (a decay above 1 per step
would overshoot, and the NIR reader refuses it). Each is stored as an unconstrained parameter r and read as
``tau = tau_min * (tau_max / tau_min) ** sigmoid(r)``: log-uniform over the range, so a step of r changes short and
long time constants by the same factor, and gradient steps can never leave the range.

Export. `to_nir` writes a standard NIR `CubaLIF` (or `CubaLI`) with one tau per neuron (NIR allows arrays) and
w_in = tau_syn / dt, the convention of spikeport's other layers (a spike of weight w moves the current by w);
`from_nir` reads one back. spikeport's quantizer deploys such a population as one Loihi LIF process per group of
equal quantized decays (`spikeport.targets.decay_groups`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from spikeport.errors import IRValidationError

__all__ = ["MultiTimescaleLIF", "TimescaleConfig"]


@dataclass(frozen=True)
class TimescaleConfig:
    """Sizes, step and the time-constant ranges of a `MultiTimescaleLIF` (seconds)."""

    size: int
    dt_s: float = 1e-3
    tau_syn_range_s: tuple[float, float] = (1e-3, 3.2e-2)
    tau_mem_range_s: tuple[float, float] = (2e-3, 6.4e-2)
    v_th: float = 1.0
    spiking: bool = True
    """False: a non-spiking leaky integrator (readout); its v is the output."""

    def __post_init__(self) -> None:
        if self.size < 1:
            raise IRValidationError(f"TimescaleConfig.size must be >= 1, got {self.size}")
        for name in ("tau_syn_range_s", "tau_mem_range_s"):
            low, high = getattr(self, name)
            if not self.dt_s <= low <= high:
                raise IRValidationError(
                    f"TimescaleConfig.{name} = {(low, high)} must satisfy dt_s ({self.dt_s}) <= low <= high: a time "
                    "constant below dt makes the per-step decay exceed 1"
                )


def _to_raw(tau: np.ndarray, low: float, high: float) -> np.ndarray:
    """The unconstrained parameter giving `tau` (clipped just inside the range, where the sigmoid is finite)."""
    if high == low:
        return np.zeros_like(tau)
    frac = np.clip(np.log(tau / low) / math.log(high / low), 1e-12, 1 - 1e-12)
    return np.log(frac / (1 - frac))


class MultiTimescaleLIF(nn.Module):
    """LIF (or LI) neurons with learnable per-neuron tau_syn and tau_mem; input (T, batch, size) currents.

    Args:
        config: sizes, step and ranges.
        tau_syn_s, tau_mem_s: initial time constants per neuron (default: log-spaced over each range, so the layer
            starts with `size` distinct time scales; the membrane constants run in the opposite order).
    """

    def __init__(
        self, config: TimescaleConfig, tau_syn_s: np.ndarray | None = None, tau_mem_s: np.ndarray | None = None
    ) -> None:
        super().__init__()
        self.config = config
        n = config.size
        syn = np.geomspace(*config.tau_syn_range_s, n) if tau_syn_s is None else np.asarray(tau_syn_s, float)
        mem = np.geomspace(*config.tau_mem_range_s, n)[::-1] if tau_mem_s is None else np.asarray(tau_mem_s, float)
        for name, tau, (low, high) in (
            ("tau_syn_s", syn, config.tau_syn_range_s),
            ("tau_mem_s", mem, config.tau_mem_range_s),
        ):
            if tau.shape != (n,) or np.any(tau < low * (1 - 1e-9)) or np.any(tau > high * (1 + 1e-9)):
                raise IRValidationError(
                    f"MultiTimescaleLIF: {name} must hold {n} values within {(low, high)} s, got shape {tau.shape}, "
                    f"range [{tau.min(initial=np.inf):.3g}, {tau.max(initial=-np.inf):.3g}]"
                )
        # float64, so that time constants survive a NIR round trip to ~1e-12
        self.raw_tau_syn = nn.Parameter(torch.as_tensor(_to_raw(syn, *config.tau_syn_range_s), dtype=torch.float64))
        self.raw_tau_mem = nn.Parameter(torch.as_tensor(_to_raw(mem, *config.tau_mem_range_s), dtype=torch.float64))

    @staticmethod
    def _tau(raw: Tensor, bounds: tuple[float, float]) -> Tensor:
        low, high = bounds
        return low * (high / low) ** torch.sigmoid(raw)

    def tau_syn(self) -> Tensor:
        """Synaptic time constants in seconds, (size,), within `tau_syn_range_s`."""
        return self._tau(self.raw_tau_syn, self.config.tau_syn_range_s)

    def tau_mem(self) -> Tensor:
        """Membrane time constants in seconds, (size,), within `tau_mem_range_s`."""
        return self._tau(self.raw_tau_mem, self.config.tau_mem_range_s)

    def set_time_constants(self, neuron: int, tau_syn_s: float, tau_mem_s: float) -> None:
        """Set one neuron's time constants (seconds, within the ranges; the ends map just inside them).

        Raises:
            IRValidationError: the neuron index or a time constant is out of range.
        """
        cfg = self.config
        if not 0 <= neuron < cfg.size:
            raise IRValidationError(f"MultiTimescaleLIF.set_time_constants: neuron {neuron} not in 0..{cfg.size - 1}")
        for name, tau, (low, high) in (("tau_syn_s", tau_syn_s, cfg.tau_syn_range_s),
                                       ("tau_mem_s", tau_mem_s, cfg.tau_mem_range_s)):  # fmt: skip
            if not low * (1 - 1e-9) <= tau <= high * (1 + 1e-9):
                raise IRValidationError(f"MultiTimescaleLIF.set_time_constants: {name} {tau:g} outside {(low, high)}")
        with torch.no_grad():
            self.raw_tau_syn[neuron] = float(_to_raw(np.array([tau_syn_s]), *cfg.tau_syn_range_s)[0])
            self.raw_tau_mem[neuron] = float(_to_raw(np.array([tau_mem_s]), *cfg.tau_mem_range_s)[0])

    def forward(self, x: Tensor) -> Tensor:
        """Spikes (or, non-spiking, membrane voltages) of shape (T, batch, size) for input currents (T, batch, size)."""
        from norse.torch.functional.leaky_integrator import LIParameters, LIState, li_feed_forward_step
        from norse.torch.functional.lif import LIFFeedForwardState, LIFParameters, lif_feed_forward_step

        cfg = self.config
        zero = torch.zeros(x.shape[1:], dtype=x.dtype, device=x.device)
        syn_inv, mem_inv = 1.0 / self.tau_syn().to(x.dtype), 1.0 / self.tau_mem().to(x.dtype)
        outputs = []
        if cfg.spiking:
            p = LIFParameters(
                tau_syn_inv=syn_inv,
                tau_mem_inv=mem_inv,
                v_leak=torch.as_tensor(0.0),
                v_th=torch.as_tensor(cfg.v_th),
                v_reset=torch.as_tensor(0.0),
                method="super",
                alpha=torch.as_tensor(100.0),
            )
            state = LIFFeedForwardState(v=zero, i=zero)
            for x_t in x:
                z, state = lif_feed_forward_step(x_t, state, p, dt=cfg.dt_s)
                outputs.append(z)
        else:
            p = LIParameters(tau_syn_inv=syn_inv, tau_mem_inv=mem_inv, v_leak=torch.as_tensor(0.0))
            state = LIState(v=zero, i=zero)
            for x_t in x:
                v, state = li_feed_forward_step(x_t, state, p, dt=cfg.dt_s)
                outputs.append(v)
        return torch.stack(outputs)

    def to_nir(self):
        """This layer as a standard NIR `CubaLIF` (`CubaLI` if non-spiking) with per-neuron time constants."""
        import nir

        cfg, n = self.config, self.config.size
        with torch.no_grad():
            tau_syn = self.tau_syn().double().numpy().copy()
            tau_mem = self.tau_mem().double().numpy().copy()
        common = dict(
            tau_syn=tau_syn,
            tau_mem=tau_mem,
            r=np.ones(n),
            v_leak=np.zeros(n),
            w_in=tau_syn / cfg.dt_s,
            metadata={"dt": float(cfg.dt_s), "multi_timescale": True},
        )
        if not cfg.spiking:
            return nir.CubaLI(**common)
        return nir.CubaLIF(v_threshold=np.full(n, float(cfg.v_th)), v_reset=np.zeros(n), **common)

    @classmethod
    def from_nir(cls, node, config: TimescaleConfig) -> MultiTimescaleLIF:
        """The layer of a `CubaLIF`/`CubaLI` node written by `to_nir`, time constants as stored (within `config`).

        Raises:
            IRValidationError: the node's time constants do not fit `config` (size or range), or w_in is not
                tau_syn / dt (the layer's input convention).
        """
        tau_syn = np.asarray(node.tau_syn, dtype=np.float64).reshape(-1)
        tau_mem = np.asarray(node.tau_mem, dtype=np.float64).reshape(-1)
        if not np.allclose(np.asarray(node.w_in, dtype=np.float64).reshape(-1), tau_syn / config.dt_s, rtol=1e-9):
            raise IRValidationError("NIR node: w_in must equal tau_syn / dt for a MultiTimescaleLIF layer")
        return cls(config, tau_syn_s=tau_syn, tau_mem_s=tau_mem)
