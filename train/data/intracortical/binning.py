"""Spike counts in fixed bins, behaviour on the same bins, and causal lagged windows.

Bin b of a session covers [t0 + b * bin_s, t0 + (b + 1) * bin_s), t0 being the first behaviour sample. Its
count is the number of spikes in that interval; its behaviour is the mean of the behaviour samples inside it
(or, when the behaviour is sampled more coarsely than the bins, its linear interpolation at the bin centre).
Pre-binned counts (TrialData) are re-binned by summing k consecutive bins within each segment (k = bin_s /
count_bin_s, an integer), dropping a segment's last partial bin.

Causal windows: the window of bin t holds the counts of bins t - steps + 1 .. t, oldest first, so features at t
never use a bin after t. Bins before the start of the window's segment (a TrialData trial, or the session start)
are zeros: a window never reaches into another segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeport.errors import InputDataError
from spikeport.train.data.intracortical.recording import Recording

__all__ = ["BinnedSession", "bin_recording", "causal_windows", "trial_of_bins"]


@dataclass(frozen=True, kw_only=True)
class BinnedSession:
    """One session on a regular grid of bins."""

    counts: np.ndarray
    """Spike counts, int64 (bins, units)."""
    behaviour: np.ndarray
    """Behaviour per bin, float64 (bins, len(behaviour_names))."""
    behaviour_names: tuple[str, ...]
    """Column names of `behaviour`."""
    bin_s: float
    """Bin width, seconds."""
    bin_start_s: np.ndarray
    """Start time of each bin on the recording's clock, float64 (bins,)."""
    segment: np.ndarray
    """Contiguous stretch of each bin, int64 (bins,); windows never cross a change of segment."""
    trial: np.ndarray
    """Trial index of each bin, int64 (bins,); -1 for bins outside every trial."""
    recording: Recording
    """The recording it was binned from (ids, names, source, trial times)."""

    @property
    def n_bins(self) -> int:
        """Number of bins."""
        return int(self.counts.shape[0])

    def column(self, name: str) -> np.ndarray:
        """One behaviour column per bin, (bins,)."""
        return self.behaviour[:, self.behaviour_names.index(name)]


def bin_recording(rec: Recording, bin_s: float) -> BinnedSession:
    """Bin a recording's spikes and behaviour at `bin_s` seconds.

    Raises:
        InputDataError: `bin_s` is not positive, shorter than the recording's own bins, not an integer multiple of
            them (pre-binned counts), or longer than the recording.
    """
    where = rec.path or f"{rec.source} session {rec.session!r}"
    if not bin_s > 0:
        raise InputDataError(f"{where}: bin width must be positive, got {bin_s}")
    if rec.counts is not None:
        return _rebin_counts(rec, bin_s, where)
    t0 = rec.time_s[0]
    dt = float(np.median(np.diff(rec.time_s)))
    n_bins = int(np.floor((rec.time_s[-1] + dt - t0) / bin_s + 1e-9))
    if n_bins < 1:
        raise InputDataError(f"{where}: bin width {bin_s} s is longer than the recording")
    edges = t0 + np.arange(n_bins + 1) * bin_s
    counts = np.stack([np.histogram(s, bins=edges)[0] for s in rec.spike_times], axis=1).astype(np.int64)
    behaviour = _behaviour_on_bins(rec.time_s, rec.behaviour, edges)
    segment = np.zeros(n_bins, dtype=np.int64)
    if rec.segment_of_sample is not None:
        idx = np.clip(np.searchsorted(rec.time_s, edges[:-1], side="right") - 1, 0, rec.time_s.size - 1)
        segment = rec.segment_of_sample[idx]
    return BinnedSession(counts=counts, behaviour=behaviour, behaviour_names=rec.behaviour_names, bin_s=float(bin_s),
                         bin_start_s=edges[:-1], segment=segment, trial=trial_of_bins(rec, edges[:-1], bin_s),
                         recording=rec)


def _behaviour_on_bins(t: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    n_bins = edges.size - 1
    which = np.searchsorted(edges, t, side="right") - 1
    inside = (which >= 0) & (which < n_bins)
    sums = np.zeros((n_bins, values.shape[1]))
    np.add.at(sums, which[inside], values[inside])
    hits = np.bincount(which[inside], minlength=n_bins)
    out = sums / np.maximum(hits, 1)[:, None]
    empty = hits == 0
    if np.any(empty):  # behaviour sampled more coarsely than the bins: interpolate at the bin centre
        centres = 0.5 * (edges[:-1] + edges[1:])[empty]
        out[empty] = np.stack([np.interp(centres, t, values[:, k]) for k in range(values.shape[1])], axis=1)
    return out


def _rebin_counts(rec: Recording, bin_s: float, where: str) -> BinnedSession:
    ratio = bin_s / rec.count_bin_s
    k = round(ratio)
    if k < 1 or abs(ratio - k) > 1e-6:
        raise InputDataError(f"{where}: counts come in {rec.count_bin_s * 1e3:g} ms bins; the bin width must be an "
                             f"integer multiple of it, got {bin_s * 1e3:g} ms")
    seg = rec.segment_of_sample if rec.segment_of_sample is not None else np.zeros(rec.time_s.size, np.int64)
    counts, behaviour, starts, segments = [], [], [], []
    bounds = np.flatnonzero(np.diff(seg)) + 1
    for lo, hi in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [seg.size]]), strict=True):
        n = (hi - lo) // k
        if n == 0:
            continue
        stop = lo + n * k
        counts.append(rec.counts[lo:stop].reshape(n, k, -1).sum(axis=1))
        behaviour.append(rec.behaviour[lo:stop].reshape(n, k, -1).mean(axis=1))
        starts.append(rec.time_s[lo:stop:k])
        segments.append(np.full(n, seg[lo], dtype=np.int64))
    if not counts:
        raise InputDataError(f"{where}: bin width {bin_s} s is longer than every trial")
    bin_start = np.concatenate(starts)
    return BinnedSession(counts=np.concatenate(counts), behaviour=np.concatenate(behaviour),
                         behaviour_names=rec.behaviour_names, bin_s=float(bin_s), bin_start_s=bin_start,
                         segment=np.concatenate(segments), trial=trial_of_bins(rec, bin_start, bin_s), recording=rec)


def trial_of_bins(rec: Recording, bin_start_s: np.ndarray, bin_s: float) -> np.ndarray:
    """Trial index of each bin (the trial holding the bin's centre), -1 outside every trial."""
    centres = bin_start_s + 0.5 * bin_s
    idx = np.searchsorted(rec.trial_start_s, centres, side="right") - 1
    valid = idx >= 0
    valid[valid] &= centres[valid] < rec.trial_stop_s[idx[valid]]
    return np.where(valid, idx, -1).astype(np.int64)


def causal_windows(counts: np.ndarray, segment: np.ndarray, steps: int, bins: np.ndarray | None = None) -> np.ndarray:
    """Lagged windows (len(bins), steps, units): window i holds bins bins[i] - steps + 1 .. bins[i], oldest first.

    Entries from before the start of the bin's segment are 0, so no window reaches into another segment and no
    window uses a bin after its own (causality).
    """
    if steps < 1:
        raise InputDataError(f"window length must be >= 1 step, got {steps}")
    counts = np.asarray(counts)
    bins = np.arange(counts.shape[0]) if bins is None else np.asarray(bins, dtype=np.int64)
    out = np.zeros((bins.size, steps, counts.shape[1]), dtype=counts.dtype)
    for lag in range(steps):
        src = bins - (steps - 1 - lag)
        ok = src >= 0
        ok[ok] &= segment[src[ok]] == segment[bins[ok]]
        out[ok, lag] = counts[src[ok]]
    return out
