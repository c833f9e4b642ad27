"""ISAM-MTL evaluation: EEGNet rows next to the spiking model on the same trials, and `evaluate --streaming`
(continuous streams through the deployed network: per-trial accuracy, decision latency, reference == Lava)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spikeport.cli import main
from spikeport.train.models.isam.streaming import V_BITS, Stream, decisions

SMALL = ["--model", "isam-mtl", "--subjects", "2", "--trials-per-class", "8", "--steps", "16", "--epochs", "4"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("isam_eval") / "run"
    assert main(["train", "--out", str(out), *SMALL, "--no-progress"]) == 0
    assert main(["export", str(out)]) == 0
    assert main(["quantize", str(out), "--no-progress"]) == 0
    return out


def _stream(cues, labels, window=(0, 3)) -> Stream:
    n = len(cues)
    return Stream("s", 1, np.zeros((1, 1), np.uint8), np.asarray(cues), np.asarray(labels), window, np.ones(n, bool))


def test_decision_and_latency_from_the_accumulators_increase_over_the_window():
    # two classes; v integrates forever. Trial window = steps cue..cue+3; evidence = v - v[cue - 1]
    v = np.array([[0, 0], [5, 0], [5, 1], [5, 9], [6, 10], [7, 10], [20, 11], [30, 11]], dtype=np.int64)
    got = decisions(v, _stream([1, 4], [1, 0]), step_seconds=0.5)
    # trial 0 (steps 1..4, base v[0]): argmax 0, 0, 1, 1 -> final 1, stable from step 3 -> (3 - 1 + 1) steps
    assert (got[0]["decision"], got[0]["correct"], got[0]["latency_s"]) == (1, True, 1.5)
    # trial 1 (steps 4..7, base v[3] = [5, 9]): [1, 1] (a tie: class 0), then 0, 0, 0: stable from its first step
    assert (got[1]["decision"], got[1]["correct"], got[1]["latency_s"]) == (0, True, 0.5)
    assert decisions(v, _stream([6], [0]), 0.5) == []  # window past the end: no decision


def test_evidence_is_taken_modulo_the_chips_24_bit_voltage():
    half = 2 ** (V_BITS - 1)
    v = np.array([[half - 2, 0], [-half + 3, 4]], dtype=np.int64)  # class 0 wrapped after +5
    (got,) = decisions(v, _stream([1], [0], window=(0, 0)), 1.0)
    assert got["decision"] == 0  # +5 beats +4; without the wrap class 0 would look like -2**24 + 5


def test_evaluation_has_eegnet_rows_on_the_same_trials(run, capsys):
    args = ["evaluate", str(run), "--protocol", "few-shot", "--shots", "2", "--backends", "float", "--no-progress"]
    assert main(args) == 0
    assert "eegnet_finetuned" in capsys.readouterr().out
    result = json.loads((run / "evaluation.json").read_text())
    rows = result["subjects"]
    for subject in (2, 3, 4, 5):
        mine = {r["model"]: r for r in rows if r["subject"] == subject}
        assert {"float", "csp_lda", "eegnet_cross_subject", "eegnet_finetuned"} <= set(mine)
        n = mine["float"]["n"]
        for name in ("eegnet_cross_subject", "eegnet_finetuned"):
            r = mine[name]
            assert r["n"] == n and r["correct"] == round(r["accuracy"] * n)
            assert r["ci95"][0] <= r["accuracy"] <= r["ci95"][1] and 0 < r["p_vs_chance"] <= 1
    means = {s["model"]: s for s in result["mean_over_subjects"]}
    accs = [r["accuracy"] for r in rows if r["model"] == "eegnet_finetuned"]
    assert means["eegnet_finetuned"]["mean"] == pytest.approx(np.mean(accs))
    assert means["eegnet_finetuned"]["n_subjects"] == 4


@pytest.mark.lava
def test_streaming_gives_per_trial_accuracy_latency_and_lava_equals_reference(run, capsys):
    from spikeport.ir import load_deploy_graph
    from spikeport.simulators import run_reference
    from spikeport.train.models import readout_of, readout_scale

    before = json.loads((run / "evaluation.json").read_text()) if (run / "evaluation.json").is_file() else {}
    assert main(["evaluate", str(run), "--streaming", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "streaming evaluation on SYNTHETIC data" in out and "decision latency" in out
    result = json.loads((run / "evaluation.json").read_text())
    if "protocol" in before:  # the protocol table is kept; streaming adds its own key
        assert result["protocol"] == before["protocol"]
    s = result["streaming"]
    data = np.load(run / "data.npz")
    y_test, x_test = data["y_test"], data["x_test"]
    trials = s["trials"]
    assert len(trials) == len(y_test) and [t["label"] for t in trials] == y_test.tolist()
    (row,) = s["per_subject"]
    assert row["n"] == len(y_test) and row["correct"] == sum(t["correct"] for t in trials)
    step, (w0, w1) = s["step_seconds"], s["window_after_cue_s"]
    for t in trials:  # a decision is stable no earlier than the window's first step, no later than its last
        assert w0 + step - 1e-9 <= t["latency_s"] <= w1 + 1e-9
    # the first trial starts from the zero state: its streamed decision is the epoched reference's prediction
    graph = load_deploy_graph(run / "model.deploy.npz")
    first = readout_of(graph.metadata).apply(run_reference(graph, x_test[:1]), graph.output, readout_scale(graph))
    assert trials[0]["decision"] == int(first[0])
    lava = s["lava_check"]
    assert lava["accumulator_v_equal"] and lava["all_populations_bit_exact"]
    assert lava["decisions_compared"] >= 1 and lava["decisions_equal"]
