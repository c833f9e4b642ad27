"""On-chip learning in the integer reference: the rule subset, the node's checks, kernel goldens derived by hand,
the timing of weight updates, records and deploy files with learned weights, freezing, and the float rule.

Reference vs Lava is tested in tests/simulators/lava/test_learning_lava.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers.random_plastic import random_plastic_case
from spikeport.errors import IRValidationError, RecordMismatchError, UnsupportedNodeError
from spikeport.ir import DeployGraph, LIFInt, PlasticDenseInt, SpikeInput, load_deploy_graph, save_deploy_graph
from spikeport.ir.graph import assert_graph_equal
from spikeport.ir.plastic import lava_rule, parse_rule
from spikeport.simulators import compare_runs, load_record, run_reference, save_record
from spikeport.simulators.learning import adapt_on_chip, run_plan, teacher_spikes, with_learned_weights, with_teacher
from spikeport.simulators.learning_engine import learn_from_spikes
from spikeport.simulators.record import RunRecord
from spikeport.targets.opcount import count_ops
from spikeport.train.layers.plastic_float import learn_float


def _node(weights, dw="x0 * y0", **fields) -> PlasticDenseInt:
    return PlasticDenseInt(name="syn", weights=np.asarray(weights), dw=dw, **fields)


def _graph(n_pre: int, n_post: int, weights, dw="x0 * y0", *, vth=10, **fields) -> DeployGraph:
    """input (n_pre data channels + n_post teacher channels) -> plastic -> memoryless LIF."""
    w = np.zeros((n_post, n_pre + n_post), dtype=np.int64)
    w[:, :n_pre] = weights
    return DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=n_pre + n_post),
            "syn": PlasticDenseInt(name="syn", weights=w, dw=dw, teacher_offset=n_pre, **fields),
            "out": LIFInt(name="out", size=n_post, du=4095, dv=4096, vth=vth),
        },
        edges=(("in", "syn"), ("syn", "out")),
        output="out",
    )


# ----------------------------------------------------------------------------------------------- the rule subset


@pytest.mark.parametrize(
    ("dw", "terms"),
    [
        ("x0 * y0", [(1, 0, "x0", ("y0",))]),
        ("2^-3*x0*y0", [(1, -3, "x0", ("y0",))]),
        ("2^-2*y0*x1 - 2^-3*x0*y1", [(1, -2, "y0", ("x1",)), (-1, -3, "x0", ("y1",))]),
        ("16 * y0", [(4, 2, "y0", ())]),  # Lava halves an even mantissa > 7 into the exponent
        ("-8*2^8*x0", [(-8, 8, "x0", ())]),  # at e = 8 nothing is halved
        ("3*2^-1*u0*x1*y2", [(3, -1, "u", ("x1", "y2"))]),
    ],
)
def test_rules_parse_into_lavas_products(dw: str, terms: list) -> None:
    products = parse_rule(dw)
    assert [(p.mantissa, p.exponent, p.dependency, p.factors) for p in products] == terms
    assert parse_rule(lava_rule(products)) == products  # the string Lava gets reads back the same


@pytest.mark.parametrize(
    ("dw", "words"),
    [
        ("", "non-empty"),
        ("x1 * y1", "trigger"),
        ("x0 * z1", "cannot read"),
        ("9 * x0", "m in [-8, 7]"),
        ("2^9 * x0", "e in [-7, 8]"),
        ("x0 * u0", "first trigger"),
        ("u0 + u1", "one K"),
        ("x0 * x1 * x2 * y1 * y2", "at most 3 trace factors"),
        ("x0 * * y0", "both sides"),
        ("x0 y0", "missing operator"),
    ],
)
def test_bad_rules_fail_in_one_line_naming_the_field(dw: str, words: str) -> None:
    with pytest.raises(IRValidationError, match="dw") as info:
        _node(np.zeros((1, 1)), dw=dw)
    assert words in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [("weights", 256), ("t_epoch", 0), ("t_epoch", 64), ("x1_impulse", 128), ("y2_tau", -1), ("rng_seed", -1),
     ("teacher_offset", -2), ("weight_exp", 8)],
)  # fmt: skip
def test_register_ranges_name_the_field(field: str, value: int) -> None:
    fields = {"weights": np.zeros((2, 2))}
    if field == "weights":
        fields["weights"] = np.full((2, 2), value)
    else:
        fields[field] = value
    with pytest.raises(IRValidationError, match=f"{field} must lie in"):
        _node(**fields)


def test_teacher_channels_outside_the_input_are_refused() -> None:
    graph = _graph(2, 2, np.zeros((2, 2)))
    bad = DeployGraph(
        nodes={**graph.nodes, "syn": _node(np.zeros((2, 4)), teacher_offset=3)}, edges=graph.edges, output="out"
    )
    with pytest.raises(IRValidationError, match="teacher_offset 3"):
        run_reference(bad, np.zeros((1, 2, 4)))


# ------------------------------------------------------------------------------------------- kernel goldens


def test_integer_hebbian_adds_post_times_pre_each_step() -> None:
    """x0 * y0, t_epoch = 1: W = W0 (lowest bit dropped) + sum_t post_t pre_t^T, saturating at [-256, 255]."""
    rng = np.random.default_rng(1)
    w0 = rng.integers(-255, 256, (3, 5))
    w0[0, 0] = 251  # will saturate
    pre, post = rng.random((40, 5)) < 0.5, rng.random((40, 3)) < 0.5
    pre[:, 0], post[:, 0] = True, True
    learned = learn_from_spikes(_node(w0), pre, post)
    expected = (w0 >> 1) << 1
    for t in range(40):
        expected = np.clip(expected + np.outer(post[t], pre[t]), -256, 255)
        np.testing.assert_array_equal(learned[t], expected)
    assert learned[-1][0, 0] == 255


def test_hebbian_at_two_to_minus_three_rounds_with_lavas_seed_2_generator() -> None:
    """2^-3 * x0 * y0: each coincidence adds 16 / 128 = 0.125; W = floor + (r < 0.125), r the n-th draw of seed 2."""
    learned = learn_from_spikes(_node([[10]], dw="2^-3 * x0 * y0"), np.ones((30, 1)), np.ones((30, 1)))
    draws = np.random.default_rng(2).random(31)  # draw 0 on creation, draw n at the end of epoch n
    expected, w = [], 10
    for n in range(1, 31):
        w = w + (draws[n] < 0.125)
        expected.append(w)
    assert learned[:, 0, 0].tolist() == expected
    assert expected[-1] > 10  # the rounding did fire


def test_large_rates_saturate_the_product_and_the_weight() -> None:
    """7 * 2^8 * x0 * y0: 7 << 15 saturates at 2^15 - 1; (0 + 32767) / 128 = 255.99 -> 255 or 256 -> clipped 255."""
    learned = learn_from_spikes(_node([[0, 0]], dw="7*2^8*x0*y0"), np.array([[1, 0]]), np.array([[1]]))
    assert learned.tolist() == [[[255, 0]]]
    learned = learn_from_spikes(_node([[0]], dw="-8*2^8*x0*y0"), np.ones((2, 1)), np.ones((2, 1)))
    assert learned[:, 0, 0].tolist() == [-256, -256]  # -(2^15) - 1 per step, clipped at -256


def _decayed(value: int, tau: int, r: float) -> int:
    scaled = math.exp(-1 / tau) * value
    return math.floor(scaled) + (r < scaled % 1)


def test_pre_trace_decays_with_stochastic_rounding_and_is_read_at_the_post_spike() -> None:
    """y0 * x1, t_epoch 4, x1 impulse 64, tau 2: pre spike at step 1, teacher at step 3 -> W += x1(3).

    Within an epoch Lava decays every step with one random number, the x generator's draw 2 * t_end (seeded with
    rng_seed; draw 0 on creation, two per step).
    """
    seed = 7
    node = _node([[0]], dw="y0 * x1", x1_impulse=64, x1_tau=2, t_epoch=4, rng_seed=seed)
    pre, post = np.array([[1], [0], [0], [0]]), np.array([[0], [0], [1], [0]])
    r = np.random.default_rng(seed).random(9)[8]
    x1_at_2 = _decayed(64, 2, r)
    x1_at_3 = _decayed(x1_at_2, 2, r)
    assert learn_from_spikes(node, pre, post).tolist() == [[[x1_at_3]]]
    # tau = 0: the trace holds only the impulse of the step it spiked in
    node = _node([[0]], dw="y0 * x1", x1_impulse=64, x1_tau=0, t_epoch=4, rng_seed=seed)
    assert learn_from_spikes(node, pre, post).tolist() == [[[0]]]
    assert learn_from_spikes(node, pre, pre).tolist() == [[[64]]]


def test_a_second_spike_in_one_epoch_adds_its_impulse_to_the_epoch_start_value() -> None:
    """x0 * x1, tau 0 (no decay memory): spikes at steps 1 and 2 of a 2-step epoch.

    The second spike adds 30 to the start value at once (which tau = 0 then forgets) and moves tx to 2, where the
    history adds the impulse again: x1 read at tx = 2 is 30.
    """
    node = _node([[0]], dw="x0 * x1", x1_impulse=30, x1_tau=0, t_epoch=2)
    assert learn_from_spikes(node, np.ones((2, 1)), np.zeros((2, 1))).tolist() == [[[30]]]


def test_u_trigger_applies_every_2_to_the_k_epochs() -> None:
    """u1 fires in epochs whose index t / t_epoch is even: at steps 2 and 4 of t_epoch 1, not 1 and 3."""
    learned = learn_from_spikes(_node([[0]], dw="u1"), np.zeros((4, 1)), np.zeros((4, 1)))
    assert learned[:, 0, 0].tolist() == [0, 1, 1, 2]


# ------------------------------------------------------------------------------- the reference's plastic runs


def test_weights_updated_at_step_t_are_used_from_step_t_plus_1() -> None:
    """Pre spikes at steps 1 and 2, teacher at step 1, rate 2^6 (+64 per coincidence): the pre spike of step 1
    crosses with W = 0 (u = 0 at step 2), that of step 2 with W = 64 (u = 64 << 6 at step 3)."""
    graph = _graph(1, 1, [[0]], dw="2^6 * x0 * y0", vth=100_000)
    x = np.zeros((1, 4, 2), dtype=np.int64)
    x[0, 0] = [1, 1]
    x[0, 1, 0] = 1
    record = run_reference(graph, x)
    assert record.weights["syn"][:, 0, 0].tolist() == [64, 64, 64, 64]
    assert record.populations["out"].u[0, :, 0].tolist() == [0, 0, 64 << 6, 0]


def test_learning_carries_across_samples_and_epochs_count_global_steps() -> None:
    """Three samples of 5 steps, t_epoch 2: 7 epochs end at global steps 2, 4, ..., 14 (one spans a boundary)."""
    case = random_plastic_case(3, t_epoch=2, steps=5, samples=3)
    record = run_reference(case.graph, case.inputs)
    assert record.weights["syn"].shape[0] == 7
    syn = case.graph.nodes["syn"]
    pre_name = case.graph.source_of(syn).name
    pre = case.inputs.reshape(15, -1) if pre_name == "in" else record.populations[pre_name].spikes.reshape(15, -1)
    teacher = teacher_spikes(syn, case.inputs).reshape(15, -1)
    np.testing.assert_array_equal(learn_from_spikes(syn, pre, teacher), record.weights["syn"])
    # Lava runs it in chunks: (zero states first, steps, read weights after), cut at samples and epoch ends
    assert run_plan(case.graph, 3, 5) == [
        (False, 2, True), (False, 2, True), (False, 1, False), (True, 1, True), (False, 2, True), (False, 2, True),
        (True, 2, True), (False, 2, True), (False, 1, False),
    ]  # fmt: skip


@pytest.mark.parametrize("seed", range(10))
def test_random_plastic_runs_equal_the_learning_kernel_on_their_own_spikes(seed: int) -> None:
    """Property: the network run learns exactly what the kernel learns from the spikes the run produced."""
    case = random_plastic_case(seed)
    record = run_reference(case.graph, case.inputs)
    syn = case.graph.nodes["syn"]
    samples, steps = case.inputs.shape[:2]
    src = case.graph.source_of(syn).name
    pre = case.inputs if src == "in" else record.populations[src].spikes
    teacher = teacher_spikes(syn, case.inputs)
    learned = learn_from_spikes(syn, pre.reshape(samples * steps, -1), teacher.reshape(samples * steps, -1))
    np.testing.assert_array_equal(record.weights["syn"], learned)
    assert record.weights["syn"].shape == ((samples * steps) // syn.t_epoch, *syn.weights.shape)


def test_records_and_deploy_files_keep_plastic_nodes_and_learned_weights(tmp_path) -> None:
    case = random_plastic_case(5)
    save_deploy_graph(case.graph, tmp_path / "g.deploy.npz")
    loaded = load_deploy_graph(tmp_path / "g.deploy.npz")
    assert_graph_equal(case.graph, loaded)
    assert loaded.nodes["syn"].dw == case.graph.nodes["syn"].dw
    record = run_reference(loaded, case.inputs)
    save_record(record, tmp_path / "r.npz")
    again = load_record(tmp_path / "r.npz")
    assert list(again.weights) == ["syn"]
    np.testing.assert_array_equal(again.weights["syn"], record.weights["syn"])
    assert compare_runs(record, again).bit_exact


def test_compare_reports_the_first_differing_synapse() -> None:
    case = random_plastic_case(8, t_epoch=1, steps=6)
    record = run_reference(case.graph, case.inputs)
    changed = record.weights["syn"].copy()
    changed[2, 0, -1] += 1
    changed[3, 0, 0] += 1
    other = RunRecord(backend="lava", populations=record.populations, weights={"syn": changed})
    comparison = compare_runs(record, other)
    assert not comparison.bit_exact and comparison.weights_differing == 2
    summary = comparison.summary()
    assert f"learned weights: {changed.size} values compared" in summary
    width = changed.shape[2] - 1
    assert f"connection 'syn', epoch 2, row 0, column {width}: reference={changed[2, 0, -1] - 1} lava=" in summary
    with pytest.raises(RecordMismatchError, match="learned weights"):
        compare_runs(record, RunRecord(backend="lava", populations=record.populations))


# ------------------------------------------------------------------------------- adaptation and freezing


def test_adapt_then_freeze_gives_exactly_the_learned_weights() -> None:
    """Adapt on 4 shots with teacher spikes, then a frozen static graph delivers W_learned @ spikes exactly."""
    rng = np.random.default_rng(4)
    graph = _graph(4, 2, rng.integers(-9, 10, (2, 4)), dw="x0 * y0 - 2^-1 * x0", vth=100_000, t_epoch=5)
    shots = (rng.random((4, 5, 6)) < 0.5).astype(np.int64)
    teacher = (rng.random((4, 5, 2)) < 0.5).astype(np.int64)
    result = adapt_on_chip(graph, shots, teacher)
    assert result.per_epoch["syn"].shape == (4, 2, 6)
    learned = result.final["syn"]
    assert np.any(learned % 2)  # odd weights, which a plain mixed-sign Dense would truncate
    frozen = with_learned_weights(graph, result.final)
    assert frozen.nodes["syn"].kind == "dense_int"
    test = (rng.random((3, 4, 6)) < 0.5).astype(np.int64)
    u = run_reference(frozen, test).populations["out"].u  # du = 4095: u(t + 1) = (W @ s(t)) << 6
    np.testing.assert_array_equal(u[:, 1:], np.einsum("oi,sti->sto", learned, test[:, :-1]) << 6)
    assert np.array_equal(with_teacher(graph, shots, teacher)[..., 4:], teacher)
    with pytest.raises(IRValidationError, match="shape"):
        adapt_on_chip(graph, shots, teacher[:, :3])


def test_freezing_refuses_odd_weights_no_static_dense_holds() -> None:
    graph = _graph(2, 1, [[0, 0]])
    with pytest.raises(UnsupportedNodeError, match="no static Dense holds them exactly"):
        with_learned_weights(graph, {"syn": np.array([[201, -3, 0]])})


def test_learning_updates_are_counted_per_synapse_and_epoch() -> None:
    case = random_plastic_case(2, t_epoch=3, steps=6, samples=2)
    record = run_reference(case.graph, case.inputs)
    ops = count_ops(case.graph, case.inputs, record)
    syn = next(s for s in ops.synapses if s.name == "syn")
    assert syn.totals()["learning_updates"] == case.graph.nodes["syn"].weights.size * 4


# ------------------------------------------------------------------------------------------- the float rule


def test_float_rule_equals_the_integer_one_where_nothing_rounds() -> None:
    """Integer Hebbian, t_epoch 1, even initial weights, no saturation: float and integer weights are equal."""
    rng = np.random.default_rng(0)
    node = _node(2 * rng.integers(-50, 50, (3, 4)))
    pre, post = rng.random((20, 4)) < 0.5, rng.random((20, 3)) < 0.5
    np.testing.assert_array_equal(learn_float(node, pre, post), learn_from_spikes(node, pre, post))


def test_float_rule_measures_the_quantization_loss_of_a_trace_rule() -> None:
    """A trace rule: float and integer weights differ by the rounding only, a few units over 10 epochs."""
    rng = np.random.default_rng(1)
    node = _node(np.zeros((3, 4)), dw="2^-4*y0*x1 - 2^-5*x0*y1", x1_impulse=40, x1_tau=5, y1_impulse=40,
                 y1_tau=5, t_epoch=4, rng_seed=3)  # fmt: skip
    pre, post = rng.random((40, 4)) < 0.4, rng.random((40, 3)) < 0.4
    exact, chip = learn_float(node, pre, post), learn_from_spikes(node, pre, post)
    loss = np.abs(exact - chip)
    assert 0 < loss.max() < 5 and np.abs(exact).max() > 5
