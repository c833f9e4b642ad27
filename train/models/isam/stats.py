"""One row of an evaluation table (accuracy, Wilson 95% CI, binomial test against chance) and per-subject summaries,
through the shared statistics of `spikeport.train.evaluation.stats`."""

from __future__ import annotations

import numpy as np

__all__ = ["accuracy_row", "summarize"]


def accuracy_row(predictions: np.ndarray, labels: np.ndarray, n_classes: int) -> dict:
    """Accuracy, counts, Wilson 95% CI and one-sided binomial p-value against chance 1 / n_classes."""
    from spikeport.train.evaluation.stats import binomial_p, wilson_interval

    correct, n = int(np.sum(np.asarray(predictions) == np.asarray(labels))), len(labels)
    low, high = wilson_interval(correct, n)
    return {
        "accuracy": correct / n,
        "correct": correct,
        "n": n,
        "ci95": [low, high],
        "p_vs_chance": binomial_p(correct, n, 1.0 / n_classes),
    }


def summarize(accuracies: list[float]) -> dict:
    """Mean and sample standard deviation across subjects."""
    from spikeport.train.evaluation.stats import mean_sd

    mean, sd = mean_sd(accuracies)
    return {"mean": mean, "sd": sd, "n_subjects": len(accuracies)}
