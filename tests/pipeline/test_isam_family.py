"""ISAM-MTL through `spikeport.cli.main`: train -> export -> quantize -> simulate (reference, Lava) -> validate ->
report, then `adapt` and `evaluate` on a held-out SYNTHETIC subject, and one-line errors for bad options."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spikeport.cli import main

SMALL = ["--model", "isam-mtl", "--subjects", "2", "--trials-per-class", "8", "--steps", "16", "--epochs", "4"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("isam") / "run"
    assert main(["train", "--out", str(out), *SMALL, "--no-progress"]) == 0
    assert main(["export", str(out)]) == 0
    assert main(["quantize", str(out), "--no-progress"]) == 0
    assert main(["simulate", str(out), "--backend", "reference"]) == 0
    return out


@pytest.mark.lava
def test_pipeline_runs_bit_exact_on_lava(run, capsys):
    assert main(["simulate", str(run), "--backend", "lava", "--no-progress"]) == 0
    assert main(["validate", str(run), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "BIT-EXACT: reference vs lava" in out and "MISMATCH" not in out
    assert main(["report", str(run)]) == 0
    report = json.loads((run / "report.json").read_text())
    assert report["model"] == "isam-mtl" and report["bit_exact"] is True
    performance = report["performance"]
    assert (performance["task"], performance["readout"]) == ("classification", "argmax_last_v")
    assert performance["stages"]["lava"] == performance["stages"]["quantized_reference"]
    assert "SYNTHETIC" in "\n".join(report["summary"])
    step = json.loads(str(np.load(run / "data.npz")["info"]))["step_seconds"]  # one step = one time bin of the data
    for latency in report["latency"].values():
        assert latency["step_s_from"] == "deploy graph metadata step_seconds"
        assert latency["step_s_real_time"] == pytest.approx(step) and latency["real_time_s"] == pytest.approx(16 * step)


def test_deploy_graph_holds_only_supported_kinds(run):
    from spikeport.ir import load_deploy_graph

    graph = load_deploy_graph(run / "model.deploy.npz")
    assert {n.kind for n in graph.nodes.values()} <= {"spike_input", "dense_int", "lif_int"}
    assert graph.output == "memory_accumulator" and graph.metadata["readout"] == "argmax_last_v"


@pytest.mark.lava
def test_adapt_on_lava_learns_the_reference_memory(run, capsys):
    assert main(["adapt", str(run), "--shots", "2", "--backend", "lava", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "subject 2 from 2 trials per class" in out
    assert "reference vs lava: memory weights equal after every one of 64 epochs, predictions identical" in out
    result = json.loads((run / "adapt_2.json").read_text())
    assert result["data"] == "SYNTHETIC" and result["n_test"] == 12
    assert result["reference_vs_lava"]["memory_equal"] is True
    memory = np.array(result["results"]["reference"]["memory"])
    assert memory.shape == (2, 24) and memory.sum() > 0
    # the plastic rule learned exactly the Hebbian counts of the run's own latent spikes
    assert result["results"]["reference"]["memory_is_hebbian_counts"] is True
    assert result["results"]["reference"]["saturated_memory_weights"] == 0
    assert not any("SATURATED" in line for line in result["summary"])
    assert result["results"]["lava"]["memory"] == result["results"]["reference"]["memory"]


def test_adapt_reference_is_deterministic(run, capsys):
    assert main(["adapt", str(run), "--subject", "3", "--shots", "3", "--no-progress"]) == 0
    first = (run / "adapt_3.json").read_bytes()
    assert main(["adapt", str(run), "--subject", "3", "--shots", "3", "--no-progress"]) == 0
    assert (run / "adapt_3.json").read_bytes() == first
    result = json.loads(first)
    assert 0.0 <= result["results"]["reference"]["accuracy"] <= 1.0 and result["n_test"] == 10


def test_evaluate_writes_tables_and_plots(run, capsys):
    args = ["evaluate", str(run), "--protocol", "few-shot", "--shots", "1", "2", "--backends", "float", "reference"]
    assert main([*args, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "few-shot evaluation on SYNTHETIC data" in out and "csp_lda" in out
    result = json.loads((run / "evaluation.json").read_text())
    assert result["data"] == "SYNTHETIC" and result["protocol"] == "few-shot"
    rows = result["subjects"]
    assert {r["subject"] for r in rows} == {2, 3, 4, 5}
    assert {(r["model"], r["shots"]) for r in rows} >= {("float", 1), ("reference", 2), ("csp_lda", 2)}
    assert not any(r["model"] == "csp_lda" and r["shots"] == 1 for r in rows)  # LDA needs 2 trials per class
    for r in rows:
        assert r["ci95"][0] <= r["accuracy"] <= r["ci95"][1] and 0 <= r["p_vs_chance"] <= 1
    eegnet = {"eegnet_cross_subject", "eegnet_finetuned"}  # braindecode EEGNet on the same shots and test trials
    assert {s["model"] for s in result["mean_over_subjects"]} == {"float", "reference", "csp_lda", *eegnet}
    for r in rows:
        if r["model"] in eegnet:
            (ours,) = [o for o in rows if (o["subject"], o["shots"], o["model"]) == (r["subject"], r["shots"], "float")]
            assert r["n"] == ours["n"]
    for name in result["plots"]:
        assert (run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(result["plots"]) == 4


def test_evaluate_within_runs_on_training_subjects(run, capsys):
    args = ["evaluate", str(run), "--protocol", "within", "--backends", "float", "--no-progress"]
    assert main(args) == 0
    result = json.loads((run / "evaluation.json").read_text())
    assert {r["subject"] for r in result["subjects"]} == {0, 1}
    assert {r["model"] for r in result["subjects"]} == {"float", "csp_lda"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["adapt", "{run}", "--shots", "9"], "--shots 9: the subject has 8 trials of class 0"),
        (["adapt", "{run}", "--subject", "42"], "--subject 42: this SYNTHETIC run has no such subject"),
        (["adapt", "{run}", "--data-path", "/tmp"], "--data-path /tmp: run"),
        (["evaluate", "{run}", "--protocol", "sessions"], "--protocol sessions: isam-mtl evaluates"),
        (["evaluate", "{run}", "--shots", "8", "--backends", "float"], "--shots 8: the subject has 8 trials"),
    ],
)
def test_bad_options_give_one_line_errors(run, capsys, args, message):
    assert main([a.format(run=run) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_recorded_source_without_data_path_names_the_option(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "r"), "--model", "isam-mtl", "--data", "eegmmidb"]) == 2
    assert "--data-path" in capsys.readouterr().err


def test_evaluate_loso_retrains_without_the_left_out_subject(run, capsys):
    args = ["evaluate", str(run), "--protocol", "loso", "--shots", "2", "--backends", "float", "reference"]
    assert main([*args, "--no-progress"]) == 0
    result = json.loads((run / "evaluation.json").read_text())
    assert result["protocol"] == "loso" and {r["subject"] for r in result["subjects"]} == {0, 1}
    eegnet = {"eegnet_cross_subject", "eegnet_finetuned"}
    assert {r["model"] for r in result["subjects"]} == {"float", "reference", "csp_lda", *eegnet}
