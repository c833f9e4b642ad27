"""The learning rule of a `PlasticDenseInt` in float: the same rule without the chip's rounding and saturation.

Given the same pre-synaptic and teacher spikes, `learn_float` follows the integer engine
(`spikeport.simulators.learning_engine`) step for step, with real numbers: traces decay by exactly
exp(-1/tau) per step and do not saturate at 127; each product is `m * 2**e * trigger * factors`, scaled by
`2**-shift` where the fixed-point product needs more than 15 bits (Loihi's scale of the rule, kept so that float
and integer weights are in the same units); weights start from the stored values (no first-step truncation),
accumulate without the 16-bit saturation, stochastic rounding or the 8-bit clip. The difference between
`learn_float` and the integer weights is the quantization loss of learning.

Lava's own `floating_pt` model of LearningDense omits the `2**-shift` scale, so for products of more than one
trace it learns on another scale than its fixed-point model; this module follows the fixed-point one.
"""

from __future__ import annotations

import numpy as np

from spikeport.ir.plastic import PlasticDenseInt

_X_INDEX = {"x1": 0, "x2": 1}
_Y_INDEX = {"y1": 0, "y2": 1, "y3": 2}


def _history(start: np.ndarray, taus: np.ndarray, times: np.ndarray, impulses: np.ndarray, t_epoch: int):
    """Trace values at within-epoch times 0..t_epoch (tau = 0: no memory, as on the chip)."""
    history = np.zeros((t_epoch + 1, *start.shape))
    history[0] = start
    keep = np.where(taus != 0, np.exp(-1 / np.where(taus != 0, taus, 1)), 0.0)[:, None]
    for t in range(1, t_epoch + 1):
        history[t] = history[t - 1] * keep
        history[t][:, times == t] += impulses[:, None]
    return history


def _factor(factor: str, dependency: str, deps: dict, hx: np.ndarray, hy: np.ndarray, tx, ty) -> np.ndarray:
    if factor in ("x0", "y0"):
        return np.asarray(deps[factor], dtype=np.float64)
    pre_side = factor in _X_INDEX
    k = _X_INDEX[factor] if pre_side else _Y_INDEX[factor]
    if dependency == "u":
        return hx[-1, k][None, :] if pre_side else hy[-1, k][:, None]
    if dependency == "x0":
        return hx[tx, k].diagonal()[None, :] if pre_side else hy[tx, k].T
    return hx[ty, k] if pre_side else hy[ty, k].diagonal()[:, None]


def learn_float(node: PlasticDenseInt, pre: np.ndarray, post: np.ndarray, *, start: int = 1) -> np.ndarray:
    """The float weights of `node` after every epoch, (epochs, n_out, n_in), for spikes `pre` (steps, n_in) and
    teacher spikes `post` (steps, n_out); step k is global step `start + k`."""
    t_epoch, products = node.t_epoch, node.products
    n_out, n_in = node.weights.shape
    weights = node.weights.astype(np.float64)
    x, y = np.zeros((2, n_in)), np.zeros((3, n_out))
    tx, ty = np.zeros(n_in, dtype=int), np.zeros(n_out, dtype=int)
    x_imp = np.array([node.x1_impulse, node.x2_impulse], dtype=np.float64)
    y_imp = np.array([node.y1_impulse, node.y2_impulse, node.y3_impulse], dtype=np.float64)
    x_tau = np.array([node.x1_tau, node.x2_tau])
    y_tau = np.array([node.y1_tau, node.y2_tau, node.y3_tau])
    decimate = next((p.decimate for p in products if p.decimate is not None), None)
    out = []
    for k, (p, q) in enumerate(zip(np.asarray(pre) != 0, np.asarray(post) != 0, strict=True)):
        t = start + k
        within = t % t_epoch or t_epoch
        x[:, (tx > 0) & p] += x_imp[:, None]
        y[:, (ty > 0) & q] += y_imp[:, None]
        tx[p], ty[q] = within, within
        if t % t_epoch:
            continue
        hx, hy = _history(x, x_tau, tx, x_imp, t_epoch), _history(y, y_tau, ty, y_imp, t_epoch)
        x, y = hx[-1].copy(), hy[-1].copy()
        u = 0.0 if decimate is None else float(int(t / t_epoch) % 2**decimate == 0)
        deps = {"x0": (tx > 0)[None, :].astype(float), "y0": (ty > 0)[:, None].astype(float), "u": u}
        for product in products:
            term = np.ones((n_out, n_in)) * deps[product.dependency]
            for factor in product.factors:
                term = term * _factor(factor, product.dependency, deps, hx, hy, tx, ty)
            weights = weights + term * product.rate * 2.0**-product.shift
        tx[:], ty[:] = 0, 0
        out.append(weights.copy())
    return np.stack(out) if out else np.zeros((0, n_out, n_in))


__all__ = ["learn_float"]
