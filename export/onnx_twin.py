"""ONNX graphs of a spiking network: its float non-spiking twin and its single-step update, with MACs and latency.

Both are built from the float intermediate form (`ParsedNetwork`, read from the run's NIR graph), so every model
family that exports NIR gets them:

* the **twin** (`model.twin.onnx`): the same topology and weights with the spiking nonlinearity replaced by ReLU
  and time dropped: each population computes ``relu(sum_s W_s @ out_source + b_s + bias)`` (non-spiking
  populations, such as the decoder's leaky-integrator readout, stay linear). For the decoder that is
  dense -> ReLU -> dense. It is the conventional network an ANN accelerator would run in place of the SNN; it
  is not a rate-converted model with matched accuracy, and it serves the report's conventional-baseline rows
  (MACs counted from its graph) and its CPU latency.
* the **step** (`model.step.onnx`): one time step of the SNN exactly as `spikeport.export.nir_float` runs it,
  state in and state out: inputs ``x``, ``u.<pop>``, ``v.<pop>`` and, for every source read with a delay,
  ``hist.<source>`` (its outputs at t-1 .. t-D); outputs ``spikes.<pop>``, ``u_next.<pop>``, ``v_next.<pop>``,
  ``hist_next.<source>``. Iterating it from zero state reproduces the float simulation.

Graphs are written with torch's TorchScript-based exporter (`torch.onnx.export(dynamo=False)`, no onnxscript
needed) at the pinned `OPSET`, checked with `onnx.checker`, and their onnxruntime outputs compared with torch's
on seeded random inputs. Convolutions are lowered to dense matrices by the NIR parser, so the twin counts the
MACs of those dense maps (zeros included).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from spikeport.errors import CorruptFileError, UnsupportedNodeError
from spikeport.export.network import ParsedNetwork
from spikeport.export.nir_float import update_order
from spikeport.files import atomic_write

__all__ = [
    "OPSET",
    "TOLERANCE",
    "SnnStep",
    "TwinNet",
    "check_against_torch",
    "export_step",
    "export_twin",
    "measure_latency",
    "onnx_mac_counts",
]

OPSET = 17
"""ONNX opset of every graph written (pinned so the files do not change with torch's default)."""
TOLERANCE = 1e-5
"""Largest |onnxruntime - torch| accepted on random inputs (float32)."""


def _delays(net: ParsedNetwork) -> dict[str, int]:
    """The longest delay (steps) with which each source is read; sources read only without delay are absent."""
    out: dict[str, int] = {}
    for syn in net.synapses:
        d = int(syn.delay_steps.max(initial=0))
        if d > 0:
            out[syn.source] = max(out.get(syn.source, 0), d)
    return out


def _size(net: ParsedNetwork, name: str) -> int:
    return net.input_size if name == net.input_name else net.populations[name].size


class TwinNet(nn.Module):
    """The float twin: one Linear per synapse, ReLU for every spiking population, in a feed-forward order.

    Raises `UnsupportedNodeError` for a network with a loop (a population reading itself or a later one), which
    has no time-free twin.
    """

    def __init__(self, net: ParsedNetwork) -> None:
        super().__init__()
        order = update_order(net)
        rank = {name: i for i, name in enumerate(order)}
        for syn in net.synapses:
            if syn.source != net.input_name and rank[syn.source] >= rank[syn.target]:
                raise UnsupportedNodeError(
                    f"synapse {syn.name!r} ({syn.source} -> {syn.target}) closes a loop; the float twin has no time "
                    "steps, so only feed-forward networks have one"
                )
        self.order = order
        self.input_name, self.output = net.input_name, net.output
        self.wiring = [(syn.name, syn.source, syn.target) for syn in net.synapses]
        self.layers = nn.ModuleDict()
        for syn in net.synapses:
            layer = nn.Linear(syn.weight.shape[1], syn.weight.shape[0], bias=syn.bias is not None)
            with torch.no_grad():
                layer.weight.copy_(torch.as_tensor(syn.weight, dtype=torch.float32))
                if syn.bias is not None:
                    layer.bias.copy_(torch.as_tensor(syn.bias, dtype=torch.float32))
            self.layers[syn.name] = layer
        self.spiking = {name: pop.spiking for name, pop in net.populations.items()}
        for name, pop in net.populations.items():
            self.register_buffer(f"bias_{name}", torch.as_tensor(pop.bias, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, n_in) one input frame; returns the output population's activation (batch, n_out)."""
        out = {self.input_name: x}
        for name in self.order:
            drive = getattr(self, f"bias_{name}")
            for syn, source, target in self.wiring:
                if target == name:
                    drive = drive + self.layers[syn](out[source])
            out[name] = torch.relu(drive) if self.spiking[name] else drive
        return out[self.output]


class SnnStep(nn.Module):
    """One step of the SNN (the discrete form of `spikeport.export.network`), state in and state out.

    `forward(x, *states)` takes the tensors named by `input_names` and returns those named by `output_names`.
    """

    def __init__(self, net: ParsedNetwork, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.order = update_order(net)
        self.input_name = net.input_name
        self.hist = _delays(net)
        self.sizes = {name: _size(net, name) for name in [net.input_name, *net.populations]}
        self.pops = list(net.populations)
        self.input_names = ["x", *(f"u.{p}" for p in self.pops), *(f"v.{p}" for p in self.pops)]
        self.input_names += [f"hist.{s}" for s in self.hist]
        self.output_names = [f"spikes.{p}" for p in self.pops] + [f"u_next.{p}" for p in self.pops]
        self.output_names += [f"v_next.{p}" for p in self.pops] + [f"hist_next.{s}" for s in self.hist]
        self.wiring = []
        for i, syn in enumerate(net.synapses):
            parts = []
            for d in np.unique(syn.delay_steps):
                w = syn.weight * (syn.delay_steps == d)
                self.register_buffer(f"w{i}_{int(d)}", torch.as_tensor(w.T.copy(), dtype=dtype))
                parts.append((int(d), f"w{i}_{int(d)}"))
            if syn.bias is not None:
                self.register_buffer(f"b{i}", torch.as_tensor(syn.bias, dtype=dtype))
            self.wiring.append((syn.source, syn.target, parts, f"b{i}" if syn.bias is not None else None))
        for name, pop in net.populations.items():
            for key in ("beta", "alpha", "gain", "bias", "v_th"):
                self.register_buffer(f"{key}_{name}", torch.as_tensor(getattr(pop, key), dtype=dtype))

    def zero_state(self, batch: int, dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
        """The state tensors (after `x`) at the start of a sample: all zeros."""
        state = [torch.zeros(batch, self.sizes[p], dtype=dtype) for _ in ("u", "v") for p in self.pops]
        state += [torch.zeros(batch, d, self.sizes[s], dtype=dtype) for s, d in self.hist.items()]
        return state

    def forward(self, x: torch.Tensor, *state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n = len(self.pops)
        cur = dict(zip(self.pops, state[:n], strict=True))
        volt = dict(zip(self.pops, state[n : 2 * n], strict=True))
        hist = dict(zip(self.hist, state[2 * n :], strict=True))
        out = {self.input_name: x}
        spikes, u_next, v_next = {}, {}, {}
        for name in self.order:
            drive = torch.zeros_like(cur[name])
            for source, target, parts, bias in self.wiring:
                if target != name:
                    continue
                for d, w in parts:
                    src = out[source] if d == 0 else hist[source][:, d - 1]
                    drive = drive + src @ getattr(self, w)
                if bias is not None:
                    drive = drive + getattr(self, bias)
            p = {k: getattr(self, f"{k}_{name}") for k in ("beta", "alpha", "gain", "bias", "v_th")}
            u = (1 - p["beta"]) * cur[name] + p["gain"] * drive
            v = (1 - p["alpha"]) * volt[name] + u + p["bias"]
            fired = v > p["v_th"]
            spikes[name] = fired.to(v.dtype)
            u_next[name], v_next[name] = u, torch.where(fired, torch.zeros_like(v), v)
            out[name] = spikes[name]
        shifted = [torch.cat([out[s].unsqueeze(1), hist[s][:, :-1]], dim=1) for s in self.hist]
        return (*spikes.values(), *u_next.values(), *v_next.values(), *shifted)


def _export(module: nn.Module, args: tuple, names_in: list[str], names_out: list[str], path: Path) -> Path:
    """torch.onnx.export (TorchScript exporter, pinned opset, dynamic batch), checked with onnx.checker."""
    import io
    import warnings

    import onnx

    axes = {name: {0: "batch"} for name in [*names_in, *names_out]}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter is deprecated, not removed
        torch.onnx.export(
            module.eval(),
            args,
            buffer,
            opset_version=OPSET,
            dynamo=False,
            input_names=names_in,
            output_names=names_out,
            dynamic_axes=axes,
            do_constant_folding=True,
        )
    model = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(model, full_check=True)
    return atomic_write(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))


def export_twin(net: ParsedNetwork, path: str | Path) -> Path:
    """Write the float twin of `net` as ONNX (input `x`: (batch, n_in), output `y`)."""
    twin = TwinNet(net)
    return _export(twin, (torch.zeros(1, net.input_size),), ["x"], ["y"], Path(path))


def export_step(net: ParsedNetwork, path: str | Path) -> Path:
    """Write one step of the SNN as ONNX (names in `SnnStep.input_names` / `output_names`)."""
    step = SnnStep(net)
    args = (torch.zeros(1, net.input_size), *step.zero_state(1))
    return _export(step, args, step.input_names, step.output_names, Path(path))


@dataclass(frozen=True)
class OnnxCheck:
    """The largest difference between onnxruntime and torch on seeded random inputs."""

    max_abs_diff: float
    samples: int
    seed: int

    def to_dict(self) -> dict:
        return {"max_abs_diff": self.max_abs_diff, "samples": self.samples, "seed": self.seed, "tolerance": TOLERANCE}


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1  # one thread: steady, comparable timings
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable models
        raise CorruptFileError(
            f"{path}: onnxruntime cannot load it ({exc}); re-run `spikeport export --to onnx`"
        ) from exc


def random_feeds(module: nn.Module, net: ParsedNetwork, samples: int, seed: int) -> dict[str, np.ndarray]:
    """Seeded random float32 inputs for the twin (`x`) or the step (spike-like x and hist, real-valued u and v)."""
    rng = np.random.default_rng(seed)
    if isinstance(module, TwinNet):
        return {"x": rng.random((samples, net.input_size), dtype=np.float32)}
    feeds = {}
    tensors = [torch.zeros(samples, net.input_size), *module.zero_state(samples)]
    for name, tensor in zip(module.input_names, tensors, strict=True):
        shape = tuple(tensor.shape)
        spikes = name == "x" or name.startswith("hist.")
        feeds[name] = (
            (rng.random(shape) < 0.3).astype(np.float32) if spikes else rng.normal(0, 1, shape).astype(np.float32)
        )
    return feeds


def check_against_torch(net: ParsedNetwork, path: str | Path, *, step: bool, samples: int = 64, seed: int = 0):
    """Run the ONNX file in onnxruntime and its torch module on the same random inputs; returns an `OnnxCheck`."""
    module = SnnStep(net) if step else TwinNet(net)
    feeds = random_feeds(module, net, samples, seed)
    got = _session(Path(path)).run(None, feeds)
    with torch.no_grad():
        args = [torch.from_numpy(feeds[n]) for n in (module.input_names if step else ["x"])]
        want = module(*args)
    want = list(want) if isinstance(want, tuple) else [want]
    diff = max(float(np.max(np.abs(g - w.numpy()), initial=0.0)) for g, w in zip(got, want, strict=True))
    return OnnxCheck(max_abs_diff=diff, samples=samples, seed=seed)


def measure_latency(path: str | Path, feeds: dict[str, np.ndarray], *, runs: int = 200, warmup: int = 20) -> dict:
    """onnxruntime CPU latency of one call on `feeds` (one thread): median and quartiles of `runs` after `warmup`."""
    session = _session(Path(path))
    for _ in range(warmup):
        session.run(None, feeds)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    return {"median_s": float(median), "q1_s": float(q1), "q3_s": float(q3), "runs": runs, "warmup": warmup}


def _layer_of(node_name: str, op: str) -> str:
    """The layer a node belongs to: the module path torch wrote into its name ('/layers/fc_in/Gemm' -> 'fc_in')."""
    parts = [p for p in node_name.split("/") if p]
    if len(parts) >= 2:
        return parts[-2]
    return node_name or op


def onnx_mac_counts(path: str | Path) -> dict[str, int]:
    """Multiply-accumulates per sample of every Gemm, MatMul and Conv node of an ONNX file, by layer.

    Shapes come from the graph's initializers and onnx shape inference; a leading batch dimension counts once.
    """
    import onnx
    from onnx import numpy_helper, shape_inference

    try:
        model = shape_inference.infer_shapes(onnx.load(str(path)))
    except Exception as exc:  # onnx raises DecodeError / ValidationError / OSError subclasses
        raise CorruptFileError(f"{path}: not a readable ONNX model ({exc})") from exc
    shapes = {init.name: list(numpy_helper.to_array(init).shape) for init in model.graph.initializer}
    for info in [*model.graph.value_info, *model.graph.input, *model.graph.output]:
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = [d.dim_value if d.HasField("dim_value") else 1 for d in dims]
    macs: dict[str, int] = {}
    for node in model.graph.node:
        if node.op_type not in ("Gemm", "MatMul", "Conv"):
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
        if a is None or b is None:
            raise CorruptFileError(f"{path}: node {node.name!r} ({node.op_type}) has inputs of unknown shape")
        if node.op_type == "Gemm":
            k = a[0] if attrs.get("transA", 0) else a[-1]
            n = b[0] if attrs.get("transB", 0) else b[-1]
            count = k * n
        elif node.op_type == "MatMul":
            count = int(np.prod(a[1:-1], dtype=np.int64)) * a[-1] * b[-1]
        else:
            out = shapes.get(node.output[0])
            if out is None:
                raise CorruptFileError(f"{path}: Conv node {node.name!r} has an output of unknown shape")
            count = int(np.prod(out[1:], dtype=np.int64)) * int(np.prod(b[1:], dtype=np.int64))
        layer = _layer_of(node.name, node.op_type)
        macs[layer] = macs.get(layer, 0) + int(count)
    return macs
