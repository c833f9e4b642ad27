"""The pipeline stages as functions over a run directory; the CLI and `spikeport demo` call these.

A run directory holds one artifact per stage, so any stage can be re-run alone:

    data.npz             encoded spike inputs (train/test), targets, and where the data came from
    model.pt             trained model: family name, config and state dict   <- train
    model.nir            NIR graph of the model                              <- export
    model.deploy.npz     integer deploy graph (readout and task in its metadata); quantization.json  <- quantize
    record_<backend>.npz spikes, u, v of every population at every step     <- simulate
    report.json          task metrics, bit-exactness, ops and energy         <- report

Which model is built, trained, evaluated and exported is the model family's business
(`spikeport.train.models`): the stages only call its hooks, so every registered family runs through them.

Run integrity (`spikeport.integrity`): each stage checks every artifact it reads against the run's `manifest.json`
(present, written by its stage, unchanged, made from the current versions of its inputs) and records every artifact it
writes, with the hashes of what it was made from. A stage computes everything before it writes anything, and every
write is atomic, so a failing stage leaves the previous artifacts as they were.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from spikeport.errors import CorruptFileError, SpikeportError
from spikeport.files import atomic_write, write_json
from spikeport.ir.formats import DEFAULT_CHIP
from spikeport.report import REPORT_INPUTS, REPORT_SCHEMA_VERSION, build_report
from spikeport.rundir import (
    DATA_FILE,
    DEPLOY_FILE,
    MODEL_FILE,
    NIR_FILE,
    QUANT_FILE,
    REPORT_FILE,
    TRAIN_FILE,
    data_info,
    load_data,
    load_model,
    model_family_name,
    open_run,
    record_name,
    record_path,
    require,
    save_data,
    save_model,
)
from spikeport.train.models.family import RunConfig, TaskData

__all__ = [
    "DATA_FILE",
    "DEPLOY_FILE",
    "MODEL_FILE",
    "NIR_FILE",
    "QUANT_FILE",
    "REPORT_FILE",
    "REPORT_SCHEMA_VERSION",
    "TRAIN_FILE",
    "RunConfig",
    "load_data",
    "load_model",
    "run_demo",
    "stage_export",
    "stage_quantize",
    "stage_report",
    "stage_simulate",
    "stage_train",
]

BACKENDS = ("reference", "lava")


def stage_train(run_dir: Path, cfg: RunConfig, *, progress: bool = True, data: TaskData | None = None) -> dict:
    """Build the family's default data (or take `data`: the user's own arrays, `spikeport.make_run`), train the
    family's model on it; returns the training facts.

    Writes `data.npz`, `model.pt` (with the family name) and `training.json`, after training has succeeded.
    Under torchrun (docs/scaling.md) the batches are shared across the ranks and only rank 0 writes.
    """
    from spikeport.train import distributed
    from spikeport.train.models import get_family
    from spikeport.train.tasks import task_metrics

    family = get_family(cfg.model)
    main = distributed.is_main()  # under torchrun every rank trains on its shard of each batch; rank 0 writes
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
    manifest = open_run(run_dir) if main else None
    data = family.make_data(cfg) if data is None else data
    model = family.build_model(family.make_config(cfg, data), cfg.seed)
    with distributed.data_parallel():
        history = family.train(model, data, seed=cfg.seed, epochs=cfg.epochs, progress=progress and main)
    facts = {
        "model": family.name,
        "task": family.task.value,
        "float_test": task_metrics(family.task, family.predict(model, data.x_test), data.y_test),
        "float_train": task_metrics(family.task, family.predict(model, data.x_train), data.y_train),
        "epochs": len(history.loss),
        "final_loss": float(history.loss[-1]),
        "n_train": len(data.y_train),
        "n_test": len(data.y_test),
    }
    if manifest is None:
        return facts
    save_data(run_dir, data.arrays(), dict(data.info))
    save_model(run_dir, family.name, model)
    write_json(run_dir / TRAIN_FILE, facts)
    manifest.record(DATA_FILE, "train", seed=cfg.seed)
    manifest.record(MODEL_FILE, "train", inputs=(DATA_FILE,), seed=cfg.seed)
    manifest.record(TRAIN_FILE, "train", inputs=(DATA_FILE, MODEL_FILE), seed=cfg.seed)
    return facts


def _refuse_nan(graph, model_path: Path, where: str = "") -> None:
    """Raise CorruptFileError if a NIR graph holds NaN anywhere, or an infinite weight or bias."""
    import nir

    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            _refuse_nan(node, model_path, f"{where}{name}.")
            continue
        for key, value in vars(node).items():
            if hasattr(value, "detach"):  # a torch tensor (families may leave them in the graph)
                value = value.detach().cpu().numpy()
            if not isinstance(value, np.ndarray | float) or np.asarray(value).dtype.kind != "f":
                continue
            array = np.asarray(value)
            bad = np.isnan(array) if key not in ("weight", "bias") else ~np.isfinite(array)
            if bad.any():
                raise CorruptFileError(
                    f"{model_path}: NIR node '{where}{name}' parameter {key!r} holds {int(bad.sum())} NaN or "
                    "infinite value(s); nothing was written. The trained model is unusable: re-run `spikeport train` "
                    "(another --seed or fewer --epochs)"
                )


def stage_export(run_dir: Path, to: str = "nir") -> Path:
    """Write the trained model as `model.nir`, checked to read back as an equal graph before it replaces the old one.

    A model with NaN parameters, or a graph that does not read back equal, fails with the previous `model.nir` intact.
    `to="onnx"` or `"netx"` writes the run's ONNX graphs or netx file instead (`spikeport.export_run`).
    """
    from spikeport.export import nir_graphs_equal, read_nir, write_nir

    if to != "nir":
        from spikeport.export_run import export_to

        return export_to(run_dir, to)[0]

    manifest = open_run(run_dir)
    family, model = load_model(run_dir, manifest)
    info = data_info(load_data(run_dir, manifest))
    graph = family.to_nir(model, info)
    _refuse_nan(graph, run_dir / MODEL_FILE)
    equal = family.nir_equal or nir_graphs_equal
    path = run_dir / NIR_FILE

    def fill(tmp: Path) -> None:
        write_nir(graph, tmp)
        if not equal(graph, read_nir(tmp)):
            raise SpikeportError(
                f"{path}: reading the written NIR graph back gave a different graph; nothing was written"
            )

    atomic_write(path, fill)
    manifest.record(NIR_FILE, "export", inputs=(MODEL_FILE, DATA_FILE))
    return path


def stage_quantize(
    run_dir: Path,
    *,
    chip: str = DEFAULT_CHIP,
    num_weight_bits: int = 8,
    finetune_epochs: int = 0,
    seed: int = 0,
    progress: bool = True,
    distill_epochs: int = 0,
    calibration=None,
    calibration_label: str | None = None,
):
    """Quantize `model.nir` to `model.deploy.npz`, calibrated on the training inputs (or on `calibration`, an array
    (samples, steps, n_in) of spikes from `--calibration FILE.npy`, named `calibration_label`); returns (graph, report).

    With `distill_epochs`, the integer weights are first fine-tuned without labels so each layer follows the float
    graph on the training inputs (`spikeport.train.distill`); quantization.json records the per-layer spike
    agreement before and after under "distill".

    The family's readout and task are written into the deploy graph's metadata. With `finetune_epochs`, the
    integer weights are then fine-tuned through the integer forward pass (`spikeport.train.qat`) and the test
    metrics of that training-time forward are recorded.
    """
    from spikeport.export import parse_nir, read_nir
    from spikeport.ir import save_deploy_graph
    from spikeport.simulators import run_reference
    from spikeport.targets.quantize import quantize
    from spikeport.train.models import get_family, readout_scale
    from spikeport.train.qat import finetune_integer, integer_predictions
    from spikeport.train.tasks import task_metrics

    manifest = open_run(run_dir)
    data = load_data(run_dir, manifest)
    family = get_family(model_family_name(run_dir, manifest))
    info = data_info(data)
    net = parse_nir(read_nir(require(run_dir, NIR_FILE, manifest)))
    # class/output names and the recording's time bin per step (real-time latency and power in the report)
    names = {key: info[key] for key in ("class_names", "output_names", "step_seconds") if key in info}
    if calibration is None:
        calibration, calibration_label = data["x_train"], f"the run's training inputs ({len(data['x_train'])} samples)"
    graph, report = quantize(
        net,
        calibration_inputs=calibration,
        calibration_label=calibration_label,
        num_weight_bits=num_weight_bits,
        chip=chip,
        metadata={**names, "model": family.name, "task": family.task.value, "readout": family.readout.value},
        input_message_bits=int(info.get("input_message_bits", 0)),  # graded inputs (e.g. rat-snn's spike counts)
    )
    details = report.to_dict()
    if distill_epochs:
        from spikeport.train.distill import distill

        distilled = distill(graph, net, data["x_train"], epochs=distill_epochs, seed=seed, progress=progress)
        graph = distilled.graph
        details["distill"] = {
            "epochs": distill_epochs,
            "loss": list(distilled.loss),
            "kept_epoch": distilled.kept_epoch,
            "spike_agreement_before": distilled.agreement[0],
            "spike_agreement_after": distilled.agreement[distilled.kept_epoch],
        }
    if finetune_epochs:
        lean = run_reference(graph, data["x_test"], states=[graph.output])  # the readout reads the output's v only
        before = family.readout.apply(lean, graph.output, readout_scale(graph))
        network, history = finetune_integer(
            graph, data["x_train"], data["y_train"], epochs=finetune_epochs, seed=seed, progress=progress
        )
        graph = network.to_graph()
        details["integer_finetune"] = {
            "epochs": finetune_epochs,
            "loss": list(history.loss),
            f"train_{history.metric_name}": list(history.train_metric),
            "test_before": task_metrics(family.task, before, data["y_test"]),
            "test_training_forward": task_metrics(
                family.task, integer_predictions(network, data["x_test"]), data["y_test"]
            ),
        }
    save_deploy_graph(graph, run_dir / DEPLOY_FILE)
    write_json(run_dir / QUANT_FILE, details)
    inputs = (NIR_FILE, DATA_FILE, MODEL_FILE)
    manifest.record(DEPLOY_FILE, "quantize", inputs=inputs, seed=seed)
    manifest.record(QUANT_FILE, "quantize", inputs=(*inputs, DEPLOY_FILE), seed=seed)
    return graph, report


def simulate_stage(backend: str, split: str = "test") -> str:
    """The command that writes `record_<backend>.npz` from a data split, as the manifest records it."""
    return f"simulate --backend {backend}" + ("" if split == "test" else f" --split {split}")


def stage_simulate(
    run_dir: Path,
    backend: str,
    *,
    split: str = "test",
    progress: bool = True,
    strict: bool = False,
    lava_config="cpu",
    workers: int = 1,
):
    """Run the deploy graph on `backend` ('reference' or 'lava') over a data split; saves and returns the record.

    `workers` > 1 splits a Lava run's samples over that many worker processes (the same record; docs/scaling.md).

    With `strict`, any saturation or wrap-around (counted by the reference simulator, which also runs first for a
    Lava run, since Lava's stock processes count nothing) raises `SaturationError` and no record is written.
    """
    from spikeport.ir import load_deploy_graph
    from spikeport.simulators import run_reference, save_record

    if backend not in BACKENDS:
        raise SpikeportError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if workers != 1 and backend != "lava":
        raise SpikeportError(f"--workers {workers} applies to --backend lava only (the reference runs batched)")
    if split not in ("test", "train"):
        raise SpikeportError(f"unknown split {split!r}; choose test or train")
    manifest = open_run(run_dir)
    graph = load_deploy_graph(require(run_dir, DEPLOY_FILE, manifest))
    inputs = load_data(run_dir, manifest)[f"x_{split}"]
    if backend == "reference":
        record = run_reference(graph, inputs, strict=strict)
    else:
        if strict:  # only its saturation counts matter: no u and v
            run_reference(graph, inputs, strict=True, states=False)
        from spikeport.simulators.lava import run_lava

        record = run_lava(graph, inputs, progress=progress, config=lava_config, workers=workers)
    save_record(record, record_path(run_dir, backend))
    manifest.record(record_name(backend), simulate_stage(backend, split), inputs=(DEPLOY_FILE, DATA_FILE))
    return record


def stage_report(
    run_dir: Path,
    *,
    chip: str = DEFAULT_CHIP,
    timings: dict | None = None,
    strict: bool = False,
    energy_proxy: str | None = None,
) -> dict:
    """Assemble `report.json` from the run directory's artifacts (`spikeport.report`); returns the report.

    Every artifact read is checked against the manifest first, so the report never mixes artifacts of different runs.
    With `strict`, a run with any saturation or wrap-around raises `SaturationError` and no report is written.
    """
    from spikeport.simulators.saturation import check_strict

    manifest = open_run(run_dir)
    report = build_report(run_dir, chip=chip, energy_proxy=energy_proxy, timings=timings, manifest=manifest)
    if strict:
        check_strict(report["saturation"]["counts"], f"the test run of {run_dir}")
    write_json(run_dir / REPORT_FILE, report)
    manifest.record(REPORT_FILE, "report", inputs=REPORT_INPUTS)
    return report


def run_demo(run_dir: Path, cfg: RunConfig, *, progress: bool = True, echo=print) -> dict:
    """Every stage on the family's default data; writes all artifacts and `report.json`, returns the report."""
    from spikeport.simulators import compare_runs
    from spikeport.train.tasks import format_metrics

    timings: dict[str, float] = {}

    def timed(name: str, fn, *args, **kwargs):
        start = time.perf_counter()
        echo(f"[{len(timings) + 1}/6] {name} ...")
        result = fn(*args, **kwargs)
        timings[f"{name}_s"] = round(time.perf_counter() - start, 3)
        return result

    run_dir.mkdir(parents=True, exist_ok=True)
    command = " ".join(["spikeport", *sys.argv[1:]]) + f"\nseed={cfg.seed}\n{asdict(cfg)}\n"
    atomic_write(run_dir / "command.txt", lambda tmp: tmp.write_text(command))
    facts = timed("train", stage_train, run_dir, cfg, progress=progress)
    echo(f"      float test {format_metrics(facts['float_test'])} after {facts['epochs']} epochs")
    timed("export", stage_export, run_dir)
    _, qreport = timed(
        "quantize",
        stage_quantize,
        run_dir,
        chip=cfg.chip,
        finetune_epochs=cfg.finetune_epochs,
        seed=cfg.seed,
        progress=progress,
    )
    for line in qreport.summary_lines():
        echo(f"      {line}")
    ref = timed("simulate_reference", stage_simulate, run_dir, "reference", progress=progress)
    lava = timed("simulate_lava", stage_simulate, run_dir, "lava", progress=progress)
    comparison = compare_runs(ref, lava)
    echo("      " + comparison.summary().replace("\n", "\n      "))
    return timed("report", stage_report, run_dir, chip=cfg.chip, timings=timings)
