"""`report.json`: task metrics per stage, bit-exactness, op counts and energy of a simulated run directory.

The schema (version `REPORT_SCHEMA_VERSION`) is documented field by field in docs/report-schema.md.
`build_graph_report` is the same report for a deploy graph alone (an imported model) on the user's own inputs,
and labels if given: no run directory, no float model, no Lava run; scored on the integer reference. The task and
the readout come from the deploy graph's metadata, so the report scores every backend's record exactly as the
model family reads its output: accuracy (and chance) for classification, R² and Pearson correlation per output
(and their means) for regression.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from spikeport.errors import CorruptFileError, SpikeportError, StaleArtifactError
from spikeport.integrity import RunManifest
from spikeport.ir.formats import DEFAULT_CHIP
from spikeport.rundir import (
    DATA_FILE,
    DEPLOY_FILE,
    QUANT_FILE,
    TRAIN_FILE,
    data_info,
    load_data,
    open_run,
    read_json,
    reading,
    record_name,
    require,
    stage_of,
)

__all__ = [
    "REPORT_INPUTS",
    "REPORT_SCHEMA_VERSION",
    "STAGES",
    "build_graph_report",
    "build_report",
    "graph_summary_lines",
    "score",
    "score_line",
    "summary_lines",
]

REPORT_SCHEMA_VERSION = 3
STAGES = ("float", "quantized_reference", "lava", "quantized_before_finetune", "integer_training_forward")
"""Keys of `performance.stages`, in the order the summary prints them (the last two only after fine-tuning)."""
REPORT_INPUTS = (DEPLOY_FILE, record_name("reference"), record_name("lava"), DATA_FILE, TRAIN_FILE, QUANT_FILE)
"""The artifacts a report is made from, checked against the run's manifest in this order."""


def _record(run_dir: Path, backend: str, n_test: int, graph, manifest: RunManifest):
    """A backend's test-split record, checked: its manifest entry, the backend it states, its populations."""
    from spikeport.ir.kinds import Role
    from spikeport.simulators import load_record

    name = record_name(backend)
    path = require(run_dir, name, manifest)
    made_by = manifest.entries[name].stage
    if made_by != stage_of(name):
        raise StaleArtifactError(
            f"{path} was made by `spikeport {made_by}`, but the report scores the test split; "
            f"re-run `spikeport {stage_of(name)}`"
        )
    with reading(path, "simulation record (.npz)"):
        record = load_record(path)
    if record.backend != backend:
        raise StaleArtifactError(
            f"{path} holds a record of backend {record.backend!r}, not {backend!r}; re-run `spikeport {stage_of(name)}`"
        )
    populations = [n for n, node in graph.nodes.items() if node.role is Role.POPULATION]
    if sorted(record.populations) != sorted(populations):
        raise StaleArtifactError(
            f"{path} records populations {sorted(record.populations)} but the deploy graph has {sorted(populations)}; "
            f"re-run `spikeport {stage_of(name)}`"
        )
    if record.num_samples != n_test:
        raise SpikeportError(
            f"{path} holds {record.num_samples} samples but the test split has {n_test}; "
            f"run `spikeport simulate {run_dir} --backend {backend} --split test`"
        )
    return record


def _float_metrics(training: dict, task: str) -> dict:
    if "float_test" not in training:
        raise CorruptFileError(
            f"{TRAIN_FILE} has no float_test metrics (written by an older spikeport); re-run `spikeport train`"
        )
    if training.get("task", task) != task:
        raise SpikeportError(
            f"{TRAIN_FILE} is for a {training.get('task')} model but the deploy graph is for {task}; "
            "re-run `spikeport export` and `spikeport quantize` after training"
        )
    return training["float_test"]


def build_report(
    run_dir: Path,
    *,
    chip: str = DEFAULT_CHIP,
    energy_proxy: str | None = None,
    timings: dict | None = None,
    manifest: RunManifest | None = None,
) -> dict:
    """The report of a run directory with data, training facts, a deploy graph and both simulation records.

    Every artifact in `REPORT_INPUTS` is checked against the run's manifest before it is read.

    Args:
        run_dir: the run directory.
        chip: the chip to map onto and whose energy figures to use: a shipped chip's name or a chip file's path.
        energy_proxy: chip whose per-operation figures stand in for a chip without them (Loihi 2), labelled PROXY.
        timings: seconds per stage (the demo's), stored under `timing`.
        manifest: the run's manifest, if the caller has opened it already.

    Raises:
        StaleArtifactError: If an artifact is missing, foreign, changed, or made from other inputs than the rest.
        SpikeportError: If an artifact is unreadable, or inconsistent with the others.
    """
    from spikeport.ir import load_deploy_graph
    from spikeport.simulators import compare_runs
    from spikeport.targets import count_ops
    from spikeport.targets.deploy_report import deployment_blocks
    from spikeport.train.models import readout_of, readout_scale
    from spikeport.train.tasks import TaskKind, chance_level, task_metrics

    manifest = manifest or open_run(run_dir)
    for name in REPORT_INPUTS:  # all checked before any is read, in the order a user re-runs their stages
        require(run_dir, name, manifest)
    graph = load_deploy_graph(run_dir / DEPLOY_FILE)
    data = load_data(run_dir, manifest)
    y_test = data["y_test"]
    ref = _record(run_dir, "reference", len(y_test), graph, manifest)
    lava = _record(run_dir, "lava", len(y_test), graph, manifest)
    training = read_json(require(run_dir, TRAIN_FILE, manifest), "train")
    quantization = read_json(require(run_dir, QUANT_FILE, manifest), "quantize")
    readout = readout_of(graph.metadata)
    task, scale = readout.task, readout_scale(graph)
    stages = {
        "float": _float_metrics(training, task.value),
        "quantized_reference": task_metrics(task, readout.apply(ref, graph.output, scale), y_test),
        "lava": task_metrics(task, readout.apply(lava, graph.output, scale), y_test),
    }
    finetune = quantization.get("integer_finetune")
    if finetune:
        stages["quantized_before_finetune"] = finetune["test_before"]
        stages["integer_training_forward"] = finetune["test_training_forward"]
    performance = {"task": task.value, "readout": readout.value, "stages": stages}
    if task is TaskKind.CLASSIFICATION:
        performance["chance"] = chance_level(y_test)
    comparison = compare_runs(ref, lava)
    counts = count_ops(graph, data["x_test"], ref)
    blocks, deploy_lines = deployment_blocks(
        graph, data["x_test"], ref, counts, chip=chip, energy_proxy=energy_proxy, run_dir=run_dir
    )
    report = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "model": str(graph.metadata.get("model", training.get("model", "decoder"))),
        "data": {
            **data_info(data),
            "n_train": len(data["y_train"]),
            "n_test": len(y_test),
            "steps_per_sample": ref.num_steps,
            "n_inputs": int(data["x_test"].shape[2]),
        },
        "performance": performance,
        "bit_exact": comparison.bit_exact,
        "validation": {
            "values_compared": comparison.values_compared,
            "values_differing": comparison.values_differing,
            "first_mismatch": asdict(comparison.first_mismatch) if comparison.first_mismatch else None,
            "readout_spikes": int(np.abs(ref.populations[graph.output].spikes).sum()),
        },
        "saturation": {
            "counted_by": comparison.saturation_counted_by,
            "counts": {node: dict(counts) for node, counts in comparison.saturation.items()},
            "line": comparison.saturation_line(),
        },
        "training": {k: v for k, v in training.items() if k != "float_test"},
        "quantization": quantization,
        "ops": counts.to_dict(),
        **blocks,
        "chip": blocks["energy"]["chip"],
        "timing": timings or {},
    }
    report["summary"] = [*summary_lines(report), *deploy_lines]
    return report


def summary_lines(report: dict) -> list[str]:
    """A short human summary of a report (data, task metrics per stage, bit-exactness)."""
    from spikeport.train.tasks import format_metrics

    perf, data = report["performance"], report["data"]
    stages = perf["stages"]
    label = "SYNTHETIC data" if data["synthetic"] else "recorded data"

    def value(stage: str) -> str:
        return format_metrics(stages[stage], labelled=False)

    if perf["task"] == "classification":
        heading, tail = "accuracy (test)", f" | chance {perf['chance']:.3f}"
    else:
        n_out = len(stages["float"]["r2"])
        heading, tail = f"R²/Pearson r (test, mean of {n_out} outputs)", ""
    lines = [
        f"data: {label} ({data['description'].splitlines()[0]})",
        f"      {data['n_train']} train / {data['n_test']} test trials, {data['steps_per_sample']} steps, "
        f"{data['n_inputs']} input neurons",
        f"{heading}: float {value('float')} | quantized reference {value('quantized_reference')} | "
        f"Lava fixed_pt {value('lava')}{tail}",
    ]
    if "integer_training_forward" in stages:
        lines.append(
            f"      integer fine-tuning: {value('quantized_before_finetune')} before, training-time integer "
            f"forward {value('integer_training_forward')}"
        )
    validation = report["validation"]
    lines.append(
        f"bit-exact reference vs Lava: {report['bit_exact']} ({validation['values_compared']} values, "
        f"{validation['values_differing']} differ)"
    )
    lines.append(report["saturation"]["line"])
    return lines


def _label_info(graph) -> dict:
    """What the labels of a graph's readout must be (`check_targets`): class indices or one value per output."""
    from spikeport.train.models import readout_of
    from spikeport.train.tasks import TaskKind

    size = int(graph.nodes[graph.output].size)
    if readout_of(graph.metadata).task is TaskKind.CLASSIFICATION:
        names = graph.metadata.get("class_names") or [str(i) for i in range(size)]
        return {"class_names": list(names)}
    return {"output_names": list(graph.metadata.get("output_names") or [str(i) for i in range(size)])}


def score(graph, record, labels, *, labels_source: str = "labels") -> dict:
    """Task metrics of a run of `graph` against `labels`, through the graph's readout: the `performance` block.

    Args:
        graph: the deploy graph (its `metadata["readout"]`, else `DEFAULT_READOUT`).
        record: a `RunRecord` of the graph (any backend).
        labels: class indices (samples,) or regression targets (samples, outputs).
        labels_source: where the labels came from, for messages.

    Raises:
        InputDataError: labels of the wrong length, type or class range.
    """
    from spikeport.checks import check_targets
    from spikeport.train.models import readout_of, readout_scale
    from spikeport.train.tasks import TaskKind, chance_level, task_metrics

    readout = readout_of(graph.metadata)
    y = check_targets(labels, source=labels_source, field="labels", samples=record.num_samples, info=_label_info(graph))
    predictions = readout.apply(record, graph.output, readout_scale(graph))
    performance = {
        "task": readout.task.value,
        "readout": readout.value,
        "metrics": task_metrics(readout.task, predictions, y),
    }
    if readout.task is TaskKind.CLASSIFICATION:
        performance["chance"] = chance_level(y)
    return performance


def score_line(performance: dict, backend: str) -> str:
    """One line: a backend's task metrics against the labels, and chance."""
    from spikeport.train.tasks import format_metrics

    chance = f" | chance {performance['chance']:.3f}" if "chance" in performance else ""
    return f"{backend}, readout {performance['readout']}: {format_metrics(performance['metrics'])}{chance}"


def build_graph_report(
    graph,
    inputs: np.ndarray,
    *,
    labels: np.ndarray | None = None,
    chip: str | None = None,
    energy_proxy: str | None = None,
    record=None,
    source: str = "inputs",
    labels_source: str = "labels",
) -> dict:
    """The report of a deploy graph on given inputs: task metrics (with labels), saturation, ops, mapping, energy
    and latency, from one run of the integer reference (which is bit-exact with Lava; `spikeport validate` checks).

    Predictions use the graph's readout (`metadata["readout"]`; an imported graph records none and gets
    `DEFAULT_READOUT`, the argmax over output neurons of v summed over steps).

    Args:
        graph: the deploy graph.
        inputs: (samples, steps, n_in) spike inputs.
        labels: class indices (samples,) or regression targets (samples, outputs); None: no task metrics.
        chip: chip to map onto and estimate (a shipped chip or a chip file); None: the graph's own.
        energy_proxy: chip whose per-operation figures stand in for a chip without them, labelled PROXY.
        record: the reference run of `inputs`, if already made (it is made otherwise).
        source, labels_source: where inputs and labels came from, for messages (file names).

    Raises:
        InputDataError: inputs or labels of the wrong shape or values, or a record of other inputs.
        ChipCapacityError, EnergyModelError: the graph does not fit the chip, or no energy figures are usable.
    """
    from spikeport.checks import check_spike_inputs
    from spikeport.errors import InputDataError
    from spikeport.simulators import run_reference
    from spikeport.simulators.saturation import describe
    from spikeport.targets import count_ops
    from spikeport.targets.deploy_report import deployment_blocks

    x = check_spike_inputs(inputs, source=source, n_in=int(graph.input.size), n_in_of="the deploy graph's input")
    if record is None:
        record = run_reference(graph, x)
    elif record.backend != "reference" or (record.num_samples, record.num_steps) != x.shape[:2]:
        raise InputDataError(
            f"record: a {record.backend} run of {record.num_samples} x {record.num_steps} steps is not the reference "
            f"run of {source} ({x.shape[0]} x {x.shape[1]}); pass the record of simulate(graph, inputs)"
        )
    performance = None if labels is None else score(graph, record, labels, labels_source=labels_source)
    counts = count_ops(graph, x, record)
    chip = chip or graph.chip
    blocks, deploy_lines = deployment_blocks(graph, x, record, counts, chip=chip, energy_proxy=energy_proxy)
    report = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "kind": "graph",
        "model": str(graph.metadata.get("model", graph.metadata.get("imported_from", "deploy graph"))),
        "data": {
            "source": source,
            "n_samples": int(x.shape[0]),
            "steps_per_sample": int(x.shape[1]),
            "n_inputs": int(x.shape[2]),
            "labels": labels_source if labels is not None else None,
        },
        "performance": performance,
        "saturation": {
            "counted_by": "reference",
            "counts": {node: dict(c) for node, c in record.saturation.items()},
            "line": f"saturation (reference run): {describe(record.saturation)}",
        },
        "ops": counts.to_dict(),
        **blocks,
        "chip": blocks["energy"]["chip"],
    }
    report["summary"] = [*graph_summary_lines(report), *deploy_lines]
    return report


def graph_summary_lines(report: dict) -> list[str]:
    """A short human summary of a graph report: inputs, task metrics, saturation."""
    data, perf = report["data"], report["performance"]
    lines = [
        f"{report['model']} on {data['source']}: {data['n_samples']} samples x {data['steps_per_sample']} steps, "
        f"{data['n_inputs']} input channels"
    ]
    if perf is None:
        lines.append("task metrics: none (no labels given; pass --labels FILE.npy, or labels= in Python)")
    else:
        lines.append(score_line(perf, "integer reference (Lava computes the same values)"))
    lines.append(report["saturation"]["line"])
    return lines
