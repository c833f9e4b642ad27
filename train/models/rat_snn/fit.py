"""Training of the RAT-SNN decoder: stepwise pretraining across sessions, then subjects; prediction.

Loss: mean squared error of the standardized velocity (targets are divided by the training std, `data.py`).

Stepwise pretraining (`pretraining_stages`): the model first learns the first session of the first subject, then
all sessions of that subject, then every subject's sessions; stages whose samples equal the previous stage's are
dropped, so a single-session run trains in one stage. Each stage continues from the weights of the previous one
with a fresh Adam state; the epochs are shared out evenly, earlier stages getting the remainder, and a stage's
samples are a superset of the previous stage's (curriculum: one session's tuning first, then what survives drift
between sessions, then subject differences). Adaptation (`readout_fit.py`) then refits the readout.

Determinism: seeded batch order (`train_loop`), `torch.manual_seed` inside `torch.random.fork_rng`, deterministic
kernels, all restored afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from spikeport.train.loop import BatchResult, train_loop

__all__ = ["BATCH_SIZE", "DEFAULT_EPOCHS", "LR", "FitHistory", "fit", "predict", "pretraining_stages"]

DEFAULT_EPOCHS = 12
"""Pretraining epochs, shared by the stages (12 over the default 80 trials per session: 24 epochs over 24 trials
gave 0.523 mean R² on the run's own test split, 12 over 80 gave 0.644; docs/rat-snn.md)."""
BATCH_SIZE = 64
LR = 2e-2


@dataclass(frozen=True)
class FitHistory:
    """Loss (standardized MSE) per epoch, and the stages that produced them."""

    loss: tuple[float, ...]
    stages: tuple[dict, ...]
    """Per stage: its name, sample count and epochs."""
    wall_time_s: float


@contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seed torch, require deterministic kernels and use one thread in the block; restore all three.

    One thread: the model's matrices are tiny, and on a loaded 2-core machine torch's thread pool made every
    Linear about 5x slower (measured: 65 ms vs 330 ms per batch of 64 windows)."""
    previous, threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(previous)
            torch.set_num_threads(threads)


def pretraining_stages(sessions: np.ndarray, subjects: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(name, sample indices) of each pretraining stage: first session, first subject's sessions, all subjects."""
    sessions, subjects = np.asarray(sessions), np.asarray(subjects)
    first_subject = subjects[0] if len(subjects) else 0
    first_session = sessions[0] if len(sessions) else 0
    candidates = [
        ("first session", np.flatnonzero((sessions == first_session) & (subjects == first_subject))),
        ("sessions of the first subject", np.flatnonzero(subjects == first_subject)),
        ("all subjects", np.arange(len(sessions))),
    ]
    stages: list[tuple[str, np.ndarray]] = []
    for name, idx in candidates:
        if len(idx) and (not stages or len(idx) != len(stages[-1][1])):
            stages.append((name, idx))
    return stages


def _train(model, x: torch.Tensor, y: torch.Tensor, *, epochs: int, seed: int, lr: float, progress: bool,
           desc: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    def step(batch: torch.Tensor) -> BatchResult:
        per_sample = ((model(x[batch]).outputs - y[batch]) ** 2).mean(dim=1)
        return BatchResult(loss=per_sample.mean(), loss_sum=per_sample.sum().detach(),
                           metric_sum=per_sample.sum().detach())

    model.train()
    history = train_loop(model.parameters(), step, len(y), epochs=epochs, batch_size=BATCH_SIZE, lr=lr, seed=seed,
                         progress=progress, desc=desc)
    model.eval()
    return tuple(history.loss), tuple(history.metric)


def fit(model, x: np.ndarray, y: np.ndarray, *, sessions: np.ndarray | None = None,
        subjects: np.ndarray | None = None, epochs: int = DEFAULT_EPOCHS, seed: int = 0,
        progress: bool = True) -> FitHistory:
    """Pretrain `model` in place, stage by stage (`pretraining_stages`), on windows x (n, T, units), y (n, outputs).

    Raises:
        ValueError: mismatched shapes, no samples, or epochs < 1.
    """
    if x.ndim != 3 or len(x) != len(y) or len(y) == 0:
        raise ValueError(f"fit: need windows (n, T, units) and targets (n, outputs), got {x.shape}, {y.shape}")
    if epochs < 1:
        raise ValueError(f"fit: epochs must be >= 1, got {epochs}")
    n = len(y)
    stages = pretraining_stages(np.zeros(n) if sessions is None else sessions,
                                np.zeros(n) if subjects is None else subjects)
    stages = stages[-epochs:]  # fewer epochs than stages: keep the last (widest) stages
    share = [epochs // len(stages) + (1 if k < epochs % len(stages) else 0) for k in range(len(stages))]
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    yt = torch.as_tensor(np.asarray(y, dtype=np.float32))
    start, losses, facts = time.perf_counter(), [], []
    with deterministic(seed):
        for k, ((name, idx), n_epochs) in enumerate(zip(stages, share, strict=True)):
            sel = torch.as_tensor(idx)
            loss, _ = _train(model, xt[sel], yt[sel], epochs=n_epochs, seed=seed + k, lr=LR, progress=progress,
                             desc=f"pretrain {k + 1}/{len(stages)}")
            losses += loss
            facts.append({"stage": name, "samples": len(idx), "epochs": n_epochs})
    return FitHistory(loss=tuple(losses), stages=tuple(facts), wall_time_s=time.perf_counter() - start)


def predict(model, x: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """Float predictions (n, outputs), float64."""
    model.eval()
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    with deterministic(0), torch.no_grad():
        parts = [model(xt[i : i + batch_size]).outputs for i in range(0, len(xt), batch_size)]
    if not parts:
        return np.zeros((0, model.config.n_outputs))
    return torch.cat(parts).double().numpy()
