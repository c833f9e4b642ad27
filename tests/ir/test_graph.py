"""The deploy-graph IR: validation errors that name the offending node, and the `.npz` file round trip."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from helpers.graphs import one_layer, two_layer
from helpers.random_graphs import graph_cases
from spikeport.errors import IRValidationError
from spikeport.ir import (
    DenseInt,
    DeployGraph,
    LIFInt,
    LIFResetInt,
    SpikeInput,
    TernaryLIFInt,
    assert_graph_equal,
    load_deploy_graph,
    save_deploy_graph,
)

HEADER = "__deploy_graph__"


def _nodes(**changes):
    nodes = {
        "in": SpikeInput(name="in", size=3),
        "syn": DenseInt(name="syn", weights=np.ones((2, 3), dtype=np.int64)),
        "pop": LIFInt(name="pop", size=2, du=100, dv=100, vth=10),
    }
    nodes.update(changes)
    return nodes


EDGES = [("in", "syn"), ("syn", "pop")]


# ---------------------------------------------------------------------------------------------------------------
# Graph structure


def test_valid_graph_builds():
    graph = DeployGraph(nodes=_nodes(), edges=EDGES, output="pop")
    assert graph.input.name == "in" and [s.name for s in graph.synapses] == ["syn"]


def test_dangling_edge_names_the_missing_node():
    with pytest.raises(IRValidationError, match=r"'ghost' does not exist \(dangling edge\)"):
        DeployGraph(nodes=_nodes(), edges=[*EDGES, ("pop", "ghost")], output="pop")


def test_synapse_input_shape_mismatch_names_synapse_and_source():
    nodes = _nodes(syn=DenseInt(name="syn", weights=np.ones((2, 4), dtype=np.int64)))
    with pytest.raises(IRValidationError, match=r"synapse 'syn': source 'in' has 3 outputs, weights expect 4"):
        DeployGraph(nodes=nodes, edges=EDGES, output="pop")


def test_synapse_output_shape_mismatch_names_synapse_and_target():
    nodes = _nodes(pop=LIFInt(name="pop", size=5, du=0, dv=0, vth=1))
    with pytest.raises(IRValidationError, match=r"synapse 'syn': target 'pop' has 5 neurons, weights give 2"):
        DeployGraph(nodes=nodes, edges=EDGES, output="pop")


def test_population_fed_without_synapse_is_refused():
    with pytest.raises(IRValidationError, match=r"'in' -> 'pop': a neuron population can only receive from synapses"):
        DeployGraph(nodes=_nodes(), edges=[*EDGES, ("in", "pop")], output="pop")


def test_synapse_with_two_sources_is_refused():
    nodes = _nodes(p2=LIFInt(name="p2", size=3, du=0, dv=0, vth=1))
    with pytest.raises(IRValidationError, match=r"synapse 'syn' needs one source and one target"):
        DeployGraph(nodes=nodes, edges=[*EDGES, ("p2", "syn")], output="pop")


def test_exactly_one_input_and_a_population_output():
    with pytest.raises(IRValidationError, match=r"exactly one source node \(role SOURCE.*found 2: \['in', 'in2'\]"):
        DeployGraph(nodes=_nodes(in2=SpikeInput(name="in2", size=1)), edges=EDGES, output="pop")
    with pytest.raises(IRValidationError, match="output 'syn' must name a neuron population"):
        DeployGraph(nodes=_nodes(), edges=EDGES, output="syn")


def test_node_stored_under_another_name_is_refused():
    nodes = _nodes()
    nodes["other"] = nodes.pop("pop")
    with pytest.raises(IRValidationError, match="stored under 'other' is named 'pop'"):
        DeployGraph(nodes=nodes, edges=[("in", "syn"), ("syn", "other")], output="other")


def test_recurrence_is_allowed():
    nodes = _nodes(rec=DenseInt(name="rec", weights=-np.ones((2, 2), dtype=np.int64)))
    graph = DeployGraph(nodes=nodes, edges=[*EDGES, ("pop", "rec"), ("rec", "pop")], output="pop")
    assert graph.sources_of("pop") == ["syn", "rec"]


# ---------------------------------------------------------------------------------------------------------------
# Node fields


INVALID_FIELDS = [
        (lambda: DenseInt(name="w_nan", weights=np.array([[1.0, np.nan]])), r"'w_nan': weights contains NaN"),
        (lambda: DenseInt(name="w_inf", weights=np.array([[np.inf]])), r"'w_inf': weights contains NaN or infinite"),
        (lambda: DenseInt(name="w_frac", weights=np.array([[0.5]])), r"'w_frac': weights must hold integers"),
        (lambda: DenseInt(name="w_1d", weights=np.array([1, 2])), r"'w_1d': weights must have 2 dimensions"),
        (lambda: DenseInt(name="w_str", weights=np.array([["a"]])), r"'w_str': weights must be an integer array"),
        (lambda: DenseInt(name="exp", weights=[[1]], weight_exp=8), r"'exp': weight_exp must lie in \[-8, 7\]"),
        (lambda: DenseInt(name="nwb", weights=[[1]], num_weight_bits=0), r"'nwb': num_weight_bits must lie in"),
        (lambda: DenseInt(name="nwb9", weights=[[1]], num_weight_bits=9), r"'nwb9': num_weight_bits"),
        (lambda: DenseInt(name="dly", weights=[[1]], delays=[[64]]), r"'dly': delays must lie in \[0, 63\]"),
        (lambda: DenseInt(name="dshape", weights=[[1, 1]], delays=[[1]]), r"'dshape': delays shape \(1, 1\) differs"),
        (lambda: LIFInt(name="vth_hi", size=1, du=0, dv=0, vth=2**17), r"'vth_hi': vth must lie in \[0, 131071\]"),
        (lambda: LIFInt(name="vth_neg", size=1, du=0, dv=0, vth=-1), r"'vth_neg': vth must lie in \[0, 131071\]"),
        (lambda: LIFInt(name="vth_frac", size=1, du=0, dv=0, vth=1.5), r"'vth_frac': vth must be an integer"),
        (lambda: LIFInt(name="du", size=1, du=4096, dv=0, vth=1), r"'du': du must lie in \[-1, 4095\]"),
        (lambda: LIFInt(name="dv", size=1, du=0, dv=4097, vth=1), r"'dv': dv must lie in \[0, 4096\]"),
        (lambda: LIFInt(name="bias", size=1, du=0, dv=0, vth=1, bias_mant=[4096]), r"'bias': bias_mant must lie"),
        (lambda: LIFInt(name="bexp", size=1, du=0, dv=0, vth=1, bias_exp=8), r"'bexp': bias_exp must lie"),
        (lambda: LIFInt(name="bshape", size=2, du=0, dv=0, vth=1, bias_mant=[1]), r"'bshape': bias_mant shape"),
        (lambda: LIFInt(name="size0", size=0, du=0, dv=0, vth=1), r"'size0': size must be positive"),
        (lambda: TernaryLIFInt(name="lo", size=1, du=0, dv=0, vth=1, vth_lo=1), r"'lo': vth_lo must lie in"),
        (lambda: LIFResetInt(name="rst", size=1, du=0, dv=0, vth=1, reset_interval=0), r"'rst': reset_interval"),
        (lambda: SpikeInput(name="in0", size=0), r"'in0': size must be positive"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "message"), INVALID_FIELDS, ids=[re.search(r"'(\w+)'", m).group(1) for _, m in INVALID_FIELDS]
)
def test_invalid_fields_name_the_node(make, message):
    with pytest.raises(IRValidationError, match=message):
        make()


def test_arrays_are_read_only_int64():
    dense = DenseInt(name="d", weights=np.array([[1.0, -2.0]]))
    assert dense.weights.dtype == np.int64 and not dense.weights.flags.writeable
    with pytest.raises(ValueError):
        dense.weights[0, 0] = 5


# ---------------------------------------------------------------------------------------------------------------
# Files


def test_save_load_round_trip(tmp_path):
    graph = two_layer()
    path = save_deploy_graph(graph, tmp_path / "net.deploy.npz")
    assert_graph_equal(load_deploy_graph(path), graph)


def test_round_trip_of_every_node_kind(tmp_path):
    for kind, extra in [("lif", {}), ("reset", {"reset_interval": 4, "reset_offset": 2}), ("ternary", {"vth_lo": -9})]:
        graph = one_layer(
            [[1, -2]], weight_exp=-3, num_weight_bits=5, num_message_bits=4, delays=[[0, 63]], kind=kind,
            bias_mant=[-4096], bias_exp=-2, **extra,
        )  # fmt: skip
        assert_graph_equal(load_deploy_graph(save_deploy_graph(graph, tmp_path / f"{kind}.npz")), graph)


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(case=graph_cases())
def test_random_graphs_round_trip(case, tmp_path_factory):
    path = save_deploy_graph(case.graph, tmp_path_factory.mktemp("rt") / "g.deploy.npz")
    assert_graph_equal(load_deploy_graph(path), case.graph)


def test_assert_graph_equal_names_the_differing_node_and_field():
    a = one_layer([[1, 2]])
    b = one_layer([[1, 3]])
    with pytest.raises(AssertionError, match=r"node 'syn': field 'weights' differs"):
        assert_graph_equal(a, b)
    with pytest.raises(AssertionError, match=r"node 'pop'"):
        assert_graph_equal(a, one_layer([[1, 2]], vth=5))


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    save_deploy_graph(two_layer(), tmp_path / "g.deploy.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["g.deploy.npz"]


def _rewrite(path: Path, out: Path, change) -> Path:
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    change(arrays)
    with open(out, "wb") as handle:
        np.savez(handle, **arrays)
    return out


def _header(arrays: dict) -> dict:
    return json.loads(arrays[HEADER].tobytes().decode())


def _set_header(arrays: dict, header: dict | bytes) -> None:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    arrays[HEADER] = np.frombuffer(raw, dtype=np.uint8)


@pytest.fixture
def saved(tmp_path) -> Path:
    return save_deploy_graph(two_layer(), tmp_path / "good.deploy.npz")


def test_missing_file(tmp_path):
    with pytest.raises(IRValidationError, match="does not exist"):
        load_deploy_graph(tmp_path / "nothing.npz")


@pytest.mark.parametrize("cut", [0, 10, 200, -50])
def test_garbage_or_truncated_file(saved, tmp_path, cut):
    raw = saved.read_bytes()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip archive" if cut == 0 else raw[:cut])
    with pytest.raises(IRValidationError, match="not a readable deploy graph"):
        load_deploy_graph(bad)


def test_foreign_npz_without_header(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, x=np.arange(3))
    with pytest.raises(IRValidationError, match="no spikeport deploy-graph header"):
        load_deploy_graph(path)


def test_unsupported_format_version(saved, tmp_path):
    path = _rewrite(saved, tmp_path / "v99.npz", lambda a: _set_header(a, {**_header(a), "format_version": 99}))
    with pytest.raises(IRValidationError, match="format_version 99 is not supported"):
        load_deploy_graph(path)


def test_unknown_node_kind(saved, tmp_path):
    def change(arrays):
        header = _header(arrays)
        header["nodes"][1]["kind"] = "mystery"
        _set_header(arrays, header)

    with pytest.raises(IRValidationError, match="node 'd1' has unknown kind 'mystery'"):
        load_deploy_graph(_rewrite(saved, tmp_path / "kind.npz", change))


def test_invalid_values_in_a_file_are_validated_on_load(saved, tmp_path):
    def change(arrays):
        arrays["d2/delays"] = np.full_like(arrays["d2/delays"], 70)

    with pytest.raises(IRValidationError, match=r"'d2': delays must lie in \[0, 63\]"):
        load_deploy_graph(_rewrite(saved, tmp_path / "delays.npz", change))


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda a: _set_header(a, b"{not json"), id="header-not-json"),
        pytest.param(lambda a: _set_header(a, b"\xff\xfe"), id="header-not-utf8"),
        pytest.param(lambda a: _set_header(a, {"format_version": 1}), id="header-missing-keys"),
        pytest.param(lambda a: a.pop("d1/weights"), id="missing-array"),
    ],
)
def test_corrupt_header_or_arrays_raise_ir_validation_error(saved, tmp_path, corrupt):
    with pytest.raises(IRValidationError):
        load_deploy_graph(_rewrite(saved, tmp_path / "corrupt.npz", corrupt))
