"""Training, prediction and the train/test split for the spiking decoder.

Determinism: `fit` draws mini-batch orders from a private `torch.Generator` seeded with `seed`, runs inside
`torch.random.fork_rng` with `torch.manual_seed(seed)` (so nothing that might use the global RNG leaks
state to or from the caller) and with `torch.use_deterministic_algorithms(True)`, restoring the caller's
setting afterwards, and with a fixed torch thread count (`num_threads`, default 1). The same model seed,
data and arguments therefore give the same weights on the same machine, whatever the caller's settings.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from spikeport.train.model import SpikingDecoder
from spikeport.train.synthetic import EEGDataset

__all__ = ["TrainingHistory", "accuracy", "fit", "predict", "split_trials"]


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
        num_threads: Torch CPU threads during training. The network is small and steps through time one by
        one,
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
    start = time.perf_counter()
    losses, accs, rates = [], [], []
    with _deterministic(seed, num_threads):
        gen = torch.Generator().manual_seed(seed)
        optimiser = torch.optim.Adam(model.parameters(), lr=lr)
        criterion = nn.CrossEntropyLoss(reduction="sum")
        model.train()
        bar = tqdm(range(epochs), desc="train", unit="epoch", disable=not progress, leave=False)
        for _ in bar:
            order = torch.randperm(len(y), generator=gen)
            total_loss, correct, spike_sum = 0.0, 0, 0.0
            for batch in order.split(batch_size):
                out = model(x[batch])
                loss = criterion(out.logits, y[batch])
                optimiser.zero_grad()
                (loss / len(batch)).backward()
                optimiser.step()
                total_loss += loss.item()
                correct += int((out.logits.argmax(dim=1) == y[batch]).sum())
                spike_sum += float(out.hidden_spikes.detach().sum())
            losses.append(total_loss / len(y))
            accs.append(correct / len(y))
            rates.append(spike_sum / (len(y) * x.shape[1] * model.config.n_hidden))
            bar.set_postfix(loss=f"{losses[-1]:.3f}", acc=f"{accs[-1]:.3f}", rate=f"{rates[-1]:.3f}")
    model.eval()
    return TrainingHistory(
        loss=tuple(losses),
        train_accuracy=tuple(accs),
        hidden_rate=tuple(rates),
        wall_time_s=time.perf_counter() - start,
    )


def predict(model: SpikingDecoder, spikes: np.ndarray, *, batch_size: int = 256, num_threads: int = 1) -> np.ndarray:
    """Class index per trial: the argmax of the logits, ties going to the lowest index.

    Args:
        model: A trained decoder (put in eval mode; no gradients are kept).
        spikes: Input spikes, shape (trials, T, n_inputs).
        batch_size: Trials per forward pass (memory only; the result does not depend on it).
        num_threads: Torch CPU threads for the forward passes (see `fit`).

    Returns:
        Shape (trials,), int64.
    """
    x = _check_spikes(spikes, model, "predict")
    model.eval()
    with _deterministic(0, num_threads), torch.no_grad():
        logits = [model(x[i : i + batch_size]).logits for i in range(0, len(x), batch_size)]
    if not logits:
        return np.zeros(0, dtype=np.int64)
    return np.argmax(torch.cat(logits).numpy(), axis=1).astype(np.int64)  # numpy: first maximum wins


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of equal entries.

    Raises:
        ValueError: If the arrays differ in shape or are empty.
    """
    pred, labels = np.asarray(pred), np.asarray(labels)
    if pred.shape != labels.shape or pred.size == 0:
        raise ValueError(f"accuracy: need two non-empty arrays of one shape, got {pred.shape} and {labels.shape}")
    return float(np.mean(pred == labels))


def split_trials(
    dataset_or_n: EEGDataset | int, *, test_fraction: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Random train/test split of trial indices, stratified by (subject, class) when given a dataset.

    Every (subject, class) group contributes round(test_fraction * group size) trials to the test set, so both
    sets keep the subject and class proportions. Given a plain count n, trials 0..n-1 are split unstratified.

    Args:
        dataset_or_n: A dataset (stratified split) or a number of trials.
        test_fraction: Share of each group that goes to the test set, in (0, 1).
        seed: Seed of `np.random.default_rng`.

    Returns:
        (train, test): sorted int64 index arrays, disjoint, covering all trials.

    Raises:
        ValueError: If test_fraction is not in (0, 1) or n is negative.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"split_trials: test_fraction must be in (0, 1), got {test_fraction}")
    if isinstance(dataset_or_n, EEGDataset):
        pairs = np.column_stack([dataset_or_n.subjects, dataset_or_n.labels])
        keys = np.unique(pairs, axis=0, return_inverse=True)[1].reshape(-1)
    else:
        if int(dataset_or_n) < 0:
            raise ValueError(f"split_trials: number of trials must be >= 0, got {dataset_or_n}")
        keys = np.zeros(int(dataset_or_n), dtype=np.int64)
    rng = np.random.default_rng(seed)
    test = []
    for key in np.unique(keys):
        members = np.flatnonzero(keys == key)
        n_test = round(test_fraction * len(members))
        test.append(rng.permutation(members)[:n_test])
    test_idx = np.sort(np.concatenate(test)) if test else np.zeros(0, dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(len(keys)), test_idx)
    return train_idx.astype(np.int64), test_idx.astype(np.int64)
