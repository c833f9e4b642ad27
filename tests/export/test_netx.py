"""`spikeport export --to netx`: the deploy graph in lava-dl's netx HDF5 layout, checked field by field and run
through lava-dl's own loader on Lava's CPU backend, bit-exact against spikeport's integer reference.

lava-dl 0.6.0 installs next to our pins only with `--no-deps --ignore-requires-python`, and its `slayer` package
imports an object-detection module that needs torchvision and OpenCV, which have no build for torch 2.13.
`netx.hdf5` uses only `slayer.neuron.rf` from it, so `_import_netx` imports the `slayer` package without running
its `__init__` (a package object whose path is slayer's own folder): every module that runs is lava-dl's own code.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import h5py
import numpy as np
import pytest

from spikeport.errors import UnsupportedNodeError
from spikeport.export.netx import NETX_WEIGHT_RANGE, netx_weights, write_netx
from spikeport.ir import DenseInt, DeployGraph, LIFInt, SpikeInput
from spikeport.ir.formats import LOIHI_FORMATS, SignMode
from spikeport.simulators import run_reference


def chain(seed: int = 0, *, fc_exp: int = 0, out_exp: int = -1, delays: bool = False) -> DeployGraph:
    """input(6) -> Dense(exp fc_exp) -> LIF(5, bias) -> Dense(exp out_exp, even mantissas) -> LIF(3)."""
    rng = np.random.default_rng(seed)
    return DeployGraph(
        nodes={
            "in": SpikeInput(name="in", size=6),
            "fc": DenseInt(name="fc", weights=2 * rng.integers(-60, 60, (5, 6)), weight_exp=fc_exp,
                           delays=rng.integers(0, 3, (5, 6)) if delays else None),
            "hid": LIFInt(name="hid", size=5, du=700, dv=300, vth=90, bias_mant=rng.integers(-20, 20, 5), bias_exp=6),
            "out": DenseInt(name="out", weights=2 * rng.integers(-127, 128, (3, 5)), weight_exp=out_exp),
            "ro": LIFInt(name="ro", size=3, du=800, dv=200, vth=2**17 - 1),
        },
        edges=[("in", "fc"), ("fc", "hid"), ("hid", "out"), ("out", "ro")],
        output="ro",
    )  # fmt: skip


def test_layout_field_by_field(tmp_path: Path) -> None:
    graph = chain()
    path = write_netx(graph, tmp_path / "net.h5")
    with h5py.File(path, "r") as f:
        layers = f["layer"]
        assert sorted(layers) == ["0", "1", "2"]
        assert layers["0/type"][0] == b"input" and list(layers["0/shape"][()]) == [6]
        for key, conn, pop in (
            ("1", graph.nodes["fc"], graph.nodes["hid"]),
            ("2", graph.nodes["out"], graph.nodes["ro"]),
        ):
            layer = layers[key]
            assert layer["type"][0] == b"dense"
            assert list(layer["shape"][()]) == [pop.size]
            effective = LOIHI_FORMATS.effective_weights(conn.weights, conn.num_weight_bits)
            assert np.array_equal(layer["weight"][()], effective * 2**conn.weight_exp if conn.weight_exp >= 0
                                  else effective // 2**-conn.weight_exp)  # fmt: skip
            neuron = layer["neuron"]
            assert neuron["type"][0] == b"CUBA"
            assert (neuron["iDecay"][()], neuron["vDecay"][()], neuron["vThMant"][()]) == (pop.du + 1, pop.dv, pop.vth)
            assert neuron["refDelay"][()] == 1 and not neuron["gradedSpike"][()]
        assert np.array_equal(layers["1/bias"][()], graph.nodes["hid"].bias_mant)  # bias_exp 6 = netx's
        assert "bias" not in layers["2"]  # all-zero bias is left out
    assert path.read_bytes() == write_netx(graph, tmp_path / "again.h5").read_bytes()  # no timestamps


def test_delays_are_written(tmp_path: Path) -> None:
    graph = chain(delays=True)
    with h5py.File(write_netx(graph, tmp_path / "net.h5"), "r") as f:
        assert np.array_equal(f["layer/1/delay"][()], graph.nodes["fc"].delays)


@pytest.mark.parametrize(
    ("graph", "needle"),
    [
        (chain(fc_exp=2), "connection 'fc' (weight_exp 2"),  # 4 x mantissa beyond netx's 8-bit range
        (chain(out_exp=-3), "connection 'out' (weight_exp -3"),  # mantissa / 8 is not an integer
    ],
)
def test_unrepresentable_weights_name_the_connection(tmp_path: Path, graph: DeployGraph, needle: str) -> None:
    with pytest.raises(UnsupportedNodeError, match=needle.replace("(", r"\(")):
        write_netx(graph, tmp_path / "net.h5")
    assert not (tmp_path / "net.h5").exists()


def test_non_chain_and_unsupported_kinds_are_refused(tmp_path: Path) -> None:
    from helpers.graphs import one_layer

    with pytest.raises(UnsupportedNodeError, match="ternary"):
        write_netx(one_layer([[2, 4]], kind="ternary", vth_lo=-5), tmp_path / "t.h5")
    with pytest.raises(UnsupportedNodeError, match="reset"):
        write_netx(one_layer([[2, 4]], kind="reset", reset_interval=4), tmp_path / "t.h5")
    g = chain()
    recurrent = DeployGraph(
        nodes={**g.nodes, "rec": DenseInt(name="rec", weights=np.zeros((5, 5), dtype=np.int64))},
        edges=[*g.edges, ("hid", "rec"), ("rec", "hid")],
        output="ro",
    )
    with pytest.raises(UnsupportedNodeError, match="chain"):
        write_netx(recurrent, tmp_path / "r.h5")


def _import_netx():
    """lava-dl's netx (see the module docstring for the slayer import), or skip saying why."""
    try:
        found = importlib.util.find_spec("lava.lib.dl.netx") is not None
    except ModuleNotFoundError:  # lava or lava.lib itself is missing
        found = False
    if not found:
        pytest.skip("lava-dl is not installed (pip install --no-deps --ignore-requires-python lava-dl==0.6.0)")
    from spikeport.simulators.lava import import_lava

    import_lava()
    if "lava.lib.dl.slayer" not in sys.modules:
        spec = importlib.util.find_spec("lava.lib.dl.slayer")
        package = types.ModuleType("lava.lib.dl.slayer")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["lava.lib.dl.slayer"] = package
    from lava.lib.dl import netx

    return netx


@pytest.mark.lava
def test_weights_survive_lava_dl_reencoding() -> None:
    """lava-dl re-derives precision and exponent from the stored integers; Lava's Dense must then use them exactly."""
    netx = _import_netx()
    rng = np.random.default_rng(1)
    checked = 0
    for trial in range(600):
        mode = SignMode.EXCITATORY if trial % 2 else SignMode.MIXED
        low, high = NETX_WEIGHT_RANGE[mode]
        top = int(rng.choice([1, 3, 64, 100, 127, 128, 200, high]))
        w = rng.integers(max(low, -top - 1), top + 1, (4, 5)) * (rng.random((4, 5)) < 0.7)
        w[0, 0] = max(w[0, 0], 1)
        if mode is SignMode.MIXED:
            w[0, 1] = min(w[0, 1], -1)
            w = w // 2 * 2 if (w.max() > 127 or w.min() < -128) else w  # the documented condition
            w[0, 0], w[0, 1] = max(w[0, 0], 2), min(w[0, 1], -2)
        node = DenseInt(name="d", weights=w)
        stored = netx_weights(node, chain())  # accepted: exponent 0, so stored == what Lava uses
        mantissa, bits, exp, _ = netx.utils.optimize_weight_bits(stored.copy())
        assert np.array_equal(LOIHI_FORMATS.effective_weights(mantissa, bits) * 2.0**exp, stored), (mode, w)
        checked += 1
    assert checked == 600


def _run_netx(netx, path: Path, spikes: np.ndarray) -> dict[str, np.ndarray]:
    """Run a netx file on Lava fixed_pt for one sample (steps, n_in); spikes, u, v of each layer (steps, n)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    net = netx.hdf5.Network(net_config=str(path))
    steps = spikes.shape[0]
    source = Source(data=spikes.T.astype(np.int32))
    source.s_out.connect(net.inp)
    sinks = []
    for layer in net.layers:
        sinks.append(Sink(shape=layer.out.shape, buffer=steps))
        layer.out.connect(sinks[-1].a_in)
    u, v = [], []
    try:
        for _ in range(steps):
            net.run(condition=RunSteps(num_steps=1), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
            u.append([layer.neuron.u.get().astype(np.int64) for layer in net.layers])
            v.append([layer.neuron.v.get().astype(np.int64) for layer in net.layers])
        fired = [sink.data.get().T.astype(np.int64) for sink in sinks]
    finally:
        net.stop()
    return {
        "spikes": fired,
        "u": [np.stack([s[i] for s in u]) for i in range(len(net.layers))],
        "v": [np.stack([s[i] for s in v]) for i in range(len(net.layers))],
    }


def _assert_bit_exact(netx, graph: DeployGraph, path: Path, steps: int, seed: int) -> None:
    spikes = (np.random.default_rng(seed).random((1, steps, graph.input.size)) < 0.4).astype(np.int64)
    reference = run_reference(graph, spikes)
    lava = _run_netx(netx, path, spikes[0])
    active = 0
    for i, pop in enumerate(graph.populations):
        trace = reference.populations[pop.name]
        assert np.array_equal(lava["u"][i], trace.u[0]), f"u of {pop.name}"
        assert np.array_equal(lava["v"][i], trace.v[0]), f"v of {pop.name}"
        assert np.array_equal(lava["spikes"][i], trace.spikes[0]), f"spikes of {pop.name}"
        active += int(np.abs(trace.v[0]).sum() > 0)
    assert active == len(graph.populations)  # every layer did something, so equality is not vacuous


@pytest.mark.lava
def test_netx_file_runs_bit_exact_on_lava(tmp_path: Path) -> None:
    netx = _import_netx()
    graph = chain(seed=3, delays=True)
    _assert_bit_exact(netx, graph, write_netx(graph, tmp_path / "net.h5"), steps=24, seed=0)
    spikes = run_reference(graph, (np.random.default_rng(0).random((1, 24, 6)) < 0.4).astype(np.int64))
    assert spikes.populations["hid"].spikes.sum() > 0


@pytest.mark.lava
def test_decoder_family_graph_runs_bit_exact_on_lava(tmp_path: Path) -> None:
    """The default model family (untrained weights), quantized with weight exponents <= 0 (a user chip file)."""
    netx = _import_netx()
    from spikeport.export import model_to_nir, parse_nir
    from spikeport.targets.quantize import quantize
    from spikeport.train.models.decoder.config import DecoderConfig
    from spikeport.train.models.decoder.model import SpikingDecoder

    chip = Path(__file__).resolve().parents[2] / "targets" / "chips" / "loihi.toml"
    text = chip.read_text()
    head, tail = text.split("[formats.weight_exp_max]", 1)
    tail = tail.replace("value = 7", "value = 0", 1)
    (tmp_path / "loihi_netx.toml").write_text(head + "[formats.weight_exp_max]" + tail)
    net = parse_nir(model_to_nir(SpikingDecoder(DecoderConfig(n_inputs=8, n_hidden=6), seed=0)))
    calibration = (np.random.default_rng(1).random((8, 20, 8)) < 0.3).astype(np.float64)
    graph, _ = quantize(net, calibration_inputs=calibration, chip=str(tmp_path / "loihi_netx.toml"))
    _assert_bit_exact(netx, graph, write_netx(graph, tmp_path / "decoder.h5"), steps=20, seed=2)


@pytest.mark.lava
def test_loihi2_hw_config_needs_the_loihi_extension(monkeypatch) -> None:
    """`--lava-config loihi2-hw`: Loihi2HwCfg where lava-loihi is importable, one clear error where it is not."""
    from spikeport.errors import MissingDependencyError
    from spikeport.simulators.lava import configs, import_lava, run_lava

    import_lava()
    from lava.magma.core.run_configs import Loihi2HwCfg, Loihi2SimCfg

    cpu = configs.make_run_config("cpu")
    assert isinstance(cpu, Loihi2SimCfg) and cpu.select_tag == "fixed_pt"
    if not configs.loihi_extension_installed():
        with pytest.raises(MissingDependencyError, match=r"lava-loihi.*not installed"):
            run_lava(chain(), np.zeros((1, 4, 6), dtype=np.int64), config="loihi2-hw")
    monkeypatch.setattr(configs, "loihi_extension_installed", lambda: True)
    assert isinstance(configs.make_run_config("loihi2-hw"), Loihi2HwCfg)


def test_cli_refuses_a_hardware_config_for_the_reference(tmp_path: Path, capsys) -> None:
    from spikeport.cli import main

    assert main(["simulate", str(tmp_path), "--lava-config", "loihi2-hw"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--lava-config loihi2-hw applies to --backend lava only" in err
