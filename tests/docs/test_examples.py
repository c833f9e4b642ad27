"""Every script in examples/ runs as its docstring says (`python examples/NAME.py` from the repository root), and
rejects bad input with a one-line message and exit code 2. Those that train or start Lava are slow."""

from __future__ import annotations

import ast
import importlib.util
import json

import numpy as np
import pytest
from doc_scripts import ROOT, explain, run_script

EXAMPLES = ROOT / "examples"
TESTED = {"nir_to_lava", "energy_report", "own_data_run", "eeg_few_shot"}  # a new example must get a test here


def _example_module(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_tested_and_says_what_it_does_and_how_to_run_it():
    assert {p.stem for p in EXAMPLES.glob("*.py")} == TESTED
    for name in TESTED:
        doc = ast.get_docstring(ast.parse((EXAMPLES / f"{name}.py").read_text()))
        assert doc and "What it does:" in doc and f"examples/{name}.py" in doc, name


def _graph_report(tmp_path):
    """A deploy graph's report made with the Python API on the nir_to_lava example's graph (no Lava needed)."""
    import nir

    import spikeport

    path = tmp_path / "example.nir"
    nir.write(path, _example_module("nir_to_lava").example_graph())
    x = (np.random.default_rng(1).random((4, 30, 20)) < 0.2).astype(np.int8)
    report = spikeport.report(spikeport.quantize(spikeport.load_nir(path), calibration=x), x)
    return report.save(tmp_path / "report.json"), report.content


def test_energy_report_example_prints_every_row_and_numbers_every_source(tmp_path):
    path, content = _graph_report(tmp_path)
    done = run_script(EXAMPLES / "energy_report.py", tmp_path, str(path))
    assert done.returncode == 0, explain(done)
    for row in content["energy"]["models"]:
        assert f"| {row['model']}" in done.stdout
    sources = {t["coefficient"]["source"] for t in content["energy"]["selected"]["dynamic_terms"]}
    references = done.stdout.split("References:")[1]
    assert sources and all(source in references for source in sources)
    dynamic = content["energy"]["selected"]["dynamic_pj"] / 1e3
    assert f"| loihi | {dynamic:.3g} nJ |" in done.stdout  # the report's own number, not recomputed


def test_energy_report_example_refuses_what_is_not_a_known_report(tmp_path):
    bad = tmp_path / "report.json"
    bad.write_text(json.dumps({"schema_version": 99}))
    done = run_script(EXAMPLES / "energy_report.py", tmp_path, str(bad))
    assert done.returncode == 2 and done.stderr.strip() == (
        f"energy_report: error: {bad} has schema 99; this script reads 3"
    )
    done = run_script(EXAMPLES / "energy_report.py", tmp_path, str(tmp_path / "missing.json"))
    assert done.returncode == 2 and "is not a readable spikeport report" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_nir_to_lava_example_names_a_bad_file_in_one_line(tmp_path):
    done = run_script(EXAMPLES / "nir_to_lava.py", tmp_path, str(tmp_path / "missing.nir"), "--out", str(tmp_path))
    assert done.returncode == 2, explain(done)
    assert done.stderr.startswith("nir_to_lava: error: ") and "missing.nir" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_own_data_run_example_names_the_missing_arrays(tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((4, 10, 3), dtype=np.int8))
    done = run_script(EXAMPLES / "own_data_run.py", tmp_path, "--train-inputs", str(x))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "own_data_run: error: give all four arrays; missing --train-labels, --test-inputs, --test-labels"
    )


@pytest.mark.slow
@pytest.mark.lava
def test_nir_to_lava_example_is_bit_exact_and_writes_its_files(tmp_path):
    done = run_script(EXAMPLES / "nir_to_lava.py", tmp_path)
    assert done.returncode == 0, explain(done)
    assert "BIT-EXACT: reference vs lava" in done.stdout
    out = tmp_path / "nir_to_lava"
    report = json.loads((out / "report.json").read_text())
    assert report["energy"]["dynamic_pj"] > 0 and np.load(out / "inputs.npy").shape == (8, 50, 20)
    assert (out / "model.deploy.npz").is_file()


@pytest.mark.slow
@pytest.mark.lava
def test_own_data_run_example_deploys_the_toy_set_bit_exact_above_chance(tmp_path):
    done = run_script(EXAMPLES / "own_data_run.py", tmp_path)
    assert done.returncode == 0, explain(done)
    report = json.loads((tmp_path / "own_data" / "report.json").read_text())
    assert report["bit_exact"] is True
    assert report["performance"]["stages"]["lava"]["accuracy"] > report["performance"]["chance"]


@pytest.mark.slow
@pytest.mark.lava
def test_eeg_few_shot_example_learns_the_same_memory_on_lava(tmp_path):
    done = run_script(EXAMPLES / "eeg_few_shot.py", tmp_path)
    assert done.returncode == 0, explain(done)
    assert "Lava learned the reference's weights after every epoch: True" in done.stdout
