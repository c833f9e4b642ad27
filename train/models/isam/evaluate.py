"""`spikeport evaluate RUN --protocol few-shot|within|loso`: per-subject tables with baselines on the same splits.

Protocols (docs/isam-mtl.md):
* few-shot (default for synthetic runs; loso for recorded ones): the run's held-out subjects (never seen in
  training); K trials per class (K = 1, 2, 5 by default, seeded choice, `deploy.few_shot_split`) teach a fresh
  memory, the subject's other trials test it.
* within: each training subject's memory from its training-split trials, tested on its test-split trials (the
  paper's multi-task protocol: the encoder saw the subject's training trials).
* loso: for each training subject, the encoder is retrained (stage 1, the run's epochs and seed) on the other
  training subjects only, then the left-out subject is adapted from K shots per class as in few-shot.
Models: float, quantized reference and Lava (`deploy.chip_adapt`), CSP+LDA on the same trials (K >= 2), and in
few-shot and loso braindecode's EEGNet, cross-subject and fine-tuned on the K shots (`baselines.EEGNetBaseline`).
`--streaming` runs the deployed network over continuous recordings instead (`streaming.py`).
Each row: accuracy, Wilson 95% CI, one-sided binomial p against chance; per model and K the mean and sd over
subjects. Writes evaluation.json and PNG plots (`plots.py`) atomically; results on synthetic data say SYNTHETIC.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spikeport.errors import InputDataError
from spikeport.files import write_json

__all__ = ["EVALUATION_FILE", "evaluate_run", "merge_evaluation"]

EVALUATION_FILE = "evaluation.json"
DEFAULT_SHOTS = (1, 2, 5)


def merge_evaluation(path: Path, update: dict) -> Path:
    """Write `update` into evaluation.json atomically: a protocol result replaces the file but keeps its "streaming"
    entry; a {"streaming": ...} update replaces only that entry."""
    import json

    try:
        existing = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        existing = {}
    if set(update) == {"streaming"}:
        return write_json(path, {**existing, **update})
    kept = {"streaming": existing["streaming"]} if isinstance(existing, dict) and "streaming" in existing else {}
    return write_json(path, {**update, **kept})


class _Raw:
    """Band-passed raw epochs of a synthetic run, in the order `IsamRun.trials` gives each subject's trials."""

    def __init__(self, run, data_path: str | None = None) -> None:
        from spikeport.train.models.isam.baselines import filtered
        from spikeport.train.models.isam.data import synthetic_dataset
        from spikeport.train.split import split_trials

        info = run.info
        seed = int(info["seed"])
        if run.synthetic:
            n, trials = int(info["n_subjects"]), int(info["trials_per_class"])
            scales = {"erd_scale": float(info["erd_scale"]), "noise_scale": float(info["noise_scale"])}
            train = synthetic_dataset(n, trials, seed, **scales)
            heldout = synthetic_dataset(len(run.heldout_subjects), trials, seed, first_subject=n, **scales)
            x_train, x_held = filtered(train), filtered(heldout)
        else:  # recorded trials are band-passed and windowed by the EEG package's preprocessing already
            from spikeport.train.models.isam.sources import reload_dataset

            train = reload_dataset(info, data_path)
            x_train = train.data
        self.sfreq = float(train.sfreq)
        train_idx, test_idx = split_trials(train, test_fraction=float(info.get("test_fraction", 0.25)), seed=seed)
        self.by_subject: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for s in run.heldout_subjects if run.synthetic else ():
            rows = heldout.subjects == s
            self.by_subject[s] = (x_held[rows], heldout.labels[rows])
        for s in run.training_subjects:
            order = np.concatenate([train_idx[train.subjects[train_idx] == s], test_idx[train.subjects[test_idx] == s]])
            self.by_subject[s] = (x_train[order], train.labels[order])


def _adapt_rows(run, model, graph, subject, x, y, shots, seed, backends, raw, progress, eegnet=None) -> list[dict]:
    """One row per (K, model) for a subject adapted from K shots per class; `eegnet`: (EEGNetBaseline, the
    subjects its cross-subject model trains on) or None."""
    from spikeport.train.models.isam.baselines import csp_lda
    from spikeport.train.models.isam.deploy import few_shot_split
    from spikeport.train.models.isam.stats import accuracy_row

    rows = []
    for k in shots:
        shot_idx, test_idx = few_shot_split(y, k, seed, n_classes=run.n_classes)
        rows += _model_rows(run, model, graph, subject, k, x, y, shot_idx, test_idx, backends, progress)
        if raw is not None:
            xr, yr = raw.by_subject[subject]
            pred, seconds = csp_lda(xr, yr, shot_idx, test_idx, run.n_classes)
            if pred is not None:
                rows.append(
                    {
                        "subject": subject,
                        "shots": k,
                        "model": "csp_lda",
                        "seconds": seconds,
                        **accuracy_row(pred, yr[test_idx], run.n_classes),
                    }
                )
            if eegnet is not None:
                predictions, seconds = eegnet[0].predict(subject, eegnet[1], shot_idx, test_idx)
                for name, pred in predictions.items():
                    row = {"subject": subject, "shots": k, "model": name, "seconds": seconds}
                    rows.append({**row, **accuracy_row(pred, yr[test_idx], run.n_classes)})
    return rows


def _model_rows(run, model, graph, subject, k, x, y, train_idx, test_idx, backends, progress) -> list[dict]:
    from spikeport.train.models.isam.deploy import chip_adapt, float_adapt
    from spikeport.train.models.isam.stats import accuracy_row

    rows = []
    y_test = y[test_idx]
    for backend in backends:
        start = time.perf_counter()
        if backend == "float":
            _, pred = float_adapt(model, x[train_idx], y[train_idx], x[test_idx])
        else:
            pred = chip_adapt(
                graph, backend, x[train_idx], y[train_idx], x[test_idx], n_classes=run.n_classes, progress=progress
            ).predictions
        row = {"subject": subject, "shots": k, "model": backend, "seconds": time.perf_counter() - start}
        rows.append(
            {
                **row,
                **accuracy_row(pred, y_test, run.n_classes),
                "predictions": pred.tolist(),
                "labels": y_test.tolist(),
            }
        )
    return rows


def _fold_model(run, left_out: int, progress: bool):
    """Stage 1 and the pooled memory on the training split of every training subject but `left_out`; its graph."""
    from spikeport.export import parse_nir
    from spikeport.targets.quantize import quantize
    from spikeport.train.models import get_family

    family = get_family("isam-mtl")
    keep = run.data["subjects_train"] != left_out
    x, y, s = run.data["x_train"][keep], run.data["y_train"][keep], run.data["subjects_train"][keep]
    model = family.build_model(run.model.config, int(run.info.get("seed", 0)))
    from spikeport.train.models.family import TaskData

    data = TaskData(x_train=x, y_train=y, x_test=x[:1], y_test=y[:1], info=run.info, extra={"subjects_train": s})
    epochs = _training_epochs(run)
    family.train(model, data, seed=int(run.info.get("seed", 0)), epochs=epochs, progress=progress)
    graph, _ = quantize(
        parse_nir(family.to_nir(model, run.info)),
        calibration_inputs=x,
        metadata={"readout": family.readout.value, "task": family.task.value, "model": family.name},
    )
    return model, graph


def _loso_rows(run, net, shots, seed, backends, raw, progress) -> list[dict] | None:
    """Every leave-one-subject-out fold's rows, in subject order. Under torchrun rank r runs folds r, r + N, ...
    (each fold is seeded on its own, so it gives the same rows on any rank) and rank 0 gathers them all
    (`gather_object`); the other ranks get None."""
    from spikeport.train import distributed

    subjects, shown = list(run.training_subjects), progress and distributed.is_main()
    own = {}
    for i in distributed.my_items(len(subjects)):
        subject = subjects[i]
        model, fold_graph = _fold_model(run, subject, shown)
        x, y = run.trials(subject)
        eegnet = (net, tuple(s for s in subjects if s != subject))
        own[i] = _adapt_rows(run, model, fold_graph, subject, x, y, shots, seed, backends, raw, shown, eegnet)
    gathered = distributed.gather_to_main(own)
    if gathered is None:
        return None
    folds = {i: rows for part in gathered for i, rows in part.items()}
    return [row for i in range(len(subjects)) for row in folds[i]]


def _training_epochs(run) -> int | None:
    """Stage-1 epochs of the run (training.json), so a LOSO fold trains like the run did."""
    import json

    try:
        return int(json.loads((run.run_dir / "training.json").read_text())["epochs"])
    except (OSError, ValueError, KeyError):
        return None


def _summaries(rows: list[dict]) -> list[dict]:
    from spikeport.train.models.isam.stats import summarize

    keys = sorted({(r["shots"], r["model"]) for r in rows}, key=lambda t: (str(t[0]), t[1]))
    return [
        {"shots": k, "model": m, **summarize([r["accuracy"] for r in rows if (r["shots"], r["model"]) == (k, m)])}
        for k, m in keys
    ]


def evaluate_run(run_dir: Path, options: Mapping[str, Any], progress: bool) -> dict:
    """Run the protocol; write evaluation.json and the plots; returns the result with "summary" lines.

    Under torchrun (docs/scaling.md) the loso folds are shared across the ranks and gathered on rank 0, which
    writes; the other ranks return no rows and no summary.
    """
    from spikeport.train import distributed
    from spikeport.train.models.isam.plots import write_plots
    from spikeport.train.models.isam.runs import load_run

    run = load_run(Path(run_dir))
    protocol = options.get("protocol") or ("few-shot" if run.heldout_subjects else "loso")
    if protocol not in ("few-shot", "within", "loso"):
        raise InputDataError(f"--protocol {protocol}: isam-mtl evaluates few-shot, within or loso")
    if not distributed.is_main() and (protocol != "loso" or options.get("streaming")):
        return {"rows": [], "summary": []}  # under torchrun only the loso folds are shared; rank 0 runs the rest
    if options.get("streaming"):
        from spikeport.train.models.isam.streaming import evaluate_streaming

        return evaluate_streaming(run, options, progress)
    shots = tuple(int(k) for k in (options.get("shots") or DEFAULT_SHOTS))
    backends = tuple(options.get("backends") or ("float", "reference", "lava"))
    seed = int(options.get("seed") or 0)
    if protocol == "few-shot" and not run.heldout_subjects:
        raise InputDataError("--protocol few-shot: the run holds no held-out subject (recorded data); use loso")
    raw = _Raw(run, options.get("data_path"))
    from spikeport.train.models.isam.baselines import EEGNetBaseline

    net = EEGNetBaseline(raw.by_subject, raw.sfreq, run.n_classes, seed)
    graph = run.deploy_graph() if set(backends) - {"float"} and protocol != "loso" else None
    rows: list[dict] = []
    if protocol == "few-shot":
        for subject in run.heldout_subjects:
            x, y = run.trials(subject)
            eegnet = (net, tuple(run.training_subjects))
            rows += _adapt_rows(run, run.model, graph, subject, x, y, shots, seed, backends, raw, progress, eegnet)
    elif protocol == "within":
        from spikeport.train.models.isam.baselines import csp_lda
        from spikeport.train.models.isam.stats import accuracy_row

        for subject in run.training_subjects:
            x, y = run.trials(subject)
            n_train = int(np.sum(run.data["subjects_train"] == subject))
            train_idx, test_idx = np.arange(n_train), np.arange(n_train, len(y))
            rows += _model_rows(run, run.model, graph, subject, "all", x, y, train_idx, test_idx, backends, progress)
            if raw is not None:
                xr, yr = raw.by_subject[subject]
                pred, seconds = csp_lda(xr, yr, train_idx, test_idx, run.n_classes)
                rows.append(
                    {
                        "subject": subject,
                        "shots": "all",
                        "model": "csp_lda",
                        "seconds": seconds,
                        **accuracy_row(pred, yr[test_idx], run.n_classes),
                    }
                )
    else:
        rows = _loso_rows(run, net, shots, seed, backends, raw, progress)
        if rows is None:
            return {"rows": [], "summary": []}  # a rank other than 0 under torchrun: its folds went to rank 0
    summaries = _summaries(rows)
    result = {
        "data": run.label,
        "protocol": protocol,
        "shots": list(shots),
        "seed": seed,
        "chance": 1.0 / run.n_classes,
        "class_names": list(run.info["class_names"]),
        "subjects": [{k: v for k, v in r.items() if k not in ("predictions", "labels", "seconds")} for r in rows],
        "mean_over_subjects": summaries,
    }
    plots = write_plots(Path(run_dir), run, rows, protocol)
    path = merge_evaluation(Path(run_dir) / EVALUATION_FILE, {**result, "plots": plots})
    lines = [f"isam-mtl {protocol} evaluation on {run.label} data (chance {result['chance']:.2f}):"]
    for r in rows:
        lines.append(
            f"  subject {r['subject']:>3} K={r['shots']!s:<3} {r['model']:<20} {r['accuracy']:.3f} "
            f"[{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}] p={r['p_vs_chance']:.2g} (n={r['n']})"
        )
    for s in summaries:
        lines.append(
            f"  mean K={s['shots']!s:<3} {s['model']:<20} {s['mean']:.3f} sd {s['sd']:.3f} ({s['n_subjects']} subjects)"
        )
    lines.append(f"wrote {path} and {len(plots)} plots")
    return {**result, "rows": rows, "summary": lines}
