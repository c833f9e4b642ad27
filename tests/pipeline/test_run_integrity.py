"""Run integrity through the CLI: stale, foreign and edited artifacts are refused, failing stages damage nothing,
`report` exits non-zero when a run is not bit-exact, and the same commands give the same bytes.

One small run is built per module (the stages without Lava, then a copy with the Lava record and the report) and
copied per test, so each test can re-run or break a stage on its own copy.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from spikeport.cli import main
from spikeport.integrity import MANIFEST_FILE, RunManifest
from spikeport.rundir import DATA_FILE, DEPLOY_FILE, MODEL_FILE, NIR_FILE

TINY = ["--subjects", "2", "--trials-per-class", "4", "--steps", "8", "--hidden", "8", "--epochs", "1"]
BASE_COMMANDS = [
    ["train", "--out", "run", *TINY, "--no-progress"],
    ["export", "run"],
    ["quantize", "run", "--no-progress"],
    ["simulate", "run", "--backend", "reference"],
]
LAVA_COMMANDS = [["simulate", "run", "--backend", "lava", "--no-progress"], ["report", "run"]]


def _cli(argv: list[str]) -> int:
    """`spikeport ARGV`, with `sys.argv` as the real command has it (the manifest records the command)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["spikeport", *argv])
        return main(argv)


def _build(cwd: Path, commands: list[list[str]]) -> Path:
    """Run `commands` (on the relative run directory 'run') in `cwd`; returns the run directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        for argv in commands:
            assert _cli(argv) == 0, argv
    return cwd / "run"


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    """A run through `simulate --backend reference` (no Lava)."""
    return _build(tmp_path_factory.mktemp("base"), BASE_COMMANDS)


@pytest.fixture(scope="module")
def full_run(base_run: Path, tmp_path_factory) -> Path:
    """The base run plus the Lava record and the report."""
    cwd = tmp_path_factory.mktemp("full")
    shutil.copytree(base_run, cwd / "run")
    return _build(cwd, LAVA_COMMANDS)


@pytest.fixture
def run(base_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(base_run, tmp_path / "run"))


@pytest.fixture
def full(full_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(full_run, tmp_path / "run"))


def _refused(argv: list[str], capsys, *expected: str) -> str:
    """Run a command that must fail: exit code 2, one line on stderr holding every `expected` text."""
    capsys.readouterr()
    code = _cli(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith(f"spikeport {argv[0]}: error: ") and err.count("\n") == 1, f"not one line: {err!r}"
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"
    return err


def _bytes(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir())}


def _edit_by_hand(path: Path) -> None:
    with path.open("ab") as handle:
        handle.write(b"\0")


# --- staleness: re-running a stage invalidates what depends on it ----------------------------------------------------


def test_a_consistent_run_passes_every_check(full, capsys):
    assert _cli(["report", str(full)]) == 0
    assert "bit-exact reference vs Lava: True" in capsys.readouterr().out
    entries = json.loads((full / MANIFEST_FILE).read_text())["artifacts"]
    assert entries["record_lava.npz"]["stage"] == "simulate --backend lava"
    assert set(entries["record_lava.npz"]["inputs"]) == {DEPLOY_FILE, DATA_FILE}
    assert entries["report.json"]["command"] == ["spikeport", "report", str(full)]


def test_training_again_with_another_seed_makes_every_later_stage_refuse(run, capsys):
    before = _bytes(run)
    assert _cli(["train", "--out", str(run), *TINY, "--seed", "1", "--no-progress"]) == 0
    stale_nir = f"{run / NIR_FILE} was made from an older data.npz (re-made by `spikeport train` since); "
    _refused(["quantize", str(run), "--no-progress"], capsys, stale_nir, "re-run `spikeport export`")
    _refused(["simulate", str(run)], capsys, stale_nir, "re-run `spikeport export`")
    _refused(["validate", str(run), "--no-progress"], capsys, stale_nir, "re-run `spikeport export`")
    _refused(["report", str(run)], capsys, stale_nir, "re-run `spikeport export`")
    for name in (NIR_FILE, DEPLOY_FILE, "record_reference.npz"):
        assert (run / name).read_bytes() == before[name], f"a refused stage changed {name}"
    # Re-running the stages in order makes the run whole again, stage by stage.
    assert _cli(["export", str(run)]) == 0
    _refused(["simulate", str(run)], capsys, f"{run / DEPLOY_FILE} was made from an older", "`spikeport quantize`")
    assert _cli(["quantize", str(run), "--no-progress"]) == 0
    assert _cli(["simulate", str(run), "--backend", "reference"]) == 0


def test_export_refuses_a_model_trained_on_other_data(run, capsys):
    from spikeport.rundir import save_data

    with np.load(run / DATA_FILE) as data:
        arrays = {key: data[key] for key in data.files if key != "info"}
        info = json.loads(str(data["info"]))
    arrays["x_train"] = 1 - arrays["x_train"]
    save_data(run, arrays, info)
    _refused(["export", str(run)], capsys, f"{run / DATA_FILE} changed after `spikeport train` wrote it")
    RunManifest(run).record(DATA_FILE, "train", seed=5)  # as if `train` re-made the data, then stopped
    _refused(
        ["export", str(run)],
        capsys,
        f"{run / MODEL_FILE} was made from an older data.npz",
        "re-run `spikeport train`",
    )


def test_quantizing_again_makes_the_old_records_stale_for_report(full, capsys):
    report_before = (full / "report.json").read_bytes()
    assert _cli(["quantize", str(full), "--weight-bits", "2", "--no-progress"]) == 0
    _refused(
        ["report", str(full)],
        capsys,
        f"{full / 'record_reference.npz'} was made from an older model.deploy.npz",
        "re-run `spikeport simulate --backend reference`",
    )
    assert _cli(["simulate", str(full), "--backend", "reference"]) == 0
    _refused(["report", str(full)], capsys, "record_lava.npz", "re-run `spikeport simulate --backend lava`")
    assert (full / "report.json").read_bytes() == report_before


def test_a_record_of_the_train_split_is_refused_by_report(full, capsys):
    assert _cli(["simulate", str(full), "--backend", "reference", "--split", "train"]) == 0
    _refused(
        ["report", str(full)],
        capsys,
        "record_reference.npz was made by `spikeport simulate --backend reference --split train`",
        "re-run `spikeport simulate --backend reference`",
    )


def test_a_reference_record_copied_over_the_lava_record_is_refused(full, capsys):
    shutil.copy(full / "record_reference.npz", full / "record_lava.npz")
    _refused(["report", str(full)], capsys, "record_lava.npz changed after `spikeport simulate --backend lava`")
    # A manifest entry made by hand for the copy does not hide it: the record states its backend.
    RunManifest(full).record("record_lava.npz", "simulate --backend lava", inputs=(DEPLOY_FILE, DATA_FILE))
    _refused(["report", str(full)], capsys, "record_lava.npz holds a record of backend 'reference', not 'lava'")


@pytest.mark.parametrize(
    ("artifact", "command"),
    [
        (MODEL_FILE, ["export"]),
        (NIR_FILE, ["quantize", "--no-progress"]),
        (DEPLOY_FILE, ["simulate"]),
        (DATA_FILE, ["validate", "--no-progress"]),
        ("quantization.json", ["report"]),
        ("record_lava.npz", ["report"]),
    ],
)
def test_an_artifact_edited_by_hand_is_refused(full, capsys, artifact, command):
    _edit_by_hand(full / artifact)
    _refused([command[0], str(full), *command[1:]], capsys, f"{full / artifact} changed after `spikeport ")


def test_an_artifact_the_manifest_does_not_know_is_refused(full, capsys):
    entries = json.loads((full / MANIFEST_FILE).read_text())
    del entries["artifacts"]["training.json"]
    (full / MANIFEST_FILE).write_text(json.dumps(entries))
    _refused(["report", str(full)], capsys, f"{full / 'training.json'} is not recorded in", "`spikeport train`")


# --- failing stages leave the previous artifacts intact; inputs are never outputs -----------------------------------


def test_exporting_a_model_with_a_nan_weight_leaves_model_nir_untouched(run, capsys):
    import torch

    saved = torch.load(run / MODEL_FILE, weights_only=True)
    name = next(k for k, v in saved["state_dict"].items() if v.is_floating_point() and v.ndim == 2)
    saved["state_dict"][name].view(-1)[0] = float("nan")
    with (run / MODEL_FILE).open("wb") as handle:
        torch.save(saved, handle)
    RunManifest(run).record(MODEL_FILE, "train", inputs=(DATA_FILE,))
    before = _bytes(run)
    _refused(["export", str(run)], capsys, str(run / MODEL_FILE), "NaN", "nothing was written")
    assert _bytes(run) == before  # model.nir and the manifest as they were, no temporary file left


def test_a_graph_that_does_not_read_back_equal_is_not_written(run, capsys, monkeypatch):
    import spikeport.export

    monkeypatch.setattr(spikeport.export, "nir_graphs_equal", lambda a, b: False)
    before = _bytes(run)
    _refused(["export", str(run)], capsys, "reading the written NIR graph back gave a different graph")
    assert _bytes(run) == before


@pytest.mark.parametrize("option", ["--out", "--nir-out", "--out-link"])
def test_import_refuses_to_overwrite_its_input(run, capsys, option):
    graph = run / NIR_FILE
    before = graph.read_bytes()
    if option == "--out-link":
        (run / "link.nir").symlink_to(graph)
        argv = ["import", str(graph), "--out", str(run / "link.nir")]
    else:
        argv = ["import", str(graph), option, str(graph)]
    _refused(argv, capsys, f"is the input graph {str(graph)!r}", "would overwrite its own input")
    assert graph.read_bytes() == before


def test_import_refuses_two_outputs_in_one_file(run, capsys):
    out = run / "g.deploy.npz"
    argv = ["import", str(run / NIR_FILE), "--out", str(out), "--nir-out", str(out)]
    _refused(argv, capsys, "are one file")
    assert not out.exists()


# --- exit codes and determinism ---------------------------------------------------------------------------------------


def test_report_exits_non_zero_when_the_run_is_not_bit_exact(full, capsys):
    from spikeport.simulators import PopulationTrace, RunRecord, load_record, save_record

    lava = load_record(full / "record_lava.npz")
    pops = dict(lava.populations)
    name, trace = next(iter(pops.items()))
    pops[name] = PopulationTrace(spikes=trace.spikes, u=trace.u, v=trace.v + 1)
    save_record(RunRecord(backend="lava", populations=pops), full / "record_lava.npz")
    RunManifest(full).record("record_lava.npz", "simulate --backend lava", inputs=(DEPLOY_FILE, DATA_FILE))
    capsys.readouterr()
    assert _cli(["report", str(full)]) == 1
    assert "bit-exact reference vs Lava: False" in capsys.readouterr().out
    assert json.loads((full / "report.json").read_text())["bit_exact"] is False


def test_the_same_commands_twice_give_the_same_bytes(full_run, tmp_path):
    again = _build(tmp_path, [*BASE_COMMANDS, *LAVA_COMMANDS])
    first, second = _bytes(full_run), _bytes(again)
    assert set(first) == set(second)
    differing = [name for name in first if first[name] != second[name]]
    assert not differing, f"not byte-identical: {differing}"
    assert MANIFEST_FILE in first and not any(name.startswith(".") for name in first)


def test_artifacts_get_the_permissions_of_a_plain_open(full_run):
    umask = os.umask(0)
    os.umask(umask)
    for path in full_run.iterdir():
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path
