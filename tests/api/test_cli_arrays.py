"""The user's own arrays on the command line: `--inputs`/`--labels` on import, validate, simulate and report, and
`spikeport report` on an imported graph (no run directory)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.nir_graphs import two_layer_graph
from spikeport.cli import main
from spikeport.export import write_nir
from spikeport.ir import load_deploy_graph
from spikeport.nir_import import random_spikes
from spikeport.simulators import load_record, run_reference


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """A NIR file imported by the CLI (once per module); its deploy graph, and user inputs/labels as .npy files."""
    folder = tmp_path_factory.mktemp("imported")
    nir_file = write_nir(two_layer_graph(np.random.default_rng(0)), folder / "model.nir")
    assert main(["import", str(nir_file)]) == 0
    graph_file = folder / "model.deploy.npz"
    x = random_spikes(40, samples=8, steps=30, rate=0.2, seed=3)
    graph = load_deploy_graph(graph_file)
    y = np.argmax(run_reference(graph, x).populations["readout"].v.sum(axis=1), axis=1)
    y[:2] = (y[:2] + 1) % 3  # two wrong labels: accuracy 6/8 exactly
    np.save(folder / "x.npy", x)
    np.save(folder / "y.npy", y)
    return graph_file, folder / "x.npy", folder / "y.npy"


def test_report_on_an_imported_graph_with_inputs_and_labels(imported, capsys):
    graph_file, x, y = imported
    assert main(["report", str(graph_file), "--inputs", str(x), "--labels", str(y)]) == 0
    out = capsys.readouterr().out
    assert "accuracy 0.750" in out and "Energy per inference on Intel Loihi (loihi)" in out
    saved = json.loads((graph_file.parent / "model.report.json").read_text())
    assert saved["performance"]["metrics"] == {"accuracy": 0.75} and saved["energy"]["dynamic_pj"] > 0
    assert saved["data"]["source"] == str(x) and saved["data"]["n_samples"] == 8


def test_report_json_output_is_the_report(imported, capsys):
    graph_file, x, _ = imported
    out = x.parent / "r.json"
    assert main(["report", str(graph_file), "--inputs", str(x), "--json", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["performance"] is None and printed["report"] == str(out)
    assert json.loads(out.read_text())["ops"] == printed["ops"]


def test_report_of_a_graph_file_needs_inputs_and_refuses_run_directory_options(imported, capsys):
    graph_file, x, _ = imported
    assert main(["report", str(graph_file)]) == 2
    assert "give the inputs to report it on with --inputs FILE.npy" in capsys.readouterr().err
    assert main(["report", str(graph_file), "--inputs", str(x), "--format", "md"]) == 2
    assert "--format md applies to run directories" in capsys.readouterr().err
    assert main(["report", str(graph_file.parent), "--inputs", str(x)]) == 2
    assert "--inputs applies to a deploy graph file" in capsys.readouterr().err
    np.save(x.parent / "bad.npy", np.zeros((8, 30, 7)))
    assert main(["report", str(graph_file), "--inputs", str(x.parent / "bad.npy")]) == 2
    err = capsys.readouterr().err
    assert "--inputs" in err and "bad.npy" in err and "has 7 channels" in err and "the deploy graph has 40" in err


def test_simulate_a_graph_file_on_inputs_writes_the_record_and_scores_it(imported, capsys):
    graph_file, x, y = imported
    assert main(["simulate", str(graph_file), "--inputs", str(x), "--labels", str(y)]) == 0
    out = capsys.readouterr().out
    assert "reference, readout argmax_sum_v: accuracy 0.750" in out
    record = load_record(x.parent / "x.record_reference.npz")
    expected = run_reference(load_deploy_graph(graph_file), np.load(x))
    np.testing.assert_array_equal(record.populations["lif"].spikes, expected.populations["lif"].spikes)
    assert main(["simulate", str(x.parent), "--labels", str(y)]) == 2
    assert "--labels applies with --inputs FILE.npy" in capsys.readouterr().err


def test_import_checks_agreement_on_the_given_inputs(imported, capsys):
    graph_file, x, _ = imported
    nir_file = graph_file.parent / "model.nir"
    out_file = graph_file.parent / "other.deploy.npz"
    assert main(["import", str(nir_file), "--inputs", str(x), "--out", str(out_file)]) == 0
    assert "per layer, 8 samples x 30 steps:" in capsys.readouterr().out  # the inputs, not 16 x 50 calibration
    np.save(x.parent / "flat.npy", np.zeros((8, 40)))
    assert main(["import", str(nir_file), "--inputs", str(x.parent / "flat.npy"), "--out", str(out_file)]) == 2
    assert "flat.npy: inputs has shape (8, 40), expected (samples, steps, channels)" in capsys.readouterr().err


@pytest.mark.lava
def test_validate_a_graph_on_inputs_with_labels(imported, capsys):
    graph_file, x, y = imported
    assert main(["validate", str(graph_file), "--inputs", str(x), "--labels", str(y), "--samples", "4"]) == 0
    out = capsys.readouterr().out
    assert "BIT-EXACT: reference vs lava, 11880 values compared" in out  # 4 samples x 30 steps x 33 neurons x 3
    assert out.count("readout argmax_sum_v: accuracy") == 2  # reference and lava, on the first 4 samples and labels
    assert main(["validate", str(graph_file), "--inputs", str(x), "--seed", "3"]) == 2
    assert "--seed sets random inputs; --inputs replaces them" in capsys.readouterr().err
