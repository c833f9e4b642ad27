"""`spikeport evaluate RUN --streaming`: the deployed ISAM-MTL network run step by step over continuous recordings.

Recorded (eegmmidb) runs: every run file the training read is encoded whole by the EEG package's causal chain
(`spikeport.train.data.eeg.stream_from_raw`: forward-only band-pass, decimation, the subject's training-split
standardization, delta encoding with the filter and encoder state carried across the recording), so one network
step is `step_seconds` of recording. The deployed graph (encoder + pooled memory readout) runs over the whole
stream on the integer reference without any reset between trials. SYNTHETIC runs stream their test trials
concatenated (labelled SYNTHETIC; there the state carries over from one trial into the next, too).

Decision of a trial: the readout accumulator (an IF neuron without leak) integrates the readout current forever,
so the trial's evidence is the increase of its v over the trial's analysis window (the window training used:
`tmin_s`..`tmax_s` after the cue), i.e. v(t) - v(window start - 1), taken modulo the chip's 24-bit wrap; the
class is its argmax at the window's last step (what the epoched model reads). Decision latency: from the cue to the
end of the first step from which the argmax stays at the final class until the window ends, in seconds
(steps x step_seconds). Lava runs the same graph on a short stretch at the start of the first stream; its
accumulator values must equal the reference's there, and so must every decision that falls inside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spikeport.errors import InputDataError

__all__ = ["LAVA_STEPS", "Stream", "decisions", "evaluate_streaming", "recorded_streams", "synthetic_stream"]

LAVA_STEPS = 400
"""Steps of the first stream that Lava also runs (10 s of EEGMMIDB at 25 ms; Lava costs about 1 s per 100 steps)."""
V_BITS = 24
"""Width of Loihi's membrane voltage: the accumulator's v wraps modulo 2**24 (loihi-fixed-point.md)."""


@dataclass(frozen=True)
class Stream:
    """One continuous spike stream in the run's input layout, with its trials."""

    name: str
    subject: int
    spikes: np.ndarray
    """(steps, inputs) uint8."""
    cue_steps: np.ndarray
    """(trials,) step in which each cue falls."""
    labels: np.ndarray
    window: tuple[int, int]
    """(first, last) step of a trial's analysis window, relative to its cue step."""
    held_out: np.ndarray
    """(trials,) bool: the trial was in the run's test split (never trained on); all True for SYNTHETIC test trials."""


def synthetic_stream(run) -> Stream:
    """The run's SYNTHETIC test trials, concatenated; each trial's cue is `tmin_s` before its segment starts."""
    from spikeport.train.encoding import BandPowerSpikeEncoder

    x, y = run.data["x_test"], run.data["y_test"]
    steps = x.shape[1]
    offset = round(BandPowerSpikeEncoder().tmin_s / float(run.info["time_bin_s"]))  # the encoder's window start
    return Stream(
        name="SYNTHETIC test trials, concatenated",
        subject=-1,
        spikes=np.ascontiguousarray(x.reshape(-1, x.shape[2])),
        cue_steps=np.arange(len(y), dtype=np.int64) * steps - offset,
        labels=np.asarray(y, dtype=np.int64),
        window=(offset, offset + steps - 1),
        held_out=np.ones(len(y), dtype=bool),
    )


def recorded_streams(run, data_path: str | None) -> list[Stream]:
    """Every EEGMMIDB run file the training read, each as one stream (see the module docstring)."""
    import mne
    from mne.datasets import eegbci

    from spikeport.train.data.eeg import PreprocessConfig
    from spikeport.train.data.eeg.eegmmidb import EEGMMIDB_TASKS
    from spikeport.train.data.eeg.encode import Standardizer
    from spikeport.train.data.eeg.stream import stream_from_raw
    from spikeport.train.models.isam.data import feature_major
    from spikeport.train.models.isam.sources import load_trials
    from spikeport.train.split import split_trials

    info = run.info
    if info.get("source") != "eegmmidb":
        raise InputDataError(f"--streaming: streams EEGMMIDB or SYNTHETIC runs; this run's data are {info['source']}")
    path = data_path or info.get("data_path")
    trials = load_trials("eegmmidb", path, info["subject_ids"])
    dataset = trials.dataset
    train_idx, test_idx = split_trials(dataset, test_fraction=float(info["test_fraction"]), seed=int(info["seed"]))
    standardizer = Standardizer.fit(dataset, train_idx)
    in_test = np.zeros(len(dataset.labels), dtype=bool)
    in_test[test_idx] = True
    cfg = PreprocessConfig()
    step = float(info["step_seconds"])
    window = (round(cfg.tmin_s / step), round(cfg.tmax_s / step) - 1)
    order = feature_major(len(dataset.ch_names), 2)
    streams = []
    for subject, runs in sorted(info["runs_used"].items(), key=lambda kv: int(kv[0])):
        for number, file in zip(runs, eegbci.load_data(int(subject), runs, path=str(path), update_path=False,
                                                       verbose=False), strict=True):  # fmt: skip
            raw = mne.io.read_raw_edf(file, preload=True, verbose=False)
            eegbci.standardize(raw)
            stream = stream_from_raw(raw, EEGMMIDB_TASKS[info.get("task", "left_right")], standardizer, int(subject))
            fits = stream.cue_steps + window[1] < len(stream.spikes)
            rows = np.flatnonzero((dataset.subjects == int(subject)) & (trials.runs == number))
            known = len(rows) == int(fits.sum()) and np.array_equal(dataset.labels[rows], stream.labels[fits])
            streams.append(
                Stream(
                    name=Path(file).name,
                    subject=int(subject),
                    spikes=np.ascontiguousarray(stream.spikes[:, order]),
                    cue_steps=stream.cue_steps[fits],
                    labels=stream.labels[fits],
                    window=window,
                    held_out=in_test[rows] if known else np.zeros(int(fits.sum()), dtype=bool),
                )
            )
    return streams


def _evidence(v: np.ndarray, start: int, t: np.ndarray) -> np.ndarray:
    """v[t] - v[start - 1] per class, as a signed difference modulo 2**V_BITS (v wraps on the chip)."""
    base = v[start - 1] if start > 0 else np.zeros(v.shape[1], dtype=np.int64)
    diff = v[t] - base
    half = 2 ** (V_BITS - 1)
    return (diff + half) % (2 * half) - half


def decisions(v: np.ndarray, stream: Stream, step_seconds: float) -> list[dict]:
    """Per trial whose window lies inside `v` (steps, classes): class, correctness and decision latency."""
    out = []
    for i, (cue, label) in enumerate(zip(stream.cue_steps, stream.labels, strict=True)):
        first, last = cue + stream.window[0], cue + stream.window[1]
        if first < 0 or last >= len(v):
            continue
        scores = _evidence(v, first, np.arange(first, last + 1))
        path = scores.argmax(axis=1)
        final = int(path[-1])
        changed = np.flatnonzero(path != final)
        stable = first + (int(changed[-1]) + 1 if len(changed) else 0)
        out.append(
            {
                "trial": i,
                "cue_step": int(cue),
                "label": int(label),
                "decision": final,
                "correct": final == int(label),
                "latency_s": (stable - cue + 1) * step_seconds,
                "held_out": bool(stream.held_out[i]),
            }
        )
    return out


def _accumulator_v(graph, spikes: np.ndarray, backend: str, progress: bool) -> tuple[np.ndarray, Any]:
    if backend == "reference":
        from spikeport.simulators import run_reference

        record = run_reference(graph, spikes[None])
    else:
        from spikeport.simulators.lava import run_lava

        record = run_lava(graph, spikes[None], progress=progress)
    return record.populations[graph.output].v[0], record


def evaluate_streaming(run, options: Mapping[str, Any], progress: bool) -> dict:
    """Stream the run's recordings (or SYNTHETIC test trials) through the deployed graph; merge the result into
    evaluation.json under "streaming"; returns it with "summary" lines."""
    from spikeport.simulators import compare_runs
    from spikeport.train.models.isam.evaluate import EVALUATION_FILE, merge_evaluation
    from spikeport.train.models.isam.stats import accuracy_row, summarize

    graph = run.deploy_graph()
    streams = [synthetic_stream(run)] if run.synthetic else recorded_streams(run, options.get("data_path"))
    step = float(run.info.get("step_seconds") or run.info["time_bin_s"])
    trials: list[dict] = []
    lava_check: dict[str, Any] = {}
    for n, stream in enumerate(streams):
        v, _ = _accumulator_v(graph, stream.spikes, "reference", progress)
        got = decisions(v, stream, step)
        trials += [{"stream": stream.name, "subject": stream.subject, **t} for t in got]
        if n == 0 and "lava" in (options.get("backends") or ("reference", "lava")):
            stretch = min(LAVA_STEPS, len(stream.spikes))
            lava_v, lava_record = _accumulator_v(graph, stream.spikes[:stretch], "lava", progress)
            ref_short = _accumulator_v(graph, stream.spikes[:stretch], "reference", False)[1]
            lava_dec = decisions(lava_v, stream, step)
            ref_dec = [t for t in got if t["cue_step"] + stream.window[1] < stretch]
            lava_check = {
                "stream": stream.name,
                "steps": stretch,
                "seconds_of_recording": stretch * step,
                "accumulator_v_equal": bool(np.array_equal(v[:stretch], lava_v)),
                "all_populations_bit_exact": compare_runs(ref_short, lava_record).bit_exact,
                "decisions_compared": len(lava_dec),
                "decisions_equal": [t["decision"] for t in lava_dec] == [t["decision"] for t in ref_dec],
            }
    if not trials:
        raise InputDataError("--streaming: no trial window fits inside the streams")
    n_classes = run.n_classes
    subjects = sorted({t["subject"] for t in trials})
    per_subject = []
    for s in subjects:
        for held in (True, False):
            mine = [t for t in trials if t["subject"] == s and t["held_out"] == held]
            if mine:
                pred, true = np.array([t["decision"] for t in mine]), np.array([t["label"] for t in mine])
                latency = [t["latency_s"] for t in mine]
                per_subject.append(
                    {
                        "subject": s,
                        "trials": "test split" if held else "training split",
                        **accuracy_row(pred, true, n_classes),
                        "latency_s_median": float(np.median(latency)),
                        "latency_s_mean": float(np.mean(latency)),
                    }
                )
    test_rows = [r for r in per_subject if r["trials"] == "test split"]
    result = {
        "data": run.label,
        "backend": "reference (whole streams); lava on the first stretch",
        "step_seconds": step,
        "window_after_cue_s": [streams[0].window[0] * step, (streams[0].window[1] + 1) * step],
        "decision": "argmax of the accumulator's increase over the trial window; latency = cue to the end of the "
        "first step from which the argmax stays at the final class",
        "streams": [{"name": s.name, "subject": s.subject, "steps": len(s.spikes)} for s in streams],
        "per_subject": per_subject,
        "mean_over_subjects_test_split": summarize([r["accuracy"] for r in test_rows]) if test_rows else None,
        "lava_check": lava_check,
        "trials": trials,
    }
    path = merge_evaluation(Path(run.run_dir) / EVALUATION_FILE, {"streaming": result})
    lines = [f"isam-mtl streaming evaluation on {run.label} data, one step = {step:.4g} s of recording:"]
    for r in per_subject:
        who = "SYNTHETIC" if r["subject"] < 0 else f"subject {r['subject']:>3}"
        lines.append(
            f"  {who} {r['trials']:<14} {r['accuracy']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}] "
            f"p={r['p_vs_chance']:.2g} (n={r['n']}); decision latency median {r['latency_s_median']:.3f} s, "
            f"mean {r['latency_s_mean']:.3f} s after the cue"
        )
    if lava_check:
        lines.append(
            f"  lava vs reference on the first {lava_check['steps']} steps of {lava_check['stream']}: accumulator "
            f"{'equal' if lava_check['accumulator_v_equal'] else 'DIFFERS'}, "
            f"{lava_check['decisions_compared']} decisions {'equal' if lava_check['decisions_equal'] else 'DIFFER'}"
        )
    lines.append(f"wrote {path} (key 'streaming')")
    return {**result, "summary": lines}
