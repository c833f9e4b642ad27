"""The public API (`spikeport.api`, exported by `spikeport`): the five-line path from a NIR file to a bit-exact Lava
run and an energy report, and the API's refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.nir_graphs import two_layer_graph
from spikeport.errors import InputDataError, ModelFamilyError, SpikeportError
from spikeport.export import write_nir
from spikeport.nir_import import random_spikes


@pytest.fixture
def nir_file(tmp_path):
    return write_nir(two_layer_graph(np.random.default_rng(0)), tmp_path / "model.nir")


@pytest.fixture
def data():
    """Seeded random spike inputs for the 40-input graph: 8 samples of 30 steps."""
    return random_spikes(40, samples=8, steps=30, rate=0.2, seed=1)


def _readme_api_block() -> str:
    """The Python code block of README.md's "Python API" section."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Python API", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.lava
def test_five_line_path_of_the_readme_nir_to_bit_exact_lava_and_energy_report(
    nir_file, data, tmp_path, capsys, monkeypatch
):
    """README.md's five lines, executed as they are: NIR file -> quantize -> Lava -> compare -> report."""
    import spikeport

    x = data
    graph = spikeport.quantize(spikeport.load_nir(nir_file), calibration=x)
    y = np.argmax(spikeport.simulate(graph, x).populations["readout"].v.sum(axis=1), axis=1)
    y[:2] = (y[:2] + 1) % 3  # the reference's own classes with two flipped: accuracy 6/8 exactly
    block = _readme_api_block()
    assert len(block.strip().splitlines()) == 7 and "import spikeport" in block  # the import, a blank, five lines
    monkeypatch.chdir(nir_file.parent)  # the block reads "model.nir"
    namespace = {"x": x, "y": y}
    exec(compile(block, "README.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert printed.startswith("BIT-EXACT: reference vs lava")
    assert f"{3 * x.shape[0] * x.shape[1] * (30 + 3)} values compared (spikes, u, v), 0 differ" in printed
    assert "readout argmax_sum_v: accuracy 0.750 | chance" in printed
    assert "Energy per inference on Intel Loihi (loihi)" in printed
    report = spikeport.report(namespace["graph"], x, labels=y, record=spikeport.simulate(namespace["graph"], x))
    assert report.metrics == {"accuracy": 6 / 8} and report.energy["chip"] == spikeport.DEFAULT_CHIP == "loihi"
    assert report.energy["dynamic_pj"] > 0 and namespace["lava"].backend == "lava"
    saved = json.loads(report.save(tmp_path / "r.json").read_text())
    assert saved["performance"]["metrics"]["accuracy"] == 0.75 and saved["ops"] == report.content["ops"]


def test_quantize_keeps_its_report_and_defaults_to_the_clis_chip(nir_file, data):
    import spikeport
    from spikeport.cli_parser import build_parser
    from spikeport.ir import DeployGraph

    graph = spikeport.quantize(spikeport.load_nir(nir_file), calibration=data, weight_bits=6)
    assert isinstance(graph, DeployGraph)
    assert [s.num_weight_bits for s in graph.quantization.synapses] == [6, 6]
    assert {s.name for s in graph.quantization.synapses} == {"fc1", "fc2"}
    cli_default = build_parser().parse_args(["quantize", "run"]).chip
    assert cli_default == spikeport.DEFAULT_CHIP == graph.chip


def test_report_without_labels_has_energy_but_no_metrics(nir_file, data):
    import spikeport

    graph = spikeport.quantize(spikeport.load_nir(nir_file), calibration=data)
    record = spikeport.simulate(graph, data)
    report = spikeport.report(graph, data, record=record)
    assert report.metrics is None and "task metrics: none" in str(report)
    assert report.content["ops"]["steps"] == data.shape[1] and report.energy["dynamic_pj"] > 0


def test_bad_inputs_and_labels_are_refused_naming_them(nir_file, data):
    import spikeport

    graph = spikeport.quantize(spikeport.load_nir(nir_file), calibration=data)
    with pytest.raises(InputDataError, match=r"inputs: inputs has 5 channels .* the deploy graph's input has 40"):
        spikeport.report(graph, data[:, :, :5])
    with pytest.raises(InputDataError, match=r"labels: labels holds labels \[7\] outside the class range \[0, 3\)"):
        spikeport.report(graph, data, labels=np.full(len(data), 7))
    with pytest.raises(SpikeportError, match="unknown backend 'loihi'"):
        spikeport.simulate(graph, data, backend="loihi")
    with pytest.raises(SpikeportError, match="workers and lava_config apply to backend 'lava' only"):
        spikeport.simulate(graph, data, workers=2)


def test_import_spikeport_is_cheap_and_lists_the_api():
    code = (
        "import sys, spikeport; heavy = [m for m in ('torch', 'numpy', 'nir', 'lava') if m in sys.modules]; "
        "print(heavy, sorted(set(spikeport.__all__) - set(dir(spikeport))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] []"


def test_names_that_are_also_modules_call_the_api_and_stay_modules():
    import spikeport
    import spikeport.report as report_module
    import spikeport.train.models as models
    from spikeport import api

    assert spikeport.report is report_module and callable(spikeport.report)
    assert spikeport.train.models is models and callable(spikeport.train)
    with pytest.raises(ModelFamilyError, match="train\\(\\): chip is not a training setting"):
        spikeport.train("decoder", out="unused", chip="loihi")
    with pytest.raises(ModelFamilyError, match="unknown option\\(s\\) hiddn"):
        api.train(out="unused", hiddn=3)
