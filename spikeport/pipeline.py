"""The pipeline stages as functions over a run directory; the CLI and `spikeport demo` call these.

A run directory holds one artifact per stage, so any stage can be re-run alone:

    data.npz             encoded spike inputs (train/test), labels, subjects, and where the data came from
    model.pt             trained decoder (state dict and config)             <- train
    model.nir            NIR graph of the decoder                            <- export
    model.deploy.npz     integer deploy graph; quantization.json             <- quantize
    record_<backend>.npz spikes, u, v of every population at every step     <- simulate
    report.json          accuracy, bit-exactness, ops and energy             <- report
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from spikeport.errors import SpikeportError

REPORT_SCHEMA_VERSION = 1
DATA_FILE, MODEL_FILE, NIR_FILE, DEPLOY_FILE = "data.npz", "model.pt", "model.nir", "model.deploy.npz"
QUANT_FILE, TRAIN_FILE, REPORT_FILE = "quantization.json", "training.json", "report.json"


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the built-in default job (synthetic motor-imagery EEG)."""

    seed: int = 0
    n_subjects: int = 4
    trials_per_class: int = 40
    num_steps: int = 32
    n_hidden: int = 64
    epochs: int | None = None
    """None: the training loop's default."""
    test_fraction: float = 0.25
    chip: str = "loihi"
    finetune_epochs: int = 5
    """Epochs of quantization-aware fine-tuning through the integer forward pass (0: none)."""


def write_json(path: Path, payload: dict) -> None:
    """Write JSON atomically with sorted keys, so identical content gives identical bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def _require(path: Path, stage: str) -> Path:
    if not path.exists():
        raise SpikeportError(f"{path} not found; run `spikeport {stage}` for this run directory first")
    return path


def load_data(run_dir: Path) -> dict[str, np.ndarray]:
    """The encoded inputs and labels of a run directory."""
    with np.load(_require(run_dir / DATA_FILE, "train"), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def data_info(data: dict[str, np.ndarray]) -> dict:
    """The provenance record stored with the data (source, synthetic flag, description, class names)."""
    return json.loads(str(data["info"]))


def stage_train(run_dir: Path, cfg: DemoConfig, *, progress: bool = True) -> dict:
    """Generate the synthetic default data, encode it as spikes, train the decoder; returns training facts."""
    import torch

    from spikeport.train import (
        BandPowerSpikeEncoder,
        DecoderConfig,
        SpikingDecoder,
        accuracy,
        fit,
        make_synthetic_motor_imagery,
        predict,
        split_trials,
    )

    dataset = make_synthetic_motor_imagery(
        n_subjects=cfg.n_subjects, trials_per_class=cfg.trials_per_class, seed=cfg.seed
    )
    train_idx, test_idx = split_trials(dataset, test_fraction=cfg.test_fraction, seed=cfg.seed)
    encoder = BandPowerSpikeEncoder(num_steps=cfg.num_steps).fit(dataset.subset(train_idx))
    x_train, x_test = encoder.encode(dataset.subset(train_idx)), encoder.encode(dataset.subset(test_idx))
    y_train, y_test = dataset.labels[train_idx], dataset.labels[test_idx]
    info = {
        "source": "synthetic" if dataset.synthetic else "recorded",
        "synthetic": bool(dataset.synthetic),
        "description": dataset.description,
        "class_names": list(dataset.class_names),
        "input_names": list(encoder.input_names),
        "n_subjects": cfg.n_subjects,
        "seed": cfg.seed,
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        run_dir / DATA_FILE,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        subjects_train=dataset.subjects[train_idx],
        subjects_test=dataset.subjects[test_idx],
        info=np.array(json.dumps(info)),
    )
    model = SpikingDecoder(
        DecoderConfig(n_inputs=encoder.n_inputs, n_hidden=cfg.n_hidden, n_classes=len(dataset.class_names)),
        seed=cfg.seed,
    )
    fit_kwargs = {"seed": cfg.seed, "progress": progress}
    if cfg.epochs is not None:
        fit_kwargs["epochs"] = cfg.epochs
    history = fit(model, x_train, y_train, **fit_kwargs)
    torch.save({"config": asdict(model.config), "state_dict": model.state_dict()}, run_dir / MODEL_FILE)
    facts = {
        "float_accuracy_test": accuracy(predict(model, x_test), y_test),
        "float_accuracy_train": accuracy(predict(model, x_train), y_train),
        "epochs": len(history.loss),
        "final_loss": float(history.loss[-1]),
        "n_train": len(y_train),
        "n_test": len(y_test),
    }
    write_json(run_dir / TRAIN_FILE, facts)
    return facts


def load_model(run_dir: Path):
    """The trained decoder of a run directory."""
    import torch

    from spikeport.train import DecoderConfig, SpikingDecoder

    saved = torch.load(_require(run_dir / MODEL_FILE, "train"), weights_only=True)
    model = SpikingDecoder(DecoderConfig(**saved["config"]))
    model.load_state_dict(saved["state_dict"])
    return model.eval()


def stage_export(run_dir: Path) -> Path:
    """Write the trained decoder as `model.nir` and check that reading it back gives an equal graph."""
    from spikeport.export import model_to_nir, nir_graphs_equal, read_nir, write_nir

    info = data_info(load_data(run_dir))
    graph = model_to_nir(load_model(run_dir), class_names=tuple(info["class_names"]))
    path = write_nir(graph, run_dir / NIR_FILE)
    if not nir_graphs_equal(graph, read_nir(path)):
        raise SpikeportError(f"{path}: reading the written NIR graph back gave a different graph")
    return path


def stage_quantize(
    run_dir: Path,
    *,
    chip: str = "loihi",
    num_weight_bits: int = 8,
    finetune_epochs: int = 0,
    seed: int = 0,
    progress: bool = True,
):
    """Quantize `model.nir` to `model.deploy.npz`, calibrated on the training inputs; returns (graph, report).

    With `finetune_epochs`, the integer weights are then fine-tuned through the integer forward pass
    (`spikeport.targets.qat`) and the test accuracy of that training-time forward is recorded.
    """
    from spikeport.export import parse_nir, read_nir
    from spikeport.ir import save_deploy_graph
    from spikeport.simulators import run_reference
    from spikeport.targets.qat import finetune_integer, integer_predictions
    from spikeport.targets.quantize import quantize

    data = load_data(run_dir)
    net = parse_nir(read_nir(_require(run_dir / NIR_FILE, "export")))
    graph, report = quantize(
        net,
        calibration_inputs=data["x_train"],
        num_weight_bits=num_weight_bits,
        chip=chip,
        metadata={"class_names": data_info(data)["class_names"]},
    )
    details = report.to_dict()
    if finetune_epochs:
        before = run_reference(graph, data["x_test"]).predictions(graph.output)
        network, history = finetune_integer(
            graph, data["x_train"], data["y_train"], epochs=finetune_epochs, seed=seed, progress=progress
        )
        graph = network.to_graph()
        details["integer_finetune"] = {
            "epochs": finetune_epochs,
            "loss": list(history.loss),
            "train_accuracy": list(history.train_accuracy),
            "test_accuracy_before": float(np.mean(before == data["y_test"])),
            "test_accuracy_training_forward": float(
                np.mean(integer_predictions(network, data["x_test"]) == data["y_test"])
            ),
        }
    save_deploy_graph(graph, run_dir / DEPLOY_FILE)
    write_json(run_dir / QUANT_FILE, details)
    return graph, report


def stage_simulate(run_dir: Path, backend: str, *, split: str = "test", progress: bool = True):
    """Run the deploy graph on `backend` ('reference' or 'lava') over a data split; saves and returns the record."""
    from spikeport.ir import load_deploy_graph
    from spikeport.simulators import run_reference, save_record
    from spikeport.simulators.lava import run_lava

    graph = load_deploy_graph(_require(run_dir / DEPLOY_FILE, "quantize"))
    inputs = load_data(run_dir)[f"x_{split}"]
    if backend == "reference":
        record = run_reference(graph, inputs)
    elif backend == "lava":
        record = run_lava(graph, inputs, progress=progress)
    else:
        raise SpikeportError(f"unknown backend {backend!r}; choose 'reference' or 'lava'")
    save_record(record, run_dir / f"record_{backend}.npz")
    return record


def stage_report(run_dir: Path, *, chip: str = "loihi", timings: dict | None = None) -> dict:
    """Assemble `report.json` from the run directory's artifacts; returns the report."""
    from spikeport.ir import load_deploy_graph
    from spikeport.simulators import compare_runs, load_record
    from spikeport.targets import count_ops, estimate_energy, load_chip

    data = load_data(run_dir)
    graph = load_deploy_graph(_require(run_dir / DEPLOY_FILE, "quantize"))
    ref = load_record(_require(run_dir / "record_reference.npz", "simulate --backend reference"))
    lava = load_record(_require(run_dir / "record_lava.npz", "simulate --backend lava"))
    training = json.loads(_require(run_dir / TRAIN_FILE, "train").read_text())
    comparison = compare_runs(ref, lava)
    quantization = json.loads(_require(run_dir / QUANT_FILE, "quantize").read_text())
    finetune = quantization.get("integer_finetune")
    y_test = data["y_test"]
    readout_spikes = int(np.abs(ref.populations[graph.output].spikes).sum())
    counts = count_ops(graph, data["x_test"], ref)
    energy = estimate_energy(counts, load_chip(chip), steps_per_sample=ref.num_steps, dt_s=float(graph.metadata["dt"]))
    report = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "data": {
            **data_info(data),
            "n_train": len(data["y_train"]),
            "n_test": len(y_test),
            "steps_per_sample": ref.num_steps,
            "n_inputs": int(data["x_test"].shape[2]),
        },
        "accuracy": {
            "float": training["float_accuracy_test"],
            "quantized_reference": float(np.mean(ref.predictions(graph.output) == y_test)),
            "lava": float(np.mean(lava.predictions(graph.output) == y_test)),
            "chance": float(np.max(np.bincount(y_test)) / len(y_test)),
            **(
                {
                    "quantized_before_finetune": finetune["test_accuracy_before"],
                    "integer_training_forward": finetune["test_accuracy_training_forward"],
                }
                if finetune
                else {}
            ),
        },
        "bit_exact": comparison.bit_exact,
        "validation": {
            "values_compared": comparison.values_compared,
            "values_differing": comparison.values_differing,
            "first_mismatch": asdict(comparison.first_mismatch) if comparison.first_mismatch else None,
            "readout_spikes": readout_spikes,
        },
        "training": {k: v for k, v in training.items() if not k.startswith("float_accuracy_test")},
        "quantization": quantization,
        "ops": counts.to_dict(),
        "energy": energy.to_dict(),
        "chip": chip,
        "timing": timings or {},
    }
    report["summary"] = [*summary_lines(report), *energy.summary_lines()]
    write_json(run_dir / REPORT_FILE, report)
    return report


def summary_lines(report: dict) -> list[str]:
    """A short human summary of a report."""
    acc = report["accuracy"]
    data = report["data"]
    label = "SYNTHETIC data" if data["synthetic"] else "recorded data"
    lines = [
        f"data: {label} ({data['description'].splitlines()[0]})",
        f"      {data['n_train']} train / {data['n_test']} test trials, {data['steps_per_sample']} steps, "
        f"{data['n_inputs']} input neurons",
        f"accuracy (test): float {acc['float']:.3f} | quantized reference {acc['quantized_reference']:.3f} | "
        f"Lava fixed_pt {acc['lava']:.3f} | chance {acc['chance']:.3f}",
        *(
            [
                f"      integer fine-tuning: {acc['quantized_before_finetune']:.3f} before, training-time integer "
                f"forward {acc['integer_training_forward']:.3f}"
            ]
            if "integer_training_forward" in acc
            else []
        ),
        f"bit-exact reference vs Lava: {report['bit_exact']} ({report['validation']['values_compared']} values, "
        f"{report['validation']['values_differing']} differ)",
    ]
    return lines


def run_demo(run_dir: Path, cfg: DemoConfig, *, progress: bool = True, echo=print) -> dict:
    """Every stage on the built-in synthetic data; writes all artifacts and `report.json`, returns the report."""
    from spikeport.simulators import compare_runs

    timings: dict[str, float] = {}

    def timed(name: str, fn, *args, **kwargs):
        start = time.perf_counter()
        echo(f"[{len(timings) + 1}/6] {name} ...")
        result = fn(*args, **kwargs)
        timings[f"{name}_s"] = round(time.perf_counter() - start, 3)
        return result

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "command.txt").write_text(" ".join(["spikeport", *sys.argv[1:]]) + f"\nseed={cfg.seed}\n{asdict(cfg)}\n")
    facts = timed("train", stage_train, run_dir, cfg, progress=progress)
    echo(f"      float test accuracy {facts['float_accuracy_test']:.3f} after {facts['epochs']} epochs")
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
