"""ONNX twin and single-step graphs: onnxruntime equals torch within 1e-5, the step reproduces the float
simulation, MACs come from the graph's shapes, and `spikeport export RUN --to onnx` records what it wrote."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from spikeport.errors import UnsupportedNodeError
from spikeport.export import model_to_nir, parse_nir, simulate_float
from spikeport.export.network import ParsedNetwork, Population, Synapse
from spikeport.export.onnx_twin import (
    OPSET,
    TOLERANCE,
    SnnStep,
    TwinNet,
    check_against_torch,
    export_step,
    export_twin,
    onnx_mac_counts,
    random_feeds,
)
from spikeport.train.models.decoder.config import DecoderConfig
from spikeport.train.models.decoder.model import SpikingDecoder

N_IN, N_HIDDEN, N_OUT = 12, 9, 3


@pytest.fixture(scope="module")
def decoder_net() -> ParsedNetwork:
    """The default family's network (untrained, seeded weights) read back from its NIR graph."""
    return parse_nir(model_to_nir(SpikingDecoder(DecoderConfig(n_inputs=N_IN, n_hidden=N_HIDDEN, n_classes=N_OUT))))


def test_twin_is_dense_relu_dense_and_matches_torch(decoder_net: ParsedNetwork, tmp_path: Path) -> None:
    path = export_twin(decoder_net, tmp_path / "twin.onnx")
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == OPSET
    ops = [node.op_type for node in model.graph.node]
    assert [op for op in ops if op in ("MatMul", "Gemm", "Relu")] == ["MatMul", "Relu", "MatMul"]
    check = check_against_torch(decoder_net, path, step=False, samples=128, seed=4)
    assert check.max_abs_diff <= TOLERANCE
    # the twin computes relu(W_in x) then W_out h, with the NIR graph's weights
    x = random_feeds(TwinNet(decoder_net), decoder_net, 5, seed=1)["x"].astype(np.float64)
    w_in, w_out = (s.weight for s in decoder_net.synapses)
    import onnxruntime as ort

    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x.astype(np.float32)})[0]
    assert np.allclose(got, np.maximum(x @ w_in.T, 0) @ w_out.T, atol=1e-5)


def test_twin_macs_are_read_from_the_graph(decoder_net: ParsedNetwork, tmp_path: Path) -> None:
    path = export_twin(decoder_net, tmp_path / "twin.onnx")
    assert onnx_mac_counts(path) == {"fc_in": N_IN * N_HIDDEN, "fc_out": N_HIDDEN * N_OUT}


def test_mac_counts_of_gemm_matmul_and_conv(tmp_path: Path) -> None:
    """A hand-built graph: Conv 3->4 channels, 3x3 kernel on 8x8 (pad 1), then Gemm 256->10 and MatMul 10->5."""
    from onnx import TensorProto, helper, numpy_helper

    inits = [
        numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "cw"),
        numpy_helper.from_array(np.zeros((10, 256), np.float32), "gw"),
        numpy_helper.from_array(np.zeros((10, 5), np.float32), "mw"),
        numpy_helper.from_array(np.array([1, 256], np.int64), "shape"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "cw"], ["c"], name="/conv1/Conv", pads=[1, 1, 1, 1]),
        helper.make_node("Reshape", ["c", "shape"], ["f"], name="/flat/Reshape"),
        helper.make_node("Gemm", ["f", "gw"], ["g"], name="/fc/Gemm", transB=1),
        helper.make_node("MatMul", ["g", "mw"], ["y"], name="/head/MatMul"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
        inits,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), tmp_path / "m.onnx")
    assert onnx_mac_counts(tmp_path / "m.onnx") == {"conv1": 4 * 8 * 8 * 3 * 3 * 3, "fc": 2560, "head": 50}


def test_step_graph_matches_torch_on_random_state(decoder_net: ParsedNetwork, tmp_path: Path) -> None:
    path = export_step(decoder_net, tmp_path / "step.onnx")
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    step = SnnStep(decoder_net)
    assert step.input_names == ["x", "u.lif", "u.readout", "v.lif", "v.readout", "hist.input", "hist.lif"]
    check = check_against_torch(decoder_net, path, step=True, samples=128, seed=7)
    assert check.max_abs_diff <= TOLERANCE


def test_iterated_step_reproduces_the_float_simulation(decoder_net: ParsedNetwork) -> None:
    """From zero state, T steps of the step module equal `simulate_float` (float64: spikes exactly)."""
    x = (np.random.default_rng(0).random((6, 40, N_IN)) < 0.4).astype(np.float64)
    traces = simulate_float(decoder_net, x)
    step = SnnStep(decoder_net, dtype=torch.float64)
    state, n = step.zero_state(len(x), torch.float64), len(step.pops)
    fired = 0
    with torch.no_grad():
        for t in range(x.shape[1]):
            out = step(torch.from_numpy(x[:, t]), *state)
            for i, pop in enumerate(step.pops):
                assert np.array_equal(out[i].numpy(), traces[pop].spikes[:, t]), (t, pop)
                assert np.allclose(out[n + i].numpy(), traces[pop].cur[:, t], rtol=0, atol=1e-9)
                assert np.allclose(out[2 * n + i].numpy(), traces[pop].v[:, t], rtol=0, atol=1e-9)
                fired += int(out[i].sum())
            state = list(out[n:])
    assert fired > 0


def test_a_loop_has_no_twin() -> None:
    pop = Population("p", "CubaLIF", *(np.full(2, v) for v in (0.5, 0.5, 1.0, 0.0, 1.0)))
    net = ParsedNetwork(
        input_name="input",
        input_size=2,
        populations={"p": pop},
        synapses=[
            Synapse("a", "input", "p", np.eye(2), None, np.zeros((2, 2), dtype=np.int64)),
            Synapse("rec", "p", "p", np.eye(2), None, np.ones((2, 2), dtype=np.int64)),
        ],
        output="p",
        dt=1e-3,
    )
    with pytest.raises(UnsupportedNodeError, match=r"'rec'.*loop"):
        TwinNet(net)


def test_export_to_onnx_through_the_cli(tmp_path: Path, monkeypatch, capsys) -> None:
    from spikeport.cli import main
    from spikeport.integrity import RunManifest

    monkeypatch.chdir(tmp_path)
    tiny = ["--subjects", "2", "--trials-per-class", "4", "--steps", "8", "--hidden", "8", "--epochs", "1"]
    for argv in (
        ["train", "--out", "run", *tiny, "--no-progress"],
        ["export", "run"],
        ["export", "run", "--to", "onnx"],
    ):
        monkeypatch.setattr(sys, "argv", ["spikeport", *argv])
        assert main(argv) == 0, argv
    out = capsys.readouterr().out
    assert "max |diff| twin" in out and "us/frame" in out
    info = json.loads((tmp_path / "run" / "onnx_twin.json").read_text())
    n_in = int(np.load(tmp_path / "run" / "data.npz")["x_test"].shape[2])
    assert info["twin"]["macs_per_frame"] == {"fc_in": n_in * 8, "fc_out": 8 * 2}
    assert info["twin"]["macs_per_inference"] == (n_in * 8 + 16) * 8
    assert all(c["max_abs_diff"] <= TOLERANCE for c in info["checks"].values())
    assert info["latency"]["twin_frame"]["median_s"] > 0 and info["latency"]["snn_step"]["runs"] == 200
    entries = RunManifest(tmp_path / "run").entries
    assert {entries[f].stage for f in ("model.twin.onnx", "model.step.onnx", "onnx_twin.json")} == {"export --to onnx"}
    first = (tmp_path / "run" / "model.twin.onnx").read_bytes()
    monkeypatch.setattr(sys, "argv", ["spikeport", "export", "run", "--to", "onnx"])
    assert main(["export", "run", "--to", "onnx"]) == 0
    assert (tmp_path / "run" / "model.twin.onnx").read_bytes() == first  # same run, same bytes
