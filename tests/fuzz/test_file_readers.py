"""Property-based fuzzing of every file reader: damaged bytes give a SpikeportError (one clear line at the CLI),
never another exception, and never a silently wrong object (except where the format has no checksum: JSON).

Readers: the deploy graph, run records, NIR graphs, and a run directory's data.npz, model.pt and JSON files.

Each reader gets a valid file that the test writes itself, then hypothesis truncates it, flips bytes in it, or
appends garbage. A reader may accept a damaged file only if what it returns equals the original (e.g. bytes
appended after a zip's end are ignored by the format).
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.graphs import two_layer
from spikeport.errors import SpikeportError
from spikeport.ir import assert_graph_equal, load_deploy_graph, save_deploy_graph
from spikeport.simulators import load_record, run_reference, save_record

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def damage(draw: st.DrawFn, original: bytes) -> bytes:
    """A damaged copy of `original`: truncated, with flipped bytes, or with garbage appended."""
    how = draw(st.sampled_from(["truncate", "flip", "append"]))
    if how == "truncate":
        return original[: draw(st.integers(0, len(original) - 1))]
    if how == "append":
        return original + draw(st.binary(min_size=1, max_size=64))
    data = bytearray(original)
    for position in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
        data[position] ^= draw(st.integers(1, 255))
    return bytes(data)


def _fuzz_reader(
    tmp_path: Path,
    original: bytes,
    read: Callable[[Path], object],
    equal: Callable[[object], bool],
    *,
    names_file: bool = True,
    names: str | None = None,
    settings_: settings = FUZZ,
) -> None:
    """Fuzz `read` on damaged copies of `original`; the error must name the file (`names`: the text it must
    contain, default the damaged file's name)."""

    numbers = itertools.count()

    @settings_
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        path = tmp_path / f"damaged-{next(numbers)}"  # a new name each time: HDF5 may keep a damaged file open
        path.write_bytes(data.draw(damage(original)))
        try:
            result = read(path)
        except SpikeportError as exc:
            expected = names or path.name
            assert not names_file or expected in str(exc), f"the error does not name {expected}: {exc}"
            return
        assert equal(result), "a damaged file was read as a different object without an error"

    check()


@pytest.fixture(scope="module")
def graph():
    return two_layer()


def test_deploy_graph_reader(tmp_path: Path, graph) -> None:
    original = save_deploy_graph(graph, tmp_path / "g.deploy.npz").read_bytes()

    def equal(loaded) -> bool:
        try:
            assert_graph_equal(loaded, graph)
        except AssertionError:
            return False
        return True

    _fuzz_reader(tmp_path, original, load_deploy_graph, equal)


def test_record_reader(tmp_path: Path, graph) -> None:
    inputs = np.random.default_rng(0).integers(0, 2, (2, 6, graph.input.size))
    record = run_reference(graph, inputs)
    save_record(record, tmp_path / "r.npz")
    original = (tmp_path / "r.npz").read_bytes()

    def equal(loaded) -> bool:
        return list(loaded.populations) == list(record.populations) and all(
            np.array_equal(loaded.populations[name].var(var), trace.var(var))
            for name, trace in record.populations.items()
            for var in ("spikes", "u", "v")
        )

    _fuzz_reader(tmp_path, original, load_record, equal)


def test_nir_reader_and_parser(tmp_path: Path) -> None:
    """Damaged NIR (HDF5) files: `read_nir` then `parse_nir` either give the original network or one clear error."""
    import warnings

    from helpers.nir_graphs import two_layer_graph
    from spikeport.errors import SpikeportWarning
    from spikeport.export import networks_close, parse_nir, read_nir, write_nir

    graph = two_layer_graph(np.random.default_rng(0), n_in=6, hidden=5, n_out=2)
    original = write_nir(graph, tmp_path / "g.nir").read_bytes()
    expected = parse_nir(read_nir(tmp_path / "g.nir"))

    def read(path: Path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SpikeportWarning)
            return parse_nir(read_nir(path))

    # Errors of the parser are about the graph's content (a node, an edge), which the CLI prefixes with the file.
    _fuzz_reader(tmp_path, original, read, lambda p: networks_close(p, expected, rtol=0.0), names_file=False)


# ---------------------------------------------------------------------------------------------------------------
# The run directory's own artifacts: data.npz, model.pt and the JSON files, read as the stages read them.
# Each damaged copy is recorded in the run's manifest first, so that the reader itself (not the manifest's hash
# check, which refuses any changed byte) has to notice the damage.


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run directory with a small data.npz, an untrained decoder's model.pt and a training.json."""
    from spikeport.files import write_json
    from spikeport.rundir import DATA_FILE, MODEL_FILE, TRAIN_FILE, open_run, save_data, save_model
    from spikeport.train.models import get_family

    run = tmp_path_factory.mktemp("fuzz_run")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (6, 5, 4)).astype(np.uint8)
    y = np.array([0, 1, 0, 1, 1, 0])
    save_data(run, {"x_train": x, "y_train": y, "x_test": x[:2], "y_test": y[:2]}, {"class_names": ["a", "b"]})
    family = get_family("decoder")
    save_model(run, family.name, family.build_model(family.config_type(n_inputs=4, n_hidden=3, n_classes=2), 0))
    write_json(run / TRAIN_FILE, {"model": "decoder", "epochs": 1, "float_test": {"accuracy": 0.5}})
    manifest = open_run(run)
    for name in (DATA_FILE, MODEL_FILE, TRAIN_FILE):
        manifest.record(name, "train")
    return run


def _recorded(run: Path, name: str, damaged: Path) -> None:
    """Put the damaged bytes in the run directory as artifact `name`, and record them in its manifest."""
    from spikeport.rundir import open_run

    (run / name).write_bytes(damaged.read_bytes())
    open_run(run).record(name, "train")


def test_data_reader(tmp_path: Path, run_dir: Path) -> None:
    from spikeport.rundir import load_data

    original = (run_dir / "data.npz").read_bytes()
    expected = load_data(run_dir)
    work = tmp_path / "run"
    shutil.copytree(run_dir, work)

    def read(path: Path):
        _recorded(work, "data.npz", path)
        return load_data(work)

    def equal(loaded) -> bool:
        return set(loaded) == set(expected) and all(
            loaded[key].dtype == expected[key].dtype and np.array_equal(loaded[key], expected[key]) for key in expected
        )

    _fuzz_reader(tmp_path, original, read, equal, names="data.npz")


def test_model_reader(tmp_path: Path, run_dir: Path) -> None:
    import torch

    from spikeport.rundir import load_model

    original = (run_dir / "model.pt").read_bytes()
    expected = load_model(run_dir)[1].state_dict()
    work = tmp_path / "run"
    shutil.copytree(run_dir, work)

    def read(path: Path):
        _recorded(work, "model.pt", path)
        return load_model(work)

    def equal(loaded) -> bool:
        state = loaded[1].state_dict()
        return set(state) == set(expected) and all(torch.equal(state[key], expected[key]) for key in expected)

    _fuzz_reader(tmp_path, original, read, equal, names="model.pt")


def test_json_reader(tmp_path: Path, run_dir: Path) -> None:
    """JSON has no checksum: a damaged file that still parses is a valid, different object, which only the
    manifest's hash can tell (see the next test). The reader must give a JSON object or one clear error."""
    from spikeport.rundir import read_json

    original = (run_dir / "training.json").read_bytes()
    _fuzz_reader(tmp_path, original, lambda path: read_json(path, "train"), lambda loaded: isinstance(loaded, dict))


@pytest.mark.parametrize("name", ["data.npz", "model.pt", "training.json"])
def test_a_damaged_artifact_never_passes_the_manifest(tmp_path: Path, run_dir: Path, name: str) -> None:
    """Read as the stages read them (manifest first), every damaged artifact is refused with its name."""
    from spikeport.rundir import require

    original = (run_dir / name).read_bytes()
    work = tmp_path / "run"
    shutil.copytree(run_dir, work)

    def read(path: Path):
        (work / name).write_bytes(path.read_bytes())
        return require(work, name)

    def unchanged(_) -> bool:  # two flips of one byte can cancel out
        return (work / name).read_bytes() == original

    few = settings(FUZZ, max_examples=20)
    _fuzz_reader(tmp_path, original, read, unchanged, names=name, settings_=few)


def test_a_nir_file_declaring_more_data_than_it_holds_is_refused_before_reading(tmp_path: Path) -> None:
    """A damaged header can declare a dataset of gigabytes in a file of kilobytes; h5py would allocate it all (a
    fuzz run once hung there). `read_nir` refuses it from the declared sizes, naming the dataset."""
    import h5py

    from helpers.nir_graphs import two_layer_graph
    from spikeport.errors import IRValidationError
    from spikeport.export import read_nir, write_nir

    path = write_nir(two_layer_graph(np.random.default_rng(0), n_in=6, hidden=5, n_out=2), tmp_path / "g.nir")
    with h5py.File(path, "a") as handle:  # chunked and never written: 8 GB declared, a few bytes stored
        handle.create_dataset("node/huge", shape=(2**30,), dtype="f8", chunks=(2**16,), compression="gzip")
    assert path.stat().st_size < 2**20
    with pytest.raises(IRValidationError, match=r"damaged: its datasets declare \d+ bytes.*'node/huge'"):
        read_nir(path)
