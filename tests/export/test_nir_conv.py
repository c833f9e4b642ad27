"""Chains of linear NIR nodes (Conv1d, Conv2d, pools, Flatten, Scale, Affine, Delay) composed into one synapse.

Every chain's composed matrix is checked against PyTorch applied to random inputs, then imported, quantized and
run bit-true on the reference simulator and Lava; a three-layer convolutional SNN on 2x34x34 inputs is imported
from a `.nir` file and validated end to end.
"""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.nir_conv_graphs import DT, chain_cases, chain_graph, conv_net_graph, if_node
from helpers.nir_graphs import two_layer_graph
from spikeport.errors import IRValidationError, SpikeportWarning, UnsupportedNodeError
from spikeport.export import parse_nir, read_nir, simulate_float, write_nir
from spikeport.simulators import compare_runs, run_reference
from spikeport.targets import quantize

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

CASES = chain_cases(np.random.default_rng(11))


def _spikes(rng: np.random.Generator, samples: int, steps: int, n: int, rate: float = 0.3) -> np.ndarray:
    return (rng.random((samples, steps, n)) < rate).astype(np.int64)


def _composed(x: np.ndarray, syn) -> np.ndarray:
    return x @ syn.weight.T + (syn.bias if syn.bias is not None else 0.0)


@pytest.mark.parametrize("case_name", list(CASES))
def test_composed_matrix_equals_pytorch(case_name):
    case = CASES[case_name]
    net = parse_nir(case.graph())
    (syn,) = net.synapses
    assert (syn.source, syn.target) == ("input", "pop")
    assert syn.name == next((n for n, node in case.chain.items() if not isinstance(node, nir.Delay)), "input_to_pop")
    assert syn.nodes == tuple(case.chain)
    assert net.input_size == np.prod(case.in_shape) and net.populations["pop"].size == np.prod(case.out_shape)
    assert syn.weight.shape == (np.prod(case.out_shape), np.prod(case.in_shape))
    x = np.random.default_rng(0).normal(size=(8, *case.in_shape))
    expected = case.reference(torch.as_tensor(x)).reshape(8, -1).numpy()
    np.testing.assert_allclose(_composed(x.reshape(8, -1), syn), expected, rtol=0, atol=1e-12)


@pytest.mark.lava
@pytest.mark.parametrize("case_name", list(CASES))
def test_chain_quantizes_and_runs_bit_true_on_lava(case_name):
    from spikeport.simulators.lava import run_lava

    case = CASES[case_name]
    net = parse_nir(case.graph())
    x = _spikes(np.random.default_rng(1), 2, 16, net.input_size)
    graph, report = quantize(net, calibration_inputs=x)
    assert report.total_clipped == 0
    reference = run_reference(graph, x)
    assert reference.populations["pop"].spikes.sum() > 0, "the test network should be active"
    comparison = compare_runs(reference, run_lava(graph, x))
    assert comparison.bit_exact, comparison.summary()


def test_delays_before_inside_and_after_a_chain():
    case = CASES["conv2d_delays"]  # per-source delays before a Conv2d
    syn = parse_nir(case.graph()).synapses[0]
    per_source = np.round(case.chain["delay"].delay.reshape(-1) / DT).astype(int)
    on_path = syn.weight != 0
    assert np.array_equal(syn.delay_steps[on_path], np.broadcast_to(per_source, syn.weight.shape)[on_path])
    row_min = np.where(on_path, syn.delay_steps, 99).min(axis=1, keepdims=True)
    assert np.all((syn.delay_steps == row_min) | on_path)  # zero weights take their row's smallest delay

    assert np.all(parse_nir(CASES["chain"].graph()).synapses[0].delay_steps == 3)  # a uniform Delay mid-chain

    # per-channel delays after a Conv2d whose outputs are not mixed again: one delay per target neuron
    rng = np.random.default_rng(2)
    conv = _conv(1, 2, 4, padding=1)
    conv.weight[:] = rng.normal(0, 1, conv.weight.shape)
    per_channel = np.stack([np.full((4, 4), 1 * DT), np.full((4, 4), 2 * DT)])
    graph = chain_graph((1, 4, 4), {"conv": conv, "delay": nir.Delay(delay=per_channel)}, if_node((2, 4, 4)))
    syn = parse_nir(graph).synapses[0]
    assert np.array_equal(syn.delay_steps, np.repeat([1, 2], 16)[:, None] * np.ones((1, 16), dtype=int))

    # ... but mixed again by an Affine, paths of 1 and 2 steps meet: not one synapse
    graph = chain_graph(
        (1, 4, 4),
        {
            "conv": conv,
            "delay": nir.Delay(delay=per_channel),
            "flat": nir.Flatten(input_type={"input": np.array([2, 4, 4])}, start_dim=0),
            "fc": nir.Linear(weight=rng.normal(0, 1, (3, 32))),
        },
        if_node(3),
    )
    with pytest.raises(IRValidationError, match=r"'fc'.*different delays.*'delay'"):
        parse_nir(graph)


def test_identity_synapse_between_populations_and_existing_names_kept():
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([6])}),
            "fc": nir.Linear(weight=np.full((6, 6), 0.7)),
            "lif": if_node(6),
            "lif2": if_node(6, v_th=0.5),
            "output": nir.Output(output_type={"output": np.array([6])}),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "lif2"), ("lif2", "output")],
        metadata={"dt": DT},
    )
    net = parse_nir(graph)
    assert [(s.name, s.source, s.target) for s in net.synapses] == [
        ("fc", "input", "lif"),
        ("lif_to_lif2", "lif", "lif2"),
    ]
    assert np.array_equal(net.synapses[1].weight, np.eye(6)) and net.synapses[1].nodes == ()
    x = _spikes(np.random.default_rng(3), 2, 10, 6)
    trace = simulate_float(net, x)
    assert np.array_equal(trace["lif2"].spikes, trace["lif"].spikes)  # one spike (1 > 0.5) per input spike

    old = parse_nir(two_layer_graph(np.random.default_rng(0)))
    assert [s.name for s in old.synapses] == ["fc1", "fc2"]
    assert [s.nodes for s in old.synapses] == [("fc1", "d1"), ("fc2", "d2")]
    assert all(np.all(s.delay_steps == 1) and s.bias is None for s in old.synapses)


def _conv(c_in, c_out, hw, **kw) -> nir.Conv2d:
    params = dict(stride=1, padding=0, dilation=1, groups=1) | kw
    return nir.Conv2d(input_shape=(hw, hw), weight=np.ones((c_out, c_in, 3, 3)), bias=np.zeros(c_out), **params)


def test_shape_errors_name_the_node():
    with pytest.raises(IRValidationError, match=r"'conv'.*3 input channels.*\(2, 6, 6\)"):
        parse_nir(chain_graph((2, 6, 6), {"conv": _conv(3, 2, 6)}, if_node((2, 4, 4)), type_check=False))
    with pytest.raises(IRValidationError, match=r"'conv'.*input_shape \(5, 5\).*\(2, 6, 6\)"):
        parse_nir(chain_graph((2, 6, 6), {"conv": _conv(2, 2, 5)}, if_node((2, 3, 3)), type_check=False))
    with pytest.raises(IRValidationError, match=r"'fc' \(Affine\): weight shape \(3, 30\).*32 values"):
        chain = {"conv": _conv(2, 2, 6), "fc": nir.Affine(weight=np.ones((3, 30)), bias=np.zeros(3))}
        parse_nir(chain_graph((2, 6, 6), chain, if_node(3), type_check=False))
    with pytest.raises(IRValidationError, match=r"'conv' gives 32 values.*'pop' has 20 neurons"):
        parse_nir(chain_graph((2, 6, 6), {"conv": _conv(2, 2, 6)}, if_node(20), type_check=False))
    pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
    with pytest.raises(IRValidationError, match=r"'pool': needs the \(C, H, W\) shape"):
        parse_nir(chain_graph((72,), {"pool": pool}, if_node(18), type_check=False))
    with pytest.raises(IRValidationError, match=r"'conv': padding 'same' needs stride 1"):
        chain = {"conv": _conv(2, 2, 6, stride=2, padding="same")}
        parse_nir(chain_graph((2, 6, 6), chain, if_node((2, 3, 3)), type_check=False))
    with pytest.raises(IRValidationError, match=r"'scale': scale of shape \(5,\)"):
        parse_nir(chain_graph((2, 3, 3), {"scale": nir.Scale(scale=np.ones(5))}, if_node(18), type_check=False))
    conv = _conv(2, 2, 6)
    conv.weight[0, 0, 0, 0] = np.nan
    with pytest.raises(IRValidationError, match=r"'conv': weight contains NaN"):
        parse_nir(chain_graph((2, 6, 6), {"conv": conv}, if_node((2, 4, 4)), type_check=False))


def _graph(nodes: dict, edges: list) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT}, type_check=False)


def test_branching_merging_and_stray_linear_nodes_are_unsupported():
    nodes = {
        "input": nir.Input(input_type={"input": np.array([4])}),
        "fc": nir.Linear(weight=np.ones((4, 4))),
        "a": if_node(4),
        "b": if_node(4),
        "output": nir.Output(output_type={"output": np.array([4])}),
    }
    with pytest.raises(UnsupportedNodeError, match=r"'fc' \(Linear\) has 2 outputs"):
        parse_nir(_graph(nodes, [("input", "fc"), ("fc", "a"), ("fc", "b"), ("a", "output")]))
    with pytest.raises(UnsupportedNodeError, match=r"'fc' \(Linear\) has 2 inputs"):
        parse_nir(_graph(nodes, [("input", "fc"), ("a", "fc"), ("fc", "b"), ("input", "a"), ("b", "output")]))
    with pytest.raises(UnsupportedNodeError, match=r"a -> fc -> output.*ends at 'output'"):
        parse_nir(_graph(nodes, [("input", "a"), ("a", "fc"), ("fc", "output")]))
    with pytest.raises(UnsupportedNodeError, match=r"'fc' \(Linear\) is not on a path"):
        parse_nir(_graph(nodes, [("input", "a"), ("a", "output")]))


def test_conv_net_synapses_equal_pytorch_layers():
    graph = conv_net_graph(np.random.default_rng(4))
    net = parse_nir(graph)
    assert [(s.name, s.source, s.target, s.weight.shape) for s in net.synapses] == [
        ("conv1", "input", "if1", (4 * 17 * 17, 2 * 34 * 34)),
        ("conv2", "if1", "if2", (4 * 9 * 9, 4 * 17 * 17)),
        ("conv3", "if2", "if3", (4 * 9 * 9, 4 * 9 * 9)),
        ("pool", "if3", "readout", (10, 4 * 9 * 9)),
    ]
    x = torch.as_tensor(np.random.default_rng(5).normal(size=(4, 2, 34, 34)))
    for syn in net.synapses[:3]:
        conv = graph.nodes[syn.name]
        y = F.conv2d(x, torch.as_tensor(conv.weight), torch.as_tensor(conv.bias), stride=conv.stride, padding=1)
        np.testing.assert_allclose(_composed(x.reshape(4, -1).numpy(), syn), y.reshape(4, -1).numpy(), atol=1e-12)
        x = y
    fc = graph.nodes["fc"]
    pooled = F.avg_pool2d(x, 2, 2, divisor_override=1).flatten(1).numpy()
    np.testing.assert_allclose(_composed(x.reshape(4, -1).numpy(), net.synapses[3]), pooled @ fc.weight.T + fc.bias)


@pytest.mark.lava
def test_conv_snn_from_a_nir_file_is_bit_true_on_lava(tmp_path):
    """Acceptance: Input 2x34x34 -> 3 x (Conv2d -> IF) -> SumPool2d -> Flatten -> Affine -> LI, via `nir.write`."""
    from spikeport.validate import validate_graph

    rng = np.random.default_rng(0)
    nir.write(str(tmp_path / "conv.nir"), conv_net_graph(rng))
    net = parse_nir(read_nir(tmp_path / "conv.nir"))
    assert net.input_size == 2 * 34 * 34 and [p.size for p in net.populations.values()] == [1156, 324, 324, 10]
    x = (rng.random((4, 30, 2, 34, 34)) < 0.2).astype(np.int64).reshape(4, 30, -1)  # C-order (C, H, W)
    graph, report = quantize(net, calibration_inputs=x)
    assert report.total_clipped == 0
    comparisons = validate_graph(graph, x)
    assert comparisons[0].bit_exact, comparisons[0].summary()
    reference = run_reference(graph, x)
    for layer in ("if1", "if2", "if3"):
        assert 0.02 < reference.populations[layer].spikes.mean() < 0.6, f"{layer} should be active, not saturated"


def test_graphs_that_nir_type_check_rejects_are_read_with_a_warning(tmp_path):
    """nir 1.0.8 mis-infers grouped convolutions; read_nir falls back to an unchecked read and says so."""
    case = next(c for c in chain_cases(np.random.default_rng(3)).values() if not c.type_check)
    path = write_nir(case.graph(), tmp_path / "grouped.nir")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = read_nir(path)
    assert any(issubclass(w.category, SpikeportWarning) and "graph check" in str(w.message) for w in caught)
    assert parse_nir(graph).synapses[0].weight.shape == (int(np.prod(case.out_shape)), int(np.prod(case.in_shape)))
