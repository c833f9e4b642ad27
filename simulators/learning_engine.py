"""The integer learning engine of one plastic connection, step for step as Lava's `LearningDense` (`fixed_pt`).

A re-implementation in numpy of lava-nc 0.10.0 `magma/core/model/py/connection.py`
(`PyLearningConnection`, `LearningConnectionModelBitApproximate`), `magma/core/learning/learning_rule_applier.py`
(`LearningRuleApplierBitApprox`), `random.py` and `utils.stochastic_round`, restricted to what
`spikeport.ir.plastic.PlasticDenseInt` can express (weights only, integer impulses, binary spikes):

Spike phase of global step t (1-based, counted over the whole run):
    pre neurons spiking again in this epoch: x1, x2 += impulse at once (saturating at 127);
    tx[spiked] = within-epoch time (t % t_epoch, or t_epoch);
    both trace generators advance; post (teacher) spikes: the same for y1..y3 and ty; both advance again.
Learning phase, when t % t_epoch == 0:
    the weight generator (seed 2) advances; x0 = tx > 0, y0 = ty > 0;
    traces run through the epoch: trace <- floor(trace * exp(-1/tau)) + (r < fraction), one r per generator
    for the whole epoch (tau = 0: the trace restarts from 0), then + impulse at the neuron's last spike time;
    each product = (trigger * factors * m) >> max(0, widths + 4 - 15) << (e + 7), saturated to 16 bits;
    acc = W << 7 plus the products (saturated after each addition); W = (floor(acc / 128) + (r < fraction)),
    clipped to [-256, 255]; tx, ty reset.
Integer impulses have no fractional part, so Lava's impulse-rounding generators never change a value and are
not modelled.
"""

from __future__ import annotations

import numpy as np

from spikeport.ir.plastic import ACCUMULATOR_BITS, FACTOR_WIDTH, TRACE_MAX, PlasticDenseInt, RuleProduct

WEIGHT_ROUND_SEED = 2  # lava learning/random.py: ConnVarRandom(seed_stochastic_rounding=2), not configurable
ACC_SHIFT = 7  # W_ACCUMULATOR_S - W_WEIGHTS_S = 16 - 9
ACC_LOW, ACC_HIGH = -(2**ACCUMULATOR_BITS) - 1, 2**ACCUMULATOR_BITS - 1  # Lava's saturation bounds, as written
WEIGHT_LOW, WEIGHT_HIGH = -256, 255  # clip_weights(MIXED, num_bits=8)
_X_INDEX = {"x1": 0, "x2": 1}
_Y_INDEX = {"y1": 0, "y2": 1, "y3": 2}


def truncate_mixed(weights: np.ndarray) -> np.ndarray:
    """Lava's first-step truncation of a LearningDense (sign mode MIXED, 8 bits): the lowest bit is dropped."""
    return (np.asarray(weights, dtype=np.int64) >> 1) << 1


def _decay(values: np.ndarray, taus: np.ndarray, random: float) -> np.ndarray:
    """`LearningConnectionModelBitApproximate._decay_trace` for one step."""
    scaled = np.exp(-1 / taus) * values
    fraction = scaled % 1
    return (np.floor(scaled) + (random < fraction).astype(int)).astype(int)


def _add_impulse(values: np.ndarray, impulses: np.ndarray) -> np.ndarray:
    return np.clip(values + impulses, 0, TRACE_MAX)


class LearningEngine:
    """The learning state of one `PlasticDenseInt`: weights, traces, spike times and random generators."""

    def __init__(self, node: PlasticDenseInt) -> None:
        self.node = node
        self.products: tuple[RuleProduct, ...] = node.products
        self.weights = truncate_mixed(node.weights)
        n_out, n_in = node.weights.shape
        self.x = np.zeros((2, n_in), dtype=int)
        self.y = np.zeros((3, n_out), dtype=int)
        self.tx = np.zeros(n_in, dtype=int)
        self.ty = np.zeros(n_out, dtype=int)
        self.x_impulse = np.array([node.x1_impulse, node.x2_impulse])
        self.y_impulse = np.array([node.y1_impulse, node.y2_impulse, node.y3_impulse])
        self.x_tau = np.array([node.x1_tau, node.x2_tau])
        self.y_tau = np.array([node.y1_tau, node.y2_tau, node.y3_tau])
        # TraceRandom(seed_trace_decay=rng_seed) for x, rng_seed + 2 for y; each draws one value on creation
        self._x_rng = np.random.default_rng(seed=node.rng_seed)
        self._y_rng = np.random.default_rng(seed=node.rng_seed + 2)
        self._w_rng = np.random.default_rng(seed=WEIGHT_ROUND_SEED)
        self.x_random = self._x_rng.random(1)[0]
        self.y_random = self._y_rng.random(1)[0]
        self.w_random = self._w_rng.random(1)[0]
        decimates = {p.decimate for p in self.products if p.decimate is not None}
        self.decimate = decimates.pop() if decimates else None

    def _advance_traces(self) -> None:
        self.x_random = self._x_rng.random(1)[0]
        self.y_random = self._y_rng.random(1)[0]

    def step(self, t: int, pre: np.ndarray, post: np.ndarray) -> bool:
        """Step `t` (global, 1-based) with this step's pre and teacher spikes; True if the weights were updated.

        Call it after the step's synaptic input was computed with the current weights (Lava accumulates first).
        """
        t_epoch = self.node.t_epoch
        within = t % t_epoch or t_epoch
        spiked = np.asarray(pre) != 0
        again = (self.tx > 0) & spiked
        self.x[:, again] = _add_impulse(self.x[:, again], self.x_impulse[:, None])
        self.tx[spiked] = within
        self._advance_traces()
        post = np.asarray(post) != 0
        again = (self.ty > 0) & post
        self.y[:, again] = _add_impulse(self.y[:, again], self.y_impulse[:, None])
        self.ty[post] = within
        self._advance_traces()
        if t % t_epoch:
            return False
        self._learn(t)
        return True

    def _history(self, traces: np.ndarray, taus: np.ndarray, times: np.ndarray, impulses, random) -> np.ndarray:
        """`_compute_trace_histories` for one side: trace values at within-epoch times 0..t_epoch."""
        t_epoch = self.node.t_epoch
        history = np.zeros((t_epoch + 1, *traces.shape), dtype=int)
        history[0] = traces
        active = taus != 0
        for t in range(1, t_epoch + 1):
            history[t][active] = _decay(history[t - 1][active], taus[active][:, None], random)
            ids = np.where(times == t)[0]
            history[t][:, ids] = _add_impulse(history[t][:, ids], impulses[:, None])
        return history

    def _learn(self, t: int) -> None:
        self.w_random = self._w_rng.random(1)[0]
        x0, y0 = self.tx > 0, self.ty > 0
        hx = self._history(self.x, self.x_tau, self.tx, self.x_impulse, self.x_random)
        hy = self._history(self.y, self.y_tau, self.ty, self.y_impulse, self.y_random)
        self.x, self.y = hx[-1].copy(), hy[-1].copy()
        u = 0
        if self.decimate is not None:
            u = 1 if int(t / self.node.t_epoch) % 2**self.decimate == 0 else 0
        deps = {"x0": x0[None, :], "y0": y0[:, None], "u": u}
        acc = self.weights << ACC_SHIFT
        for product in self.products:
            term = np.ones(self.weights.shape, dtype=np.int64) * deps[product.dependency]
            for factor in product.factors:
                value = self._factor(factor, product.dependency, deps, hx, hy)
                width = FACTOR_WIDTH[factor]
                term = term * np.clip(value, -(2**width), 2**width - 1).astype(np.int64)
            term = (term * product.mantissa) >> product.shift
            term = np.clip(term << (product.exponent + 7), ACC_LOW, ACC_HIGH)
            acc = np.clip(acc + term, ACC_LOW, ACC_HIGH)
        scaled = acc / 2**ACC_SHIFT
        rounded = np.floor(scaled) + (self.w_random < scaled % 1).astype(int)
        self.weights = np.clip(rounded.astype(np.int64), WEIGHT_LOW, WEIGHT_HIGH)
        self.tx[:] = 0
        self.ty[:] = 0

    def _factor(self, factor: str, dependency: str, deps: dict, hx: np.ndarray, hy: np.ndarray) -> np.ndarray:
        """A factor's value as Lava's applier evaluates it for `dependency` (`_extract_applier_evaluated_traces`)."""
        if factor in ("x0", "y0"):
            return np.asarray(deps[factor], dtype=np.int64)
        pre_side = factor in _X_INDEX
        k = _X_INDEX[factor] if pre_side else _Y_INDEX[factor]
        if dependency == "u":
            return hx[-1, k][None, :] if pre_side else hy[-1, k][:, None]
        if dependency == "x0":
            if pre_side:  # pre trace of neuron i at its own spike time
                return hx[self.tx, k].diagonal()[None, :]
            return hy[self.tx, k].T  # post trace j at pre neuron i's spike time: (n_out, n_in)
        if pre_side:  # dependency y0
            return hx[self.ty, k]  # pre trace i at post neuron j's spike time: (n_out, n_in)
        return hy[self.ty, k].diagonal()[:, None]


def learn_from_spikes(node: PlasticDenseInt, pre: np.ndarray, post: np.ndarray, *, start: int = 1) -> np.ndarray:
    """Run the rule of `node` over given spike trains; the weights after every epoch, (epochs, n_out, n_in).

    `pre` is (steps, n_in) and `post` (steps, n_out) (teacher spikes); step k is global step `start + k`. Used for
    kernel goldens and to compare the integer rule with the float one on the same spikes.
    """
    engine = LearningEngine(node)
    history = []
    for k, (p, q) in enumerate(zip(np.asarray(pre), np.asarray(post), strict=True)):
        if engine.step(start + k, p, q):
            history.append(engine.weights.copy())
    n_out, n_in = node.weights.shape
    return np.stack(history) if history else np.zeros((0, n_out, n_in), dtype=np.int64)


__all__ = ["LearningEngine", "learn_from_spikes", "truncate_mixed"]
