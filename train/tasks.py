"""Task kinds and their metrics: accuracy for classification, R² and Pearson correlation for regression.

Every stage of the pipeline (float model, integer reference, Lava, the integer training forward) turns its
output into predictions through the model family's readout; these functions score the predictions against the
targets, the same way for every stage, so the report compares like with like.
"""

from __future__ import annotations

from enum import Enum

import numpy as np

__all__ = ["TaskKind", "accuracy", "chance_level", "format_metrics", "pearson", "r2_score", "task_metrics"]


class TaskKind(Enum):
    """What a model family predicts."""

    CLASSIFICATION = "classification"
    """One class index per sample; scored by accuracy against the chance level."""
    REGRESSION = "regression"
    """One real vector per sample, shape (n_outputs,); scored by R² and Pearson correlation per output."""


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of equal entries.

    Raises:
        ValueError: If the arrays differ in shape or are empty.
    """
    pred, labels = np.asarray(pred), np.asarray(labels)
    if pred.shape != labels.shape or pred.size == 0:
        raise ValueError(f"accuracy: need two non-empty arrays of one shape, got {pred.shape} and {labels.shape}")
    return float(np.mean(pred == labels))


def chance_level(labels: np.ndarray) -> float:
    """Accuracy of always answering the most frequent class of `labels` (class indices >= 0)."""
    labels = np.asarray(labels)
    return float(np.max(np.bincount(labels)) / len(labels))


def _regression_pair(pred: np.ndarray, target: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape or pred.ndim != 2 or pred.shape[0] < 2:
        raise ValueError(
            f"{where}: need predictions and targets of one shape (samples >= 2, outputs), "
            f"got {pred.shape} and {target.shape}"
        )
    return pred, target


def r2_score(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Coefficient of determination per output: 1 - SS_res / SS_tot (1 is perfect, 0 is predicting the mean).

    An output whose target is constant has SS_tot = 0; its R² is 1.0 if the prediction is exact, else 0.0. A target
    whose spread is only float rounding noise (SS_tot below 1e-12 of its sum of squares) counts as constant, so R²
    does not explode to -1e29 on it.

    Args:
        pred, target: shape (samples, outputs).

    Returns:
        Shape (outputs,), float64.
    """
    pred, target = _regression_pair(pred, target, "r2_score")
    ss_res = np.sum((target - pred) ** 2, axis=0)
    ss_tot = np.sum((target - target.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = 1.0 - ss_res / ss_tot
    varies = ss_tot > 1e-12 * np.sum(target**2, axis=0)
    return np.where(varies, r2, np.where(ss_res == 0, 1.0, 0.0))


def pearson(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson correlation per output between predictions and targets; 0.0 where either is constant.

    Args:
        pred, target: shape (samples, outputs).

    Returns:
        Shape (outputs,), float64, in [-1, 1].
    """
    pred, target = _regression_pair(pred, target, "pearson")
    dp, dt = pred - pred.mean(axis=0), target - target.mean(axis=0)
    denom = np.sqrt(np.sum(dp**2, axis=0) * np.sum(dt**2, axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sum(dp * dt, axis=0) / denom
    return np.where(denom > 0, np.clip(r, -1.0, 1.0), 0.0)


def task_metrics(task: TaskKind, pred: np.ndarray, target: np.ndarray) -> dict:
    """The report's metric block for one stage's predictions.

    Returns:
        Classification: {"accuracy": float}. Regression: {"r2": [per output], "r2_mean": float,
        "pearson": [per output], "pearson_mean": float}.
    """
    if task is TaskKind.CLASSIFICATION:
        return {"accuracy": accuracy(pred, target)}
    r2, r = r2_score(pred, target), pearson(pred, target)
    return {
        "r2": [float(x) for x in r2],
        "r2_mean": float(np.mean(r2)),
        "pearson": [float(x) for x in r],
        "pearson_mean": float(np.mean(r)),
    }


def format_metrics(metrics: dict, *, labelled: bool = True) -> str:
    """A metric block in a few characters.

    Labelled: 'accuracy 0.850' or 'R² 0.712, r 0.861' (regression: means over outputs); unlabelled: '0.850' or
    '0.712/0.861'.
    """
    if "accuracy" in metrics:
        return f"accuracy {metrics['accuracy']:.3f}" if labelled else f"{metrics['accuracy']:.3f}"
    if labelled:
        return f"R² {metrics['r2_mean']:.3f}, r {metrics['pearson_mean']:.3f}"
    return f"{metrics['r2_mean']:.3f}/{metrics['pearson_mean']:.3f}"
