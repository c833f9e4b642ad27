"""Training and prediction of the spiking decoder (float, surrogate gradients) on the shared loop.

Determinism: `fit` draws mini-batch orders from a private `torch.Generator` seeded with `seed`, runs inside
`torch.random.fork_rng` with `torch.manual_seed(seed)` (so nothing that might use the global RNG leaks
state to or from the caller) and with `torch.use_deterministic_algorithms(True)`, restoring the caller's
setting afterwards, and with a fixed torch thread count (`num_threads`, default 1). The same model seed,
data and arguments therefore give the same weights on the same machine, whatever the caller's settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from spikeport.train.loop import BatchResult, train_loop
from spikeport.train.models.decoder.model import SpikingDecoder

__all__ = ["TrainingHistory", "fit", "outputs", "predict"]


@dataclass(frozen=True)
class TrainingHistory:
    """Per-epoch training curves of `fit`."""

    loss: tuple[float, ...]
    """Mean cross-entropy over the training trials, one value per epoch."""
    train_accuracy: tuple[float, ...]
    """Fraction of training trials classified correctly during the epoch (running, as the weights change)."""
    hidden_rate: tuple[float, ...]
    """Mean hidden spikes per neuron per step during the epoch."""
    wall_time_s: float = field(default=0.0, compare=False)
    """Seconds spent in `fit` (not part of equality, which compares the curves only)."""


@contextmanager
def _deterministic(seed: int, num_threads: int) -> Iterator[None]:
    """Seed torch, require deterministic kernels and fix the thread count in the block; restore all three."""
    previous = torch.are_deterministic_algorithms_enabled()
    previous_threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(num_threads)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(previous)
            torch.set_num_threads(previous_threads)


def _check_spikes(spikes: np.ndarray, model: SpikingDecoder, where: str) -> torch.Tensor:
    """Validate the (trials, T, n_inputs) shape and convert to a float32 tensor."""
    spikes = np.asarray(spikes)
    if spikes.ndim != 3 or spikes.shape[2] != model.config.n_inputs:
        raise ValueError(f"{where}: spikes must have shape (trials, T, {model.config.n_inputs}), got {spikes.shape}")
    return torch.as_tensor(np.asarray(spikes, dtype=np.float32))


def fit(
    model: SpikingDecoder,
    spikes: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int = 40,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
    num_threads: int = 1,
) -> TrainingHistory:
    """Train `model` in place with Adam on the cross-entropy of its logits.

    Args:
        model: The decoder; its weights are updated.
        spikes: Input spikes, shape (trials, T, n_inputs), 0/1.
        labels: Class index per trial, shape (trials,).
        epochs: Passes over the training trials.
        batch_size: Trials per optimiser step (the last batch of an epoch may be smaller).
        lr: Adam learning rate.
        seed: Seed of the batch order and of torch's RNG inside the call.
        progress: Show a tqdm progress bar over epochs.
        num_threads: Torch CPU threads during training. The network is small and steps through time one by one,
            so one thread is fastest (more threads mostly add synchronisation, badly so on a busy machine);
            a fixed count also keeps floating-point reductions, and hence the weights, reproducible.

    Returns:
        The per-epoch loss, training accuracy and hidden firing rate.

    Raises:
        ValueError: On mismatched shapes, no trials, labels out of range, or a non-positive epochs,
            batch_size, num_threads or lr.
    """
    x = _check_spikes(spikes, model, "fit")
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    if y.shape != (x.shape[0],) or len(y) == 0:
        raise ValueError(f"fit: need at least one trial and labels of shape ({x.shape[0]},), got {tuple(y.shape)}")
    if y.min() < 0 or y.max() >= model.config.n_classes:
        raise ValueError(f"fit: labels must lie in [0, {model.config.n_classes - 1}], got [{y.min()}, {y.max()}]")
    if epochs < 1 or batch_size < 1 or num_threads < 1 or not lr > 0:
        raise ValueError(
            "fit: epochs, batch_size, num_threads and lr must be positive, "
            f"got {epochs}, {batch_size}, {num_threads}, {lr}"
        )
    n_steps, n_hidden = x.shape[1], model.config.n_hidden
    criterion = nn.CrossEntropyLoss(reduction="sum")

    def step(batch: torch.Tensor) -> BatchResult:
        out = model(x[batch])
        loss = criterion(out.logits, y[batch])
        return BatchResult(
            loss=loss / len(batch),
            loss_sum=loss.detach(),
            metric_sum=int((out.logits.argmax(dim=1) == y[batch]).sum()),
            extras={"hidden_spikes": float(out.hidden_spikes.detach().sum())},
        )

    def postfix(loss: float, acc: float, sums: dict) -> dict:
        return {"loss": f"{loss:.3f}", "acc": f"{acc:.3f}", "rate": f"{_rate(sums):.3f}"}

    def _rate(sums: dict) -> float:
        return sums["hidden_spikes"] / (len(y) * n_steps * n_hidden)

    with _deterministic(seed, num_threads):
        model.train()
        history = train_loop(
            model.parameters(),
            step,
            len(y),
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            progress=progress,
            desc="train",
            postfix=postfix,
        )
    model.eval()
    return TrainingHistory(
        loss=history.loss,
        train_accuracy=history.metric,
        hidden_rate=tuple(_rate(sums) for sums in history.sums),
        wall_time_s=history.wall_time_s,
    )


def outputs(model: SpikingDecoder, spikes: np.ndarray, *, batch_size: int = 256, num_threads: int = 1) -> np.ndarray:
    """The model's logits (readout voltage averaged over steps) per trial, shape (trials, n_classes), float32.

    Args:
        model: A trained decoder (put in eval mode; no gradients are kept).
        spikes: Input spikes, shape (trials, T, n_inputs).
        batch_size: Trials per forward pass (memory only; the result does not depend on it).
        num_threads: Torch CPU threads for the forward passes (see `fit`).
    """
    x = _check_spikes(spikes, model, "predict")
    model.eval()
    with _deterministic(0, num_threads), torch.no_grad():
        logits = [model(x[i : i + batch_size]).logits for i in range(0, len(x), batch_size)]
    if not logits:
        return np.zeros((0, model.config.n_classes), dtype=np.float32)
    return torch.cat(logits).numpy()


def predict(model: SpikingDecoder, spikes: np.ndarray, *, batch_size: int = 256, num_threads: int = 1) -> np.ndarray:
    """Class index per trial: the argmax of the logits (`outputs`), ties going to the lowest index.

    Returns:
        Shape (trials,), int64.
    """
    logits = outputs(model, spikes, batch_size=batch_size, num_threads=num_threads)
    return np.argmax(logits, axis=1).astype(np.int64)  # numpy: first maximum wins
