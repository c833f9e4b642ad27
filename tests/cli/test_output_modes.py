"""What the CLI writes where: --json (one object on stdout, nothing else), one-line warnings and errors, progress
bars only on a terminal, and unknown options that name the commands taking them."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import spikeport.cli as cli
from spikeport.cli import main


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_are_drawn_only_on_a_terminal_and_never_with_no_progress(monkeypatch):
    """One place decides: a pipe or log file never gets bars, even without --no-progress."""
    asked, hidden = argparse.Namespace(no_progress=False), argparse.Namespace(no_progress=True)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert cli._progress(asked) is False
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert cli._progress(asked) is True and cli._progress(hidden) is False
    assert cli._progress(argparse.Namespace()) is False  # a command without progress bars


def test_a_warning_is_one_line_without_its_python_source(monkeypatch, tmp_path, capsys):
    import spikeport.pipeline

    def warn_and_write(run_dir, to="nir"):
        warnings.warn("first part\n   second part", UserWarning, stacklevel=1)
        return run_dir / "model.nir"

    monkeypatch.setattr(spikeport.pipeline, "stage_export", warn_and_write)
    assert main(["export", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert err == "spikeport export: warning: first part second part\n"


def test_json_output_is_one_object_and_errors_stay_one_line_on_stderr(monkeypatch, tmp_path, capsys):
    import spikeport.pipeline

    monkeypatch.setattr(spikeport.pipeline, "stage_export", lambda run_dir, to="nir": run_dir / "model.nir")
    assert main(["export", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and json.loads(out) == {"to": "nir", "file": str(tmp_path / "model.nir")}
    assert main(["validate", str(tmp_path / "none.deploy.npz"), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "none.deploy.npz" in captured.err


@pytest.mark.lava
def test_json_of_a_lava_run_in_a_fresh_process_is_the_only_stdout(tmp_path):
    """validate runs Lava in other processes: still exactly one JSON line on stdout, and the numbers in it."""
    from helpers.graphs import one_layer
    from spikeport.ir import save_deploy_graph

    graph = save_deploy_graph(one_layer(np.array([[3, 5]]), du=100, dv=200, vth=10), tmp_path / "g.deploy.npz")
    args = ["validate", str(graph), "--samples", "2", "--steps", "6", "--json"]
    done = subprocess.run([sys.executable, "-m", "spikeport", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1
    result = json.loads(done.stdout)
    assert result["bit_exact"] is True and result["comparisons"][0]["values_differing"] == 0


def test_an_option_of_another_command_names_the_commands_that_take_it(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["train", "--out", "run", "--chip", "loihi"])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.count("\n") == 1 and "--chip is an option of demo, import, quantize, report" in err
    with pytest.raises(SystemExit):  # export draws no progress bar
        main(["export", "run", "--no-progress"])
    assert "unrecognized arguments: --no-progress" in capsys.readouterr().err


def test_every_command_that_prints_results_takes_json():
    from spikeport.cli_parser import build_parser, subcommand_parsers

    parsers = subcommand_parsers(build_parser())
    assert set(parsers) == set(cli.COMMANDS)
    assert all("--json" in p._option_string_actions for p in parsers.values())
