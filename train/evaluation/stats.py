"""Statistics of classification results: Wilson intervals, exact binomial tests against chance, per-subject tables.

* Wilson score interval (Wilson 1927, JASA 22(158); recommended over the normal "Wald" interval for small n by
  Brown, Cai & DasGupta 2001, Stat. Sci. 16(2)): for k correct of n at z = 1.959964 (95 %),
  centre (k + z^2/2) / (n + z^2), half-width z * sqrt(k (n - k) / n + z^2 / 4) / (n + z^2).
* Exact one-sided binomial test (scipy.stats.binomtest, alternative="greater") of k correct out of n against the
  chance level (1 / number of classes, or a given rate): is the classifier better than guessing? With few test
  trials per subject (tens), an accuracy of 0.6 is often not significant; the table says so.
* Mean and sample standard deviation (ddof=1) of per-subject accuracies, as the ISAM-MTL paper reports them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SubjectResult", "binomial_p", "mean_sd", "results_table", "subject_result", "wilson_interval"]

Z95 = 1.959963984540054
"""Two-sided 95 % standard normal quantile, scipy.stats.norm.ppf(0.975)."""


def wilson_interval(correct: int, n: int, *, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion of `correct` successes in `n` trials (95 % by default).

    Raises:
        ValueError: If n < 1 or correct is not in [0, n].
    """
    if n < 1 or not 0 <= correct <= n:
        raise ValueError(f"wilson_interval: need 0 <= correct <= n and n >= 1, got correct={correct}, n={n}")
    z2 = z * z
    centre = (correct + z2 / 2) / (n + z2)
    half = z * math.sqrt(correct * (n - correct) / n + z2 / 4) / (n + z2)
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_p(correct: int, n: int, chance: float) -> float:
    """One-sided exact binomial p-value of at least `correct` of `n` right when each is right with `chance`."""
    from scipy.stats import binomtest

    if not 0.0 < chance < 1.0:
        raise ValueError(f"binomial_p: chance must be in (0, 1), got {chance}")
    return float(binomtest(int(correct), int(n), chance, alternative="greater").pvalue)


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0.0 for a single value) of per-subject scores."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        raise ValueError("mean_sd: no values")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


@dataclass(frozen=True)
class SubjectResult:
    """One model's result on one subject's test trials."""

    subject: int
    correct: int
    n: int
    accuracy: float
    ci95: tuple[float, float]
    chance: float
    p_value: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "subject": self.subject, "correct": self.correct, "n": self.n, "accuracy": self.accuracy,
            "ci95": list(self.ci95), "chance": self.chance, "p_value": self.p_value,
        }  # fmt: skip


def subject_result(subject: int, pred: np.ndarray, labels: np.ndarray, *, n_classes: int) -> SubjectResult:
    """Accuracy, Wilson 95 % interval and binomial p-value against 1 / n_classes for one subject."""
    pred, labels = np.asarray(pred), np.asarray(labels)
    if pred.shape != labels.shape or pred.ndim != 1 or pred.size == 0:
        raise ValueError(f"subject_result: need equal non-empty 1-D arrays, got {pred.shape} and {labels.shape}")
    correct, n = int(np.sum(pred == labels)), int(labels.size)
    chance = 1.0 / n_classes
    return SubjectResult(
        subject=int(subject),
        correct=correct,
        n=n,
        accuracy=correct / n,
        ci95=wilson_interval(correct, n),
        chance=chance,
        p_value=binomial_p(correct, n, chance),
    )


def results_table(
    predictions: Mapping[str, Mapping[int, tuple[np.ndarray, np.ndarray]]], *, n_classes: int, alpha: float = 0.05
) -> dict[str, Any]:
    """Per-subject results of several models as one table, for JSON and for the console.

    Args:
        predictions: model name -> subject -> (predicted labels, true labels) of that subject's test trials.
        n_classes: Number of classes (chance is 1 / n_classes).
        alpha: Significance level marked in the text ("*" when p < alpha).

    Returns:
        {"models": {name: {"subjects": [SubjectResult dicts], "mean": m, "sd": s, "pooled": SubjectResult dict over
        all test trials (subject -1)}}, "lines": [text rows, one per subject and a mean row]}.
    """
    models: dict[str, Any] = {}
    for name, per_subject in predictions.items():
        rows = [subject_result(s, p, y, n_classes=n_classes) for s, (p, y) in sorted(per_subject.items())]
        mean, sd = mean_sd([r.accuracy for r in rows])
        all_p = np.concatenate([np.asarray(p) for p, _ in per_subject.values()])
        all_y = np.concatenate([np.asarray(y) for _, y in per_subject.values()])
        models[name] = {
            "subjects": [r.as_dict() for r in rows],
            "mean": mean,
            "sd": sd,
            "pooled": subject_result(-1, all_p, all_y, n_classes=n_classes).as_dict(),
        }
    return {"models": models, "chance": 1.0 / n_classes, "alpha": alpha, "lines": _lines(models, alpha)}


def _lines(models: Mapping[str, Any], alpha: float) -> list[str]:
    names = list(models)
    subjects = sorted({r["subject"] for m in models.values() for r in m["subjects"]})
    width = max([24, *(len(n) + 2 for n in names)])
    lines = ["subject  " + "".join(f"{n:>{width}}" for n in names)]
    for s in subjects:
        cells = []
        for n in names:
            r = next((r for r in models[n]["subjects"] if r["subject"] == s), None)
            if r is None:
                cells.append(f"{'-':>{width}}")
                continue
            star = "*" if r["p_value"] < alpha else " "
            text = f"{r['accuracy']:.3f} [{r['ci95'][0]:.2f},{r['ci95'][1]:.2f}]{star} n={r['n']}"
            cells.append(f"{text:>{width}}")
        lines.append(f"{s:<9}" + "".join(cells))
    lines.append("mean±sd  " + "".join(f"{models[n]['mean']:.3f} ± {models[n]['sd']:.3f}".rjust(width) for n in names))
    lines.append(f"[95% Wilson interval]; * exact binomial test against chance, p < {alpha}")
    return lines
