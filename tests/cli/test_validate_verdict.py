"""The fidelity verdict of `spikeport import` and `spikeport validate` (`spikeport.agreement`): untested layers,
rate error, R² for regression readouts, the dominant cause of a flagged layer and `--min-agreement`.

Graphs are hand-built NIR graphs with seeded random weights (`tests/helpers/nir_graphs.py`); inputs are seeded
random spikes (synthetic).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from helpers.nir_graphs import recurrent_graph, two_layer_graph
from spikeport.agreement import (
    LayerAgreement,
    argmax_agreement,
    below_minimum,
    dominant_cause,
    float_int_agreement,
)
from spikeport.cli import main
from spikeport.export import parse_nir, write_nir
from spikeport.nir_import import random_spikes
from spikeport.simulators import RunRecord, run_reference
from spikeport.targets import quantize
from spikeport.targets.approximations import Approximation


@pytest.fixture(scope="module")
def two_layer_nir(tmp_path_factory):
    return write_nir(two_layer_graph(np.random.default_rng(0)), tmp_path_factory.mktemp("two") / "two.nir")


@pytest.fixture(scope="module")
def recurrent_nir(tmp_path_factory):
    graph = recurrent_graph(np.random.default_rng(8), n_in=16, hidden=20, n_out=4, affine_biases=True)
    return write_nir(graph, tmp_path_factory.mktemp("recurrent") / "recurrent.nir")


def test_a_layer_that_never_spikes_is_untested_not_full_agreement(two_layer_nir, tmp_path, capsys):
    """Checked on silent inputs (calibrated on random spikes): nothing spikes, and that is not 100% agreement."""
    silent = tmp_path / "silent.npy"
    np.save(silent, np.zeros((4, 30, 40), dtype=np.int64))
    args = ["import", str(two_layer_nir), "--inputs", str(silent), "--min-agreement", "99"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "lif (spiking, +0 steps): untested (no spikes in the float or the integer run" in out
    assert "readout (readout, +0 steps): untested (v stays 0 in both runs" in out
    assert "100.00%" not in out.split("float vs integer")[1].split("float cross-check")[0]


def test_min_agreement_fails_with_one_line_naming_the_layer_and_its_cause(recurrent_nir, capsys):
    args = ["import", str(recurrent_nir), "--samples", "8", "--steps", "40"]
    assert main([*args, "--min-agreement", "99.5"]) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("spikeport import: layer 'lif' agrees ") and "below --min-agreement 99.5%" in line
    assert "; cause: alone " in line  # measured layer-alone agreement, then the named approximation
    assert "  <-- quantization changes behaviour: " in captured.out
    assert main([*args, "--min-agreement", "50"]) == 0
    assert "<-- quantization changes behaviour" not in capsys.readouterr().out


@pytest.mark.parametrize("value", ["0", "100.5", "-3", "x"])
def test_min_agreement_out_of_range_is_a_usage_error_naming_the_option(recurrent_nir, value, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["import", str(recurrent_nir), "--min-agreement", value])
    assert exited.value.code == 2 and "argument --min-agreement" in capsys.readouterr().err


def test_min_agreement_on_a_deploy_graph_alone_is_refused(recurrent_nir, tmp_path, capsys):
    out = tmp_path / "g.deploy.npz"
    assert main(["import", str(recurrent_nir), "--samples", "2", "--steps", "10", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["validate", str(out), "--min-agreement", "90"]) == 2
    assert "--min-agreement needs the float graph" in capsys.readouterr().err


@pytest.mark.lava
def test_validate_nir_applies_the_verdict_after_both_backends_ran(recurrent_nir, capsys):
    args = ["validate", str(recurrent_nir), "--samples", "4", "--steps", "40", "--no-progress"]
    assert main([*args, "--min-agreement", "99.9"]) == 1
    captured = capsys.readouterr()
    assert "reference vs lava" in captured.out.lower()  # the bit-exact comparison is still shown
    assert "spikeport validate: layer 'lif' agrees" in captured.err
    assert main([*args, "--min-agreement", "50"]) == 0


def _layer(name: str, agreement: float, *, spiking: bool = True, threshold: float = 0.97) -> LayerAgreement:
    return LayerAgreement(name, spiking, 0, agreement, 0.2, 0.2, 1.0, threshold=threshold)


def test_dominant_cause_rules():
    approximations = (
        Approximation("delay limit", 30.0, "connections", "zero-delay connections arrive one step later"),
        Approximation("threshold mantissa", 4e-4, "relative", "vth 806"),
        Approximation("weight mantissa", 0.03, "relative RMS", "largest on synapse 'fc'"),
    )
    low = _layer("if3", 0.90)
    # its own approximations: the largest fraction wins over a larger count of another unit
    cause = dominant_cause(low, [_layer("if2", 0.99)], 0.92, approximations)
    assert cause == "alone 92.00%; largest approximation: weight mantissa 0.03 relative RMS (largest on synapse 'fc')"
    # counts only: the first one listed
    assert "delay limit 30 connections" in dominant_cause(low, [], None, approximations[:1])
    # alone it would pass: the upstream layer that agrees least is named
    cause = dominant_cause(low, [_layer("if1", 0.99), _layer("if2", 0.93)], 0.985, approximations)
    assert cause.startswith("inherited: alone (fed the float inputs) it agrees 98.50%") and "if2 agrees 93.00%" in cause
    # a recurrent layer whose upstream is fine: its own loop
    assert dominant_cause(low, [_layer("if1", 0.99)], 0.985, (), recurrent=True).startswith("recurrence: alone")


def test_below_minimum_ignores_untested_layers_and_scores_readouts_by_output():
    silent = LayerAgreement("quiet", True, 0, 1.0, 0.0, 0.0, 1.0, tested=False)
    readout = LayerAgreement("readout", False, 0, 1.0, 0.0, 0.0, 0.8)
    assert below_minimum([silent, _layer("a", 0.99)], 0.97) is None
    assert below_minimum([silent, _layer("a", 0.99), readout], 0.97) is readout
    assert _layer("b", 0.99).rate_error == 0.0 and not silent.flagged


def test_regression_readouts_are_scored_by_r2_against_the_float_output():
    net = parse_nir(two_layer_graph(np.random.default_rng(0)))
    x = random_spikes(net.input_size, samples=8, steps=40, rate=0.2, seed=0)
    graph, _ = quantize(net, calibration_inputs=x)
    record = run_reference(graph, x)
    layers = {a.name: a for a in float_int_agreement(net, graph, x, record, task="regression")}
    assert layers["readout"].output_metric == "r2" and layers["readout"].output_agreement > 0.95
    assert layers["lif"].output_metric == "argmax"  # hidden spiking layers keep spike-count argmax
    off = {
        name: trace if name != "readout" else replace(trace, v=trace.v * 2)
        for name, trace in record.populations.items()
    }
    doubled = float_int_agreement(net, graph, x, RunRecord(backend="reference", populations=off), task="regression")
    assert doubled[-1].output_agreement < 0.5, "R² must see a wrong scale that argmax would not"
    assert "R² " in doubled[-1].describe()


def test_argmax_agreement_counts_a_tie_as_agreeing_with_any_tied_class():
    float_counts = np.array([[5, 5, 2], [1, 4, 0], [3, 0, 3]])
    int_counts = np.array([[4, 5, 2], [2, 4, 0], [1, 0, 0]])  # sample 0: a float tie; 2: class 0 in both
    assert argmax_agreement(float_counts, int_counts) == 1.0
    assert argmax_agreement(float_counts, np.array([[1, 0, 9], [4, 1, 0], [0, 2, 0]])) == 0.0
