"""A small float GRU decoder, the recurrent baseline of velocity decoding (trained with torch on the same split).

The GRU reads a causal window of `steps` bins of spike counts (log1p-compressed, oldest bin first, state starting
at zero) and a linear readout of its last hidden state predicts the velocity of the window's last bin. Targets are
standardized with the training split's mean and standard deviation for training and mapped back for scoring.
The number of epochs is fixed; the weights kept are those of the epoch with the best R² on the last
`val_fraction` of the (time-ordered) training samples, which are held out from the gradient steps.

Cost per decoded step as evaluated here (a fresh window per step): `steps * 3 * hidden * (units + hidden)`
multiply-accumulates in the GRU's gate matrices plus `hidden * outputs` in the readout (gate nonlinearities and
element-wise products not counted, as in NeuroBench's MAC counts). Run as a streaming decoder (one bin per step,
state carried on) it would cost `3 * hidden * (units + hidden) + hidden * outputs` (`details["streaming_macs"]`).
Effective MACs count the input-matrix work only for non-zero inputs. Footprint: float32 parameters, 4 bytes each.
"""

from __future__ import annotations

import numpy as np

from spikeport.errors import InputDataError
from spikeport.train.baselines.ridge import (
    FLOAT32_BYTES,
    RegressionBaseline,
    check_regression_inputs,
    regression_scores,
)

__all__ = ["gru_macs", "train_gru"]


def gru_macs(steps: int, units: int, hidden: int, outputs: int) -> int:
    """Dense MACs of one windowed prediction: `steps` GRU updates (3 gates) and one linear readout."""
    return steps * 3 * hidden * (units + hidden) + hidden * outputs


def _build(units: int, hidden: int, outputs: int):
    import torch

    class GRUDecoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = torch.nn.GRU(units, hidden, batch_first=True)
            self.readout = torch.nn.Linear(hidden, outputs)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            _, h = self.gru(x)
            return self.readout(h[-1])

    return GRUDecoder()


def train_gru(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, *,
              hidden: int = 32, epochs: int = 30, batch_size: int = 128, lr: float = 3e-3, seed: int = 0,
              val_fraction: float = 0.1) -> RegressionBaseline:
    """Train the GRU on the training windows and score it on the test windows.

    Args:
        x_train, x_test: spike counts (samples, steps, units), samples in time order within each session.
        y_train, y_test: targets (samples, outputs).
        hidden: GRU state size.
        epochs, batch_size, lr: Adam training settings.
        seed: seed of the weights and of the batch order (torch.manual_seed and numpy).
        val_fraction: share of the training samples (the last ones) that choose the epoch kept.

    Raises:
        InputDataError: malformed inputs or too few training samples.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small runs fastest on one thread; restored below
    try:
        return _train(torch, x_train, y_train, x_test, y_test, hidden=hidden, epochs=epochs, batch_size=batch_size,
                      lr=lr, seed=seed, val_fraction=val_fraction)
    finally:
        torch.set_num_threads(threads)


def _train(torch, x_train, y_train, x_test, y_test, *, hidden, epochs, batch_size, lr, seed,
           val_fraction) -> RegressionBaseline:
    x_train, y_train = check_regression_inputs(x_train, y_train, "GRU training data")
    x_test, y_test = check_regression_inputs(x_test, y_test, "GRU test data")
    if x_train.shape[1:] != x_test.shape[1:] or y_train.shape[1] != y_test.shape[1]:
        raise InputDataError(f"GRU: train and test shapes differ: {x_train.shape[1:]} vs {x_test.shape[1:]}")
    n_val = round(val_fraction * len(x_train))
    if n_val < 2 or len(x_train) - n_val < batch_size // 4:
        raise InputDataError(f"GRU: {len(x_train)} training samples are too few")
    steps, units = x_train.shape[1:]
    outputs = y_train.shape[1]
    mean, std = y_train.mean(axis=0), y_train.std(axis=0) + 1e-9
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = _build(units, hidden, outputs)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt = torch.from_numpy(np.log1p(x_train).astype(np.float32))
    yt = torch.from_numpy(((y_train - mean) / std).astype(np.float32))
    fit_n = len(xt) - n_val
    best, best_state, losses = -np.inf, None, []
    for _ in range(epochs):
        model.train()
        order = rng.permutation(fit_n)
        total = 0.0
        for start in range(0, fit_n, batch_size):
            idx = torch.from_numpy(order[start:start + batch_size])
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / fit_n)
        with torch.no_grad():
            model.eval()
            val_pred = model(xt[fit_n:]).numpy()
        score = float(np.mean(regression_scores(val_pred, yt[fit_n:].numpy())[0]))
        if score > best:
            best, best_state = score, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    with torch.no_grad():
        model.eval()
        pred = model(torch.from_numpy(np.log1p(x_test).astype(np.float32))).numpy().astype(np.float64) * std + mean
    r2, r = regression_scores(pred, y_test)
    params = int(sum(p.numel() for p in model.parameters()))
    nonzero_inputs = float(np.mean(np.count_nonzero(x_test.reshape(len(x_test), -1), axis=1)))
    recurrent = steps * 3 * hidden * hidden + hidden * outputs
    return RegressionBaseline(
        name="gru", r2=r2, pearson=r, pred=pred, macs_per_step=gru_macs(steps, units, hidden, outputs),
        effective_macs_per_step=nonzero_inputs * 3 * hidden + recurrent, params=params,
        footprint_bytes=params * FLOAT32_BYTES,
        details={"hidden": hidden, "epochs": epochs, "best_validation_r2": best, "train_loss": losses,
                 "streaming_macs": gru_macs(1, units, hidden, outputs)},
    )
