"""Every tutorial of the documentation site runs to its end, as `python docs/tutorials/NAME.py` run from the
repository root.

The tutorials assert what they claim (bit-exact Lava runs, equal learned weights, sums that add up) and print a last
line "tutorial complete: ..." only after all of it; a test here sees that line and the exit code. They train small
models and start Lava, so they are slow (minutes each on two cores): `make test-slow` and CI run them.
"""

from __future__ import annotations

import re

import pytest
from doc_scripts import ROOT, SHARED_DATA, explain, run_script

TUTORIALS = ROOT / "docs" / "tutorials"
DONE = "tutorial complete:"
# One entry per tutorial script (those starting with "_" are build helpers of the site): a new tutorial must be
# added here, so that CI executes it (test_every_tutorial_is_executed).
GENERAL = ("nir_to_lava", "intracortical_velocity", "energy_report")
NEEDS_EEG_DATA = ("eeg_few_shot",)


def tutorial_scripts() -> set[str]:
    return {p.stem for p in TUTORIALS.glob("*.py") if not p.name.startswith("_")}


def test_every_tutorial_is_executed_and_in_the_site_navigation():
    assert tutorial_scripts() == {*GENERAL, *NEEDS_EEG_DATA}
    nav = (ROOT / "mkdocs.yml").read_text()
    for name in tutorial_scripts():
        assert f"tutorials/{name}.md" in nav, f"{name} is not in mkdocs.yml's nav"
        assert DONE in (TUTORIALS / f"{name}.py").read_text(), f"{name} prints no '{DONE}' line"


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.parametrize("name", GENERAL)
def test_tutorial_runs_to_the_end(name, tmp_path):
    done = run_script(TUTORIALS / f"{name}.py", tmp_path)
    assert done.returncode == 0, explain(done)
    assert done.stdout.rstrip().splitlines()[-1].startswith(DONE), explain(done)


def test_eeg_tutorial_stops_with_a_clear_message_without_the_recordings(tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    done = run_script(TUTORIALS / "eeg_few_shot.py", tmp_path, env={"EEGMMIDB_DIR": str(empty)})
    assert done.returncode == 0, explain(done)
    assert re.search(r"SKIPPED: no EEGMMIDB recordings in .*no-data .*set EEGMMIDB_DIR", done.stdout), explain(done)
    assert DONE not in done.stdout
    assert not (tmp_path / "eeg").exists()  # nothing was started


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.data
def test_eeg_tutorial_calibrates_a_recorded_subject_bit_exact_on_lava(tmp_path):
    if not (SHARED_DATA / "MNE-eegbci-data").is_dir():
        pytest.skip(f"real EEGMMIDB recordings not found in {SHARED_DATA}")
    done = run_script(TUTORIALS / "eeg_few_shot.py", tmp_path, env={"EEGMMIDB_DIR": str(SHARED_DATA)})
    assert done.returncode == 0, explain(done)
    assert done.stdout.rstrip().splitlines()[-1].startswith(DONE), explain(done)
    assert "reference vs lava: memory weights equal after every one of" in done.stdout
