"""RAT-SNN's pretraining, `spikeport adapt` and `spikeport evaluate` on SYNTHETIC reaching data: stages, written
files, Lava == reference, one-line errors naming the option, and (slow) the issue's acceptance check at full size."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spikeport.cli import main
from spikeport.train.models.rat_snn import data as rat_data

SHORT_TRIALS = {"rest_s": 0.02, "hold_s": 0.02, "move_s": (0.1, 0.12)}
"""SYNTHETIC trials of about 0.3 s, so that a tiny run's windows stay few."""


def test_pretraining_goes_from_one_session_to_a_subject_to_all_subjects() -> None:
    from spikeport.train.models.rat_snn.fit import pretraining_stages

    sessions = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    subjects = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    stages = pretraining_stages(sessions, subjects)
    assert [name for name, _ in stages] == ["first session", "sessions of the first subject", "all subjects"]
    assert [idx.tolist() for _, idx in stages] == [[0, 1], [0, 1, 2, 3], list(range(8))]
    single = pretraining_stages(np.zeros(5, int), np.zeros(5, int))
    assert [name for name, _ in single] == ["first session"]  # one session: one stage, no duplicates


def test_sessions_split_by_trials_in_time_and_heldout_session_is_new(monkeypatch) -> None:
    from spikeport.train.models import get_family

    monkeypatch.setattr(rat_data, "SYNTHETIC_OVERRIDES", dict(SHORT_TRIALS))
    family = get_family("rat-snn")
    data = family.make_data(family.run_config(n_subjects=2, trials_per_class=10, num_steps=4))
    assert data.info["synthetic"] is True and len(data.info["session_names"]) == 2 * rat_data.SESSIONS_PER_SUBJECT
    for s in np.unique(data.extra["sessions_train"]):  # in every session, each test trial follows every train trial
        train_trials = data.extra["trials_train"][data.extra["sessions_train"] == s]
        test_trials = data.extra["trials_test"][data.extra["sessions_test"] == s]
        assert test_trials.size == 0 or train_trials.max() < test_trials.min()
    held = rat_data.new_session(data.info, None)
    assert held.synthetic and held.session not in data.info["session_names"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny quantized SYNTHETIC rat-snn run (short trials, 1 epoch)."""
    run = tmp_path_factory.mktemp("rat") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rat_data, "SYNTHETIC_OVERRIDES", dict(SHORT_TRIALS))
        args = ["--out", str(run), "--model", "rat-snn", "--epochs", "1", "--trials-per-class", "8", "--steps", "5"]
        assert main(["train", *args, "--no-progress"]) == 0
        assert main(["export", str(run)]) == 0
        assert main(["quantize", str(run), "--no-progress"]) == 0
    return run


@pytest.mark.lava
def test_adapt_writes_adaptation_json_with_lava_equal_to_reference(tiny_run, capsys, monkeypatch) -> None:
    from spikeport.train.models.rat_snn import adapt

    monkeypatch.setattr(adapt, "LAVA_WINDOWS", 3)
    monkeypatch.setattr(rat_data, "HELDOUT_TRIALS", 40)  # short trials: about 14 s of held-out session
    capsys.readouterr()
    assert main(["adapt", str(tiny_run), "--minutes", "0.1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "reference vs lava on 3 windows: predictions IDENTICAL" in out and "SYNTHETIC" in out
    result = json.loads((tiny_run / "adaptation.json").read_text())
    assert result["data"] == "SYNTHETIC" and result["reference_vs_lava"] == {"windows": 3, "predictions_equal": True}
    for key in ("float_before", "float", "reference", "lava", "ridge"):
        assert len(result["results"][key]["r2"]) == 2
    assert result["n_adapt"] > 0 and result["n_evaluate"] > 0


@pytest.mark.lava
def test_evaluate_writes_table_json_and_plots(tiny_run, capsys, monkeypatch) -> None:
    from spikeport.train.models.rat_snn import evaluate

    monkeypatch.setattr(evaluate, "LAVA_WINDOWS", 2)
    monkeypatch.setattr(evaluate, "GRU_EPOCHS", 2)
    capsys.readouterr()
    assert main(["evaluate", str(tiny_run), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "reference vs lava on 2 test windows: predictions IDENTICAL" in out
    result = json.loads((tiny_run / "evaluation.json").read_text())
    rows = {r["model"]: r for r in result["rows"]}
    assert set(rows) == {"snn float", "snn deployed", "ridge", "gru"}
    snn, ridge = rows["snn deployed"], rows["ridge"]
    assert snn["macs_after_encoding_layer"] == 0  # accumulate-only after the encoding layer
    assert snn["effective_acs_per_step"] > 0 and 0 < snn["activation_sparsity"] < 1 and snn["footprint_bytes"] > 0
    assert ridge["footprint_bytes"] == ridge["params"] * 4 and ridge["effective_macs_per_step"] > 0
    assert set(snn["r2_per_session"]) == set(result["rows"][2]["r2_per_session"])  # same sessions for every model
    for name in result["plots"]:
        assert (tiny_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["adapt", "{run}", "--minutes", "500"], "--minutes 500"),
        (["adapt", "{run}", "--minutes", "0.003"], "--minutes 0.003"),  # a few windows: too few for the refit
        (["adapt", "{run}", "--data-path", "{run}"], "--data-path"),
        (["adapt", "{run}", "--subject", "2"], "--subject 2"),
        (["evaluate", "{run}", "--protocol", "loso"], "--protocol loso"),
        (["evaluate", "{run}", "--data-path", "{run}"], "--data-path"),
    ],
)
def test_bad_options_give_one_line_errors_naming_the_option(tiny_run, capsys, argv, option) -> None:
    capsys.readouterr()
    assert main([a.format(run=tiny_run) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and option in err and "Traceback" not in err


def test_evaluate_before_quantize_names_the_missing_step(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(rat_data, "SYNTHETIC_OVERRIDES", dict(SHORT_TRIALS))
    run = tmp_path / "run"
    argv = ["--out", str(run), "--model", "rat-snn", "--epochs", "1", "--trials-per-class", "4", "--steps", "4"]
    assert main(["train", *argv, "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "spikeport quantize" in err


@pytest.mark.slow
@pytest.mark.lava
def test_acceptance_adapted_snn_at_least_ridge_on_heldout_session(tmp_path, capsys) -> None:
    """Issue 10: at the default settings, after adaptation the deployed SNN's R² on a held-out SYNTHETIC session is
    at least that of ridge trained on the same minutes, and Lava's predictions equal the reference's."""
    run = str(tmp_path / "run")
    assert main(["train", "--out", run, "--model", "rat-snn", "--no-progress"]) == 0
    assert main(["export", run]) == 0
    assert main(["quantize", run, "--no-progress"]) == 0
    assert main(["adapt", run, "--minutes", "1", "--no-progress"]) == 0
    result = json.loads((tmp_path / "run" / "adaptation.json").read_text())
    assert result["reference_vs_lava"]["predictions_equal"] is True
    assert result["results"]["reference"]["r2_mean"] >= result["results"]["ridge"]["r2_mean"]


def test_counts_clipped_to_the_graded_range_are_reported() -> None:
    info = {"input_message_bits": 4}
    counts = np.array([[[3, 16], [20, 0]]])
    np.testing.assert_array_equal(rat_data.network_inputs(counts, info), [[[3, 15], [15, 0]]])
    assert rat_data.clipped_counts(counts, info) == [
        "  SATURATED: 2 spike counts above 15 per bin clipped to 15 (the graded input's range)"
    ]
    assert rat_data.clipped_counts(np.minimum(counts, 15), info) == []


def test_last_v_readout_takes_the_last_step_in_float_units() -> None:
    from spikeport.train.models import Readout, readout_of
    from spikeport.train.tasks import TaskKind

    v = np.array([[[4, -2], [8, 6]], [[0, 0], [-6, 2]]])  # (samples, steps, outputs) integer voltages
    np.testing.assert_array_equal(Readout.LAST_V.predict(v, 2.0), [[4.0, 3.0], [-3.0, 1.0]])
    np.testing.assert_array_equal(Readout.LAST_V.outputs(v, 2.0), [[4.0, 3.0], [-3.0, 1.0]])
    assert Readout.LAST_V.task is TaskKind.REGRESSION and readout_of({"readout": "last_v"}) is Readout.LAST_V


@pytest.mark.lava
def test_recorded_run_adapts_to_the_session_under_data_path(tmp_path, capsys, monkeypatch) -> None:
    """Train on TrialData files (written by the test from SYNTHETIC sessions), adapt to another file."""
    from spikeport.train.data.intracortical import SyntheticReachingConfig, make_synthetic_reaching
    from spikeport.train.data.intracortical.writers import write_trialdata
    from spikeport.train.models.rat_snn import adapt

    monkeypatch.setattr(adapt, "LAVA_WINDOWS", 2)
    cfg = SyntheticReachingConfig(n_subjects=1, sessions_per_subject=3, n_units=24, trials_per_session=30,
                                  **SHORT_TRIALS)
    recs = make_synthetic_reaching(cfg, 0)
    (tmp_path / "train").mkdir()
    for k in (0, 1):
        write_trialdata(recs[k], tmp_path / "train" / f"s{k}.mat")
    write_trialdata(recs[2], tmp_path / "new.mat")
    run = str(tmp_path / "run")
    argv = ["--out", run, "--model", "rat-snn", "--data", "trialdata", "--data-path", str(tmp_path / "train"),
            "--epochs", "1", "--steps", "4", "--hidden", "16", "--no-progress"]
    assert main(["train", *argv]) == 0
    capsys.readouterr()
    assert main(["adapt", run]) == 2  # a recorded run needs the new session's file
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--data-path" in err
    assert main(["adapt", run, "--data-path", str(tmp_path / "new.mat"), "--minutes", "0.05", "--no-progress"]) == 0
    result = json.loads((tmp_path / "run" / "adaptation.json").read_text())
    assert result["session"] == recs[2].session and result["reference_vs_lava"]["predictions_equal"] is True
