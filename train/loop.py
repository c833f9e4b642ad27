"""The one training loop: seeded batch order, Adam, a progress bar, and per-epoch loss and training metric.

Float training (`spikeport.train.models.decoder.fit`, and any other family's trainer) and integer fine-tuning
(`spikeport.train.qat`) differ only in their `step`: the forward pass and loss of one batch. The loop owns what
they share, so both draw batch orders the same way and report the same history.

Per epoch the loop draws `torch.randperm(n_samples)` from a private `torch.Generator` seeded with `seed` (one
draw per epoch, nothing else consumes it), splits it into consecutive batches of `batch_size` (the last may be
smaller) and, per batch, calls `step(batch_indices)`, clears the gradients, back-propagates `BatchResult.loss` and
takes one Adam step. Epoch loss and metric are the batch sums divided by `n_samples`.

Inside `spikeport.train.distributed.data_parallel()` under torchrun, each rank steps on its shard of every batch
(with `BatchResult.loss` the shard's mean, weighted by the shard's share of the batch), the gradients are summed
over the ranks before the Adam step, and the epoch sums are summed over the ranks; only rank 0 shows progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from spikeport.train import distributed

__all__ = ["BatchResult", "LoopHistory", "train_loop"]


@dataclass(frozen=True)
class BatchResult:
    """What a training step returns for one batch."""

    loss: torch.Tensor
    """Scalar to back-propagate (normally the batch's mean loss)."""
    loss_sum: float | torch.Tensor
    """The batch's loss summed over its samples (for the epoch mean)."""
    metric_sum: float | torch.Tensor = 0.0
    """The training metric summed over the batch's samples (e.g. correct predictions)."""
    extras: Mapping[str, float | torch.Tensor] = field(default_factory=dict)
    """Further per-batch sums to accumulate per epoch (e.g. hidden spikes)."""


@dataclass(frozen=True)
class LoopHistory:
    """Per-epoch curves of `train_loop`."""

    loss: tuple[float, ...]
    """Mean loss per sample, one value per epoch."""
    metric: tuple[float, ...]
    """Mean training metric per sample, one value per epoch (running: the weights change during the epoch)."""
    sums: tuple[Mapping[str, float], ...]
    """Each epoch's `BatchResult.extras`, summed over its batches."""
    wall_time_s: float = field(default=0.0, compare=False)
    """Seconds spent in the loop (not part of equality)."""


def train_loop(
    parameters: Iterable[torch.nn.Parameter],
    step: Callable[[torch.Tensor], BatchResult],
    n_samples: int,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    progress: bool = True,
    desc: str = "train",
    postfix: Callable[[float, float, Mapping[str, float]], Mapping[str, str]] | None = None,
) -> LoopHistory:
    """Train `parameters` with Adam for `epochs` passes over `n_samples` samples in seeded random batches.

    Args:
        parameters: the tensors Adam updates.
        step: (batch indices, int64 tensor) -> BatchResult; runs the forward pass and loss of that batch.
        n_samples: number of training samples (indices 0..n_samples-1).
        epochs, batch_size: passes and samples per optimiser step.
        lr: Adam learning rate.
        seed: seed of the batch order.
        progress: show a tqdm bar over epochs.
        desc: the bar's label.
        postfix: (epoch loss, epoch metric, epoch extras sums) -> values shown on the bar after each epoch.

    Returns:
        Loss, metric and extras per epoch.

    Raises:
        ValueError: If n_samples, epochs, batch_size or lr is not positive.
    """
    if n_samples < 1 or epochs < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(
            "train_loop: n_samples, epochs, batch_size and lr must be positive, "
            f"got {n_samples}, {epochs}, {batch_size}, {lr}"
        )
    start = time.perf_counter()
    parameters = list(parameters)
    parallel = distributed.data_parallel_active()  # torchrun: shard batches, sum gradients over the ranks
    if parallel:
        distributed.broadcast_parameters(parameters)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(parameters, lr=lr)
    losses, metrics, sums = [], [], []
    shown = progress and distributed.is_main()
    bar = tqdm(range(epochs), desc=desc, unit="epoch", disable=not shown, leave=False)
    for _ in bar:
        order = torch.randperm(n_samples, generator=generator)
        total_loss, total_metric, extras = 0.0, 0.0, {}
        for batch in order.split(batch_size):
            part = distributed.shard(batch) if parallel else batch
            result = step(part) if len(part) else None  # a batch smaller than the group leaves some ranks idle
            optimiser.zero_grad()
            if result is not None:
                (result.loss * (len(part) / len(batch)) if parallel else result.loss).backward()
            if parallel:
                distributed.all_reduce_gradients(parameters)
            optimiser.step()
            if result is None:
                continue
            total_loss += float(result.loss_sum)
            total_metric += float(result.metric_sum)
            for key, value in result.extras.items():
                extras[key] = extras.get(key, 0.0) + float(value)
        if parallel:
            total_loss, total_metric, extras = distributed.sum_over_ranks(total_loss, total_metric, extras)
        losses.append(total_loss / n_samples)
        metrics.append(total_metric / n_samples)
        sums.append(extras)
        if postfix is not None:
            bar.set_postfix(postfix(losses[-1], metrics[-1], extras))
    return LoopHistory(
        loss=tuple(losses), metric=tuple(metrics), sums=tuple(sums), wall_time_s=time.perf_counter() - start
    )
