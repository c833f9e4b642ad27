"""Option checks of the run-directory stages (train, demo, export, quantize, simulate) and of --strict: each shows
that its options change the command's files, printed result or exit code, or are refused where they would be
ignored. Registered in `helpers.cli_checks.CHECKS`; run by tests/cli/test_every_option.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers.cli_checks import (
    DATA_OPTIONS,
    SHAPE_OPTIONS,
    TINY,
    Runs,
    check,
    cli,
    json_object,
    ok,
    on_terminal,
    refused,
    spy,
)

# ------------------------------------------------------------------ train and demo (model and data options)


@check({"train": "--out --subjects --trials-per-class --steps --hidden --epochs --json"})
def train_options_shape_the_run(runs: Runs, mp) -> None:
    """--steps: time steps of data.npz; --hidden: the model's hidden size; --epochs: epochs in training.json;
    --subjects and --trials-per-class: samples per subject and class; --out: where the run is written;
    --json: one JSON object with the training facts."""
    import torch

    out = runs.fresh("train") / "run"
    facts = json_object(ok("train", "--out", out, "--subjects", "3", "--trials-per-class", "6", "--steps", "5",
                           "--hidden", "5", "--epochs", "3", "--json"))  # fmt: skip
    assert facts["epochs"] == 3 and facts["model"] == "decoder" and facts["synthetic"] is True
    with np.load(out / "data.npz") as data:
        assert data["x_train"].shape[1] == 5
        subjects = np.concatenate([data["subjects_train"], data["subjects_test"]])
    assert len(np.unique(subjects)) == 3 and len(subjects) == 3 * 2 * 6
    assert torch.load(out / "model.pt", weights_only=True)["config"]["n_hidden"] == 5
    with np.load(runs.decoder / "data.npz") as data:
        assert data["x_train"].shape[1] == 8 and len(data["y_train"]) + len(data["y_test"]) == 2 * 2 * 12
    text = ok("train", "--out", runs.fresh("train_text") / "run", *TINY).out
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


@check({"train": "--seed"})
def train_seed_changes_the_data(runs: Runs, mp) -> None:
    """--seed: another seed gives other data (and training) with every other option equal."""
    out = runs.fresh("seed") / "run"
    ok("train", "--out", out, *TINY, "--seed", "1")
    with np.load(out / "data.npz") as a, np.load(runs.decoder / "data.npz") as b:
        assert a["x_train"].shape == b["x_train"].shape and not np.array_equal(a["x_train"], b["x_train"])


@check({"train": "--model"})
def train_model_picks_the_family(runs: Runs, mp) -> None:
    """--model: the family trained (training.json's model; another family's data and model)."""
    facts = json.loads((runs.rat / "training.json").read_text())
    assert facts["model"] == "rat-snn" and facts["task"] == "regression"
    assert json.loads((runs.decoder / "training.json").read_text())["model"] == "decoder"


@check({"train": DATA_OPTIONS, "demo": DATA_OPTIONS})
def data_options_refused_where_unread(runs: Runs, mp) -> None:
    """--data: a source the family does not read is refused; --data-path, --files, --events: refused with
    synthetic data (nothing reads them); train refuses --chip and --finetune-epochs (quantize's and report's)."""
    out = runs.fresh("refused") / "run"
    for command in ("train", "demo"):
        refused("--data", command, "--out", out, "--data", "eegmmidb")
        refused("--data-path", command, "--out", out, "--data-path", out)
        refused("--files", command, "--out", out, "--files", "a.edf")
        refused("--events", command, "--out", out, "--events", "T1=left,T2=right")
        refused("--subjects", command, "--out", out, "--model", "rat-snn", "--data", "nwb", "--data-path", out,
                "--subjects", "1", "2")  # fmt: skip
    for option, value in (("--chip", "loihi"), ("--finetune-epochs", "1")):
        line = refused(option, "train", "--out", out, option, value)
        assert "quantize" in line
    assert not out.exists()


@check({"train": "--data --data-path"})
def recorded_data_options_reach_the_reader(runs: Runs, mp) -> None:
    """--data NAME --data-path DIR: the family reads that layout from DIR (an empty folder: an error naming it)."""
    empty = runs.fresh("recordings")
    result = cli("train", "--out", empty / "run", "--model", "rat-snn", "--data", "nwb", "--data-path", empty)
    assert result.code == 2 and str(empty) in result.err and ".nwb" in result.err


@check({"demo": f"--out --model --seed {SHAPE_OPTIONS} --finetune-epochs --chip --no-progress"})
def demo_passes_every_setting_on(runs: Runs, mp) -> None:
    """demo: every model/data option, --chip and --finetune-epochs reach the RunConfig that `run_demo` runs
    (train, quantize with cfg.finetune_epochs, report with cfg.chip); --no-progress turns its bars off."""
    import spikeport.pipeline
    from spikeport.pipeline import RunConfig

    on_terminal(mp)
    report = {"summary": [], "bit_exact": True}
    calls = spy(mp, spikeport.pipeline, "run_demo", returns=lambda *a, **k: report)
    out = runs.fresh("demo") / "run"
    given = {"--seed": ("seed", 7), "--steps": ("num_steps", 9), "--hidden": ("n_hidden", 9),
             "--epochs": ("epochs", 4), "--trials-per-class": ("trials_per_class", 5), "--subjects": ("n_subjects", 3),
             "--finetune-epochs": ("finetune_epochs", 2), "--chip": ("chip", "loihi2"),
             "--model": ("model", "isam-mtl")}  # fmt: skip
    for option, (field, value) in given.items():
        ok("demo", "--out", out, option, value)
        cfg = calls[-1]["args"][1]
        assert getattr(cfg, field) == value != getattr(RunConfig(), field), option
        assert calls[-1]["args"][0] == out
    assert calls[-1]["progress"] is True
    ok("demo", "--out", out, "--no-progress")
    assert calls[-1]["progress"] is False


@check({"demo": "--json"}, slow=True)
def demo_json_is_the_report(runs: Runs, mp) -> None:
    """demo --json: one JSON object, the report written to DIR/report.json (bit-exact run)."""
    out = runs.fresh("demo_json") / "run"
    data = json_object(ok("demo", "--out", out, *TINY, "--json"))
    assert data["bit_exact"] is True and data["report_file"] == str(out / "report.json")
    assert json.loads((out / "report.json").read_text())["model"] == data["model"]


@check({"train": "--no-progress"})
def progress_bars_only_when_asked_and_on_a_terminal(runs: Runs, mp) -> None:
    """--no-progress (train): a terminal shows the epoch bar on stderr unless --no-progress; a pipe never does."""
    out = runs.fresh("progress") / "run"
    assert "epoch" not in ok("train", "--out", out, *TINY).err  # stderr is not a terminal here: no bar
    on_terminal(mp)
    assert "epoch" in ok("train", "--out", out, *TINY).err
    assert ok("train", "--out", out, *TINY, "--no-progress").err == ""


# ------------------------------------------------------------------ export, quantize


@check({"export": "--to --json"})
def export_to_and_json(runs: Runs, mp) -> None:
    """export --json: one object naming model.nir; --to netx: lava-dl's format instead, with its own limits (this
    run's 8-bit mixed weights do not fit: exit 2 naming netx and the fix)."""
    run = runs.copy("export")
    assert json_object(ok("export", run, "--json")) == {"to": "nir", "file": str(run / "model.nir")}
    netx = cli("export", run, "--to", "netx")
    assert netx.code == 2 and "netx cannot hold it" in netx.err


@check({"export": "--to"}, slow=True)
def export_to_onnx(runs: Runs, mp) -> None:
    """export --to onnx: the float twin as ONNX with its MACs and latency (onnx_twin.json), not model.nir."""
    run = runs.copy("export_onnx")
    data = json_object(ok("export", run, "--to", "onnx", "--json"))
    assert data["to"] == "onnx" and (run / "onnx_twin.json").is_file()


def _quantization(run: Path) -> dict:
    return json.loads((run / "quantization.json").read_text())


def _deploy(run: Path):
    from spikeport.ir import load_deploy_graph

    return load_deploy_graph(run / "model.deploy.npz")


def _dense(run: Path) -> list:
    """The weight connections of a run's deploy graph."""
    from spikeport.ir import DenseInt

    return [n for n in _deploy(run).nodes.values() if isinstance(n, DenseInt)]


@check({"quantize": "--chip --weight-bits --finetune-epochs --seed --calibration --distill --json"})
def quantize_options_change_the_graph(runs: Runs, mp) -> None:
    """quantize --weight-bits: the weights' bits; --chip: the chip recorded and its formats; --finetune-epochs:
    integer fine-tuning recorded; --seed: its batch order (other loss), refused without fine-tuning;
    --calibration FILE: other calibration inputs; --distill: label-free fine-tuning recorded; --json: the report."""
    run = runs.copy("quantize")
    base = _quantization(run)
    ok("quantize", run, "--weight-bits", "4")
    assert {n.num_weight_bits for n in _dense(run)} == {4} and {n.num_weight_bits for n in _dense(runs.decoder)} == {8}
    ok("quantize", run, "--chip", "loihi2")
    assert _deploy(run).chip == "loihi2" != _deploy(runs.decoder).chip
    tuned = json_object(ok("quantize", run, "--finetune-epochs", "2", "--json"))  # 2 epochs: the mantissas move
    assert tuned["integer_finetune"] == _quantization(run)["integer_finetune"] and "integer_finetune" not in base
    ok("quantize", run, "--finetune-epochs", "2", "--seed", "5")  # other batches: other updates and losses
    assert _quantization(run)["integer_finetune"]["loss"] != tuned["integer_finetune"]["loss"]
    refused("--seed", "quantize", run, "--seed", "5")
    ok("quantize", run, "--calibration", runs.arrays["x"])
    assert _quantization(run) != base
    ok("quantize", run, "--distill", "1")
    assert "distill" in _quantization(run) and "distill" not in base


@check({"quantize": "--no-progress"})
def quantize_progress(runs: Runs, mp) -> None:
    """quantize --no-progress: integer fine-tuning draws its epoch bar on a terminal unless --no-progress."""
    run = runs.copy("quantize_progress")
    on_terminal(mp)
    assert "epoch" in ok("quantize", run, "--finetune-epochs", "1").err
    assert "epoch" not in ok("quantize", run, "--finetune-epochs", "1", "--no-progress").err


# ------------------------------------------------------------------ simulate


@check({"simulate": "--backend --split --lava-config --workers --json"})
def simulate_options(runs: Runs, mp) -> None:
    """simulate --backend: which record is written; --split train: the training inputs (more samples);
    --lava-config and --workers: refused with the reference backend; --json: one object describing the record."""
    run = runs.copy("simulate")
    test = json_object(ok("simulate", run, "--json"))
    train = json_object(ok("simulate", run, "--split", "train", "--json"))
    assert (test["split"], train["split"]) == ("test", "train") and train["samples"] > test["samples"]
    assert test["record"].endswith("record_reference.npz")
    before = (run / "record_lava.npz").stat().st_mtime_ns
    assert json_object(ok("simulate", run, "--backend", "lava", "--json"))["record"].endswith("record_lava.npz")
    assert (run / "record_lava.npz").stat().st_mtime_ns != before
    refused("--lava-config", "simulate", run, "--lava-config", "loihi2-hw")
    refused("--workers", "simulate", run, "--workers", "2")


@check({"simulate": "--no-progress"})
def simulate_lava_progress(runs: Runs, mp) -> None:
    """simulate --no-progress: a Lava run draws its bar on a terminal unless --no-progress."""
    run = runs.copy("simulate_progress")
    on_terminal(mp)
    assert "Lava" in ok("simulate", run, "--backend", "lava").err
    assert "Lava" not in ok("simulate", run, "--backend", "lava", "--no-progress").err


@check({"simulate": "--inputs --labels --out"})
def simulate_own_inputs(runs: Runs, mp) -> None:
    """simulate --inputs: a record of those inputs (at --out); --labels: task metrics on them; --labels and --out
    are refused without --inputs."""
    run, files = runs.decoder, runs.arrays
    out = runs.fresh("simulate_inputs") / "r.npz"
    plain = json_object(ok("simulate", run, "--inputs", files["x"], "--out", out, "--json"))
    assert plain["samples"] == 4 and out.is_file() and plain["performance"] is None
    scored = json_object(ok("simulate", run, "--inputs", files["x"], "--labels", files["y"], "--out", out, "--json"))
    assert scored["performance"] is not None
    refused("--labels", "simulate", run, "--labels", files["y"])
    refused("--out", "simulate", run, "--out", out)


@check({"simulate": "--strict", "validate": "--strict", "report": "--strict"})
def strict_fails_on_saturation(runs: Runs, mp) -> None:
    """--strict (simulate, validate, report): a saturating graph passes without it and fails (exit 2) with it."""
    graph, inputs = runs.saturating
    where = runs.fresh("strict")
    ok("simulate", graph, "--inputs", inputs, "--out", where / "r.npz")
    refused("strict", "simulate", graph, "--inputs", inputs, "--out", where / "r.npz", "--strict")
    ok("report", graph, "--inputs", inputs, "--out", where / "rep.json")
    refused("strict", "report", graph, "--inputs", inputs, "--out", where / "rep.json", "--strict")
    ok("validate", graph, "--samples", "2", "--steps", "40", "--no-progress")
    refused("strict", "validate", graph, "--samples", "2", "--steps", "40", "--no-progress", "--strict")
