"""`AttentionInt`: the node's checks, its integer reference (goldens derived by hand), the quantizer's lowering of
the NIR attention block, folded == unfolded re-parameterization, the deploy file and the operation counts."""

from __future__ import annotations

import copy
import warnings

import nir
import numpy as np
import pytest
import torch

from spikeport.errors import IRValidationError
from spikeport.ir import (
    AttentionInt,
    DeployGraph,
    LIFInt,
    SpikeInput,
    assert_graph_equal,
    load_deploy_graph,
    save_deploy_graph,
)
from spikeport.simulators import run_reference
from spikeport.simulators.attention import attention_trace

N, D = 3, 2


def _node(**overrides) -> AttentionInt:
    """Logic-only registers: memoryless Q, K, V neurons (du 4095, dv 4096) that spike on any input (vth 0), unit
    identity projections: Q = K = V = the input d steps later."""
    fields = dict(
        name="att", n_tokens=N, n_features=D, delay=1, weights=np.stack([np.eye(D, dtype=int)] * 3),
        weight_exp=[0, 0, 0], du=[4095] * 3, dv=[4096] * 3, vth=[0, 0, 0], bias_mant=np.zeros((3, D), dtype=int),
        bias_exp=[0, 0, 0], gate_threshold=1,
    )  # fmt: skip
    fields.update(overrides)
    return AttentionInt(**fields)


def _pulse(steps: int = 8, at: int = 0, active=((0, 0), (1, 0), (2, 1))) -> np.ndarray:
    """One sample: spikes at step `at` on (token, channel) pairs `active` (token-major n * D + j)."""
    x = np.zeros((1, steps, N * D), dtype=np.int64)
    for n, j in active:
        x[0, at, n * D + j] = 1
    return x


def _out(node: AttentionInt, x: np.ndarray) -> np.ndarray:
    return attention_trace(node, x).out.numpy()[0]


# ------------------------------------------------------------------------------------------- goldens by hand
def test_gate_counts_tokens_and_and_units_pass_only_gated_queries():
    # x at t=0: tokens 0 and 1 on channel 0, token 2 on channel 1. Q = K = V at t=1, kv at t=2, the gate at t=3
    # sees 2 tokens on channel 0 (> 1: open) and 1 on channel 1 (closed), attn at t=4 = Q[1] AND g[3].
    out = _out(_node(), _pulse())
    want = np.zeros((8, N * D))
    want[4] = [1, 0, 1, 0, 0, 0]
    np.testing.assert_array_equal(out, want)
    # gate threshold 0: one token opens a channel, so token 2's channel-1 query passes too
    want[4] = [1, 0, 1, 0, 0, 1]
    np.testing.assert_array_equal(_out(_node(gate_threshold=0), _pulse()), want)


def test_no_value_spikes_means_no_key_and_value_and_no_output():
    weights = np.stack([np.eye(D, dtype=int), np.eye(D, dtype=int), np.zeros((D, D), dtype=int)])
    trace = attention_trace(_node(weights=weights, gate_threshold=0), _pulse())
    assert trace.k.sum() == 3 and trace.v.sum() == 0 and trace.kv.sum() == 0 and trace.out.sum() == 0


def test_query_projection_routes_channels_before_the_and():
    # W_q swaps the channels: Q[1] has token 0, 1 on channel 1 and token 2 on channel 0; gate (threshold 1) = [1, 0]
    weights = np.stack([np.array([[0, 1], [1, 0]]), np.eye(D, dtype=int), np.eye(D, dtype=int)])
    want = np.zeros((8, N * D))
    want[4] = [0, 0, 0, 0, 1, 0]
    np.testing.assert_array_equal(_out(_node(weights=weights), _pulse()), want)


def test_delay_stretches_every_hop():
    # d = 2: Q at t=2, kv at t=4, gate at t=6, attn at t=8 (= 4d)
    out = _out(_node(delay=2), _pulse(steps=10))
    assert np.flatnonzero(out.any(axis=1)).tolist() == [8]
    np.testing.assert_array_equal(out[8], [1, 0, 1, 0, 0, 0])


def test_query_neurons_integrate_in_loihi_arithmetic():
    # weight 3, du 4095 (u = a << 6 = 192 each step), dv 0 (v integrates): v = 192, 384 > vth 5 << 6 = 320 -> spike
    # and reset, so a constant input spikes on every second step, starting at t = 2.
    weights = np.stack([3 * np.eye(D, dtype=int), np.eye(D, dtype=int), np.eye(D, dtype=int)])
    x = np.zeros((1, 9, N * D), dtype=np.int64)
    x[0, :, 0] = 1
    trace = attention_trace(_node(weights=weights, dv=[0, 4096, 4096], vth=[5, 0, 0]), x)
    assert np.flatnonzero(trace.q.numpy()[0, :, 0, 0]).tolist() == [2, 4, 6, 8]


def test_output_projection_accumulates_weights_of_attention_spikes_and_shifts():
    # attn at t=4 on (token 0, ch 0) and (token 1, ch 0); out[5] = (W_o column 0) << 1 for both tokens
    node = _node(out_weights=np.array([[5, 0], [-3, 7]]), out_weight_exp=1)
    out = _out(node, _pulse())
    want = np.zeros((8, N * D))
    want[5] = [10, -6, 10, -6, 0, 0]
    np.testing.assert_array_equal(out, want)
    assert node.latency == 5


# -------------------------------------------------------------------------------------- the node's checks
@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("weights", np.full((3, D, D), 300), r"node 'att': weights must lie in \[-255, 255\]"),
        ("weights", np.zeros((2, D, D), dtype=int), r"node 'att': weights must have shape \(3, 2, 2\)"),
        ("delay", 0, r"node 'att': delay must lie in \[1, 64\]"),
        ("gate_threshold", -1, r"node 'att': gate_threshold must lie in"),
        ("du", [5000, 0, 0], r"node 'att': du must lie in \[-1, 4095\]"),
        ("bias_mant", np.full((3, D), 5000), r"node 'att': bias_mant must lie in \[-4096, 4095\]"),
        ("out_weights", np.full((D, D), -256), r"node 'att': out_weights must lie in \[-255, 255\]"),
        ("n_features", 2000, r"n_features must lie in \[1, 1028\]"),
    ],
)
def test_node_refuses_out_of_range_registers_naming_the_field(field, value, match):
    overrides = {field: value}
    if field == "n_features":
        overrides.update(weights=np.zeros((3, 2000, 2000), dtype=np.int8), bias_mant=np.zeros((3, 2000), dtype=int))
    with pytest.raises(IRValidationError, match=match):
        _node(**overrides)


def _graph(node: AttentionInt) -> DeployGraph:
    relay = LIFInt(name="out", size=N * D, du=4095, dv=4096, vth=0)
    nodes = {"in": SpikeInput(name="in", size=N * D), "att": node, "out": relay}
    return DeployGraph(nodes=nodes, edges=[("in", "att"), ("att", "out")], output="out")


def test_reference_simulator_runs_the_node_as_a_connection_and_the_file_round_trips(tmp_path):
    graph = _graph(_node(out_weights=np.eye(D, dtype=int)))
    record = run_reference(graph, _pulse())
    # the relay reads out[t] = W_o attn[t - 1]: the two gated queries reach it at t = 5
    assert record.populations["out"].spikes[0, 5].tolist() == [1, 0, 1, 0, 0, 0]
    assert record.populations["out"].spikes.sum() == 2
    back = load_deploy_graph(save_deploy_graph(graph, tmp_path / "g.deploy.npz"))
    assert_graph_equal(graph, back)
    plain = _graph(_node())  # no output projection: out_weights None survives the file
    assert_graph_equal(plain, load_deploy_graph(save_deploy_graph(plain, tmp_path / "h.deploy.npz")))


def test_reference_refuses_the_node_in_a_recurrent_graph_naming_it():
    from spikeport.ir import DenseInt

    nodes = {
        "in": SpikeInput(name="in", size=N * D),
        "att": _node(),
        "out": LIFInt(name="out", size=N * D, du=4095, dv=4096, vth=0),
        "back": DenseInt(name="back", weights=np.eye(N * D, dtype=int)),
    }
    graph = DeployGraph(nodes=nodes, edges=[("in", "att"), ("att", "out"), ("out", "back"), ("back", "out")],
                        output="out")  # fmt: skip
    with pytest.raises(IRValidationError, match=r"node 'att' \(spike_attention_int\).*feed-forward graphs only"):
        run_reference(graph, _pulse())
    with pytest.raises(IRValidationError, match=r"node 'att' \(spike_attention_int\).*feed-forward order only"):
        run_reference(_graph(_node()), _pulse(), stepwise=True)


# ------------------------------------------------------------------------- the NIR block, quantized to the node
STEPS, BATCH, N_TOK, N_FEAT = 30, 3, 4, 6


def _module(delay: int, output_projection: bool, reparameterize: bool, seed: int = 1):
    from spikeport.train.layers import AttentionConfig, SpikeDrivenAttention

    config = AttentionConfig(n_features=N_FEAT, synaptic_delay_steps=delay, output_projection=output_projection,
                             reparameterize=reparameterize, init_gain=2.5)  # fmt: skip
    module = SpikeDrivenAttention(config, seed=seed)
    if reparameterize:  # BatchNorm statistics that differ from the defaults, so the fold is not trivial
        module.train()
        gen = torch.Generator().manual_seed(7)
        with torch.no_grad():
            for _ in range(3):
                module(torch.bernoulli(torch.full((STEPS, BATCH, N_TOK, N_FEAT), 0.3), generator=gen))
    return module.eval()


def _network(module):
    from spikeport.export import parse_nir
    from spikeport.train.layers import attention_to_nir

    size = N_TOK * N_FEAT
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([size])}), "attention": attention_to_nir(module, N_TOK),
               "output": nir.Output(output_type={"output": np.array([size])})},
        edges=[("input", "attention"), ("attention", "output")], metadata={"dt": 1e-3}, type_check=False,
    )  # fmt: skip
    return parse_nir(graph)


def _inputs(seed: int = 2) -> tuple[torch.Tensor, np.ndarray]:
    x = torch.bernoulli(torch.full((STEPS, BATCH, N_TOK, N_FEAT), 0.3), generator=torch.Generator().manual_seed(seed))
    return x, x.permute(1, 0, 2, 3).reshape(BATCH, STEPS, N_TOK * N_FEAT).numpy().astype(np.int64)


def _quantize(net, x, **options):
    from spikeport.targets import quantize

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize(net, calibration_inputs=x, **options)


@pytest.mark.parametrize("output_projection", [False, True])
def test_quantizer_lowers_the_block_to_one_node_that_tracks_the_float_layer(output_projection):
    module = _module(1, output_projection, False)
    x, xs = _inputs()
    graph, report = _quantize(_network(module), xs)
    target = "attention.o_lif" if output_projection else "attention.attn"
    assert list(graph.nodes) == ["input", target, "attention"] and graph.output == target
    node = graph.nodes["attention"]
    assert isinstance(node, AttentionInt) and node.output_projection == output_projection
    assert (node.n_tokens, node.n_features, node.delay, node.gate_threshold) == (N_TOK, N_FEAT, 1, 0)
    assert {s.name for s in report.synapses} >= {"attention.q_proj", "attention.k_proj", "attention.v_proj"}
    with torch.no_grad():
        want = module.double()(x.double()).spikes.permute(1, 0, 2, 3).reshape(BATCH, STEPS, -1).numpy()
    got = run_reference(graph, xs).populations[target].spikes
    assert want.sum() > 10 and got.sum() > 10
    assert np.mean(got == want) > 0.97  # quantization moves a few threshold crossings, no more
    unrolled, _ = _quantize(_network(module), xs, attention="unrolled")
    assert "attention.kv" in unrolled.nodes and not any(isinstance(n, AttentionInt) for n in unrolled.nodes.values())


def test_node_size_grows_linearly_with_tokens_where_the_unrolled_view_grows_quadratically():
    module = _module(1, True, False)
    stored = {}
    for mode in ("node", "unrolled"):
        for n in (2, 4, 8):
            net = _network_tokens(module, n)
            graph, _ = _quantize(net, None, attention=mode)
            stored[mode, n] = sum(a.size for node in graph.nodes.values() for a in node.array_fields().values())
    node_steps = [stored["node", 4] - stored["node", 2], stored["node", 8] - stored["node", 4]]
    assert node_steps[1] == 2 * node_steps[0]  # linear: doubling the tokens adds twice the increment
    assert stored["unrolled", 8] > 3.5 * stored["unrolled", 4]  # the kron matrices: quadratic


def _network_tokens(module, n_tokens: int):
    from spikeport.export import parse_nir
    from spikeport.train.layers import attention_to_nir

    size = n_tokens * N_FEAT
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([size])}),
               "attention": attention_to_nir(module, n_tokens),
               "output": nir.Output(output_type={"output": np.array([size])})},
        edges=[("input", "attention"), ("attention", "output")], metadata={"dt": 1e-3}, type_check=False,
    )  # fmt: skip
    return parse_nir(graph)


# ---------------------------------------------------------------------------------- re-parameterization
@pytest.mark.parametrize("output_projection", [False, True])
def test_folded_and_unfolded_layers_give_identical_outputs_float_and_integer(output_projection):
    unfolded = _module(1, output_projection, True).double()
    assert not unfolded.folded
    folded = copy.deepcopy(unfolded).fold()
    assert folded.folded and folded.q_proj.linear.bias is not None
    x, xs = _inputs(seed=5)
    with torch.no_grad():
        a, b = unfolded(x.double()), folded(x.double())
    for field in a._fields:
        assert torch.equal(getattr(a, field), getattr(b, field)), field
    assert a.spikes.sum() > 0
    # integer: the deploy graph (and so every integer output) is the same whether the layer was folded or not
    graph_a, _ = _quantize(_network(unfolded), xs)
    graph_b, _ = _quantize(_network(folded), xs)
    assert_graph_equal(graph_a, graph_b)
    assert graph_a.nodes["attention"].bias_mant.any()  # the folded BatchNorm shift became an integer bias
    ra, rb = run_reference(graph_a, xs), run_reference(graph_b, xs)
    np.testing.assert_array_equal(ra.populations[graph_a.output].spikes, rb.populations[graph_b.output].spikes)
    np.testing.assert_array_equal(ra.populations[graph_a.output].v, rb.populations[graph_b.output].v)


# ---------------------------------------------------------------------------------------------- op counts
def test_op_counts_are_accumulates_only_and_match_the_stages():
    from spikeport.targets.opcount import count_ops
    from spikeport.targets.opcount_attention import attention_counts, attention_ops

    node = _node(out_weights=np.array([[5, 0], [-3, 7]]))
    x = _pulse()
    ops = attention_ops(node, x)
    # by hand: 3 input spikes x (1 + 1 + 1) projection weights = 9 at t=0; K, V spikes into kv at t=2: 6;
    # kv spikes into the column sums at t=3: 3; Q spikes (3) + the open gate's N=3 units at t=4: 6;
    # 2 attn spikes on channel 0 x 2 non-zero weights of W_o column 0 at t=5: 4
    assert ops["projections"][0] == 9 and ops["kv"][2] == 6 and ops["gate"][3] == 3 and ops["attn"][4] == 6
    assert ops["output_projection"][5] == 4 and ops["accumulates"].sum() == 28 and ops["multiplies"].sum() == 0
    per_step = attention_counts(node, x, first=False, traffic=None)
    assert per_step["effective_macs"].sum() == 0 and per_step["effective_acs"].sum() == 28
    graph = _graph(node)
    counts = count_ops(graph, x, run_reference(graph, x))
    (syn,) = counts.synapses
    assert (syn.name, syn.source_events, syn.synops_effective) == ("att", 3, 9)


def _saturating_node() -> AttentionInt:
    """Full weights shifted by 7 into leak-free neurons with a threshold beyond reach: u wraps, v saturates."""
    return _node(weights=np.full((3, D, D), 255), weight_exp=[7, 7, 7], du=[-1, -1, -1], dv=[0, 0, 0],
                 vth=[131071] * 3, bias_mant=np.full((3, D), 4095), bias_exp=[7, 7, 7])  # fmt: skip


def test_overflows_inside_the_block_are_counted_under_its_name():
    graph = _graph(_saturating_node())
    record = run_reference(graph, np.ones((1, 12, N * D), dtype=np.int64))
    counts = record.saturation["att"]
    assert sum(n for key, n in counts.items() if key.startswith("u")) > 0, counts
    assert sum(n for key, n in counts.items() if key.startswith("v")) > 0, counts
