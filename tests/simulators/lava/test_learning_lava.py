"""Reference vs Lava `LearningDense` (`fixed_pt`): learned weights after every epoch and every spike, u and v equal.

One graph holds five plastic connections with the five rules of docs/fixed-point.md (integer Hebbian, Hebbian at
2^-3, trace STDP, Hebbian with decay, a two-trace product), so one Lava run covers them all; random plastic graphs
follow (10 by default, 200 in the slow sweep, also `python benchmarks/learning_sweep.py --cases 200`).
"""

from __future__ import annotations

import numpy as np
import pytest

from helpers.random_plastic import compare_plastic_case, random_plastic_case, run_plastic_sweep
from spikeport.ir import DenseInt, DeployGraph, LIFInt, PlasticDenseInt, SpikeInput
from spikeport.simulators import compare_runs, run_reference
from spikeport.simulators.lava import run_lava
from spikeport.simulators.learning import adapt_on_chip, with_learned_weights
from spikeport.validate import validate_graph

RULES = {
    "hebbian": dict(dw="x0 * y0"),
    "hebbian_2^-3": dict(dw="2^-3 * x0 * y0", t_epoch=2),
    "stdp": dict(dw="2^-2 * y0 * x1 - 2^-2 * x0 * y1", x1_impulse=32, x1_tau=4, y1_impulse=32, y1_tau=4, t_epoch=5),
    "hebbian_decay": dict(dw="2^-1 * x0 * y0 - 2^-4 * u0 * x1", x1_impulse=20, x1_tau=10, t_epoch=3, rng_seed=11),
    "two_trace": dict(dw="2^3 * y0 * x1 * y2", x1_impulse=60, x1_tau=6, y2_impulse=90, y2_tau=3, t_epoch=4),
}
N_DATA, N_PRE, N_POST = 6, 5, 3


def _five_rule_graph(seed: int = 0) -> DeployGraph:
    """input (data + 3 teacher channels per rule) -> Dense -> pre LIF -> five plastic nodes -> five LIFs."""
    rng = np.random.default_rng(seed)
    n_in = N_DATA + N_POST * len(RULES)
    w_in = np.zeros((N_PRE, n_in), dtype=np.int64)
    w_in[:, :N_DATA] = rng.integers(0, 120, (N_PRE, N_DATA))
    nodes = {
        "in": SpikeInput(name="in", size=n_in),
        "d_in": DenseInt(name="d_in", weights=w_in),
        "pre": LIFInt(name="pre", size=N_PRE, du=4095, dv=1024, vth=80),
    }
    edges = [("in", "d_in"), ("d_in", "pre")]
    for i, (name, rule) in enumerate(RULES.items()):
        nodes[name] = PlasticDenseInt(
            name=name, weights=rng.integers(-30, 31, (N_POST, N_PRE)), teacher_offset=N_DATA + N_POST * i, **rule
        )
        nodes[f"post_{i}"] = LIFInt(name=f"post_{i}", size=N_POST, du=2048, dv=512, vth=20)
        edges += [("pre", name), (name, f"post_{i}")]
    return DeployGraph(nodes=nodes, edges=edges, output="post_0")


def test_five_rules_learn_the_same_weights_after_every_epoch_on_lava() -> None:
    graph = _five_rule_graph()
    rng = np.random.default_rng(1)
    x = (rng.random((3, 20, graph.input.size)) < 0.4).astype(np.int64)
    reference, lava = run_reference(graph, x), run_lava(graph, x)
    comparison = compare_runs(reference, lava)
    assert comparison.bit_exact, comparison.summary()
    assert comparison.weights_compared == sum(w.size for w in reference.weights.values())
    for name, rule in RULES.items():
        learned = reference.weights[name]
        assert learned.shape == (60 // rule.get("t_epoch", 1), N_POST, N_PRE)
        assert not np.array_equal(learned[-1], (graph.nodes[name].weights >> 1) << 1), f"{name} learned nothing"
    assert int(reference.populations["post_0"].spikes.sum()) > 0  # the learned weights drive spikes


@pytest.mark.parametrize("seed", range(10))
def test_random_plastic_graphs_are_bit_exact_on_lava(seed: int) -> None:
    case = random_plastic_case(seed)
    comparison, _ = compare_plastic_case(case)
    assert comparison.bit_exact, f"{case!r}\n{comparison.summary()}"


def test_adaptation_on_lava_equals_the_reference_and_so_do_its_predictions() -> None:
    """Few-shot adaptation on Lava; the frozen graph classifies test trials identically on both backends."""
    graph = _five_rule_graph(seed=2)
    rng = np.random.default_rng(3)
    shots = (rng.random((4, 10, graph.input.size)) < 0.4).astype(np.int64)
    teacher = {name: (rng.random((4, 10, N_POST)) < 0.5).astype(np.int64) for name in ("hebbian", "stdp")}
    on_lava = adapt_on_chip(graph, shots, teacher, backend="lava")
    on_reference = adapt_on_chip(graph, shots, teacher, backend="reference")
    for name in on_reference.final:
        np.testing.assert_array_equal(on_lava.per_epoch[name], on_reference.per_epoch[name])
        np.testing.assert_array_equal(on_lava.final[name], on_reference.final[name])
    frozen = with_learned_weights(graph, {"hebbian": on_reference.final["hebbian"]})
    frozen = DeployGraph(
        nodes={n: v for n, v in frozen.nodes.items() if n in ("in", "d_in", "pre", "hebbian", "post_0")},
        edges=[e for e in frozen.edges if set(e) <= {"in", "d_in", "pre", "hebbian", "post_0"}],
        output="post_0",
    )
    test = (rng.random((5, 10, graph.input.size)) < 0.4).astype(np.int64)
    a, b = run_reference(frozen, test), run_lava(frozen, test)
    assert compare_runs(a, b).bit_exact
    np.testing.assert_array_equal(a.predictions("post_0"), b.predictions("post_0"))


def test_validate_reports_the_learned_weights_it_compared() -> None:
    case = random_plastic_case(21, t_epoch=2, steps=8, samples=2)
    lines: list[str] = []
    comparisons = validate_graph(case.graph, case.inputs, training_forward=True, echo=lines.append)
    summary = comparisons[0].summary()
    assert comparisons[0].bit_exact and "BIT-EXACT" in summary
    assert f"learned weights: {case.graph.nodes['syn'].weights.size * 8} values compared" in summary
    assert any("training-time integer forward not compared" in line for line in lines)


@pytest.mark.slow
def test_sweep_200_plastic_cases() -> None:
    result = run_plastic_sweep(200)
    assert result["cases"] == 200 and result["learned"] > 100
    assert not result["mismatches"], "\n\n".join(result["mismatches"][:3])
