"""Grouping a multi-timescale population by quantized decay, with hand-derived expectations.

Decays are written as registers: beta = (du + 1) / 4096 and alpha = dv / 4096, so the rounding is exact and every
expected group, merge and error below follows from the rules in `spikeport.targets.decay_groups`.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest

from spikeport.errors import QuantizationRangeError
from spikeport.export import parse_nir
from spikeport.ir import LIFInt
from spikeport.ir.formats import LOIHI_FORMATS
from spikeport.targets.decay_groups import DEFAULT_MAX_GROUPS, group_decays
from spikeport.targets.quantize import quantize

F = LOIHI_FORMATS


def _decays(du: list[int], dv: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return (np.array(du) + 1) / 4096, np.array(dv) / 4096


def test_equal_registers_form_one_group_each_in_order_of_first_neuron() -> None:
    beta, alpha = _decays([1023, 99, 1023, 4095, 99, 1023], [2048, 10, 2048, 0, 10, 2048])
    g = group_decays(beta, alpha, F)
    assert g.labels.tolist() == [0, 1, 0, 2, 1, 0]
    assert [(r.du, r.dv, r.size) for r in g.groups] == [(1023, 2048, 3), (99, 10, 2), (4095, 0, 1)]
    assert g.du.tolist() == [1023, 99, 1023, 4095, 99, 1023] and g.merged == 0
    assert all(r.max_decay_u_error == 0 and r.max_decay_v_error == 0 for r in g.groups)


def test_decays_that_round_to_one_register_share_a_group() -> None:
    # 0.25 + 0.3/4096 rounds to du 1023 like 0.25; 0.25 + 0.6/4096 rounds to 1024
    beta = np.array([0.25, 0.25 + 0.3 / 4096, 0.25 + 0.6 / 4096])
    g = group_decays(beta, np.full(3, 0.5), F)
    assert g.labels.tolist() == [0, 0, 1] and g.du.tolist() == [1023, 1023, 1024] and g.dv.tolist() == [2048] * 3
    assert g.groups[0].max_decay_u_error == pytest.approx(0.3 / 4096)


def test_beyond_max_groups_the_closest_groups_merge_into_their_mean_decay() -> None:
    # registers du 999, 1009, 2999, 3019 (dv 100): distances 10 (0-1) and 20 (2-3); with 2 groups allowed, 0 and 1
    # merge first, to round(4096 * mean(1000, 1010)/4096) - 1 = 1004, then 2 and 3, to 3010 - 1 = 3009
    beta, alpha = _decays([999, 1009, 2999, 3019], [100] * 4)
    g = group_decays(beta, alpha, F, max_groups=2)
    assert g.labels.tolist() == [0, 0, 1, 1]
    assert g.du.tolist() == [1004, 1004, 3009, 3009] and g.dv.tolist() == [100] * 4
    assert g.merged == 2
    assert g.groups[0].max_decay_u_error == pytest.approx(5 / 4096)
    assert g.groups[1].max_decay_u_error == pytest.approx(10 / 4096)
    # with 3 groups allowed only the closest pair merges
    g3 = group_decays(beta, alpha, F, max_groups=3)
    assert g3.labels.tolist() == [0, 0, 1, 2] and g3.du.tolist() == [1004, 1004, 2999, 3019] and g3.merged == 1


def test_merge_distance_is_chebyshev_over_both_registers_and_ties_go_to_the_first_pair() -> None:
    # neuron order: (1019, 0), (999, 0), (1009, 0), (1009, 500); distances: 0-1 20, 0-2 10, 1-2 10, 2-3 500, ...
    # the closest pairs (0, 2) and (1, 2) tie at 10: (0, 2) comes first, merging to du = 1015 - 1 = 1014 (mean of
    # 1020 and 1010); then (1014, 0) vs (999, 0) is 15 and vs (1009, 500) is 500: those two merge next
    beta, alpha = _decays([1019, 999, 1009, 1009], [0, 0, 0, 500])
    g = group_decays(beta, alpha, F, max_groups=3)
    assert g.labels.tolist() == [0, 1, 0, 2] and g.du.tolist() == [1014, 999, 1014, 1009]
    g2 = group_decays(beta, alpha, F, max_groups=2)
    # mean of 1020, 1000 and 1010: du 1009, dv 0
    assert g2.labels.tolist() == [0, 0, 0, 1] and g2.du.tolist() == [1009, 1009, 1009, 1009]
    assert g2.dv.tolist() == [0, 0, 0, 500] and g2.merged == 2


def test_default_bound_and_bad_bound() -> None:
    assert DEFAULT_MAX_GROUPS == 16
    beta = (np.arange(40) * 100 + 1) / 4096  # 40 distinct registers
    g = group_decays(beta, np.full(40, 0.1), F)
    assert len(g.groups) == 16 and g.merged == 24 and sorted(set(g.labels.tolist())) == list(range(16))
    with pytest.raises(QuantizationRangeError, match="max_decay_groups"):
        group_decays(beta, np.full(40, 0.1), F, max_groups=0, name="lif")


def _graph(tau_mem: np.ndarray, dt: float = 1e-3) -> nir.NIRGraph:
    n = tau_mem.size
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([3])}),
            "fc": nir.Linear(weight=np.random.default_rng(0).normal(0, 2.0, (n, 3))),
            "lif": nir.CubaLIF(
                tau_syn=np.full(n, dt),
                tau_mem=tau_mem,
                r=np.ones(n),
                v_leak=np.zeros(n),
                v_threshold=np.ones(n),
                v_reset=np.zeros(n),
                w_in=np.ones(n),
            ),
            "output": nir.Output(output_type={"output": np.array([n])}),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")],
        metadata={"dt": dt},
    )


def test_quantize_stores_per_neuron_decays_and_reports_the_groups() -> None:
    # alpha = dt / tau_mem = 1/2, 1/4, 1/8, 1/2: dv 2048, 1024, 512, 2048 exactly; tau_syn = dt: du 4095
    net = parse_nir(_graph(np.array([2e-3, 4e-3, 8e-3, 2e-3])))
    x = (np.random.default_rng(1).random((2, 20, 3)) < 0.5).astype(np.int64)
    graph, report = quantize(net, calibration_inputs=x)
    lif = graph.nodes["lif"]
    assert isinstance(lif, LIFInt) and lif.du == 4095 and lif.dv.tolist() == [2048, 1024, 512, 2048]
    assert [(g.dv, g.neurons.tolist()) for g in lif.decay_groups()] == [(2048, [0, 3]), (1024, [1]), (512, [2])]
    pop = report.populations[0]
    assert pop.du == (4095, 4095, 4095) and pop.dv == (2048, 1024, 512)
    assert [g["size"] for g in pop.decay_groups] == [2, 1, 1] and pop.decay_groups_merged == 0
    assert pop.decay_v_error == 0 and pop.grouping_agreement == 1.0  # exact registers: grouping costs nothing
    assert "3 decay groups" in "\n".join(report.summary_lines())


def test_quantize_bound_merges_and_reports_the_loss() -> None:
    net = parse_nir(_graph(np.array([2e-3, 4e-3, 8e-3, 2e-3])))
    x = (np.random.default_rng(1).random((4, 30, 3)) < 0.5).astype(np.int64)
    graph, report = quantize(net, calibration_inputs=x, max_decay_groups=2)
    # dv 1024 and 512 are closest (512 apart): they merge to round(4096 * (1/4 + 1/8) / 2) = 768
    assert graph.nodes["lif"].dv.tolist() == [2048, 768, 768, 2048]
    pop = report.populations[0]
    assert pop.decay_groups_merged == 1 and pop.decay_v_error == pytest.approx(256 / 4096)
    assert 0.0 < pop.grouping_agreement < 1.0  # merging changes some float spikes on these inputs
    graph1, report1 = quantize(net, calibration_inputs=x, max_decay_groups=1)
    assert graph1.nodes["lif"].dv == round(4096 * (1 / 2 + 1 / 4 + 1 / 8 + 1 / 2) / 4)  # one process: an int
    assert report1.populations[0].decay_groups_merged == 2


def test_float_network_round_trips_per_neuron_decays_through_nir(tmp_path) -> None:
    from spikeport.export import network_to_nir

    net = parse_nir(_graph(np.array([2e-3, 4e-3, 8e-3, 3e-3])))
    back = parse_nir(network_to_nir(net))
    np.testing.assert_allclose(back.populations["lif"].alpha, [1 / 2, 1 / 4, 1 / 8, 1 / 3], rtol=1e-12)
    np.testing.assert_allclose(back.populations["lif"].beta, net.populations["lif"].beta, rtol=1e-12)


def test_netx_export_refuses_per_neuron_decays(tmp_path) -> None:
    from spikeport.errors import UnsupportedNodeError
    from spikeport.export.netx import write_netx
    from spikeport.ir import DenseInt, DeployGraph, SpikeInput

    def graph(dv) -> DeployGraph:
        nodes = {
            "in": SpikeInput(name="in", size=2),
            "fc": DenseInt(name="fc", weights=np.array([[2, 4], [6, 8]])),
            "lif": LIFInt(name="lif", size=2, du=4095, dv=dv, vth=10),
        }
        return DeployGraph(nodes=nodes, edges=(("in", "fc"), ("fc", "lif")), output="lif")

    with pytest.raises(UnsupportedNodeError, match="'lif' has per-neuron decays"):
        write_netx(graph(np.array([100, 200])), tmp_path / "net.h5")
    write_netx(graph(100), tmp_path / "one.h5")


def test_grouped_population_keeps_its_name_in_files_records_and_op_counts(tmp_path) -> None:
    """One deploy-graph node per population whatever its groups: the deploy file, the reference record and the op
    counter all see `lif` with its per-neuron registers and its neurons in the original order."""
    from spikeport.ir import load_deploy_graph, save_deploy_graph
    from spikeport.simulators.reference import run_reference
    from spikeport.targets.opcount import count_ops

    net = parse_nir(_graph(np.array([2e-3, 4e-3, 8e-3, 2e-3])))
    x = (np.random.default_rng(1).random((2, 20, 3)) < 0.5).astype(np.int64)
    graph, _ = quantize(net, calibration_inputs=x)
    loaded = load_deploy_graph(save_deploy_graph(graph, tmp_path / "g.deploy.npz"))
    assert loaded.nodes["lif"].dv.tolist() == [2048, 1024, 512, 2048] and loaded.nodes["lif"].du == 4095
    record = run_reference(loaded, x)
    assert list(record.populations) == ["lif"] and record.populations["lif"].v.shape == (2, 20, 4)
    ops = count_ops(loaded, x, record)
    assert [p.name for p in ops.populations] == ["lif"]


def test_lif_node_checks_per_neuron_decays_naming_the_field() -> None:
    from spikeport.errors import IRValidationError

    with pytest.raises(IRValidationError, match=r"'z': du must be an int or have shape \(2,\), got \(3,\)"):
        LIFInt(name="z", size=2, du=np.zeros(3, dtype=int), dv=1, vth=1)
    with pytest.raises(IRValidationError, match=r"'z': dv must lie in \[0, 4096\], got \[1, 5000\]"):
        LIFInt(name="z", size=2, du=1, dv=np.array([5000, 1]), vth=1)
    uniform = LIFInt(name="u", size=3, du=np.array([7, 7, 7]), dv=np.array([1, 2, 1]), vth=1)
    assert uniform.du == 7 and isinstance(uniform.du, int) and uniform.dv.tolist() == [1, 2, 1]
    assert [(g.du, g.dv, g.neurons.tolist()) for g in uniform.decay_groups()] == [(7, 1, [0, 2]), (7, 2, [1])]
