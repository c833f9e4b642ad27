"""Least-squares refit of the RAT-SNN readout: how `spikeport adapt` fits a pretrained model to a new session.

The readout integrators are linear (non-spiking CubaLI), so the prediction of output o at the window's last step is
linear in the weights of the three Linears that feed it (`fc_out` from the attention, `fc_skip` from the encoder,
`fc_direct` from the input)::

    v_T[o] = sum_j W[o, j] * phi_o[j],    phi_o[j] = sum_t h_o(T - 1 - t) * p_j(t)

where p_j is presynaptic signal j and h_o the impulse response of output o (its tau_syn and tau_mem, after the
Linear's one-step delay). With the pretrained encoder and attention fixed, the weights that fit the new session best
are a ridge regression on phi, solved in closed form (as the Wiener filter baseline is) instead of by gradient steps
that also move the encoder and overfit one minute of data. Per output, the time constants are chosen from a grid
(`TAU_GRID_POINTS` log-spaced values per range) and the penalty from `ALPHAS`, both by R² on the last
`VALIDATION_FRACTION` of the adaptation windows (they are in time order); the weights are then refitted on all of
them. The refitted model is a model like any other: it exports, quantizes and runs bit-true on Lava.

Measured on the SYNTHETIC held-out session after 1 minute (mean R², float model, 64 encoder neurons;
docs/rat-snn.md): gradient fine-tuning of every parameter 0.697, this refit 0.728.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from spikeport.simulators.timing import delayed
from spikeport.train.layers.multi_timescale import MultiTimescaleLIF, TimescaleConfig

__all__ = ["ALPHAS", "MIN_WINDOWS", "TAU_GRID_POINTS", "VALIDATION_FRACTION", "ReadoutFit", "fit_readout"]

ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-3, 4, 15))
"""Ridge penalties searched (features are spike counts and 0/1 spikes filtered by the readout, order 1)."""
TAU_GRID_POINTS = 6
"""Candidate values per time-constant range (log-spaced, range ends included): 36 (tau_syn, tau_mem) pairs."""
VALIDATION_FRACTION = 0.2
"""Share of the adaptation windows (the last ones) that choose the time constants and the penalty."""
MIN_WINDOWS = 10
"""Fewest windows the refit accepts (so that some are held back for choosing)."""


@dataclass(frozen=True)
class ReadoutFit:
    """What the refit chose, per output."""

    tau_syn_s: tuple[float, ...]
    tau_mem_s: tuple[float, ...]
    alpha: tuple[float, ...]
    validation_r2: tuple[float, ...]
    """R² on the held-back adaptation windows with the chosen time constants and penalty (before the final refit)."""
    features: int
    """Presynaptic signals per output (attention, encoder and input channels)."""


def _presynaptic(model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """The readout's presynaptic signals (steps, samples, features), in the order of `fc_out`, `fc_skip` and
    `fc_direct`'s inputs: attention spikes, encoder spikes, input counts."""
    from spikeport.train.models.rat_snn.fit import deterministic

    model.eval()
    chunks = []
    with deterministic(0), torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb = torch.as_tensor(np.asarray(x[start : start + batch_size], dtype=np.float32))
            out = model(xb)
            chunks.append(torch.cat([out.attention_spikes.float(), out.encoder_spikes.float(), xb], dim=2))
    return torch.cat(chunks).transpose(0, 1).double().numpy()


def _impulse_responses(readout: MultiTimescaleLIF, tau_syn: np.ndarray, tau_mem: np.ndarray, steps: int) -> np.ndarray:
    """(steps, candidates): each candidate's v at the last step for a unit input at step t (after the one-step
    delay of the Linear that feeds it)."""
    cfg = readout.config
    probe = MultiTimescaleLIF(
        TimescaleConfig(size=len(tau_syn), dt_s=cfg.dt_s, tau_syn_range_s=cfg.tau_syn_range_s,
                        tau_mem_range_s=cfg.tau_mem_range_s, spiking=False),
        tau_syn_s=tau_syn, tau_mem_s=tau_mem,
    )  # fmt: skip
    impulses = torch.eye(steps, dtype=torch.float64)[:, :, None].expand(steps, steps, len(tau_syn))
    with torch.no_grad():
        return probe(delayed(impulses, 1, time_dim=0))[-1].numpy()


def _ridge_by_alpha(fit_x: np.ndarray, fit_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray) -> np.ndarray:
    """Validation R² (outputs, alphas) of ridge without intercept (the readout has no bias) for every alpha and
    every column of y, from one eigendecomposition."""
    eigval, eigvec = np.linalg.eigh(fit_x.T @ fit_x)
    proj, val_proj = eigvec.T @ (fit_x.T @ fit_y), val_x @ eigvec
    total = np.sum((val_y - val_y.mean(axis=0)) ** 2, axis=0)
    total[total == 0] = 1.0
    preds = [val_proj @ (proj / (np.maximum(eigval, 0.0) + alpha)[:, None]) for alpha in ALPHAS]
    return np.stack([1.0 - np.sum((p - val_y) ** 2, axis=0) / total for p in preds], axis=1)


def fit_readout(model, x: np.ndarray, y: np.ndarray) -> ReadoutFit:
    """Refit `model`'s readout weights and time constants in place on windows x (n, steps, units), targets y.

    Raises:
        ValueError: fewer than `MIN_WINDOWS` windows, or x and y of different lengths.
    """
    if len(x) < MIN_WINDOWS or len(x) != len(y):
        raise ValueError(f"fit_readout: need at least {MIN_WINDOWS} windows with targets, got {len(x)} and {len(y)}")
    signals = _presynaptic(model, x)
    readout, steps = model.readout, signals.shape[0]
    syn_grid = np.geomspace(*readout.config.tau_syn_range_s, TAU_GRID_POINTS)
    mem_grid = np.geomspace(*readout.config.tau_mem_range_s, TAU_GRID_POINTS)
    tau_syn, tau_mem = (g.ravel() for g in np.meshgrid(syn_grid, mem_grid, indexing="ij"))
    responses = _impulse_responses(readout, tau_syn, tau_mem, steps)
    n_val = max(1, round(VALIDATION_FRACTION * len(x)))
    targets = np.asarray(y, dtype=np.float64)
    scores = np.empty((targets.shape[1], len(tau_syn), len(ALPHAS)))
    for k in range(len(tau_syn)):  # one candidate's features at a time: memory stays one (samples, features) array
        phi = np.einsum("tbj,t->bj", signals, responses[:, k])
        scores[:, k] = _ridge_by_alpha(phi[:-n_val], targets[:-n_val], phi[-n_val:], targets[-n_val:])
    modules = (model.fc_out, model.fc_skip, model.fc_direct)
    chosen: list[tuple[int, int, float]] = []
    for o in range(targets.shape[1]):
        k, a = np.unravel_index(int(np.argmax(scores[o])), scores[o].shape)
        phi = np.einsum("tbj,t->bj", signals, responses[:, k])
        weights = np.linalg.solve(phi.T @ phi + ALPHAS[a] * np.eye(phi.shape[1]), phi.T @ targets[:, o])
        with torch.no_grad():
            for module, part in zip(modules, np.split(weights, np.cumsum([m.in_features for m in modules])[:-1]),
                                    strict=True):  # fmt: skip
                module.weight[o] = torch.as_tensor(part, dtype=module.weight.dtype)
        readout.set_time_constants(o, float(tau_syn[k]), float(tau_mem[k]))
        chosen.append((int(k), int(a), float(scores[o, k, a])))
    return ReadoutFit(
        tau_syn_s=tuple(float(tau_syn[k]) for k, _, _ in chosen),
        tau_mem_s=tuple(float(tau_mem[k]) for k, _, _ in chosen),
        alpha=tuple(ALPHAS[a] for _, a, _ in chosen),
        validation_r2=tuple(s for _, _, s in chosen),
        features=int(signals.shape[2]),
    )
