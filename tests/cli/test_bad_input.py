"""Table-driven bad input: every command, driven into each error class, ends in one clear line and never exits 0.

Each case is (command line, expected exit code, a text the one-line message must contain). The classes covered:
option values outside their type or range (generated from the parser, so every option with a range is tried),
missing, damaged, foreign and directory paths, output paths under a file or in a directory that cannot be written,
a full disk, NaN and misshapen data, labels outside the class range, NIR nodes whose parameters differ in length,
and a bad or missing `dt`. Every case asserts: the exit code, exactly one error line on stderr (warnings, one line
each, may precede it), no traceback, and never exit 0.

The artifacts are built once per module (a tiny run: train, export, quantize, simulate on the reference) and
reused; commands run in-process through `spikeport.cli.main`, and two through a real `spikeport` process.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from spikeport.cli import build_parser, main

RUN_OPTIONS = ["--subjects", "2", "--trials-per-class", "4", "--steps", "8", "--hidden", "8", "--epochs", "1"]
IMPORT_OPTIONS = ["--samples", "4", "--steps", "20"]  # import draws no progress bar (no --no-progress)
IMPORT = " ".join(IMPORT_OPTIONS)


@dataclass(frozen=True)
class Case:
    """One bad input: the command line (with {placeholders} for the module's files), the exit code, and a text
    (with placeholders) the one-line message must contain."""

    id: str
    argv: tuple[str, ...]
    code: int
    says: str


def _case(case_id: str, argv: str, code: int, says: str) -> Case:
    return Case(case_id, tuple(argv.split()), code, says)


# ---------------------------------------------------------------------------------------------------------------
# The module's files: one good run, and every kind of bad file made from it.


def _run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse errors and --help
        return int(exc.code or 0)


def _write_data(run: Path, arrays: dict, info: dict) -> None:
    """A run directory holding only data.npz (recorded in its manifest, as `spikeport train` leaves it)."""
    from spikeport.rundir import DATA_FILE, open_run, save_data

    run.mkdir(parents=True)
    save_data(run, arrays, info)
    open_run(run).record(DATA_FILE, "train")


def _bad_data(base: Path, good: dict[str, np.ndarray]) -> dict[str, Path]:
    """One run directory per kind of bad data, each made from the good run's data."""
    info = json.loads(str(good["info"]))
    arrays = {key: good[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    nan_x = arrays["x_train"].astype(np.float32)
    nan_x[1, 2, 3] = np.nan
    variants = {
        "nan_inputs": {"x_train": nan_x},
        "inf_inputs": {"x_test": np.where(arrays["x_test"] > 0, np.inf, 0.0)},
        "fractional_inputs": {"x_train": arrays["x_train"] * 0.5},
        "label_too_high": {"y_train": np.where(np.arange(len(arrays["y_train"])) == 0, 7, arrays["y_train"])},
        "negative_label": {"y_test": arrays["y_test"] - 1},
        "float_labels": {"y_train": arrays["y_train"].astype(np.float64) + 0.5},
        "nan_labels": {"y_train": np.full(len(arrays["y_train"]), np.nan)},
        "too_few_labels": {"y_test": arrays["y_test"][:-1]},
        "channels_differ": {"x_test": arrays["x_test"][:, :, :-1]},
        "inputs_2d": {"x_train": arrays["x_train"][:, :, 0]},
        "no_train_samples": {"x_train": arrays["x_train"][:0], "y_train": arrays["y_train"][:0]},
        "text_inputs": {"x_train": np.full((*arrays["x_train"].shape[:2], 1), "a")},
    }
    dirs = {}
    for name, change in variants.items():
        dirs[name] = base / f"data_{name}"
        _write_data(dirs[name], {**arrays, **change}, info)
    dirs["data_only"] = base / "data_only"
    _write_data(dirs["data_only"], arrays, info)
    dirs["info_not_json"] = base / "data_info_not_json"
    dirs["info_not_json"].mkdir()
    np.savez_compressed(dirs["info_not_json"] / "data.npz", **arrays, info=np.array("{ not json"))
    from spikeport.rundir import DATA_FILE, open_run

    open_run(dirs["info_not_json"]).record(DATA_FILE, "train")
    return dirs


def _nir_files(base: Path) -> dict[str, Path]:
    """A small valid NIR graph and variants with mismatched parameter lengths or a bad dt."""
    import nir

    from helpers.nir_graphs import two_layer_graph

    def write(name: str, edit=None) -> Path:
        graph = two_layer_graph(np.random.default_rng(0), n_in=6, hidden=5, n_out=2)
        if edit is not None:
            edit(graph)
        nir.write(str(base / f"{name}.nir"), graph)
        return base / f"{name}.nir"

    def meta(key, value):
        return lambda g: g.metadata.__setitem__(key, value)

    return {
        "good": write("good"),
        "tau_mismatch": write("tau_mismatch", lambda g: setattr(g.nodes["lif"], "tau_mem", np.full(4, 1e-2))),
        "vth_mismatch": write("vth_mismatch", lambda g: setattr(g.nodes["lif"], "v_threshold", np.ones(3))),
        "w_in_mismatch": write("w_in_mismatch", lambda g: setattr(g.nodes["readout"], "w_in", np.ones(3))),
        "weight_mismatch": write("weight_mismatch", lambda g: setattr(g.nodes["fc2"], "weight", np.ones((2, 4)))),
        "delay_mismatch": write("delay_mismatch", lambda g: setattr(g.nodes["d1"], "delay", np.full(7, 1e-3))),
        "dt_zero": write("dt_zero", meta("dt", 0.0)),
        "dt_negative": write("dt_negative", meta("dt", -1e-3)),
        "dt_text": write("dt_text", meta("dt", "abc")),
        "no_dt": write("no_dt", lambda g: g.metadata.pop("dt")),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """Every path the cases name, by placeholder."""
    from spikeport.files import read_npz

    base = tmp_path_factory.mktemp("bad_input")
    run = base / "run"
    for argv in (
        ["train", "--out", str(run), *RUN_OPTIONS, "--no-progress"],
        ["export", str(run)],
        ["quantize", str(run), "--finetune-epochs", "0", "--no-progress"],
        ["simulate", str(run), "--no-progress"],
        ["simulate", str(run), "--backend", "lava", "--no-progress"],
    ):
        assert _run_cli(argv) == 0, argv
    paths: dict[str, Path] = {"base": base, "run": run}
    paths.update(_bad_data(base, read_npz(run / "data.npz", "data file")))
    paths.update({f"nir_{name}": path for name, path in _nir_files(base).items()})
    paths["file"] = base / "a_file.txt"
    paths["file"].write_text("a file where a directory is expected\n")
    paths["damaged_deploy"] = base / "damaged.deploy.npz"
    paths["damaged_deploy"].write_bytes(b"PK\x03\x04 not really a zip archive")
    paths["truncated_deploy"] = base / "truncated.deploy.npz"
    paths["truncated_deploy"].write_bytes((run / "model.deploy.npz").read_bytes()[:500])
    paths["record_as_deploy"] = base / "record.deploy.npz"  # foreign: a run record, not a deploy graph
    shutil.copy(run / "record_reference.npz", paths["record_as_deploy"])
    paths["json_as_deploy"] = base / "json.deploy.npz"
    shutil.copy(run / "training.json", paths["json_as_deploy"])
    paths["deploy_as_nir"] = base / "deploy.nir"  # foreign: an npz, not HDF5
    shutil.copy(run / "model.deploy.npz", paths["deploy_as_nir"])
    paths["empty_nir"] = base / "empty.nir"
    paths["empty_nir"].write_bytes(b"")
    paths["dir_nir"] = base / "a_dir.nir"
    paths["dir_nir"].mkdir()
    paths["empty_dir"] = base / "empty_dir"
    paths["empty_dir"].mkdir()
    for name, damage in {"damaged_model": "model.pt", "damaged_training": "training.json"}.items():
        paths[name] = base / name
        shutil.copytree(run, paths[name])
        (paths[name] / damage).write_bytes(b"\x80 not a torch file, not JSON")
    paths["stale_record"] = base / "stale_record"  # the Lava record replaced by the reference one
    shutil.copytree(run, paths["stale_record"])
    shutil.copy(run / "record_reference.npz", paths["stale_record"] / "record_lava.npz")
    paths["no_lava_record"] = base / "no_lava_record"
    shutil.copytree(run, paths["no_lava_record"])
    (paths["no_lava_record"] / "record_lava.npz").unlink()
    paths["no_write"] = _unwritable(base)
    return {key: str(value) for key, value in paths.items()}


def _unwritable(base: Path) -> Path:
    """A directory this process cannot write into: read-only, or (as root, who ignores permissions) a file."""
    if os.geteuid() == 0:
        return base / "a_file.txt"
    folder = base / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


# ---------------------------------------------------------------------------------------------------------------
# The table.

CASES = [
    # No command, unknown command, missing arguments.
    _case("no_command", "", 2, "required: COMMAND"),
    _case("unknown_command", "frobnicate", 2, "invalid choice: 'frobnicate'"),
    _case("export_no_run_dir", "export", 2, "required: run_dir"),
    _case("train_no_out", "train --no-progress", 2, "required: --out"),
    Case("empty_path", ("quantize", ""), 2, "argument run_dir: expected a path, got an empty string"),
    Case("empty_out", ("train", "--out", " "), 2, "argument --out: expected a path"),
    _case("model_unknown", "train --out {base}/m --model nonsense", 2, "unknown model family 'nonsense'"),
    _case("data_unknown", "train --out {base}/m --data nonsense", 2, "--data 'nonsense' is not a data source"),
    _case("subjects_list_synthetic", "train --out {base}/m --subjects 1 2", 2, "--subjects with synthetic data"),
    _case("adapt_unsupported", "adapt {run}", 2, "model family 'decoder' of {run} has no `adapt` step"),
    _case("evaluate_unsupported", "evaluate {run}", 2, "model family 'decoder' of {run} has no `evaluate` step"),
    # Missing, damaged, foreign and directory inputs.
    _case("export_missing_run_dir", "export {base}/no_such_run", 2, "{base}/no_such_run"),
    _case("export_run_dir_is_a_file", "export {file}", 2, "{file}"),
    _case("export_run_without_model", "export {data_only}", 2, "model.pt"),
    _case("export_damaged_model", "export {damaged_model}", 2, "{damaged_model}/model.pt"),
    _case("quantize_missing_run_dir", "quantize {base}/no_such_run --no-progress", 2, "{base}/no_such_run"),
    _case("quantize_empty_dir", "quantize {empty_dir} --no-progress", 2, "{empty_dir}/data.npz"),
    _case("quantize_without_model", "quantize {data_only} --no-progress", 2, "model.pt"),
    _case("simulate_without_deploy_graph", "simulate {data_only} --no-progress", 2, "model.deploy.npz"),
    _case("simulate_run_dir_is_a_file", "simulate {file} --no-progress", 2, "{file}"),
    _case("validate_missing_target", "validate {base}/nothing.deploy.npz --no-progress", 2, "nothing.deploy.npz"),
    _case("validate_damaged_deploy", "validate {damaged_deploy} --no-progress", 2, "{damaged_deploy}"),
    _case("validate_truncated_deploy", "validate {truncated_deploy} --no-progress", 2, "{truncated_deploy}"),
    _case("validate_record_as_deploy", "validate {record_as_deploy} --no-progress", 2, "{record_as_deploy}"),
    _case("validate_json_as_deploy", "validate {json_as_deploy} --no-progress", 2, "{json_as_deploy}"),
    _case("validate_empty_dir", "validate {empty_dir} --no-progress", 2, "{empty_dir}/model.deploy.npz"),
    _case("validate_steps_on_run_dir", "validate {run} --steps 3 --no-progress", 2, "--steps applies to random"),
    _case("validate_nir_directory", "validate {dir_nir} --no-progress", 2, "{dir_nir}"),
    _case("import_missing_graph", "import {base}/missing.nir", 2, "missing.nir"),
    _case("import_empty_file", "import {empty_nir}", 2, "{empty_nir}"),
    _case("import_directory", "import {dir_nir}", 2, "{dir_nir}"),
    _case("import_foreign_npz", "import {deploy_as_nir}", 2, "{deploy_as_nir}"),
    _case("report_missing_lava_record", "report {no_lava_record}", 2, "record_lava.npz not found"),
    _case("report_stale_record", "report {stale_record}", 2, "{stale_record}/record_lava.npz"),
    _case("report_damaged_training_json", "report {damaged_training}", 2, "{damaged_training}/training.json"),
    _case("report_missing_run_dir", "report {base}/no_such_run", 2, "{base}/no_such_run"),
    # Output paths that cannot be written.
    _case("train_out_under_a_file", "train --out {file}/run --no-progress", 2, "{file}"),
    _case("train_out_is_a_file", "train --out {file} --no-progress", 2, "{file}"),
    _case("train_out_unwritable", "train --out {no_write}/run --no-progress", 2, "{no_write}"),
    _case("demo_out_under_a_file", "demo --out {file}/run --no-progress", 2, "{file}"),
    _case("import_out_under_a_file", f"import {{nir_good}} --out {{file}}/g.deploy.npz {IMPORT}", 2, "{file}"),
    _case("import_out_is_a_directory", f"import {{nir_good}} --out {{empty_dir}} {IMPORT}", 2, "{empty_dir}"),
    _case("import_nir_out_under_a_file", f"import {{nir_good}} --nir-out {{file}}/g.nir {IMPORT}", 2, "{file}"),
    _case("import_out_overwrites_input", f"import {{nir_good}} --out {{nir_good}} {IMPORT}", 2, "good.nir"),
    _case("import_nir_out_overwrites_input", f"import {{nir_good}} --nir-out {{nir_good}} {IMPORT}", 2, "good.nir"),
    # Bad data where it enters: NaN/inf, fractional or text inputs, misshapen arrays, labels outside the classes.
    _case("data_nan_inputs", "quantize {nan_inputs}", 2, "x_train contains 1 NaN or infinite values"),
    _case("data_inf_inputs", "quantize {inf_inputs}", 2, "x_test contains"),
    _case("data_fractional_inputs", "quantize {fractional_inputs}", 2, "x_train contains fractional values"),
    _case("data_text_inputs", "quantize {text_inputs}", 2, "x_train has dtype <U1"),
    _case("data_label_too_high", "quantize {label_too_high}", 2, "y_train holds labels [7] outside the class range"),
    _case("data_negative_label", "quantize {negative_label}", 2, "y_test holds labels [-1] outside the class range"),
    _case("data_float_labels", "quantize {float_labels}", 2, "integer class indices"),
    _case("data_nan_labels", "quantize {nan_labels}", 2, "y_train contains"),
    _case("data_too_few_labels", "quantize {too_few_labels}", 2, "y_test has 3 entries"),
    _case("data_channels_differ", "quantize {channels_differ}", 2, "x_test has 63 channels"),
    _case("data_inputs_2d", "quantize {inputs_2d}", 2, "expected (samples, steps, channels)"),
    _case("data_no_train_samples", "quantize {no_train_samples}", 2, "x_train is empty"),
    _case("data_info_not_json", "quantize {info_not_json}", 2, "info is not JSON"),
    # Values in range that the network cannot use: the message names the command-line option to change.
    _case("quantize_one_weight_bit", "quantize {run} --weight-bits 1 --no-progress", 2, "(CLI: --weight-bits)"),
    _case(
        "import_readout_never_driven",
        "import {nir_good} --samples 1 --steps 1",
        2,
        "population 'readout' is non-spiking and stayed at 0 on every calibration input",
    ),
    _case(
        "import_calibration_option_named",
        "import {nir_good} --rate 0",
        2,
        "`spikeport import --calibration FILE.npy`, or `--samples/--steps/--rate`",
    ),
    _case(
        "train_too_few_trials", "train --out {base}/few --trials-per-class 2 --no-progress", 2, "--trials-per-class 3"
    ),
    _case("import_out_of_memory", "import {nir_good} --samples 100000000 --steps 100000", 2, "out of memory"),
    # NIR nodes whose parameters differ in length, and a bad dt.
    _case("import_tau_mismatch", "import {nir_tau_mismatch}", 2, "NIR node 'lif' (CubaLIF): parameter 'tau_mem'"),
    _case("import_vth_mismatch", "import {nir_vth_mismatch}", 2, "parameter 'v_threshold' has shape (3,)"),
    _case("import_w_in_mismatch", "import {nir_w_in_mismatch}", 2, "NIR node 'readout' (CubaLI): parameter 'w_in'"),
    _case("import_weight_mismatch", "import {nir_weight_mismatch}", 2, "NIR node 'fc2' (Linear): weight shape"),
    _case("import_delay_mismatch", "import {nir_delay_mismatch}", 2, "NIR node 'd1': delay of shape (7,)"),
    _case("validate_tau_mismatch", "validate {nir_tau_mismatch} --no-progress", 2, "parameter 'tau_mem'"),
    _case("import_recorded_dt_zero", "import {nir_dt_zero}", 2, "records dt=0.0, not a positive step"),
    _case("import_recorded_dt_negative", "import {nir_dt_negative}", 2, "records dt=-0.001"),
    _case("import_recorded_dt_text", "import {nir_dt_text}", 2, "metadata 'dt' is 'abc'"),
    _case(
        "import_no_dt", "import {nir_no_dt}", 2, "records no 'dt' in its metadata; give the step in seconds (CLI: --dt)"
    ),
    _case("import_dt_zero_option", "import {nir_good} --dt 0", 2, "argument --dt: must be > 0.0, got 0"),
    _case("validate_dt_zero_option", "validate {nir_good} --dt 0", 2, "argument --dt: must be > 0.0, got 0"),
    _case("validate_dt_negative_option", "validate {nir_good} --dt -0.001", 2, "argument --dt: must be > 0.0"),
]


def _option_cases() -> list[Case]:
    """Out-of-range and non-numeric values for every option with a range, and an unknown value for every choice
    option, of every command (generated from the parser, so a new option is covered as soon as it has a range)."""
    placeholder = {"demo": "--out {base}/o", "train": "--out {base}/o", "import": "{nir_good}", "validate": "{run}"}
    cases = []
    for command, parser in _subparsers().items():
        prefix = f"{command} {placeholder.get(command, '{run}')}"
        for action in parser._actions:
            if not action.option_strings or action.nargs == 0:
                continue
            option = action.option_strings[0]
            bounds = getattr(action.type, "bounds", None)
            if action.choices is not None:
                cases.append(_case(f"{command}{option}=bogus", f"{prefix} {option} bogus", 2, "invalid choice"))
                continue
            if bounds is None:
                continue
            low, high, low_open = bounds
            bad = ["abc"]
            bad += [] if low is None else [str(low if low_open else low - 1)]
            bad += [] if high is None else [str(high + 1)]
            bad += ["nan", "inf"] if action.type.__name__ == "number" else ["1.5"]
            for value in bad:
                says = f"argument {option}: "
                cases.append(_case(f"{command}{option}={value}", f"{prefix} {option}={value}", 2, says))
    return cases


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


ALL_CASES = CASES + _option_cases()


def _check_one_line(err: str, command: str) -> str:
    """The one error line of stderr (warnings, one line each, may precede it); asserts the rest of the contract."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if ": warning: " not in line]
    assert len(errors) == 1, f"expected exactly one error line, got {lines!r}"
    prefix = f"spikeport {command}: error: " if command else "spikeport: error: "
    assert errors[0].startswith(prefix), errors[0]
    return errors[0]


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_bad_input_ends_in_one_clear_line(case: Case, files: dict[str, str], capsys) -> None:
    argv = [part.format(**files) for part in case.argv]
    code = _run_cli(argv)
    err = capsys.readouterr().err
    assert code != 0, f"exit 0 on bad input {argv}"
    assert code == case.code, f"exit {code}, expected {case.code}: {err!r}"
    command = argv[0] if argv and argv[0] in _subparsers() else ""
    line = _check_one_line(err, command)
    assert case.says.format(**files) in line, f"{case.says.format(**files)!r} not in {line!r}"


def test_every_command_and_every_ranged_option_has_cases() -> None:
    """The table reaches every command, and every option of every command has a type (or choices, or is a flag)."""
    commands = {c.argv[0] for c in ALL_CASES if c.argv}
    assert commands >= set(_subparsers())
    for command, parser in _subparsers().items():
        for action in parser._actions:
            if action.nargs == 0 or action.dest == "help":
                continue
            if action.dest == "model":  # checked against the family registry before any work (case model_unknown)
                continue
            assert action.type is not None or action.choices is not None, f"{command} {action.dest} has no type"


def test_a_full_disk_is_one_line_naming_the_path(files: dict[str, str], capsys, monkeypatch) -> None:
    """An operating-system error while writing (here ENOSPC, injected) ends in one line naming the file."""
    import spikeport.files

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(spikeport.files.os, "replace", full)
    out = Path(files["base"]) / "full_disk.deploy.npz"
    assert _run_cli(["import", files["nir_good"], "--out", str(out), *IMPORT_OPTIONS]) == 2
    line = _check_one_line(capsys.readouterr().err, "import")
    assert "No space left on device" in line and str(out) in line, line
    assert not out.exists()


def test_a_read_only_file_system_is_one_line_naming_the_path(files: dict[str, str], capsys, monkeypatch) -> None:
    import spikeport.files

    def read_only(src, dst):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dst))

    monkeypatch.setattr(spikeport.files.os, "replace", read_only)
    assert _run_cli(["export", files["run"]]) == 2
    line = _check_one_line(capsys.readouterr().err, "export")
    assert "Read-only file system" in line and "model.nir" in line, line


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["validate", "{base}/nothing.deploy.npz"], "nothing.deploy.npz"),
        (["quantize", "{run}", "--weight-bits", "0"], "argument --weight-bits: must be in [1, 8], got 0"),
    ],
    ids=["missing_file", "bad_option"],
)
def test_the_installed_command_prints_one_line(argv, says, files: dict[str, str]) -> None:
    """The real `spikeport` process (entry point, interpreter start-up): one line on stderr, exit 2."""
    argv = [part.format(**files) for part in argv]
    result = subprocess.run(
        [sys.executable, "-m", "spikeport", *argv], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2, result.stderr
    line = _check_one_line(result.stderr, argv[0])
    assert says.format(**files) in line, line
