"""Readouts: how a population's recorded integer activity becomes predictions.

A readout is part of a model family and is written into the deploy graph's metadata (`metadata["readout"]`,
with `metadata["task"]`), so every consumer of a deploy graph (the report, `spikeport validate`, the integer
training forward) reads the graph's outputs the way the model was trained to produce them. It applies equally to
any backend's `RunRecord` (reference, Lava, the training forward) and, for the training forward, to torch tensors.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

import numpy as np

from spikeport.errors import SpikeportError
from spikeport.train.tasks import TaskKind

__all__ = ["DEFAULT_READOUT", "Readout", "readout_of", "readout_scale"]


class Readout(Enum):
    """How the readout population's membrane voltage v, shape (samples, steps, n), becomes predictions."""

    ARGMAX_SUM_V = "argmax_sum_v"
    """Classification: argmax over neurons of v summed over steps (the mean's argmax without rounding; ties go to
    the lowest index). The spiking decoder's readout."""
    ARGMAX_LAST_V = "argmax_last_v"
    """Classification: argmax over neurons of v at the last step (what a recall of the Hebbian memory needs)."""
    MEAN_V = "mean_v"
    """Regression: v averaged over steps, divided by the population's quantization scale (integer units per float
    unit), so predictions are in the float model's units."""
    LAST_V = "last_v"
    """Regression: v at the last step, divided by the population's quantization scale (a causal decoder's output for
    the window's last bin; RAT-SNN's readout)."""

    @property
    def task(self) -> TaskKind:
        """The task kind this readout produces predictions for."""
        return TaskKind.REGRESSION if self in (Readout.MEAN_V, Readout.LAST_V) else TaskKind.CLASSIFICATION

    def outputs(self, v, scale: float):
        """Per-sample real outputs of v (numpy or torch, (samples, steps, n)) in float units, shape (samples, n).

        For classification these are the logits the integer training forward is trained on; their argmax equals
        `predict`'s (a positive scale does not change an argmax).
        """
        picked = v[:, -1] if self in (Readout.ARGMAX_LAST_V, Readout.LAST_V) else v.mean(axis=1)
        return picked / scale

    def predict(self, v: np.ndarray, scale: float) -> np.ndarray:
        """Predictions from integer v of shape (samples, steps, n): int64 classes (samples,) or float64 (samples, n).

        Classification compares integers (no rounding); regression divides the mean by `scale`.
        """
        v = np.asarray(v)
        if self is Readout.ARGMAX_SUM_V:
            return np.argmax(v.sum(axis=1), axis=1).astype(np.int64)
        if self is Readout.ARGMAX_LAST_V:
            return np.argmax(v[:, -1], axis=1).astype(np.int64)
        if self is Readout.LAST_V:
            return v[:, -1].astype(np.float64) / scale
        return v.astype(np.float64).mean(axis=1) / scale

    def apply(self, record, population: str, scale: float) -> np.ndarray:
        """Predictions from a `RunRecord` (any backend): this readout applied to `population`'s v."""
        return self.predict(record.populations[population].v, scale)


DEFAULT_READOUT = Readout.ARGMAX_SUM_V
"""The readout of deploy graphs that record none (written before readouts were recorded, or imported)."""


def readout_of(metadata: Mapping) -> Readout:
    """The readout recorded in a deploy graph's metadata (`DEFAULT_READOUT` if none is recorded).

    Raises:
        SpikeportError: If the recorded readout is not one this version knows.
    """
    value = metadata.get("readout", DEFAULT_READOUT.value)
    try:
        return Readout(value)
    except ValueError:
        known = ", ".join(r.value for r in Readout)
        raise SpikeportError(
            f"deploy graph metadata: unknown readout {value!r}; expected one of {known} "
            "(re-quantize the model with this version of spikeport)"
        ) from None


def readout_scale(graph) -> float:
    """Integer units per float unit of the graph's output population: its quantization scale, or vth * 2**6."""
    scales = graph.metadata.get("scales", {})
    return float(scales.get(graph.output, graph.nodes[graph.output].vth << 6))
