"""`spikeport adapt RUN --minutes M [--data-path P]`: fast adaptation of a trained RAT-SNN to an unseen session.

The pretrained model's readout is refitted in closed form (weights and time constants of the integrators, by ridge
regression on the readout's filtered presynaptic signals, `readout_fit.fit_readout`) on the windows of the trials
that end within the first M minutes of a new session (`split_first_minutes`), deployed
(quantized, calibrated on those windows, `deploy.py`) and scored on the session's later trials: the float model
before adaptation (zero-shot) and after, the integer reference on every evaluation window, and Lava `fixed_pt` on
`LAVA_WINDOWS` of them spread evenly (one Lava run per window; its predictions must equal the reference's exactly, and
`adaptation.json` says whether they do). The ridge Wiener filter (`train_ridge`) trained on the same M minutes is
the baseline (wall times are returned, not written, so that the file is the same for the same command). Synthetic
runs adapt to the next session of their first subject, generated from the run's seed (`data.new_session`); recorded
runs to the session under `--data-path`. Targets are divided by the run's y_scale (R² does not change under that
scaling). Writes `adaptation.json` atomically, labelled SYNTHETIC where it is.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from spikeport.errors import InputDataError
from spikeport.files import write_json

__all__ = ["ADAPTATION_FILE", "DEFAULT_MINUTES", "LAVA_WINDOWS", "adapt_run", "adapt_windows"]

ADAPTATION_FILE = "adaptation.json"
DEFAULT_MINUTES = 1.0
LAVA_WINDOWS = 24
"""Evaluation windows run on Lava (each window is one Lava run of `steps` steps, about 1 s on a CPU)."""
CALIBRATION_WINDOWS = 1000
"""At most this many adaptation windows (evenly spaced) calibrate the quantizer."""


def scores(pred: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """R² per output (`train.tasks.r2_score`) and their mean."""
    from spikeport.train.tasks import r2_score

    r2 = r2_score(pred, y)
    return {"r2": [float(v) for v in r2], "r2_mean": float(np.mean(r2))}


def adapt_windows(session, minutes: float, steps: int):
    """(adapt windows, evaluation windows) of a binned session: trials ending in the first `minutes`, the rest.

    Raises:
        InputDataError: naming --minutes when it leaves one side empty (e.g. longer than the session).
    """
    from spikeport.train.data.intracortical import bins_of_trials, session_windows, split_first_minutes

    try:
        adapt_trials, eval_trials = split_first_minutes(session, minutes)
    except InputDataError as exc:
        raise InputDataError(f"--minutes {minutes:g}: {exc}") from None
    return tuple(session_windows(session, bins_of_trials(session, t), steps) for t in (adapt_trials, eval_trials))


def _check_options(options: Mapping[str, Any]) -> float:
    if options.get("subject") is not None:
        raise InputDataError(f"--subject {options['subject']}: rat-snn adapts to a session, not a subject; omit "
                             "--subject (synthetic runs adapt to a held-out session, recorded ones to --data-path)")
    minutes = options.get("minutes")
    minutes = DEFAULT_MINUTES if minutes is None else float(minutes)
    if not minutes > 0:
        raise InputDataError(f"--minutes {minutes:g}: give the minutes of the new session to adapt on, > 0")
    return minutes


def adapt_run(run_dir: Path, options: Mapping[str, Any], progress: bool) -> dict:
    """Adapt a trained rat-snn run to a new session; returns the result with its "summary" lines."""
    from spikeport.train.baselines.ridge import train_ridge
    from spikeport.train.data.intracortical import bin_recording
    from spikeport.train.models.rat_snn.data import clipped_counts, network_inputs, new_session, thin
    from spikeport.train.models.rat_snn.deploy import deploy, run_backend
    from spikeport.train.models.rat_snn.fit import predict
    from spikeport.train.models.rat_snn.readout_fit import MIN_WINDOWS, fit_readout
    from spikeport.train.models.rat_snn.runs import load_run

    minutes = _check_options(options)
    run = load_run(Path(run_dir))
    info = run.info
    recording = new_session(info, options.get("data_path"))
    session = bin_recording(recording, float(info["bin_s"]))
    adapt_w, eval_w = adapt_windows(session, minutes, int(info["steps"]))
    x_adapt, x_eval = network_inputs(adapt_w.x, info), network_inputs(eval_w.x, info)
    if len(x_adapt) < MIN_WINDOWS:
        raise InputDataError(f"--minutes {minutes:g}: they hold {len(x_adapt)} windows; the readout refit needs at "
                             f"least {MIN_WINDOWS}, give more minutes")
    y_adapt, y_eval = adapt_w.y / run.y_scale, eval_w.y / run.y_scale

    results: dict[str, Any] = {"float_before": scores(predict(run.model, x_eval), y_eval)}
    model = copy.deepcopy(run.model)
    start = time.perf_counter()
    refit = fit_readout(model, x_adapt, y_adapt)
    refit_s = time.perf_counter() - start
    results["float"] = scores(predict(model, x_eval), y_eval)
    start = time.perf_counter()
    graph, _ = deploy(model, x_adapt[thin(len(x_adapt), CALIBRATION_WINDOWS)], info)
    deploy_s = time.perf_counter() - start
    reference = run_backend(graph, x_eval, "reference")
    results["reference"] = scores(reference.predictions, y_eval)
    picked = thin(len(x_eval), LAVA_WINDOWS)  # spread over the evaluation trials (the first ones may all be at rest)
    n = len(picked)
    lava = run_backend(graph, x_eval[picked], "lava", progress=progress)
    equal = bool(np.array_equal(lava.predictions, reference.predictions[picked]))
    results["lava"] = {**scores(lava.predictions, y_eval[picked]), "windows": n}
    results["reference_on_lava_windows"] = {**scores(reference.predictions[picked], y_eval[picked]), "windows": n}
    start = time.perf_counter()
    ridge = train_ridge(adapt_w.x, y_adapt, eval_w.x, y_eval)
    ridge_s = time.perf_counter() - start
    results["ridge"] = {**scores(ridge.pred, y_eval), "alpha": ridge.details.get("alpha")}
    timings = {"readout_fit_s": refit_s, "deploy_s": deploy_s, "reference_s": reference.seconds,
               "lava_s": lava.seconds, "ridge_s": ridge_s}
    result = {
        "data": run.label,
        "session": recording.session,
        "subject": recording.subject,
        "description": recording.description,
        "minutes": minutes,
        "n_adapt": len(x_adapt),
        "n_evaluate": len(x_eval),
        "adaptation": "readout refitted by ridge regression (weights, time constants and penalty chosen on the last "
                      "20% of the adaptation windows), encoder and attention as pretrained; then quantized "
                      "(calibrated on the adaptation windows; no integer fine-tuning)",
        "readout_fit": asdict(refit),
        "results": results,
        "reference_vs_lava": {"windows": n, "predictions_equal": equal},
        "snn_at_least_ridge": results["reference"]["r2_mean"] >= results["ridge"]["r2_mean"],
    }
    lines = [
        f"adapted rat-snn ({run.label} data) to session {recording.session} from its first {minutes:g} min "
        f"({len(x_adapt)} windows); R² (vel_x, vel_y; mean) on its other {len(x_eval)} windows:",
        *(f"  {name:<26} {r['r2'][0]:.3f} {r['r2'][1]:.3f}; {r['r2_mean']:.3f}"
          + (f" ({r['windows']} windows)" if "windows" in r else "") for name, r in results.items()),
        f"  reference vs lava on {n} windows: predictions " + ("IDENTICAL" if equal else "DIFFER"),
        f"  deployed SNN R² {'>=' if result['snn_at_least_ridge'] else '<'} ridge R² on the same minutes",
        *clipped_counts(np.concatenate([adapt_w.x, eval_w.x]), info),
    ]
    path = write_json(Path(run_dir) / ADAPTATION_FILE, {**result, "summary": lines})
    lines.append(f"  times: readout refit {refit_s:.1f} s, ridge {ridge_s:.2f} s (not written: wall clock)")
    lines.append(f"wrote {path}")
    if not equal:
        from spikeport.errors import SpikeportError

        raise SpikeportError(f"{path}: Lava predictions differ from the integer reference on {n} evaluation windows "
                             "(a simulator bug; see reference_vs_lava in the file)")
    return {**result, "timings_s": timings, "summary": lines}  # wall times: returned, not written (determinism)
