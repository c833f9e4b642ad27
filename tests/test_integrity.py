"""Run integrity: the manifest refuses missing, foreign, changed and stale artifacts, naming the stage to re-run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from spikeport.errors import StaleArtifactError
from spikeport.integrity import MANIFEST_FILE, RunManifest


def _make(run: Path, name: str, content: str, stage: str, inputs: tuple[str, ...] = ()) -> None:
    (run / name).write_text(content)
    RunManifest(run).record(name, stage, inputs=inputs, seed=0)


@pytest.fixture
def run(tmp_path: Path) -> Path:
    _make(tmp_path, "data.npz", "data v1", "train")
    _make(tmp_path, "model.nir", "graph v1", "export", ("data.npz",))
    _make(tmp_path, "record_lava.npz", "lava record", "simulate --backend lava", ("model.nir", "data.npz"))
    _make(tmp_path, "record_reference.npz", "reference record", "simulate --backend reference", ("model.nir",))
    return tmp_path


def test_a_consistent_run_passes_and_the_manifest_has_no_timestamps(run: Path) -> None:
    assert RunManifest(run).require("record_lava.npz", "simulate --backend lava") == run / "record_lava.npz"
    entry = json.loads((run / MANIFEST_FILE).read_text())["artifacts"]["record_lava.npz"]
    assert set(entry) == {"stage", "sha256", "inputs", "command", "seed", "versions"}
    assert set(entry["inputs"]) == {"model.nir", "data.npz"}
    assert {"spikeport", "torch", "lava-nc", "nir", "numpy"} <= set(entry["versions"])


def test_missing_artifact_names_the_stage(run: Path) -> None:
    (run / "model.nir").unlink()
    with pytest.raises(StaleArtifactError, match=r"model.nir not found; run `spikeport export`"):
        RunManifest(run).require("model.nir", "export")


def test_a_record_copied_over_another_is_refused(run: Path) -> None:
    shutil.copy(run / "record_reference.npz", run / "record_lava.npz")
    with pytest.raises(StaleArtifactError, match=r"record_lava.npz changed after `spikeport simulate --backend lava`"):
        RunManifest(run).require("record_lava.npz", "simulate --backend lava")


def test_foreign_artifact_is_refused(run: Path) -> None:
    (run / "quantization.json").write_text("{}")
    with pytest.raises(StaleArtifactError, match=r"quantization.json is not recorded .* re-run `spikeport quantize`"):
        RunManifest(run).require("quantization.json", "quantize")


def test_re_running_an_upstream_stage_makes_everything_downstream_stale(run: Path) -> None:
    _make(run, "data.npz", "data v2 (another seed)", "train")
    with pytest.raises(StaleArtifactError, match=r"model.nir was made from an older data.npz .* `spikeport export`"):
        RunManifest(run).require("record_reference.npz", "simulate --backend reference")


def test_corrupt_manifest_is_one_clear_error(run: Path) -> None:
    (run / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(StaleArtifactError, match=r"manifest.json is unreadable .* delete it"):
        RunManifest(run)


def test_a_malformed_entry_makes_the_manifest_unreadable_not_a_traceback(run: Path) -> None:
    payload = json.loads((run / MANIFEST_FILE).read_text())
    payload["artifacts"]["model.nir"]["inputs"] = ["data.npz"]
    (run / MANIFEST_FILE).write_text(json.dumps(payload))
    with pytest.raises(StaleArtifactError, match=r"manifest.json is unreadable .*'model.nir' has a malformed inputs"):
        RunManifest(run)


def test_the_message_names_the_most_upstream_stage_to_re_run(run: Path) -> None:
    _make(run, "data.npz", "data v2", "train")
    _make(run, "model.nir", "graph v2, from data v2", "export", ("data.npz",))
    _make(run, "data.npz", "data v3", "train")
    # record_lava is stale twice over (older model.nir, older data.npz); model.nir must be re-made first.
    with pytest.raises(StaleArtifactError, match=r"model.nir was made from an older data.npz .* `spikeport export`"):
        RunManifest(run).require("record_lava.npz", "simulate --backend lava")


def test_managers_of_one_run_directory_keep_each_other_s_entries(run: Path) -> None:
    first, second = RunManifest(run), RunManifest(run)  # e.g. both simulate backends at once
    (run / "record_lava.npz").write_text("lava record v2")
    (run / "record_reference.npz").write_text("reference record v2")
    first.record("record_lava.npz", "simulate --backend lava", inputs=("model.nir", "data.npz"))
    second.record("record_reference.npz", "simulate --backend reference", inputs=("model.nir",))
    fresh = RunManifest(run)
    fresh.require("record_lava.npz", "simulate --backend lava")
    fresh.require("record_reference.npz", "simulate --backend reference")


def test_an_input_re_made_while_a_stage_ran_leaves_its_output_stale(run: Path) -> None:
    stage = RunManifest(run)
    stage.require("model.nir", "export")  # the stage reads model.nir ...
    _make(run, "model.nir", "graph v2", "export", ("data.npz",))  # ... another process re-exports meanwhile ...
    (run / "record_reference.npz").write_text("made from graph v1")
    stage.record("record_reference.npz", "simulate --backend reference", inputs=("model.nir",))  # ... then it writes
    with pytest.raises(StaleArtifactError, match=r"record_reference.npz was made from an older model.nir"):
        RunManifest(run).require("record_reference.npz", "simulate --backend reference")


def test_an_unrecorded_input_names_the_stage_that_makes_it(run: Path) -> None:
    from spikeport.rundir import stage_of

    payload = json.loads((run / MANIFEST_FILE).read_text())
    del payload["artifacts"]["model.nir"]
    (run / MANIFEST_FILE).write_text(json.dumps(payload))
    with pytest.raises(StaleArtifactError, match=r"model.nir is not recorded .* re-run `spikeport export`"):
        RunManifest(run, stage_of=stage_of).require("record_lava.npz", "simulate --backend lava")
    assert stage_of("record_lava.npz") == "simulate --backend lava" and stage_of("model.deploy.npz") == "quantize"
