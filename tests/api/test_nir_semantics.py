"""What NIR cannot carry: the step of graphs that record none, and snnTorch's or sinabs's subtractive reset."""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest
import torch

from spikeport.cli import main
from spikeport.errors import SpikeportWarning, UnsupportedNodeError
from spikeport.export import write_nir
from spikeport.export.nir_origin import SINABS, SNNTORCH, guess_exporter


def _snntorch_graph():
    """A two-layer snnTorch model as snntorch 1.0's export_to_nir writes it (no dt, default subtractive reset)."""
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(12, 10),
        snn.Leaky(beta=torch.full((10,), 0.9), threshold=torch.ones(10), init_hidden=True),
        torch.nn.Linear(10, 3),
        snn.Leaky(beta=torch.full((3,), 0.8), threshold=torch.ones(3), init_hidden=True, output=True),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return export_to_nir(model, torch.zeros(1, 12), ignore_dims=[0])


def _if_graph(n_in: int = 6, n: int = 4):
    """Input -> Linear -> IF(r = 1) -> Output, as sinabs's to_nir writes an IAF layer (no dt)."""
    rng = np.random.default_rng(0)
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([n_in])}),
            "fc": nir.Linear(weight=rng.normal(0, 1, (n, n_in))),
            "iaf": nir.IF(r=np.ones(n), v_threshold=np.ones(n), v_reset=np.zeros(n)),
            "output": nir.Output(output_type={"output": np.array([n])}),
        },
        edges=[("input", "fc"), ("fc", "iaf"), ("iaf", "output")],
    )


def test_exporters_are_recognised_by_their_parameters():
    assert guess_exporter(_snntorch_graph()) is SNNTORCH
    assert guess_exporter(_if_graph()) is SINABS
    graph = _if_graph()
    graph.nodes["iaf"] = nir.IF(r=np.full(4, 2.0), v_threshold=np.ones(4), v_reset=np.zeros(4))
    assert guess_exporter(graph) is None


def test_import_without_dt_names_the_option_and_the_exporters_step(tmp_path, capsys):
    path = write_nir(_snntorch_graph(), tmp_path / "snn.nir")
    assert main(["import", str(path)]) == 2
    err = capsys.readouterr().err
    assert "records no 'dt'" in err and "(CLI: --dt)" in err
    assert "looks like snnTorch's export_to_nir" in err and "--dt 0.0001" in err
    plain = _if_graph()
    plain.nodes["iaf"] = nir.IF(r=np.full(4, 2.0), v_threshold=np.ones(4), v_reset=np.zeros(4))
    assert main(["import", str(write_nir(plain, tmp_path / "plain.nir"))]) == 2
    err = capsys.readouterr().err
    assert "--dt 0.0001" in err and "sinabs's to_nir one step (--dt 1)" in err
    assert "--dt 0.001 --tau-convention norse" in err


def test_snntorch_reset_is_warned_about_confirmed_or_refused(tmp_path, capsys):
    path = write_nir(_snntorch_graph(), tmp_path / "snn.nir")
    assert main(["import", str(path), "--dt", "1e-4"]) == 0
    err = capsys.readouterr().err
    assert "spikeport import: warning: NIR graph: it looks like snnTorch's export_to_nir" in err
    assert "subtract the threshold at a spike by default (reset_mechanism='subtract')" in err and "--reset zero" in err
    assert main(["import", str(path), "--dt", "1e-4", "--reset", "zero"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main(["import", str(path), "--dt", "1e-4", "--reset", "subtract"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--reset subtract: the chip sets v to 0 at a spike" in err
    assert "reset_mechanism='zero'" in err and "import it with --reset zero" in err


def test_load_nir_takes_the_same_reset_choice(tmp_path):
    import spikeport

    path = write_nir(_if_graph(), tmp_path / "if.nir")
    with pytest.warns(SpikeportWarning, match=r"sinabs's to_nir .* \(reset_fn=MembraneSubtract\(\)\)"):
        net = spikeport.load_nir(path, dt=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpikeportWarning)
        assert spikeport.load_nir(path, dt=1.0, reset="zero").populations.keys() == net.populations.keys()
    with pytest.raises(UnsupportedNodeError, match="--reset subtract"):
        spikeport.load_nir(path, dt=1.0, reset="subtract")


def test_graphs_that_record_their_step_get_no_reset_warning(tmp_path):
    import spikeport

    graph = _if_graph()
    graph.metadata = {"dt": 1e-3}
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpikeportWarning)
        spikeport.load_nir(write_nir(graph, tmp_path / "if.nir"))
