"""`--calibration`: import and quantize calibrate on the user's own inputs; random spikes stay the labelled default."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.nir_graphs import recurrent_graph
from spikeport.cli import main
from spikeport.export import parse_nir, read_nir, write_nir
from spikeport.ir import assert_graph_equal, load_deploy_graph
from spikeport.nir_import import random_spikes
from spikeport.targets import quantize

RUN_OPTIONS = ["--subjects", "2", "--trials-per-class", "4", "--steps", "8", "--hidden", "8", "--epochs", "1"]


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory):
    base = tmp_path_factory.mktemp("calibration")
    graph = recurrent_graph(np.random.default_rng(3), n_in=10, hidden=12, n_out=3, affine_biases=True)
    path = write_nir(graph, base / "recurrent.nir")
    inputs = random_spikes(10, samples=5, steps=30, rate=0.35, seed=7)
    np.save(base / "calib.npy", inputs)
    return path, base / "calib.npy", inputs


def test_import_without_calibration_labels_the_random_default(graph_file, tmp_path, capsys):
    path, _, _ = graph_file
    assert main(["import", str(path), "--out", str(tmp_path / "g.deploy.npz"), "--samples", "4", "--steps", "20"]) == 0
    printed = capsys.readouterr().out
    assert "calibration: random spikes, rate 0.2, 4 samples (default)" in printed
    assert "approximation: decay rounding" in printed and "(scale search)" in printed


def test_import_calibrates_on_the_given_file_exactly_as_quantize_does(graph_file, tmp_path, capsys):
    path, calib_file, inputs = graph_file
    out = tmp_path / "g.deploy.npz"
    assert main(["import", str(path), "--out", str(out), "--calibration", str(calib_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["quantization"]["calibration"] == f"--calibration {calib_file}"
    expected, _ = quantize(parse_nir(read_nir(path)), calibration_inputs=inputs, metadata={"imported_from": path.name})
    assert_graph_equal(load_deploy_graph(out), expected)
    default_inputs = random_spikes(10, samples=16, steps=50, rate=0.2, seed=0)
    random_graph, _ = quantize(parse_nir(read_nir(path)), calibration_inputs=default_inputs)
    assert not all(
        np.array_equal(getattr(expected.nodes["lif"], f), getattr(random_graph.nodes["lif"], f))
        for f in ("vth", "bias_mant")
    ), "calibrating on other inputs must be able to change the quantization"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (np.zeros((2, 5, 7)), "n_in"),  # the graph has 10 inputs
        (np.full((2, 5, 10), 0.5), "whole"),
    ],
)
def test_import_refuses_bad_calibration_files_in_one_line_naming_the_option(
    graph_file, tmp_path, capsys, content, message
):
    path, _, _ = graph_file
    bad = tmp_path / "bad.npy"
    np.save(bad, content)
    assert main(["import", str(path), "--out", str(tmp_path / "g.deploy.npz"), "--calibration", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--calibration" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "g.deploy.npz").exists()


def test_import_refuses_a_missing_calibration_file(graph_file, tmp_path, capsys):
    path, _, _ = graph_file
    assert main(["import", str(path), "--calibration", str(tmp_path / "none.npy")]) == 2
    assert "--calibration" in capsys.readouterr().err


@pytest.mark.slow
def test_quantize_run_on_a_calibration_file_or_the_training_inputs(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *RUN_OPTIONS, "--no-progress"]) == 0
    assert main(["export", str(run)]) == 0
    assert main(["quantize", str(run), "--no-progress"]) == 0
    assert "calibration: the run's training inputs" in capsys.readouterr().out
    default = load_deploy_graph(run / "model.deploy.npz")
    from spikeport.files import read_npz

    n_in = read_npz(run / "data.npz", "data")["x_train"].shape[2]
    calib = random_spikes(n_in, samples=3, steps=8, rate=0.5, seed=1)
    np.save(tmp_path / "calib.npy", calib)
    assert main(["quantize", str(run), "--calibration", str(tmp_path / "calib.npy"), "--no-progress"]) == 0
    assert f"calibration: --calibration {tmp_path / 'calib.npy'}" in capsys.readouterr().out
    report = json.loads((run / "quantization.json").read_text())
    assert report["calibration"] == f"--calibration {tmp_path / 'calib.npy'}"
    other = load_deploy_graph(run / "model.deploy.npz")
    assert (
        any(
            not np.array_equal(getattr(default.nodes[n], "vth", 0), getattr(other.nodes[n], "vth", 0))
            for n in other.nodes
        )
        or default.metadata["scales"] != other.metadata["scales"]
    )
    np.save(tmp_path / "bad.npy", np.zeros((3, 8, n_in + 1)))
    assert main(["quantize", str(run), "--calibration", str(tmp_path / "bad.npy"), "--no-progress"]) == 2
    assert "calibration" in capsys.readouterr().err
