"""`spikeport adapt RUN --subject S --shots K [--backend reference|lava]`: few-shot calibration of a new subject.

K trials per class of subject S (seeded choice) teach a fresh memory: in float (the trained model) and on the
deployed integer network (`spikeport.train.models.isam.deploy.chip_adapt`), on the reference always and on Lava
with `--backend lava`; the rest of S's trials are classified with it. Results go to `adapt_<S>.json` in the run
directory (atomic), labelled SYNTHETIC for synthetic runs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spikeport.errors import InputDataError
from spikeport.files import write_json

__all__ = ["adapt_run"]


def _subject(run, options: Mapping[str, Any]) -> int:
    subject = options.get("subject")
    if subject is None:
        if not run.heldout_subjects:
            raise InputDataError("--subject: give the subject to adapt to (this recorded run has no held-out subject)")
        return run.heldout_subjects[0]
    return int(subject)


def adapt_run(run_dir: Path, options: Mapping[str, Any], progress: bool) -> dict:
    """Adapt a trained isam-mtl run to one subject; returns the result with its "summary" lines."""
    from spikeport.train.models.isam.deploy import chip_adapt, few_shot_split, first_difference, float_adapt
    from spikeport.train.models.isam.runs import load_run

    run = load_run(Path(run_dir))
    if options.get("data_path") is not None and run.synthetic:
        raise InputDataError(f"--data-path {options['data_path']}: run {run_dir} is SYNTHETIC; omit --data-path")
    subject = _subject(run, options)
    shots, seed = int(options.get("shots") or 5), int(options.get("seed") or 0)
    backend = options.get("backend") or "reference"
    if run.synthetic or subject in run.training_subjects:
        x, y = run.trials(subject)
        shot_idx, test_idx = few_shot_split(y, shots, seed, n_classes=run.n_classes)
    else:  # a recorded subject the run never saw, read from --data-path
        from spikeport.train.models.isam.sources import encode_new_subject

        def split(labels):
            return few_shot_split(labels, shots, seed, n_classes=run.n_classes)

        x, y, (shot_idx, test_idx) = encode_new_subject(run.info, options.get("data_path"), subject, split)
    graph = run.deploy_graph()

    start = time.perf_counter()
    float_memory, float_pred = float_adapt(run.model, x[shot_idx], y[shot_idx], x[test_idx])
    float_s = time.perf_counter() - start
    y_test = y[test_idx]
    results: dict[str, Any] = {"float": {"accuracy": float(np.mean(float_pred == y_test))}}
    timings = {"float_s": float_s}
    adaptations = {}
    for name in ("reference", "lava") if backend == "lava" else ("reference",):
        adaptations[name] = chip_adapt(
            graph, name, x[shot_idx], y[shot_idx], x[test_idx], n_classes=run.n_classes, progress=progress
        )
        a = adaptations[name]
        timings.update({f"{name}_learn_s": a.learn_s, f"{name}_recall_s": a.recall_s})
        results[name] = {
            "accuracy": float(np.mean(a.predictions == y_test)),
            "memory": a.memory.tolist(),
            "epochs": len(a.per_epoch),
            "memory_is_hebbian_counts": a.matches_hebbian,
            "saturated_memory_weights": a.saturated,
            "readout_mantissas": a.mantissas.tolist(),
        }
    agreement = {}
    if "lava" in adaptations:
        ref, lava = adaptations["reference"], adaptations["lava"]
        agreement = {
            "memory_equal": bool(np.array_equal(ref.per_epoch, lava.per_epoch)),
            "first_memory_difference": first_difference(ref.per_epoch, lava.per_epoch),
            "predictions_equal": bool(np.array_equal(ref.predictions, lava.predictions)),
        }
    result = {
        "data": run.label,
        "subject": subject,
        "shots_per_class": shots,
        "seed": seed,
        "n_test": len(test_idx),
        "shot_trials": shot_idx.tolist(),
        "learning": "on chip: plastic readout (PlasticDenseInt / Lava LearningDense), rule dw = x0 * y0 per step, "
        "teacher spikes of the shot's class on every step; then rows normalized and centred on the host and frozen "
        "into the readout that classifies the test trials on the same backend",
        "float_memory": float_memory.tolist(),
        "results": results,
        "reference_vs_lava": agreement,
    }
    lines = [
        f"adapted isam-mtl ({run.label} data) to subject {subject} from {shots} trials per class; "
        f"accuracy on its other {len(test_idx)} trials:",
        *(f"  {name:<9} {r['accuracy']:.3f}" for name, r in results.items()),
    ]
    for name, a in adaptations.items():
        if a.saturated:
            lines.append(
                f"  SATURATED ({name}): {a.saturated} of {a.memory.size} memory weights hit the plastic weight limit "
                f"{int(a.memory.max())} (Hebbian counts up to {a.peak_count}); fewer --shots or shorter trials keep "
                "the memory exact"
            )
    if agreement:
        lines.append(
            f"  reference vs lava: memory weights {'equal' if agreement['memory_equal'] else 'DIFFER'} after every "
            f"one of {len(ref.per_epoch)} epochs"
            + (f" (first: {agreement['first_memory_difference']})" if agreement["first_memory_difference"] else "")
            + f", predictions {'identical' if agreement['predictions_equal'] else 'DIFFER'}"
        )
    path = write_json(Path(run_dir) / f"adapt_{subject}.json", {**result, "summary": lines})  # no timings: same bytes
    lines.append(f"wrote {path}")
    return {**result, "timings_s": timings, "summary": lines}
