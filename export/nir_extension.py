r"""spikeport's NIR extension: constructs without a NIR primitive, written as standard subgraphs plus metadata.

NIR has no node for spike-driven attention or for a plastic associative memory and its learning rule. spikeport
writes each as an *extension block*: a nested `nir.NIRGraph` node made only of standard NIR nodes (Input, Output,
Linear, Affine, Delay, CubaLIF, Threshold, IF) whose `metadata` names the construct::

    {"spikeport_extension": NAME, "extension_version": 1, ...the block's parameters...}

Two readings of one block:

* the *standard view*: any NIR reader sees an ordinary subgraph and can simulate it with the plain NIR semantics
  (spikeport's `parse_nir` inlines it as "BLOCK.NODE"; see `spikeport.export.nir_graph` for the discrete reading).
  For the attention block the standard view is the whole computation, exactly. For the memory block it is the
  *readout* with the selected subject's weights frozen; plasticity has no NIR node, so the rule and the plastic
  state (every subject's raw memory) live only in the metadata.
* the *extension view*: spikeport recognizes the block by its metadata (`find_extensions`) and rebuilds the torch
  module (`attention_from_nir`, `memory_from_nir`, or `extension_from_nir` for either), which then exports again
  to an equal block.

Metadata encoding (what survives `nir.write` / `nir.read`, nir 1.0.8 + h5py): strings stay `str`, numbers come
back as numpy scalars (read them with `int()` / `float()`), arrays as arrays, nested dicts as dicts with keys in
sorted order. spikeport therefore writes

* flags as the ints 0 / 1 (HDF5 has no portable bool type);
* subject keys, which may be str or int in `HebbianAssociativeMemory`, as tagged strings "str:NAME" / "int:7";
* ordered collections as dicts keyed "0", "1", ... (decoded in numeric order, since HDF5 sorts group keys).

A block whose extension name or version spikeport does not know still imports as standard nodes; rebuilding it
raises `IRValidationError` naming the block and the supported extensions.

Sources: spike-driven self-attention (SDSA) is M. Yao et al., "Spike-driven Transformer", NeurIPS 2023
(arXiv:2307.01694); its exact discrete update with Loihi's delays is in `spikeport.train.layers.attention`. The
Hebbian teacher rule and linear readout of the associative memory are spikeport's design choice for ISAM-MTL
(arXiv:2501.18089), which does not specify them (papers.md; `spikeport.train.layers.associative_memory`).
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

import nir
import numpy as np

from spikeport.errors import IRValidationError
from spikeport.export.nir_io import float64_array, neuron_metadata, values_equal

if TYPE_CHECKING:  # torch and norse are imported where a module is built: `import spikeport.export` stays light
    import torch

    from spikeport.train.layers.associative_memory import HebbianAssociativeMemory, SubjectId
    from spikeport.train.layers.attention import SpikeDrivenAttention

__all__ = [
    "ATTENTION_EXTENSION",
    "EXTENSION_KEY",
    "EXTENSION_VERSION",
    "MEMORY_EXTENSION",
    "SUPPORTED_EXTENSIONS",
    "VERSION_KEY",
    "attention_from_nir",
    "attention_to_nir",
    "decode_subject",
    "encode_subject",
    "extension_from_nir",
    "find_extensions",
    "memory_from_nir",
    "memory_subject",
    "memory_to_nir",
]

EXTENSION_KEY = "spikeport_extension"
"""Metadata key of a block's extension name."""
VERSION_KEY = "extension_version"
"""Metadata key of the version of that extension's layout (an int)."""
EXTENSION_VERSION = 1
ATTENTION_EXTENSION = "spike_driven_attention"
MEMORY_EXTENSION = "hebbian_associative_memory"
SUPPORTED_EXTENSIONS: dict[str, tuple[int, ...]] = {ATTENTION_EXTENSION: (1,), MEMORY_EXTENSION: (1,)}
"""Extension name -> the versions spikeport can rebuild."""

ATTENTION_LAYOUT = "token-major (n * D + d)"
ATTENTION_SEMANTICS = (
    "Spike-driven self-attention (Yao et al., NeurIPS 2023, arXiv:2307.01694) with d = synaptic_delay_steps: "
    "Q, K, V = LIF(kron(I_N, W) x[t - d] + b); kv[t] = H(K[t-d] + V[t-d] - 1.5); g[t] = H(sum_n kv[t-d, n] - "
    "attn_threshold); attn[t] = H(Q[t-3d] + g[t-d] - 1.5); with output_projection o = LIF(P_o(attn[t-d])). "
    "H(u) = 1 if u > 0. Exact update: spikeport.train.layers.attention."
)
MEMORY_SEMANTICS = (
    "Per-subject Hebbian associative memory (ISAM-MTL head, arXiv:2501.18089; rule and readout are spikeport's "
    "choice): learning W_s += eta * onehot(y)^T c with c the latent spike counts of a sample; readout scores = "
    "c @ W~_s^T (W~ row-normalized if normalization == 'rows'), class = argmax. The standard nodes hold W~ of the "
    "selected subject, frozen. Exact rule: spikeport.train.layers.associative_memory."
)
MEMORY_READOUT = (
    "argmax of the accumulator's v at the last step, after the sample's T steps followed by synaptic_delay_steps "
    "steps without input (ties to the lowest index): v then equals the counts of all T steps @ W~^T"
)

_ATTENTION_PROJECTIONS = ("q", "k", "v")


# ------------------------------------------------------------------------------------------------ shared helpers
def _flag(value: bool) -> int:
    return int(bool(value))


def _text(value: Any) -> str:
    """A metadata string as read back (str, or bytes / 0-d arrays from other HDF5 writers)."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, bytes | np.bytes_):
        return value.decode()
    return str(value)


def _number(block_name: str, meta: dict, key: str) -> float:
    if key not in meta:
        raise IRValidationError(f"NIR extension block {block_name!r}: metadata has no {key!r}")
    try:
        return float(np.asarray(meta[key]).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        raise IRValidationError(f"NIR extension block {block_name!r}: metadata {key!r} is not a number") from None


def _integer(block_name: str, meta: dict, key: str) -> int:
    value = _number(block_name, meta, key)
    if not math.isfinite(value) or value != round(value):
        raise IRValidationError(f"NIR extension block {block_name!r}: metadata {key!r} must be an integer, got {value}")
    return round(value)


def encode_subject(subject: SubjectId) -> str:
    """A subject key as a metadata string: "str:NAME" or "int:7" (keeps the key's type through HDF5)."""
    if isinstance(subject, bool) or not isinstance(subject, str | int):
        raise ValueError(f"a subject key must be a str or an int, got {subject!r}")
    return f"{'int' if isinstance(subject, int) else 'str'}:{subject}"


def decode_subject(text: Any) -> SubjectId:
    """The subject key written by `encode_subject`."""
    text = _text(text)
    kind, sep, value = text.partition(":")
    if sep and kind == "str" and value:
        return value
    if sep and kind == "int":
        try:
            return int(value)
        except ValueError:
            pass
    raise IRValidationError(f"subject key {text!r} is not 'str:NAME' or 'int:NUMBER'")


def _extension_of(block: nir.NIRGraph) -> tuple[str, Any] | None:
    """(extension name, version) from a block's metadata, or None if it is no spikeport extension block."""
    meta = block.metadata or {}
    if EXTENSION_KEY not in meta:
        return None
    return _text(meta[EXTENSION_KEY]), meta.get(VERSION_KEY)


def _supported_text() -> str:
    return ", ".join(f"{name} v{'/'.join(map(str, v))}" for name, v in SUPPORTED_EXTENSIONS.items())


def _check_block(block: nir.NIRGraph, expected: str, name: str) -> dict:
    """The block's metadata, after checking that it is extension `expected` in a supported version."""
    if not isinstance(block, nir.NIRGraph):
        raise IRValidationError(f"NIR extension block {name!r}: expected a nir.NIRGraph, got {type(block).__name__}")
    found = _extension_of(block)
    if found is None:
        raise IRValidationError(
            f"NIR subgraph {name!r} is no spikeport extension block (its metadata has no {EXTENSION_KEY!r}); "
            f"supported extensions: {_supported_text()}"
        )
    extension, version = found
    if extension not in SUPPORTED_EXTENSIONS:
        raise IRValidationError(
            f"NIR extension block {name!r}: unknown extension {extension!r}; supported extensions: "
            f"{_supported_text()}. Other readers (and spikeport's parse_nir) can still use its standard nodes"
        )
    try:
        version_number = int(np.asarray(version).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        version_number = None
    if version_number not in SUPPORTED_EXTENSIONS[extension]:
        raise IRValidationError(
            f"NIR extension block {name!r}: {extension!r} version {version!r} is not supported; supported "
            f"extensions: {_supported_text()}. Other readers (and spikeport's parse_nir) can still use its standard "
            "nodes"
        )
    if extension != expected:
        raise IRValidationError(f"NIR extension block {name!r} is a {extension!r} block, not {expected!r}")
    return dict(block.metadata)


def _node(block: nir.NIRGraph, block_name: str, node_name: str, kinds: tuple[type, ...]) -> nir.NIRNode:
    node = block.nodes.get(node_name)
    if not isinstance(node, kinds):
        kind = "missing" if node is None else type(node).__name__
        expected = " or ".join(k.__name__ for k in kinds)
        raise IRValidationError(
            f"NIR extension block {block_name!r}: node {node_name!r} must be a {expected}, found {kind}"
        )
    return node


def _first_difference(a: nir.NIRGraph, b: nir.NIRGraph, rtol: float) -> str | None:
    """The first node (by name, or "edges") where two flat graphs differ in type or parameters, else None.

    Metadata (the block's and each node's) is left out: the parameters in it are what `b` was built from, and its
    free text (semantics, discretization) may be reworded without changing what a block means.
    """
    for name in sorted(set(a.nodes) | set(b.nodes)):
        if name not in a.nodes or name not in b.nodes or type(a.nodes[name]) is not type(b.nodes[name]):
            return name
        for key, value in vars(a.nodes[name]).items():
            if key in ("input_type", "output_type", "metadata"):
                continue
            if not values_equal(value, getattr(b.nodes[name], key, None), rtol):
                return name
    if sorted(a.edges) != sorted(b.edges):
        return "edges"
    return None


def _chain(nodes: dict, edges: list, names: list[str]) -> None:
    """Add the edges of a chain of node names, skipping names that are not in `nodes` (absent zero delays)."""
    present = [n for n in names if n in nodes]
    edges.extend(itertools.pairwise(present))


def _delay(nodes: dict, name: str, steps: int, size: int, dt: float) -> None:
    if steps > 0:
        nodes[name] = nir.Delay(delay=np.full(size, steps * dt))


# ------------------------------------------------------------------------------------------------------ attention
def attention_to_nir(module: SpikeDrivenAttention, n_tokens: int) -> nir.NIRGraph:
    """The spike-driven attention layer as an extension block over N = `n_tokens` tokens.

    The block's signal is the (N, D) token spike tensor flattened token-major (index n * D + d). Per-token
    projections become kron(I_N, W) (Linear, or Affine with the bias tiled over tokens) from the *folded* weights
    (`ReparamLinear.folded_weight_bias`, so a re-parameterized layer exports as its eval-mode equivalent), the
    column sum kron(ones(1, N), I_D), the gate broadcast kron(ones(N, 1), I_D); each connection is followed by a
    Delay of d * dt (none when d = 0), Q -> attn by 3d * dt. Q, K, V (and the output) are CubaLIF with
    w_in = tau_syn / dt (norse's `LIFCell` adds the input to its current, `spikeport.export.nir_io`); kv, g and
    attn are NIR Threshold nodes (stateless: spike if input > threshold), which is exactly
    `spikeport.train.layers.delay.threshold_unit`.

    Args:
        module: The layer; its training-only options (re-parameterization, init gain) are not recorded.
        n_tokens: N, the number of tokens the block is written for (the NIR matrices depend on it).

    Returns:
        A `nir.NIRGraph` with nodes input, {q,k,v}_proj(+_delay), {q,k,v}_lif, k_to_kv_delay, v_to_kv_delay, kv,
        kv_sum(+_delay), g, g_broadcast(+_delay), q_to_attn_delay, attn, [o_proj(+_delay), o_lif], output and the
        metadata listed in docs/nir.md.

    Raises:
        ValueError: If `n_tokens` is not an int >= 1.
    """
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens < 1:
        raise ValueError(f"attention_to_nir: n_tokens must be an int >= 1, got {n_tokens!r}")
    cfg = module.config
    n, dim, d, dt = n_tokens, cfg.n_features, cfg.synaptic_delay_steps, cfg.dt_s
    size = n * dim
    eye_n, eye_d = np.eye(n), np.eye(dim)

    def lif() -> nir.CubaLIF:
        return nir.CubaLIF(
            tau_syn=np.full(size, cfg.tau_syn_s),
            tau_mem=np.full(size, cfg.tau_mem_s),
            r=np.ones(size),
            v_leak=np.zeros(size),
            v_threshold=np.full(size, cfg.v_th),
            v_reset=np.zeros(size),
            w_in=np.full(size, cfg.tau_syn_s / dt),
            metadata=neuron_metadata(dt),
        )

    def projection(proj) -> nir.NIRNode:
        weight, bias = proj.folded_weight_bias()
        matrix = np.kron(eye_n, float64_array(weight))
        if bias is None:
            return nir.Linear(weight=matrix)
        return nir.Affine(weight=matrix, bias=np.tile(float64_array(bias), n))

    def threshold(value: float, width: int) -> nir.Threshold:
        return nir.Threshold(threshold=np.full(width, float(value)), metadata=neuron_metadata(dt))

    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type={"input": np.array([size])})}
    edges: list[tuple[str, str]] = []
    for p in _ATTENTION_PROJECTIONS:
        nodes[f"{p}_proj"] = projection(getattr(module, f"{p}_proj"))
        _delay(nodes, f"{p}_proj_delay", d, size, dt)
        nodes[f"{p}_lif"] = lif()
        _chain(nodes, edges, ["input", f"{p}_proj", f"{p}_proj_delay", f"{p}_lif"])
    for p in ("k", "v"):
        _delay(nodes, f"{p}_to_kv_delay", d, size, dt)
    nodes["kv"] = threshold(module.AND_THRESHOLD, size)
    nodes["kv_sum"] = nir.Linear(weight=np.kron(np.ones((1, n)), eye_d))
    _delay(nodes, "kv_sum_delay", d, dim, dt)
    nodes["g"] = threshold(cfg.attn_threshold, dim)
    nodes["g_broadcast"] = nir.Linear(weight=np.kron(np.ones((n, 1)), eye_d))
    _delay(nodes, "g_broadcast_delay", d, size, dt)
    _delay(nodes, "q_to_attn_delay", module.q_delay_steps, size, dt)
    nodes["attn"] = threshold(module.AND_THRESHOLD, size)
    for p in ("k", "v"):
        _chain(nodes, edges, [f"{p}_lif", f"{p}_to_kv_delay", "kv"])
    _chain(nodes, edges, ["kv", "kv_sum", "kv_sum_delay", "g", "g_broadcast", "g_broadcast_delay", "attn"])
    _chain(nodes, edges, ["q_lif", "q_to_attn_delay", "attn"])
    last = "attn"
    if module.o_proj is not None:
        nodes["o_proj"] = projection(module.o_proj)
        _delay(nodes, "o_proj_delay", d, size, dt)
        nodes["o_lif"] = lif()
        _chain(nodes, edges, ["attn", "o_proj", "o_proj_delay", "o_lif"])
        last = "o_lif"
    nodes["output"] = nir.Output(output_type={"output": np.array([size])})
    edges.append((last, "output"))
    metadata = {
        EXTENSION_KEY: ATTENTION_EXTENSION,
        VERSION_KEY: EXTENSION_VERSION,
        "n_tokens": n,
        "n_features": dim,
        "layout": ATTENTION_LAYOUT,
        "dt": float(dt),
        "synaptic_delay_steps": int(d),
        "attn_threshold": float(cfg.attn_threshold),
        "and_threshold": float(module.AND_THRESHOLD),
        "tau_syn_s": float(cfg.tau_syn_s),
        "tau_mem_s": float(cfg.tau_mem_s),
        "v_th": float(cfg.v_th),
        "surrogate_alpha": float(cfg.surrogate_alpha),
        "output_projection": _flag(module.o_proj is not None),
        "semantics": ATTENTION_SEMANTICS,
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def _per_token_weight(block: nir.NIRGraph, block_name: str, node_name: str, n: int, dim: int):
    """(W (D, D), b (D,) or None) of a per-token projection node, checked to be kron(I_N, W) (+ tile(b, N))."""
    node = _node(block, block_name, node_name, (nir.Linear, nir.Affine))
    matrix = np.asarray(node.weight, dtype=np.float64)
    where = f"NIR extension block {block_name!r}: node {node_name!r}"
    if matrix.shape != (n * dim, n * dim):
        raise IRValidationError(
            f"{where} has weight shape {matrix.shape}, expected ({n * dim}, {n * dim}) = kron(I_{n}, W) for "
            f"{n} tokens of {dim} features"
        )
    weight = matrix[:dim, :dim].copy()
    if not np.array_equal(matrix, np.kron(np.eye(n), weight)):
        blocks = matrix.reshape(n, dim, n, dim)
        bad = [(i, j) for i in range(n) for j in range(n) if not np.array_equal(blocks[i, :, j], weight * (i == j))]
        raise IRValidationError(
            f"{where} is not a per-token projection kron(I_{n}, W): its block (token {bad[0][0]}, token "
            f"{bad[0][1]}) differs from {'W' if bad[0][0] == bad[0][1] else '0'}; the spike-driven attention "
            "extension shares one D x D projection over all tokens"
        )
    if not np.all(np.isfinite(weight)):
        raise IRValidationError(f"{where}: weight contains NaN or infinite values")
    bias = None
    if isinstance(node, nir.Affine):
        tiled = np.broadcast_to(np.asarray(node.bias, dtype=np.float64), (n * dim,))
        bias = tiled[:dim].copy()
        if not np.array_equal(tiled, np.tile(bias, n)) or not np.all(np.isfinite(bias)):
            raise IRValidationError(f"{where}: bias is not one finite D-vector repeated for each of the {n} tokens")
    return weight, bias


def attention_from_nir(
    block: nir.NIRGraph, *, name: str = "attention", dtype: torch.dtype | None = None
) -> SpikeDrivenAttention:
    """Rebuild a (folded, eval-mode) `SpikeDrivenAttention` from a block written by `attention_to_nir`.

    The configuration comes from the metadata, the projections from the diagonal blocks of the kron(I_N, W)
    matrices. The block must then be exactly what the rebuilt module exports (up to float32 rounding when
    `dtype` is float32), so a standard view edited by hand cannot silently disagree with the extension view.

    Args:
        block: The extension block (a nested `nir.NIRGraph` node, e.g. from `read_nir`).
        name: The block's name, used in error messages.
        dtype: dtype of the rebuilt module's parameters (default torch.float32).

    Raises:
        IRValidationError: If the block is not a supported attention block, a projection is not kron(I_N, W)
            (naming the node), or any node differs from what the recorded parameters give (naming the node).
    """
    import torch

    from spikeport.train.layers.attention import AttentionConfig, SpikeDrivenAttention

    dtype = torch.float32 if dtype is None else dtype
    meta = _check_block(block, ATTENTION_EXTENSION, name)
    n, dim = _integer(name, meta, "n_tokens"), _integer(name, meta, "n_features")
    if n < 1 or dim < 1:
        raise IRValidationError(f"NIR extension block {name!r}: n_tokens and n_features must be >= 1")
    try:
        config = AttentionConfig(
            n_features=dim,
            dt_s=_number(name, meta, "dt"),
            tau_syn_s=_number(name, meta, "tau_syn_s"),
            tau_mem_s=_number(name, meta, "tau_mem_s"),
            v_th=_number(name, meta, "v_th"),
            surrogate_alpha=_number(name, meta, "surrogate_alpha"),
            synaptic_delay_steps=_integer(name, meta, "synaptic_delay_steps"),
            attn_threshold=_number(name, meta, "attn_threshold"),
            output_projection=bool(_integer(name, meta, "output_projection")),
        )
    except ValueError as exc:
        if isinstance(exc, IRValidationError):
            raise
        raise IRValidationError(f"NIR extension block {name!r}: invalid parameters ({exc})") from exc
    module = SpikeDrivenAttention(config).to(dtype)
    projections = [*_ATTENTION_PROJECTIONS, *(("o",) if config.output_projection else ())]
    with torch.no_grad():
        for p in projections:
            weight, bias = _per_token_weight(block, name, f"{p}_proj", n, dim)
            proj = getattr(module, f"{p}_proj")
            linear = torch.nn.Linear(dim, dim, bias=bias is not None, dtype=dtype)
            linear.weight.copy_(torch.as_tensor(weight, dtype=dtype))
            if bias is not None:
                linear.bias.copy_(torch.as_tensor(bias, dtype=dtype))
            proj.linear = linear
    module.eval()
    rebuilt = attention_to_nir(module, n)
    differs = _first_difference(block, rebuilt, rtol=0.0 if dtype == torch.float64 else 1e-6)
    if differs is not None:
        raise IRValidationError(
            f"NIR extension block {name!r}: {differs!r} differs from what its recorded parameters give "
            f"(see attention_to_nir); the standard nodes and the {ATTENTION_EXTENSION!r} metadata disagree"
        )
    return module


# --------------------------------------------------------------------------------------------------------- memory
def _readout_weight(memory: HebbianAssociativeMemory, subject: SubjectId) -> torch.Tensor:
    """The weights `memory.scores` multiplies the counts with for `subject` (n_classes, n_latent)."""
    import torch

    eye = torch.eye(memory.config.n_latent)
    return memory.scores(eye, subject).T  # scores(I) = I @ W~^T = W~^T, computed exactly as scores() does


def memory_to_nir(
    memory: HebbianAssociativeMemory, subject: SubjectId, *, dt: float, synaptic_delay_steps: int = 1
) -> nir.NIRGraph:
    """The associative memory as an extension block whose standard nodes are `subject`'s readout.

    Standard nodes: input (n_latent) -> readout (Linear, the subject's weights as `memory.scores` uses them:
    row-normalized with `Normalization.ROWS`) -> readout_delay (Delay of d * dt, none for d = 0) -> accumulator
    (IF, r = 1, v_threshold = +inf, v_reset = 0: it never spikes and v sums its input) -> output. Run for a
    sample's T steps followed by d steps without input, v at the last step equals counts @ W~^T = `memory.scores`,
    so its argmax is `memory.predict` (`MEMORY_READOUT`). The metadata holds the learning rule and *all*
    subjects' raw memories, so the plastic state round-trips (`memory_from_nir`).

    Args:
        memory: The memory.
        subject: The subject whose readout the standard nodes carry (str or int key).
        dt: Simulation step in seconds (NIR's delays are in seconds).
        synaptic_delay_steps: d, the delay of the readout connection in steps (Loihi's Dense: 1).

    Raises:
        ValueError: On an unknown subject, a non-positive dt or a negative delay.
    """
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"memory_to_nir: dt must be positive and finite, got {dt}")
    if isinstance(synaptic_delay_steps, bool) or not isinstance(synaptic_delay_steps, int) or synaptic_delay_steps < 0:
        raise ValueError(f"memory_to_nir: synaptic_delay_steps must be an int >= 0, got {synaptic_delay_steps!r}")
    cfg = memory.config
    weight = float64_array(_readout_weight(memory, subject))  # raises on an unknown subject
    k, d = cfg.n_classes, synaptic_delay_steps
    nodes: dict[str, nir.NIRNode] = {
        "input": nir.Input(input_type={"input": np.array([cfg.n_latent])}),
        "readout": nir.Linear(weight=weight),
    }
    _delay(nodes, "readout_delay", d, k, dt)
    nodes["accumulator"] = nir.IF(
        r=np.ones(k), v_threshold=np.full(k, np.inf), v_reset=np.zeros(k), metadata=neuron_metadata(dt)
    )
    nodes["output"] = nir.Output(output_type={"output": np.array([k])})
    edges: list[tuple[str, str]] = []
    _chain(nodes, edges, ["input", "readout", "readout_delay", "accumulator", "output"])
    memories = {
        str(i): {"subject": encode_subject(s), "weight": float64_array(w)}
        for i, (s, w) in enumerate(memory.memories().items())
    }
    metadata = {
        EXTENSION_KEY: MEMORY_EXTENSION,
        VERSION_KEY: EXTENSION_VERSION,
        "n_latent": int(cfg.n_latent),
        "n_classes": int(k),
        **memory.rule_params(),
        "update": "W_s += eta * onehot(y)^T @ c, once per sample",
        "pre": "latent spike counts over the sample",
        "post": "teacher: one-hot label spikes",
        "subject": encode_subject(subject),
        "memories": memories,
        "dt": float(dt),
        "synaptic_delay_steps": int(d),
        "readout_rule": MEMORY_READOUT,
        "semantics": MEMORY_SEMANTICS,
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def memory_subject(block: nir.NIRGraph, *, name: str = "memory") -> SubjectId:
    """The subject whose readout a memory block's standard nodes carry."""
    meta = _check_block(block, MEMORY_EXTENSION, name)
    return decode_subject(meta.get("subject", ""))


def memory_from_nir(block: nir.NIRGraph, *, name: str = "memory") -> HebbianAssociativeMemory:
    """Rebuild a `HebbianAssociativeMemory` (config and every subject's memory, in order) from its block.

    The standard nodes must equal what the restored memory exports for the recorded subject (the readout weights
    up to float32 rounding), so an edited standard view cannot disagree with the plastic state.

    Raises:
        IRValidationError: If the block is not a supported memory block, its metadata is incomplete or invalid,
            or a node differs from what the metadata gives (naming the node).
    """
    import torch

    from spikeport.train.layers.associative_memory import HebbianAssociativeMemory, MemoryConfig, Normalization

    meta = _check_block(block, MEMORY_EXTENSION, name)
    rule = _text(meta.get("rule", ""))
    if rule != HebbianAssociativeMemory.RULE:
        raise IRValidationError(
            f"NIR extension block {name!r}: learning rule {rule!r} is not spikeport's {HebbianAssociativeMemory.RULE!r}"
        )
    normalization = _text(meta.get("normalization", ""))
    try:
        config = MemoryConfig(
            n_latent=_integer(name, meta, "n_latent"),
            n_classes=_integer(name, meta, "n_classes"),
            eta=_number(name, meta, "eta"),
            normalization=Normalization(normalization),
        )
    except ValueError as exc:
        if isinstance(exc, IRValidationError):
            raise
        raise IRValidationError(f"NIR extension block {name!r}: invalid parameters ({exc})") from exc
    stored = meta.get("memories")
    if not isinstance(stored, dict) or not stored:
        raise IRValidationError(f"NIR extension block {name!r}: metadata 'memories' holds no subject")
    memories: dict[SubjectId, torch.Tensor] = {}
    try:
        order = sorted(stored, key=int)
    except ValueError:
        raise IRValidationError(f"NIR extension block {name!r}: 'memories' keys must be '0', '1', ...") from None
    for key in order:
        entry = stored[key]
        if not isinstance(entry, dict) or "subject" not in entry or "weight" not in entry:
            raise IRValidationError(f"NIR extension block {name!r}: memories[{key!r}] needs 'subject' and 'weight'")
        memories[decode_subject(entry["subject"])] = torch.as_tensor(np.asarray(entry["weight"], dtype=np.float64))
    memory = HebbianAssociativeMemory(config)
    try:
        memory.load_memories(memories)
    except ValueError as exc:
        raise IRValidationError(f"NIR extension block {name!r}: {exc}") from exc
    subject = decode_subject(meta.get("subject", ""))
    if subject not in memories:
        raise IRValidationError(f"NIR extension block {name!r}: selected subject {subject!r} has no stored memory")
    rebuilt = memory_to_nir(
        memory, subject, dt=_number(name, meta, "dt"), synaptic_delay_steps=_integer(name, meta, "synaptic_delay_steps")
    )
    differs = _first_difference(block, rebuilt, rtol=1e-6)
    if differs is not None:
        raise IRValidationError(
            f"NIR extension block {name!r}: {differs!r} differs from what its recorded memories give (see "
            f"memory_to_nir); the standard nodes and the {MEMORY_EXTENSION!r} metadata disagree"
        )
    return memory


# --------------------------------------------------------------------------------------------------------- lookup
def find_extensions(graph: nir.NIRGraph) -> dict[str, str]:
    """Subgraph node name -> extension name for every spikeport extension block in `graph`, nested ones too.

    Names of blocks inside other subgraphs are dotted ("OUTER.BLOCK"), as `parse_nir` names inlined nodes.
    Blocks of unknown extensions are listed too (rebuilding them raises `IRValidationError`).
    """
    found: dict[str, str] = {}
    for node_name, node in graph.nodes.items():
        if not isinstance(node, nir.NIRGraph):
            continue
        extension = _extension_of(node)
        if extension is not None:
            found[node_name] = extension[0]
        found.update({f"{node_name}.{k}": v for k, v in find_extensions(node).items()})
    return found


def extension_from_nir(block: nir.NIRGraph, *, name: str = "block") -> SpikeDrivenAttention | HebbianAssociativeMemory:
    """Rebuild the torch module of any supported extension block (dispatch on its metadata).

    Raises:
        IRValidationError: If the block is no extension block, or its extension or version is unknown (the
            message names the block and the supported extensions).
    """
    found = _extension_of(block) if isinstance(block, nir.NIRGraph) else None
    extension = found[0] if found is not None else ""
    if extension == MEMORY_EXTENSION:
        return memory_from_nir(block, name=name)
    if extension == ATTENTION_EXTENSION:
        return attention_from_nir(block, name=name)
    _check_block(block, extension, name)  # not a block, or an unknown extension / version: raises with the reason
    raise AssertionError("unreachable")
