"""Ridge regression on causal lagged spike counts (the Wiener filter), the linear baseline of velocity decoding.

The prediction at bin t is y_t = b + sum_{lag, unit} W[lag, unit] * counts[t - lag, unit], i.e. a linear
filter of the last `steps` bins (Wessberg et al., 2000; NeuroBench's primate-reaching baselines compare against
the same kind of decoder). Fitted with scikit-learn's `Ridge`; the penalty `alpha` is chosen on the training
split alone: the last `val_fraction` of the (time-ordered) training samples validate each alpha on a grid, then
the model is refitted on the whole training split with the best one. The test split is never looked at.

Cost for the comparison table, per decoded step: `steps * units * outputs` multiply-accumulates (dense MACs),
of which only those with a non-zero count do work (effective MACs, measured on the test inputs); the footprint
is the float32 weights and biases, 4 bytes each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from spikeport.errors import InputDataError

__all__ = ["ALPHAS", "RegressionBaseline", "check_regression_inputs", "regression_scores", "train_ridge"]

ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-1, 5, 13))
"""Penalty grid searched on the training split."""

FLOAT32_BYTES = 4
"""Bytes per parameter of a float32 model (the footprint NeuroBench reports for its float baselines)."""


@dataclass(frozen=True)
class RegressionBaseline:
    """A float baseline trained and scored on one train/test split."""

    name: str
    """"ridge" or "gru"."""
    r2: np.ndarray
    """R² per output on the test split (sklearn.metrics.r2_score), float64 (outputs,)."""
    pearson: np.ndarray
    """Pearson correlation per output on the test split, float64 (outputs,)."""
    pred: np.ndarray
    """Test predictions, float64 (samples, outputs)."""
    macs_per_step: int
    """Dense multiply-accumulates per decoded step, as evaluated here (a window of `steps` bins per step)."""
    effective_macs_per_step: float
    """MACs whose input is non-zero, averaged over the test samples (NeuroBench's "effective MACs")."""
    params: int
    """Number of parameters."""
    footprint_bytes: int
    """Parameter memory at float32, bytes."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Further facts (chosen alpha, hidden size, epochs, streaming cost)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    def summary(self) -> dict[str, Any]:
        """JSON-ready row of the comparison table."""
        return {"model": self.name, "r2": [float(v) for v in self.r2], "r2_mean": float(np.mean(self.r2)),
                "pearson": [float(v) for v in self.pearson], "macs_per_step": self.macs_per_step,
                "effective_macs_per_step": self.effective_macs_per_step, "params": self.params,
                "footprint_bytes": self.footprint_bytes, **dict(self.details)}


def check_regression_inputs(x: np.ndarray, y: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    """x (samples, steps, units) and y (samples, outputs) as float64, checked for shape and finiteness.

    Raises:
        InputDataError: wrong dimensions, mismatched sample counts, fewer than 2 samples, or NaN/inf.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 3 or y.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise InputDataError(f"{where}: need x (samples, steps, units) and y (samples, outputs) with the same "
                             f">= 2 samples, got {x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InputDataError(f"{where}: inputs or targets hold NaN or inf")
    return x, y


def regression_scores(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R² per output from sklearn.metrics.r2_score, Pearson r per output)."""
    from sklearn.metrics import r2_score

    from spikeport.train.tasks import pearson

    r2 = np.asarray(r2_score(target, pred, multioutput="raw_values"), dtype=np.float64)
    return r2, pearson(pred, target)


def _validation_r2(fit_x: np.ndarray, fit_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray,
                   alphas: tuple[float, ...]) -> list[float]:
    """Mean validation R² of ridge (with intercept) for every alpha, from one eigendecomposition of X^T X.

    The same solution as sklearn's `Ridge(alpha)` (centered X and y, unpenalized intercept), computed for the whole
    grid at the cost of one fit.
    """
    x_mean, y_mean = fit_x.mean(axis=0), fit_y.mean(axis=0)
    xc, yc = fit_x - x_mean, fit_y - y_mean
    eigval, eigvec = np.linalg.eigh(xc.T @ xc)
    proj = eigvec.T @ (xc.T @ yc)
    val_proj = (val_x - x_mean) @ eigvec
    scores = []
    for alpha in alphas:
        pred = val_proj @ (proj / (np.maximum(eigval, 0.0) + alpha)[:, None]) + y_mean
        scores.append(float(np.mean(regression_scores(pred, val_y)[0])))
    return scores


def train_ridge(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, *,
                alphas: tuple[float, ...] = ALPHAS, val_fraction: float = 0.2) -> RegressionBaseline:
    """Fit the Wiener filter on the training windows (alpha chosen on their time-ordered tail) and score it.

    Args:
        x_train, x_test: spike counts (samples, steps, units), samples in time order within each session.
        y_train, y_test: targets (samples, outputs).
        alphas: penalty grid.
        val_fraction: share of the training samples (the last ones) that choose alpha.

    Raises:
        InputDataError: malformed inputs, or too few training samples to hold some out for choosing alpha.
    """
    x_train, y_train = check_regression_inputs(x_train, y_train, "ridge training data")
    x_test, y_test = check_regression_inputs(x_test, y_test, "ridge test data")
    if x_train.shape[1:] != x_test.shape[1:] or y_train.shape[1] != y_test.shape[1]:
        raise InputDataError(f"ridge: train and test shapes differ: {x_train.shape[1:]} vs {x_test.shape[1:]}")
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    n_val = round(val_fraction * len(flat_train))
    if n_val < 2 or len(flat_train) - n_val < 2:
        raise InputDataError(f"ridge: {len(flat_train)} training samples are too few to choose alpha")
    fit_x, fit_y, val_x, val_y = flat_train[:-n_val], y_train[:-n_val], flat_train[-n_val:], y_train[-n_val:]
    from sklearn.linear_model import Ridge

    scores = _validation_r2(fit_x, fit_y, val_x, val_y, alphas)
    alpha = alphas[int(np.argmax(scores))]
    model = Ridge(alpha=alpha).fit(flat_train, y_train)
    pred = model.predict(flat_test)
    r2, r = regression_scores(pred, y_test)
    steps, units = x_train.shape[1:]
    outputs = y_train.shape[1]
    params = steps * units * outputs + outputs
    return RegressionBaseline(
        name="ridge", r2=r2, pearson=r, pred=np.asarray(pred, dtype=np.float64),
        macs_per_step=steps * units * outputs,
        effective_macs_per_step=float(np.mean(np.count_nonzero(flat_test, axis=1)) * outputs),
        params=params, footprint_bytes=params * FLOAT32_BYTES,
        details={"alpha": alpha, "validation_r2_by_alpha": dict(zip(alphas, scores, strict=True)),
                 "lags": steps},
    )
