"""A NIR graph read as a network of synapses and neuron populations in one discrete-time form.

Every supported neuron node becomes a `Population` with the same per-step update (dt from the graph):

    x[t]   = sum over synapses of (W @ out_source[t - d] + b)     d: the synapse's delay in steps
    cur[t] = (1 - beta) * cur[t-1] + gain * x[t]
    v[t]   = (1 - alpha) * v[t-1] + cur[t] + bias
    spike where v[t] > v_th, then v[t] <- 0

| NIR node | beta        | alpha     | gain                 | bias                      |
|----------|-------------|-----------|----------------------|---------------------------|
| CubaLIF  | dt/tau_syn  | dt/tau_mem| beta * alpha * r * w_in | dt/tau_mem * v_leak    |
| CubaLI   | dt/tau_syn  | dt/tau_mem| beta * alpha * r * w_in | dt/tau_mem * v_leak (no spikes) |
| LIF      | 1           | dt/tau    | dt/tau * r           | dt/tau * v_leak           |
| LI       | 1           | dt/tau    | dt/tau * r           | dt/tau * v_leak (no spikes) |
| IF       | 1           | 0         | r                    | 0                         |
| Threshold| 1           | 1         | 1                    | 0 (v_th = threshold: v = x, stateless) |

This is the forward-Euler discretization of NIR's equations with the input held over the step (for CubaLIF:
tau_syn dI/dt = -I + w_in x, tau_mem dv/dt = v_leak - v + r I; the current is updated first and the voltage
integrates the new current, as norse's `from_nir` does), written so that it is exactly Loihi's CUBA LIF with
u = cur and v = v, which is what makes quantization a pure change of units. A spike of weight w thus moves a
CubaLIF's current by beta * w_in * w: a model whose current jumps by w (norse's `LIFCell`, snnTorch's
`Synaptic`) is written with w_in = tau_syn / dt. Neuron
parameters may be arrays of any shape (e.g. (C, H, W) after a convolution); a population is their broadcast shape
flattened in C order.

A synapse is the unbranched chain of stateless linear nodes on the way from the input or a population to a
population. Every signal is flattened in C order, and the chain is composed into one dense matrix W (n_out, n_in),
one constant bias b (n_out,) and the delays d (n_out, n_in) in steps; a population fed by the input or another
population with no node in between gets the identity. Loihi's Dense always delays by one step, so a synapse with
d steps becomes a Dense (d = 1) or a DelayDense with delay d - 1. Unrolling convolutions into Dense keeps them
exact (Lava's `Conv` process ignores weight_exp in fixed_pt).

| chain node      | linear map on the flattened signal                                                     |
|-----------------|----------------------------------------------------------------------------------------|
| Linear / Affine | W x (Affine: + b); weight (n_out, n_in), n_in the size of the incoming signal          |
| Conv1d / Conv2d | cross-correlation as PyTorch's conv1d / conv2d on (C, N) / (C, H, W): stride, padding  |
|                 | (ints, 'valid', or 'same' with stride 1), dilation, groups, bias per output channel    |
| SumPool2d       | sum over each kernel window (kernel_size, stride, zero padding)                        |
| AvgPool2d       | the same divided by the kernel area (padding counts, as in PyTorch's default)          |
| Flatten         | identity; only the shape changes                                                       |
| Scale           | elementwise product with `scale` (broadcast to the signal's shape)                     |
| Delay           | identity; adds round(delay / dt) steps                                                 |

Convolutions and pools need the (C, H, W) or (C, N) shape of their input: the shape of the node before (the Input
node's shape, a population's parameter shape, a Conv or Flatten output), else the node's `input_shape` /
`input_type`. Delays must be whole steps, and every path from a source neuron to a target neuron through the chain
must see the same delay (so elementwise delays are uniform per source neuron or per target neuron, or sit where
paths do not merge).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field

import nir
import numpy as np
from scipy import sparse

from spikeport.errors import IRValidationError, SpikeportWarning, UnsupportedNodeError
from spikeport.export.nir_io import graph_dt
from spikeport.export.nir_subgraphs import inline_subgraphs

NEURON_NODES = (nir.CubaLIF, nir.CubaLI, nir.LIF, nir.LI, nir.IF, nir.Threshold)
CHAIN_NODES = (
    nir.Linear,
    nir.Affine,
    nir.Conv1d,
    nir.Conv2d,
    nir.SumPool2d,
    nir.AvgPool2d,
    nir.Flatten,
    nir.Scale,
    nir.Delay,
)
SUPPORTED = (
    "Input, Output, CubaLIF, CubaLI, LIF, LI, IF, Threshold, nested NIRGraph subgraphs, and between neuron nodes "
    "unbranched chains of Linear, Affine, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten, Scale, Delay"
)
MAX_SYNAPSE_ENTRIES = 2**26
"""Largest composed synapse matrix (n_out * n_in entries, 512 MiB in float64): chains are unrolled into dense
matrices, so bigger ones would exhaust memory long before they fit a chip's cores."""


@dataclass(frozen=True)
class Synapse:
    """A chain of linear NIR nodes (or none: the identity) between a source (the input or a population) and a
    target population, composed into one matrix; named after its first non-Delay node."""

    name: str
    source: str
    target: str
    weight: np.ndarray
    """float, (n_out, n_in): the composed linear map from the flattened source to the flattened target."""
    bias: np.ndarray | None
    """float, (n_out,), a constant input per step (Affine, Conv biases through the chain), or None."""
    delay_steps: np.ndarray
    """int, (n_out, n_in): steps from a source spike to its effect on the target (Delay nodes; 0 without)."""
    nodes: tuple[str, ...] = field(default=())
    """The NIR nodes composed into this synapse, in signal order (empty for the identity)."""


@dataclass(frozen=True)
class Population:
    """A neuron node in the discrete form of the module docstring (per-neuron arrays, flattened in C order)."""

    name: str
    kind: str
    beta: np.ndarray
    alpha: np.ndarray
    gain: np.ndarray
    bias: np.ndarray
    v_th: np.ndarray
    """inf for non-spiking nodes (CubaLI, LI)."""

    @property
    def size(self) -> int:
        return int(self.alpha.shape[0])

    @property
    def spiking(self) -> bool:
        return bool(np.all(np.isfinite(self.v_th)))


@dataclass(frozen=True)
class ParsedNetwork:
    """A NIR graph as input size, populations and synapses, with the output population and dt."""

    input_name: str
    input_size: int
    populations: dict[str, Population]
    synapses: list[Synapse]
    output: str
    dt: float


def _params(name: str, node: nir.NIRNode, *fields: str) -> dict[str, np.ndarray]:
    """The named parameters, checked for NaN/inf, broadcast to one shape and flattened in C order."""
    raw = {}
    for key in fields:
        value = np.atleast_1d(np.asarray(getattr(node, key), dtype=np.float64))
        if not np.all(np.isfinite(value)) and not (key == "v_threshold" and np.all(np.isposinf(value))):
            raise IRValidationError(f"NIR node {name!r}: parameter {key!r} contains NaN or infinite values")
        raw[key] = value
    shape = _param_shape(name, raw)
    return {key: np.broadcast_to(value, shape).reshape(-1).copy() for key, value in raw.items()}


def _param_shape(name: str, params: dict[str, np.ndarray]) -> tuple[int, ...]:
    try:
        return tuple(int(n) for n in np.broadcast_shapes(*(v.shape for v in params.values())))
    except ValueError:
        shapes = {k: v.shape for k, v in params.items()}
        raise IRValidationError(f"NIR node {name!r}: parameter shapes {shapes} do not broadcast together") from None


def _neuron_fields(node: nir.NIRNode) -> tuple[str, ...]:
    if isinstance(node, nir.CubaLIF | nir.CubaLI):
        base = ("tau_syn", "tau_mem", "r", "v_leak", "w_in")
    elif isinstance(node, nir.LIF | nir.LI):
        base = ("tau", "r", "v_leak")
    elif isinstance(node, nir.Threshold):
        return ("threshold",)
    else:  # IF
        base = ("r",)
    return base + (() if isinstance(node, nir.CubaLI | nir.LI) else ("v_threshold",))


def _scalar_node_size(graph: nir.NIRGraph, name: str) -> int | None:
    """The output size of the Linear/Affine feeding a neuron node through Delay nodes at most, if that is > 1."""
    node = name
    while True:
        sources = [a for a, b in graph.edges if b == node]
        if len(sources) != 1:
            return None
        node = sources[0]
        kind = graph.nodes[node]
        if isinstance(kind, nir.Linear | nir.Affine):
            size = int(np.shape(kind.weight)[0])
            return size if size > 1 else None
        if not isinstance(kind, nir.Delay):
            return None


def _broadcast_population(pop: Population, size: int) -> Population:
    arrays = {k: np.broadcast_to(getattr(pop, k), (size,)).copy() for k in ("beta", "alpha", "gain", "bias", "v_th")}
    return Population(name=pop.name, kind=pop.kind, **arrays)


def _neuron_shape(name: str, node: nir.NIRNode) -> tuple[int, ...]:
    """The shape of a neuron node: its parameters' broadcast shape (at least 1-D)."""
    fields = _neuron_fields(node)
    return _param_shape(name, {k: np.atleast_1d(np.asarray(getattr(node, k), dtype=np.float64)) for k in fields})


TAU_CONVENTIONS = ("seconds", "norse")
"""How a graph's time constants are written: in seconds (the NIR standard), or as norse <= 1.1's `to_nir` writes
them: `tau* = dt / tau_inv` = dt * tau, and a `LIFCell` (current jumps by the input) as a CubaLIF with w_in = 1
where the NIR equations need tau_syn / dt. Its own `from_nir` reads seconds and the equations, so norse does not
round-trip these."""


def _population(name: str, node: nir.NIRNode, dt: float, tau_convention: str = "seconds") -> Population:
    kind = type(node).__name__
    p = _params(name, node, *_neuron_fields(node))
    if tau_convention == "norse":
        p = {key: value / dt if key.startswith("tau") else value for key, value in p.items()}
        if "w_in" in p:
            p["w_in"] = p["w_in"] * p["tau_syn"] / dt
    if isinstance(node, nir.CubaLIF | nir.CubaLI):
        alpha, beta = dt / p["tau_mem"], dt / p["tau_syn"]
        gain = beta * alpha * p["r"] * p["w_in"]
    elif isinstance(node, nir.LIF | nir.LI):
        alpha = dt / p["tau"]
        beta, gain = np.ones_like(alpha), alpha * p["r"]
    elif isinstance(node, nir.Threshold):  # stateless: v = x, no memory of the previous step
        p["v_threshold"] = p["threshold"]
        alpha, beta, gain = (np.ones_like(p["threshold"]) for _ in range(3))
        p["v_leak"] = np.zeros_like(alpha)
    else:  # IF
        alpha, beta, gain = np.zeros_like(p["r"]), np.ones_like(p["r"]), p["r"]
        p["v_leak"] = np.zeros_like(alpha)
    if np.any(alpha < 0) or np.any(alpha > 1) or np.any(beta <= 0) or np.any(beta > 1):
        raise IRValidationError(
            f"NIR node {name!r}: time constants must be >= dt ({dt} s); got decays alpha in "
            f"[{alpha.min():.3g}, {alpha.max():.3g}], beta in [{beta.min():.3g}, {beta.max():.3g}]"
            + (
                "; graphs written by norse.torch.to_nir store dt * tau: pass tau_convention='norse' "
                "(CLI: --tau-convention norse)"
                if tau_convention == "seconds"
                else ""
            )
        )
    if isinstance(node, nir.CubaLI | nir.LI):
        v_th = np.full_like(alpha, np.inf)
    else:
        v_th = p["v_threshold"]
        v_reset = np.asarray(getattr(node, "v_reset", 0.0), dtype=np.float64)
        if np.any(v_reset != 0):
            raise UnsupportedNodeError(f"NIR node {name!r}: v_reset must be 0 (Loihi resets v to 0), got {v_reset}")
    return Population(name=name, kind=kind, beta=beta, alpha=alpha, gain=gain, bias=alpha * p["v_leak"], v_th=v_th)


def parse_nir(graph: nir.NIRGraph, *, dt: float | None = None, tau_convention: str = "seconds") -> ParsedNetwork:
    """Validate a NIR graph and read it into a `ParsedNetwork`.

    Nested NIRGraph nodes are inlined first (`spikeport.export.nir_subgraphs`). Neuron nodes (CubaLIF, CubaLI, LIF,
    LI, IF, Threshold) become populations; the chain of linear nodes (Linear, Affine, Conv1d, Conv2d, SumPool2d,
    AvgPool2d, Flatten, Scale, Delay) between the input or a population and a population
    becomes one `Synapse` with a dense weight matrix, named after its first non-Delay node (a direct edge gives
    the identity, named "SOURCE_to_TARGET"). The module docstring gives the maps and the shape rules.

    Args:
        graph: the NIR graph.
        dt: simulation step in seconds; defaults to the graph's recorded `dt`.
        tau_convention: "seconds" (NIR) or "norse" (time constants as norse <= 1.1's `to_nir` writes them).

    Raises:
        UnsupportedNodeError: a node type spikeport cannot map (the message lists the supported ones), or linear
            nodes that branch, merge, loop, or do not lead from the input or a neuron node to a neuron node.
        IRValidationError: missing dt, dangling edges, shape mismatches, NaN/inf parameters, delays that are not
            whole steps or differ between the paths of one source-target pair, a chain too large to unroll
            (`MAX_SYNAPSE_ENTRIES`).
    """
    if tau_convention not in TAU_CONVENTIONS:
        raise IRValidationError(f"tau_convention must be one of {TAU_CONVENTIONS}, got {tau_convention!r}")
    dt = dt if dt is not None else graph_dt(graph)
    if dt is None or not dt > 0:
        raise IRValidationError("the NIR graph records no positive 'dt' in its metadata; pass dt explicitly")
    graph = inline_subgraphs(graph)
    for src, dst in graph.edges:
        for end in (src, dst):
            if end not in graph.nodes:
                raise IRValidationError(f"NIR edge {src!r} -> {dst!r}: node {end!r} does not exist (dangling edge)")
    inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    outputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise UnsupportedNodeError(f"spikeport needs one Input and one Output node, found {inputs} and {outputs}")
    populations, shapes = {}, {}
    for name, node in graph.nodes.items():
        if isinstance(node, NEURON_NODES):
            populations[name] = _population(name, node, dt, tau_convention)
            shapes[name] = _neuron_shape(name, node)
            fed = _scalar_node_size(graph, name) if shapes[name] == (1,) else None
            if fed is not None:  # scalar parameters (norse writes them): one value shared by every neuron fed
                populations[name] = _broadcast_population(populations[name], fed)
                shapes[name] = (fed,)
        elif not isinstance(node, (*CHAIN_NODES, nir.Input, nir.Output)):
            raise UnsupportedNodeError(
                f"NIR node {name!r} has type {type(node).__name__}, which spikeport does not support; "
                f"supported: {SUPPORTED}"
            )
    input_name = inputs[0]
    shapes[input_name] = _shape_of(input_name, graph.nodes[input_name].input_type["input"])
    input_size = int(np.prod(shapes[input_name]))
    chains = _chains(graph, input_name, populations)
    used = {n for _, path, _ in chains for n in path}
    for name, node in graph.nodes.items():
        if isinstance(node, CHAIN_NODES) and name not in used:
            raise UnsupportedNodeError(
                f"NIR node {name!r} ({type(node).__name__}) is not on a path from the input or a neuron node to a "
                "neuron node; spikeport maps only linear nodes between two of those"
            )
    position = {name: i for i, name in enumerate(graph.nodes)}
    synapses, taken = [], set(graph.nodes)
    for source, path, target in chains:
        named = [n for n in path if not isinstance(graph.nodes[n], nir.Delay)] or list(path)
        name = named[0] if named else _fresh_name(f"{source}_to_{target}", taken)
        taken.add(name)
        syn = _synapse(graph, name, source, path, target, shapes, populations[target].size, dt)
        synapses.append((position[named[0] if named else target], syn))
    synapses = _delay_loops(input_name, [syn for _, syn in sorted(synapses, key=lambda item: item[0])])
    output_sources = [a for a, b in graph.edges if b == outputs[0]]
    if len(output_sources) != 1 or output_sources[0] not in populations:
        raise UnsupportedNodeError(f"the Output node must be fed by exactly one neuron node, got {output_sources}")
    return ParsedNetwork(input_name, input_size, populations, synapses, output_sources[0], float(dt))


def _delay_loops(input_name: str, synapses: list[Synapse]) -> list[Synapse]:
    """Synapses with every loop of zero-delay connections given one step of delay on the connection closing it.

    NIR has no discrete time, so a recurrent connection without a Delay node has no defined step; every framework
    that writes such loops (snnTorch's RLeaky/RSynaptic, norse's recurrent cells) feeds back the previous step's
    spikes. The closing connections are found by a depth-first walk from the input in graph order, and named in a
    `SpikeportWarning`.
    """
    instant = {}
    for i, syn in enumerate(synapses):
        if np.any(syn.delay_steps == 0):
            instant.setdefault(syn.source, []).append(i)
    closing, state = set(), {}  # state: 1 on the current path, 2 done

    def visit(node: str) -> None:
        state[node] = 1
        for i in instant.get(node, []):
            target = synapses[i].target
            if state.get(target) == 1:
                closing.add(i)
            elif target not in state:
                visit(target)
        state[node] = 2

    for root in [input_name, *(syn.target for syn in synapses)]:
        if root not in state:
            visit(root)
    if not closing:
        return synapses
    names = ", ".join(f"{synapses[i].name!r} ({synapses[i].source} -> {synapses[i].target})" for i in sorted(closing))
    warnings.warn(
        f"NIR graph: loop without a Delay node; read as one step of delay on {names}, i.e. the previous step's "
        "spikes feed back (as snnTorch and norse run recurrent layers). Add a Delay node to make this explicit",
        SpikeportWarning,
        stacklevel=3,
    )
    return [
        dataclasses.replace(syn, delay_steps=np.where(syn.delay_steps == 0, 1, syn.delay_steps))
        if i in closing
        else syn
        for i, syn in enumerate(synapses)
    ]


def _fresh_name(base: str, taken: set[str]) -> str:
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def _shape_of(name: str, value) -> tuple[int, ...]:
    if value is None:
        raise IRValidationError(f"NIR node {name!r} has no shape (input_type)")
    shape = tuple(int(n) for n in np.atleast_1d(np.asarray(value)).reshape(-1))
    if not shape or any(n < 1 for n in shape):
        raise IRValidationError(f"NIR node {name!r}: shape {shape} must have positive sizes")
    return shape


def _chains(graph: nir.NIRGraph, input_name: str, populations: dict) -> list[tuple[str, tuple[str, ...], str]]:
    """(source, linear nodes in signal order, target) for every path from the input or a population to a
    population through linear nodes only."""
    out_edges: dict[str, list[str]] = {n: [] for n in graph.nodes}
    in_edges: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for a, b in graph.edges:
        out_edges[a].append(b)
        in_edges[b].append(a)
    chains = []
    for source in (input_name, *populations):
        for first in out_edges[source]:
            if isinstance(graph.nodes[first], nir.Output):
                continue
            path, current = [], first
            while isinstance(graph.nodes[current], CHAIN_NODES):
                kind = type(graph.nodes[current]).__name__
                if len(in_edges[current]) != 1:
                    raise UnsupportedNodeError(
                        f"NIR node {current!r} ({kind}) has {len(in_edges[current])} inputs {in_edges[current]}; "
                        "a linear node between neuron nodes must have one input (merge signals at a neuron node)"
                    )
                path.append(current)
                following = out_edges[current]
                if len(following) != 1:
                    raise UnsupportedNodeError(
                        f"NIR node {current!r} ({kind}) has {len(following)} outputs {following}; the linear nodes "
                        "between two neuron nodes must form one unbranched chain (branch at a neuron node instead)"
                    )
                current = following[0]
                if current in path:
                    raise UnsupportedNodeError(
                        f"NIR node {current!r}: the linear nodes {path} form a loop without a neuron node"
                    )
            if current not in populations:
                route = " -> ".join([source, *path, current])
                raise UnsupportedNodeError(
                    f"NIR path {route}: linear nodes must connect the input or a neuron node to a neuron node, "
                    f"but this one ends at {current!r} ({type(graph.nodes[current]).__name__})"
                )
            chains.append((source, tuple(path), current))
    return chains


def _finite(name: str, key: str, value) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise IRValidationError(f"NIR node {name!r}: {key} contains NaN or infinite values")
    return array


def _broadcast(name: str, key: str, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """An elementwise parameter over a signal of `shape`, flattened (broadcast, or reshaped if the size matches)."""
    value = np.atleast_1d(value)
    try:
        return np.broadcast_to(value, shape).reshape(-1)
    except ValueError:
        if value.size == int(np.prod(shape)):
            return value.reshape(-1)
        raise IRValidationError(
            f"NIR node {name!r}: {key} of shape {value.shape} does not fit its input of shape {shape}"
        ) from None


def _ints(name: str, key: str, value, n: int, minimum: int) -> tuple[int, ...]:
    try:
        array = np.atleast_1d(np.asarray(value if value is not None else np.nan, dtype=np.float64)).reshape(-1)
    except (TypeError, ValueError):
        array = np.array([np.nan])
    if array.size == 1:
        array = np.repeat(array, n)
    if array.size != n or not np.all(np.isfinite(array)) or np.any(array != np.round(array)) or np.any(array < minimum):
        raise IRValidationError(f"NIR node {name!r}: {key} must be one or {n} integers >= {minimum}, got {value!r}")
    return tuple(int(v) for v in array)


def _padding(name: str, value, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]):
    """((before, after), ...) per spatial dimension; 'same' pads as PyTorch does (the odd pixel after)."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "SUO" and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, bytes | np.bytes_):
        value = value.decode()
    if isinstance(value, str):
        if value == "valid":
            return tuple((0, 0) for _ in kernel)
        if value == "same":
            if any(s != 1 for s in stride):
                raise IRValidationError(f"NIR node {name!r}: padding 'same' needs stride 1, got stride {stride}")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise IRValidationError(f"NIR node {name!r}: padding must be integers, 'same' or 'valid', got {value!r}")
    return tuple((p, p) for p in _ints(name, "padding", value, len(kernel), 0))


def _window_matrix(name, weight, in_shape, stride, padding, dilation, groups) -> tuple[sparse.csr_matrix, tuple]:
    """The sparse matrix of a 2-d cross-correlation (PyTorch's conv2d) on a (C, H, W) input, and the output shape.

    weight: (C_out, C_in / groups, KH, KW); padding: ((top, bottom), (left, right)).
    """
    c_out, c_group, kh, kw = weight.shape
    c, h, w = in_shape
    out_hw = []
    for size, (before, after), k, s, d in zip((h, w), padding, (kh, kw), stride, dilation, strict=True):
        out_hw.append((size + before + after - d * (k - 1) - 1) // s + 1)
    oh, ow = out_hw
    if oh < 1 or ow < 1:
        raise IRValidationError(
            f"NIR node {name!r}: kernel {(kh, kw)} with dilation {dilation} does not fit its input {(h, w)} "
            f"padded by {padding}"
        )
    oc = np.arange(c_out)[:, None, None, None]
    ic = (oc // (c_out // groups)) * c_group + np.arange(c_group)[None, :, None, None]
    oy, ox = np.arange(oh)[None, None, :, None], np.arange(ow)[None, None, None, :]
    full = (c_out, c_group, oh, ow)
    rows, cols, vals = [], [], []
    for ky in range(kh):
        for kx in range(kw):
            iy = oy * stride[0] - padding[0][0] + ky * dilation[0]
            ix = ox * stride[1] - padding[1][0] + kx * dilation[1]
            value = weight[:, :, ky, kx][:, :, None, None]
            keep = np.broadcast_to((iy >= 0) & (iy < h) & (ix >= 0) & (ix < w) & (value != 0), full)
            rows.append(np.broadcast_to((oc * oh + oy) * ow + ox, full)[keep])
            cols.append(np.broadcast_to((ic * h + iy) * w + ix, full)[keep])
            vals.append(np.broadcast_to(value, full)[keep])
    matrix = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(c_out * oh * ow, c * h * w)
    )
    return matrix, (c_out, oh, ow)


def _spatial_input(name: str, shape: tuple[int, ...], declared, channels: int | None, ndim: int) -> tuple[int, ...]:
    """The (C, *spatial) input shape of a convolution or pool: the incoming signal's own shape if it has ndim + 1
    dimensions, else the node's declared spatial shape with `channels` channels."""
    size = int(np.prod(shape))
    declared = None if declared is None else _ints(name, "input shape", declared, ndim, 1)
    if len(shape) == ndim + 1:
        if declared is not None and tuple(shape[1:]) != declared:
            raise IRValidationError(
                f"NIR node {name!r}: its input_shape {declared} does not match the shape {shape} of its input"
            )
        full = tuple(shape)
    elif declared is None or channels is None:
        raise IRValidationError(
            f"NIR node {name!r}: needs the {('(C, N)', '(C, H, W)')[ndim - 1]} shape of its input, which has shape "
            f"{shape}; give the node an input_shape / input_type or the node before it that shape"
        )
    else:
        full = (channels, *declared)
    if int(np.prod(full)) != size:
        raise IRValidationError(f"NIR node {name!r}: input shape {full} does not match its input of {size} values")
    if channels is not None and full[0] != channels:
        raise IRValidationError(f"NIR node {name!r}: expects {channels} input channels, but its input has shape {full}")
    return full


def _conv(name: str, node: nir.NIRNode, shape: tuple[int, ...]):
    weight = _finite(name, "weight", node.weight)
    ndim = 1 if isinstance(node, nir.Conv1d) else 2
    if weight.ndim != ndim + 2:
        raise IRValidationError(f"NIR node {name!r}: weight shape {weight.shape} must have {ndim + 2} dimensions")
    groups = _ints(name, "groups", node.groups, 1, 1)[0]
    if weight.shape[0] % groups:
        raise IRValidationError(
            f"NIR node {name!r}: {weight.shape[0]} output channels do not split into {groups} groups"
        )
    in_shape = _spatial_input(name, shape, node.input_shape, weight.shape[1] * groups, ndim)
    kernel = tuple(weight.shape[2:])
    stride = _ints(name, "stride", node.stride, ndim, 1)
    dilation = _ints(name, "dilation", node.dilation, ndim, 1)
    padding = _padding(name, node.padding, kernel, stride, dilation)
    bias = _broadcast(name, "bias", _finite(name, "bias", node.bias), (weight.shape[0],))
    if ndim == 1:  # as a 2-d convolution over a (C, 1, N) input
        weight, in_shape = weight[:, :, None, :], (in_shape[0], 1, in_shape[1])
        stride, dilation, padding = (1, *stride), (1, *dilation), ((0, 0), *padding)
    matrix, out_shape = _window_matrix(name, weight, in_shape, stride, padding, dilation, groups)
    if ndim == 1:
        out_shape = (out_shape[0], out_shape[2])
    return matrix, np.repeat(bias, int(np.prod(out_shape[1:]))), out_shape


def _pool(name: str, node: nir.NIRNode, shape: tuple[int, ...]):
    declared = (node.input_type or {}).get("input")
    declared = None if declared is None else _shape_of(name, declared)
    if len(shape) == 3:
        channels = shape[0]
    elif declared is not None and len(declared) == 3:
        channels = declared[0]
    else:
        channels = None
    in_shape = _spatial_input(name, shape, None if declared is None else declared[1:], channels, 2)
    kernel = _ints(name, "kernel_size", node.kernel_size, 2, 1)
    stride = _ints(name, "stride", node.stride if node.stride is not None else kernel, 2, 1)
    padding = _padding(name, node.padding, kernel, stride, (1, 1))
    value = 1.0 if isinstance(node, nir.SumPool2d) else 1.0 / (kernel[0] * kernel[1])
    weight = np.full((in_shape[0], 1, *kernel), value)
    matrix, out_shape = _window_matrix(name, weight, in_shape, stride, padding, (1, 1), in_shape[0])
    return matrix, None, out_shape


def _flatten_shape(name: str, node: nir.Flatten, shape: tuple[int, ...]) -> tuple[int, ...]:
    declared = (node.input_type or {}).get("input")
    if declared is not None:
        declared = _shape_of(name, declared)
        if int(np.prod(declared)) != int(np.prod(shape)):
            raise IRValidationError(
                f"NIR node {name!r}: its input_type {declared} does not match its input of shape {shape}"
            )
        shape = declared
    start, end = int(node.start_dim), int(node.end_dim)
    start, end = start + len(shape) if start < 0 else start, end + len(shape) if end < 0 else end
    if not 0 <= start <= end < len(shape):
        return (int(np.prod(shape)),)
    return (*shape[:start], int(np.prod(shape[start : end + 1])), *shape[end + 1 :])


def _node_map(name: str, node: nir.NIRNode, shape: tuple[int, ...]):
    """(matrix or None for the identity, bias or None, output shape) of one linear node on a signal of `shape`."""
    size = int(np.prod(shape))
    if isinstance(node, nir.Linear | nir.Affine):
        weight = _finite(name, "weight", node.weight)
        if weight.ndim != 2 or weight.shape[1] != size:
            raise IRValidationError(
                f"NIR node {name!r} ({type(node).__name__}): weight shape {weight.shape} does not match its input "
                f"of {size} values (shape {shape}); expected (n_out, {size})"
            )
        bias = None
        if isinstance(node, nir.Affine):
            bias = _broadcast(name, "bias", _finite(name, "bias", node.bias), (weight.shape[0],)).copy()
        return weight, bias, (weight.shape[0],)
    if isinstance(node, nir.Conv1d | nir.Conv2d):
        return _conv(name, node, shape)
    if isinstance(node, nir.SumPool2d | nir.AvgPool2d):
        return _pool(name, node, shape)
    if isinstance(node, nir.Scale):
        scale = _broadcast(name, "scale", _finite(name, "scale", node.scale), shape)
        return sparse.diags(scale, format="csr"), None, shape
    if isinstance(node, nir.Flatten):
        return None, None, _flatten_shape(name, node, shape)
    raise AssertionError(f"not a linear node: {type(node).__name__}")  # Delay is handled by the caller


def _uniform(delay) -> bool:
    values = np.asarray(delay, dtype=np.float64).reshape(-1)
    return values.size <= 1 or bool(np.all(values == values[0]))


def _delay_steps(graph: nir.NIRGraph, names: list[str], shape: tuple[int, ...], dt: float) -> np.ndarray:
    """Delay nodes on a signal of `shape`: their summed delays in whole steps, per element (flattened)."""
    total = np.zeros(int(np.prod(shape)), dtype=np.int64)
    for name in names:
        seconds = _broadcast(name, "delay", np.asarray(graph.nodes[name].delay, dtype=np.float64), shape)
        if not np.all(np.isfinite(seconds)) or np.any(seconds < 0):
            raise IRValidationError(f"NIR node {name!r}: delay must be finite and >= 0, got {seconds}")
        steps = np.round(seconds / dt)
        if np.any(np.abs(seconds / dt - steps) > 1e-6):
            raise IRValidationError(f"NIR node {name!r}: delay {seconds} s is not a whole number of steps of dt={dt} s")
        total += steps.astype(np.int64)
    return total


def _compose_delays(name: str, matrix, reach: np.ndarray, delay: np.ndarray, delay_nodes: list[str]):
    """Carry per-(element, source neuron) delays through a linear node; every path must keep one delay.

    reach: bool (n, n_src), whether any path of nonzero weights leads from the source neuron to the element;
    delay: int (n, n_src), that path's delay in steps (meaningful where reach).
    """
    structure = sparse.csr_matrix(matrix != 0, dtype=np.int64)
    paths = reach.astype(np.int64)
    count, first, second = structure @ paths, structure @ (paths * delay), structure @ (paths * delay * delay)
    mixed = second * count != first * first  # the delays of the merged paths have nonzero variance
    if np.any(mixed):
        out, src = (int(i[0]) for i in np.nonzero(mixed))
        raise IRValidationError(
            f"NIR node {name!r}: paths from source neuron {src} to its output {out} pass different delays of the "
            f"Delay nodes {delay_nodes}; spikeport needs one delay per source-target pair: make those delays uniform "
            "or put per-neuron delays next to the source or the target population"
        )
    return count > 0, np.where(count > 0, first // np.maximum(count, 1), 0)


def _check_dense_size(source: str, path: tuple[str, ...], target: str, at: str, n_out: int, n_in: int) -> None:
    entries = n_out * n_in
    if entries > MAX_SYNAPSE_ENTRIES:
        route = " -> ".join([source, *path, target])
        raise IRValidationError(
            f"NIR path {route}: at node {at!r} the synapse becomes a dense {n_out} x {n_in} matrix ({entries:,} "
            f"entries, {entries * 8 / 2**30:.1f} GiB); spikeport unrolls linear chains into dense connections of at "
            f"most {MAX_SYNAPSE_ENTRIES:,} entries: reduce the input size or the layer widths, or split the layer"
        )


def _synapse(
    graph: nir.NIRGraph,
    name: str,
    source: str,
    path: tuple[str, ...],
    target: str,
    shapes: dict[str, tuple[int, ...]],
    target_size: int,
    dt: float,
) -> Synapse:
    """Compose the chain `path` from `source` to `target` into one synapse."""
    shape = shapes[source]
    n_src = int(np.prod(shape))
    delay_nodes = [n for n in path if isinstance(graph.nodes[n], nir.Delay)]
    per_path = any(not _uniform(graph.nodes[n].delay) for n in delay_nodes)
    weight = bias = None  # weight None: the identity so far
    reach, delay, uniform_delay = None, None, 0
    if per_path:
        reach, delay = np.eye(n_src, dtype=bool), np.zeros((n_src, n_src), dtype=np.int64)
    for node_name in path:
        node = graph.nodes[node_name]
        if isinstance(node, nir.Delay):
            steps = _delay_steps(graph, [node_name], shape, dt)
            if per_path:
                delay = delay + steps[:, None]
            else:
                uniform_delay += int(steps[0])
            continue
        matrix, node_bias, shape = _node_map(node_name, node, shape)
        if matrix is None:
            continue
        _check_dense_size(source, path, target, node_name, int(np.prod(shape)), n_src)
        if weight is None:
            weight = matrix.toarray() if sparse.issparse(matrix) else np.array(matrix, dtype=np.float64)
        else:
            weight = matrix @ weight
        bias = matrix @ bias if bias is not None else None
        if node_bias is not None:
            bias = node_bias if bias is None else bias + node_bias
        if per_path:
            reach, delay = _compose_delays(node_name, matrix, reach, delay, delay_nodes)
    n_out = int(np.prod(shape))
    if n_out != target_size:
        route = " -> ".join([source, *path, target])
        raise IRValidationError(
            f"NIR path {route}: {(path or (source,))[-1]!r} gives {n_out} values (shape {shape}) but {target!r} has "
            f"{target_size} neurons (shape {shapes[target]})"
        )
    if weight is None:
        _check_dense_size(source, path, target, target, n_out, n_src)
    weight = np.eye(n_src) if weight is None else np.asarray(weight, dtype=np.float64)
    if per_path:
        # entries without a path (zero weights) take the smallest delay of their row: no spurious zero delays
        row_min = np.where(reach, delay, np.iinfo(np.int64).max).min(axis=1)
        row_min = np.where(reach.any(axis=1), row_min, int(delay[reach].min()) if reach.any() else 0)
        delay_steps = np.where(reach, delay, row_min[:, None]).astype(np.int64)
    else:
        delay_steps = np.full((n_out, n_src), uniform_delay, dtype=np.int64)
    return Synapse(
        name=name, source=source, target=target, weight=weight, bias=bias, delay_steps=delay_steps, nodes=path
    )
