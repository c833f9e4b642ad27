"""Multi-timescale populations deployed bit-true: the deploy graph, the reference and Lava agree bit for bit.

A population whose neurons learned different time constants is quantized to one (du, dv) per decay group
(`spikeport.targets.decay_groups`); the reference runs each group with its own decays and sums each source
group's synaptic input separately, and Lava runs one stock LIF process per group with the Dense processes split
by rows and columns (`spikeport.simulators.lava.decay_split`). Recurrent connections into and out of the grouped
population and a grouped output population are covered.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

from spikeport.export import parse_nir
from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
from spikeport.simulators.compare import compare_runs
from spikeport.simulators.reference import run_reference
from spikeport.targets.quantize import quantize
from spikeport.train.layers.multi_timescale import MultiTimescaleLIF, TimescaleConfig

DT = 1e-3


def _learned_graph(seed: int = 0) -> tuple[nir.NIRGraph, MultiTimescaleLIF]:
    """input(8) -> fc -> Delay -> multi-timescale CubaLIF "lif" (12) -> out -> Delay -> multi-timescale CubaLI
    "readout" (2) -> output, its time constants trained for a few steps on synthetic data. (Recurrence through a
    grouped population is covered by `_recurrent_graph`: k groups take k * k Lava Dense processes.)"""
    torch.manual_seed(seed)
    fc, fc_out = torch.nn.Linear(8, 12, bias=False), torch.nn.Linear(12, 2, bias=False)
    lif = MultiTimescaleLIF(TimescaleConfig(size=12, dt_s=DT, v_th=0.5))
    readout = MultiTimescaleLIF(TimescaleConfig(size=2, dt_s=DT, spiking=False))
    x = (torch.rand(30, 8, 8) < 0.3).float()
    target = torch.cumsum(x[:, :, :2], dim=0) / 10  # synthetic: running input counts
    params = [*fc.parameters(), *fc_out.parameters(), *lif.parameters(), *readout.parameters()]
    opt = torch.optim.Adam(params, lr=0.05)
    for _ in range(3):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(readout(fc_out(lif(3 * fc(x)))), target)
        loss.backward()
        opt.step()
    w = {k: m.weight.detach().double().numpy() for k, m in (("fc", fc), ("out", fc_out))}
    nodes = {
        "input": nir.Input(input_type={"input": np.array([8])}),
        "fc": nir.Linear(weight=3 * w["fc"]),
        "fc_delay": nir.Delay(delay=np.full(12, DT)),
        "lif": lif.to_nir(),
        "out": nir.Linear(weight=w["out"]),
        "out_delay": nir.Delay(delay=np.full(2, DT)),
        "readout": readout.to_nir(),
        "output": nir.Output(output_type={"output": np.array([2])}),
    }
    edges = [
        ("input", "fc"), ("fc", "fc_delay"), ("fc_delay", "lif"), ("lif", "out"), ("out", "out_delay"),
        ("out_delay", "readout"), ("readout", "output"),
    ]  # fmt: skip
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT}), lif


@pytest.mark.lava
def test_learned_multi_timescale_network_is_bit_true_on_lava() -> None:
    from spikeport.simulators.lava import run_lava

    graph_nir, lif = _learned_graph()
    taus = lif.tau_mem().detach().numpy()
    assert np.unique(np.round(taus, 6)).size == 12  # 12 distinct learned membrane time constants
    net = parse_nir(graph_nir)
    x = (np.random.default_rng(1).random((3, 40, 8)) < 0.3).astype(np.int64)
    graph, report = quantize(net, calibration_inputs=x, max_decay_groups=8)
    hidden = graph.nodes["lif"]
    assert len(hidden.decay_groups()) == 8  # 12 distinct decays, the closest merged down to the bound
    assert len(graph.nodes["readout"].decay_groups()) >= 2  # the output population is grouped too
    pops = {p.name: p for p in report.populations}
    assert len(pops["lif"].decay_groups) == len(hidden.decay_groups())
    assert pops["lif"].grouping_agreement is not None and pops["lif"].grouping_agreement > 0.9
    ref, lava = run_reference(graph, x), run_lava(graph, x)
    assert compare_runs(ref, lava).bit_exact
    assert set(lava.populations) == {"lif", "readout"}  # records keep the populations' names
    for name in ("lif", "readout"):
        for field in ("spikes", "u", "v"):
            np.testing.assert_array_equal(getattr(ref.populations[name], field), getattr(lava.populations[name], field))
    assert ref.populations["lif"].spikes.sum() > 20
    assert np.abs(ref.populations["readout"].v).max() > 0


def _wide_graph(seed: int) -> DeployGraph:
    """input(6) -> a (DelayDense, weight_exp -1) -> p (10 neurons, 8 decay groups) -> b (weight_exp -3) -> q (3)."""
    rng = np.random.default_rng(seed)
    du_p = np.array([100, 400, 900, 1500, 2200, 3000, 3800, 4095, 100, 400])
    dv_p = np.array([50, 300, 700, 1200, 1800, 2500, 3300, 4096, 50, 300])
    nodes = {
        "in": SpikeInput(name="in", size=6),
        "p": LIFInt(name="p", size=10, du=du_p, dv=dv_p, vth=60, bias_mant=rng.integers(-30, 30, 10)),
        "q": LIFInt(name="q", size=3, du=3000, dv=20, vth=30),
        "a": DenseInt(
            name="a", weights=rng.integers(-120, 250, (10, 6)), weight_exp=-1, delays=rng.integers(0, 3, (10, 6))
        ),
        "b": DenseInt(name="b", weights=rng.integers(-255, 255, (3, 10)), weight_exp=-3, num_weight_bits=7),
    }
    return DeployGraph(nodes=nodes, edges=(("in", "a"), ("a", "p"), ("p", "b"), ("b", "q")), output="q")


def _recurrent_graph(seed: int) -> DeployGraph:
    """input(5) -> a -> p (7 neurons, 3 groups) with a recurrent rec (p -> p, 7-bit, weight_exp -3) -> b -> q, the
    output (4 neurons, 3 groups; neuron 3 alone in its group and without input, so that group gets no Dense)."""
    rng = np.random.default_rng(seed)
    b = rng.integers(-200, 255, (4, 7))
    b[3] = 0
    b[np.ix_([0, 2], [1, 4])] = 0  # an all-zero piece: from p's group 1 to q's group 0
    rec = rng.integers(-255, 255, (7, 7))
    # from p's group 2 (neurons 3, 6) to its group 1 (neurons 1, 4): no positive weight, and -255, which 7-bit mixed
    # truncation makes -256, beyond Lava's inhibitory range: Lava gets this piece halved, with weight_exp + 1
    rec[np.ix_([1, 4], [3, 6])] = [[-255, -10], [-40, 0]]
    nodes = {
        "in": SpikeInput(name="in", size=5),
        "p": LIFInt(
            name="p", size=7, du=np.array([4095, 300, 4095, 1200, 300, 4095, 1200]), dv=np.array([200] * 7), vth=50
        ),
        "q": LIFInt(name="q", size=4, du=np.array([0, 2000, 0, 4095]), dv=np.array([10, 10, 10, 4000]), vth=40),
        "a": DenseInt(name="a", weights=rng.integers(-60, 250, (7, 5)), weight_exp=0),
        "rec": DenseInt(name="rec", weights=rec, weight_exp=-3, num_weight_bits=7),
        "b": DenseInt(name="b", weights=b, weight_exp=-2),
    }
    edges = (("in", "a"), ("a", "p"), ("p", "rec"), ("rec", "p"), ("p", "b"), ("b", "q"))
    return DeployGraph(nodes=nodes, edges=edges, output="q")


@pytest.mark.lava
@pytest.mark.parametrize(("make", "seed"), [(_wide_graph, 0), (_recurrent_graph, 1)])
def test_hand_built_grouped_graphs_with_negative_weight_exp_are_bit_true(make, seed: int) -> None:
    from spikeport.simulators.lava import run_lava

    graph = make(seed)
    assert [len(graph.nodes[n].decay_groups()) for n in ("p", "q")] == ([8, 1] if make is _wide_graph else [3, 3])
    x = (np.random.default_rng(10 + seed).random((2, 30, graph.input.size)) < 0.4).astype(np.int64)
    ref, lava = run_reference(graph, x), run_lava(graph, x)
    assert compare_runs(ref, lava).bit_exact
    assert ref.populations["p"].spikes.sum() > 10 and ref.populations["q"].spikes.sum() > 0


def test_lava_builds_one_process_per_decay_group(tmp_path) -> None:
    from spikeport.simulators.kernels import effective_weights
    from spikeport.simulators.lava import import_lava
    from spikeport.simulators.lava.builder import build_network

    import_lava()
    graph = _recurrent_graph(1)
    x = np.zeros((1, 4, 5), dtype=np.int64)
    network = build_network(graph, x, {"p": str(tmp_path / "p"), "q": str(tmp_path / "q")})
    # groups by first neuron: p: (4095, 200) = neurons 0, 2, 5; (300, 200) = 1, 4; (1200, 200) = 3, 6
    assert sorted(network.populations) == ["p[g0]", "p[g1]", "p[g2]", "q[g0]", "q[g1]", "q[g2]"]
    assert [network.populations[f"p[g{k}]"].du.init for k in range(3)] == [4095, 300, 1200]
    # a: 3 pieces, rec: 3 x 3; b: 3 x 3 less the empty pieces (p1 -> q0, and everything into q2, neuron 3), except
    # the last one into q2, which keeps q2 connected to the input (a zero Dense)
    expected_b = {f"b[{i}->{j}]" for i in range(3) for j in range(2)} - {"b[1->0]"} | {"b[2->2]"}
    assert {n for n in network.synapses if n.startswith("b[")} == expected_b
    assert len(network.synapses) == 3 + 9 + len(expected_b)
    assert not network.synapses["b[2->2]"].weights.init.any()
    whole = effective_weights(graph.nodes["rec"].weights, 7)
    piece = network.synapses["rec[1->0]"]  # from p's group 1 (columns 1, 4) into group 0 (rows 0, 2, 5)
    np.testing.assert_array_equal(piece.weights.init, whole[np.ix_([0, 2, 5], [1, 4])])
    assert piece.proc_params["weight_exp"] == -3
    halved = network.synapses["rec[2->1]"]  # effective [[-256, -12], [-40, 0]]: halved, weight_exp -3 + 1
    assert whole[np.ix_([1, 4], [3, 6])].tolist() == [[-256, -12], [-40, 0]]
    np.testing.assert_array_equal(halved.weights.init, [[-128, -6], [-20, 0]])
    assert halved.proc_params["weight_exp"] == -2


def test_reference_of_a_grouped_population_equals_its_groups_as_separate_populations() -> None:
    """The reference's grouped population, record in the original neuron order, equals a hand-split graph with
    one plain population per group and every synapse split into pieces (what Lava runs)."""
    graph = _recurrent_graph(3)
    x = (np.random.default_rng(7).random((2, 25, 5)) < 0.4).astype(np.int64)
    ref = run_reference(graph, x)
    from spikeport.simulators.kernels import effective_weights

    groups = {n: graph.nodes[n].decay_groups() for n in ("p", "q")}
    nodes, edges = {"in": graph.nodes["in"]}, []
    for n, gs in groups.items():
        for k, g in enumerate(gs):
            pop = graph.nodes[n]
            nodes[f"{n}{k}"] = LIFInt(
                name=f"{n}{k}", size=len(g.neurons), du=g.du, dv=g.dv, vth=pop.vth, bias_mant=pop.bias_mant[g.neurons]
            )
    parts = {"in": [np.arange(5)], **{n: [g.neurons for g in gs] for n, gs in groups.items()}}
    for syn, src, tgt in (("a", "in", "p"), ("rec", "p", "p"), ("b", "p", "q")):
        dense = graph.nodes[syn]
        w = effective_weights(dense.weights, dense.num_weight_bits)
        for i, cols in enumerate(parts[src]):
            for j, rows in enumerate(parts[tgt]):
                name = f"{syn}_{i}_{j}"
                src_name = "in" if src == "in" else f"{src}{i}"
                delays = None if dense.delays is None else dense.delays[np.ix_(rows, cols)]
                piece, exp = w[np.ix_(rows, cols)], dense.weight_exp
                if piece.max() <= 0 and piece.min() == -256:  # Lava's inhibitory range ends at -255: halve
                    piece, exp = piece // 2, exp + 1
                nodes[name] = DenseInt(name=name, weights=piece, weight_exp=exp, delays=delays)
                edges += [(src_name, name), (name, f"{tgt}{j}")]
    split = DeployGraph(nodes=nodes, edges=tuple(edges), output="q0")
    separate = run_reference(split, x)
    for n, gs in groups.items():
        for k, g in enumerate(gs):
            for field in ("spikes", "u", "v"):
                np.testing.assert_array_equal(
                    getattr(ref.populations[n], field)[:, :, g.neurons], getattr(separate.populations[f"{n}{k}"], field)
                )
    assert ref.populations["p"].spikes.sum() > 10


def test_integer_training_forward_equals_the_reference_for_grouped_populations() -> None:
    """`spikeport.train.qat` runs the reference's feed-forward core, so a grouped population, and a synapse out of
    it with a negative weight_exp (summed per source group), give the same integers there (on-grid weights)."""
    from dataclasses import replace

    from spikeport.train.qat import IntegerNetwork

    graph = _wide_graph(2)
    rng = np.random.default_rng(5)
    even = {name: 2 * rng.integers(-127, 128, graph.nodes[name].weights.shape) for name in ("a", "b")}
    nodes = {
        **graph.nodes,
        "a": replace(graph.nodes["a"], weights=even["a"], delays=None),
        "b": replace(graph.nodes["b"], weights=even["b"], num_weight_bits=8),
    }
    graph = DeployGraph(nodes=nodes, edges=graph.edges, output=graph.output)
    x = (np.random.default_rng(6).random((3, 30, 6)) < 0.4).astype(np.int64)
    ref, forward = run_reference(graph, x), IntegerNetwork(graph).record(x)
    for name in ("p", "q"):
        for field in ("spikes", "u", "v"):
            np.testing.assert_array_equal(
                getattr(ref.populations[name], field), getattr(forward.populations[name], field)
            )
    assert ref.populations["p"].spikes.sum() > 10 and ref.populations["q"].spikes.sum() > 0
