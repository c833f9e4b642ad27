"""The `spikeport` command line: help texts, the end-to-end demo at reduced size, stage commands, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from spikeport.cli import build_parser, main

SUBCOMMANDS = ("demo", "train", "export", "quantize", "simulate", "validate", "report", "import")


def test_top_level_help_lists_every_stage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert f"  {name}" in text


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_explains_itself(name, capsys):
    with pytest.raises(SystemExit):
        main([name, "--help"])
    text = capsys.readouterr().out
    assert f"usage: spikeport {name}" in text
    description = text.split("\n\n")[1]
    assert len(description.split()) >= 8, f"{name} --help has no real description: {description!r}"


def test_missing_stage_artifact_is_a_one_line_error(tmp_path, capsys):
    assert main(["export", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "spikeport export: error:" in err and "spikeport train" in err


@pytest.mark.lava
def test_demo_end_to_end_small(tmp_path):
    """The whole pipeline at reduced size: bit-exact, Lava accuracy equal to the reference's, labelled synthetic."""
    from spikeport.pipeline import RunConfig

    out = tmp_path / "demo"
    args = [
        "demo",
        "--out",
        str(out),
        "--subjects",
        "2",
        "--trials-per-class",
        "12",
        "--epochs",
        "8",
        "--steps",
        "16",
        "--hidden",
        "24",
        "--no-progress",
    ]
    result = subprocess.run([sys.executable, "-m", "spikeport", *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["bit_exact"] is True
    assert report["validation"]["values_differing"] == 0
    stages = report["performance"]["stages"]
    assert report["schema_version"] == 3 and report["model"] == "decoder"
    assert stages["lava"] == stages["quantized_reference"] and set(stages["lava"]) == {"accuracy"}
    assert report["data"]["synthetic"] is True and "SYNTHETIC" in result.stdout
    assert report["ops"]["totals"]["synops"] > 0
    assert report["energy"]["dynamic_pj"] > 0
    for name in ("model.pt", "model.nir", "model.deploy.npz", "record_lava.npz", "command.txt"):
        assert (out / name).is_file()
    # Each stage alone, on the same run directory, reproduces the demo's report (timing aside).
    for stage in (
        ["export", str(out)],
        ["quantize", str(out), "--finetune-epochs", str(RunConfig.finetune_epochs), "--no-progress"],
        ["simulate", str(out), "--backend", "reference"],
        ["simulate", str(out), "--backend", "lava", "--no-progress"],
    ):
        assert main(stage) == 0
    assert main(["validate", str(out), "--no-progress"]) == 0
    assert main(["report", str(out)]) == 0
    again = json.loads((out / "report.json").read_text())
    assert {k: v for k, v in again.items() if k != "timing"} == {k: v for k, v in report.items() if k != "timing"}


def test_parser_defaults_are_the_documented_demo_defaults():
    from spikeport.cli import _config
    from spikeport.pipeline import RunConfig

    assert _config(build_parser().parse_args(["demo", "--out", "x"])) == RunConfig()
    given = _config(build_parser().parse_args(["train", "--out", "x", "--hidden", "7", "--seed", "3"]))
    assert (given.n_hidden, given.seed, given.num_steps) == (7, 3, RunConfig.num_steps)


def test_help_lists_the_registered_model_families(capsys):
    from spikeport.train.models import family_names

    for argv in (["--help"], ["train", "--help"], ["demo", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = capsys.readouterr().out
        assert "Model families" in text
        assert all(f"  {name} " in text for name in family_names())


def test_unknown_model_family_is_a_one_line_error_listing_the_known_ones(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "run"), "--model", "nope", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown model family 'nope'" in err and "decoder" in err


def test_validate_prints_the_first_mismatch_and_exits_non_zero(tmp_path, monkeypatch, capsys):
    """With a backend that disagrees in one value, `validate` names it and exits 1 (the check can fail)."""
    import numpy as np

    import spikeport.validate as validate
    from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput, save_deploy_graph
    from spikeport.simulators import PopulationTrace, RunRecord, run_reference

    graph = DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=2),
            "w": DenseInt(name="w", weights=np.array([[3, 5]])),
            "n": LIFInt(name="n", size=1, du=100, dv=200, vth=10),
        },
        edges=[("in", "w"), ("w", "n")],
        output="n",
    )
    path = save_deploy_graph(graph, tmp_path / "g.deploy.npz")

    def disagreeing_lava(graph, inputs, progress=False, workers=1):
        trace = run_reference(graph, inputs).populations["n"]
        v = trace.v.copy()
        v[0, 4, 0] += 1
        return RunRecord(backend="lava", populations={"n": PopulationTrace(spikes=trace.spikes, u=trace.u, v=v)})

    monkeypatch.setattr(validate, "run_lava", disagreeing_lava)
    assert main(["validate", str(path), "--samples", "2", "--steps", "8", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "sample 0, step 4, layer 'n', neuron 0, v:" in out


@pytest.mark.lava
def test_strict_turns_counted_saturation_into_a_one_line_error(tmp_path, capsys):
    """A deploy graph whose membrane voltages saturate: validate reports the count; with --strict it fails (exit 2)."""
    from helpers.graphs import one_layer
    from spikeport.ir import save_deploy_graph

    graph = save_deploy_graph(
        one_layer(np.zeros((3, 1)), dv=0, bias_mant=[-4096, -2048, 4095], bias_exp=7), tmp_path / "sat.deploy.npz"
    )
    args = ["validate", str(graph), "--samples", "2", "--steps", "40", "--no-progress"]
    assert main(args) == 0
    assert "pop v_saturated 72" in capsys.readouterr().out
    assert main([*args, "--strict"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "strict" in err[0] and "'pop' v_saturated 72" in err[0]


def test_quantize_and_report_take_a_chip_file_train_only_shipped_chips(tmp_path):
    """A user chip file (other formats or limits) is accepted where a graph is quantized or costed."""
    parser = build_parser()
    chip = str(tmp_path / "my_loihi.toml")
    assert parser.parse_args(["quantize", "run", "--chip", chip]).chip == chip
    assert parser.parse_args(["report", "run", "--chip", chip]).chip == chip
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--out", "o", "--chip", chip])
