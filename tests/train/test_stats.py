"""Wilson intervals, exact binomial tests and the per-subject results table, against values known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spikeport.train.evaluation.stats import binomial_p, mean_sd, results_table, subject_result, wilson_interval


def test_wilson_known_values() -> None:
    # 8 of 10: the textbook interval (Brown, Cai & DasGupta 2001; statsmodels' proportion_confint method="wilson")
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4901625, abs=1e-6) and hi == pytest.approx(0.9433178, abs=1e-6)
    # 0 of n: lower bound 0, upper bound z^2 / (n + z^2)
    z2 = 1.959963984540054**2
    assert wilson_interval(0, 10) == (0.0, pytest.approx(z2 / (10 + z2), abs=1e-12))
    assert wilson_interval(10, 10)[1] == 1.0
    with pytest.raises(ValueError, match="correct=11, n=10"):
        wilson_interval(11, 10)


def test_binomial_known_values() -> None:
    # P(X >= 8 | n=10, p=1/2) = (C(10,8) + C(10,9) + C(10,10)) / 2^10 = 56 / 1024
    assert binomial_p(8, 10, 0.5) == pytest.approx(56 / 1024, rel=1e-12)
    # four classes: P(X >= 3 | n=4, p=1/4) = 4 * (1/4)^3 * (3/4) + (1/4)^4 = 13 / 256
    assert binomial_p(3, 4, 0.25) == pytest.approx(13 / 256, rel=1e-12)
    assert binomial_p(0, 10, 0.5) == 1.0


def test_mean_sd_is_sample_sd() -> None:
    assert mean_sd([0.5, 0.7, 0.9]) == (pytest.approx(0.7), pytest.approx(0.2))
    assert mean_sd([0.8]) == (0.8, 0.0)


def test_results_table() -> None:
    y = np.array([0, 1] * 5)
    preds = {
        "csp_lda": {1: (y.copy(), y), 2: (np.array([0] * 10), y)},
        "spikeport": {1: (np.array([0, 1] * 4 + [1, 0]), y), 2: (y.copy(), y)},
    }
    table = results_table(preds, n_classes=2)
    csp = table["models"]["csp_lda"]
    assert [r["accuracy"] for r in csp["subjects"]] == [1.0, 0.5]
    assert csp["mean"] == 0.75 and csp["sd"] == pytest.approx(math.sqrt(0.125))
    assert csp["pooled"]["correct"] == 15 and csp["pooled"]["n"] == 20
    assert table["models"]["spikeport"]["subjects"][0]["correct"] == 8
    assert subject_result(1, y, y, n_classes=2).p_value == pytest.approx(1 / 1024)
    lines = table["lines"]
    assert lines[0].split() == ["subject", "csp_lda", "spikeport"]
    assert lines[1].startswith("1") and "1.000 [0.72,1.00]*" in lines[1] and "0.800 [0.49,0.94] " in lines[1]
    assert "0.750 ± 0.354" in lines[3]
