"""`spikeport evaluate RUN [--backends float reference lava] [--data-path P] [--seed S]`: the run's whole test split,
the SNN next to ridge and GRU baselines trained on the same split in the same call, in a NeuroBench-style table.

The split is rebuilt from the run's `info` (`data.reload_split`: every window, not the thinned ones `data.npz`
holds; its thinned test windows are checked to be among them). Per model: R² per output and per test session, R²
mean, effective ACs and MACs per decoded step (one output = one causal window of `steps` bins), footprint in bytes
and activation sparsity. For the SNN these come from the deployed graph (`model.deploy.npz`) run on the integer
reference over the whole test split: `targets.conventions.count_layers` (NeuroBench's effective ACs/MACs, dense ops,
`targets/opcount.py` per node kind, the attention block included), `footprint` (weights as the chip stores them plus
the u and v registers), activation sparsity (zero outputs of every population, step and sample). Baselines report
what `RegressionBaseline` says: float32 parameter bytes and effective MACs (non-zero inputs); ridge has no
activations (the sparsity of its input is given), the GRU's state is dense (sparsity 0, NeuroBench's convention for
activations that are not exactly zero). Lava `fixed_pt` runs `LAVA_WINDOWS` test windows spread evenly and must equal
the reference exactly. Writes evaluation.json (atomic) and the PNG plots of `plots.py`, labelled SYNTHETIC where
the data are.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spikeport.errors import CorruptFileError, InputDataError, SpikeportError
from spikeport.files import write_json
from spikeport.train.models.rat_snn.adapt import scores

__all__ = ["EVALUATION_FILE", "GRU_EPOCHS", "LAVA_WINDOWS", "evaluate_run"]

EVALUATION_FILE = "evaluation.json"
GRU_EPOCHS = 20
LAVA_WINDOWS = 24
"""Test windows run on Lava (one Lava run of `steps` steps each)."""


def _per_session(pred: np.ndarray, y: np.ndarray, sessions: np.ndarray, names: list[str]) -> dict[str, Any]:
    return {names[int(s)]: scores(pred[sessions == s], y[sessions == s]) for s in np.unique(sessions)}


def _snn_costs(graph, x: np.ndarray, record) -> dict[str, Any]:
    from spikeport.targets.conventions import count_layers

    counts = count_layers(graph, x, record)
    steps = int(x.shape[1])
    acs, macs = counts.total("effective_acs"), counts.total("effective_macs")
    first = {c.name for c in graph.connections if graph.source_of(c).name == graph.input.name}
    after = sum(la.total("effective_macs") for la in counts.layers if la.role == "connection" and la.name not in first)
    return {
        "effective_acs_per_step": acs,
        "effective_macs_per_step": macs,
        "dense_ops_per_step": counts.total("dense"),
        "effective_acs_per_timestep": acs / steps,
        "effective_macs_per_timestep": macs / steps,
        "macs_after_encoding_layer": after,
        "ops_per_step": acs + macs,
        "footprint_bytes": int(counts.footprint["total_bytes"]),
        "activation_sparsity": counts.activation_sparsity(),
        "ops_counted_on": "integer reference, whole test split; a step = one decoded output (one window)",
    }


def _baseline_row(base, x_test: np.ndarray, y: np.ndarray, sessions: np.ndarray, names: list[str]) -> dict:
    return {
        "model": base.name,
        **scores(base.pred, y),
        "r2_per_session": _per_session(base.pred, y, sessions, names),
        "effective_acs_per_step": 0.0,
        "effective_macs_per_step": float(base.effective_macs_per_step),
        "dense_ops_per_step": float(base.macs_per_step),
        "ops_per_step": float(base.effective_macs_per_step),
        "footprint_bytes": int(base.footprint_bytes),
        "activation_sparsity": float(np.mean(x_test == 0)) if base.name == "ridge" else 0.0,
        "sparsity_of": "input windows" if base.name == "ridge" else "hidden state",
        "params": int(base.params),
    }


def _check_options(options: Mapping[str, Any], info: Mapping[str, Any]) -> None:
    if options.get("protocol") not in (None, "sessions"):
        raise InputDataError(f"--protocol {options['protocol']}: rat-snn evaluates per session; use --protocol "
                             "sessions or omit it")
    if options.get("data_path") is not None and info["data"] == "synthetic":
        raise InputDataError(f"--data-path {options['data_path']}: this run is SYNTHETIC; its data are regenerated "
                             "from the run's seed, omit --data-path")
    if options.get("streaming"):
        raise InputDataError("--streaming: rat-snn decodes causal windows; omit --streaming")


def evaluate_run(run_dir: Path, options: Mapping[str, Any], progress: bool) -> dict:
    """Evaluate a trained, quantized rat-snn run; returns the result with its "summary" lines."""
    from spikeport.train.baselines.gru import train_gru
    from spikeport.train.baselines.ridge import train_ridge
    from spikeport.train.models.rat_snn.data import clipped_counts, network_inputs, reload_split, thin
    from spikeport.train.models.rat_snn.deploy import run_backend
    from spikeport.train.models.rat_snn.fit import predict
    from spikeport.train.models.rat_snn.plots import write_plots
    from spikeport.train.models.rat_snn.runs import load_run

    run_dir = Path(run_dir)
    run = load_run(run_dir)
    info, seed = run.info, int(options.get("seed") or 0)
    _check_options(options, info)
    backends = tuple(options.get("backends") or ("float", "reference", "lava"))
    graph = run.deploy_graph()
    split = reload_split(info, options.get("data_path"))
    x_test, y = network_inputs(split.test.x, run.info), split.test.y / run.y_scale
    x_train, y_train = split.train.x, split.train.y / run.y_scale
    stored = {w.tobytes() for w in run.data["x_test"]}
    if not stored <= {w.tobytes() for w in x_test}:
        raise CorruptFileError(f"{run_dir}: the test windows rebuilt from the run's data source do not hold those of "
                               "data.npz; the recordings changed since training (re-run `spikeport train`)")
    names = list(info["session_names"])
    sessions, steps = split.test.session, int(info["steps"])

    rows, predictions = [], {}
    reference = run_backend(graph, x_test, "reference")
    costs = _snn_costs(graph, x_test, reference.record)
    if "float" in backends:
        pred = predict(run.model, x_test)
        predictions["snn float"] = pred
        rows.append({"model": "snn float", **scores(pred, y), "r2_per_session": _per_session(pred, y, sessions, names),
                     **costs, "costs_of": "the deployed graph (the float model has the same layers)"})
    predictions["snn deployed"] = reference.predictions
    rows.append({"model": "snn deployed", **scores(reference.predictions, y),
                 "r2_per_session": _per_session(reference.predictions, y, sessions, names), **costs})
    agreement: dict[str, Any] = {}
    if "lava" in backends:
        picked = thin(len(x_test), LAVA_WINDOWS)  # spread over the test sessions
        lava = run_backend(graph, x_test[picked], "lava", progress=progress)
        agreement = {"windows": len(picked),
                     "predictions_equal": bool(np.array_equal(lava.predictions, reference.predictions[picked])),
                     "lava": scores(lava.predictions, y[picked]), "reference": scores(reference.predictions[picked],
                                                                                       y[picked])}
    ridge = train_ridge(x_train, y_train, split.test.x, y)
    gru = train_gru(x_train, y_train, split.test.x, y, epochs=GRU_EPOCHS, seed=seed)
    for base in (ridge, gru):
        predictions[base.name] = base.pred
        rows.append(_baseline_row(base, split.test.x, y, sessions, names))

    label = "SYNTHETIC" if info.get("synthetic") else "recorded"
    plots = write_plots(run_dir, label, y, sessions, predictions, rows, names)
    header = (f"{'model':<13} {'R² vel_x':>8} {'vel_y':>6} {'mean':>6} {'eff.ACs':>8} {'eff.MACs':>8} {'bytes':>7} "
              f"{'sparsity':>8}   (ops per decoded step = one {steps}-bin window)")
    table = [f"{r['model']:<13} {r['r2'][0]:8.3f} {r['r2'][1]:6.3f} {r['r2_mean']:6.3f} "
             f"{r['effective_acs_per_step']:8.0f} {r['effective_macs_per_step']:8.0f} {r['footprint_bytes']:7d} "
             f"{r['activation_sparsity']:8.3f}" for r in rows]
    per_session = [f"  {r['model']:<13} " + "  ".join(f"{s} {v['r2_mean']:.3f}" for s, v in r["r2_per_session"].items())
                   for r in rows]
    result = {
        "data": label, "description": info.get("description", ""), "split": info.get("split_rule", ""),
        "n_train": len(y_train), "n_test": len(y), "steps_per_sample": steps, "bin_s": float(info["bin_s"]),
        "y_scale": run.y_scale, "seed": seed, "rows": rows, "reference_vs_lava": agreement, "plots": plots,
    }  # fmt: skip
    lines = [f"rat-snn evaluation ({label} data; {result['split']}; {len(y)} test windows of {steps} bins):",
             header, *table, "R² (mean) per test session:", *per_session,
             f"SNN effective MACs after the encoding layer: {costs['macs_after_encoding_layer']:.0f}",
             *clipped_counts(split.test.x, info)]
    if agreement:
        lines.append(f"reference vs lava on {agreement['windows']} test windows: predictions "
                     + ("IDENTICAL" if agreement["predictions_equal"] else "DIFFER"))
    path = write_json(run_dir / EVALUATION_FILE, {**result, "summary": lines})
    lines.append(f"wrote {path} and {', '.join(plots)}")
    if agreement and not agreement["predictions_equal"]:
        raise SpikeportError(f"{path}: Lava predictions differ from the integer reference on "
                             f"{agreement['windows']} test windows (see reference_vs_lava in the file)")
    return {**result, "summary": lines}
