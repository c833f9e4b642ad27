"""Training of ISAM-MTL: stage 1 (encoder, surrogate gradients) and stage 2 (frozen encoder, Hebbian memories).

Stage 1 loss per trial (docs/isam-mtl.md): recon_weight * MSE(decoder(latent rates per window), input rates per
window) + kl_weight * KL(N(mu, sigma^2) || N(m_y, I)) + guidance_weight * cross-entropy of the cosine between the
latent spike counts and learned class prototypes (scaled by 10). With `label_guided=False` the prior is N(0, I)
and there is no cross-entropy (the ablation). Batches, Adam and the history come from `spikeport.train.loop`;
determinism as the decoder family (`spikeport.train.models.decoder.fit._deterministic`).

Stage 2 freezes the encoder and learns one memory per subject from the latent spike counts and the labels
(`HebbianAssociativeMemory.adapt`), plus a memory "pooled" over all training subjects, which the deployed graph
carries (the subject-independent readout of the pipeline's test split).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from spikeport.train.loop import BatchResult, train_loop
from spikeport.train.models.decoder.fit import _deterministic
from spikeport.train.models.isam.model import IsamModel, window_means

__all__ = [
    "POOLED",
    "StageHistory",
    "fit_encoder",
    "latent_spikes",
    "learn_memories",
    "learning_counts",
    "memory_counts",
    "predict",
    "predict_counts",
]

POOLED = "pooled"
"""Memory key of the memory learned over all training subjects (the one the deployed graph carries)."""
PROTOTYPE_SCALE = 10.0
"""Inverse temperature of the guidance cross-entropy on cosine similarities (cosines lie in [-1, 1])."""


@dataclass(frozen=True)
class StageHistory:
    """Per-epoch curves of stage 1."""

    loss: tuple[float, ...]
    recon: tuple[float, ...]
    kl: tuple[float, ...]
    train_accuracy: tuple[float, ...]
    """Running accuracy of the guidance prototypes (0 with label_guided=False)."""
    latent_rate: tuple[float, ...]
    wall_time_s: float = field(default=0.0, compare=False)


def _tensor(spikes: np.ndarray, model: IsamModel) -> torch.Tensor:
    spikes = np.asarray(spikes)
    if spikes.ndim != 3 or spikes.shape[2] != model.config.n_inputs:
        raise ValueError(f"ISAM-MTL: spikes must have shape (trials, T, {model.config.n_inputs}), got {spikes.shape}")
    if spikes.shape[1] < model.config.recon_windows:
        raise ValueError(f"ISAM-MTL: {spikes.shape[1]} steps are fewer than recon_windows={model.config.recon_windows}")
    return torch.as_tensor(spikes.astype(np.float32))


def fit_encoder(
    model: IsamModel,
    spikes: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
) -> StageHistory:
    """Stage 1: train encoder, decoder, prior means and prototypes in place (memories untouched)."""
    c = model.config
    x = _tensor(spikes, model)
    y = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    if y.shape != (len(x),) or len(y) == 0 or y.min() < 0 or y.max() >= c.n_classes:
        raise ValueError(f"fit_encoder: need labels in [0, {c.n_classes}) of shape ({len(x)},), got {tuple(y.shape)}")
    target = window_means(x, c.recon_windows).reshape(len(x), c.recon_windows, c.n_features, c.n_electrodes)
    noise_gen = torch.Generator().manual_seed(seed + 1)

    def step(batch: torch.Tensor) -> BatchResult:
        noise = torch.randn(len(batch), c.n_latent, generator=noise_gen)
        out = model(x[batch], noise=noise)
        recon = ((model.reconstruct(out.latent_spikes) - target[batch]) ** 2).mean(dim=(1, 2, 3))
        prior = model.prior_mu[y[batch]] if c.label_guided else torch.zeros_like(out.mu)
        var = (2 * out.log_sigma).exp()
        kl = 0.5 * (var + (out.mu - prior) ** 2 - 1 - 2 * out.log_sigma).sum(dim=1)
        loss = c.recon_weight * recon + c.kl_weight * kl
        correct = 0
        if c.label_guided and c.guidance_weight > 0:
            logits = guidance_logits(model, model.counts(out.latent_spikes))
            loss = loss + c.guidance_weight * nn.functional.cross_entropy(logits, y[batch], reduction="none")
            correct = int((logits.argmax(dim=1) == y[batch]).sum())
        return BatchResult(
            loss=loss.mean(),
            loss_sum=loss.detach().sum(),
            metric_sum=correct,
            extras={
                "recon": float(recon.detach().sum()),
                "kl": float(kl.detach().sum()),
                "spikes": float(out.latent_spikes.detach().sum()),
            },
        )

    parameters = [p for name, p in model.named_parameters()]
    with _deterministic(seed, 1):
        model.train()
        history = train_loop(
            parameters,
            step,
            len(y),
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            seed=seed,
            progress=progress,
            desc="stage 1 (encoder)",
        )
    model.eval()
    n = len(y)
    return StageHistory(
        loss=history.loss,
        recon=tuple(s["recon"] / n for s in history.sums),
        kl=tuple(s["kl"] / n for s in history.sums),
        train_accuracy=history.metric,
        latent_rate=tuple(s["spikes"] / (n * x.shape[1] * c.n_latent) for s in history.sums),
        wall_time_s=history.wall_time_s,
    )


def guidance_logits(model: IsamModel, counts: torch.Tensor) -> torch.Tensor:
    """Cosine of the counts to each class prototype, scaled: the label-guidance head (training only)."""
    a = nn.functional.normalize(counts, dim=1, eps=1e-6)
    b = nn.functional.normalize(model.prototypes, dim=1, eps=1e-6)
    return PROTOTYPE_SCALE * a @ b.T


def latent_spikes(model: IsamModel, spikes: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """The frozen encoder's latent spikes (trials, T, n_latent), uint8, noise off."""
    x = _tensor(spikes, model)
    model.eval()
    with _deterministic(0, 1), torch.no_grad():
        parts = [model(x[i : i + batch_size]).latent_spikes for i in range(0, len(x), batch_size)]
    if not parts:
        return np.zeros((0, x.shape[1], model.config.n_latent), dtype=np.uint8)
    return torch.cat(parts).numpy().astype(np.uint8)


def memory_counts(model: IsamModel, latent: np.ndarray) -> torch.Tensor:
    """Float counts the memory recalls with: those that reach the accumulator in T steps (`IsamModel.counts`)."""
    return model.counts(torch.as_tensor(np.asarray(latent, dtype=np.float32)))


def learning_counts(latent: np.ndarray) -> torch.Tensor:
    """Float counts the memory learns from: every latent spike of the sample, as the on-chip plastic readout sees
    them (`spikeport.train.models.isam.deploy`)."""
    return torch.as_tensor(np.asarray(latent, dtype=np.float32)).sum(dim=1)


def learn_memories(model: IsamModel, spikes: np.ndarray, labels: np.ndarray, subjects: np.ndarray) -> float:
    """Stage 2: a memory per subject (from zeros) and the pooled memory, in place; returns the seconds taken."""
    start = time.perf_counter()
    counts = learning_counts(latent_spikes(model, spikes))
    labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    subjects = np.asarray(subjects)
    model.memory.load_memories({})
    for subject in np.unique(subjects):
        rows = torch.as_tensor(subjects == subject)
        model.memory.adapt(int(subject), counts[rows], labels[rows])
    model.memory.adapt(POOLED, counts, labels)
    return time.perf_counter() - start


def predict_counts(model: IsamModel, counts: torch.Tensor, subject: int | str = POOLED) -> np.ndarray:
    """Class per trial from latent counts with a subject's memory."""
    return model.memory.predict(counts, subject).numpy().astype(np.int64)


def predict(model: IsamModel, spikes: np.ndarray, subject: int | str = POOLED) -> np.ndarray:
    """Float predictions with a subject's memory (default: the pooled one, as deployed)."""
    return predict_counts(model, memory_counts(model, latent_spikes(model, spikes)), subject)
