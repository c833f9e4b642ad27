"""NIR export, file round trips, parsing errors, and the float interpreter against the torch model."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

from helpers.nir_graphs import two_layer_graph
from spikeport.errors import IRValidationError, UnsupportedNodeError
from spikeport.export import (
    model_to_nir,
    nir_graphs_equal,
    parse_nir,
    read_nir,
    simulate_float,
    spikeport_facts,
    write_nir,
)
from spikeport.train import DecoderConfig, SpikingDecoder


@pytest.fixture
def model():
    torch.manual_seed(3)
    return SpikingDecoder(DecoderConfig(n_inputs=12, n_hidden=10, n_classes=2))


def test_model_export_round_trips_through_nir_files(tmp_path, model):
    graph = model_to_nir(model, class_names=("left_hand", "right_hand"))
    path = write_nir(graph, tmp_path / "m.nir")
    back = read_nir(path)
    assert nir_graphs_equal(graph, back)
    assert spikeport_facts(back)["class_names"] == ["left_hand", "right_hand"]
    assert np.array_equal(back.nodes["fc_in"].weight, model.fc_in.weight.detach().numpy().astype(np.float64))
    assert isinstance(back.nodes["lif"], nir.CubaLIF) and isinstance(back.nodes["readout"], nir.CubaLI)


def test_round_trip_detects_a_changed_weight(tmp_path, model):
    graph = model_to_nir(model)
    back = read_nir(write_nir(graph, tmp_path / "m.nir"))
    back.nodes["fc_out"].weight[0, 0] += 1e-3
    assert not nir_graphs_equal(graph, back)


def test_float_interpreter_reproduces_the_torch_model(model):
    """The NIR float semantics and norse's forward pass are the same discrete system."""
    rng = np.random.default_rng(0)
    x = (rng.random((6, 20, 12)) < 0.3).astype(np.float32)
    with torch.no_grad():
        out = model(torch.as_tensor(x))
    traces = simulate_float(parse_nir(model_to_nir(model)), x)
    np.testing.assert_array_equal(traces["lif"].spikes, out.hidden_spikes.numpy())
    np.testing.assert_allclose(traces["readout"].v, out.readout_v.numpy(), rtol=1e-4, atol=1e-5)


def test_corrupt_and_truncated_files_give_clear_errors(tmp_path, model):
    path = write_nir(model_to_nir(model), tmp_path / "m.nir")
    truncated = tmp_path / "truncated.nir"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(IRValidationError, match=r"truncated.nir"):
        read_nir(truncated)
    garbage = tmp_path / "garbage.nir"
    garbage.write_text("not hdf5")
    with pytest.raises(IRValidationError, match=r"not a readable NIR graph"):
        read_nir(garbage)
    with pytest.raises(IRValidationError, match=r"does not exist"):
        read_nir(tmp_path / "missing.nir")


def test_parse_errors_name_the_node_or_edge():
    rng = np.random.default_rng(0)
    graph = two_layer_graph(rng)
    graph.nodes["fc1"].weight[0, 0] = np.nan
    with pytest.raises(IRValidationError, match=r"'fc1'.*NaN"):
        parse_nir(graph)
    graph = two_layer_graph(rng)
    graph.nodes["fc2"] = nir.Linear(weight=np.ones((3, 7)))
    with pytest.raises(IRValidationError, match=r"weight shape"):
        parse_nir(graph)
    graph = two_layer_graph(rng)
    graph.edges.append(("lif", "nowhere"))
    with pytest.raises(IRValidationError, match=r"dangling edge"):
        parse_nir(graph)
    graph = two_layer_graph(rng)
    graph.nodes["lif"] = nir.I(r=np.ones(30))
    with pytest.raises(UnsupportedNodeError, match=r"'lif' has type I.*supported"):
        parse_nir(graph)
    graph = two_layer_graph(rng)
    graph.metadata = {}
    with pytest.raises(IRValidationError, match=r"dt"):
        parse_nir(graph)
