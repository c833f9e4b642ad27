"""PNG plots of a rat-snn evaluation, each written atomically with matplotlib's Agg backend and no time stamp:
true vs decoded velocity traces, R² per session, and ops per decoded sample vs R² for every model. Titles say
SYNTHETIC when the data are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from spikeport.files import atomic_write

__all__ = ["TRACE_WINDOWS", "write_plots"]

TRACE_WINDOWS = 300
"""Consecutive test windows (of the first test session) drawn in the trace plot."""


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=90, metadata={"Software": None}))
    plt.close(fig)
    return path.name


def write_plots(run_dir: Path, label: str, y: np.ndarray, sessions: np.ndarray, predictions: Mapping[str, np.ndarray],
                rows: Sequence[Mapping], session_names: Sequence[str]) -> list[str]:
    """Write the three plots into `run_dir`; `predictions` by model name on the test windows; returns file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    first = np.flatnonzero(sessions == sessions[0])[:TRACE_WINDOWS]
    fig, axes = plt.subplots(2, 1, figsize=(7, 4.5), sharex=True)
    for k, ax in enumerate(axes):
        ax.plot(y[first, k], color="k", lw=1.5, label="true")
        for name, pred in predictions.items():
            ax.plot(pred[first, k], lw=0.9, label=name)
        ax.set(ylabel=("vel_x", "vel_y")[k] + " (/ training std)")
    axes[0].legend(fontsize=7, ncol=len(predictions) + 1)
    axes[-1].set(xlabel="test window (one bin apart)")
    fig.suptitle(f"true vs decoded velocity, session {session_names[int(sessions[0])]} ({label} data)", fontsize=9)
    names.append(_save(fig, run_dir / "evaluation_traces.png"))

    per_session = [r for r in rows if "r2_per_session" in r]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    width = 0.8 / max(len(per_session), 1)
    for j, r in enumerate(per_session):
        keys = sorted(r["r2_per_session"])
        ax.bar(np.arange(len(keys)) + j * width, [r["r2_per_session"][s]["r2_mean"] for s in keys], width,
               label=r["model"])
        ax.set_xticks(np.arange(len(keys)) + 0.4 - width / 2, keys, fontsize=6, rotation=20)
    ax.set(ylabel="R² (mean of vel_x, vel_y)", title=f"R² per test session ({label} data)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=7)
    names.append(_save(fig, run_dir / "evaluation_r2_per_session.png"))

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for r in rows:
        ops = max(r["ops_per_step"], 1.0)
        ax.scatter(ops, r["r2_mean"], s=25)
        ax.annotate(r["model"], (ops, r["r2_mean"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set(xscale="log", xlabel="effective ops (ACs + MACs) per decoded step", ylabel="R² (mean)",
           title=f"ops vs R² ({label} data)")
    ax.title.set_fontsize(9)
    names.append(_save(fig, run_dir / "evaluation_ops_vs_r2.png"))
    return names
