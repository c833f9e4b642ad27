"""Ridge (Wiener filter) and GRU velocity baselines on SYNTHETIC reaching data, with their op counts."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from spikeport.errors import InputDataError
from spikeport.train.baselines.gru import gru_macs, train_gru
from spikeport.train.baselines.ridge import ALPHAS, _validation_r2, regression_scores, train_ridge
from spikeport.train.data.intracortical import SyntheticReachingConfig, make_synthetic_reaching, split_windows


@pytest.fixture(scope="module")
def windows():
    cfg = SyntheticReachingConfig(n_subjects=1, sessions_per_subject=1, trials_per_session=30, n_units=32)
    return split_windows(make_synthetic_reaching(cfg, seed=0), bin_s=0.05, steps=5)


def test_ridge_beats_the_mean_and_counts_its_ops(windows) -> None:
    tr, te = windows.train, windows.test
    ridge = train_ridge(tr.x, tr.y, te.x, te.y)
    mean_r2 = regression_scores(np.broadcast_to(tr.y.mean(axis=0), te.y.shape), te.y)[0]
    assert np.all(mean_r2 <= 0.0) and np.all(ridge.r2 > 0.3)
    assert np.all(ridge.pearson > 0.5)
    assert ridge.macs_per_step == 5 * 32 * 2 and ridge.params == 5 * 32 * 2 + 2
    assert ridge.footprint_bytes == 4 * ridge.params
    nonzero = np.mean(np.count_nonzero(te.x.reshape(len(te.x), -1), axis=1))
    assert ridge.effective_macs_per_step == pytest.approx(2 * nonzero) and ridge.effective_macs_per_step < 320
    assert ridge.details["alpha"] in ALPHAS


def test_ridge_never_looks_at_the_test_targets(windows) -> None:
    tr, te = windows.train, windows.test
    a = train_ridge(tr.x, tr.y, te.x, te.y)
    b = train_ridge(tr.x, tr.y, te.x, te.y[::-1].copy())
    assert a.details["alpha"] == b.details["alpha"]
    np.testing.assert_array_equal(a.pred, b.pred)


def test_alpha_search_equals_sklearn_ridge(windows) -> None:
    x = windows.train.x.reshape(len(windows.train.x), -1).astype(np.float64)
    y = windows.train.y
    n = len(x) // 5
    for alpha in (0.1, 10.0, 1000.0):
        ours = _validation_r2(x[:-n], y[:-n], x[-n:], y[-n:], (alpha,))[0]
        theirs = np.mean(regression_scores(Ridge(alpha=alpha).fit(x[:-n], y[:-n]).predict(x[-n:]), y[-n:])[0])
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-9)


def test_gru_trains_and_counts_its_ops(windows) -> None:
    tr, te = windows.train, windows.test
    gru = train_gru(tr.x, tr.y, te.x, te.y, hidden=16, epochs=8, seed=0)
    assert np.all(gru.r2 > 0.3)  # the untrained baseline (predicting the mean) scores <= 0
    assert gru.details["train_loss"][-1] < gru.details["train_loss"][0]
    units, hidden, outputs = 32, 16, 2
    assert gru.params == 3 * hidden * (units + hidden) + 6 * hidden + hidden * outputs + outputs  # torch's GRU
    assert gru.macs_per_step == gru_macs(5, units, hidden, outputs) == 5 * 3 * 16 * 48 + 32
    assert gru.details["streaming_macs"] == 3 * 16 * 48 + 32 and gru.footprint_bytes == 4 * gru.params
    short = [train_gru(tr.x[:300], tr.y[:300], te.x, te.y, hidden=8, epochs=2, seed=1).pred for _ in range(2)]
    np.testing.assert_array_equal(short[0], short[1])  # seeded: the same run twice gives the same predictions


def test_bad_inputs_are_rejected(windows) -> None:
    tr, te = windows.train, windows.test
    with pytest.raises(InputDataError, match="same"):
        train_ridge(tr.x, tr.y[:-1], te.x, te.y)
    y = tr.y.copy()
    y[3, 0] = np.nan
    with pytest.raises(InputDataError, match="NaN"):
        train_gru(tr.x, y, te.x, te.y)
