"""The NIR codec of spike-driven attention: the layer as a standard-node extension block, and back.

The block (`spikeport.export.nir_extension`, extension "spike_driven_attention", version 1) is made only of
standard NIR nodes and is the whole computation, exactly: any NIR reader that simulates it gets the layer's
output. Source: spike-driven self-attention (SDSA), M. Yao et al., "Spike-driven Transformer", NeurIPS 2023
(arXiv:2307.01694); its exact discrete update with Loihi's delays is in `spikeport.train.layers.attention`.
`attention_to_nir` writes a block; `spikeport.train.layers.nir_codecs.attention_from_nir` rebuilds the layer
through `ATTENTION_CODEC`.
"""

from __future__ import annotations

import nir
import numpy as np
import torch

from spikeport.errors import IRValidationError
from spikeport.export.nir_extension import (
    EXTENSION_KEY,
    VERSION_KEY,
    ExtensionCodec,
    add_delay,
    block_node,
    chain_edges,
    first_difference,
    meta_flag,
    meta_integer,
    meta_number,
)
from spikeport.export.nir_io import float64_array, neuron_metadata
from spikeport.train.layers.attention import AttentionConfig, SpikeDrivenAttention

__all__ = ["ATTENTION_CODEC", "ATTENTION_EXTENSION", "ATTENTION_VERSION", "attention_to_nir"]

ATTENTION_EXTENSION = "spike_driven_attention"
"""The extension name of an attention block."""
ATTENTION_VERSION = 1
"""The layout version `attention_to_nir` writes."""
ATTENTION_LAYOUT = "token-major (n * D + d)"
ATTENTION_SEMANTICS = (
    "Spike-driven self-attention (Yao et al., NeurIPS 2023, arXiv:2307.01694) with d = synaptic_delay_steps: "
    "Q, K, V = LIF(kron(I_N, W) x[t - d] + b); kv[t] = H(K[t-d] + V[t-d] - 1.5); g[t] = H(sum_n kv[t-d, n] - "
    "attn_threshold); attn[t] = H(Q[t-3d] + g[t-d] - 1.5); with output_projection o = LIF(P_o(attn[t-d])). "
    "H(u) = 1 if u > 0. Exact update: spikeport.train.layers.attention."
)
_ATTENTION_PROJECTIONS = ("q", "k", "v")


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
        add_delay(nodes, f"{p}_proj_delay", d, size, dt)
        nodes[f"{p}_lif"] = lif()
        chain_edges(nodes, edges, ["input", f"{p}_proj", f"{p}_proj_delay", f"{p}_lif"])
    for p in ("k", "v"):
        add_delay(nodes, f"{p}_to_kv_delay", d, size, dt)
    nodes["kv"] = threshold(module.AND_THRESHOLD, size)
    nodes["kv_sum"] = nir.Linear(weight=np.kron(np.ones((1, n)), eye_d))
    add_delay(nodes, "kv_sum_delay", d, dim, dt)
    nodes["g"] = threshold(cfg.attn_threshold, dim)
    nodes["g_broadcast"] = nir.Linear(weight=np.kron(np.ones((n, 1)), eye_d))
    add_delay(nodes, "g_broadcast_delay", d, size, dt)
    add_delay(nodes, "q_to_attn_delay", module.q_delay_steps, size, dt)
    nodes["attn"] = threshold(module.AND_THRESHOLD, size)
    for p in ("k", "v"):
        chain_edges(nodes, edges, [f"{p}_lif", f"{p}_to_kv_delay", "kv"])
    chain_edges(nodes, edges, ["kv", "kv_sum", "kv_sum_delay", "g", "g_broadcast", "g_broadcast_delay", "attn"])
    chain_edges(nodes, edges, ["q_lif", "q_to_attn_delay", "attn"])
    last = "attn"
    if module.o_proj is not None:
        nodes["o_proj"] = projection(module.o_proj)
        add_delay(nodes, "o_proj_delay", d, size, dt)
        nodes["o_lif"] = lif()
        chain_edges(nodes, edges, ["attn", "o_proj", "o_proj_delay", "o_lif"])
        last = "o_lif"
    nodes["output"] = nir.Output(output_type={"output": np.array([size])})
    edges.append((last, "output"))
    metadata = {
        EXTENSION_KEY: ATTENTION_EXTENSION,
        VERSION_KEY: ATTENTION_VERSION,
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
        "output_projection": meta_flag(module.o_proj is not None),
        "semantics": ATTENTION_SEMANTICS,
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def _per_token_weight(block: nir.NIRGraph, block_name: str, node_name: str, n: int, dim: int):
    """(W (D, D), b (D,) or None) of a per-token projection node, checked to be kron(I_N, W) (+ tile(b, N))."""
    node = block_node(block, block_name, node_name, (nir.Linear, nir.Affine))
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


def _decode(block: nir.NIRGraph, meta: dict, name: str, dtype: torch.dtype | None = None) -> SpikeDrivenAttention:
    """A (folded, eval-mode) `SpikeDrivenAttention` from a checked attention block and its metadata `meta`.

    The configuration comes from the metadata, the projections from the diagonal blocks of the kron(I_N, W)
    matrices. The block must then be exactly what the rebuilt module exports (up to float32 rounding when
    `dtype` is float32), so a standard view edited by hand cannot silently disagree with the extension view.

    Raises:
        IRValidationError: If a projection is not kron(I_N, W) (naming the node), or any node differs from what
            the recorded parameters give (naming the node).
    """
    dtype = torch.float32 if dtype is None else dtype
    n, dim = meta_integer(name, meta, "n_tokens"), meta_integer(name, meta, "n_features")
    if n < 1 or dim < 1:
        raise IRValidationError(f"NIR extension block {name!r}: n_tokens and n_features must be >= 1")
    try:
        config = AttentionConfig(
            n_features=dim,
            dt_s=meta_number(name, meta, "dt"),
            tau_syn_s=meta_number(name, meta, "tau_syn_s"),
            tau_mem_s=meta_number(name, meta, "tau_mem_s"),
            v_th=meta_number(name, meta, "v_th"),
            surrogate_alpha=meta_number(name, meta, "surrogate_alpha"),
            synaptic_delay_steps=meta_integer(name, meta, "synaptic_delay_steps"),
            attn_threshold=meta_number(name, meta, "attn_threshold"),
            output_projection=bool(meta_integer(name, meta, "output_projection")),
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
    differs = first_difference(block, rebuilt, rtol=0.0 if dtype == torch.float64 else 1e-6)
    if differs is not None:
        raise IRValidationError(
            f"NIR extension block {name!r}: {differs!r} differs from what its recorded parameters give "
            f"(see attention_to_nir); the standard nodes and the {ATTENTION_EXTENSION!r} metadata disagree"
        )
    return module


ATTENTION_CODEC = ExtensionCodec(ATTENTION_EXTENSION, versions=(ATTENTION_VERSION,), decode=_decode)
"""Rebuilds a `SpikeDrivenAttention` from its block (option: dtype)."""
