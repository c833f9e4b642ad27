"""The report's deployment blocks: every chip model side by side, Loihi 2 without energy unless a proxy is asked for
(then PROXY everywhere it is used), user chip files, and the run's step duration for real-time latency."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers.graphs import two_layer
from spikeport.errors import ChipCapacityError, EnergyModelError
from spikeport.ir import DeployGraph
from spikeport.simulators import run_reference
from spikeport.targets.chip import load_chip
from spikeport.targets.deploy_report import deployment_blocks
from spikeport.targets.energy_models import shipped_energy_models
from spikeport.targets.opcount import count_ops


@pytest.fixture(scope="module")
def run():
    """SYNTHETIC: a seeded random 2-layer graph and input spikes, run on the integer reference."""
    graph = two_layer(n_in=12, n_hidden=16, n_out=4, seed=3)
    x = (np.random.default_rng(7).random((4, 25, 12)) < 0.3).astype(np.int64)
    record = run_reference(graph, x)
    return graph, x, record, count_ops(graph, x, record)


def _blocks(run, **kw):
    graph, x, record, ops = run
    return deployment_blocks(graph, x, record, ops, **kw)


def test_every_model_is_side_by_side_with_sources_and_separated_terms(run) -> None:
    blocks, lines = _blocks(run, chip="loihi")
    energy = blocks["energy"]
    rows = {r["model"]: r for r in energy["models"]}
    assert set(rows) >= {"loihi", "loihi2", *shipped_energy_models("energy_model")}
    assert {"ann_twin_cmos45nm_fp32", "ann_twin_cmos45nm_int8", "snn_cpu", "snn_gpu"} <= set(rows)
    loihi = rows["loihi"]
    assert loihi["dynamic_pj"] == pytest.approx(energy["dynamic_pj"]) == pytest.approx(energy["selected"]["dynamic_pj"])
    assert loihi["dynamic_pj"] == pytest.approx(sum(t["energy_pj"] for t in loihi["dynamic_terms"]))
    assert loihi["static_power"]["value"] == 0.104 and loihi["power_gated"]["label"].startswith("estimate")
    assert loihi["static_pj_real_time"] == pytest.approx(0.104 * 25 * 1e-3 / 1e-12)  # dt from the graph: 1 ms
    for row in rows.values():
        for term in row["dynamic_terms"]:
            assert term["coefficient"]["source"] and term["energy_pj"] == term["count"] * term["coefficient"]["value"]
        assert not row["proxy"]
    assert rows["loihi2"]["dynamic_pj"] is None and "--energy-proxy loihi" in rows["loihi2"]["dynamic_unavailable"]
    assert rows["speck"]["dynamic_pj"] is None and rows["speck"]["static_pj_real_time"] > 0
    assert blocks["mapping"]["cores_used"] == 2 and blocks["latency"]["loihi"]["fastest_s"] > 0
    assert blocks["counts"]["layers"]["d1"]["per_inference"]["synops_fan_out"] > 0
    assert not any("PROXY " in line and "loihi " in line for line in lines[:3])
    assert any(line.startswith("  [") and "Davies" in line for line in lines)  # sources cited in the console
    json.dumps(blocks)  # JSON-ready


def test_loihi2_gives_resources_ops_and_latency_but_no_energy_without_a_proxy(run) -> None:
    blocks, lines = _blocks(run, chip="loihi2")
    energy = blocks["energy"]
    assert energy["chip"] == "loihi2" and energy["dynamic_pj"] is None and energy["selected"] is None
    assert blocks["mapping"]["cores_used"] == 2 and blocks["mapping"]["limits"]["neurons"]["basis"] == "derived"
    assert blocks["counts"]["totals_per_inference"]["synops_fan_out"] > 0
    lat = blocks["latency"]["loihi2"]
    assert lat["fastest_s"] is None and lat["real_time_s"] == pytest.approx(25e-3)
    assert any("Energy on Intel Loihi 2: not estimated" in line for line in lines)
    row = energy["models"][0]
    assert not row["proxy"] and row["dynamic_terms"] == [] and row["static_pj_real_time"] is None


def test_the_energy_proxy_is_labelled_everywhere_it_is_used(run) -> None:
    blocks, lines = _blocks(run, chip="loihi2", energy_proxy="loihi")
    energy = blocks["energy"]
    assert energy["per_op_proxy"] and energy["energy_proxy"] == "loihi"
    row = next(r for r in energy["models"] if r["model"] == "loihi2")
    assert row["proxy"] and all(t["coefficient"]["basis"] == "proxy" for t in row["dynamic_terms"])
    assert row["static_power"]["basis"] == "measured"  # Loihi 2's own static power stays its own
    assert energy["selected"]["notes"][0].startswith("PROXY")
    assert blocks["latency"]["loihi2"]["proxy"] and blocks["latency"]["loihi2"]["barrier"]["basis"] == "proxy"
    assert any("PROXY" in line for line in lines if line.startswith("Latency"))
    assert any(line.startswith("  loihi2") and "PROXY" in line for line in lines)
    loihi = next(r for r in energy["models"] if r["model"] == "loihi")
    assert not loihi["proxy"]  # a chip with its own figures never borrows


def test_a_proxy_without_figures_is_refused(run) -> None:
    with pytest.raises(EnergyModelError, match=r"--energy-proxy loihi2: that chip has no per-operation figures"):
        _blocks(run, chip="loihi", energy_proxy="loihi2")


def test_a_user_chip_file_maps_with_its_limits_or_names_the_violation(run, tmp_path) -> None:
    from importlib import resources

    text = resources.files("spikeport.targets.chips").joinpath("loihi.toml").read_text(encoding="utf-8")
    path = tmp_path / "tiny.toml"
    path.write_text(text.replace('value = 1024\nunit = "compartments"', 'value = 4\nunit = "compartments"'))
    blocks, lines = _blocks(run, chip=str(path))
    assert blocks["mapping"]["chip"] == str(path) and blocks["mapping"]["layers"]["h"]["cores"] == 4
    assert blocks["energy"]["models"][0]["model"] == str(path) and lines[0].startswith("Mapping on Intel Loihi")
    path.write_text(text.replace('value = 4096\nunit = "axons"', 'value = 8\nunit = "axons"', 1))
    with pytest.raises(ChipCapacityError, match=r"layer 'h' .*input axons needs 12 axons .*limit is 8 axons"):
        _blocks(run, chip=str(path))


def test_real_time_uses_the_graphs_step_seconds(run) -> None:
    graph, x, record, ops = run
    graph = DeployGraph(nodes=graph.nodes, edges=graph.edges, output=graph.output,
                        metadata={**graph.metadata, "step_seconds": 0.025})  # fmt: skip
    blocks, _ = deployment_blocks(graph, x, record, ops, chip="loihi")
    lat = blocks["latency"]["loihi"]
    assert (
        lat["real_time_s"] == pytest.approx(25 * 0.025) and lat["step_s_from"] == "deploy graph metadata step_seconds"
    )
    assert load_chip("loihi").label == "loihi"
