"""NIR graphs exported live by other SNN frameworks (snntorch 1.0.0, sinabs 3.1.3), read and run by spikeport.

Neither framework is a project dependency; both install next to the pinned stack without their dependencies:

    pip install --no-deps --target /tmp/fw/snntorch snntorch==1.0.0
    pip install --no-deps --target /tmp/fw/sinabs sinabs==3.1.3 pbr
    PYTHONPATH=/tmp/fw/snntorch:/tmp/fw/sinabs pytest tests/export/test_nir_other_frameworks.py

What the exporters write, and where it matches spikeport's discrete form (`spikeport.export.nir_neurons`):

- snntorch `export_to_nir` hard-codes dt = 1e-4 s and records no dt, so spikeport needs `dt=1e-4`. It writes
  Leaky as LIF(tau = dt / (1 - beta), r = tau / dt): exactly `v = beta * v + x`, spikeport's LIF form. Only
  `reset_mechanism="zero"` matches spikeport's reset (the default subtracts the threshold one step late).
  Parameters must be per-neuron tensors (beta, threshold): scalars make nir's type check fail inside the export
  (`0.output: [[N]] -> 1.input: []`), and the batch dimension must be dropped with `ignore_dims=[0]`.
- snntorch's Synaptic becomes CubaLIF(tau_syn = dt / (1 - alpha), w_in = tau_syn / dt): NIR's forward-Euler
  equations with the input scaled by dt / tau_syn, which is how spikeport reads CubaLIF (gain beta * alpha * r * w_in).
- snntorch's RLeaky / RSynaptic become flattened nodes "<layer>.lif" and "<layer>.w_rec" in a loop without Delay;
  snntorch feeds back the previous step's spikes, which is how spikeport reads a loop without Delay (with a
  warning naming the connection).
- sinabs `to_nir` writes IAF as IF(r=1) (dt-free); with `SingleSpike` and `MembraneReset` it is exactly spikeport's
  IF (sinabs fires at v >= threshold, spikeport at v > threshold). sinabs leaves Conv2d / SumPool2d / Flatten
  types undefined, so `nir.write` fails until `graph.infer_types()` is called.
"""

from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest
import torch

from spikeport.cli import main
from spikeport.errors import SpikeportError, SpikeportWarning
from spikeport.export import networks_close, parse_nir, read_nir, simulate_float, write_nir
from spikeport.nir_import import random_spikes

SNNTORCH_DT = 1e-4  # hard-coded in snntorch.export_nir, not written into the graph
SNNTORCH_SKIP = "snntorch not installed: pip install --no-deps --target DIR snntorch==1.0.0 and put DIR on PYTHONPATH"
SINABS_SKIP = "sinabs not installed: pip install --no-deps --target DIR sinabs==3.1.3 pbr and put DIR on PYTHONPATH"


# ---------------------------------------------------------------------------------------------------- snntorch


def _snn():
    return pytest.importorskip("snntorch", reason=SNNTORCH_SKIP)


def _export_snntorch(model: torch.nn.Module, sample_shape: tuple[int, ...]) -> nir.NIRGraph:
    from snntorch.export_nir import export_to_nir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return export_to_nir(model, torch.zeros(1, *sample_shape), ignore_dims=[0])


def _per_neuron(value: float, *shape: int) -> torch.Tensor:
    return torch.full(shape, value)


def _leaky(n: int, beta: float = 0.9, **kwargs):
    """An snntorch Leaky with per-neuron parameters and spikeport's reset (to zero, at the spike)."""
    snn = _snn()
    return snn.Leaky(
        beta=_per_neuron(beta, n),
        threshold=_per_neuron(1.0, n),
        init_hidden=True,
        reset_mechanism="zero",
        reset_delay=False,
        **kwargs,
    )


def _snntorch_run(model: torch.nn.Module, x: np.ndarray, layers: dict[str, torch.nn.Module], shape=None):
    """Step an snntorch model with hidden state over x (samples, steps, n_in); spikes and mem per named layer."""
    from snntorch.utils import reset

    reset(model)
    record = {name: ([], []) for name in layers}
    with torch.no_grad():
        for t in range(x.shape[1]):
            step = torch.as_tensor(x[:, t], dtype=torch.float32)
            model(step.reshape(x.shape[0], *shape) if shape else step)
            for name, layer in layers.items():
                record[name][0].append(layer.spk.reshape(x.shape[0], -1).numpy().copy())
                record[name][1].append(layer.mem.reshape(x.shape[0], -1).numpy().copy())
    return {name: (np.stack(s, axis=1), np.stack(m, axis=1)) for name, (s, m) in record.items()}


class _Recorder(torch.nn.Module):
    """Wraps an snntorch neuron so that its latest spikes are kept as `.spk` (Leaky keeps only `.mem`)."""

    def __init__(self, neuron):
        super().__init__()
        self.neuron = neuron

    def forward(self, x):
        self.spk = self.neuron(x)
        return self.spk

    @property
    def mem(self):
        return self.neuron.mem


def _two_layer_snntorch(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(12, 10), _leaky(10), torch.nn.Linear(10, 3, bias=False), _leaky(3, 0.8))
    with torch.no_grad():
        model[0].weight.mul_(3.0)  # make the hidden layer fire
        model[2].weight.mul_(3.0)
    return model


def _assert_matches(ours, theirs, *, mem_atol=1e-5):
    spikes, mem = theirs
    np.testing.assert_array_equal(ours.spikes, spikes)
    np.testing.assert_allclose(ours.v, mem, atol=mem_atol)  # snntorch runs in float32
    assert spikes.sum() > 0


def _assert_leaky_layers_match(model: torch.nn.Sequential, net, x: np.ndarray, indices: tuple[int, ...], shape=None):
    """Run the snntorch model with its Leaky layers `indices` recorded and compare them with spikeport's float run."""
    for i in indices:
        model[i] = _Recorder(model[i])
    theirs = _snntorch_run(model, x, {str(i): model[i] for i in indices}, shape=shape)
    ours = simulate_float(net, x)
    for i in indices:
        _assert_matches(ours[str(i)], theirs[str(i)])


def test_snntorch_scalar_parameters_fail_nir_type_check_inside_the_export():
    snn = _snn()
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), snn.Leaky(beta=0.9, init_hidden=True))
    with pytest.raises(ValueError, match=r"type mismatch: 0\.output: \[\[4\]\] -> 1\.input: \[\]"):
        _export_snntorch(model, (5,))
    # the calling-side fix: per-neuron beta and threshold
    graph = _export_snntorch(torch.nn.Sequential(torch.nn.Linear(5, 4), _leaky(4)), (5,))
    assert {k: type(v).__name__ for k, v in graph.nodes.items()} == {
        "input": "Input",
        "0": "Affine",
        "1": "LIF",
        "output": "Output",
    }


def test_snntorch_leaky_graph_parses_to_its_weights_and_decays(tmp_path):
    model = _two_layer_snntorch()
    path = write_nir(_export_snntorch(model, (12,)), tmp_path / "snntorch.nir")
    with pytest.raises(SpikeportError, match="records no 'dt'"):
        parse_nir(read_nir(path))
    net = parse_nir(read_nir(path), dt=SNNTORCH_DT)
    assert net.input_size == 12 and net.output == "3"
    assert {name: (p.kind, p.size) for name, p in net.populations.items()} == {"1": ("LIF", 10), "3": ("LIF", 3)}
    fc_in, fc_out = net.synapses
    assert (fc_in.name, fc_in.source, fc_in.target) == ("0", "input", "1")
    assert (fc_out.name, fc_out.source, fc_out.target, fc_out.bias) == ("2", "1", "3", None)  # Linear, no bias
    np.testing.assert_allclose(fc_in.weight, model[0].weight.detach().numpy())
    np.testing.assert_allclose(fc_in.bias, model[0].bias.detach().numpy())
    np.testing.assert_allclose(fc_out.weight, model[2].weight.detach().numpy())
    assert not fc_in.delay_steps.any() and not fc_out.delay_steps.any()
    for name, beta in (("1", 0.9), ("3", 0.8)):
        p = net.populations[name]
        np.testing.assert_allclose(p.alpha, 1 - beta, rtol=1e-6)  # tau = dt / (1 - beta)
        np.testing.assert_allclose(p.gain, 1.0, rtol=1e-6)  # r = tau / dt
        np.testing.assert_allclose(p.v_th, 1.0)
        assert np.all(p.beta == 1) and np.all(p.bias == 0)


def test_snntorch_leaky_with_zero_reset_matches_spikeports_float_simulation(tmp_path):
    model = _two_layer_snntorch()
    path = write_nir(_export_snntorch(model, (12,)), tmp_path / "snntorch.nir")
    net = parse_nir(read_nir(path), dt=SNNTORCH_DT)
    x = random_spikes(12, samples=4, steps=40, rate=0.3, seed=1)
    _assert_leaky_layers_match(model, net, x, (1, 3))


def test_snntorch_conv_leaky_flatten_graph_matches_spikeport(tmp_path):
    snn = _snn()
    torch.manual_seed(3)
    conv_leaky = snn.Leaky(
        beta=_per_neuron(0.85, 3, 4, 4),
        threshold=_per_neuron(1.0, 3, 4, 4),
        init_hidden=True,
        reset_mechanism="zero",
        reset_delay=False,
    )
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3), conv_leaky, torch.nn.Flatten(), torch.nn.Linear(48, 5), _leaky(5)
    )
    with torch.no_grad():
        model[0].weight.mul_(4.0)
        model[3].weight.mul_(4.0)
    graph = _export_snntorch(model, (2, 6, 6))
    assert [type(graph.nodes[n]).__name__ for n in ("input", "0", "1", "2", "3", "4")] == [
        "Input",
        "Conv2d",
        "LIF",
        "Flatten",
        "Affine",
        "LIF",
    ]
    net = parse_nir(read_nir(write_nir(graph, tmp_path / "conv.nir")), dt=SNNTORCH_DT)
    assert net.input_size == 72 and net.populations["1"].size == 48
    # the unrolled convolution is PyTorch's conv2d on the flattened (C, H, W) input
    probe = torch.randn(3, 2, 6, 6)
    with torch.no_grad():
        expected = model[0](probe).reshape(3, -1).numpy()
    conv = net.synapses[0]
    np.testing.assert_allclose(probe.reshape(3, -1).numpy() @ conv.weight.T + conv.bias, expected, atol=1e-5)
    x = random_spikes(72, samples=3, steps=30, rate=0.3, seed=2)
    _assert_leaky_layers_match(model, net, x, (1, 4), shape=(2, 6, 6))


def _synaptic_graph(tmp_path):
    snn = _snn()
    torch.manual_seed(4)
    neuron = snn.Synaptic(
        alpha=_per_neuron(0.8, 8),
        beta=_per_neuron(0.9, 8),
        threshold=_per_neuron(1.0, 8),
        init_hidden=True,
        reset_mechanism="zero",
        reset_delay=False,
    )
    model = torch.nn.Sequential(torch.nn.Linear(10, 8), neuron)
    with torch.no_grad():
        model[0].weight.mul_(3.0)
    graph = _export_snntorch(model, (10,))
    assert type(graph.nodes["1"]).__name__ == "CubaLIF"
    model[1] = _Recorder(neuron)
    return model, graph


def test_snntorch_synaptic_graph_matches_spikeport_as_written(tmp_path):
    """snntorch writes w_in = tau_syn / dt (a current that jumps by the input, in NIR's forward-Euler equations;
    its own import_nir multiplies w_in by dt / tau_syn), which spikeport reads the same way."""
    model, graph = _synaptic_graph(tmp_path)
    node = graph.nodes["1"]
    np.testing.assert_allclose(node.w_in, node.tau_syn / SNNTORCH_DT, rtol=1e-6)
    np.testing.assert_allclose(node.tau_syn, SNNTORCH_DT / (1 - 0.8), rtol=1e-6)
    net = parse_nir(read_nir(write_nir(graph, tmp_path / "synaptic.nir")), dt=SNNTORCH_DT)
    p = net.populations["1"]
    np.testing.assert_allclose(p.beta, 1 - 0.8, rtol=1e-5)  # syn = 0.8 * syn + x
    np.testing.assert_allclose(p.alpha, 1 - 0.9, rtol=1e-5)  # mem = 0.9 * mem + syn
    x = random_spikes(10, samples=4, steps=40, rate=0.3, seed=1)
    theirs = _snntorch_run(model, x, {"1": model[1]})
    _assert_matches(simulate_float(net, x)["1"], theirs["1"])


def _rleaky_graph():
    snn = _snn()
    torch.manual_seed(5)
    neuron = snn.RLeaky(
        beta=_per_neuron(0.9, 8),
        threshold=_per_neuron(1.0, 8),
        linear_features=8,
        init_hidden=True,
        reset_mechanism="zero",
        reset_delay=False,
    )
    model = torch.nn.Sequential(torch.nn.Linear(10, 8), neuron)
    with torch.no_grad():
        model[0].weight.mul_(3.0)
    graph = _export_snntorch(model, (10,))
    # nirtorch flattens the recurrent subgraph: no nested NIRGraph node, dotted names, a loop without Delay
    assert {k: type(v).__name__ for k, v in graph.nodes.items()} == {
        "input": "Input",
        "0": "Affine",
        "1.lif": "LIF",
        "1.w_rec": "Affine",
        "output": "Output",
    }
    assert sorted(graph.edges) == [
        ("0", "1.lif"),
        ("1.lif", "1.w_rec"),
        ("1.lif", "output"),
        ("1.w_rec", "1.lif"),
        ("input", "0"),
    ]
    return model, graph


def test_snntorch_rleaky_graph_as_written_matches_snntorch(tmp_path):
    """The loop has no Delay node; spikeport reads it as snnTorch runs it (previous step's spikes) and says so."""
    model, graph = _rleaky_graph()
    with pytest.warns(SpikeportWarning, match=r"loop without a Delay node.*'1.w_rec' \(1.lif -> 1.lif\)"):
        net = parse_nir(read_nir(write_nir(graph, tmp_path / "rleaky.nir")), dt=SNNTORCH_DT)
    rec = next(s for s in net.synapses if s.source == "1.lif")
    np.testing.assert_allclose(rec.weight, model[1].recurrent.weight.detach().numpy())
    np.testing.assert_allclose(rec.bias, model[1].recurrent.bias.detach().numpy())
    assert np.all(rec.delay_steps == 1)
    x = random_spikes(10, samples=4, steps=40, rate=0.3, seed=1)
    theirs = _snntorch_run(model, x, {"1.lif": model[1]})
    _assert_matches(simulate_float(net, x)["1.lif"], theirs["1.lif"])


def test_snntorch_rleaky_with_an_explicit_delay_node_reads_the_same(tmp_path):
    _, graph = _rleaky_graph()
    with pytest.warns(SpikeportWarning):
        implicit = parse_nir(graph, dt=SNNTORCH_DT)
    graph.nodes["1.w_rec_delay"] = nir.Delay(delay=np.full(8, SNNTORCH_DT))
    graph.edges = [e for e in graph.edges if e != ("1.w_rec", "1.lif")]
    graph.edges += [("1.w_rec", "1.w_rec_delay"), ("1.w_rec_delay", "1.lif")]
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpikeportWarning)  # reset="zero": snnTorch's reset, confirmed (no warning)
        explicit = parse_nir(graph, dt=SNNTORCH_DT, reset="zero")
    assert networks_close(implicit, explicit)


@pytest.mark.lava
def test_snntorch_graph_validates_bit_true_through_the_cli(tmp_path, capsys):
    path = write_nir(_export_snntorch(_two_layer_snntorch(), (12,)), tmp_path / "snntorch.nir")
    assert main(["validate", str(path), "--samples", "3", "--steps", "20", "--no-progress"]) == 2
    assert "records no 'dt' in its metadata; give the step in seconds (CLI: --dt)" in capsys.readouterr().err
    args = ["validate", str(path), "--dt", str(SNNTORCH_DT), "--samples", "3", "--steps", "30", "--rate", "0.3"]
    code = main([*args, "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "BIT-EXACT: reference vs lava" in out and out.count("spiking,") == 2


# ------------------------------------------------------------------------------------------------------ sinabs


def _sinabs_export(model: torch.nn.Module, sample_shape: tuple[int, ...]) -> nir.NIRGraph:
    sinabs = pytest.importorskip("sinabs", reason=SINABS_SKIP)
    sample = torch.zeros(1, *sample_shape)
    with torch.no_grad():
        model(sample)  # sinabs reads the layer shapes from the neuron states
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = sinabs.to_nir(model, sample)
    graph.infer_types()  # sinabs leaves Conv2d / SumPool2d / Flatten types undefined, which nir.write rejects
    return graph


def _iaf(**kwargs):
    sl = pytest.importorskip("sinabs.layers", reason=SINABS_SKIP)
    from sinabs.activation import MembraneReset, SingleSpike

    return sl.IAFSqueeze(batch_size=1, spike_fn=SingleSpike, reset_fn=MembraneReset(), **kwargs)


def _sinabs_conv_model():
    sl = pytest.importorskip("sinabs.layers", reason=SINABS_SKIP)
    torch.manual_seed(6)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, bias=False),
        _iaf(),
        sl.SumPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 5, bias=False),
        _iaf(),
    )
    with torch.no_grad():
        model[0].weight.mul_(2.0)
        model[4].weight.mul_(2.0)
    return model


def _sinabs_run(model, x: np.ndarray, layers: dict[str, int], shape=None):
    """Run a sinabs model (Squeeze layers, batch_size=1) per sample on x (samples, steps, n_in); spikes per layer."""
    import sinabs

    spikes = {name: [] for name in layers}
    outputs = {}
    hooks = [
        model[i].register_forward_hook(lambda _m, _i, out, name=name: outputs.__setitem__(name, out))
        for name, i in layers.items()
    ]
    try:
        with torch.no_grad():
            for sample in x:
                sinabs.reset_states(model)
                steps = torch.as_tensor(sample, dtype=torch.float32)
                model(steps.reshape(len(sample), *shape) if shape else steps)
                for name in layers:
                    spikes[name].append(outputs[name].reshape(len(sample), -1).numpy().copy())
    finally:
        for hook in hooks:
            hook.remove()
    return {name: np.stack(s) for name, s in spikes.items()}


def test_sinabs_iaf_conv_graph_parses_and_matches_sinabs(tmp_path):
    model = _sinabs_conv_model()
    graph = _sinabs_export(model, (2, 10, 10))
    assert [type(graph.nodes[n]).__name__ for n in ("input", "0", "1", "2", "3", "4", "5")] == [
        "Input",
        "Conv2d",
        "IF",
        "SumPool2d",
        "Flatten",
        "Affine",  # sinabs writes Affine with a zero bias for nn.Linear(bias=False)
        "IF",
    ]
    assert not graph.metadata
    net = parse_nir(read_nir(write_nir(graph, tmp_path / "sinabs.nir")), dt=1.0)  # IF: dt does not matter
    assert net.input_size == 200
    assert {name: (p.kind, p.size) for name, p in net.populations.items()} == {"1": ("IF", 256), "5": ("IF", 5)}
    pool_fc = net.synapses[1]
    assert pool_fc.nodes == ("2", "3", "4") and pool_fc.weight.shape == (5, 256)
    np.testing.assert_array_equal(pool_fc.bias, 0.0)
    x = random_spikes(200, samples=3, steps=30, rate=0.3, seed=3)
    theirs = _sinabs_run(model, x, {"1": 1, "5": 5}, shape=(2, 10, 10))
    ours = simulate_float(net, x)
    for name in ("1", "5"):
        np.testing.assert_array_equal(ours[name].spikes, theirs[name])
        assert theirs[name].sum() > 0


@pytest.mark.lava
def test_sinabs_iaf_conv_graph_validates_bit_true_through_the_cli(tmp_path, capsys):
    path = write_nir(_sinabs_export(_sinabs_conv_model(), (2, 10, 10)), tmp_path / "sinabs.nir")
    args = ["validate", str(path), "--dt", "1", "--samples", "3", "--steps", "25", "--rate", "0.3", "--no-progress"]
    code = main(args)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "BIT-EXACT: reference vs lava" in out and out.count("spiking,") == 2
