r"""Per-subject Hebbian associative memory: the classifier head of ISAM-MTL (arXiv 2501.18089).

ISAM-MTL freezes a shared spiking encoder and learns one memory matrix per subject with a Hebbian rule, which
allows few-shot adaptation to new subjects. The paper does not specify the rule or the readout; spikeport's choice
(papers.md) is the teacher-signal outer product and a linear readout. With c (B, L) the latent spike counts
(spikes summed over the T steps) and y (B,) the labels:

.. math::
    W_s \leftarrow W_s + \eta \, \mathrm{onehot}(y)^\top c, \qquad
    \mathrm{scores} = c \, \widetilde W_s^\top, \qquad \hat y = \arg\max_k \mathrm{scores}_k

W_s (n_classes, n_latent) is subject s's memory. The update is plain Hebbian learning in which the teacher spike of
class y is the post-synaptic factor and the latent count the pre-synaptic one: on a chip, a plastic connection
from the latent neurons to the class neurons whose post-synaptic trace is driven by teacher spikes, so row y
accumulates eta times the spikes each latent neuron sent during the sample. It is additive and order-free (the
memory after a set of samples is eta times their class-wise count sums), needs no gradients and no stored
samples. Ties in the readout go to the lowest class index (an empty memory predicts class 0).

:math:`\widetilde W_s` depends on `Normalization`: the raw memory (`NONE`, what the plastic synapses hold), or
each row divided by its L2 norm (`ROWS`, zero rows stay zero), which removes the bias towards classes that had
more samples or higher firing rates. The memory itself always stores the raw sums, so learning stays additive;
the normalized rows can be exported as fixed weights once learning ends. `ROWS` is the default because the raw
dot product favours whichever class prototype fires most overall: on 3 random Poisson-rate prototypes over 40
latent units (rates U(0.02, 0.3), 5 samples per class, 20 steps) raw readout fell to 42 % on some seeds, row
normalization stayed >= 99 % (tests/train/test_layers_associative_memory.py).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["HebbianAssociativeMemory", "MemoryConfig", "Normalization", "SubjectId"]

SubjectId = str | int
"""A subject key: a non-empty string or an int (bool is rejected)."""


class Normalization(enum.Enum):
    """How the readout uses the memory (the stored memory is always the raw Hebbian sum)."""

    NONE = "none"
    """scores = c @ W.T."""
    ROWS = "rows"
    """scores = c @ (W / ||W_k||_2 per row).T; rows without any sample stay zero."""


@dataclass(frozen=True)
class MemoryConfig:
    """Sizes and learning rule of `HebbianAssociativeMemory`."""

    n_latent: int
    """L: latent neurons (pre-synaptic)."""
    n_classes: int
    """Classes (post-synaptic, one teacher per class)."""
    eta: float = 1.0
    """Learning rate: the memory gains eta per latent spike of a sample of that class. Scales the scores only (the
    argmax does not depend on it); it sets the weight range a chip must hold."""
    normalization: Normalization = Normalization.ROWS
    """Readout normalization, see `Normalization` (default `ROWS`, see the module docstring)."""

    def __post_init__(self) -> None:
        for name in ("n_latent", "n_classes"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"MemoryConfig.{name}: must be an int >= 1, got {getattr(self, name)!r}")
        if not (math.isfinite(self.eta) and self.eta > 0):
            raise ValueError(f"MemoryConfig.eta: must be positive and finite, got {self.eta}")
        if not isinstance(self.normalization, Normalization):
            raise ValueError(
                f"MemoryConfig.normalization: must be a Normalization member, got {self.normalization!r}; "
                f"use one of {[m.name for m in Normalization]}"
            )


class HebbianAssociativeMemory(nn.Module):
    """One Hebbian memory matrix per subject over a shared latent spike code (module docstring).

    Memories are saved with `state_dict()` (as extra state, subject keys keep their type) or read and written with
    `memories()` / `load_memories()`.

    Args:
        config: Sizes and learning rule.
    """

    RULE = "hebbian_teacher_outer_counts"
    """Name of the learning rule W += eta * onehot(y).T @ counts, for exporters."""

    def __init__(self, config: MemoryConfig) -> None:
        super().__init__()
        self.config = config
        self._memories: dict[SubjectId, Tensor] = {}

    # ----------------------------------------------------------------------------------------------------- state
    @property
    def subjects(self) -> tuple[SubjectId, ...]:
        """Known subjects, in the order they were added."""
        return tuple(self._memories)

    def rule_params(self) -> dict[str, str | float]:
        """The learning rule and readout as plain values: rule name, eta, normalization name."""
        return {"rule": self.RULE, "eta": float(self.config.eta), "normalization": self.config.normalization.value}

    def memory(self, subject: SubjectId) -> Tensor:
        """A copy of subject's memory, (n_classes, n_latent) float32."""
        return self._get(subject).clone()

    def memories(self) -> dict[SubjectId, Tensor]:
        """Copies of all memories, by subject."""
        return {s: w.clone() for s, w in self._memories.items()}

    def load_memories(self, memories: dict[SubjectId, Tensor]) -> None:
        """Replace all memories by `memories` (each (n_classes, n_latent), finite); validated before any change."""
        checked = {}
        for subject, weight in memories.items():
            _check_subject(subject)
            weight = torch.as_tensor(weight)
            shape = (self.config.n_classes, self.config.n_latent)
            if tuple(weight.shape) != shape:
                raise ValueError(
                    f"HebbianAssociativeMemory.load_memories: subject {subject!r} has a memory of shape "
                    f"{tuple(weight.shape)}, expected {shape}"
                )
            if not torch.isfinite(weight).all():
                raise ValueError(f"HebbianAssociativeMemory.load_memories: subject {subject!r} has NaN/inf entries")
            checked[subject] = weight.detach().to(torch.float32).clone()
        self._memories = checked

    def get_extra_state(self) -> dict[str, Any]:
        """Memories for `state_dict()`."""
        return {"memories": self.memories()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        """Memories from `load_state_dict()`."""
        self.load_memories(state["memories"])

    def add_subject(self, subject: SubjectId) -> None:
        """Start an empty (all-zero) memory for a new subject.

        Raises:
            ValueError: If the subject is already known or the key is not a str/int.
        """
        _check_subject(subject)
        if subject in self._memories:
            raise ValueError(
                f"HebbianAssociativeMemory: subject {subject!r} already has a memory; call hebbian_update to keep "
                "learning or forget() it first"
            )
        self._memories[subject] = torch.zeros(self.config.n_classes, self.config.n_latent)

    def forget(self, subject: SubjectId) -> None:
        """Remove a subject's memory."""
        self._get(subject)
        del self._memories[subject]

    # -------------------------------------------------------------------------------------------- learning, readout
    @torch.no_grad()
    def hebbian_update(self, latent: Tensor, labels: Tensor, subject: SubjectId) -> None:
        """W_s += eta * onehot(labels).T @ counts for a known subject.

        Args:
            latent: Latent spikes (T, B, n_latent) or spike counts (B, n_latent), >= 0 and finite.
            labels: (B,) integer class indices in [0, n_classes).
            subject: A subject added with `add_subject` (or `adapt`).

        Raises:
            ValueError: On an unknown subject or bad shapes, values or labels (the message names which).
        """
        weight = self._get(subject)
        counts = self._counts(latent, "hebbian_update")
        onehot = self._onehot(labels, counts.shape[0])
        weight += self.config.eta * (onehot.T @ counts)

    def adapt(self, subject: SubjectId, latent: Tensor, labels: Tensor) -> None:
        """Few-shot adaptation: a new subject's memory learned from zeros on the given samples.

        Starting from zeros rather than from the mean of the known memories keeps each memory a function of its own
        subject's data only: it does not change when subjects are added or removed, can be deployed alone, and
        needs no rescaling of a prior learned from many more samples (which would outweigh 5 samples per class).
        On a chip it is a reset of the plastic weights. The shared encoder is what carries knowledge across
        subjects.

        Raises:
            ValueError: If the subject is already known (use `hebbian_update`), or on bad inputs; the memory is
                then left unchanged.
        """
        _check_subject(subject)
        if subject in self._memories:
            raise ValueError(
                f"HebbianAssociativeMemory.adapt: subject {subject!r} is already known; adapt() starts a new "
                "subject from zeros, use hebbian_update() to keep learning or forget() it first"
            )
        counts = self._counts(latent, "adapt")
        onehot = self._onehot(labels, counts.shape[0])
        self.add_subject(subject)
        with torch.no_grad():
            self._memories[subject] += self.config.eta * (onehot.T @ counts)

    def scores(self, latent: Tensor, subject: SubjectId) -> Tensor:
        """Class scores (B, n_classes) = counts @ W~.T, W~ the memory after `config.normalization`."""
        weight = self._get(subject)
        counts = self._counts(latent, "scores")
        if self.config.normalization is Normalization.ROWS:
            norms = weight.norm(dim=1, keepdim=True)
            weight = torch.where(norms > 0, weight / norms.clamp_min(torch.finfo(weight.dtype).tiny), weight)
        return counts @ weight.T

    def predict(self, latent: Tensor, subject: SubjectId) -> Tensor:
        """Predicted classes (B,) int64: argmax of `scores`, ties to the lowest class index."""
        return torch.argmax(self.scores(latent, subject), dim=1)  # torch returns the first maximal index

    # ------------------------------------------------------------------------------------------------- checks
    def _get(self, subject: SubjectId) -> Tensor:
        _check_subject(subject)
        if subject not in self._memories:
            raise ValueError(
                f"HebbianAssociativeMemory: unknown subject {subject!r}; known subjects are {list(self._memories)}. "
                "Use adapt() or add_subject() for a new subject"
            )
        return self._memories[subject]

    def _counts(self, latent: Tensor, where: str) -> Tensor:
        latent = torch.as_tensor(latent)
        n = self.config.n_latent
        if latent.ndim not in (2, 3) or latent.shape[-1] != n:
            raise ValueError(
                f"HebbianAssociativeMemory.{where}: latent must be spikes (T, B, {n}) or counts (B, {n}), "
                f"got shape {tuple(latent.shape)}"
            )
        if latent.is_complex():
            raise ValueError(f"HebbianAssociativeMemory.{where}: latent must be real spike counts, got {latent.dtype}")
        counts = (latent.sum(dim=0) if latent.ndim == 3 else latent).detach().to(torch.float32)
        if counts.shape[0] == 0:
            raise ValueError(f"HebbianAssociativeMemory.{where}: the batch is empty")
        if not torch.isfinite(counts).all():
            raise ValueError(f"HebbianAssociativeMemory.{where}: latent contains NaN or infinite values")
        if (counts < 0).any():
            raise ValueError(f"HebbianAssociativeMemory.{where}: latent spike counts must be >= 0, got negatives")
        return counts

    def _onehot(self, labels: Tensor, batch: int) -> Tensor:
        labels = torch.as_tensor(labels)
        if labels.dtype.is_floating_point or labels.is_complex() or labels.dtype == torch.bool:
            raise ValueError(f"HebbianAssociativeMemory: labels must be integers, got dtype {labels.dtype}")
        if labels.shape != (batch,):
            raise ValueError(f"HebbianAssociativeMemory: labels must have shape ({batch},), got {tuple(labels.shape)}")
        k = self.config.n_classes
        if ((labels < 0) | (labels >= k)).any():
            bad = labels[(labels < 0) | (labels >= k)].unique().tolist()
            raise ValueError(f"HebbianAssociativeMemory: labels out of range [0, {k}): {bad}")
        return nn.functional.one_hot(labels.long(), k).to(torch.float32)


def _check_subject(subject: object) -> None:
    if isinstance(subject, bool) or not isinstance(subject, str | int) or subject == "":
        raise ValueError(f"HebbianAssociativeMemory: a subject key must be a non-empty str or an int, got {subject!r}")
