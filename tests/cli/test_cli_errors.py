"""Every `spikeport` command ends an error in one line on stderr that names the file, with exit code 2.

Each case drives one command into one kind of failure: a missing run directory, a missing artifact, a damaged
file, or an output path that cannot be created.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spikeport.cli import main


def _not_a_file_system_dir(tmp_path: Path) -> Path:
    blocker = tmp_path / "blocker.txt"
    blocker.write_text("a file where a directory is expected\n")
    return blocker


def _damaged(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK\x03\x04 not really a zip archive")
    return path


def _run_with_data(tmp_path: Path) -> Path:
    """A run directory holding only a small, valid data.npz."""
    from spikeport.rundir import save_data

    run = tmp_path / "run"
    run.mkdir()
    x = np.zeros((4, 3, 2), dtype=np.uint8)
    y = np.array([0, 1, 0, 1])
    save_data(run, {"x_train": x, "y_train": y, "x_test": x, "y_test": y}, {"synthetic": True, "description": "t"})
    return run


def case_adapt_missing_run_directory(tmp_path):
    run = tmp_path / "no-such-run"
    return ["adapt", str(run)], run


def case_evaluate_damaged_model(tmp_path):
    run = _run_with_data(tmp_path)
    return ["evaluate", str(run)], _damaged(run / "model.pt")


def case_demo_out_below_a_file(tmp_path):
    out = _not_a_file_system_dir(tmp_path) / "run"
    return ["demo", "--out", str(out), "--no-progress"], out


def case_train_out_is_a_file(tmp_path):
    out = _not_a_file_system_dir(tmp_path)
    return ["train", "--out", str(out), "--no-progress"], out


def case_export_missing_run_directory(tmp_path):
    run = tmp_path / "no-such-run"
    return ["export", str(run)], run


def case_export_damaged_model(tmp_path):
    run = _run_with_data(tmp_path)
    return ["export", str(run)], _damaged(run / "model.pt")


def case_quantize_damaged_data(tmp_path):
    run = tmp_path / "run"
    return ["quantize", str(run), "--no-progress"], _damaged(run / "data.npz")


def case_simulate_missing_deploy_graph(tmp_path):
    run = _run_with_data(tmp_path)
    return ["simulate", str(run)], run / "model.deploy.npz"


def case_validate_damaged_deploy_graph(tmp_path):
    path = _damaged(tmp_path / "g.deploy.npz")
    return ["validate", str(path), "--no-progress"], path


def case_validate_missing_target(tmp_path):
    path = tmp_path / "nothing-here"
    return ["validate", str(path), "--no-progress"], path


def case_report_missing_artifact(tmp_path):
    run = _run_with_data(tmp_path)
    return ["report", str(run)], run / "model.deploy.npz"


def case_report_damaged_training_json(tmp_path):
    """Every other artifact present but training.json damaged (not JSON)."""
    run = _run_with_data(tmp_path)
    for name in ("model.deploy.npz", "record_reference.npz", "record_lava.npz", "quantization.json"):
        (run / name).write_bytes(b"")
    (run / "training.json").write_text("{ not json")
    return ["report", str(run)], run  # fails on the (empty) deploy graph or the JSON; both name the run directory


def case_import_missing_graph(tmp_path):
    path = tmp_path / "missing.nir"
    return ["import", str(path)], path


CASES = [value for name, value in sorted(globals().items()) if name.startswith("case_")]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__.removeprefix("case_") for c in CASES])
def test_command_error_is_one_line_naming_the_file(case, tmp_path, capsys):
    argv, path = case(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, f"not exactly one line: {err!r}"
    assert err.startswith(f"spikeport {argv[0]}: error: ")
    assert str(path) in err, f"{err!r} does not name {path}"


def test_every_command_has_an_error_case():
    import argparse

    from spikeport.cli import build_parser

    (subparsers,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert {case.__name__.split("_")[1] for case in CASES} == set(subparsers.choices)


def test_a_damaged_json_artifact_is_a_corrupt_file_error_naming_it(tmp_path):
    from spikeport.errors import CorruptFileError
    from spikeport.rundir import read_json

    path = tmp_path / "training.json"
    path.write_text("{ not json")
    with pytest.raises(CorruptFileError, match=r"training\.json is not a readable JSON file") as info:
        read_json(path, "train")
    assert "\n" not in str(info.value)
