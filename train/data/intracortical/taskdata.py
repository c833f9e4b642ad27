"""Windows of binned sessions as the arrays of a spikeport regression run (`TaskData`).

A sample is the causal window of `steps` bins ending at bin t (features) and the velocity of bin t (target).
Spiking models get counts clipped to `max_count`: 1 gives binary spikes, "at least one spike in the bin", which is
exact when bins are short enough (at 4 ms, a unit above ~50 Hz loses spikes that share a bin); a larger
`max_count` gives graded spikes (a payload per bin, Loihi 2). The fraction of clipped counts is reported in
`info["clipped_fraction"]`. Baselines (ridge, GRU) use the raw counts (`Windows.x`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spikeport.errors import InputDataError
from spikeport.train.data.intracortical.binning import BinnedSession, causal_windows

__all__ = ["OUTPUT_NAMES", "Windows", "concat_windows", "session_windows", "to_task_data"]

OUTPUT_NAMES: tuple[str, ...] = ("vel_x", "vel_y")
"""Targets of the regression: 2-D velocity."""


@dataclass(frozen=True)
class Windows:
    """Samples of one or more sessions."""

    x: np.ndarray
    """Spike counts (samples, steps, units), oldest bin first; uint8 (int32 if a bin holds > 255 spikes)."""
    y: np.ndarray
    """Targets, float64 (samples, len(OUTPUT_NAMES))."""
    session: np.ndarray
    """Session id of each sample, int64 (samples,)."""
    subject: np.ndarray
    """Subject id of each sample, int64 (samples,)."""
    trial: np.ndarray
    """Trial index within its session, int64 (samples,)."""
    bin: np.ndarray
    """Index of the sample's last bin within its session, int64 (samples,)."""


def session_windows(session: BinnedSession, bins: np.ndarray, steps: int, *, session_id: int = 0,
                    subject_id: int = 0, outputs: Sequence[str] = OUTPUT_NAMES) -> Windows:
    """Samples at the given bins of one session (features: `steps` bins up to and including each bin)."""
    bins = np.asarray(bins, dtype=np.int64)
    y = np.stack([session.column(name)[bins] for name in outputs], axis=1)
    n = bins.size
    counts = session.counts  # windows repeat every bin `steps` times: store them as small as the counts allow
    counts = counts.astype(np.uint8 if counts.max(initial=0) <= np.iinfo(np.uint8).max else np.int32)
    return Windows(x=causal_windows(counts, session.segment, steps, bins), y=y,
                   session=np.full(n, session_id, np.int64), subject=np.full(n, subject_id, np.int64),
                   trial=session.trial[bins].copy(), bin=bins)


def concat_windows(parts: Sequence[Windows]) -> Windows:
    """Samples of several sessions in one set (units must agree).

    Raises:
        InputDataError: no parts, or sessions with different numbers of units or window lengths.
    """
    if not parts:
        raise InputDataError("no samples to join: every session selection is empty")
    shapes = {p.x.shape[1:] for p in parts}
    if len(shapes) != 1:
        raise InputDataError(f"sessions have different (steps, units) window shapes {sorted(shapes)}; "
                             "decoding across sessions needs the same channels in every session")
    return Windows(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                     ("x", "y", "session", "subject", "trial", "bin")))


def to_task_data(train: Windows, test: Windows, *, sessions: Sequence[BinnedSession], max_count: int = 1,
                 description: str = ""):
    """A regression `TaskData`: x (samples, steps, units) uint8 counts clipped to `max_count` (1: 0/1 spikes; at most
    255), y (samples, 2) velocity.

    `info` holds output_names ["vel_x", "vel_y"], step_seconds, source, synthetic, session and subject names,
    input_names and the fraction of clipped counts; `extra` the session, subject, trial and bin of each sample.
    """
    from spikeport.train.models.family import TaskData

    if not 1 <= max_count <= np.iinfo(np.uint8).max:
        raise ValueError(f"to_task_data: max_count must be in 1..255, got {max_count}")
    first = sessions[0]
    total = max(train.x.size + test.x.size, 1)
    clipped = (np.count_nonzero(train.x > max_count) + np.count_nonzero(test.x > max_count)) / total
    nonzero = (np.count_nonzero(train.x) + np.count_nonzero(test.x)) / total

    def encode(x: np.ndarray) -> np.ndarray:
        return np.minimum(x, max_count).astype(np.uint8)

    info = {
        "source": first.recording.source,
        "synthetic": all(s.recording.synthetic for s in sessions),
        "description": description or "; ".join(dict.fromkeys(s.recording.description for s in sessions)),
        "input_names": list(first.recording.unit_names),
        "output_names": list(OUTPUT_NAMES),
        "step_seconds": first.bin_s,
        "binary_inputs": max_count == 1,
        "max_count": max_count,
        "clipped_fraction": float(clipped),
        "input_spike_fraction": float(nonzero),
        "session_names": [s.recording.session for s in sessions],
        "subject_names": list(dict.fromkeys(s.recording.subject for s in sessions)),
    }
    extra = {f"{key}s_{side}": getattr(w, key) for side, w in (("train", train), ("test", test))
             for key in ("session", "subject", "trial", "bin")}
    return TaskData(x_train=encode(train.x), y_train=train.y.astype(np.float64), x_test=encode(test.x),
                    y_test=test.y.astype(np.float64), info=info, extra=extra)
