"""`spikeport report RUN --chip ...` end to end on a small demo run: every chip model, Loihi 2 without and with a
proxy, a user chip file, and an oversized layer's violation as one line on stderr with exit code 2."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from spikeport.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.lava]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """SYNTHETIC: the demo on its default synthetic data, shrunk."""
    out = tmp_path_factory.mktemp("report") / "run"
    args = ["demo", "--out", str(out), "--subjects", "2", "--trials-per-class", "6", "--epochs", "2"]
    assert main([*args, "--steps", "12", "--hidden", "16", "--no-progress"]) == 0
    return out


def _report(run_dir: Path) -> dict:
    return json.loads((run_dir / "report.json").read_text())


def test_report_lists_every_chip_model_with_sources(run_dir: Path, capsys) -> None:
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    report = _report(run_dir)
    assert report["schema_version"] == 3 and report["chip"] == "loihi"
    rows = {r["model"]: r for r in report["energy"]["models"]}
    assert rows["loihi"]["dynamic_pj"] == report["energy"]["dynamic_pj"] > 0
    assert rows["loihi"]["static_pj_real_time"] > 0 and rows["loihi"]["power_gated"] is not None
    assert {"spinnaker2", "truenorth", "speck", "xylo", "snn_cpu", "snn_gpu"} <= set(rows)
    assert "Davies et al." in out and "Horowitz" in out and "power-gated estimate" in out


def test_loihi2_exits_0_with_resources_ops_latency_and_energy_only_under_a_proxy(run_dir: Path, capsys) -> None:
    assert main(["report", str(run_dir), "--chip", "loihi2"]) == 0
    report = _report(run_dir)
    assert report["energy"]["dynamic_pj"] is None and report["mapping"]["cores_used"] >= 1
    assert report["latency"]["loihi2"]["real_time_s"] > 0 and report["counts"]["totals_per_inference"]
    assert "PROXY" not in capsys.readouterr().out.split("Energy per inference, side by side")[0]
    assert main(["report", str(run_dir), "--chip", "loihi2", "--energy-proxy", "loihi"]) == 0
    out = capsys.readouterr().out
    assert _report(run_dir)["energy"]["per_op_proxy"] is True and "PROXY" in out


def test_a_user_chip_file_too_small_names_the_violation(run_dir: Path, tmp_path: Path, capsys) -> None:
    text = resources.files("spikeport.targets.chips").joinpath("loihi.toml").read_text(encoding="utf-8")
    small = tmp_path / "small.toml"
    small.write_text(text.replace('value = 131072\nunit = "bytes"', 'value = 4\nunit = "bytes"'))
    assert main(["report", str(run_dir), "--chip", str(small)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "does not fit one core of Intel Loihi: synaptic memory needs" in err and "limit is 4 bytes per core" in err
