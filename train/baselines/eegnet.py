"""EEGNet baseline from braindecode (Lawhern et al. 2018, J. Neural Eng. 15(5)), cross-subject and fine-tuned.

The network is braindecode's own `EEGNetv4`, not a copy. braindecode 1.x imports torchaudio at package import
(`braindecode/modules/filter.py`), and torchaudio has no build for torch 2.13, so spikeport pins braindecode
0.8.1, the last release whose `braindecode.models` imports without torchaudio (see docs/data-eeg.md).

Protocol per held-out subject (the same split as the few-shot CSP + LDA and the spiking model's adaptation):
1. cross-subject: train on every other subject's trials, test on the held-out subject's test trials;
2. fine-tuned: continue training that model on the held-out subject's K shots per class, test on the same trials.
Inputs are the band-passed epochs, z-scored per subject with statistics from that subject's training trials
(for the held-out subject: its K shots, used without labels, so both variants see identically scaled input).

Training is small on purpose (CPU, a few epochs, Adam); the settings live in `EEGNetConfig`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikeport.errors import MissingDependencyError
from spikeport.train.data.eeg.encode import Standardizer
from spikeport.train.data.eeg.splits import few_shot_split
from spikeport.train.synthetic import EEGDataset

__all__ = ["EEGNetConfig", "eegnet_class", "eegnet_loso"]


@dataclass(frozen=True)
class EEGNetConfig:
    """Training settings of the EEGNet baseline."""

    epochs: int = 30
    """Cross-subject training epochs."""
    finetune_epochs: int = 20
    """Fine-tuning epochs on the held-out subject's shots."""
    batch_size: int = 16
    lr: float = 1e-3
    """Adam learning rate (Lawhern et al. 2018 use Adam with its default 1e-3)."""
    finetune_lr: float = 5e-4
    kernel_length_s: float = 0.5
    """Temporal kernel in seconds: EEGNet's 64 samples at 128 Hz (half a second), scaled to the data's rate."""
    drop_prob: float = 0.25
    """Dropout of EEGNet (0.25 for cross-subject in the paper)."""


def eegnet_class() -> Any:
    """braindecode's EEGNet class (`EEGNetv4`; named `EEGNet` in braindecode >= 1.0).

    Raises:
        MissingDependencyError: If braindecode cannot be imported, with the underlying error.
    """
    try:
        import braindecode.models as models
    except ImportError as exc:
        raise MissingDependencyError(
            f"braindecode cannot be imported ({exc}); install the pinned braindecode==0.8.1 (1.x needs torchaudio, "
            "which has no build for torch 2.13)"
        ) from exc
    return getattr(models, "EEGNetv4", None) or models.EEGNet


def _fit(model: Any, x: np.ndarray, y: np.ndarray, *, epochs: int, lr: float, batch: int, seed: int) -> None:
    import torch

    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(xt), batch):
            idx = order[start : start + batch]
            if idx.numel() < 2:  # batch norm needs two samples
                continue
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()


def _predict(model: Any, x: np.ndarray) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(x, dtype=torch.float32)).argmax(dim=1).numpy().astype(np.int64)


def eegnet_loso(
    dataset: EEGDataset,
    shots: int,
    *,
    subjects: Sequence[int] | None = None,
    seed: int = 0,
    cfg: EEGNetConfig | None = None,
) -> dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Leave-one-subject-out EEGNet, without and with fine-tuning on K shots per class of the held-out subject.

    Args:
        dataset: Band-passed epochs of at least two subjects.
        shots: K trials per class of the held-out subject for fine-tuning (and its standardization statistics).
        subjects: Held-out subjects to evaluate; None: every subject.
        seed: Seeds the split, weight initialisation, dropout and batch order.
        cfg: Training settings.

    Returns:
        {"eegnet_cross_subject": {subject: (pred, labels)}, "eegnet_finetuned": {...}}, both on the same test trials.
    """
    import torch

    cfg = cfg if cfg is not None else EEGNetConfig()
    net_cls = eegnet_class()
    n_classes = len(dataset.class_names)
    kernel = max(2, round(cfg.kernel_length_s * dataset.sfreq))
    cross: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    tuned: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for held in subjects if subjects is not None else np.unique(dataset.subjects):
        held = int(held)
        split = few_shot_split(dataset.subjects, dataset.labels, held, shots, seed=seed)
        others = np.flatnonzero(dataset.subjects != held)
        z, _ = Standardizer.fit(dataset, np.concatenate([others, split.train])).transform(dataset)
        torch.manual_seed(seed)
        model = net_cls(
            n_chans=z.shape[1], n_outputs=n_classes, n_times=z.shape[2], kernel_length=kernel, drop_prob=cfg.drop_prob
        )
        _fit(model, z[others], dataset.labels[others], epochs=cfg.epochs, lr=cfg.lr, batch=cfg.batch_size, seed=seed)
        y_test = dataset.labels[split.test].copy()
        cross[held] = (_predict(model, z[split.test]), y_test)
        _fit(
            model, z[split.train], dataset.labels[split.train], epochs=cfg.finetune_epochs, lr=cfg.finetune_lr,
            batch=cfg.batch_size, seed=seed + 1,
        )  # fmt: skip
        tuned[held] = (_predict(model, z[split.test]), y_test)
    return {"eegnet_cross_subject": cross, "eegnet_finetuned": tuned}
